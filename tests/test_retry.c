/*
 * test_retry.c - retry advice: the config's retry section (every key, the
 * defaults, and every refusal with its exact "NAME:LINE:COL: reason");
 * jx_retry_advise() against delays computed by hand for each strategy,
 * jitter bounds, the cap, max_retries, retryable_errors patterns, its
 * refusals, and the same answer for the same arguments; and the executor,
 * which never retries whatever the policy says.
 */
#include "config.h"

#include <math.h>
#include <regex.h>
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

#include "fixture.h"
#include "input/config_file.h"

#define NAME "jobexec.yaml"
/* 2026-11-28T14:11:20Z, and a quarter second on: exact in binary. */
#define NOW 1795875080.25
#define AT(hms, frac) "2026-11-28T" hms "." frac "+00:00"

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    jx_config *cfg;
    jx_config *cfg2; /* a config that should have been refused */
    jx_error err;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    jx_config_free(f->cfg2);
    tu_rec_hook = NULL;
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


/* ---- jx_retry_advise ---------------------------------------------------- */

/* The config of text (a retry section, in flow form), into f->cfg. */
static const jx_config *policy(fixture *f, const char *text)
{
    char *yaml;
    int rc;

    assert_true(asprintf(&yaml, "retry: %s\n", text) > 0);
    jx_config_free(f->cfg);
    f->cfg = NULL;
    rc = jx_config_parse(yaml, strlen(yaml), NAME, "/plugins", &f->cfg,
                         &f->err);
    free(yaml);
    if (rc != 0)
        fail_msg("config: %s", f->err.message);
    return f->cfg;
}

static jx_retry_advice advise(const jx_config *cfg, unsigned attempt,
                              const char *error, double now, double random01)
{
    jx_retry_advice a;
    jx_error err = {0, ""};

    if (jx_retry_advise(cfg, attempt, error, now, random01, &a, &err) != 0)
        fail_msg("jx_retry_advise: %s", err.message);
    return a;
}

/* The delay for attempt n, which must be a retry. */
static double delay_of(const jx_config *cfg, unsigned n, double random01)
{
    jx_retry_advice a = advise(cfg, n, "Step 0 failed: Boom", NOW, random01);

    if (!a.should_retry)
        fail_msg("attempt %u: no retry: %s", n, a.reason);
    assert_int_equal(a.attempt, n);
    return a.delay_seconds;
}

/* Delays for attempts 1.., hand-computed, with base 2 and no jitter; the
 * last one or two past the cap of 100. */
static void assert_delays(fixture *f, const char *strategy,
                          const double *want, const unsigned *at, size_t n)
{
    char text[160];
    const jx_config *cfg;

    snprintf(text, sizeof text, "{strategy: %s, base_delay_seconds: 2, "
                                "max_delay_seconds: 100, max_retries: 1000}",
             strategy);
    cfg = policy(f, text);
    for (size_t i = 0; i < n; i++) {
        double got = delay_of(cfg, at[i], 0);
        if (got != want[i])
            fail_msg("%s, attempt %u: delay %.17g, expected %.17g", strategy,
                     at[i], got, want[i]);
        assert_string_equal(advise(cfg, at[i], "x", NOW, 0).strategy,
                            strategy);
    }
}

static void test_advise_fixed(void **state)
{
    static const unsigned at[] = {1, 2, 3, 7, 1000};
    static const double want[] = {2, 2, 2, 2, 2};
    assert_delays(*state, "fixed", want, at, 5);
}

static void test_advise_linear(void **state)
{
    static const unsigned at[] = {1, 2, 3, 4, 50, 51, 1000};
    static const double want[] = {2, 4, 6, 8, 100, 100, 100};
    assert_delays(*state, "linear", want, at, 7);
}

static void test_advise_exponential(void **state)
{
    static const unsigned at[] = {1, 2, 3, 4, 5, 6, 7, 8, 1000};
    static const double want[] = {2, 4, 8, 16, 32, 64, 100, 100, 100};
    assert_delays(*state, "exponential", want, at, 9);
}

static void test_advise_fibonacci(void **state)
{
    /* F: 1, 1, 2, 3, 5, 8, 13, 21, 34, 55 */
    static const unsigned at[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000};
    static const double want[] = {2, 2, 4, 6, 10, 16, 26, 42, 68, 100, 100};
    assert_delays(*state, "fibonacci", want, at, 11);
}

