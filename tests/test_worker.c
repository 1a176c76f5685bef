/*
 * test_worker.c - `jobexec worker`, `submit` and `jobs` against a real
 * PostgreSQL server: the schema and its guard, a job claimed, run and
 * completed or failed, a running job's results, what submit and jobs
 * refuse, and SIGTERM.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <jobexec/queue.h>

#include "pg_util.h"
#include "testutil.h"

#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"

/* tmpl with its one '%s' replaced by id (not a printf format: ids come
 * from the store). */
static char *sqlf(const char *tmpl, const char *id)
{
    const char *at = strstr(tmpl, "%s");
    char *sql;

    assert_non_null(at);
    assert_true(asprintf(&sql, "%.*s%s%s", (int)(at - tmpl), tmpl, id,
                         at + 2) > 0);
    return sql;
}

static long job_number(pgu_test *t, const char *fmt, const char *id)
{
    char *sql = sqlf(fmt, id);
    long n = pgu_number(t, sql);
    free(sql);
    return n;
}

static char *job_value(pgu_test *t, const char *fmt, const char *id)
{
    char *sql = sqlf(fmt, id);
    char *v = pgu_value(t, sql);
    free(sql);
    return v;
}

static void assert_job_text(pgu_test *t, const char *fmt, const char *id,
                            const char *expected)
{
    char *v = job_value(t, fmt, id);
    assert_string_equal(v, expected);
    free(v);
}

/* The statement tmpl (its '%s' the job id) is refused with exactly
 * expected (its '%s', when it has one, the job id). */
static void assert_refused(pgu_test *t, const char *tmpl, const char *id,
                           const char *expected)
{
    char *sql = sqlf(tmpl, id), *why = pgu_try(t, sql);
    char *want = strstr(expected, "%s") != NULL ? sqlf(expected, id)
                                                : strdup(expected);

    free(sql);
    assert_non_null(why);
    assert_string_equal(why, want);
    free(why);
    free(want);
}

static void run_cli(tu_proc *p, pgu_test *t, const char *a, const char *b,
                    const char *c, const char *d)
{
    tu_run(p, NULL,
           (const char *const[]){TU_JOBEXEC, a, "--db", t->conninfo, b, c, d,
                                 NULL});
}

/* A fresh database has no schema; --migrate applies it, once. */
static void test_migrate(void **state)
{
    pgu_test *t = *state;
    tu_proc p;

    run_cli(&p, t, "worker", "--migrate", NULL, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "governance store at schema version 2 "
                               "(2 migrations applied)\n");
    tu_proc_free(&p);
    run_cli(&p, t, "worker", "--migrate", NULL, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "governance store at schema version 2 "
                               "(0 migrations applied)\n");
    tu_proc_free(&p);
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM pg_indexes WHERE "
                                   "tablename = 'governance_jobs' AND "
                                   "indexdef LIKE '%WHERE%'"),
                     2);
}

/* A worker refuses to start on a database that was never migrated. */
static void test_unmigrated(void **state)
{
    pgu_test *t = *state;
    tu_proc p;

    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "worker", "--db", t->conninfo,
                                 "--config", t->config, "--once", NULL});
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "jobexec: governance store: the schema is "
                                  "at version 0, this jobexec needs 2: run "
                                  "jobexec worker --migrate\n"));
    tu_proc_free(&p);
}

static void run_once(pgu_test *t)
{
    pid_t w = pgu_worker(t, "w1", "--once", PGU_END);
    assert_int_equal(pgu_wait_exit(w, 30), 0);
}

/* Claim, run, complete: every step's result, the evidence document and
 * the lease columns; each step's handler called once. */
