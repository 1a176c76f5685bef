/*
 * run.c - the run loop: jx_executor_run() performs one plan.
 *
 * It is the invariants table of DESIGN.md:
 *   EXEC-001  steps run in plan order (the plan reader has already refused
 *             indexes that do not strictly increase);
 *   EXEC-002  every started step gets a step_finished record, delivered to
 *             every sink before the next step starts;
 *   EXEC-003  the loop ends at the first step that did not complete;
 *   EXEC-004  health is observed before the job and after every step whose
 *             handler returned; observers only ever produce a snapshot;
 *   EXEC-005  handlers get const views; nothing here writes the plan;
 *   EXEC-006  each handler is called at most once per step: there is no
 *             retry path in this file;
 *   JOB-001   a plan without a contract_id UUID never gets this far.
 *
 * What a record contains is record.c's; calling a plugin is step.c's.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/redact.h"
#include "run/job.h"

/* Counts the step and, when it did not complete, stops the job with the
 * reason (EXEC-003). */
static void tally(jx__job *j, const jx__step *st, const jx__outcome *oc)
{
    const char *error = oc->error != NULL ? oc->error : "out of memory";

    j->res->executed++;
    if (oc->completed) {
        j->res->succeeded++;
        return;
    }
    j->res->failed++;
    j->stopped = 1;
    if (atomic_load(&j->cancelled)) {
        j->res->status = JX_JOB_CANCELLED;
        jx__result_set_reason(j->res, "Cancelled during step %" PRId64 ": %s",
                              st->index, error);
    } else {
        j->res->status = JX_JOB_FAILED;
        jx__result_set_reason(j->res, "Step %" PRId64 " failed: %s",
                              st->index, error);
    }
}

static void run_step(jx__job *j, const jx__step *st)
{
    char started_at[JX__ISO_TIME_SIZE], completed_at[JX__ISO_TIME_SIZE];
    jx__plugin *p = jx__binding_find(&j->ex->bindings, st->type);
    jx__outcome oc;

    jx__outcome_begin(j, &oc);
    jx__progress_step_begin(j, st);
    jx__iso_now(started_at);
    if (jx__record_step_started(j, st, started_at) != 0)
        goto out; /* the step never started */
    if (p == NULL) {
        if (asprintf(&oc.error, "No handler registered for step type: %s",
                     st->type) < 0)
            oc.error = NULL;
    } else if (jx__record_flush(j) == 0) { /* step_started is in the log */
        jx__step_call(j, st, p, &oc);      /* once: EXEC-006 */
    } else {
        goto out; /* the record did not reach the log: no handler ran */
    }
    if (jx__has_secrets(j->plan))
        jx__outcome_redact(j->plan, &oc);
    if (!oc.completed && oc.error == NULL)
        oc.error = strdup("out of memory");
    jx__iso_now(completed_at);
    if (oc.handler_returned) {
        json_decref(j->health_after);
        j->health_after = jx__observe_health(j->ex); /* EXEC-004 */
    }
    tally(j, st, &oc);
    jx__record_step_finished(j, st, &oc, started_at, completed_at);
    jx__progress_step_end(j, st);
out:
    jx__outcome_end(j, &oc);
}

/* Stops the job, cancelled, before st starts. */
static void cancel_before(jx__job *j, const jx__step *st)
{
    j->res->status = JX_JOB_CANCELLED;
    jx__result_set_reason(j->res, "Cancelled before step %" PRId64,
                          st->index);
    j->stopped = 1;
}

/* Before step 0: the plan as jx_executor_check() sees it, so that a plan
 * `check` would refuse runs no handler.  (A step with no handler used to
 * fail at its turn, after the steps before it had run.) */
static void check_plan(jx__job *j)
{
    jx__verdict v;
    int rc = jx__check_plan(j->ex, j->plan, &j->cancelled, &v);

    if (rc == 0)
        return;
    j->stopped = 1;
    if (rc == JX__CHECK_CANCELLED) {
        j->res->status = JX_JOB_CANCELLED;
        jx__result_set_reason(j->res, "Cancelled before step %" PRId64,
                              j->plan->steps[0].index);
        return;
    }
    j->res->status = JX_JOB_FAILED;
    jx__result_set_reason(j->res, "Plan refused: step %" PRId64 ": %s",
                          v.step->index,
                          v.why != NULL ? v.why
                                        : "(reason withheld: out of memory)");
    free(v.why);
}

/* The scope gate, before step 0: one attempt of the run's scope.  A
 * refusal stops the job with no step run. */
