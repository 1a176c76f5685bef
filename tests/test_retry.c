/*
 * test_retry.c - retry advice: the config's retry section (every key, the
 * defaults, and every refusal with its exact "NAME:LINE:COL: reason").
 */
#include "config.h"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

#include "input/config_file.h"

#define NAME "jobexec.yaml"

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    jx_config *cfg;
    jx_config *cfg2; /* a config that should have been refused */
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_config_free(f->cfg);
    jx_config_free(f->cfg2);
    free(f);
    return 0;
}

/* Parses text into f->cfg (replacing the last one); fails the test when
 * it is refused. */
static const jx__retry_conf *parse_ok(fixture *f, const char *text)
{
    jx_config_free(f->cfg);
    f->cfg = NULL;
    if (jx_config_parse(text, strlen(text), NAME, "/plugins", &f->cfg,
                        &f->err) != 0)
        fail_msg("unexpected failure: %s", f->err.message);
    return &f->cfg->retry;
}

/* Asserts that text is refused with JX_ECONFIG and exactly message. */
static void config_fails(fixture *f, const char *text, const char *message)
{
    jx_config *cfg = (jx_config *)&cfg; /* must be reset to NULL */
    int rc;

    memset(&f->err, 0, sizeof f->err);
    rc = jx_config_parse(text, strlen(text), NAME, "/plugins", &cfg, &f->err);
    if (rc == 0)
        f->cfg2 = cfg; /* freed by the teardown */
    assert_int_equal(rc, JX_ECONFIG);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message, message);
    assert_null(cfg);
}

/* ---- the retry section -------------------------------------------------- */

static void assert_defaults(const jx__retry_conf *r)
{
    assert_int_equal(r->strategy, JX__RETRY_EXPONENTIAL);
    assert_true(r->base_delay == 1.0);
    assert_true(r->max_delay == 300.0);
    assert_true(r->jitter == 0.0);
    assert_int_equal(r->max_retries, 3);
    assert_int_equal(r->n_patterns, 0);
}

static void test_section_every_key(void **state)
{
    fixture *f = *state;
    const jx__retry_conf *r = parse_ok(
        f, "plugins: []\n"
           "retry:\n"
           "  strategy: fibonacci\n"
           "  base_delay_seconds: 0.5\n"
           "  max_delay_seconds: 60\n"
           "  jitter: 0.25\n"
           "  max_retries: 5\n"
           "  retryable_errors: [\"timed out\", "
           "\"^Step [0-9]+ failed: connection\"]\n");

    assert_int_equal(r->strategy, JX__RETRY_FIBONACCI);
    assert_true(r->base_delay == 0.5);
    assert_true(r->max_delay == 60.0);
    assert_true(r->jitter == 0.25);
    assert_int_equal(r->max_retries, 5);
    assert_int_equal(r->n_patterns, 2);
    assert_string_equal(r->pattern_texts[0], "timed out");
    assert_string_equal(r->pattern_texts[1],
                        "^Step [0-9]+ failed: connection");
}

static void test_section_each_strategy(void **state)
{
    static const char *const names[] = {"fixed", "linear", "exponential",
                                        "fibonacci"};
    static const jx__retry_strategy want[] = {
        JX__RETRY_FIXED, JX__RETRY_LINEAR, JX__RETRY_EXPONENTIAL,
        JX__RETRY_FIBONACCI};
    fixture *f = *state;

    for (size_t i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "retry: {strategy: %s}\n", names[i]);
        assert_int_equal(parse_ok(f, text)->strategy, want[i]);
    }
}

/* Absent, empty, and every key left out: the documented defaults. */
static void test_section_defaults(void **state)
{
    fixture *f = *state;

    assert_defaults(parse_ok(f, "plugins: []\n"));
    assert_defaults(parse_ok(f, "retry: {}\n"));
    assert_defaults(parse_ok(f, "retry:\n  retryable_errors: []\n"));
    assert_defaults(parse_ok(f, "retry:\n  retryable_errors:\n"));
}

/* The limits themselves are accepted. */
static void test_section_bounds(void **state)
{
    fixture *f = *state;
    const jx__retry_conf *r;

    r = parse_ok(f, "retry: {base_delay_seconds: 604800, "
                    "max_delay_seconds: 604800, jitter: 1, "
                    "max_retries: 1000}\n");
    assert_true(r->base_delay == 604800.0);
    assert_true(r->max_delay == 604800.0);
    assert_true(r->jitter == 1.0);
    assert_int_equal(r->max_retries, 1000);
    r = parse_ok(f, "retry: {base_delay_seconds: 1e-3, max_delay_seconds: "
                    "1e-3, jitter: 0, max_retries: 0}\n");
    assert_true(r->base_delay == 1e-3);
    assert_true(r->max_delay == 1e-3);
    assert_int_equal(r->max_retries, 0);
}

static void test_refuse_shape(void **state)
{
    fixture *f = *state;

    config_fails(f, "retry: exponential\n",
                 NAME ":1:8: retry must be a mapping, found a scalar");
    config_fails(f, "retry:\n",
                 NAME ":1:7: retry must be a mapping, found a scalar");
    config_fails(f, "retry:\n  strategy: fixed\n  retries: 3\n",
                 NAME ":3:3: unknown key 'retries' in retry");
    config_fails(f, "retry:\n  retryable_errors: timed out\n",
                 NAME ":2:21: retry.retryable_errors must be a sequence, "
                      "found a scalar");
}

