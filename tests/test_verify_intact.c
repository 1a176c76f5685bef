/*
 * test_verify_intact.c - evidence logs as jobs left them, checked by
 * jx_evidence_verify() and `jobexec evidence verify|show`: sealed jobs,
 * signed and unsigned, one after the other, interleaved and from two
 * threads at once; the --job filter, the wrong key, a file that is not
 * there, and the timeline `show` prints.
 */
#include "config.h"

#include <pthread.h>
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

/* ---- intact logs -------------------------------------------------------- */

static void test_sealed_jobs_valid(void **state)
{
    fixture *f = *state;
    char ids[3][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 3, 2, ids);

    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 3, 0, 0);
    assert_int_equal(sum.lines, 18);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(sum.torn_tail, 0);
    for (size_t i = 0; i < 3; i++)
        assert_valid(&g.r[i], ids[i], 6, 1 + 6 * i, 1);

    /* Without a key the seal is still checked, the signature is not. */
    verify(f->log, NULL, NULL, &g, &sum);
    assert_counts(&sum, 3, 3, 0, 0);
    for (size_t i = 0; i < 3; i++)
        assert_valid(&g.r[i], ids[i], 6, 1 + 6 * i, 0);

    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "3 jobs: 3 valid, 0 incomplete, 0 tampered\n",
              ids[0], ids[1], ids[2]);
    cli_expect("verify", f->log, f->pub, NULL, 0, out);
    free(out);
    out = fmt("%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "3 jobs: 3 valid, 0 incomplete, 0 tampered\n",
              ids[0], ids[1], ids[2]);
    cli_expect("verify", f->log, NULL, NULL, 0, out);
    free(out);
}

static void test_unsigned_seal(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, NULL, 1, 1, ids);
    verify(f->log, NULL, NULL, &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_VALID);
    assert_int_equal(g.r[0].signed_seal, 0);
    assert_int_equal(g.r[0].signature_checked, 0);
    out = fmt("%s: valid (4 records, unsigned seal)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[0]);
    cli_expect("verify", f->log, NULL, NULL, 0, out);
    free(out);

    /* Whoever holds a public key expects every seal signed. */
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], ids[0], 4,
                    "the seal is not signed, but a public key was given");
    out = fmt("%s: tampered: line 4: the seal is not signed, but a public "
              "key was given\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", ids[0]);
    cli_expect("verify", f->log, f->pub, NULL, 4, out);
    free(out);
}

/* Jobs running side by side share the log: their lines interleave, and
 * each chain is followed through the others' lines. */