static void pass_gate(jx__job *j, const jx_run_options *o)
{
    char why[64];
    jx_error err = {0, ""};
    int rc = jx_scope_consume(j->ex->scopes, o->scope_id, o->incident_id,
                              o->action, why, sizeof why, &err);

    if (rc == 0)
        return;
    j->res->status = JX_JOB_FAILED;
    j->stopped = 1;
    if (rc == JX_EREFUSED) {
        j->res->scope_rejected = 1;
        jx__result_set_reason(j->res, "Scope gate rejected: %s", why);
    } else {
        jx__result_set_reason(j->res, "Scope gate failed: %s", err.message);
    }
}

/* Whether the options name a scope, and whether the executor can check
 * it: 1 to pass the gate, 0 without a scope, or an error. */
static int scope_requested(const jx_executor *ex, const jx_run_options *o,
                           jx_error *err)
{
    if (!JX_RUN_OPTIONS_HAS(o, action) ||
        (o->scope_id == NULL && o->incident_id == NULL && o->action == NULL))
        return 0;
    if (o->scope_id == NULL || o->incident_id == NULL || o->action == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_run: a scope needs "
                                        "scope_id, incident_id and action "
                                        "together");
    if (ex->scopes == NULL)
        return jx__fail(err, JX_ECONFIG, "jx_executor_run: the run names "
                                         "scope %s, but the config sets no "
                                         "scopes.db",
                        o->scope_id);
    return 1;
}

static void finish(jx__job *j)
{
    char completed_at[JX__ISO_TIME_SIZE];
    double us;

    jx__iso_now(completed_at);
    /* To the microsecond, as the evidence prints it: the document and
     * jx_result_duration_seconds() then agree exactly.  A monotonic
     * duration is not negative, so adding a half and truncating rounds it
     * as round() would, without linking libm for one call (each library
     * costs every process its loading). */
    us = (jx__monotonic() - j->t0) * 1e6;
    j->res->duration = (double)(int64_t)(us + 0.5) / 1e6;
    if (!j->stopped)
        jx__result_set_reason(j->res, "All steps completed successfully");
    jx__record_job_finished(j, completed_at);
}

int jx_executor_run(jx_executor *ex, const jx_plan *plan,
                    const jx_run_options *opts, jx_result **out,
                    jx_error *err)
{
    static const jx_run_options no_options = JX_RUN_OPTIONS_INIT;
    jx__job j = {.ex = ex, .plan = plan, .opts = opts ? opts : &no_options};
    int gated;

    *out = NULL;
    if (ex == NULL || plan == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_run: NULL executor or "
                                        "plan");
    if (ex->check_only)
        return jx__fail(err, JX_EINVAL, "jx_executor_run: the executor was "
                                        "opened with JX_EXECUTOR_CHECK_ONLY "
                                        "and runs no job");
    if ((gated = scope_requested(ex, j.opts, err)) < 0)
        return gated;
    j.res = calloc(1, sizeof *j.res);
    if (j.res == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    memcpy(j.res->job_id, plan->job_id, sizeof j.res->job_id);
    j.res->status = JX_JOB_COMPLETED;
    j.t0 = jx__monotonic();
    jx__iso_now(j.started_at);
    /* A step's two records hash about 840 bytes. */
    jx__sha256_expect(plan->n_steps * 840);
    jx__chain_init(&j.chain, plan->job_id, ex->log, ex->signer,
                   j.opts->on_record, j.opts->user);
    jx__job_start_running(&j);
    jx__progress_start(&j);
    jx__job_audit_created(&j);
    /* The audit trail's result_hash is the document's digest. */
    jx__record_document_begin(&j);

    j.health_before = jx__observe_health(ex); /* EXEC-004: before the job */
    j.health_after = json_null();
    jx__record_job_started(&j);
    /* Cancelled before it started (jx_executor_cancel_ahead): no plugin
     * is asked anything, and no scope attempt is spent. */
    if (!j.stopped && atomic_load(&j.cancelled) && plan->n_steps > 0)
        cancel_before(&j, &plan->steps[0]);
    if (!j.stopped)
        check_plan(&j); /* before the gate: a refused plan spends nothing */
    if (gated && !j.stopped)
        pass_gate(&j, j.opts);
    jx__job_audit_started(&j);

    for (size_t i = 0; i < plan->n_steps && !j.stopped; i++) { /* EXEC-001 */
        if (atomic_load(&j.cancelled)) {
            cancel_before(&j, &plan->steps[i]);
            break;
        }
        run_step(&j, &plan->steps[i]);
    }

    jx__job_stop_running(&j);
    finish(&j);
    jx__job_audit_finished(&j);
    jx__progress_finish(&j);
    json_decref(j.health_before);
    json_decref(j.health_after);
    jx__chain_fini(&j.chain);
    jx__buf_free(&j.text);
    jx__buf_free(&j.step);
    jx__buf_free(&j.output);
    if (j.res->reason == NULL) {
        jx_result_free(j.res);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    *out = j.res;
    return 0;
}
