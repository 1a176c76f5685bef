/*
 * test_seal_keygen.c - jx_keygen() and `jobexec keygen`: the files' modes
 * whatever the umask, the pair checked with libsodium, fresh pairs that
 * differ, never overwriting either half or following a symbolic link, bad
 * arguments, and the key id a seal then names.
 */
#include "config.h"

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

/* ---- 3. jx_keygen and `jobexec keygen` ---------------------------------- */

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    return st.st_mode & 07777;
}

/* Checks a key pair written by keygen: both files one line in their format,
 * the public key derived from the seed, key_id its id, and the pair signs
 * and verifies. */
static void check_pair(const char *secret, const char *key_id)
{
    char *public = NULL, kid[17];
    unsigned char seed[32], pk[32], derived[32];
    unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    static const unsigned char msg[] = "jobexec:seal:v1\n";

    assert_true(asprintf(&public, "%s.pub", secret) > 0);
    read_key_file(secret, SECRET_TAG, seed);
    read_key_file(public, PUBLIC_TAG, pk);
    crypto_sign_seed_keypair(derived, sk, seed);
    assert_memory_equal(derived, pk, sizeof pk);
    key_id_of(pk, kid);
    assert_string_equal(key_id, kid);
    crypto_sign_detached(sig, NULL, msg, sizeof msg - 1, sk);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1,
                                                 pk),
                     0);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    free(public);
}

static void keygen_under_umask(fixture *f, mode_t mask)
{
    char *secret = path_in(f, mask == 0 ? "open.key" : "closed.key");
    char *public = fmt(f, "%s.pub", secret), key_id[17];

    umask(mask);
    if (jx_keygen(secret, key_id, &f->err) != 0)
        fail_msg("keygen: %s", f->err.message);
    umask(f->old_umask);
    assert_int_equal(mode_of(secret), 0600);
    assert_int_equal(mode_of(public), 0644);
    check_pair(secret, key_id);
}

static void test_keygen_modes_umask_0(void **state)
{
    keygen_under_umask(*state, 0);
}

static void test_keygen_modes_umask_077(void **state)
{
    keygen_under_umask(*state, 077);
}

static void test_keygen_pairs_differ(void **state)
{
    fixture *f = *state;
    char *a = path_in(f, "a.key"), *b = path_in(f, "b.key");
    char id_a[17], id_b[17];
    unsigned char seed_a[32], seed_b[32];

    assert_int_equal(jx_keygen(a, id_a, &f->err), 0);
    assert_int_equal(jx_keygen(b, id_b, &f->err), 0);
    check_pair(a, id_a);
    check_pair(b, id_b);
    read_key_file(a, SECRET_TAG, seed_a);
    read_key_file(b, SECRET_TAG, seed_b);
    assert_memory_not_equal(seed_a, seed_b, sizeof seed_a);
    assert_string_not_equal(id_a, id_b);
}

static void test_keygen_never_overwrites_secret(void **state)
{
    fixture *f = *state;
    char *secret = write_file(f, "k", "precious\n", 0600);
    char *public = path_in(f, "k.pub"), *want, *text;
    char key_id[17] = "unchanged";

    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    assert_int_equal(f->err.code, JX_EIO);
    want = fmt(f, "%s: cannot create: File exists (keys are "
               "never overwritten)",
               secret);
    assert_string_equal(f->err.message, want);
    text = tu_read(secret);
    assert_string_equal(text, "precious\n");
    assert_int_equal(access(public, F_OK), -1);
    free(text);
}

/* A .pub in the way: nothing is written and the secret half is not left
 * behind. */
static void test_keygen_never_overwrites_public(void **state)
{
    fixture *f = *state;
    char *public = write_file(f, "k.pub", "precious\n", 0644);
    char *secret = path_in(f, "k"), *want, *text;
    char key_id[17];

    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    want = fmt(f, "%s: cannot create: File exists (keys are "
               "never overwritten)",
               public);
    assert_string_equal(f->err.message, want);
    assert_int_equal(access(secret, F_OK), -1);
    text = tu_read(public);
    assert_string_equal(text, "precious\n");
    free(text);
}

/* A symbolic link where the key goes is not followed: the key would land
 * wherever the link points. */
