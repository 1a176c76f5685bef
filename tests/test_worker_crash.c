/*
 * test_worker_crash.c - workers that die, stall and are killed for real,
 * against a real PostgreSQL server: a job whose worker lost its lease ends
 * FAILED "interrupted: ...", its finished steps' results intact, and no
 * step ever runs twice.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg_util.h"
#include "testutil.h"

/* Status, reason, how many results and the first one's status: a running
 * job's results are rows of governance_job_steps until it ends. */
static char *row(pgu_test *t, const char *id)
{
    char *sql, *v;

    assert_true(asprintf(&sql, "SELECT concat_ws(' | ', status, "
                               "status_reason, jsonb_array_length(r), "
                               "r->0->>'status') FROM (SELECT status, "
                               "status_reason, step_results || coalesce(("
                               "SELECT jsonb_agg(result ORDER BY "
                               "step_index) FROM governance_job_steps s "
                               "WHERE s.job_id = g.job_id), '[]') AS r "
                               "FROM governance_jobs g WHERE job_id = "
                               "'%s') x",
                         id) > 0);
    v = pgu_value(t, sql);
    free(sql);
    return v;
}

static void assert_row(pgu_test *t, const char *id, const char *expected)
{
    char *v = row(t, id);
    assert_string_equal(v, expected);
    free(v);
}

/* kill -9 mid-step: another worker's rescuer ends the job FAILED within
 * the lease and its own period; step 0's result stays, step 1 ran once,
 * step 2 never. */
static void test_kill_mid_step(void **state)
{
    pgu_test *t = *state;
    char id[37];
    pid_t a;

    pgu_migrate(t);
    pgu_submit_text(t,
                    "contract_id: 0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d\n"
                    "steps:\n"
                    "  - {step_index: 0, step_type: count}\n"
                    "  - {step_index: 1, step_type: count, parameters: "
                    "{sleep_ms: 60000}}\n"
                    "  - {step_index: 2, step_type: count}\n",
                    id);
    a = pgu_worker(t, "doomed", "--lease", "2", PGU_END);
    pgu_wait_ledger(t, 2, 30); /* step 1 has started */
    kill(a, SIGKILL);
    assert_int_equal(pgu_wait_exit(a, 10), 128 + SIGKILL);
    assert_row(t, id, "RUNNING | 1 | COMPLETED");
    /* The rescuer of a live worker: lease (2 s) + its period (1 s). */
    pgu_worker(t, "rescuer", "--lease", "2", "--rescue", "1", PGU_END);
    pgu_wait_for(t, "SELECT status FROM governance_jobs", "FAILED", 3 + 5);
    assert_row(t, id, "FAILED | interrupted: worker doomed lost its lease at "
                      "step 1 | 1 | COMPLETED");
    /* The rescuer moved step 0's result into the row. */
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM "
                                   "governance_job_steps"),
                     0);
    assert_int_equal(pgu_number(t, "SELECT jsonb_array_length(step_results) "
                                   "FROM governance_jobs"),
                     1);
    assert_int_equal(pgu_calls(t, id, 0), 1);
    assert_int_equal(pgu_calls(t, id, 1), 1);
    assert_int_equal(pgu_calls(t, id, 2), 0);
}

/* SIGSTOP past the lease, rescued, then SIGCONT: the worker writes
 * nothing more and starts no further step. */
static void test_stopped_past_lease(void **state)
{
    pgu_test *t = *state;
    char id[37], path[512], *log, *before, *after;
    pid_t a;
    tu_proc p;

    pgu_migrate(t);
    pgu_submit(t, 3, 1500, -1, id);
    a = pgu_worker(t, "sleeper", "--lease", "2", PGU_END);
    pgu_wait_ledger(t, 2, 30); /* step 1 has started */
    kill(a, SIGSTOP);
    sleep(3); /* past the lease */
    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "worker", "--db", t->conninfo,
                                 "--rescue-once", NULL});
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "1 job rescued\n");
    tu_proc_free(&p);
    before = row(t, id);
    assert_string_equal(before, "FAILED | interrupted: worker sleeper lost "
                                "its lease at step 1 | 1 | COMPLETED");
    kill(a, SIGCONT);
    sleep(3); /* step 1 ends; step 2 would have started and ended */
    after = row(t, id);
    assert_string_equal(after, before);
    free(before);
    free(after);
    assert_int_equal(pgu_calls(t, id, 2), 0);
    kill(a, SIGTERM);
    assert_int_equal(pgu_wait_exit(a, 10), 0);
    snprintf(path, sizeof path, "%s/sleeper.log", t->dir);
    log = tu_read(path);
    assert_non_null(log);
    assert_non_null(strstr(log, "event=lease_lost job="));
    assert_non_null(strstr(log, "event=abandoned job="));
    free(log);
}

