/*
 * audit.c - the audit trail's events of one run: job_created when it
 * begins, job_started (or scope_rejected) once the scope gate has spoken,
 * and job_completed, job_failed or job_cancelled at its end, with its
 * duration, its error and the SHA-256 of its evidence document.
 */
#include "config.h"

#include <stdlib.h>

#include "input/redact.h"
#include "plugin/host.h"
#include "run/job.h"

/* The job's failure to deliver an event: before the steps it stops the
 * job (fail closed, as the evidence does); at the end it can only be
 * said. */
static void audit_failed(jx__job *j, const char *why, int before_steps)
{
    if (!before_steps) {
        jx__log(NULL, JX_LOG_ERROR, why);
        return;
    }
    if (j->stopped)
        return;
    j->res->status = JX_JOB_FAILED;
    jx__result_set_reason(j->res, "audit write failed: %s", why);
    j->stopped = 1;
}

/* before_steps: a refusal stops the job; last: the run's sealed end. */
static void emit(jx__job *j, const char *type, const char *error,
                 double duration_ms, const char *result_hash, int last,
                 int before_steps)
{
    int oom = 0;
    /* Redacted as the evidence's job_started redacts it; hidden whole
     * when that cannot be done. */
    char *tenant = j->audited ? jx__redact_text(j->plan, j->plan->tenant_id,
                                                &oom)
                              : NULL;
    jx__audit_event e = {type,
                         tenant != NULL ? tenant
                         : oom          ? JX__REDACTED
                                        : j->plan->tenant_id,
                         j->plan->sha256, duration_ms, error, result_hash};
    char why[256];

    if (j->audited &&
        jx__audit_emit(&j->ex->audit, &j->audit, &e, last, j->on_audit,
                       j->opts->user, why, sizeof why) != 0)
        audit_failed(j, why, before_steps);
    free(tenant);
}

void jx__job_audit_created(jx__job *j)
{
    const jx_run_options *o = j->opts;

    j->on_audit = JX_RUN_OPTIONS_HAS(o, on_audit) ? o->on_audit : NULL;
    j->audited = jx__audit_wanted(&j->ex->audit, j->on_audit);
    jx__audit_run_init(&j->audit, j->plan->job_id);
    emit(j, "job_created", NULL, -1, NULL, 0, 1);
}

void jx__job_audit_started(jx__job *j)
{
    if (j->res->scope_rejected)
        emit(j, "scope_rejected", j->res->reason, 0, NULL, 1, 0);
    else
        emit(j, "job_started", NULL, -1, NULL, 0, 1);
}

void jx__job_audit_finished(jx__job *j)
{
    char digest[2 * JX__SHA256_LEN + 1];
    const char *type = j->res->status == JX_JOB_COMPLETED   ? "job_completed"
                       : j->res->status == JX_JOB_CANCELLED ? "job_cancelled"
                                                            : "job_failed";

    /* Taken (and the hashing state freed) whether or not it is used. */
    int hashed = jx__doc_digest(&j->doc, digest) == 0;

    /* A refused run ended with scope_rejected. */
    if (!j->res->scope_rejected)
        emit(j, type,
             j->res->status == JX_JOB_COMPLETED ? NULL : j->res->reason,
             j->res->duration * 1e3, hashed ? digest : NULL, 1, 0);
    jx__audit_run_fini(&j->audit);
}
