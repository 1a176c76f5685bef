/*
 * test_verify_runs.c - one job_id run more than once (a queue delivering a
 * job twice): each run a chain of its own, runs after one another and
 * interleaved, a run cut short before another, and a whole run copied.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "verify_util.h"

/* ---- a job that ran more than once --------------------------------------- */

#define RERUN "2d7e9c41-5a3b-4f6e-8d1c-7b9a0e3f5c28"

/* A queue that delivers a job twice: two runs of one job_id, each a
 * chain of its own, each valid. */
static void test_job_run_twice(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    reports g;
    jx_verify_summary sum;
    char *out;

    run_job_as(ex, 2, RERUN, id);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_valid(&g.r[1], RERUN, 6, 7, 1);
    assert_int_equal(g.r[0].run, 1);
    assert_int_equal(g.r[1].run, 2);
    assert_int_equal(g.r[0].runs, 2);
    assert_int_equal(g.r[1].runs, 2);
    out = fmt(RERUN " (run 1 of 2): valid (6 records, signature checked)\n"
              RERUN " (run 2 of 2): valid (6 records, signature checked)\n"
              "2 runs of 1 job: 2 valid, 0 incomplete, 0 tampered\n");
    cli_expect("verify", f->log, f->pub, NULL, 0, out);
    cli_expect("verify", f->log, f->pub, RERUN, 0, out);
    free(out);
}

/* Many runs of one job, among other jobs: more runs than the verifier
 * first makes room for. */
static void test_many_runs(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    reports g;
    jx_verify_summary sum;

    for (int i = 0; i < 12; i++) {
        run_job_as(ex, 1, RERUN, id);
        run_job(ex, 1, id);
    }
    jx_executor_free(ex);
    verify(f->log, f->pub, RERUN, &g, &sum);
    assert_counts(&sum, 12, 12, 0, 0);
    for (unsigned i = 0; i < 12; i++) {
        assert_valid(&g.r[i], RERUN, 4, 1 + 8 * i, 1);
        assert_int_equal(g.r[i].run, i + 1);
        assert_int_equal(g.r[i].runs, 12);
    }
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 24, 24, 0, 0);
}

/* Two workers running the same job at once: their runs interleave in the
 * file, and each record is placed by the chain it extends. */
static void test_runs_interleaved(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    jx_executor *ex = make_executor(f->log, f->key);
    lines la, lb;
    reports g;
    jx_verify_summary sum;
    FILE *fp;

    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    ex = make_executor(log_b, f->key);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &la);
    read_lines(log_b, &lb);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        fwrite(la.v[i], 1, la.len[i], fp);
        fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_valid(&g.r[1], RERUN, 6, 2, 1);

    /* One record of the second run dropped: only that run is broken. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        fwrite(la.v[i], 1, la.len[i], fp);
        if (i != 2)
            fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 0, 1);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_int_equal(g.r[1].verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(g.r[1].run, 2);
    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

/* A run cut short (a crash), then the job delivered again: the first run
 * is incomplete, the second valid. */
static void test_interrupted_run_then_another(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    size_t order[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 0};
    reports g;
    jx_verify_summary sum;
    lines l;

    run_job_as(ex, 2, RERUN, id);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &l);
    write_order(f->copy, &l, order); /* without run 1's job_finished */
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
    assert_string_equal(g.r[0].reason, INTERRUPTED);
    assert_int_equal(g.r[0].records, 5);
    assert_valid(&g.r[1], RERUN, 6, 6, 1);
    free_lines(&l);
}

/* A whole sealed run copied to the end of the file is not a second run:
 * its job_started is byte for byte the first one's. */
static void test_whole_run_copied(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    size_t order[] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 0};
    reports g;
    jx_verify_summary sum;
    lines l;

    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &l);
    write_order(f->copy, &l, order);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], RERUN, 7,
                    "a copy of line 1, the job_started of run 1 of this "
                    "job: the line was copied");
    free_lines(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_run_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_interleaved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_run_then_another,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_run_copied, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
