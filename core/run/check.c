/*
 * check.c - whether the executor accepts a plan: every step type must
 * have a handler, and each handler's validate (when it has one) must
 * accept its step.  jx_executor_check() asks it alone; jx_executor_run()
 * asks it before step 0, so that a plan check would refuse runs nothing.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "input/redact.h"
#include "plugin/host.h"
#include "run/job.h"

/* The reason, redacted as a run's reason for the same step is.  cut: the
 * text filled its buffer, and may end mid-secret. */
static char *redacted(const jx_plan *plan, const char *text, int cut)
{
    int oom = 0;
    char *clean = cut ? jx__redact_cut(plan, text, &oom)
                      : jx__redact_text(plan, text, &oom);

    if (clean == NULL && !oom)
        clean = strdup(text);
    return clean;
}

static int no_handler(const jx_plan *plan, const jx__step *st,
                      jx__verdict *v)
{
    char *type = redacted(plan, st->type, 0);

    v->step = st;
    if (type == NULL ||
        asprintf(&v->why, "No handler registered for step type: %s", type) < 0)
        v->why = NULL;
    free(type);
    return JX_EREFUSED;
}

static int refused(const jx_plan *plan, const jx__step *st,
                   const jx__plugin *p, char *why, size_t why_size,
                   jx__verdict *v)
{
    char *clean;

    why[why_size - 1] = '\0';
    clean = why[0] != '\0' ? redacted(plan, why, strlen(why) == why_size - 1)
                           : strdup("(no reason given)");
    v->step = st;
    v->refused = 1;
    if (clean == NULL || asprintf(&v->why, "refused by '%s': %s",
                                  p->handler->name, clean) < 0)
        v->why = NULL;
    free(clean);
    return JX_EREFUSED;
}

/* Asks p's validate about st: 0, or the verdict's code with v filled. */
static int validate_step(jx__plugin *p, const jx_plan *plan,
                         const jx__step *st, const atomic_int *cancelled,
                         jx__verdict *v)
{
    /* An isolated validate may wait for a free runner: no longer than the
     * step itself would, and not past a cancel. */
    jx_step view = {
        .step = st, .plan = plan, .cancelled = cancelled,
        .wait_deadline = jx__monotonic() + (double)st->timeout_seconds};
    char why[512] = "";
    int rc, locked;

    locked = jx__plugin_enter(p, p->handler->flags);
    rc = p->handler->validate(p->handler_state, &jx__host, &view, why,
                              sizeof why);
    jx__plugin_leave(p, locked);
    jx__step_view_done(&view);
    if (cancelled != NULL && atomic_load(cancelled)) {
        v->step = st;
        return JX__CHECK_CANCELLED;
    }
    return rc != 0 ? refused(plan, st, p, why, sizeof why, v) : 0;
}

int jx__check_plan(jx_executor *ex, const jx_plan *plan,
                   const atomic_int *cancelled, jx__verdict *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < plan->n_steps; i++) {
        const jx__step *st = &plan->steps[i];
        jx__plugin *p = jx__binding_find(&ex->bindings, st->type);
        int rc;

        if (p == NULL)
            return no_handler(plan, st, v);
        if (p->handler->validate != NULL &&
            (rc = validate_step(p, plan, st, cancelled, v)) != 0)
            return rc;
    }
    return 0;
}

int jx_executor_check(jx_executor *ex, const jx_plan *plan, jx_error *err)
{
    jx__verdict v;
    int rc;

    if (ex == NULL || plan == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_check: NULL executor "
                                        "or plan");
    if (jx__check_plan(ex, plan, NULL, &v) == 0)
        return 0;
    /* "step 3 refused by 'x': ...", "step 3: No handler ...". */
    rc = jx__fail(err, JX_EREFUSED, "%s:%u:%u: step %" PRId64 "%s%s",
                  plan->name, v.step->line, v.step->col, v.step->index,
                  v.refused ? " " : ": ",
                  v.why != NULL ? v.why : "(reason withheld: out of memory)");
    free(v.why);
    return rc;
}