static void test_interleaved_jobs_valid(void **state)
{
    fixture *f = *state;
    char a[1][ID_LEN + 1], b[1][ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    lines la, lb;
    FILE *fp;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 1, 3, a); /* 8 lines */
    make_log(log_b, f->key, 1, 2, b);  /* 6 lines */
    read_lines(f->log, &la);
    read_lines(log_b, &lb);
    /* a1 b1 a2 b2 ... b6 a7 a8 */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n || i < lb.n; i++) {
        if (i < la.n)
            fwrite(la.v[i], 1, la.len[i], fp);
        if (i < lb.n)
            fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);

    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_int_equal(sum.lines, 14);
    assert_int_equal(sum.stray_lines, 0);
    assert_valid(&g.r[0], a[0], 8, 1, 1);
    assert_valid(&g.r[1], b[0], 6, 2, 1);
    out = fmt("%s: valid (8 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "2 jobs: 2 valid, 0 incomplete, 0 tampered\n", a[0], b[0]);
    cli_expect("verify", f->copy, f->pub, NULL, 0, out);
    free(out);

    /* The filter follows one chain through the other's lines. */
    verify(f->copy, f->pub, b[0], &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_valid(&g.r[0], b[0], 6, 2, 1);

    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

typedef struct worker {
    jx_executor *ex;
    char ids[4][ID_LEN + 1];
} worker;

static void *work(void *arg)
{
    worker *w = arg;

    for (size_t i = 0; i < 4; i++)
        run_job(w->ex, 3, w->ids[i]);
    return NULL;
}

/* Two threads running jobs on one executor into one log. */
static void test_concurrent_jobs_valid(void **state)
{
    fixture *f = *state;
    jx_executor *ex = make_executor(f->log, f->key);
    worker w[2] = {{ex, {{0}}}, {ex, {{0}}}};
    pthread_t t[2];
    reports g;
    jx_verify_summary sum;
    tu_proc p;

    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    jx_executor_free(ex);

    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 8, 8, 0, 0);
    assert_int_equal(sum.lines, 8 * LINES_OF(3));
    assert_int_equal(sum.stray_lines, 0);
    for (size_t i = 0; i < 8; i++) {
        int found = 0;
        for (size_t k = 0; k < 2; k++)
            for (size_t j = 0; j < 4; j++)
                found += strcmp(g.r[i].job_id, w[k].ids[j]) == 0;
        assert_int_equal(found, 1);
        assert_int_equal(g.r[i].verdict, JX_VERDICT_VALID);
        assert_int_equal(g.r[i].records, LINES_OF(3));
        assert_int_equal(g.r[i].signature_checked, 1);
    }
    cli(&p, "verify", f->log, f->pub, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    assert_non_null(strstr(p.out, "\n8 jobs: 8 valid, 0 incomplete, "
                                  "0 tampered\n"));
    tu_proc_free(&p);
}

/* ---- keys --------------------------------------------------------------- */

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1], other_id[17];
    char *other = path_in(f->dir, "other.key");
    char *other_pub = path_in(f->dir, "other.key.pub");
    char *why, *out, *kid;
    jx_error err = {0, ""};
    lines l;
    reports g;
    jx_verify_summary sum;

    assert_int_equal(jx_keygen(other, other_id, &err), 0);
    assert_string_not_equal(other_id, f->key_id);
    make_log(f->log, f->key, 1, 1, ids);
    verify(f->log, other_pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = fmt("sealed by key %s, not by the given key %s", f->key_id,
              other_id);
    assert_tampered(&g.r[0], ids[0], 4, why);
    out = fmt("%s: tampered: line 4: %s\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", ids[0], why);
    cli_expect("verify", f->log, other_pub, NULL, 4, out);
    free(out);
    free(why);

    /* The seal claiming the other key's id: its signature then fails. */
    read_lines(f->log, &l);
    kid = strstr(l.v[3], f->key_id);
    assert_non_null(kid);
    memcpy(kid, other_id, 16);
    write_bytes(f->copy, l.text, strlen(l.text));
    verify(f->copy, other_pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], ids[0], 4,
                    "the seal's signature does not verify with the given "
                    "key");
    free_lines(&l);
    free(other);
    free(other_pub);
}

/* ---- one job ------------------------------------------------------------ */

