/*
 * plan_util.c - see plan_util.h.
 */
#include "config.h"

#include <string.h>

#include "input/plan.h"
#include "plan_util.h"

static int differ(const char *a, const char *b)
{
    return strcmp(a, b) != 0;
}

static const char *step_difference(const jx__step *a, const jx__step *b)
{
    if (a->index != b->index)
        return "step_index";
    if (differ(a->type, b->type) || differ(a->type_json, b->type_json))
        return "step_type";
    if (differ(a->target, b->target) || differ(a->target_json, b->target_json))
        return "target";
    if (a->timeout_seconds != b->timeout_seconds)
        return "timeout_seconds";
    if (differ(a->params_json, b->params_json) || a->n_params != b->n_params)
        return "parameters";
    if (a->line != b->line || a->col != b->col)
        return "position";
    return NULL;
}

const char *plan_difference(const jx_plan *a, const jx_plan *b)
{
    const char *why;

    if (a->job_id_generated != b->job_id_generated ||
        (!a->job_id_generated && differ(a->job_id, b->job_id)))
        return "job_id";
    if (differ(a->contract_id, b->contract_id))
        return "contract_id";
    if (differ(a->tenant_id, b->tenant_id))
        return "tenant_id";
    if (differ(a->executed_by, b->executed_by))
        return "executed_by";
    if (differ(a->sha256, b->sha256) || differ(a->name, b->name))
        return "name or sha256";
    if (a->n_steps != b->n_steps)
        return "number of steps";
    for (size_t i = 0; i < a->n_steps; i++)
        if ((why = step_difference(&a->steps[i], &b->steps[i])) != NULL)
            return why;
    if (a->secrets.n != b->secrets.n)
        return "number of secrets";
    for (uint32_t i = 1; i <= a->secrets.n; i++)
        if (differ(a->secrets.items[i].text, b->secrets.items[i].text))
            return "secrets";
    return NULL;
}
