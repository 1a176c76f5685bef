/*
 * store.c - a connection to the governance store, and its schema: the
 * numbered migrations applied in order, once, whoever else migrates at
 * the same time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "worker/migrations.h"
#include "worker/pg.h"

/* pg_advisory_xact_lock's key for migrating: any constant no other
 * application of the same database is likely to use ("jxmg"). */
#define MIGRATION_LOCK "1786276199"

int jx_queue_open(const char *conninfo, jx_queue **out, jx_error *err)
{
    jx_queue *q;
    int rc;

    *out = NULL;
    if ((q = calloc(1, sizeof *q)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if ((rc = jx__pg_connect(conninfo, &q->conn, err)) != 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void jx_queue_close(jx_queue *q)
{
    if (q == NULL)
        return;
    PQfinish(q->conn);
    free(q);
}

unsigned jx_queue_schema_latest(void)
{
    return jx__migrations[jx__n_migrations - 1].version;
}

int jx_queue_schema_version(jx_queue *q, unsigned *version, jx_error *err)
{
    PGresult *res;

    *version = 0;
    res = jx__pg_exec(q->conn, "reading the schema version",
                      "SELECT to_regclass('jobexec_schema_migrations') "
                      "IS NOT NULL",
                      0, NULL, err);
    if (res == NULL)
        return JX_EIO;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        PQclear(res);
        return 0; /* never migrated */
    }
    PQclear(res);
    res = jx__pg_exec(q->conn, "reading the schema version",
                      "SELECT coalesce(max(version), 0) "
                      "FROM jobexec_schema_migrations",
                      0, NULL, err);
    if (res == NULL)
        return JX_EIO;
    *version = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Applies m unless the ledger has it: 1 applied, 0 already there, or a
 * negative code.  The caller's transaction holds the migration lock. */
static int apply_one(jx_queue *q, const jx__migration *m, jx_error *err)
{
    char version[16], what[96];
    const char *params[2] = {version, m->name};
    PGresult *res;
    int present;

    snprintf(version, sizeof version, "%u", m->version);
    snprintf(what, sizeof what, "migration %s", m->name);
    res = jx__pg_exec(q->conn, what,
                      "SELECT 1 FROM jobexec_schema_migrations "
                      "WHERE version = $1::int",
                      1, params, err);
    if (res == NULL)
        return JX_EIO;
    present = PQntuples(res) > 0;
    PQclear(res);
    if (present)
        return 0;
    if (jx__pg_command(q->conn, what, m->sql, 0, NULL, err) != 0 ||
        jx__pg_command(q->conn, what,
                       "INSERT INTO jobexec_schema_migrations "
                       "(version, name) VALUES ($1::int, $2)",
                       2, params, err) != 0)
        return JX_EIO;
    return 1;
}

int jx_queue_migrate(jx_queue *q, unsigned *applied, jx_error *err)
{
    unsigned n = 0;

    if (applied != NULL)
        *applied = 0;
    for (size_t i = 0; i < jx__n_migrations; i++) {
        int rc = jx__pg_command(
            q->conn, "migrating",
            "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK "); "
            "CREATE TABLE IF NOT EXISTS jobexec_schema_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())",
            0, NULL, err);
        if (rc == 0)
            rc = apply_one(q, &jx__migrations[i], err);
        if (rc < 0 ||
            jx__pg_command(q->conn, "migrating", "COMMIT", 0, NULL, err) != 0) {
            PQclear(PQexec(q->conn, "ROLLBACK"));
            return rc < 0 ? rc : JX_EIO;
        }
        n += (unsigned)rc;
    }
    if (applied != NULL)
        *applied = n;
    return 0;
}
