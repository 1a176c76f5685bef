/*
 * plan_util.h - comparing two plans field by field, for the tests and the
 * fuzz target that hold the two plan readers to the same answers.
 */
#ifndef JX_TEST_PLAN_UTIL_H
#define JX_TEST_PLAN_UTIL_H

#include <jobexec/jobexec.h>

/* The name of the first field in which a and b differ, or NULL when they
 * are the same plan.  A job id both readers generated is not compared. */
const char *plan_difference(const jx_plan *a, const jx_plan *b);

#endif
