/*
 * test_worker_batch.c - statements sent together in one round trip
 * (jx__pg_prepared_batch), as a worker sends a job's terminal status with
 * its next claim.  Apart, each runs in its own transaction, in order, so
 * that a failed write neither undoes nor skips the claim after it.
 * Together (what the worker sends), they commit as one: a failed status
 * skips the claim, a failed claim undoes the status, and nothing of
 * either stays.  Either way the connection is back to one statement at a
 * time afterwards.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_util.h"
#include "testutil.h"
#include "worker/pg.h"

static const char *const claim[] = {"w1", "30"};

/* One PENDING job, and its id in id (37 bytes). */
static void pending_job(pgu_test *t, char *id)
{
    char sql[128], *v;

    pgu_submit(t, 1, 0, -1, id);
    snprintf(sql, sizeof sql,
             "SELECT status FROM governance_jobs WHERE job_id = '%s'", id);
    v = pgu_value(t, sql);
    assert_string_equal(v, "PENDING");
    free(v);
}

/* The jobs' statuses, oldest first, joined by commas, are want. */
static void assert_statuses(pgu_test *t, const char *want)
{
    char *v = pgu_value(t, "SELECT string_agg(status, ',' ORDER BY "
                           "created_at) FROM governance_jobs");

    assert_string_equal(v, want);
    free(v);
}

/* What the table says of the status "DONE?". */
#define REFUSED_STATUS                                                       \
    "governance store: writing the job's status: new row for relation "      \
    "\"governance_jobs\" violates check constraint "                          \
    "\"governance_jobs_status_check\""

/* A job claimed by w1 alone (its id in first), and a second one PENDING
 * behind it (second): the queue they were claimed on, the caller's to
 * close. */
static jx_queue *one_claimed_one_pending(pgu_test *t, char *first,
                                         char *second)
{
    jx_error err = {0, ""};
    jx_queue *q;
    PGresult *res;

    pgu_migrate(t);
    pending_job(t, first);
    assert_int_equal(jx_queue_open(t->conninfo, &q, &err), 0);
    res = jx__pg_prepared(q, JX__STMT_CLAIM, 2, claim, &err);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), first);
    PQclear(res);
    pending_job(t, second);
    return q;
}

/* Claimed by w1 alone, then its status written with the next claim: the
 * status is kept, and the claim finds the next job. */
static void status_then_claim(void **state, int together)
{
    pgu_test *t = *state;
    char first[37], second[37];
    const char *status[] = {first, "w1", "COMPLETED", NULL, NULL, "1", NULL};
    jx_queue *q;
    jx_error err = {0, ""};
    jx__pg_call calls[] = {{.stmt = JX__STMT_FINISH, .n = 7, .params = status},
                           {.stmt = JX__STMT_CLAIM, .n = 2, .params = claim}};
    PGresult *res;

    q = one_claimed_one_pending(t, first, second);
    jx__pg_prepared_batch(q, calls, 2, together);
    assert_non_null(calls[0].res);
    assert_int_equal(jx__pg_changed(calls[0].res), 1);
    assert_non_null(calls[1].res);
    assert_int_equal(PQntuples(calls[1].res), 1);
    assert_string_equal(PQgetvalue(calls[1].res, 0, 0), second);
    PQclear(calls[0].res);
    PQclear(calls[1].res);
    assert_statuses(t, "COMPLETED,RUNNING");

    /* One statement at a time again, on the same connection. */
    res = jx__pg_prepared(q, JX__STMT_CLAIM, 2, claim, &err);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 0);
    PQclear(res);
    jx_queue_close(q);
}

static void test_status_then_claim(void **state)
{
    status_then_claim(state, 0);
}

static void test_status_then_claim_together(void **state)
{
    status_then_claim(state, 1);
}

/* Together, a status the table refuses skips the claim after it: the
 * first job stays RUNNING, the second PENDING. */
