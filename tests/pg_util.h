/*
 * pg_util.h - a real PostgreSQL server for the worker suites
 * (scripts/pg-server.sh starts it: initdb in a temporary folder, a free
 * port, its own Unix socket), a fresh database per test, worker
 * processes started and signalled for real, and waiting for the store to
 * reach a state.
 */
#ifndef JX_TEST_PG_UTIL_H
#define JX_TEST_PG_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* cmocka group set-up and tear-down: the server for the whole suite. */
int pgu_server_start(void **state);
int pgu_server_stop(void **state);

/* What one test works in: its own database, migrated, and a folder. */
typedef struct pgu_test {
    char conninfo[512]; /* the test's database */
    PGconn *conn;       /* a connection to it */
    char *dir;          /* a temp folder, removed afterwards */
    char *config;       /* dir/config.yaml: the counting plugin */
    char *ledger;       /* dir/ledger: "JOB STEP" per handler call */
    pid_t workers[512]; /* started, killed at tear-down if still there */
    size_t n_workers;
} pgu_test;

int pgu_setup(void **state);
int pgu_teardown(void **state);

/* `jobexec worker --migrate` on the test's database. */
void pgu_migrate(pgu_test *t);

/* The first column of the first row of sql's answer, the caller's to
 * free(); fails the test when sql fails. */
char *pgu_value(pgu_test *t, const char *sql);
/* The same as a number. */
long pgu_number(pgu_test *t, const char *sql);
/* Runs sql; returns NULL when it ran, else the server's primary message
 * (the caller's to free()). */
char *pgu_try(pgu_test *t, const char *sql);

/* A job of n_steps count steps, each sleeping sleep_ms, step fail_at
 * (-1: none) failing; its job_id goes to job_id (37 bytes).  Inserted
 * with `jobexec submit`. */
void pgu_submit(pgu_test *t, size_t n_steps, long sleep_ms, long fail_at,
                char *job_id);

/* A job from a plan's YAML, inserted with `jobexec submit`. */
void pgu_submit_text(pgu_test *t, const char *yaml, char *job_id);

/* Starts `jobexec worker --db ... --config ... --name NAME ARGS...`
 * (ending with PGU_END), its standard error to dir/NAME.log. */
#define PGU_END ((const char *)NULL)
pid_t pgu_worker(pgu_test *t, const char *name, ...);
/* Waits for pid to exit within seconds; its exit status, or -1. */
int pgu_wait_exit(pid_t pid, double seconds);

/* Polls sql until it answers expected, for at most seconds; fails the
 * test with the last answer when it never does. */
void pgu_wait_for(pgu_test *t, const char *sql, const char *expected,
                  double seconds);
/* Polls until the ledger has at least n lines. */
void pgu_wait_ledger(pgu_test *t, size_t n, double seconds);

/* How many times the ledger records job's step. */
size_t pgu_calls(pgu_test *t, const char *job_id, long step);

#endif