static void test_keygen_does_not_follow_symlink(void **state)
{
    fixture *f = *state;
    char *target = path_in(f, "elsewhere.key"), *link = path_in(f, "k");
    char key_id[17];

    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(jx_keygen(link, key_id, &f->err), JX_EIO);
    assert_non_null(strstr(f->err.message, "keys are never overwritten"));
    assert_int_equal(access(target, F_OK), -1);
}

static void test_keygen_bad_arguments(void **state)
{
    fixture *f = *state;
    char key_id[17];
    char *secret = path_in(f, "no-such-dir/k");

    assert_int_equal(jx_keygen(NULL, key_id, &f->err), JX_EINVAL);
    assert_string_equal(f->err.message, "jx_keygen: NULL argument");
    assert_int_equal(jx_keygen(secret, NULL, &f->err), JX_EINVAL);
    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    assert_non_null(strstr(f->err.message, "cannot create: No such file or "
                                           "directory"));
}

/* The key id keygen announces is the one seals name, and the pair seals
 * jobs that verify. */
static void test_keygen_key_id_in_seal(void **state)
{
    fixture *f = *state;
    char *secret = path_in(f, "ev.key"), *public = path_in(f, "ev.key.pub");
    char key_id[17];
    unsigned char pk[32];
    seal s;
    char *line;

    assert_int_equal(jx_keygen(secret, key_id, &f->err), 0);
    read_key_file(public, PUBLIC_TAG, pk);
    make_executor(f, secret);
    run_job(f, TU_JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, TU_JOB, &s);
    free(line);
    assert_string_equal(s.key_id, key_id);
    check_signed_seal(f->log_path, FINISHED_LINE(1), TU_JOB, pk, NULL,
                      FINISHED_LINE(1) - 1);
    assert_all_valid(f, public, 1);
}

static void test_cli_keygen(void **state)
{
    fixture *f = *state;
    char *secret = path_in(f, "cli.key"), *want;
    char *public = path_in(f, "cli.key.pub");
    const char *argv[] = {TU_JOBEXEC, "keygen", secret, NULL};
    unsigned char pk[32];
    char key_id[17];
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    read_key_file(public, PUBLIC_TAG, pk);
    key_id_of(pk, key_id);
    want = fmt(f, "secret key: %s\npublic key: %s.pub\n"
               "key id: %s\n",
               secret, secret, key_id);
    assert_string_equal(p.out, want);
    assert_int_equal(mode_of(secret), 0600);
    assert_int_equal(mode_of(public), 0644);
    check_pair(secret, key_id);
    tu_proc_free(&p);
}

static void test_cli_keygen_missing_file(void **state)
{
    const char *argv[] = {TU_JOBEXEC, "keygen", NULL};
    tu_proc p;

    (void)state;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_string_equal(p.err, "jobexec: missing FILE (where to write the "
                               "secret key)\nTry 'jobexec keygen --help' "
                               "for more information.\n");
    tu_proc_free(&p);
}

static void test_cli_keygen_two_files(void **state)
{
    fixture *f = *state;
    char *a = path_in(f, "a.key"), *b = path_in(f, "b.key");
    const char *argv[] = {TU_JOBEXEC, "keygen", a, b, NULL};
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_string_equal(p.err, fmt(f, "jobexec: unexpected argument '%s'\n"
                                      "Try 'jobexec keygen --help' for "
                                      "more information.\n",
                                   b));
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(access(b, F_OK), -1);
    tu_proc_free(&p);
}

static void test_cli_keygen_existing_file(void **state)
{
    fixture *f = *state;
    char *secret = write_file(f, "k", "precious\n", 0600), *want;
    const char *argv[] = {TU_JOBEXEC, "keygen", secret, NULL};
    char *text;
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt(f, "jobexec: %s: cannot create: File exists "
               "(keys are never overwritten)\n",
               secret);
    assert_string_equal(p.err, want);
    text = tu_read(secret);
    assert_string_equal(text, "precious\n");
    free(text);
    tu_proc_free(&p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_keygen_modes_umask_0),
        T(test_keygen_modes_umask_077),
        T(test_keygen_pairs_differ),
        T(test_keygen_never_overwrites_secret),
        T(test_keygen_never_overwrites_public),
        T(test_keygen_does_not_follow_symlink),
        T(test_keygen_bad_arguments),
        T(test_keygen_key_id_in_seal),
        T(test_cli_keygen),
        T(test_cli_keygen_missing_file),
        T(test_cli_keygen_two_files),
        T(test_cli_keygen_existing_file),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