/* Growth stops at the cap, at the largest attempt max_retries allows;
 * below the cap nothing is cut short, however small the base. */
static void test_advise_large_attempts(void **state)
{
    fixture *f = *state;
    const jx_config *cfg;

    cfg = policy(f, "{strategy: linear, max_delay_seconds: 604800, "
                    "max_retries: 1000}");
    assert_true(delay_of(cfg, 1000, 0) == 1000.0);
    cfg = policy(f, "{strategy: exponential, max_delay_seconds: 604800, "
                    "max_retries: 1000}");
    assert_true(delay_of(cfg, 20, 0) == 524288.0); /* 2^19 */
    assert_true(delay_of(cfg, 21, 0) == 604800.0);
    assert_true(delay_of(cfg, 1000, 0) == 604800.0);
    cfg = policy(f, "{strategy: fibonacci, max_delay_seconds: 604800, "
                    "max_retries: 1000}");
    assert_true(delay_of(cfg, 30, 0) == 604800.0); /* F(30) = 832040 */
    assert_true(delay_of(cfg, 29, 0) == 514229.0); /* F(29) */
    assert_true(delay_of(cfg, 1000, 0) == 604800.0);
    /* 1e-300 doubled 999 times: exact, and far below the cap. */
    cfg = policy(f, "{strategy: exponential, base_delay_seconds: 1e-300, "
                    "max_delay_seconds: 604800, max_retries: 1000}");
    assert_true(delay_of(cfg, 1000, 0) == 1e-300 * 0x1p999);
}

/* delay * (1 - jitter + 2 * jitter * random01): random01 0 gives the low
 * end, 0.5 the delay itself, just under 1 just under the high end; the
 * cap holds after jitter too. */
static void test_advise_jitter_bounds(void **state)
{
    fixture *f = *state;
    const jx_config *cfg = policy(f, "{base_delay_seconds: 10, "
                                     "max_delay_seconds: 300, jitter: 0.5, "
                                     "max_retries: 10}");
    const double almost = 0.9999999999;

    /* Attempt 2: 20 s, spread over [10, 30). */
    assert_true(delay_of(cfg, 2, 0) == 10.0);
    assert_true(delay_of(cfg, 2, 0.5) == 20.0);
    assert_float_equal(delay_of(cfg, 2, 0.999), 20 * 1.499, 1e-9);
    assert_true(delay_of(cfg, 2, almost) < 30.0);
    assert_float_equal(delay_of(cfg, 2, almost), 30.0, 1e-6);
    /* Attempt 5: 160 s, up to 240. */
    assert_float_equal(delay_of(cfg, 5, 0.25), 160 * 0.75, 1e-9);
    assert_float_equal(delay_of(cfg, 5, 0.999), 160 * 1.499, 1e-9);
    /* Attempt 6: 320 s capped at 300, jittered down, never above 300. */
    assert_true(delay_of(cfg, 6, 0) == 150.0);
    assert_true(delay_of(cfg, 6, 0.5) == 300.0);
    assert_true(delay_of(cfg, 6, almost) == 300.0);

    /* Jitter 1: anything from 0 up to twice the delay. */
    cfg = policy(f, "{strategy: fixed, base_delay_seconds: 4, jitter: 1}");
    assert_true(delay_of(cfg, 1, 0) == 0.0);
    assert_true(delay_of(cfg, 1, 0.25) == 2.0);
    assert_true(delay_of(cfg, 1, 0.75) == 6.0);
    /* Jitter 0: random01 changes nothing. */
    cfg = policy(f, "{strategy: fixed, base_delay_seconds: 4}");
    assert_true(delay_of(cfg, 1, 0) == 4.0);
    assert_true(delay_of(cfg, 1, almost) == 4.0);
}

