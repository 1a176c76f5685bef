/*
 * test_registry_db.c - the registry's database: a migration from the
 * previous schema version, a newer schema refused, db paths refused with
 * their reasons, the observer's connection unable to write, and two
 * processes changing one database at once (started together, each
 * waiting for the other) without a lost update or a "database is locked"
 * failure.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "plugin_util.h"
#include "../plugins/registry/registry.h"

extern char **environ;

/* The schema as version 1 of the plugin wrote it. */
static const char schema_v1[] =
    "CREATE TABLE capabilities (name TEXT PRIMARY KEY, state TEXT NOT NULL "
    "CHECK (state IN ('enabled', 'disabled')), updated_at TEXT NOT NULL);"
    "CREATE TABLE configuration (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "updated_at TEXT NOT NULL);"
    "CREATE TABLE history (id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, "
    "contract_id TEXT NOT NULL, step_index INTEGER NOT NULL, step_type TEXT "
    "NOT NULL, target TEXT NOT NULL, previous_value TEXT, new_value TEXT, "
    "executed_by TEXT NOT NULL, changed_at TEXT NOT NULL);"
    "INSERT INTO capabilities VALUES ('OLD', 'enabled', "
    "'2026-01-01T00:00:00.000000+00:00');"
    "PRAGMA user_version = 1;";

/* Runs sql on the test's reg.db (created when absent). */
static void exec_sql(pfix *f, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;

    if (sqlite3_open(pf_path(f, "reg.db"), &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errmsg(db));
    sqlite3_close(db);
}

static long long query_int(pfix *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;

    if (sqlite3_open_v2(pf_path(f, "reg.db"), &db, SQLITE_OPEN_READONLY,
                        NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int open_registry(pfix *f, const char *db)
{
    return pf_executor_rc(f, "plugins:\n  - path: registry\n    config: "
                             "{db: %s}\n",
                          db);
}

static void test_migrates_from_v1(void **state)
{
    pfix *f = *state;

    exec_sql(f, schema_v1);
    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), 0);
    assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
    /* The old row is kept, with the columns version 2 added. */
    assert_int_equal(query_int(f, "SELECT count(*) FROM capabilities WHERE "
                                  "name = 'OLD' AND state = 'enabled' AND "
                                  "description = '' AND created_at = ''"),
                     1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM sqlite_master WHERE "
                                  "name IN ('history_by_target', "
                                  "'history_by_job')"),
                     2);
    pf_run(f, "  - {step_index: 0, step_type: capability_disable, target: "
              "OLD}\n"
              "  - {step_index: 1, step_type: capability_add, target: NEW, "
              "parameters: {description: fresh}}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(query_int(f, "SELECT count(*) FROM capabilities WHERE "
                                  "name = 'NEW' AND description = 'fresh'"),
                     1);
    /* Opening it again changes nothing. */
    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), 0);
    assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
}

static void test_new_database_is_current(void **state)
{
    pfix *f = *state;
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), 0);
    assert_int_equal(query_int(f, "PRAGMA user_version"), REG_SCHEMA_VERSION);
    assert_int_equal(sqlite3_open(pf_path(f, "reg.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
    pfix *f = *state;
    char want[1024];

    exec_sql(f, "PRAGMA user_version = 9");
    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), JX_EINIT);
    snprintf(want, sizeof want,
             "jobexec.yaml:2:11: plugin '" TU_PLUGINS "/registry.so': init "
             "failed: registry database '%s': schema version 9 is newer "
             "than this plugin's (2)",
             pf_path(f, "reg.db"));
    assert_string_equal(f->err.message, want);
}

static void test_db_paths_refused(void **state)
{
    pfix *f = *state;

    assert_int_equal(open_registry(f, "reg.db"), JX_EINIT);
    assert_string_equal(f->err.message,
                        "jobexec.yaml:2:11: plugin '" TU_PLUGINS "/registry"
                        ".so': init failed: db 'reg.db' must be an absolute "
                        "path");
    assert_int_equal(open_registry(f, "/nonexistent/state/reg.db"), JX_EINIT);
    assert_string_equal(f->err.message,
                        "jobexec.yaml:2:11: plugin '" TU_PLUGINS "/registry"
                        ".so': init failed: registry database "
                        "'/nonexistent/state/reg.db': the folder "
                        "'/nonexistent/state' does not exist (create it: "
                        "mkdir -p /nonexistent/state)");
    assert_int_equal(pf_executor_rc(f, "plugins:\n  - path: registry\n"),
                     JX_EINIT);
    assert_string_equal(f->err.message,
                        "jobexec.yaml:2:11: plugin '" TU_PLUGINS "/registry"
                        ".so': init failed: config key 'db' is required: "
                        "the path of the registry database");
}

/* The connection the observer reads through cannot change the database,
 * whatever statement it is given: the refusal comes from SQLite. */
