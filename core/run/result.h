/*
 * result.h - a finished job as jx_result_* reads it.
 */
#ifndef JX__RUN_RESULT_H
#define JX__RUN_RESULT_H

#include <stddef.h>

#include "base/common.h"
#include "input/plan.h"

struct jx_result {
    jx_job_status status;
    char *reason; /* malloc'd; NULL only when out of memory */
    char job_id[JX__UUID_LEN + 1];
    size_t executed, succeeded, failed;
    double duration;
    int scope_rejected; /* the scope gate refused the run */
};

/* Replaces res->reason with what fmt makes; -1 (reason NULL) when out of
 * memory. */
int jx__result_set_reason(jx_result *res, const char *fmt, ...)
    JX__PRINTF(2, 3);

/* "COMPLETED", "FAILED" or "CANCELLED". */
const char *jx__status_name(jx_job_status s);

#endif
