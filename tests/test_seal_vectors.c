/*
 * test_seal_vectors.c - the key file formats against the RFC 8032 section
 * 7.1 test vectors: libsodium itself on the vectors, then secret key files
 * holding their seeds sealing jobs (one passing, one failing, in one log)
 * whose signatures are exactly the vectors' and verify with public key
 * files holding their keys; and the seal of a job without steps.
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
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "seal_util.h"

/* ---- 1. RFC 8032 vectors ------------------------------------------------ */

/* libsodium itself against the RFC: the seed maps to the public key and
 * signs the message into the RFC's signature. */
static void check_libsodium_on(const rfc_vector *v)
{
    unsigned char seed[32], pk[32], want_pk[32];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES], want_sig[crypto_sign_BYTES];
    unsigned char *msg = malloc(strlen(v->msg) / 2 + 1);
    size_t msg_len;

    assert_non_null(msg);
    assert_int_equal(unhex(v->seed, seed, sizeof seed), 32);
    assert_int_equal(unhex(v->pk, want_pk, sizeof want_pk), 32);
    assert_int_equal(unhex(v->sig, want_sig, sizeof want_sig), 64);
    msg_len = unhex(v->msg, msg, strlen(v->msg) / 2 + 1);
    assert_int_equal(msg_len, strlen(v->msg) / 2);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_memory_equal(pk, want_pk, 32);
    assert_int_equal(crypto_sign_detached(sig, NULL, msg, msg_len, sk), 0);
    assert_memory_equal(sig, want_sig, sizeof sig);
    assert_int_equal(crypto_sign_verify_detached(want_sig, msg, msg_len,
                                                 want_pk),
                     0);
    free(msg);
}

static void test_rfc8032_vectors_in_libsodium(void **state)
{
    unsigned char abc[crypto_hash_sha512_BYTES], msg[64];

    (void)state;
    check_libsodium_on(&rfc_test1);
    check_libsodium_on(&rfc_test2);
    check_libsodium_on(&rfc_test3);
    check_libsodium_on(&rfc_test1024);
    assert_int_equal(strlen(rfc_test1024.msg), 2 * 1023);
    check_libsodium_on(&rfc_test_sha_abc);
    crypto_hash_sha512(abc, (const unsigned char *)"abc", 3);
    unhex(rfc_test_sha_abc.msg, msg, sizeof msg);
    assert_memory_equal(abc, msg, sizeof abc);
}

/* A secret key file holding the RFC's seed seals jobs that verify with a
 * public key file holding the RFC's public key: the file formats are the
 * RFC's keys in hex.  Two jobs (one failing) share the log. */
static void test_rfc8032_key_files_seal_jobs(void **state)
{
    fixture *f = *state;
    const rfc_vector *v = f->vec;
    unsigned char seed[32], pk[32], sk[crypto_sign_SECRETKEYBYTES];
    char *secret = write_key(f, "rfc.key", SECRET_TAG, v->seed, 0600);
    char *public = write_key(f, "rfc.key.pub", PUBLIC_TAG, v->pk, 0644);

    print_message("%s\n", v->name);
    unhex(v->seed, seed, sizeof seed);
    unhex(v->pk, pk, sizeof pk);
    crypto_sign_seed_keypair(pk, sk, seed);

    make_executor(f, secret);
    run_job(f, TU_JOB, 2, 0);
    run_job(f, TU_JOB2, 3, 1);
    assert_int_equal(tu_count_lines(f->log_path),
                     FINISHED_LINE(2) + FINISHED_LINE(3));
    check_signed_seal(f->log_path, FINISHED_LINE(2), TU_JOB, pk, sk,
                      FINISHED_LINE(2) - 1);
    check_signed_seal(f->log_path, FINISHED_LINE(2) + FINISHED_LINE(3), TU_JOB2,
                      pk, sk, FINISHED_LINE(3) - 1);
    assert_all_valid(f, public, 2);
    assert_string_equal(reports.r[0].job_id, TU_JOB);
    assert_int_equal(reports.r[0].records, FINISHED_LINE(2));
    assert_string_equal(reports.r[1].job_id, TU_JOB2);
    assert_int_equal(reports.r[1].records, FINISHED_LINE(3));
    sodium_memzero(sk, sizeof sk);
}

/* A job without steps is sealed at seq 1. */
static void test_seal_of_empty_job(void **state)
{
    fixture *f = *state;
    unsigned char pk[32];
    char *secret = write_key(f, "k", SECRET_TAG, rfc_test2.seed, 0600);
    char *public = write_key(f, "k.pub", PUBLIC_TAG, rfc_test2.pk, 0644);

    unhex(rfc_test2.pk, pk, sizeof pk);
    make_executor(f, secret);
    run_job(f, TU_JOB, 0, 0);
    assert_int_equal(tu_count_lines(f->log_path), 2);
    check_signed_seal(f->log_path, 2, TU_JOB, pk, NULL, 1);
    assert_all_valid(f, public, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
#define V(vec)                                                                \
    cmocka_unit_test_prestate_setup_teardown(                                 \
        test_rfc8032_key_files_seal_jobs, fx_setup, fx_teardown,              \
        (void *)&(vec))
    const struct CMUnitTest tests[] = {
        T(test_rfc8032_vectors_in_libsodium),
        V(rfc_test1),
        V(rfc_test2),
        V(rfc_test3),
        V(rfc_test1024),
        V(rfc_test_sha_abc),
        T(test_seal_of_empty_job),
    };
#undef V
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