static void test_together_failure_skips(void **state)
{
    pgu_test *t = *state;
    char first[37], second[37];
    const char *status[] = {first, "w1", "DONE?", NULL, NULL, "1", NULL};
    jx_queue *q;
    jx__pg_call calls[] = {{.stmt = JX__STMT_FINISH, .n = 7, .params = status},
                           {.stmt = JX__STMT_CLAIM, .n = 2, .params = claim}};

    q = one_claimed_one_pending(t, first, second);
    jx__pg_prepared_batch(q, calls, 2, 1);
    assert_null(calls[0].res);
    assert_false(calls[0].undone);
    assert_string_equal(calls[0].err.message, REFUSED_STATUS);
    assert_null(calls[1].res);
    assert_true(calls[1].skipped);
    assert_int_equal(calls[1].err.code, JX_EIO);
    assert_string_equal(calls[1].err.message,
                        "governance store: claiming a job: skipped, an "
                        "earlier statement of its transaction failed");
    assert_statuses(t, "RUNNING,PENDING");
    jx_queue_close(q);
}

/* Together, a claim that fails undoes the status written before it: the
 * status is not kept, and the call says so. */
static void test_together_claim_failure_undoes(void **state)
{
    pgu_test *t = *state;
    char first[37], second[37];
    const char *status[] = {first, "w1", "COMPLETED", NULL, NULL, "1", NULL};
    const char *bad_claim[] = {"w1", "thirty"};
    jx_queue *q;
    jx_error err = {0, ""};
    jx__pg_call calls[] = {
        {.stmt = JX__STMT_FINISH, .n = 7, .params = status},
        {.stmt = JX__STMT_CLAIM, .n = 2, .params = bad_claim}};
    PGresult *res;

    q = one_claimed_one_pending(t, first, second);
    jx__pg_prepared_batch(q, calls, 2, 1);
    assert_null(calls[1].res);
    assert_false(calls[1].skipped);
    assert_string_equal(calls[1].err.message,
                        "governance store: claiming a job: invalid input "
                        "syntax for type integer: \"thirty\"");
    assert_null(calls[0].res);
    assert_true(calls[0].undone);
    assert_string_equal(calls[0].err.message,
                        "governance store: writing the job's status: undone, "
                        "as claiming a job failed in the same transaction "
                        "(governance store: claiming a job: invalid input "
                        "syntax for type integer: \"thirty\")");
    assert_statuses(t, "RUNNING,PENDING");

    /* The status written again, alone, is kept. */
    res = jx__pg_prepared(q, JX__STMT_FINISH, 7, status, &err);
    assert_non_null(res);
    assert_int_equal(jx__pg_changed(res), 1);
    PQclear(res);
    assert_statuses(t, "COMPLETED,PENDING");
    jx_queue_close(q);
}

/* A status the table refuses fails alone, with the server's reason: the
 * claim sent after it still runs and commits. */
static void test_failure_alone(void **state)
{
    pgu_test *t = *state;
    char first[37], second[37], *v;
    const char *status[] = {first, "w1", "DONE?", NULL, NULL, "1", NULL};
    jx_queue *q;
    jx__pg_call calls[] = {{.stmt = JX__STMT_FINISH, .n = 7, .params = status},
                           {.stmt = JX__STMT_CLAIM, .n = 2, .params = claim}};

    q = one_claimed_one_pending(t, first, second);
    jx__pg_prepared_batch(q, calls, 2, 0);
    assert_null(calls[0].res);
    assert_int_equal(calls[0].err.code, JX_EIO);
    assert_string_equal(calls[0].err.message, REFUSED_STATUS);
    assert_non_null(calls[1].res);
    assert_int_equal(PQntuples(calls[1].res), 1);
    assert_string_equal(PQgetvalue(calls[1].res, 0, 0), second);
    PQclear(calls[1].res);
    assert_statuses(t, "RUNNING,RUNNING");
    v = pgu_value(t, "SELECT string_agg(DISTINCT lease_owner, ',') FROM "
                     "governance_jobs");
    assert_string_equal(v, "w1");
    free(v);
    jx_queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_then_claim, pgu_setup,
                                        pgu_teardown),
        cmocka_unit_test_setup_teardown(test_status_then_claim_together,
                                        pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_together_failure_skips,
                                        pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_together_claim_failure_undoes,
                                        pgu_setup, pgu_teardown),
        cmocka_unit_test_setup_teardown(test_failure_alone, pgu_setup,
                                        pgu_teardown),
    };
    return cmocka_run_group_tests(tests, pgu_server_start, pgu_server_stop);
}
