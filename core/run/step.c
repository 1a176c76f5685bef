/*
 * step.c - calling into plugins for a job: a step's handler, the health
 * observer, and what the core makes of what they return.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/redact.h"
#include "run/job.h"

void jx__outcome_begin(jx__job *j, jx__outcome *oc)
{
    *oc = (jx__outcome){0};
    oc->out.members = j->output;
}

void jx__outcome_end(jx__job *j, jx__outcome *oc)
{
    j->output = oc->out.members;
    j->output.len = 0;
    oc->out.members = (jx__buf){NULL, 0, 0};
    jx__output_clear(&oc->out);
    free(oc->error);
    free(oc->stderr_text);
}

json_t *jx__observe_health(jx_executor *ex)
{
    jx__plugin *p = ex->observer;
    jx_output out = {0};
    char why[512] = "";
    int locked, rc;
    json_t *snapshot;

    if (p == NULL)
        return json_null();
    locked = jx__plugin_enter(p, p->observer->flags);
    rc = p->observer->observe(p->observer_state, &jx__host, &out, why,
                              sizeof why);
    jx__plugin_leave(p, locked);
    if (rc != 0 || out.failed_alloc || out.not_utf8) {
        why[sizeof why - 1] = '\0';
        jx__log(NULL, JX_LOG_WARNING,
                rc != 0           ? why
                : out.failed_alloc ? "out of memory"
                                   : "the snapshot has a string that is not "
                                     "valid UTF-8");
        jx__output_clear(&out);
        return json_null();
    }
    snapshot = jx__output_take(&out);
    jx__output_clear(&out);
    return snapshot != NULL ? snapshot : json_null();
}

/* The core's reading of what execute returned. */
static void judge(jx__outcome *oc, const jx__step *st, const jx__plugin *p,
                  int rc, double deadline)
{
    jx_output *out = &oc->out;

    /* In-process code cannot be pre-empted; a step that comes back after
     * its deadline is recorded as the timeout it was.  (A runner's steps
     * were timed by the proxy.) */
    if (!p->isolated && jx__monotonic() > deadline) {
        if (asprintf(&oc->error, "timed out after %" PRId64 " s",
                     st->timeout_seconds) < 0)
            oc->error = NULL;
    } else if (out->failed_alloc) {
        oc->error = strdup("the handler's output could not be recorded: out "
                           "of memory");
    } else if (out->not_utf8) {
        oc->error = strdup("the handler's output could not be recorded: a "
                           "string is not valid UTF-8");
    } else if (rc == JX_STEP_OK) {
        oc->completed = 1;
    } else if (out->error != NULL && out->error[0] != '\0') {
        oc->error = out->error;
        out->error = NULL;
    } else if (rc == JX_STEP_FAILED) {
        oc->error = strdup("the handler reported failure without a reason");
    } else if (asprintf(&oc->error, "the handler returned %d, which is "
                                    "neither JX_STEP_OK nor JX_STEP_FAILED",
                        rc) < 0) {
        oc->error = NULL;
    }
}

void jx__step_call(jx__job *j, const jx__step *st, jx__plugin *p,
                   jx__outcome *oc)
{
    jx_context ctx = {
        .plan = j->plan,
        .started_at = j->started_at,
        .step_index = st->index,
        .deadline = jx__monotonic() + (double)st->timeout_seconds,
        .cancelled = &j->cancelled,
        .cancel_fd = j->cancel_fd,
        .on_progress = j->opts->on_progress,
        .user = j->opts->user,
        .progress = jx__progress_report,
        .progress_arg = j,
        .plugin = jx__plugin_name(p),
    };
    jx_step view = {.step = st, .plan = j->plan};
    jx_output *out = &oc->out;
    int locked, rc;

    locked = jx__plugin_enter(p, p->handler->flags);
    rc = p->handler->execute(p->handler_state, &jx__host, &ctx, &view, out);
    jx__plugin_leave(p, locked);
    jx__step_view_done(&view);
    oc->handler_returned = 1;
    oc->stderr_text = out->stderr_text;
    oc->stderr_dropped = out->stderr_dropped;
    oc->leftover_processes = out->leftover_processes;
    out->stderr_text = NULL;
    judge(oc, st, p, rc, ctx.deadline);
}

/*
 * Whether the output, still the text the host's out_* calls wrote, holds
 * no secret.  Those calls write each string byte for byte but for the
 * bytes JSON escapes; a secret with none of those stands in the text as
 * it is wherever a string holds it, so not finding it there is enough.
 * Spares turning every step's output into a jansson object to look.
 */
static int output_shows_no_secret(const jx_plan *plan, const jx_output *out)
{
    size_t len, found;
    const char *text = jx__output_text(out, &len);

    return text != NULL && plan->secrets.json_escaped == 0 &&
           jx__secrets_find(&plan->secrets, text, len, &found) == NULL;
}

void jx__outcome_redact(const jx_plan *plan, jx__outcome *oc)
{
    int oom = 0;
    char *error = jx__redact_text(plan, oc->error, &oom);

    if (error != NULL || oom) {
        free(oc->error);
        oc->error = error;
    }
    if (oc->stderr_text != NULL) {
        char *text = oc->stderr_dropped > 0
                         ? jx__redact_cut(plan, oc->stderr_text, &oom)
                         : jx__redact_text(plan, oc->stderr_text, &oom);
        if (text != NULL || oom) {
            free(oc->stderr_text);
            oc->stderr_text = text != NULL ? text : strdup(JX__REDACTED);
        }
    }
    if (oc->completed && !output_shows_no_secret(plan, &oc->out)) {
        json_t *output = jx__redact_json_take(plan,
                                              jx__output_take(&oc->out));
        if (output == NULL) {
            oc->completed = 0;
            free(oc->error);
            oc->error = NULL; /* reported as out of memory */
        }
        jx__output_set(&oc->out, output);
    }
}
