/*
 * test_seal_verify.c - jx_evidence_verify() and `jobexec evidence verify`
 * with a public key: the right key, a wrong one, a forged, damaged or
 * stripped signature, unsigned and signed logs with and without a key,
 * two keys in one log, members added after the seal, and public keys that
 * cannot be used.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "seal_util.h"

/* ---- 4. verifying with keys --------------------------------------------- */

/* A fresh pair under dir/name; the fixture frees both paths. */
static void new_pair(fixture *f, const char *name, char **secret,
                     char **public, char key_id[17])
{
    *secret = path_in(f, name);
    *public = fmt(f, "%s.pub", *secret);
    if (jx_keygen(*secret, key_id, &f->err) != 0)
        fail_msg("keygen: %s", f->err.message);
}

static void expect_one_verdict(fixture *f, const char *pubkey,
                               jx_verdict verdict, unsigned long bad_line,
                               const char *reason)
{
    jx_verify_summary sum;

    if (verify_log(f->log_path, pubkey, &sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(reports.n, 1);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(reports.r[0].verdict, verdict);
    assert_int_equal(reports.r[0].bad_line, bad_line);
    assert_string_equal(reports.r[0].reason, reason);
    assert_int_equal(sum.tampered, verdict == JX_VERDICT_TAMPERED);
    assert_int_equal(sum.valid, verdict == JX_VERDICT_VALID);
}

static void test_verify_with_right_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, key_id[17], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, key_id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 2, 0);
    expect_one_verdict(f, public, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 1);
    assert_int_equal(reports.r[0].signature_checked, 1);
    assert_int_equal(reports.r[0].records, FINISHED_LINE(2));

    argv[5] = public;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    want = fmt(f, TU_JOB ": valid (%d records, signature "
               "checked)\n1 job: 1 valid, 0 incomplete, "
               "0 tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

static void test_verify_with_wrong_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, *other, *other_pub, id[17], other_id[17];
    char reason[128], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    new_pair(f, "other", &other, &other_pub, other_id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 2, 0);
    snprintf(reason, sizeof reason,
             "sealed by key %s, not by the given key %s", id, other_id);
    expect_one_verdict(f, other_pub, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       reason);

    argv[5] = other_pub;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 4);
    want = fmt(f, TU_JOB ": tampered: line %d: %s\n1 job: 0 "
               "valid, 0 incomplete, 1 tampered\n",
               FINISHED_LINE(2), reason);
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* Replaces the seal's sig in the log (the seal keeps its key_id). */
static void replace_sig(fixture *f, size_t line_no, const char *new_sig)
{
    char *line = line_of(f->log_path, line_no), *old = NULL, *repl = NULL;
    seal s;

    read_seal(line, TU_JOB, &s);
    assert_true(asprintf(&old, "\"sig\":\"%s\"", s.sig_b64) > 0);
    assert_true(asprintf(&repl, "\"sig\":\"%s\"", new_sig) > 0);
    replace_in_file(f->log_path, old, repl);
    free(old);
    free(repl);
    free(line);
}

/* The seal names the right key, but its signature was made by another key
 * over the very same message: the head still matches, the signature does
 * not. */
static void test_verify_forged_signature(void **state)
{
    fixture *f = *state;
    char *secret, *public, *forger, *forger_pub, id[17], forger_id[17];
    unsigned char seed[32], pk[32], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    char *line;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    new_pair(f, "forger", &forger, &forger_pub, forger_id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 2, 0);
    assert_all_valid(f, public, 1);

    /* The forger signs exactly the seal's message with his own key. */
    line = line_of(f->log_path, FINISHED_LINE(2));
    read_seal(line, TU_JOB, &s);
    free(line);
    read_key_file(forger, SECRET_TAG, seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(sig, NULL, (const unsigned char *)s.msg, s.msg_len,
                         sk);
    sodium_memzero(sk, sizeof sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    replace_sig(f, FINISHED_LINE(2), b64);
    line = line_of(f->log_path, FINISHED_LINE(2));
    read_seal(line, TU_JOB, &s);
    free(line);
    assert_string_equal(s.key_id, id);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       "the seal's signature does not verify with the "
                       "given key");
    assert_int_equal(reports.r[0].signature_checked, 1);
    /* Without a key, the forged seal still reads as signed. */
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
}

/* A changed character, a truncated signature, one that is not base64 and
 * one with padding added: none verifies. */
static void test_verify_damaged_signature(void **state)
{
    static const char *const kinds[] = {"flipped", "short", "not base64",
                                        "padded"};
    fixture *f = *state;
    char *secret, *public, id[17];

    new_pair(f, "k", &secret, &public, id);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *line, bad[160];
        seal s;

        assert_int_equal(unlink(f->log_path) == 0 || errno == ENOENT, 1);
        make_executor(f, secret);
        run_job(f, TU_JOB, 1, 0);
        line = line_of(f->log_path, FINISHED_LINE(1));
        read_seal(line, TU_JOB, &s);
        free(line);
        snprintf(bad, sizeof bad, "%s", s.sig_b64);
        if (k == 0)
            bad[10] = bad[10] == 'A' ? 'B' : 'A';
        else if (k == 1)
            bad[40] = '\0';
        else if (k == 2)
            memcpy(bad, "!!!!", 4);
        else
            snprintf(bad, sizeof bad, "%s==", s.sig_b64);
        print_message("signature %s: %s\n", kinds[k], bad);
        replace_sig(f, FINISHED_LINE(1), bad);
        expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                           "the seal's signature does not verify with the "
                           "given key");
    }
}