/* 2,000 jobs, 4 worker processes, one of them killed every second (and
 * replaced): every job ends, none is left RUNNING, and each step's
 * handler ran at most once. */
static void test_many_workers_killed(void **state)
{
    pgu_test *t = *state;
    pid_t workers[4];
    char name[32];
    unsigned next = 0, kills = 0;
    time_t give_up = time(NULL) + 240;
    long left;

    pgu_migrate(t);
    assert_null(pgu_try(
        t, "INSERT INTO governance_jobs (job_id, contract_id, steps, "
           "total_steps) SELECT gen_random_uuid(), gen_random_uuid(), "
           "'[{\"step_index\": 0, \"step_type\": \"count\", \"parameters\": "
           "{\"sleep_ms\": 5}}, {\"step_index\": 1, \"step_type\": "
           "\"count\"}]', 2 FROM generate_series(1, 2000)"));
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "w%u", next++);
        workers[i] = pgu_worker(t, name, "--lease", "2", "--rescue", "1",
                                "--poll", "50", PGU_END);
    }
    while ((left = pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                 "WHERE status IN ('PENDING', 'RUNNING')")) >
               0 &&
           time(NULL) < give_up) {
        int victim = (int)(next % 4);
        sleep(1);
        kill(workers[victim], SIGKILL);
        pgu_wait_exit(workers[victim], 10);
        kills++;
        snprintf(name, sizeof name, "w%u", next++);
        workers[victim] = pgu_worker(t, name, "--lease", "2", "--rescue", "1",
                                     "--poll", "50", PGU_END);
    }
    assert_int_equal(left, 0);
    assert_true(kills >= 1);
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                   "WHERE status NOT IN ('COMPLETED', "
                                   "'FAILED')"),
                     0);
    assert_int_equal(pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                   "WHERE status = 'FAILED' AND "
                                   "status_reason NOT LIKE 'interrupted: "
                                   "worker w% lost its lease at step _'"),
                     0);
    /* At most once: no (job, step) twice in the ledger, and every result
     * the store holds was produced by exactly one call. */
    {
        char *ledger = tu_read(t->ledger);
        size_t lines = tu_count_lines(t->ledger);
        char *sorted;
        tu_proc p;
        assert_non_null(ledger);
        free(ledger);
        sorted = tu_write(t->dir, "dups.sh",
                          "sort \"$1\" | uniq -d | wc -l\n");
        tu_run(&p, NULL,
               (const char *const[]){"/bin/sh", sorted, t->ledger, NULL});
        assert_string_equal(p.out, "0\n");
        tu_proc_free(&p);
        free(sorted);
        assert_true(lines >= (size_t)pgu_number(
                                 t, "SELECT sum(jsonb_array_length("
                                    "step_results)) FROM governance_jobs"));
        assert_int_equal(pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                       "WHERE status = 'COMPLETED' AND "
                                       "jsonb_array_length(step_results) <> 2"),
                         0);
        print_message("2000 jobs, %u workers killed: %ld completed, %ld "
                      "interrupted, %zu handler calls\n",
                      kills,
                      pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                    "WHERE status = 'COMPLETED'"),
                      pgu_number(t, "SELECT count(*) FROM governance_jobs "
                                    "WHERE status = 'FAILED'"),
                      lines);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_mid_step, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_stopped_past_lease, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_many_workers_killed, pgu_setup,
                                        pgu_teardown),
    };
    return cmocka_run_group_tests(tests, pgu_server_start, pgu_server_stop);
}
