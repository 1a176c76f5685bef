/*
 * pg.c - connecting to the governance store and running statements on it,
 * with the server's reason as a one-line jx_error.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "worker/pg.h"

/* The statements of the hot path, by jx__pg_stmt: a lease is held only
 * while lease_owner is ours, the job RUNNING and the lease unexpired, and
 * every write of a held job says so in its WHERE, so that a worker that
 * lost its lease writes nothing. */
static const struct {
    const char *name, *what, *sql; /* what: for messages */
    int n_params;
} statements[JX__N_STMTS] = {
    [JX__STMT_CLAIM] = {
        "jx_claim", "claiming a job",
        "UPDATE governance_jobs g SET status = 'RUNNING', lease_owner = $1, "
        "lease_expires_at = now() + make_interval(secs => $2::int), "
        "attempt = g.attempt + 1, started_at = now(), "
        "current_step_index = 0, "
        "timeout_at = now() + make_interval(secs => (SELECT "
        "coalesce(sum(coalesce((s->>'timeout_seconds')::bigint, 300)), 0) "
        "FROM jsonb_array_elements(g.steps) s)) "
        "FROM (SELECT job_id FROM governance_jobs WHERE status = 'PENDING' "
        "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) c "
        "WHERE g.job_id = c.job_id "
        "RETURNING g.job_id, g.contract_id, g.tenant_id, g.steps",
        2},
    /* A row of governance_job_steps per step: appending to the
     * step_results array would rewrite it whole at every step.  The
     * INSERT counts 1 only when the lease held. */
    [JX__STMT_STEP] = {
        "jx_step", "writing a step's result",
        "WITH g AS (UPDATE governance_jobs SET "
        "current_step_index = current_step_index + 1, "
        "lease_expires_at = now() + make_interval(secs => $4::int) "
        "WHERE job_id = $1 AND lease_owner = $2 AND status = 'RUNNING' "
        "AND lease_expires_at > now() "
        "RETURNING job_id, current_step_index - 1 AS step_index) "
        "INSERT INTO governance_job_steps (job_id, step_index, result) "
        "SELECT job_id, step_index, $3::jsonb FROM g",
        4},
    [JX__STMT_FINISH] = {
        "jx_finish", "writing the job's status",
        /* The results written step by step move into step_results, in
         * order, under the same guard as the status.  The document and
         * the step are parsed once each, in d: every cast of a parameter
         * to jsonb parses its text again. */
        "WITH moved AS (DELETE FROM governance_job_steps s WHERE "
        "s.job_id = $1 AND EXISTS (SELECT 1 FROM governance_jobs g WHERE "
        "g.job_id = $1 AND g.lease_owner = $2 AND g.status = 'RUNNING' "
        "AND g.lease_expires_at > now()) RETURNING s.step_index, s.result) "
        "UPDATE governance_jobs SET status = $3, status_reason = $4, "
        "step_results = step_results || coalesce((SELECT jsonb_agg(result "
        "ORDER BY step_index) FROM moved), '[]'::jsonb) || CASE WHEN "
        "d.step IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(d.step) END, "
        "current_step_index = $6::int, execution_evidence = d.doc, "
        "health_snapshot_before = d.doc #> '{health_observations,before}', "
        "health_snapshot_after = d.doc #> '{health_observations,after}', "
        "completed_at = now(), lease_expires_at = NULL "
        "FROM (SELECT $5::jsonb AS step, $7::jsonb AS doc) d "
        "WHERE job_id = $1 AND lease_owner = $2 AND status = 'RUNNING' "
        "AND lease_expires_at > now()",
        7},
    [JX__STMT_RENEW] = {
        "jx_renew", "renewing leases",
        "UPDATE governance_jobs SET "
        "lease_expires_at = now() + make_interval(secs => $3::int) "
        "WHERE job_id = ANY($1::uuid[]) AND lease_owner = $2 "
        "AND status = 'RUNNING' AND lease_expires_at > now() "
        "RETURNING job_id",
        3},
};