static void test_refuse_strategy(void **state)
{
    fixture *f = *state;

    config_fails(f, "retry:\n  strategy: x\n",
                 NAME ":2:13: retry.strategy 'x' is not one of fixed, "
                      "linear, exponential, fibonacci");
    config_fails(f, "retry:\n  strategy: Exponential\n",
                 NAME ":2:13: retry.strategy 'Exponential' is not one of "
                      "fixed, linear, exponential, fibonacci");
    config_fails(f, "retry:\n  strategy: [fixed]\n",
                 NAME ":2:13: retry.strategy must be a value, found a "
                      "sequence");
}

static void test_refuse_delays(void **state)
{
    fixture *f = *state;

    config_fails(f, "retry:\n  base_delay_seconds: 0\n",
                 NAME ":2:23: retry.base_delay_seconds must be more than 0 "
                      "and at most 604800, found 0");
    config_fails(f, "retry:\n  base_delay_seconds: -1.5\n",
                 NAME ":2:23: retry.base_delay_seconds must be more than 0 "
                      "and at most 604800, found -1.5");
    config_fails(f, "retry:\n  max_delay_seconds: 604801\n",
                 NAME ":2:22: retry.max_delay_seconds must be more than 0 "
                      "and at most 604800, found 604801");
    config_fails(f, "retry:\n  max_delay_seconds: 1e999\n",
                 NAME ":2:22: retry.max_delay_seconds must be more than 0 "
                      "and at most 604800, found 1e999");
    config_fails(f, "retry:\n  base_delay_seconds: one\n",
                 NAME ":2:23: retry.base_delay_seconds must be a number");
    config_fails(f, "retry:\n  base_delay_seconds: \"1\"\n",
                 NAME ":2:23: retry.base_delay_seconds must be a number");
    config_fails(f, "retry:\n  base_delay_seconds: .inf\n",
                 NAME ":2:23: retry.base_delay_seconds must be a number");
    /* max below base: at max when it is written, else at base. */
    config_fails(f, "retry:\n  base_delay_seconds: 10\n"
                    "  max_delay_seconds: 5\n",
                 NAME ":3:22: retry.max_delay_seconds must be at least "
                      "retry.base_delay_seconds (10), found 5");
    config_fails(f, "retry:\n  max_delay_seconds: 0.5\n",
                 NAME ":2:22: retry.max_delay_seconds must be at least "
                      "retry.base_delay_seconds (1, the default), found 0.5");
    config_fails(f, "retry:\n  base_delay_seconds: 600\n",
                 NAME ":2:23: retry.base_delay_seconds must be at most "
                      "retry.max_delay_seconds (300, the default), found "
                      "600");
}

static void test_refuse_jitter_and_retries(void **state)
{
    fixture *f = *state;

    config_fails(f, "retry:\n  jitter: 1.5\n",
                 NAME ":2:11: retry.jitter must be between 0 and 1, found "
                      "1.5");
    config_fails(f, "retry:\n  jitter: -0.1\n",
                 NAME ":2:11: retry.jitter must be between 0 and 1, found "
                      "-0.1");
    config_fails(f, "retry:\n  jitter: [0.1]\n",
                 NAME ":2:11: retry.jitter must be a number");
    config_fails(f, "retry:\n  max_retries: -1\n",
                 NAME ":2:16: retry.max_retries must be between 0 and 1000, "
                      "found -1");
    config_fails(f, "retry:\n  max_retries: 1001\n",
                 NAME ":2:16: retry.max_retries must be between 0 and 1000, "
                      "found 1001");
    config_fails(f, "retry:\n  max_retries: 99999999999999999999\n",
                 NAME ":2:16: retry.max_retries must be between 0 and 1000, "
                      "found 99999999999999999999");
    config_fails(f, "retry:\n  max_retries: 2.5\n",
                 NAME ":2:16: retry.max_retries must be an integer");
}

/* What regcomp says of pattern, as the message carries it. */
static void regcomp_error(const char *pattern, char *why, size_t size)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);

    assert_int_not_equal(rc, 0);
    regerror(rc, &re, why, size);
    assert_true(why[0] != '\0');
}

static void test_refuse_patterns(void **state)
{
    fixture *f = *state;
    char why[256], want[512];

    /* The brief's example: the second pattern, on line 9, column 7. */
    regcomp_error("(unclosed", why, sizeof why);
    snprintf(want, sizeof want,
             NAME ":9:7: retry.retryable_errors[1] is not a valid regular "
                  "expression: %s", why);
    config_fails(f, "plugins: []\n"
                    "retry:\n"
                    "  strategy: linear\n"
                    "  base_delay_seconds: 2\n"
                    "  max_delay_seconds: 60\n"
                    "  max_retries: 4\n"
                    "  retryable_errors:\n"
                    "    - timed out\n"
                    "    - (unclosed\n",
                 want);
    regcomp_error("a{2,1}", why, sizeof why);
    snprintf(want, sizeof want,
             NAME ":2:22: retry.retryable_errors[0] is not a valid regular "
                  "expression: %s", why);
    config_fails(f, "retry:\n  retryable_errors: [\"a{2,1}\"]\n", want);

    config_fails(f, "retry:\n  retryable_errors: [\"\"]\n",
                 NAME ":2:22: retry.retryable_errors[0] must not be empty");
    config_fails(f, "retry:\n  retryable_errors: [x, {a: b}]\n",
                 NAME ":2:25: retry.retryable_errors[1] must be a value, "
                      "found a mapping");
    /* "a\0b" would be compiled as "a", which matches more: the reader
     * refuses it first. */
    config_fails(f, "retry:\n  retryable_errors: [\"a\\0b\"]\n",
                 NAME ":2:22: a value contains a NUL character");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_section_every_key),
        T(test_section_each_strategy),
        T(test_section_defaults),
        T(test_section_bounds),
        T(test_refuse_shape),
        T(test_refuse_strategy),
        T(test_refuse_delays),
        T(test_refuse_jitter_and_retries),
        T(test_refuse_patterns),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