/* now + delay, in the evidence's form, to the microsecond. */
static void test_advise_next_attempt_at(void **state)
{
    fixture *f = *state;
    const jx_config *cfg = policy(f, "{strategy: fixed, "
                                     "base_delay_seconds: 90.5}");
    jx_retry_advice a = advise(cfg, 1, "x", NOW, 0);

    assert_string_equal(a.next_attempt_at, AT("14:12:50", "750000"));
    a = advise(cfg, 1, "x", 1795875080.000001, 0);
    assert_string_equal(a.next_attempt_at, AT("14:12:50", "500001"));
    /* 0.4999996 rounds up to the next second. */
    a = advise(cfg, 1, "x", 1795875080.4999996, 0);
    assert_string_equal(a.next_attempt_at, AT("14:12:51", "000000"));
    a = advise(NULL, 1, "x", 0, 0);
    assert_string_equal(a.next_attempt_at, "1970-01-01T00:00:01.000000+00:00");
}

/* Attempts up to max_retries are retried; the next one is not. */
static void test_advise_max_retries(void **state)
{
    fixture *f = *state;
    const jx_config *cfg = policy(f, "{strategy: fixed}");
    jx_retry_advice a = advise(cfg, 3, "x", NOW, 0.5);

    assert_int_equal(a.should_retry, 1);
    assert_string_equal(a.reason, "attempt 3 failed: retry 3 of up to 3; "
                                  "every error is retryable (no "
                                  "retryable_errors)");
    a = advise(cfg, 4, "x", NOW, 0.5);
    assert_int_equal(a.should_retry, 0);
    assert_true(a.delay_seconds == 0.0);
    assert_int_equal(a.attempt, 4);
    assert_string_equal(a.next_attempt_at, "");
    assert_string_equal(a.strategy, "fixed");
    assert_string_equal(a.reason, "attempt 4 failed: max_retries (3) "
                                  "reached");
    a = advise(cfg, 4294967295u, "x", NOW, 0.5);
    assert_int_equal(a.should_retry, 0);
    assert_string_equal(a.reason, "attempt 4294967295 failed: max_retries "
                                  "(3) reached");

    cfg = policy(f, "{max_retries: 0}");
    a = advise(cfg, 1, "x", NOW, 0);
    assert_int_equal(a.should_retry, 0);
    assert_string_equal(a.reason, "attempt 1 failed: max_retries (0) "
                                  "reached");
}

static void test_advise_patterns(void **state)
{
    fixture *f = *state;
    const jx_config *cfg = policy(
        f, "{retryable_errors: [\"timed out\", "
           "\"^Step [0-9]+ failed: connection\"]}");
    jx_retry_advice a;

    a = advise(cfg, 2, "Step 1 failed: timed out after 30 s", NOW, 0);
    assert_int_equal(a.should_retry, 1);
    assert_true(a.delay_seconds == 2.0);
    assert_string_equal(a.reason, "attempt 2 failed: retry 2 of up to 3; "
                                  "the error matches 'timed out'");
    a = advise(cfg, 1, "Step 12 failed: connection refused", NOW, 0);
    assert_int_equal(a.should_retry, 1);
    assert_string_equal(a.reason, "attempt 1 failed: retry 1 of up to 3; "
                                  "the error matches '^Step [0-9]+ failed: "
                                  "connection'");
    /* Both match: the first in the config's order is named. */
    a = advise(cfg, 1, "Step 1 failed: connection timed out", NOW, 0);
    assert_string_equal(a.reason, "attempt 1 failed: retry 1 of up to 3; "
                                  "the error matches 'timed out'");
    /* Neither: the anchor holds, case counts. */
    static const char *const others[] = {
        "Step 1 failed: Boom", "see Step 1 failed: connection refused",
        "Step 1 failed: Timed Out", ""};
    for (size_t i = 0; i < 4; i++) {
        a = advise(cfg, 1, others[i], NOW, 0);
        assert_int_equal(a.should_retry, 0);
        assert_true(a.delay_seconds == 0.0);
        assert_string_equal(a.next_attempt_at, "");
        assert_string_equal(a.reason, "attempt 1 failed: the error matches "
                                      "no retryable_errors pattern");
    }
    /* The pattern is looked at first, then max_retries. */
    a = advise(cfg, 9, "Step 1 failed: Boom", NOW, 0);
    assert_string_equal(a.reason, "attempt 9 failed: the error matches no "
                                  "retryable_errors pattern");
    a = advise(cfg, 9, "timed out", NOW, 0);
    assert_string_equal(a.reason, "attempt 9 failed: max_retries (3) "
                                  "reached");
}

