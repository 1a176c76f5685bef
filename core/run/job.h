/*
 * job.h - one run of a plan, as the files of run/ share it: the loop
 * (run.c), the calls into plugins (step.c), the evidence records
 * (record.c) and cancellation (cancel.c).
 */
#ifndef JX__RUN_JOB_H
#define JX__RUN_JOB_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/jsonbuf.h"
#include "evidence/chain.h"
#include "evidence/document.h"
#include "plugin/host.h"
#include "run/executor.h"
#include "coord/audit.h"
#include "run/result.h"

/* A job's progress (progress.c).  The lock guards what handlers report,
 * which a plugin's own threads may do. */
typedef struct jx__progress {
    pthread_mutex_t lock;
    jx_job_progress_cb cb;  /* NULL: events are not built */
    const jx__step *step;   /* the running step */
    size_t step_number;     /* its position, from 1 */
    size_t steps_done;
    double fraction;        /* its handler's last report; -1: none */
    char *message;          /* and its text (redacted), or NULL */
    double last_sent;       /* monotonic time of the last "running" event */
    int held;               /* a report not delivered yet */
} jx__progress;

/* What one run carries from step to step. */
typedef struct jx__job {
    jx_executor *ex;
    const jx_plan *plan;
    const jx_run_options *opts;
    jx_result *res;
    jx__chain chain;
    jx__document doc;
    jx__buf text;   /* members of the record being built, reused */
    jx__buf step;   /* the step result being built, reused */
    jx__buf output; /* lent to each step's output as its text, reused */
    char started_at[JX__ISO_TIME_SIZE];
    double t0;
    json_t *health_before;
    json_t *health_after;
    int stopped; /* a step did not complete, or evidence failed */
    /* Cancellation: set by jx_executor_cancel(), polled by the run loop,
     * lent to handlers; cancel_fd wakes a wait on an isolated step. */
    atomic_int cancelled;
    int cancel_fd;
    struct jx__job *next_running;
    jx__progress progress;
    /* The audit trail (run/audit.c) */
    jx__audit_run audit;
    jx__audit_cb on_audit; /* from the options, or NULL */
    int audited;           /* some sink receives this run's events */
} jx__job;

/* A step's outcome as the core sees it. */
typedef struct jx__outcome {
    int completed;
    char *error;   /* NULL when completed */
    jx_output out; /* the handler's; its output counts only if completed */
    int handler_returned;
    char *stderr_text;     /* an isolated plugin's stderr, or NULL */
    size_t stderr_dropped; /* bytes of it beyond runner.max_stderr_bytes */
    unsigned leftover_processes; /* what an isolated step left running */
} jx__outcome;

/* ---- check.c: whether the executor accepts a plan -------------------- */

/* The first step the executor would not run, and why. */
typedef struct jx__verdict {
    const jx__step *step; /* NULL when every step is accepted */
    int refused;          /* by its handler's validate (else: no handler) */
    char *why;            /* redacted; the caller frees it; NULL on OOM */
} jx__verdict;

enum { JX__CHECK_CANCELLED = 1 };

/* Checks every step of plan against ex's handlers, stopping at the first
 * refusal.  Returns 0 (all accepted), JX_EREFUSED with v filled, or
 * JX__CHECK_CANCELLED when cancelled (may be NULL) was set while a
 * validate waited (v->step: the step checked then).  v->why is set only
 * for a refusal. */
int jx__check_plan(jx_executor *ex, const jx_plan *plan,
                   const atomic_int *cancelled, jx__verdict *v);

/* ---- step.c: calling plugins --------------------------------------- */

/* Lends the job's output buffer to oc (j->output stays its owner until
 * jx__outcome_end takes it back, grown maybe), and ends oc. */
void jx__outcome_begin(jx__job *j, jx__outcome *oc);
void jx__outcome_end(jx__job *j, jx__outcome *oc);

/* Calls p's execute for st, once, and fills oc: completed, or the error
 * the core records (its own outcomes included: a late return is a
 * timeout, a lost output value a failure). */
void jx__step_call(jx__job *j, const jx__step *st, jx__plugin *p,
                   jx__outcome *oc);

/* Replaces secret values in what the step returned; on OOM the step
 * fails rather than keep an unredacted value. */
void jx__outcome_redact(const jx_plan *plan, jx__outcome *oc);

/* A snapshot from the executor's observer, or JSON null when there is
 * none or it failed: an observer only ever produces a snapshot. */
json_t *jx__observe_health(jx_executor *ex);

/* ---- record.c: the job's evidence records --------------------------- */

/* Each returns 0, or -1 when the record could not be built or delivered:
 * the job has then been stopped, FAILED "evidence write failed: ...". */
void jx__record_job_started(jx__job *j);
int jx__record_step_started(jx__job *j, const jx__step *st,
                            const char *started_at);
/* Writes queued records to the log: before a handler runs, its
 * step_started must be there. */
int jx__record_flush(jx__job *j);
/* Begins the evidence document (when one is wanted). */
void jx__record_document_begin(jx__job *j);
/* The step's entry of step_results and the step_finished record around
 * it (the entry built in place in the record, or in j->step when only the
 * document reads it); both only when the document or a sink reads them. */
void jx__record_step_finished(jx__job *j, const jx__step *st,
                              const jx__outcome *oc, const char *started_at,
                              const char *completed_at);
/* job_finished, sealed, and the end of the evidence document. */
void jx__record_job_finished(jx__job *j, const char *completed_at);

/* ---- progress.c ----------------------------------------------------- */

/* The run's events: started, before and after each step, finished. */
void jx__progress_start(jx__job *j);
void jx__progress_step_begin(jx__job *j, const jx__step *st);
void jx__progress_step_end(jx__job *j, const jx__step *st);
void jx__progress_finish(jx__job *j);
/* What a handler reports (ctx_progress, redacted already): arg is the
 * job. */
void jx__progress_report(void *arg, double fraction, const char *message);
/* ,"progress":{"fraction":F,"message":M} for the step's result, when its
 * handler reported any. */
int jx__progress_put(const jx__job *j, jx__buf *b);

/* ---- audit.c: the audit trail's events of a run --------------------- */

/* job_created; 0, or -1 when a sink refused it (the job is then stopped,
 * FAILED, before any step). */
void jx__job_audit_created(jx__job *j);
/* After the scope gate: scope_rejected (the run's last) or job_started. */
void jx__job_audit_started(jx__job *j);
/* The run's last event, from the result and the document's digest. */
void jx__job_audit_finished(jx__job *j);

/* ---- cancel.c ------------------------------------------------------- */

/* Makes j findable by jx_executor_cancel(), and forgets it again. */
void jx__job_start_running(jx__job *j);
void jx__job_stop_running(jx__job *j);

#endif
