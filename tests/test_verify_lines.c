/*
 * test_verify_lines.c - a signed log with whole lines damaged: dropped,
 * swapped, duplicated, spliced from another job, the tail cut (whole
 * records and torn ones), and lines that belong to no job.
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

static void test_deleted_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k <= l.n; k++) {
        size_t order[8], n = 0;
        reports g;
        jx_verify_summary sum;
        char *why, *out;

        for (size_t i = 1; i <= l.n; i++)
            if (i != k)
                order[n++] = i;
        order[n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        if (k == l.n) {
            /* Without job_finished the log reads as cut short. */
            assert_counts(&sum, 1, 0, 1, 0);
            assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
            assert_string_equal(g.r[0].reason, INTERRUPTED);
            assert_int_equal(g.r[0].records, 5);
            assert_int_equal(g.r[0].bad_line, 0);
            continue;
        }
        /* Line k now holds seq k where k - 1 was expected. */
        why = seq_reason(k, k - 1);
        assert_counts(&sum, 1, 0, 0, 1);
        assert_tampered(&g.r[0], ids[0], k, why);
        out = fmt("%s: tampered: line %zu: %s\n"
                  "1 job: 0 valid, 0 incomplete, 1 tampered\n",
                  ids[0], k, why);
        cli_expect("verify", f->copy, f->pub, NULL, 4, out);
        free(out);
        free(why);
    }
    free_lines(&l);
}

static void test_swapped_lines(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k < l.n; k++) {
        size_t order[8];
        reports g;
        jx_verify_summary sum;
        char *why;

        for (size_t i = 1; i <= l.n; i++)
            order[i - 1] = i;
        order[k - 1] = k + 1;
        order[k] = k;
        order[l.n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        why = seq_reason(k, k - 1);
        assert_counts(&sum, 1, 0, 0, 1);
        assert_tampered(&g.r[0], ids[0], k, why);
        free(why);
    }
    free_lines(&l);
}

static void test_duplicated_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k <= l.n; k++) {
        size_t order[9], n = 0;
        reports g;
        jx_verify_summary sum;
        char *why;

        for (size_t i = 1; i <= l.n; i++) {
            order[n++] = i;
            if (i == k)
                order[n++] = i;
        }
        order[n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        assert_counts(&sum, 1, 0, 0, 1);
        /* The copy, line k + 1, repeats seq k - 1; a copied job_started
         * would open another run, and is named for what it is. */
        why = k == 1 ? fmt("a copy of line 1, the job_started of run 1 of "
                           "this job: the line was copied")
              : k == l.n ? fmt("a record after the job's seal (line %zu)", k)
                         : seq_reason(k - 1, k);
        assert_tampered(&g.r[0], ids[0], k + 1, why);
        free(why);
    }
    free_lines(&l);
}

