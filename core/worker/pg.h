/*
 * pg.h - the worker's use of libpq: connecting, running a statement and
 * turning the server's refusal into a one-line jx_error.
 */
#ifndef JX__WORKER_PG_H
#define JX__WORKER_PG_H

#include <libpq-fe.h>

#include <jobexec/queue.h>

#include "base/common.h"

/*
 * libpq is loaded when the store is first used (jx__pq_load), not linked:
 * its dependencies (Kerberos, LDAP, GnuTLS, ...) would cost every
 * `jobexec run` some 13 ms of start-up for a library it never calls.
 * libpq-fe.h still gives the types; the calls go through this table,
 * and the names below keep the code reading as plain libpq.
 */
struct jx__pq_api {
    __typeof__(PQclear) *f_PQclear;
    __typeof__(PQcmdTuples) *f_PQcmdTuples;
    __typeof__(PQconnectdb) *f_PQconnectdb;
    __typeof__(PQconsumeInput) *f_PQconsumeInput;
    __typeof__(PQenterPipelineMode) *f_PQenterPipelineMode;
    __typeof__(PQerrorMessage) *f_PQerrorMessage;
    __typeof__(PQexec) *f_PQexec;
    __typeof__(PQexecParams) *f_PQexecParams;
    __typeof__(PQexecPrepared) *f_PQexecPrepared;
    __typeof__(PQexitPipelineMode) *f_PQexitPipelineMode;
    __typeof__(PQfinish) *f_PQfinish;
    __typeof__(PQfreemem) *f_PQfreemem;
    __typeof__(PQgetResult) *f_PQgetResult;
    __typeof__(PQgetisnull) *f_PQgetisnull;
    __typeof__(PQgetvalue) *f_PQgetvalue;
    __typeof__(PQnotifies) *f_PQnotifies;
    __typeof__(PQntuples) *f_PQntuples;
    __typeof__(PQpipelineSync) *f_PQpipelineSync;
    __typeof__(PQprepare) *f_PQprepare;
    __typeof__(PQresultErrorField) *f_PQresultErrorField;
    __typeof__(PQresultErrorMessage) *f_PQresultErrorMessage;
    __typeof__(PQresultStatus) *f_PQresultStatus;
    __typeof__(PQsendQueryPrepared) *f_PQsendQueryPrepared;
    __typeof__(PQsetNoticeProcessor) *f_PQsetNoticeProcessor;
    __typeof__(PQsocket) *f_PQsocket;
    __typeof__(PQstatus) *f_PQstatus;
};
extern struct jx__pq_api jx__pq;

/* Loads libpq and fills jx__pq, once per process (thread-safe); 0, or
 * JX_EIO naming what is missing. */
int jx__pq_load(jx_error *err);

#define PQclear (jx__pq.f_PQclear)
#define PQcmdTuples (jx__pq.f_PQcmdTuples)
#define PQconnectdb (jx__pq.f_PQconnectdb)
#define PQconsumeInput (jx__pq.f_PQconsumeInput)
#define PQenterPipelineMode (jx__pq.f_PQenterPipelineMode)
#define PQerrorMessage (jx__pq.f_PQerrorMessage)
#define PQexec (jx__pq.f_PQexec)
#define PQexecParams (jx__pq.f_PQexecParams)
#define PQexecPrepared (jx__pq.f_PQexecPrepared)
#define PQexitPipelineMode (jx__pq.f_PQexitPipelineMode)
#define PQfinish (jx__pq.f_PQfinish)
#define PQfreemem (jx__pq.f_PQfreemem)
#define PQgetResult (jx__pq.f_PQgetResult)
#define PQgetisnull (jx__pq.f_PQgetisnull)
#define PQgetvalue (jx__pq.f_PQgetvalue)
#define PQnotifies (jx__pq.f_PQnotifies)
#define PQntuples (jx__pq.f_PQntuples)
#define PQpipelineSync (jx__pq.f_PQpipelineSync)
#define PQprepare (jx__pq.f_PQprepare)
#define PQresultErrorField (jx__pq.f_PQresultErrorField)
#define PQresultErrorMessage (jx__pq.f_PQresultErrorMessage)
#define PQresultStatus (jx__pq.f_PQresultStatus)
#define PQsendQueryPrepared (jx__pq.f_PQsendQueryPrepared)
#define PQsetNoticeProcessor (jx__pq.f_PQsetNoticeProcessor)
#define PQsocket (jx__pq.f_PQsocket)
#define PQstatus (jx__pq.f_PQstatus)

/* Prepared statements of the hot path, each prepared once per
 * connection (see jx__pg_prepared()). */
typedef enum jx__pg_stmt {
    JX__STMT_CLAIM = 0,
    JX__STMT_STEP,
    JX__STMT_FINISH,
    JX__STMT_RENEW,
    JX__N_STMTS
} jx__pg_stmt;

struct jx_queue {
    PGconn *conn;
    unsigned prepared; /* bit per jx__pg_stmt */
};

/* Connects (conninfo NULL or "": the PG* environment) and makes the
 * session's time zone UTC, so timestamps read back as evidence writes
 * them. */
int jx__pg_connect(const char *conninfo, PGconn **out, jx_error *err);

/*
 * Runs sql with n text parameters (NULL for SQL NULL).  Returns the
 * result, the caller's to PQclear(), when the server ran it; NULL with
 * err filled ("governance store: WHAT: REASON") when not.
 */
PGresult *jx__pg_exec(PGconn *c, const char *what, const char *sql, int n,
                      const char *const *params, jx_error *err);

/* The same for one of the prepared statements, preparing it first on a
 * connection that has not got it. */
PGresult *jx__pg_prepared(jx_queue *q, jx__pg_stmt stmt, int n,
                          const char *const *params, jx_error *err);

/* One statement of a batch, and its answer. */
typedef struct jx__pg_call {
    jx__pg_stmt stmt;
    int n;
    const char *const *params;
    PGresult *res; /* out: as jx__pg_prepared() returns it */
    jx_error err;  /* out: why res is NULL */
    int undone;    /* out, one transaction: it ran, but a later call
                    * failed, and the rollback took its changes back */
    int skipped;   /* out, one transaction: not run, an earlier call
                    * failed */
} jx__pg_call;

/*
 * Runs the n calls in one round trip (libpq's pipeline mode), in order.
 * Apart (one_transaction 0), each is its own transaction as
 * jx__pg_prepared() would run it: one's failure neither undoes nor skips
 * another.  Together (1), they are one transaction with one commit: the
 * first call that fails undoes those before it and skips those after.
 * Each call's res is then the caller's to PQclear(), or NULL with err
 * saying why (and undone or skipped set, together).  Together, when the
 * connection breaks before the commit is answered, every res is NULL:
 * whether it committed is not known.
 */
void jx__pg_prepared_batch(jx_queue *q, jx__pg_call *calls, size_t n,
                           int one_transaction);

/* jx__pg_exec() for a statement whose result is not read; 0 or the
 * error's code. */
int jx__pg_command(PGconn *c, const char *what, const char *sql, int n,
                   const char *const *params, jx_error *err);

/* The rows a command changed (PQcmdTuples). */
long jx__pg_changed(PGresult *res);

/* Fails with "governance store: WHAT: the connection's last error". */
int jx__pg_fail(PGconn *c, const char *what, jx_error *err);

#endif