static void test_job_filter(void **state)
{
    fixture *f = *state;
    char ids[3][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    jx_verify_options o = {f->pub, TU_NIL_JOB, collect, &g};
    jx_error err = {0, ""};
    char *out, *prev;
    tu_proc p;
    lines l;

    make_log(f->log, f->key, 3, 1, ids);
    verify(f->log, f->pub, ids[1], &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_valid(&g.r[0], ids[1], 4, 5, 1);
    out = fmt("%s: valid (4 records, signature checked)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[1]);
    cli_expect("verify", f->log, f->pub, ids[1], 0, out);
    free(out);

    /* Another job's damage is not this job's. */
    read_lines(f->log, &l);
    prev = strstr(l.v[0], "\"prev\":\""); /* job 0's first record */
    assert_non_null(prev);
    prev[8] ^= 0x01;
    write_bytes(f->copy, l.text, strlen(l.text));
    free_lines(&l);
    out = fmt("%s: valid (4 records, signature checked)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[2]);
    cli_expect("verify", f->copy, f->pub, ids[2], 0, out);
    free(out);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 2, 0, 1);

    /* A job the log does not know. */
    memset(&g, 0, sizeof g);
    assert_int_equal(jx_evidence_verify(f->log, &o, &sum, &err), JX_EINVAL);
    assert_int_equal(err.code, JX_EINVAL);
    out = fmt("%s: no record of job " TU_NIL_JOB, f->log);
    assert_string_equal(err.message, out);
    assert_int_equal(g.n, 0);
    free(out);
    cli(&p, "verify", f->log, f->pub, TU_NIL_JOB);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    out = fmt("jobexec: %s: no record of job " TU_NIL_JOB "\n", f->log);
    assert_string_equal(p.err, out);
    free(out);
    tu_proc_free(&p);
}

/* ---- files that cannot be read ------------------------------------------ */

static void test_missing_file(void **state)
{
    fixture *f = *state;
    char *missing = path_in(f->dir, "missing.jsonl");
    jx_verify_summary sum;
    jx_error err = {0, ""};
    char *want;
    tu_proc p;

    assert_int_equal(jx_evidence_verify(missing, NULL, &sum, &err), JX_EIO);
    assert_int_equal(err.code, JX_EIO);
    want = fmt("%s: cannot open: No such file or directory", missing);
    assert_string_equal(err.message, want);
    free(want);

    cli(&p, "verify", missing, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt("jobexec: %s: cannot open: No such file or directory\n",
               missing);
    assert_string_equal(p.err, want);
    free(want);
    tu_proc_free(&p);

    cli(&p, "show", missing, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_non_null(strstr(p.err, "cannot open"));
    assert_non_null(strstr(p.err, missing));
    tu_proc_free(&p);
    free(missing);
}

/* ---- show --------------------------------------------------------------- */

/* Line i (from 0) of text, or NULL; free() it. */
static char *nth_line(const char *text, size_t i)
{
    const char *p = text, *nl;

    for (; i > 0 && p != NULL; i--)
        p = (nl = strchr(p, '\n')) != NULL ? nl + 1 : NULL;
    if (p == NULL || *p == '\0')
        return NULL;
    nl = strchr(p, '\n');
    return strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
}

static void expect_in(const char *line, const char *part)
{
    if (line == NULL || strstr(line, part) == NULL)
        fail_msg("'%s' not in '%s'", part, line != NULL ? line : "(none)");
}

/* The timeline of one 2-step job starting at line first of out. */
static void expect_timeline(const char *out, size_t first, const char *id,
                            const char *key_id)
{
    char prefix[16], *want;
    char *line[6];

    snprintf(prefix, sizeof prefix, "  %.8s  ", id);
    for (size_t i = 0; i < 6; i++) {
        line[i] = nth_line(out, first + i);
        expect_in(line[i], prefix);
    }
    expect_in(line[0], "job started: contract " TU_CONTRACT ", 2 steps");
    expect_in(line[1], "step 0 started: capability_enable on 'CAP_0'");
    expect_in(line[2], "step 0 COMPLETED: {");
    expect_in(line[2], "\"target\":\"CAP_0\"");
    expect_in(line[3], "step 1 started: configuration_change on 'CAP_1'");
    expect_in(line[4], "step 1 COMPLETED: {");
    expect_in(line[5], "job finished COMPLETED: " TU_ALL_DONE
                       " (2 executed, 2 succeeded, 0 failed; ");
    want = fmt("sealed and signed by key %s)", key_id);
    expect_in(line[5], want);
    free(want);
    for (size_t i = 0; i < 6; i++)
        free(line[i]);
}

static void test_show(void **state)
{
    fixture *f = *state;
    char ids[2][ID_LEN + 1];
    tu_proc p;
    char *want;

    make_log(f->log, f->key, 2, 2, ids);
    cli(&p, "show", f->log, NULL, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    expect_timeline(p.out, 0, ids[0], f->key_id);
    expect_timeline(p.out, 6, ids[1], f->key_id);
    assert_null(nth_line(p.out, 12));
    tu_proc_free(&p);

    cli(&p, "show", f->log, NULL, ids[1]);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    expect_timeline(p.out, 0, ids[1], f->key_id);
    assert_null(nth_line(p.out, 6));
    tu_proc_free(&p);

    cli(&p, "show", f->log, NULL, TU_NIL_JOB);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt("jobexec: %s: no record of job " TU_NIL_JOB "\n", f->log);
    assert_string_equal(p.err, want);
    free(want);
    tu_proc_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_seal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