/* A line of another job put into the middle of the victim's. */
static void test_spliced_line(void **state)
{
    fixture *f = *state;
    char a[1][ID_LEN + 1], b[1][ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    char *why, *out, *id;
    lines la, lb;
    FILE *fp;
    reports g;
    jx_verify_summary sum;

    make_log(f->log, f->key, 1, 2, a);
    make_log(log_b, f->key, 1, 2, b);
    read_lines(f->log, &la);
    read_lines(log_b, &lb);

    /* As it is: a stray piece of job b, which starts at seq 2. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        fwrite(la.v[i], 1, la.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 0, 1);
    assert_valid(&g.r[0], a[0], 6, 1, 1);
    why = seq_reason(2, 0);
    assert_tampered(&g.r[1], b[0], 3, why);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: tampered: line 3: %s\n"
              "2 jobs: 1 valid, 0 incomplete, 1 tampered\n", a[0], b[0], why);
    cli_expect("verify", f->copy, f->pub, NULL, 4, out);
    free(out);
    free(why);

    /* Passed off as the victim's: b's seq 2 with a's job_id, where a's seq
     * 2 belongs.  seq fits; prev is from b's chain. */
    id = strstr(lb.v[2], b[0]);
    assert_non_null(id);
    memcpy(id, a[0], ID_LEN);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        fwrite(la.v[i], 1, la.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = hash_reason(2);
    assert_tampered(&g.r[0], a[0], 2, why);
    out = fmt("%s: tampered: line 2: %s\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", a[0], why);
    cli_expect("verify", f->copy, f->pub, NULL, 4, out);
    free(out);
    free(why);

    /* ... and in place of the victim's own line 3. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++)
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        else
            fwrite(la.v[i], 1, la.len[i], fp);
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = hash_reason(2);
    assert_tampered(&g.r[0], a[0], 2, why);
    free(why);

    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

/* ---- cut short ----------------------------------------------------------- */

static void test_truncated_sealed_job(void **state)
{
    fixture *f = *state;
    char ids[2][ID_LEN + 1];
    lines l;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 2, 2, ids);
    read_lines(f->log, &l);
    /* The second job loses job_finished (the last line). */
    write_bytes(f->copy, l.text, (size_t)(l.v[11] - l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(sum.torn_tail, 0);
    assert_valid(&g.r[0], ids[0], 6, 1, 1);
    assert_string_equal(g.r[1].job_id, ids[1]);
    assert_int_equal(g.r[1].verdict, JX_VERDICT_INCOMPLETE);
    assert_string_equal(g.r[1].reason, INTERRUPTED);
    assert_int_equal(g.r[1].records, 5);
    assert_int_equal(g.r[1].first_line, 7);
    assert_int_equal(g.r[1].bad_line, 0);
    assert_int_equal(g.r[1].torn, 0);
    assert_false(g.r[1].has_final);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: incomplete: %s (5 records from line 7)\n"
              "2 jobs: 1 valid, 1 incomplete, 0 tampered\n",
              ids[0], ids[1], INTERRUPTED);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);

    /* ... and its last step's result as well. */
    write_bytes(f->copy, l.text, (size_t)(l.v[10] - l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(g.r[1].records, 4);
    assert_string_equal(g.r[1].reason, INTERRUPTED);
    free_lines(&l);
}

/* Writes the whole log of l and then the first n bytes of its line 2,
 * without a newline. */
static void append_torn(const char *path, const lines *l, size_t n)
{
    size_t len = strlen(l->text);
    char *t = malloc(len + n);

    assert_non_null(t);
    assert_true(n < l->len[1]);
    memcpy(t, l->text, len);
    memcpy(t + len, l->v[1], n);
    write_bytes(path, t, len + n);
    free(t);
}

static void test_torn_tail(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    /* Cut in the middle of job_finished. */
    write_bytes(f->copy, l.text, (size_t)(l.v[5] - l.text) + l.len[5] / 2);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 1, 0);
    assert_int_equal(sum.torn_tail, 1);
    assert_int_equal(sum.lines, 6);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
    assert_int_equal(g.r[0].torn, 1);
    assert_string_equal(g.r[0].reason, TORN);
    assert_int_equal(g.r[0].records, 5);
    assert_int_equal(g.r[0].bad_line, 0);
    out = fmt("%s: incomplete (torn): %s (5 records from line 1)\n"
              "%s: ends in a torn line: a write was interrupted\n"
              "1 job: 0 valid, 1 incomplete, 0 tampered\n",
              ids[0], TORN, f->copy);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);

    /* Cut near the end of line 4 (step 1 started), past its job_id. */
    write_bytes(f->copy, l.text, (size_t)(l.v[3] - l.text) + l.len[3] - 10);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 1, 0);
    assert_int_equal(g.r[0].torn, 1);
    assert_int_equal(g.r[0].records, 3);

    /* A torn copy of line 2 after the seal: it names the sealed job, and
     * nothing of a job may follow its job_finished. */
    append_torn(f->copy, &l, l.len[1] - 10);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_int_equal(sum.torn_tail, 1);
    assert_tampered(&g.r[0], ids[0], 7,
                    "a torn record after the job's seal");

    /* Torn before its job_id is complete: the start of the next job's
     * first record, cut by a crash.  It names no job, so the sealed job
     * stays valid; the torn line is reported, and as something was
     * interrupted the exit status is incomplete's. */
    append_torn(f->copy, &l, 100);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(sum.torn_tail, 1);
    assert_int_equal(sum.lines, 7);
    assert_int_equal(sum.stray_lines, 0);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: ends in a torn line: a write was interrupted\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n",
              ids[0], f->copy);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);
    free_lines(&l);
}

/* Writes lines first..last (from 1) of l to fp. */
static void put_lines(FILE *fp, const lines *l, size_t first, size_t last)
{
    for (size_t i = first; i <= last; i++)
        assert_int_equal(fwrite(l->v[i - 1], 1, l->len[i - 1], fp),
                         l->len[i - 1]);
}

/* Three jobs of two steps: the first whole, the second cut in its line 4
 * (the file's line 10) after cut bytes, the way a writer killed mid-write leaves it and
 * another writer marks it, then the third whole.  extra, if not 0, is a
 * line of l written right after the torn record. */