static void test_complete(void **state)
{
    pgu_test *t = *state;
    char id[37];
    json_t *doc;
    char *text;

    pgu_migrate(t);
    pgu_submit(t, 3, 0, -1, id);
    assert_job_text(t, "SELECT status || ' ' || attempt FROM governance_jobs "
                       "WHERE job_id = '%s'",
                    id, "PENDING 0");
    run_once(t);
    assert_job_text(t, "SELECT concat_ws(' ', status, status_reason, attempt, "
                       "current_step_index, total_steps, lease_owner, "
                       "lease_expires_at IS NULL) FROM governance_jobs "
                       "WHERE job_id = '%s'",
                    id, "COMPLETED All steps completed successfully 1 3 3 "
                        "w1 t");
    assert_int_equal(job_number(t, "SELECT jsonb_array_length(step_results) "
                                   "FROM governance_jobs WHERE job_id = '%s'",
                                id),
                     3);
    assert_job_text(t, "SELECT string_agg(r->>'status', ',' ORDER BY "
                       "(r->>'step_index')::int) FROM governance_jobs, "
                       "jsonb_array_elements(step_results) r WHERE job_id = "
                       "'%s'",
                    id, "COMPLETED,COMPLETED,COMPLETED");
    /* The health columns are the document's observations (JSON null here:
     * the config has no health probe). */
    assert_job_text(t, "SELECT concat_ws(' ', jsonb_typeof("
                       "health_snapshot_before), jsonb_typeof("
                       "health_snapshot_after), health_snapshot_before = "
                       "execution_evidence #> '{health_observations,before}') "
                       "FROM governance_jobs WHERE job_id = '%s'",
                    id, "null null t");
    text = job_value(t, "SELECT execution_evidence::text FROM "
                        "governance_jobs WHERE job_id = '%s'",
                     id);
    doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "job_id")), id);
    assert_string_equal(
        json_string_value(json_object_get(doc, "final_status")), "COMPLETED");
    assert_string_equal(
        json_string_value(json_object_get(doc, "executed_by")), "w1");
    assert_int_equal(json_array_size(json_object_get(doc, "step_results")), 3);
    json_decref(doc);
    for (long s = 0; s < 3; s++)
        assert_int_equal(pgu_calls(t, id, s), 1);
    assert_int_equal(tu_count_lines(t->ledger), 3);
}

/* A failing step ends the job FAILED; the steps after it never run. */
static void test_failure(void **state)
{
    pgu_test *t = *state;
    char id[37];

    pgu_migrate(t);
    pgu_submit(t, 3, 0, 1, id);
    run_once(t);
    assert_job_text(t, "SELECT concat_ws(' | ', status, status_reason, "
                       "current_step_index, jsonb_array_length(step_results), "
                       "step_results->1->>'error', execution_evidence->>"
                       "'final_status') FROM governance_jobs "
                       "WHERE job_id = '%s'",
                    id, "FAILED | Step 1 failed: asked to fail | 2 | 2 | "
                        "asked to fail | FAILED");
    assert_int_equal(pgu_calls(t, id, 0), 1);
    assert_int_equal(pgu_calls(t, id, 1), 1);
    assert_int_equal(pgu_calls(t, id, 2), 0);
}

/* --once with nothing waiting exits at once; two jobs take two runs, in
 * the order they came. */
static void test_once_order(void **state)
{
    pgu_test *t = *state;
    char first[37], second[37];

    pgu_migrate(t);
    run_once(t);
    pgu_submit(t, 1, 0, -1, first);
    pgu_submit(t, 1, 0, -1, second);
    run_once(t);
    assert_job_text(t, "SELECT status FROM governance_jobs WHERE job_id = "
                       "'%s'",
                    first, "COMPLETED");
    assert_job_text(t, "SELECT status FROM governance_jobs WHERE job_id = "
                       "'%s'",
                    second, "PENDING");
    run_once(t);
    assert_job_text(t, "SELECT status FROM governance_jobs WHERE job_id = "
                       "'%s'",
                    second, "COMPLETED");
}

/* The trigger: a finished row cannot change or go, a running one cannot
 * go back to PENDING or be deleted, attempt never passes 1, the plan
 * never changes. */
