/*
 * test_sha256.c - the SHA-256 the chain, the seal and the plan digest use
 * (core/base/sha256.c), against the FIPS 180-2 vectors, through each of
 * its entry points: first with libsodium's implementation, then, once
 * much hashing is announced, with OpenSSL's.  A digest begun before the
 * switch ends right after it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/sha256.h"

typedef struct vector {
    const char *text; /* NULL: a million 'a' */
    const char *hex;
} vector;

static const vector vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

/* The vector's bytes (malloc'd) and their length. */
static char *bytes_of(const vector *v, size_t *len)
{
    char *b;

    *len = v->text != NULL ? strlen(v->text) : 1000000;
    b = malloc(*len + 1);
    assert_non_null(b);
    if (v->text != NULL)
        memcpy(b, v->text, *len + 1);
    else
        memset(b, 'a', *len);
    return b;
}

static void assert_digest(const unsigned char *d, const char *hex)
{
    char got[2 * JX__SHA256_LEN + 1];

    jx__hex(d, JX__SHA256_LEN, got);
    assert_string_equal(got, hex);
}

static void test_one_shot(void **state)
{
    unsigned char d[JX__SHA256_LEN];

    assert_string_equal(jx__sha256_implementation(), *state);
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        size_t len;
        char *b = bytes_of(&vectors[i], &len);

        assert_int_equal(jx__sha256(b, len, d), 0);
        assert_digest(d, vectors[i].hex);
        free(b);
    }
}

/* Through a context, reused digest after digest, and without one. */
static void test_with_context(void **state)
{
    jx__sha256_ctx *ctx = jx__sha256_ctx_new();
    unsigned char d[JX__SHA256_LEN];

    assert_string_equal(jx__sha256_implementation(), *state);
    assert_non_null(ctx);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
            size_t len;
            char *b = bytes_of(&vectors[i], &len);

            assert_int_equal(jx__sha256_with(ctx, b, len, d), 0);
            assert_digest(d, vectors[i].hex);
            assert_int_equal(jx__sha256_with(NULL, b, len, d), 0);
            assert_digest(d, vectors[i].hex);
            free(b);
        }
    jx__sha256_ctx_free(ctx);
}

/* In pieces of every size from 1 to 97 bytes, and as two halves. */
static void test_in_pieces(void **state)
{
    jx__sha256_ctx *ctx = jx__sha256_ctx_new();
    unsigned char d[JX__SHA256_LEN];

    assert_string_equal(jx__sha256_implementation(), *state);
    assert_non_null(ctx);
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        size_t len;
        char *b = bytes_of(&vectors[i], &len);

        for (size_t piece = 1; piece < 98; piece += 24) {
            assert_int_equal(jx__sha256_start(ctx), 0);
            for (size_t at = 0; at < len; at += piece)
                assert_int_equal(jx__sha256_update(ctx, b + at,
                                                   len - at < piece
                                                       ? len - at
                                                       : piece),
                                 0);
            assert_int_equal(jx__sha256_finish(ctx, d), 0);
            assert_digest(d, vectors[i].hex);
        }
        assert_int_equal(jx__sha256_2(b, len / 3, b + len / 3,
                                      len - len / 3, d),
                         0);
        assert_digest(d, vectors[i].hex);
        free(b);
    }
    jx__sha256_ctx_free(ctx);
}

/* Little announced: libsodium stays.  A megabyte: OpenSSL takes over,
 * and a digest begun before ends with what it began with. */
static void test_switch(void **state)
{
    jx__sha256_ctx *ctx = jx__sha256_ctx_new();
    unsigned char d[JX__SHA256_LEN];

    (void)state;
    assert_non_null(ctx);
    assert_int_equal(jx__sha256_start(ctx), 0);
    assert_int_equal(jx__sha256_update(ctx, "ab", 2), 0);
    jx__sha256_expect(((size_t)1 << 20) - 1);
    assert_string_equal(jx__sha256_implementation(), "libsodium");
    jx__sha256_expect((size_t)1 << 20);
    assert_string_equal(jx__sha256_implementation(), "openssl");
    assert_int_equal(jx__sha256_update(ctx, "c", 1), 0);
    assert_int_equal(jx__sha256_finish(ctx, d), 0);
    assert_digest(d, vectors[1].hex);
    jx__sha256_ctx_free(ctx);
}

int main(void)
{
    static char sodium[] = "libsodium", ossl[] = "openssl";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_one_shot, sodium),
        cmocka_unit_test_prestate(test_with_context, sodium),
        cmocka_unit_test_prestate(test_in_pieces, sodium),
        cmocka_unit_test(test_switch),
        cmocka_unit_test_prestate(test_one_shot, ossl),
        cmocka_unit_test_prestate(test_with_context, ossl),
        cmocka_unit_test_prestate(test_in_pieces, ossl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
