/*
 * result.c - the result of a job: its status, reason and counts.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "run/result.h"

int jx__result_set_reason(jx_result *res, const char *fmt, ...)
{
    va_list ap;
    int n;

    free(res->reason);
    va_start(ap, fmt);
    n = vasprintf(&res->reason, fmt, ap);
    va_end(ap);
    if (n < 0) {
        res->reason = NULL;
        return -1;
    }
    return 0;
}

const char *jx__status_name(jx_job_status s)
{
    switch (s) {
    case JX_JOB_COMPLETED:
        return "COMPLETED";
    case JX_JOB_CANCELLED:
        return "CANCELLED";
    default:
        return "FAILED";
    }
}

jx_job_status jx_result_status(const jx_result *res) { return res->status; }
const char *jx_result_status_name(const jx_result *res)
{
    return jx__status_name(res->status);
}
const char *jx_result_reason(const jx_result *res) { return res->reason; }
const char *jx_result_job_id(const jx_result *res) { return res->job_id; }
size_t jx_result_steps_executed(const jx_result *res)
{
    return res->executed;
}
size_t jx_result_steps_succeeded(const jx_result *res)
{
    return res->succeeded;
}
size_t jx_result_steps_failed(const jx_result *res) { return res->failed; }
int jx_result_scope_rejected(const jx_result *res)
{
    return res->scope_rejected;
}
double jx_result_duration_seconds(const jx_result *res)
{
    return res->duration;
}

void jx_result_free(jx_result *res)
{
    if (res == NULL)
        return;
    free(res->reason);
    free(res);
}
