/*
 * held.c - one job a worker has claimed: its plan rebuilt from the row,
 * run through the executor, each step's result written (renewing the
 * lease in the same statement), and its terminal status with the evidence
 * document.  Every write names the lease it holds; once a write finds the
 * lease gone, nothing more is written and no further step starts.
 *
 * To spare round trips, the result of the job's last step (the plan's
 * last, a failed one, or the one a stop ends the job after) is written
 * with the terminal status, in one statement; and the thread's next
 * claim goes with it, in the same round trip and the same transaction:
 * one commit per job, not two.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/jsonbuf.h"
#include "worker/worker.h"

typedef struct held_job {
    jx_worker *w;
    jx_queue *q;
    size_t slot;
    char job_id[JX__UUID_LEN + 1];
    size_t n_steps, finished;
    char *pending; /* the last step's result, written with the status */
    int lost;      /* the lease is gone: write nothing more */
    jx__claim *next; /* where the claim sent with the status goes */
} held_job;

static void lose(held_job *h, const char *why)
{
    h->lost = 1;
    jx__worker_log(h->w, "warn", "event", "lease_lost", "job", h->job_id,
                   "why", why, JX__LOG_END);
}

static int write_step(held_job *h, const char *step)
{
    jx_worker *w = h->w;
    char lease[16];
    const char *params[] = {h->job_id, w->name, step, lease};
    double t = jx__monotonic();
    jx_error err = {0, ""};
    PGresult *res;
    long changed;

    snprintf(lease, sizeof lease, "%u", w->lease_seconds);
    res = jx__pg_prepared(h->q, JX__STMT_STEP, 4, params, &err);
    if (res == NULL) {
        /* Unrecorded, the step's result would be lost: stop the job. */
        lose(h, err.message);
        return -1;
    }
    changed = jx__pg_changed(res);
    PQclear(res);
    if (changed != 1) {
        lose(h, "the step's result found the lease expired or taken");
        return -1;
    }
    jx__slot_renewed(w, h->slot, t);
    return 0;
}

static int step_finished(held_job *h, const jx_record *rec)
{
    int completed = rec->step_completed,
        stopping = atomic_load(&h->w->stopping) != JX__RUNNING;
    char *step = rec->step_result != NULL
                     ? strndup(rec->step_result, rec->step_result_len)
                     : NULL;

    if (step == NULL) {
        lose(h, "out of memory reading a step's result");
        return -1;
    }
    if (++h->finished < h->n_steps && completed && !stopping) {
        int rc = write_step(h, step);
        free(step);
        return rc;
    }
    /* The job ends after this step: its result goes with the status. */
    free(h->pending);
    h->pending = step;
    if (completed && h->finished < h->n_steps)
        jx_executor_cancel(h->w->ex, h->job_id); /* a stop: no next step */
    return 0;
}

/* The run's on_record: the worker's hold on the job, step by step. */
static int on_record(const jx_record *rec, void *user)
{
    held_job *h = user;

    if (h->lost)
        return -1;
    switch (rec->kind) {
    case JX_RECORD_JOB_STARTED:
        if (atomic_load(&h->w->stopping) != JX__RUNNING)
            jx_executor_cancel(h->w->ex, h->job_id); /* stopped already */
        return 0;
    case JX_RECORD_STEP_STARTED:
        /* A worker stopped (SIGSTOP, a stalled machine) past its lease
         * may have been rescued: no step starts unless the lease surely
         * holds. */
        if (!jx__slot_fresh(h->w, h->slot)) {
            lose(h, "the lease was not renewed in time to start a step");
            return -1;
        }
        return 0;
    case JX_RECORD_STEP_FINISHED:
        return step_finished(h, rec);
    default:
        return 0;
    }
}

/* The plan of the claimed row: its steps, with the ids the row gives and
 * this worker as executed_by.  It is the plan of that document's text,
 * whose sha256 the evidence names; JSON, which jx_plan_parse() reads with
 * its fast reader.  The steps go in as the server prints them (jsonb's
 * text is JSON): the plan reader checks them, so they are not parsed
 * twice. */