static void test_immutable(void **state)
{
    pgu_test *t = *state;
    char id[37], pending[37], *sql;

    pgu_migrate(t);
    pgu_submit(t, 1, 0, -1, id);
    run_once(t);
    assert_refused(t, "UPDATE governance_jobs SET status_reason = 'edited' "
                      "WHERE job_id = '%s'",
                   id, "governance job %s is COMPLETED: a finished job "
                       "cannot be changed");
    assert_refused(t, "DELETE FROM governance_jobs WHERE job_id = '%s'", id,
                   "governance job %s is COMPLETED: a finished job cannot "
                   "be deleted");

    pgu_submit(t, 1, 0, -1, pending);
    assert_refused(t, "UPDATE governance_jobs SET steps = '[]' WHERE job_id "
                      "= '%s'",
                   pending, "governance job %s: its id, contract, plan and "
                            "creation time cannot change");
    sql = sqlf("UPDATE governance_jobs SET status = 'RUNNING', attempt = 1 "
               "WHERE job_id = '%s'", pending);
    assert_null(pgu_try(t, sql));
    free(sql);
    assert_refused(t, "UPDATE governance_jobs SET status = 'PENDING' WHERE "
                      "job_id = '%s'",
                   pending, "governance job %s is RUNNING: it cannot go back "
                            "to PENDING (a job runs at most once; create a "
                            "new job to try again)");
    assert_refused(t, "UPDATE governance_jobs SET attempt = 2 WHERE job_id = "
                      "'%s'",
                   pending, "new row for relation \"governance_jobs\" "
                            "violates check constraint "
                            "\"governance_jobs_attempt_check\"");
    assert_refused(t, "DELETE FROM governance_jobs WHERE job_id = '%s'",
                   pending, "governance job %s is RUNNING: a running job "
                            "cannot be deleted");
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM governance_jobs"), 2);
}

/* What submit and jobs refuse, each in one line. */
static void test_refusals(void **state)
{
    pgu_test *t = *state;
    char *plan, *dup;
    tu_proc p;

    pgu_migrate(t);
    plan = tu_write(t->dir, "bad.yaml", "steps: []\n");
    run_cli(&p, t, "submit", plan, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "contract_id"));
    assert_string_equal(p.out, "");
    tu_proc_free(&p);
    free(plan);

    dup = tu_write(t->dir, "dup.yaml",
                   "job_id: 11111111-2222-4333-8444-555555555555\n"
                   "contract_id: " CONTRACT "\nsteps: []\n");
    run_cli(&p, t, "submit", dup, NULL, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "11111111-2222-4333-8444-555555555555\n");
    tu_proc_free(&p);
    run_cli(&p, t, "submit", dup, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "dup.yaml: job 11111111-2222-4333-8444-"
                                  "555555555555 is already in the governance "
                                  "store (a job runs once: give the new one "
                                  "another job_id)\n"));
    tu_proc_free(&p);
    free(dup);

    run_cli(&p, t, "jobs", "list", "--status", "DONE");
    assert_int_equal(p.status, 2);
    assert_string_equal(p.err, "jobexec: unknown status 'DONE' (one of "
                               "PENDING, RUNNING, COMPLETED, FAILED, "
                               "CANCELLED)\n");
    tu_proc_free(&p);
    run_cli(&p, t, "jobs", "show", "1111111", NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.err, "jobexec: '1111111' is not a job id or a "
                               "prefix of one (at least 8 hex digits)\n");
    tu_proc_free(&p);
    run_cli(&p, t, "jobs", "show", "22222222", NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.err, "jobexec: no job 22222222 in the governance "
                               "store\n");
    tu_proc_free(&p);
    run_cli(&p, t, "worker", "--lease", "1", NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "jobexec: --lease must be a whole number "
                                  "from 2 to 3600, found '1'\n"));
    tu_proc_free(&p);
}