/* A seal stripped of its key_id but keeping a damaged sig is still checked
 * against the given key. */
static void test_verify_damaged_signature_without_key_id(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, TU_JOB, &s);
    free(line);
    s.sig_b64[10] = s.sig_b64[10] == 'A' ? 'B' : 'A';
    replace_sig(f, FINISHED_LINE(1), s.sig_b64);
    assert_true(asprintf(&old, ",\"key_id\":\"%s\"", id) > 0);
    replace_in_file(f->log_path, old, "");
    free(old);
    /* A signature without its key_id is no seal jobexec writes. */
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                       "the seal is not as jobexec writes it: members were "
                       "added, removed or moved after sealing");
}

static void test_verify_unsigned_log_with_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17];
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    char *want;
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, NULL);
    run_job(f, TU_JOB, 2, 0);
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 0);
    assert_int_equal(reports.r[0].signature_checked, 0);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       "the seal is not signed, but a public key was given");

    argv[5] = public;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 4);
    want = fmt(f, TU_JOB ": tampered: line %d: the seal is not "
               "signed, but a public key was given\n"
               "1 job: 0 valid, 0 incomplete, 1 "
               "tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* A signed seal whose sig and key_id were cut off reads as unsigned, which
 * only a key reveals. */
static void test_verify_stripped_signature(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, TU_JOB, &s);
    free(line);
    assert_true(asprintf(&old, ",\"key_id\":\"%s\",\"sig\":\"%s\"", id,
                         s.sig_b64) > 0);
    replace_in_file(f->log_path, old, "");
    free(old);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                       "the seal is not signed, but a public key was given");
}