/* A reason too long for its field is cut between characters, never
 * inside one: it stays UTF-8. */
static void test_advise_long_pattern(void **state)
{
    fixture *f = *state;

    for (size_t odd = 0; odd < 2; odd++) {
        char pattern[512], text[600];
        jx_retry_advice a;
        json_t *s;
        size_t n = 0;

        if (odd)
            pattern[n++] = 'x';
        for (size_t i = 0; i < 200; i++, n += 2)
            memcpy(pattern + n, "\xc3\xa9", 2); /* U+00E9 */
        pattern[n] = '\0';
        snprintf(text, sizeof text, "{retryable_errors: [\"%s\"]}", pattern);
        policy(f, text);
        a = advise(f->cfg, 1, pattern, NOW, 0); /* it matches itself */
        assert_int_equal(a.should_retry, 1);
        assert_true(strlen(a.reason) >= sizeof a.reason - 2);
        s = json_string(a.reason); /* NULL when not UTF-8 */
        assert_non_null(s);
        json_decref(s);
    }
}

/* No patterns: every error is retryable, the empty one too. */
static void test_advise_no_patterns(void **state)
{
    fixture *f = *state;
    static const char *const errors[] = {"Step 0 failed: Boom", "",
                                         "anything\nat all"};

    policy(f, "{retryable_errors: []}");
    for (size_t i = 0; i < 3; i++) {
        jx_retry_advice a = advise(f->cfg, 1, errors[i], NOW, 0);
        assert_int_equal(a.should_retry, 1);
        assert_string_equal(a.reason, "attempt 1 failed: retry 1 of up to "
                                      "3; every error is retryable (no "
                                      "retryable_errors)");
    }
}

/* cfg NULL, or a config without a retry section: the defaults. */
static void test_advise_defaults(void **state)
{
    static const double want[] = {1, 2, 4};
    fixture *f = *state;

    parse_ok(f, "plugins: []\n");
    for (unsigned n = 1; n <= 4; n++) {
        jx_retry_advice a = advise(NULL, n, "Boom", NOW, 0.9);
        jx_retry_advice b = advise(f->cfg, n, "Boom", NOW, 0.9);
        assert_string_equal(a.strategy, "exponential");
        assert_int_equal(a.should_retry, n <= 3);
        assert_true(a.delay_seconds == (n <= 3 ? want[n - 1] : 0.0));
        assert_int_equal(b.should_retry, a.should_retry);
        assert_true(b.delay_seconds == a.delay_seconds);
        assert_string_equal(b.next_attempt_at, a.next_attempt_at);
        assert_string_equal(b.reason, a.reason);
    }
}

static void assert_same_advice(const jx_retry_advice *a,
                               const jx_retry_advice *b)
{
    assert_int_equal(a->should_retry, b->should_retry);
    assert_true(a->delay_seconds == b->delay_seconds);
    assert_int_equal(a->attempt, b->attempt);
    assert_string_equal(a->next_attempt_at, b->next_attempt_at);
    assert_ptr_equal(a->strategy, b->strategy);
    assert_string_equal(a->reason, b->reason);
}

/* The same arguments give the same advice, whatever was asked between. */
static void test_advise_pure(void **state)
{
    fixture *f = *state;
    const jx_config *cfg = policy(f, "{strategy: fibonacci, jitter: 0.3, "
                                     "retryable_errors: [timed]}");
    jx_retry_advice first = advise(cfg, 3, "timed out", NOW, 0.42);
    jx_retry_advice again;

    advise(cfg, 2, "Boom", NOW + 5, 0.1);
    advise(cfg, 9, "timed out", NOW, 0.9);
    advise(NULL, 1, "timed out", 0, 0);
    again = advise(cfg, 3, "timed out", NOW, 0.42);
    assert_same_advice(&first, &again);
    /* F(3) = 2 s, jittered by 0.7 + 0.6 * 0.42. */
    assert_float_equal(first.delay_seconds, 2 * (0.7 + 0.6 * 0.42), 1e-12);
}

