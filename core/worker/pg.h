/*
 * pg.h - the worker's use of libpq: connecting, running a statement and
 * turning the server's refusal into a one-line jx_error.
 */
#ifndef JX__WORKER_PG_H
#define JX__WORKER_PG_H

#include <libpq-fe.h>

#include <jobexec/queue.h>

#include "base/common.h"

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
} jx__pg_call;

/*
 * Runs the n calls in one round trip (libpq's pipeline mode), in order,
 * each in its own transaction as jx__pg_prepared() would: one's failure
 * neither undoes nor skips another.  Each call's res is then the
 * caller's to PQclear(), or NULL with err saying why.
 */
void jx__pg_prepared_batch(jx_queue *q, jx__pg_call *calls, size_t n);

/* jx__pg_exec() for a statement whose result is not read; 0 or the
 * error's code. */
int jx__pg_command(PGconn *c, const char *what, const char *sql, int n,
                   const char *const *params, jx_error *err);

/* The rows a command changed (PQcmdTuples). */
long jx__pg_changed(PGresult *res);

/* Fails with "governance store: WHAT: the connection's last error". */
int jx__pg_fail(PGconn *c, const char *what, jx_error *err);

#endif