/* The server's primary message, or libpq's, as one line. */
static int fail_with(jx_error *err, const char *what, const char *why)
{
    char line[JX_ERROR_MESSAGE_SIZE];
    size_t n;

    snprintf(line, sizeof line, "%s", why != NULL && *why ? why
                                                          : "unknown error");
    n = strcspn(line, "\n"); /* DETAIL and HINT lines stay with the server */
    line[n] = '\0';
    return jx__fail(err, JX_EIO, "governance store: %s: %s", what, line);
}

int jx__pg_fail(PGconn *c, const char *what, jx_error *err)
{
    return fail_with(err, what, c != NULL ? PQerrorMessage(c) : NULL);
}

/* The server's notices ("already exists, skipping") are not for the
 * library's callers: libpq would print them on stderr. */
static void drop_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int jx__pg_connect(const char *conninfo, PGconn **out, jx_error *err)
{
    PGconn *c;
    PGresult *res;

    *out = NULL;
    if (jx__pq_load(err) != 0)
        return JX_EIO;
    c = PQconnectdb(conninfo != NULL ? conninfo : "");
    if (c == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        int rc = jx__pg_fail(c, "cannot connect", err);
        PQfinish(c);
        return rc;
    }
    PQsetNoticeProcessor(c, drop_notice, NULL);
    res = jx__pg_exec(c, "setting the session", "SET TIME ZONE 'UTC'", 0,
                      NULL, err);
    if (res == NULL) {
        PQfinish(c);
        return JX_EIO;
    }
    PQclear(res);
    *out = c;
    return 0;
}

static PGresult *checked(PGconn *c, PGresult *res, const char *what,
                         jx_error *err)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    if (res == NULL)
        jx__pg_fail(c, what, err);
    else
        fail_with(err, what,
                  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL
                      ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                      : PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

PGresult *jx__pg_exec(PGconn *c, const char *what, const char *sql, int n,
                      const char *const *params, jx_error *err)
{
    PGresult *res = n == 0 && params == NULL
                        ? PQexec(c, sql) /* may hold several statements */
                        : PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    return checked(c, res, what, err);
}

/* Prepares stmt on q's connection unless it has it. */
static int prepare(jx_queue *q, jx__pg_stmt stmt, jx_error *err)
{
    unsigned bit = 1u << stmt;
    PGresult *res;

    if (q->prepared & bit)
        return 0;
    res = checked(q->conn,
                  PQprepare(q->conn, statements[stmt].name,
                            statements[stmt].sql, statements[stmt].n_params,
                            NULL),
                  "preparing a statement", err);
    if (res == NULL)
        return JX_EIO;
    PQclear(res);
    q->prepared |= bit;
    return 0;
}

PGresult *jx__pg_prepared(jx_queue *q, jx__pg_stmt stmt, int n,
                          const char *const *params, jx_error *err)
{
    if (prepare(q, stmt, err) != 0)
        return NULL;
    return checked(q->conn,
                   PQexecPrepared(q->conn, statements[stmt].name, n, params,
                                  NULL, NULL, 0),
                   statements[stmt].what, err);
}

/* The calls of calls[from..n) without an answer fail as the connection
 * did. */
static void fail_rest(jx_queue *q, jx__pg_call *calls, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++)
        if (calls[i].res == NULL && calls[i].err.code == 0)
            jx__pg_fail(q->conn, statements[calls[i].stmt].what,
                        &calls[i].err);
}

/* Call's result and the end of its results; -1 when the connection
 * broke.  A call its transaction skipped gets res NULL and skipped set. */