/* A prefix of 8 hex digits finds its job; two jobs sharing it are named. */
static void test_prefix(void **state)
{
    pgu_test *t = *state;
    char *a, *b;
    tu_proc p;

    pgu_migrate(t);
    a = tu_write(t->dir, "a.yaml", "job_id: abcdef12-0000-4000-8000-"
                                   "000000000001\ncontract_id: " CONTRACT
                                   "\nsteps: []\n");
    b = tu_write(t->dir, "b.yaml", "job_id: abcdef12-0000-4000-8000-"
                                   "000000000002\ncontract_id: " CONTRACT
                                   "\nsteps: []\n");
    run_cli(&p, t, "submit", a, NULL, NULL);
    tu_proc_free(&p);
    run_cli(&p, t, "jobs", "show", "ABCDEF12", "--json");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "\"job_id\":\"abcdef12-0000-4000-8000-"
                                  "000000000001\""));
    tu_proc_free(&p);
    run_cli(&p, t, "submit", b, NULL, NULL);
    tu_proc_free(&p);
    run_cli(&p, t, "jobs", "show", "abcdef12", NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.err, "jobexec: job id prefix 'abcdef12' is "
                               "ambiguous: abcdef12-0000-4000-8000-"
                               "000000000001, abcdef12-0000-4000-8000-"
                               "000000000002\n");
    tu_proc_free(&p);
    run_cli(&p, t, "jobs", "list", "--limit", "1");
    assert_int_equal(p.status, 0);
    assert_int_equal(strncmp(p.out, "JOB_ID  ", 8), 0);
    assert_non_null(strstr(p.out, "\nabcdef12-0000-4000-8000-000000000002  "
                                  "PENDING      0/0  "));
    tu_proc_free(&p);
    free(a);
    free(b);
}

/* While a job runs, each finished step's result is a row of
 * governance_job_steps, which `jobs show` reads with the job; its end moves
 * them into step_results, in order. */
static void test_results_while_running(void **state)
{
    pgu_test *t = *state;
    char id[37];
    tu_proc p;
    json_t *job, *results;
    pid_t w;

    pgu_migrate(t);
    pgu_submit(t, 3, 1500, -1, id);
    w = pgu_worker(t, "w1", "--once", PGU_END);
    pgu_wait_ledger(t, 2, 30); /* step 1 has started: step 0 is written */
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM "
                                   "governance_job_steps"),
                     1);
    assert_job_text(t, "SELECT concat_ws(' ', status, current_step_index, "
                       "jsonb_array_length(step_results)) FROM "
                       "governance_jobs WHERE job_id = '%s'",
                    id, "RUNNING 1 0");
    run_cli(&p, t, "jobs", "show", id, "--json");
    assert_int_equal(p.status, 0);
    job = json_loads(p.out, 0, NULL);
    assert_non_null(job);
    results = json_object_get(job, "step_results");
    assert_int_equal(json_array_size(results), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(results, 0), "status")),
                        "COMPLETED");
    json_decref(job);
    tu_proc_free(&p);
    assert_int_equal(pgu_wait_exit(w, 30), 0);
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM "
                                   "governance_job_steps"),
                     0);
    assert_job_text(t, "SELECT string_agg(r->>'step_index', ',' ORDER BY o) "
                       "FROM governance_jobs, jsonb_array_elements("
                       "step_results) WITH ORDINALITY AS e(r, o) WHERE "
                       "job_id = '%s'",
                    id, "0,1,2");
    assert_refused(t, "INSERT INTO governance_job_steps VALUES ('%s', 3, "
                      "'{}')",
                   id, "governance job %s: step results are written only "
                       "while it runs");
}

/* SIGTERM: the running step finishes, no other starts, the job ends
 * CANCELLED with that step's result, and the worker exits 0. */
static void test_sigterm(void **state)
{
    pgu_test *t = *state;
    char id[37];
    pid_t w;

    pgu_migrate(t);
    pgu_submit(t, 3, 1500, -1, id);
    w = pgu_worker(t, "w1", PGU_END);
    pgu_wait_ledger(t, 1, 30); /* step 0 has started */
    kill(w, SIGTERM);
    assert_int_equal(pgu_wait_exit(w, 30), 0);
    assert_job_text(t, "SELECT concat_ws(' | ', status, status_reason, "
                       "jsonb_array_length(step_results), step_results->0->>"
                       "'status', execution_evidence->>'final_status') FROM "
                       "governance_jobs WHERE job_id = '%s'",
                    id, "CANCELLED | Cancelled before step 1 | 1 | COMPLETED "
                        "| CANCELLED");
    assert_int_equal(tu_count_lines(t->ledger), 1);
}

