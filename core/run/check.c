/*
 * check.c - jx_executor_check(): would the executor accept this plan?
 * Every step type must have a handler, and each handler's validate (when
 * it has one) must accept its step.  Nothing runs.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "input/redact.h"
#include "plugin/host.h"
#include "run/executor.h"

/* The type is redacted: a run's reason for the same step is. */
static int no_handler(const jx_plan *plan, const jx__step *st, jx_error *err)
{
    int oom = 0;
    char *clean = jx__redact_text(plan, st->type, &oom);
    int rc = jx__fail(err, JX_EREFUSED,
                      "%s:%u:%u: step %" PRId64
                      ": No handler registered for step type: %s",
                      plan->name, st->line, st->col, st->index,
                      clean != NULL ? clean
                      : oom         ? "(withheld: out of memory)"
                                    : st->type);

    free(clean);
    return rc;
}

/* validate's refusal of st, as one line naming the plan's position. */
static int refused(const jx_plan *plan, const jx__step *st,
                   const jx__plugin *p, char *why, size_t why_size,
                   jx_error *err)
{
    int oom, rc;
    char *clean;

    why[why_size - 1] = '\0';
    /* A reason that filled the buffer was cut: maybe mid-secret. */
    clean = strlen(why) == why_size - 1 ? jx__redact_cut(plan, why, &oom)
                                        : jx__redact_text(plan, why, &oom);
    rc = jx__fail(err, JX_EREFUSED,
                  "%s:%u:%u: step %" PRId64 " refused by '%s': %s",
                  plan->name, st->line, st->col, st->index, p->handler->name,
                  clean != NULL ? clean
                  : oom         ? "(reason withheld: out of memory)"
                  : why[0]      ? why
                                : "(no reason given)");
    free(clean);
    return rc;
}

int jx_executor_check(jx_executor *ex, const jx_plan *plan, jx_error *err)
{
    for (size_t i = 0; i < plan->n_steps; i++) {
        const jx__step *st = &plan->steps[i];
        jx__plugin *p = jx__binding_find(&ex->bindings, st->type);
        jx_step view = {st, NULL, plan};
        char why[512] = "";
        int rc, locked;

        if (p == NULL)
            return no_handler(plan, st, err);
        if (p->handler->validate == NULL)
            continue;
        locked = jx__plugin_enter(p, p->handler->flags);
        rc = p->handler->validate(p->handler_state, &jx__host, &view, why,
                                  sizeof why);
        jx__plugin_leave(p, locked);
        jx__scratch_free(&view.scratch);
        if (rc != 0)
            return refused(plan, st, p, why, sizeof why, err);
    }
    return 0;
}