static int read_result(jx_queue *q, jx__pg_call *call)
{
    PGresult *res = PQgetResult(q->conn), *end;

    if (res == NULL)
        return -1; /* the connection broke: libpq has no more to give */
    if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
        PQclear(res);
        call->skipped = 1;
        jx__fail(&call->err, JX_EIO, "governance store: %s: skipped, an "
                                     "earlier statement of its transaction "
                                     "failed",
                 statements[call->stmt].what);
    } else {
        call->res = checked(q->conn, res, statements[call->stmt].what,
                            &call->err);
    }
    if ((end = PQgetResult(q->conn)) != NULL) { /* a second result? */
        PQclear(end);
        return -1;
    }
    return 0;
}

/* The answer to a Sync: 0, or -1 when the connection broke. */
static int read_sync(jx_queue *q)
{
    PGresult *end = PQgetResult(q->conn);
    int rc = end != NULL && PQresultStatus(end) == PGRES_PIPELINE_SYNC ? 0
                                                                        : -1;

    PQclear(end);
    return rc;
}

/* In one transaction, the call that failed undid those before it: their
 * results stand for nothing that stays. */
static void undo_before(jx__pg_call *calls, size_t failed)
{
    for (size_t i = 0; i < failed; i++) {
        PQclear(calls[i].res);
        calls[i].res = NULL;
        calls[i].undone = 1;
        jx__fail(&calls[i].err, JX_EIO, "governance store: %s: undone, as "
                                        "%s failed in the same transaction "
                                        "(%s)",
                 statements[calls[i].stmt].what,
                 statements[calls[failed].stmt].what,
                 calls[failed].err.message);
    }
}

void jx__pg_prepared_batch(jx_queue *q, jx__pg_call *calls, size_t n,
                           int one_transaction)
{
    size_t sent = 0, got = 0;

    for (size_t i = 0; i < n; i++) {
        calls[i].res = NULL;
        calls[i].err = (jx_error){0, ""};
        calls[i].undone = calls[i].skipped = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (prepare(q, calls[i].stmt, &calls[i].err) != 0) {
            fail_rest(q, calls, 0, n);
            return;
        }
    if (!PQenterPipelineMode(q->conn)) {
        fail_rest(q, calls, 0, n);
        return;
    }
    /* Apart, a Sync after each call: each its own transaction, which
     * another's failure neither undoes nor skips.  Together, one Sync. */
    while (sent < n &&
           PQsendQueryPrepared(q->conn, statements[calls[sent].stmt].name,
                               calls[sent].n, calls[sent].params, NULL,
                               NULL, 0) &&
           (one_transaction || PQpipelineSync(q->conn)))
        sent++;
    if (!one_transaction) {
        while (got < sent && read_result(q, &calls[got]) == 0 &&
               read_sync(q) == 0)
            got++;
    } else if (sent == n && PQpipelineSync(q->conn)) {
        while (got < n && read_result(q, &calls[got]) == 0)
            got++;
        if (got == n && read_sync(q) == 0) {
            for (size_t i = 0; i < n; i++)
                if (calls[i].res == NULL && !calls[i].skipped) {
                    undo_before(calls, i);
                    break;
                }
        } else {
            /* No answer to the Sync: whether the transaction committed is
             * not known, so no result stands (the connection's error
             * says why, below). */
            for (size_t i = 0; i < n; i++) {
                PQclear(calls[i].res);
                calls[i].res = NULL;
                calls[i].err = (jx_error){0, ""};
                calls[i].undone = calls[i].skipped = 0;
            }
        }
    }
    /* Leaving fails only after a broken exchange: the connection then
     * stays in pipeline mode, where the thread's next statement fails
     * and it connects again. */
    (void)PQexitPipelineMode(q->conn);
    fail_rest(q, calls, 0, n); /* what was not sent or not answered */
}

int jx__pg_command(PGconn *c, const char *what, const char *sql, int n,
                   const char *const *params, jx_error *err)
{
    PGresult *res = jx__pg_exec(c, what, sql, n, params, err);

    if (res == NULL)
        return err != NULL ? err->code : JX_EIO;
    PQclear(res);
    return 0;
}

long jx__pg_changed(PGresult *res)
{
    return strtol(PQcmdTuples(res), NULL, 10);
}