static void write_torn_between(const char *path, const lines *l, size_t cut,
                               size_t extra)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    put_lines(fp, l, 1, 9);
    assert_int_equal(fwrite(l->v[9], 1, cut, fp), cut);
    fputs("#torn\n", fp);
    if (extra != 0)
        put_lines(fp, l, extra, extra);
    put_lines(fp, l, 13, 18);
    assert_int_equal(fclose(fp), 0);
}

static void test_torn_record_between_jobs(void **state)
{
    fixture *f = *state;
    char ids[3][ID_LEN + 1];
    lines l;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 3, 2, ids);
    read_lines(f->log, &l);
    assert_int_equal(l.n, 18);
    write_torn_between(f->copy, &l, l.len[9] - 10, 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 2, 1, 0);
    assert_int_equal(sum.lines, 16);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(sum.torn_tail, 0);
    assert_valid(&g.r[0], ids[0], 6, 1, 1);
    assert_string_equal(g.r[1].job_id, ids[1]);
    assert_int_equal(g.r[1].verdict, JX_VERDICT_INCOMPLETE);
    assert_int_equal(g.r[1].torn, 1);
    assert_int_equal(g.r[1].records, 3);
    assert_int_equal(g.r[1].bad_line, 0);
    assert_string_equal(g.r[1].reason, "no seal: line 10 is a torn record "
                                       "of this job: its writer died "
                                       "mid-write");
    assert_valid(&g.r[2], ids[2], 6, 11, 1);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: incomplete (torn): no seal: line 10 is a torn record of "
              "this job: its writer died mid-write (3 records from line 7)\n"
              "%s: valid (6 records, signature checked)\n"
              "3 jobs: 2 valid, 1 incomplete, 0 tampered\n",
              ids[0], ids[1], ids[2]);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);

    /* Its job's next record after it: the writer was not dead. */
    write_torn_between(f->copy, &l, l.len[9] - 10, 10);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 2, 0, 1);
    assert_tampered(&g.r[1], ids[1], 11,
                    "a record after the job's torn record (line 10), whose "
                    "writer died");

    /* Cut before its job_id: a writer cuts such a fragment off, so one
     * left marked belongs to no job. */
    write_torn_between(f->copy, &l, 40, 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 2, 1, 0);
    assert_int_equal(sum.stray_lines, 1);
    assert_int_equal(sum.first_stray_line, 10);
    assert_string_equal(sum.stray_reason, "a torn record that names no job");
    assert_string_equal(g.r[1].reason, INTERRUPTED);
    free_lines(&l);
}

/* ---- lines of no job ---------------------------------------------------- */

static void test_stray_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    FILE *fp;
    reports g;
    jx_verify_summary sum;
    tu_proc p;
    char *head;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < l.n; i++) {
        if (i == 2)
            fputs("garbage that is no record\n", fp);
        fwrite(l.v[i], 1, l.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);

    verify(f->copy, f->pub, NULL, &g, &sum);
    /* The job's own chain is intact; the file is not. */
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(sum.lines, 7);
    assert_int_equal(sum.stray_lines, 1);
    assert_int_equal(sum.first_stray_line, 3);
    assert_true(sum.stray_reason[0] != '\0');

    cli(&p, "verify", f->copy, f->pub, NULL);
    assert_int_equal(p.status, 4);
    head = fmt("%s: valid (6 records, signature checked)\n"
               "%s: tampered: line 3: %s (1 line belongs to no job)\n"
               "1 job: 1 valid, 0 incomplete, 0 tampered, 1 stray line\n",
               ids[0], f->copy, sum.stray_reason);
    assert_string_equal(p.out, head);
    assert_non_null(strstr(p.out, "belongs to no job"));
    free(head);
    tu_proc_free(&p);

    /* A JSON object that is not a record of any job. */
    write_bytes(f->copy, "{\"event\":\"job_started\"}\n", 24);
    verify(f->copy, NULL, NULL, &g, &sum);
    assert_counts(&sum, 0, 0, 0, 0);
    assert_int_equal(sum.stray_lines, 1);
    assert_int_equal(sum.first_stray_line, 1);
    assert_string_equal(sum.stray_reason, "not a record of any job");
    head = fmt("%s: tampered: line 1: not a record of any job (1 line "
               "belongs to no job)\n"
               "0 jobs: 0 valid, 0 incomplete, 0 tampered, 1 stray line\n",
               f->copy);
    cli_expect("verify", f->copy, NULL, NULL, 4, head);
    free(head);
    free_lines(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicated_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spliced_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_sealed_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_record_between_jobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stray_line, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