/* The store named by the config's queue.db; a queue section with another
 * key is refused at its position. */
static void test_config_db(void **state)
{
    pgu_test *t = *state;
    char text[1024], *cfg;
    tu_proc p;

    pgu_migrate(t);
    snprintf(text, sizeof text, "queue:\n  db: \"%s\"\n", t->conninfo);
    cfg = tu_write(t->dir, "queue.yaml", text);
    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "jobs", "list", "--config", cfg,
                                 "--json", NULL});
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "[]\n");
    tu_proc_free(&p);
    free(cfg);
    cfg = tu_write(t->dir, "bad.yaml", "queue:\n  url: x\n");
    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "jobs", "list", "--config", cfg,
                                 NULL});
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "bad.yaml:2:3: unknown key 'url' in "
                                  "queue"));
    tu_proc_free(&p);
    free(cfg);
}

static void collect_line(const char *line, void *user)
{
    char **lines = user;
    size_t len = *lines != NULL ? strlen(*lines) : 0;
    char *grown = realloc(*lines, len + strlen(line) + 2);

    assert_non_null(grown);
    snprintf(grown + len, strlen(line) + 2, "%s\n", line);
    *lines = grown;
}

/* The library alone, as a worker embeds it: submit, one job through
 * jx_worker_run() with once, the log lines through the callback. */
static void test_embedded(void **state)
{
    pgu_test *t = *state;
    jx_worker_options o = JX_WORKER_OPTIONS_INIT;
    static const char plan[] =
        "contract_id: " CONTRACT "\n"
        "steps:\n  - {step_index: 0, step_type: count}\n"
        "  - {step_index: 1, step_type: count}\n";
    jx_error err = {0, ""};
    jx_config *cfg = NULL;
    jx_executor *ex = NULL;
    jx_worker *w = NULL;
    jx_queue *q = NULL;
    char id[37], *lines = NULL, claimed[128];
    unsigned applied;

    assert_int_equal(jx_queue_open(t->conninfo, &q, &err), 0);
    assert_int_equal(jx_queue_migrate(q, &applied, &err), 0);
    assert_int_equal(applied, 2);
    assert_int_equal(jx_queue_submit(q, plan, sizeof plan - 1, "inline",
                                     "tests", id, &err),
                     0);
    jx_queue_close(q);
    assert_int_equal(jx_config_load(t->config, NULL, &cfg, &err), 0);
    assert_int_equal(jx_executor_new(cfg, &ex, &err), 0);
    jx_config_free(cfg);
    o.conninfo = t->conninfo;
    o.name = "embedded";
    o.once = 1;
    o.on_log = collect_line;
    o.user = &lines;
    assert_int_equal(jx_worker_new(ex, &o, &w, &err), 0);
    assert_int_equal(jx_worker_run(w, &err), 0);
    jx_worker_free(w);
    jx_executor_free(ex);
    assert_job_text(t, "SELECT concat_ws(' ', status, created_by, "
                       "lease_owner, jsonb_array_length(step_results)) FROM "
                       "governance_jobs WHERE job_id = '%s'",
                    id, "COMPLETED tests embedded 2");
    snprintf(claimed, sizeof claimed, "worker=embedded event=claimed job=%s "
                                      "steps=2\n", id);
    assert_non_null(lines);
    assert_non_null(strstr(lines, claimed));
    assert_non_null(strstr(lines, "event=finished job="));
    assert_non_null(strstr(lines, " status=COMPLETED reason=\"All steps "
                                  "completed successfully\"\n"));
    free(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate, pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_unmigrated, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_complete, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_failure, pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_once_order, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_immutable, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_prefix, pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_results_while_running,
                                        pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm, pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_config_db, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_embedded, pgu_setup,
                                        pgu_teardown),
    };
    return cmocka_run_group_tests(tests, pgu_server_start, pgu_server_stop);
}