static void test_observer_connection_cannot_write(void **state)
{
    pfix *f = *state;
    reg_db ro;
    char why[512];

    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), 0);
    assert_int_equal(reg_open_readonly(pf_path(f, "reg.db"), 1000, &ro, why,
                                       sizeof why),
                     0);
    assert_int_equal(sqlite3_exec(ro.db, "INSERT INTO capabilities (name, "
                                         "state, updated_at) VALUES ('X', "
                                         "'enabled', 'now')",
                                  NULL, NULL, NULL),
                     SQLITE_READONLY);
    assert_int_equal(sqlite3_exec(ro.db, "DELETE FROM history", NULL, NULL,
                                  NULL),
                     SQLITE_READONLY);
    /* Lifting query_only would not help: the file is open read-only. */
    sqlite3_exec(ro.db, "PRAGMA query_only = OFF", NULL, NULL, NULL);
    assert_int_equal(sqlite3_exec(ro.db, "UPDATE configuration SET value = "
                                         "'1'",
                                  NULL, NULL, NULL) & 0xff,
                     SQLITE_READONLY);
    reg_close(&ro);
    assert_int_equal(query_int(f, "SELECT count(*) FROM capabilities"), 0);
}

/* ---- two writers ----------------------------------------------------------- */

#define CHANGES 1000

/* A plan that waits until the other writer is up too (both are then
 * loaded and past start-up), then makes CHANGES steps alternating enable
 * and disable of cap. */
static const char *toggle_plan(pfix *f, const char *name, const char *cap,
                               const char *other)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    const char *path;

    fprintf(fp, "contract_id: " TU_CONTRACT "\nsteps:\n"
                "  - {step_index: 0, step_type: command, timeout_seconds: "
                "30, parameters: {argv: [sh, -c, 'touch %s/%s.up; while [ ! "
                "-e %s/%s.up ]; do sleep 0.01; done']}}\n",
            f->dir, cap, f->dir, other);
    for (int i = 1; i <= CHANGES; i++)
        fprintf(fp, "  - {step_index: %d, step_type: capability_%s, "
                    "target: %s}\n",
                i, i % 2 == 1 ? "enable" : "disable", cap);
    fclose(fp);
    path = tu_write(f->dir, name, text);
    free(text);
    return path;
}

static pid_t start(const char *config, const char *plan, const char *err)
{
    const char *const argv[] = {TU_JOBEXEC, "run", "--quiet", "-c", config,
                                plan, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT, 0644);
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                    environ) != 0)
        fail_msg("cannot start jobexec");
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void test_two_processes_share_the_database(void **state)
{
    pfix *f = *state;
    char *config, *plan_a, *plan_b, *err_a, *err_b, *text;
    int status_a, status_b;
    pid_t a, b;

    config = strdup(pf_path(f, "jobexec.yaml"));
    if (asprintf(&text, "plugins:\n  - path: registry\n    config: {db: "
                        "%s}\n  - path: exec\n",
                 pf_path(f, "reg.db")) < 0)
        fail_msg("out of memory");
    free(tu_write(f->dir, "jobexec.yaml", text));
    free(text);
    /* Both capabilities exist before the writers start. */
    assert_int_equal(open_registry(f, pf_path(f, "reg.db")), 0);
    pf_run(f, "  - {step_index: 0, step_type: capability_add, target: A}\n"
              "  - {step_index: 1, step_type: capability_add, target: B}\n");
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);

    plan_a = (char *)toggle_plan(f, "a.yaml", "A", "B");
    plan_b = (char *)toggle_plan(f, "b.yaml", "B", "A");
    err_a = strdup(pf_path(f, "a.err"));
    err_b = strdup(pf_path(f, "b.err"));
    a = start(config, plan_a, err_a);
    b = start(config, plan_b, err_b);
    waitpid(a, &status_a, 0);
    waitpid(b, &status_b, 0);
    text = tu_read(err_a);
    assert_string_equal(text, "");
    free(text);
    text = tu_read(err_b);
    assert_string_equal(text, "");
    free(text);
    assert_true(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0);
    assert_true(WIFEXITED(status_b) && WEXITSTATUS(status_b) == 0);
    /* Every change is there: 2 adds and CHANGES per writer. */
    assert_int_equal(query_int(f, "SELECT count(*) FROM history"),
                     2 + 2 * CHANGES);
    assert_int_equal(query_int(f, "SELECT count(*) FROM history WHERE "
                                  "target = 'A'"),
                     1 + CHANGES);
    /* No lost update: per capability, every change starts from the state
     * the one before it left. */
    assert_int_equal(query_int(f, "SELECT count(*) FROM history h WHERE "
                                  "previous_value IS NOT (SELECT new_value "
                                  "FROM history p WHERE p.target = h.target "
                                  "AND p.id < h.id ORDER BY p.id DESC "
                                  "LIMIT 1)"),
                     0);
    /* How the writers' transactions interleaved is the scheduler's
     * (SQLite's locks are not fair): it is not asserted. */
    assert_int_equal(query_int(f, "SELECT count(*) FROM capabilities WHERE "
                                  "state = 'disabled'"),
                     2);
    free(config);
    free(plan_a);
    free(plan_b);
    free(err_a);
    free(err_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PTEST(test_migrates_from_v1),
        PTEST(test_new_database_is_current),
        PTEST(test_newer_schema_refused),
        PTEST(test_db_paths_refused),
        PTEST(test_observer_connection_cannot_write),
        PTEST(test_two_processes_share_the_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