static void test_verify_signed_log_without_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 2, 0);
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 1);
    assert_int_equal(reports.r[0].signature_checked, 0);

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    want = fmt(f, TU_JOB ": valid (%d records, signed; signature "
               "not checked: no --pubkey)\n1 job: 1 "
               "valid, 0 incomplete, 0 tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* Jobs sealed by two keys in one log: each is judged on its own. */
static void test_verify_two_keys_in_one_log(void **state)
{
    fixture *f = *state;
    char *a, *a_pub, *b, *b_pub, id_a[17], id_b[17], reason[128];
    jx_verify_summary sum;

    new_pair(f, "a", &a, &a_pub, id_a);
    new_pair(f, "b", &b, &b_pub, id_b);
    make_executor(f, a);
    run_job(f, TU_JOB, 1, 0);
    make_executor(f, b);
    run_job(f, TU_JOB2, 1, 0);
    assert_int_equal(verify_log(f->log_path, a_pub, &sum, &f->err), 0);
    assert_int_equal(sum.jobs, 2);
    assert_int_equal(sum.valid, 1);
    assert_int_equal(sum.tampered, 1);
    assert_string_equal(reports.r[0].job_id, TU_JOB);
    assert_int_equal(reports.r[0].verdict, JX_VERDICT_VALID);
    assert_int_equal(reports.r[0].signature_checked, 1);
    assert_string_equal(reports.r[1].job_id, TU_JOB2);
    assert_int_equal(reports.r[1].verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(reports.r[1].bad_line, 2 * FINISHED_LINE(1));
    snprintf(reason, sizeof reason,
             "sealed by key %s, not by the given key %s", id_b, id_a);
    assert_string_equal(reports.r[1].reason, reason);
}

/* jx_evidence_verify refuses a public key it cannot use, whatever the log
 * holds. */
static void expect_pubkey_refused(fixture *f, const char *pubkey,
                                  const char *reason)
{
    jx_verify_summary sum;
    char *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", pubkey, NULL};
    tu_proc p;

    reports.n = 0;
    assert_int_equal(verify_log(f->log_path, pubkey, &sum, &f->err),
                     JX_EKEY);
    assert_int_equal(f->err.code, JX_EKEY);
    assert_int_equal(reports.n, 0);
    want = fmt(f, "public key '%s': %s", pubkey, reason);
    assert_string_equal(f->err.message, want);

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt(f, "jobexec: public key '%s': %s\n", pubkey,
               reason);
    assert_string_equal(p.err, want);
    tu_proc_free(&p);
}

static void verify_in_child(fixture *f, const char *pubkey, FILE *out)
{
    jx_verify_options vo = {pubkey, NULL, NULL, NULL};
    jx_verify_summary sum;
    int rc = jx_evidence_verify(f->log_path, &vo, &sum, &f->err);

    fprintf(out, "%d %s", rc, rc != 0 ? f->err.message : "");
}

static void test_verify_public_key_fifo_refused(void **state)
{
    fixture *f = *state;
    char *pubkey = path_in(f, "k.pub"), *text, *want;

    make_executor(f, NULL);
    run_job(f, TU_JOB, 1, 0);
    assert_int_equal(mkfifo(pubkey, 0644), 0);
    text = in_child_with_deadline(f, pubkey, verify_in_child,
                                  "jx_evidence_verify");
    want = fmt(f, "%d public key '%s': ", JX_EKEY, pubkey);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    free(text);
}

/* A member appended after the seal is covered neither by the head nor by
 * the signature: the record was changed after sealing. */
static void test_verify_member_after_seal(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL, *new = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, TU_JOB, &s);
    free(line);
    assert_true(asprintf(&old, "\"sig\":\"%s\"}}", s.sig_b64) > 0);
    assert_true(asprintf(&new, "\"sig\":\"%s\"},\"approved_by\":"
                               "\"mallory\"}",
                         s.sig_b64) > 0);
    replace_in_file(f->log_path, old, new);
    free(old);
    free(new);
    for (int with_key = 1; with_key >= 0; with_key--) {
        jx_verify_summary sum;

        assert_int_equal(verify_log(f->log_path, with_key ? public : NULL,
                                    &sum, &f->err),
                         0);
        assert_int_equal(reports.n, 1);
        assert_int_equal(sum.valid, 0);
        assert_int_equal(reports.r[0].verdict, JX_VERDICT_TAMPERED);
        assert_int_equal(reports.r[0].bad_line, FINISHED_LINE(1));
        assert_true(reports.r[0].reason[0] != '\0');
    }
}

static void test_verify_malformed_public_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *bad, *missing = path_in(f, "none.pub");

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, TU_JOB, 1, 0);

    bad = write_key(f, "bad.pub", PUBLIC_TAG,
                    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68"
                    "f70751",
                    0644);
    expect_pubkey_refused(f, bad, "the key is not 64 hex digits");
    bad = write_key(f, "bad.pub", PUBLIC_TAG,
                    "x75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68"
                    "f707511a",
                    0644);
    expect_pubkey_refused(f, bad, "the key is not 64 hex digits");
    bad = write_file(f, "bad.pub", "", 0644);
    expect_pubkey_refused(f, bad, "not a key file written by `jobexec "
                                  "keygen` (expected a line starting "
                                  "'jobexec-ed25519-public-key')");
    bad = write_file(f, "bad.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n",
                     0644);
    expect_pubkey_refused(f, bad, "not a key file written by `jobexec "
                                  "keygen` (expected a line starting "
                                  "'jobexec-ed25519-public-key')");
    /* The secret half given where the public one belongs. */
    expect_pubkey_refused(f, secret, "holds a secret key, not a public key");
    expect_pubkey_refused(f, missing, "cannot open: No such file or "
                                      "directory");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_verify_with_right_key),
        T(test_verify_with_wrong_key),
        T(test_verify_forged_signature),
        T(test_verify_damaged_signature),
        T(test_verify_damaged_signature_without_key_id),
        T(test_verify_unsigned_log_with_key),
        T(test_verify_stripped_signature),
        T(test_verify_signed_log_without_key),
        T(test_verify_two_keys_in_one_log),
        T(test_verify_public_key_fifo_refused),
        T(test_verify_member_after_seal),
        T(test_verify_malformed_public_key),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