static int plan_of(held_job *h, PGresult *row, jx_plan **plan, jx_error *err)
{
    jx__buf text = {NULL, 0, 0};
    char name[80];
    int rc;

    if (jx__buf_puts(&text, "{\"job_id\":\"") ||
        jx__buf_puts(&text, h->job_id) ||
        jx__buf_puts(&text, "\",\"contract_id\":\"") ||
        jx__buf_puts(&text, PQgetvalue(row, 0, 1)) ||
        jx__buf_puts(&text, "\",\"executed_by\":") ||
        jx__buf_put_json_string(&text, h->w->name) ||
        (!PQgetisnull(row, 0, 2) &&
         (jx__buf_puts(&text, ",\"tenant_id\":") ||
          jx__buf_put_json_string(&text, PQgetvalue(row, 0, 2)))) ||
        jx__buf_puts(&text, ",\"steps\":") ||
        jx__buf_puts(&text, PQgetvalue(row, 0, 3)) ||
        jx__buf_append(&text, "}", 1)) {
        jx__buf_free(&text);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    snprintf(name, sizeof name, "job %s", h->job_id);
    rc = jx_plan_parse(text.data, text.len, name, plan, err);
    jx__buf_free(&text);
    if (rc == 0)
        h->n_steps = jx_plan_step_count(*plan);
    return rc;
}

/* Writes the terminal status, with the thread's next claim when it may
 * claim again: a stopping worker claims nothing more, and one that runs
 * once has run its job.  The two commit together.  A claim that failed
 * is left undone: the thread claims alone next time, and learns then what
 * is wrong; and its failure rolled the status back, so that is written
 * again, alone. */
static PGresult *write_status(held_job *h, const char *const *params,
                              jx_error *err)
{
    jx_worker *w = h->w;
    char lease[16];
    const char *claim[] = {w->name, lease};
    jx__pg_call calls[] = {{.stmt = JX__STMT_FINISH, .n = 7, .params = params},
                           {.stmt = JX__STMT_CLAIM, .n = 2, .params = claim}};
    double t = jx__monotonic();

    if (w->once || atomic_load(&w->stopping) != JX__RUNNING)
        return jx__pg_prepared(h->q, JX__STMT_FINISH, 7, params, err);
    snprintf(lease, sizeof lease, "%u", w->lease_seconds);
    jx__pg_prepared_batch(h->q, calls, 2, 1);
    h->next->row = calls[1].res;
    h->next->sent = t;
    if (calls[0].undone)
        return jx__pg_prepared(h->q, JX__STMT_FINISH, 7, params, err);
    if (calls[0].res == NULL && err != NULL)
        *err = calls[0].err;
    return calls[0].res;
}

/* The terminal write: status, reason, the pending step, the document. */
static void finish(held_job *h, const char *status, const char *reason,
                   size_t steps_done, const char *document)
{
    char done[24];
    const char *params[] = {h->job_id, h->w->name, status, reason,
                            h->pending, done, document};
    jx_error err = {0, ""};
    PGresult *res;

    if (h->lost) {
        jx__worker_log(h->w, "warn", "event", "abandoned", "job", h->job_id,
                       "status", status, "reason", reason, JX__LOG_END);
        return;
    }
    snprintf(done, sizeof done, "%zu", steps_done);
    if ((res = write_status(h, params, &err)) == NULL) {
        lose(h, err.message);
        return;
    }
    if (jx__pg_changed(res) != 1)
        lose(h, "the terminal status found the lease expired or taken");
    else
        jx__worker_log(h->w, "info", "event", "finished", "job", h->job_id,
                       "status", status, "reason", reason, JX__LOG_END);
    PQclear(res);
}

static void run(held_job *h, const jx_plan *plan)
{
    jx_run_options o = JX_RUN_OPTIONS_INIT;
    char *doc_text = NULL;
    size_t doc_len = 0;
    jx_result *res = NULL;
    jx_error err = {0, ""};
    FILE *doc = open_memstream(&doc_text, &doc_len);

    o.on_record = on_record;
    o.user = h;
    o.document = doc;
    if (jx_executor_run(h->w->ex, plan, &o, &res, &err) != 0) {
        if (doc != NULL)
            fclose(doc);
        free(doc_text);
        finish(h, "FAILED", err.message, 0, NULL);
        return;
    }
    /* A document that could not be written whole is not kept: the step
     * results and the status still are. */
    if (doc == NULL || fclose(doc) != 0 || doc_len == 0) {
        free(doc_text);
        doc_text = NULL;
    }
    finish(h, jx_result_status_name(res), jx_result_reason(res),
           jx_result_steps_executed(res), doc_text);
    free(doc_text);
    jx_result_free(res);
}

int jx__worker_take_job(jx_worker *w, jx_queue *q, size_t i, jx__claim *next,
                        jx_error *err)
{
    char lease[16];
    const char *params[] = {w->name, lease};
    held_job h = {.w = w, .q = q, .slot = i, .next = next};
    jx_plan *plan = NULL;
    jx_error perr = {0, ""};
    double t = next->row != NULL ? next->sent : jx__monotonic();
    PGresult *row = next->row;

    next->row = NULL; /* taken: finish() may leave the following one */
    snprintf(lease, sizeof lease, "%u", w->lease_seconds);
    if (row == NULL &&
        (row = jx__pg_prepared(q, JX__STMT_CLAIM, 2, params, err)) == NULL)
        return JX_EIO;
    if (PQntuples(row) == 0) {
        PQclear(row);
        return 0;
    }
    snprintf(h.job_id, sizeof h.job_id, "%s", PQgetvalue(row, 0, 0));
    jx__slot_set(w, i, h.job_id, t);
    if (plan_of(&h, row, &plan, &perr) != 0) {
        char *reason = NULL;
        if (asprintf(&reason, "Plan refused: %s", perr.message) < 0)
            reason = NULL;
        jx__worker_log(w, "warn", "event", "refused", "job", h.job_id,
                       "reason", perr.message, JX__LOG_END);
        finish(&h, "FAILED", reason != NULL ? reason : perr.message, 0,
               NULL);
        free(reason);
    } else {
        char n[24];
        snprintf(n, sizeof n, "%zu", h.n_steps);
        jx__worker_log(w, "info", "event", "claimed", "job", h.job_id,
                       "steps", n, JX__LOG_END);
        run(&h, plan);
    }
    PQclear(row);
    jx_plan_free(plan);
    free(h.pending);
    jx__slot_set(w, i, "", 0);
    return 1;
}
