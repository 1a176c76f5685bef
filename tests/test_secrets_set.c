/*
 * test_secrets_set.c - the set of secret values (core/input/secrets.c):
 * a value kept once, the leftmost and then longest secret found, endings
 * that begin a secret, secrets that share a bucket, a set of 100,000, and
 * every answer checked against comparing each secret in turn; and JSON
 * values redacted by copying only what changes.
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

#include "input/plan.h"
#include "input/redact.h"
#include "input/secrets.h"

static int setup(void **state)
{
    jx__secrets *set = calloc(1, sizeof *set);

    *state = set;
    return set == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    jx__secrets_free(*state);
    free(*state);
    return 0;
}

/* Where the set finds a secret in s: its offset, or -1; *len its length. */
static long find(const jx__secrets *set, const char *s, size_t *len)
{
    const char *at = jx__secrets_find(set, s, strlen(s), len);

    return at != NULL ? (long)(at - s) : -1;
}

static void test_keeps_a_value_once(void **state)
{
    jx__secrets *set = *state;

    assert_int_equal(jx__secrets_add(set, "hunter2"), 1);
    assert_int_equal(jx__secrets_add(set, "hunter2"), 0);
    assert_int_equal(jx__secrets_add(set, "hunter"), 1);
    assert_int_equal(jx__secrets_add(set, "hunter22"), 1);
    assert_int_equal(jx__secrets_add(set, ""), 0);
    assert_int_equal(set->n, 3);
    assert_string_equal(set->items[1].text, "hunter2");
    assert_int_equal(set->items[1].len, 7);
    assert_int_equal(set->max_len, 8);
}

static void test_empty_set_finds_nothing(void **state)
{
    jx__secrets *set = *state;
    size_t len = 99;

    assert_int_equal(find(set, "anything", &len), -1);
    assert_int_equal(len, 99);
    assert_int_equal(jx__secrets_start_at_end(set, "anything", 8), 0);
}