static void advise_fails(const jx_config *cfg, unsigned attempt,
                         const char *error, double now, double random01,
                         const char *message)
{
    jx_retry_advice a;
    jx_error err = {0, ""};

    memset(&a, 0xa5, sizeof a);
    assert_int_equal(jx_retry_advise(cfg, attempt, error, now, random01, &a,
                                     &err),
                     JX_EINVAL);
    assert_int_equal(err.code, JX_EINVAL);
    assert_string_equal(err.message, message);
    if (error != NULL) { /* out was given: zeroed */
        assert_int_equal(a.should_retry, 0);
        assert_int_equal(a.attempt, 0);
        assert_null(a.strategy);
        assert_string_equal(a.reason, "");
    }
}

static void test_advise_refusals(void **state)
{
    jx_error err = {0, ""};
    (void)state;

    advise_fails(NULL, 0, "x", NOW, 0,
                 "retry advice: attempt must be 1 or more (the attempt that "
                 "failed)");
    advise_fails(NULL, 1, NULL, NOW, 0,
                 "retry advice: out and error must not be NULL");
    assert_int_equal(jx_retry_advise(NULL, 1, "x", NOW, 0, NULL, &err),
                     JX_EINVAL);
    assert_string_equal(err.message,
                        "retry advice: out and error must not be NULL");
    advise_fails(NULL, 1, "x", -1, 0,
                 "retry advice: now must be seconds since the epoch, from 0 "
                 "to 253402300799, found -1");
    advise_fails(NULL, 1, "x", 253402300800.0, 0,
                 "retry advice: now must be seconds since the epoch, from 0 "
                 "to 253402300799, found 2.53402e+11");
    advise_fails(NULL, 1, "x", NAN, 0,
                 "retry advice: now must be seconds since the epoch, from 0 "
                 "to 253402300799, found nan");
    advise_fails(NULL, 1, "x", NOW, 1,
                 "retry advice: random01 must be at least 0 and less than 1, "
                 "found 1");
    advise_fails(NULL, 1, "x", NOW, -0.5,
                 "retry advice: random01 must be at least 0 and less than 1, "
                 "found -0.5");
    advise_fails(NULL, 1, "x", NOW, NAN,
                 "retry advice: random01 must be at least 0 and less than 1, "
                 "found nan");
    /* err may be NULL, as everywhere. */
    assert_int_equal(jx_retry_advise(NULL, 0, "x", NOW, 0, NULL, NULL),
                     JX_EINVAL);
}

/* ---- the executor never retries ----------------------------------------- */

static unsigned rec_calls;

static void count_call(const jx_host_v1 *host, const jx_step *step)
{
    (void)host;
    (void)step;
    rec_calls++;
}

/* A policy that would retry the failure changes nothing: the failing
 * handler is called once, the job ends FAILED, and only asking gives
 * advice. */
static void test_executor_runs_once(void **state)
{
    fixture *f = *state;
    jx_retry_advice a;

    policy(f, "{strategy: fixed, base_delay_seconds: 1, max_retries: 1000, "
              "retryable_errors: [refused]}");
    rec_calls = 0;
    tu_rec_hook = count_call;
    tu_executor(f->cfg, &tu_rec_handler, &f->ex, &f->err);
    tu_plan_steps(&f->plan, &f->err, TU_JOB, 1, "fail", -1, NULL);
    tu_run_job(f->ex, f->plan, NULL, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "Step 0 failed: refused by the target");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(rec_calls, 1);

    /* The advice says to retry; still nothing more ran. */
    a = advise(f->cfg, 1, jx_result_reason(f->res), NOW, 0);
    assert_int_equal(a.should_retry, 1);
    assert_string_equal(a.reason, "attempt 1 failed: retry 1 of up to "
                                  "1000; the error matches 'refused'");
    assert_int_equal(rec_calls, 1);
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
        T(test_advise_fixed),
        T(test_advise_linear),
        T(test_advise_exponential),
        T(test_advise_fibonacci),
        T(test_advise_large_attempts),
        T(test_advise_jitter_bounds),
        T(test_advise_next_attempt_at),
        T(test_advise_max_retries),
        T(test_advise_patterns),
        T(test_advise_long_pattern),
        T(test_advise_no_patterns),
        T(test_advise_defaults),
        T(test_advise_pure),
        T(test_advise_refusals),
        T(test_executor_runs_once),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
