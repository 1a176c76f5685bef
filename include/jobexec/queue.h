/*
 * queue.h - governance jobs shared through PostgreSQL: submitting and
 * inspecting them, and the worker that runs them.
 *
 * Jobs live in the table governance_jobs (README, "Workers"; the schema is
 * applied by jx_queue_migrate()).  Many workers, on many machines, claim
 * PENDING jobs with FOR UPDATE SKIP LOCKED, hold each under a lease they
 * renew, run it through a jx_executor (plugins, isolation, evidence log and
 * seal all apply), write each step's result as it finishes and set the
 * terminal status with the evidence document.  A job runs at most once:
 * a job whose worker lost its lease (died, hung, was cut off) is marked
 * FAILED by a rescuer, never run again.  A retry is a new job.
 *
 * A typical embedding worker:
 *
 *     jx_worker_options o = JX_WORKER_OPTIONS_INIT;
 *     o.conninfo = "postgresql://jobexec@db/governance";
 *     jx_worker_new(ex, &o, &w, &err);
 *     jx_worker_run(w, &err);      // until jx_worker_stop() from elsewhere
 *     jx_worker_free(w);
 *
 * Connection strings are libpq's (a URI or "key=value ..."); NULL or ""
 * takes everything from the PG* environment variables (PGHOST, PGPORT,
 * PGDATABASE, PGUSER...).
 */
#ifndef JOBEXEC_QUEUE_H
#define JOBEXEC_QUEUE_H

#include <jobexec/jobexec.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The store ----------------------------------------------------------- */

/* One connection to the store.  Not thread-safe: one per thread. */
typedef struct jx_queue jx_queue;

/* Connects.  *out is the caller's to jx_queue_close().  JX_EIO with the
 * server's reason when the connection fails. */
int jx_queue_open(const char *conninfo, jx_queue **out, jx_error *err);
void jx_queue_close(jx_queue *q);

/* Applies the schema's migrations the database has not had yet, in order,
 * each in its own transaction; several callers at once are serialised.
 * *applied (may be NULL) receives how many this call applied. */
int jx_queue_migrate(jx_queue *q, unsigned *applied, jx_error *err);

/* The schema version the database has (0: none), and the one this library
 * brings. */
int jx_queue_schema_version(jx_queue *q, unsigned *version, jx_error *err);
unsigned jx_queue_schema_latest(void);

/*
 * Adds a job, PENDING, from a plan's text (YAML or JSON, checked as
 * jx_plan_parse() checks it; name prefixes messages).  Its job_id is the
 * plan's, or a new one when the plan has none; it goes to job_id.
 * created_by NULL: the database user.  JX_EPLAN for a plan that is
 * refused, JX_EINVAL for a job_id the table already holds.
 */
int jx_queue_submit(jx_queue *q, const char *text, size_t len,
                    const char *name, const char *created_by,
                    char job_id[37], jx_error *err);

/* The same from a plan file, or standard input for "-" (at most a plan's
 * 128 MiB). */
int jx_queue_submit_file(jx_queue *q, const char *path,
                         const char *created_by, char job_id[37],
                         jx_error *err);

/*
 * The jobs as a JSON array, newest first, at most limit of them (0: 100),
 * with status one of PENDING, RUNNING, COMPLETED, FAILED, CANCELLED (NULL:
 * any): each {job_id, contract_id, tenant_id, status, status_reason,
 * current_step_index, total_steps, created_at, started_at, completed_at,
 * created_by, lease_owner, lease_expires_at, attempt}.  *json is the
 * caller's to free().
 */
int jx_queue_list_json(jx_queue *q, const char *status, unsigned limit,
                       char **json, jx_error *err);

/*
 * One job as a JSON object: the fields of the list, and steps,
 * step_results (a running job's too, from governance_job_steps),
 * execution_evidence (the evidence document, null until it ended), health_snapshot_before and health_snapshot_after, timeout_at.
 * id is a job_id, or a prefix of at least 8 hex digits of exactly one.
 * JX_EINVAL when no job (or more than one) matches.  *json is the
 * caller's to free().
 */
int jx_queue_show_json(jx_queue *q, const char *id, char **json,
                       jx_error *err);

/*
 * The rescuer: every RUNNING job whose lease has expired is marked FAILED,
 * "interrupted: worker NAME lost its lease at step N" (N the step_index of
 * the step it had not finished), its finished steps' results moved into
 * step_results.  Never run again.  *rescued (may be NULL) receives how
 * many.
 */
int jx_queue_rescue(jx_queue *q, unsigned *rescued, jx_error *err);

/* ---- The worker ---------------------------------------------------------- */

typedef struct jx_worker jx_worker;

/* Receives the worker's log lines (one line each, "key=value ..."
 * logfmt, no newline): claims, step writes, terminal statuses, lost
 * leases, rescues, connection trouble.  Called from the worker's threads,
 * one at a time. */
typedef void (*jx_worker_log_cb)(const char *line, void *user);

typedef struct jx_worker_options {
    /* sizeof(jx_worker_options) as the caller was built
     * (JX_WORKER_OPTIONS_INIT sets it). */
    size_t struct_size;
    const char *conninfo;     /* NULL: the PG* environment variables */
    const char *name;         /* NULL: "HOST:PID"; the lease owner and
                               * the jobs' executed_by */
    unsigned concurrency;     /* jobs run at once, one thread each; 0: 1 */
    unsigned lease_seconds;   /* a lease's length; 0: 30 */
    unsigned poll_ms;         /* the claim's poll when no notification
                               * comes; 0: 1000 */
    unsigned rescue_seconds;  /* how often the rescuer runs; 0: 10 */
    int once;                 /* run at most one job, then return */
    jx_worker_log_cb on_log;  /* may be NULL */
    void *user;
} jx_worker_options;

#define JX_WORKER_OPTIONS_INIT                                                \
    {sizeof(jx_worker_options), NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL}

/* A worker running jobs on ex (which must outlive it).  Nothing connects
 * yet.  *out is the caller's to jx_worker_free(). */
int jx_worker_new(jx_executor *ex, const jx_worker_options *opts,
                  jx_worker **out, jx_error *err);

/*
 * Claims and runs jobs until jx_worker_stop() (or, with once, after one
 * job or when none is waiting).  Returns 0 when stopped, or a negative
 * code when it could not work (the database unreachable at start, the
 * schema missing or older than this library's).  A connection lost later
 * is retried, not returned.
 */
int jx_worker_run(jx_worker *w, jx_error *err);

/*
 * Stops the worker; thread-safe, not async-signal-safe (call it from a
 * thread that took the signal with sigwait()).  now 0: each running job
 * finishes its current step, starts no other and ends CANCELLED (complete
 * when that step was its last); now 1: the running steps are cancelled
 * too (jx_executor_cancel()).  Either way no new job is claimed and
 * jx_worker_run() returns once the running jobs are recorded.
 */
void jx_worker_stop(jx_worker *w, int now);

void jx_worker_free(jx_worker *w);

#ifdef __cplusplus
}
#endif

#endif /* JOBEXEC_QUEUE_H */