/* Leftmost first; at one place, the longest. */
static void test_finds_leftmost_then_longest(void **state)
{
    jx__secrets *set = *state;
    size_t len = 0;

    assert_int_equal(jx__secrets_add(set, "abc"), 1);
    assert_int_equal(jx__secrets_add(set, "xxabcxx"), 1);
    assert_int_equal(jx__secrets_add(set, "abcd"), 1);
    assert_int_equal(jx__secrets_add(set, "d"), 1);
    assert_int_equal(find(set, "1 xxabcxx", &len), 2);
    assert_int_equal(len, 7);
    assert_int_equal(find(set, "1 abcde", &len), 2);
    assert_int_equal(len, 4);
    assert_int_equal(find(set, "1 abcxx", &len), 2);
    assert_int_equal(len, 3);
    /* "d" is further left than any "abc". */
    assert_int_equal(find(set, "d abc", &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(find(set, "ab ac bc", &len), -1);
    /* A secret that would run past the end is not there. */
    assert_int_equal(find(set, "xxabcx", &len), 2);
    assert_int_equal(len, 3);
}

/* Secrets of JX__SECRET_KEY bytes or more that begin alike share a
 * bucket: the longest that fits is found. */
static void test_secrets_sharing_a_bucket(void **state)
{
    jx__secrets *set = *state;
    size_t len = 0;

    assert_int_equal(jx__secrets_add(set, "prefix00"), 1);
    assert_int_equal(jx__secrets_add(set, "prefix00AAAA"), 1);
    assert_int_equal(jx__secrets_add(set, "prefix00AA"), 1);
    assert_int_equal(jx__secrets_add(set, "prefix0"), 1);
    assert_int_equal(set->used, 2); /* keys "prefix00" and "prefix0" */
    assert_int_equal(find(set, "..prefix00AAAAB", &len), 2);
    assert_int_equal(len, 12);
    assert_int_equal(find(set, "..prefix00AAB", &len), 2);
    assert_int_equal(len, 10);
    assert_int_equal(find(set, "..prefix00AB", &len), 2);
    assert_int_equal(len, 8);
    assert_int_equal(find(set, "..prefix01", &len), 2);
    assert_int_equal(len, 7);
    assert_int_equal(find(set, "..prefix", &len), -1);
}

/* The endings that begin a secret: what a text cut short may end with. */
static void test_endings_that_begin_a_secret(void **state)
{
    jx__secrets *set = *state;

    assert_int_equal(jx__secrets_add(set, "abcdefghijklmnop"), 1);
    assert_int_equal(jx__secrets_add(set, "xyz"), 1);
    assert_int_equal(jx__secrets_start_at_end(set, "..abcdefghij", 12), 10);
    assert_int_equal(jx__secrets_start_at_end(set, "..abcdefgh", 10), 8);
    assert_int_equal(jx__secrets_start_at_end(set, "..abcdefg", 9), 7);
    assert_int_equal(jx__secrets_start_at_end(set, "..a", 3), 1);
    assert_int_equal(jx__secrets_start_at_end(set, "..xy", 4), 2);
    /* A whole secret at the end is not the start of one. */
    assert_int_equal(jx__secrets_start_at_end(set, "..xyz", 5), 0);
    assert_int_equal(jx__secrets_start_at_end(set, "abcdefghijklmnop", 16),
                     0);
    assert_int_equal(jx__secrets_start_at_end(set, "abcdefghijklmno", 15),
                     15);
    assert_int_equal(jx__secrets_start_at_end(set, "..b", 3), 0);
    assert_int_equal(jx__secrets_start_at_end(set, "", 0), 0);
}

/* 100,000 secrets, as a plan with a token in each step holds: every one
 * is found where it stands, and a text of none finds nothing. */
static void test_a_hundred_thousand_secrets(void **state)
{
    enum { N = 100000 };
    jx__secrets *set = *state;
    char secret[32], text[64];
    size_t len = 0;

    for (unsigned i = 0; i < N; i++) {
        snprintf(secret, sizeof secret, "tok-%08x-%u", i * 2654435761u, i);
        assert_int_equal(jx__secrets_add(set, secret), 1);
    }
    assert_int_equal(set->n, N);
    assert_true(set->used * 2 <= set->n_buckets);
    for (unsigned i = 0; i < N; i++) {
        snprintf(text, sizeof text, "id=tok-%08x-%u.",
                 i * 2654435761u, i);
        assert_int_equal(find(set, text, &len), 3);
        /* tok-X-12 is a secret and tok-X-1 is not: no shorter match. */
        assert_int_equal(len, strlen(text) - 4);
    }
    assert_int_equal(find(set, "tok-00000000 tok-0000000x-0 tok-", &len), -1);
}

/* ---- against comparing each secret in turn ------------------------------ */

/* What redaction found before the set: for each secret strstr, the
 * earliest wins, and at one place the longest. */
static long naive_find(char **secrets, size_t n, const char *s, size_t *len)
{
    const char *best = NULL;

    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(s, secrets[i]);
        if (p != NULL && (best == NULL || p < best ||
                          (p == best && strlen(secrets[i]) > *len))) {
            best = p;
            *len = strlen(secrets[i]);
        }
    }
    return best != NULL ? (long)(best - s) : -1;
}

static size_t naive_start_at_end(char **secrets, size_t n, const char *s,
                                 size_t len)
{
    size_t best = 0;

    for (size_t i = 0; i < n; i++) {
        size_t slen = strlen(secrets[i]);
        for (size_t k = slen - 1 < len ? slen - 1 : len; k > best; k--)
            if (memcmp(s + len - k, secrets[i], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* A word of 1 to max_len letters from "ab" (many overlaps), now and then
 * from "abc". */
static void random_word(char *out, size_t max_len, unsigned *seed)
{
    size_t len = 1 + (size_t)rand_r(seed) % max_len;
    int letters = rand_r(seed) % 4 == 0 ? 3 : 2;

    for (size_t i = 0; i < len; i++)
        out[i] = (char)('a' + rand_r(seed) % letters);
    out[len] = '\0';
}

static void test_agrees_with_each_secret_in_turn(void **state)
{
    unsigned seed = 20261204;

    (void)state;
    for (int round = 0; round < 300; round++) {
        jx__secrets set = {0};
        char *secrets[24], text[64];
        size_t n = 1 + (size_t)rand_r(&seed) % 24, kept = 0;

        for (size_t i = 0; i < n; i++) {
            char word[24];
            random_word(word, 1 + (size_t)rand_r(&seed) % 20, &seed);
            if (jx__secrets_add(&set, word) == 1)
                secrets[kept++] = strdup(word);
        }
        assert_int_equal(set.n, kept);
        for (int t = 0; t < 40; t++) {
            size_t want_len = 0, got_len = 0, len;
            long want, got;

            random_word(text, sizeof text - 1, &seed);
            len = strlen(text);
            /* Every suffix, so that each place is the leftmost once. */
            for (size_t from = 0; from < len; from++) {
                want = naive_find(secrets, kept, text + from, &want_len);
                got = find(&set, text + from, &got_len);
                assert_int_equal(got, want);
                if (want >= 0)
                    assert_int_equal(got_len, want_len);
            }
            for (size_t cut = 0; cut <= len; cut++)
                assert_int_equal(jx__secrets_start_at_end(&set, text, cut),
                                 naive_start_at_end(secrets, kept, text,
                                                    cut));
        }
        for (size_t i = 0; i < kept; i++)
            free(secrets[i]);
        jx__secrets_free(&set);
    }
}

/* ---- JSON values --------------------------------------------------------- */

/* A value with no secret comes back as itself; one with a secret deep
 * inside is copied, its members in their order, what did not change
 * shared. */
static void test_json_copied_only_where_changed(void **state)
{
    jx_plan plan;
    json_t *v, *clean, *inner;
    char *text;

    (void)state;
    memset(&plan, 0, sizeof plan);
    assert_int_equal(jx__secrets_add(&plan.secrets, "s3cr3t"), 1);
    v = json_pack("{s:i, s:[s, {s:s}], s:{s:s}, s:s}", "a", 1, "b", "x",
                  "k", "the s3cr3t", "c", "e", "z", "s3cr3t", "s3cr3t");
    assert_non_null(v);
    inner = json_object_get(v, "c");

    clean = jx__redact_json(&plan, inner);
    assert_ptr_equal(clean, inner);
    assert_int_equal(inner->refcount, 2);
    json_decref(clean);

    clean = jx__redact_json(&plan, v);
    assert_ptr_not_equal(clean, v);
    text = json_dumps(clean, JSON_COMPACT);
    assert_string_equal(text, "{\"a\":1,\"b\":[\"x\",{\"k\":\"the "
                              "[REDACTED]\"}],\"c\":{\"e\":\"z\"},"
                              "\"[REDACTED]\":\"[REDACTED]\"}");
    free(text);
    assert_ptr_equal(json_object_get(clean, "c"), inner);
    assert_ptr_equal(json_array_get(json_object_get(clean, "b"), 0),
                     json_array_get(json_object_get(v, "b"), 0));
    /* The value given is not changed. */
    assert_string_equal(json_string_value(json_object_get(v, "s3cr3t")),
                        "s3cr3t");
    json_decref(clean);
    json_decref(v);
    jx__secrets_free(&plan.secrets);
}

#define ONE(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ONE(test_keeps_a_value_once),
        ONE(test_empty_set_finds_nothing),
        ONE(test_finds_leftmost_then_longest),
        ONE(test_secrets_sharing_a_bucket),
        ONE(test_endings_that_begin_a_secret),
        ONE(test_a_hundred_thousand_secrets),
        cmocka_unit_test(test_agrees_with_each_secret_in_turn),
        cmocka_unit_test(test_json_copied_only_where_changed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
