/*
 * test_cli_retry.c - `jobexec retry-advice` end to end: its help, the
 * advice as lines and as JSON (a retry, max_retries reached, an error no
 * pattern matches, jitter within its bounds, next_attempt_at from the
 * clock, the default config's policy), escaped text, and every refusal
 * (usage, config) with its exact message and exit status.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

#define TRY_RETRY "Try 'jobexec retry-advice --help' for more information.\n"

#define RETRY_USAGE                                                          \
    "Usage: jobexec retry-advice --attempt N --error TEXT [--config FILE] "  \
    "[--json]\n"                                                             \
    "Advise whether to retry work whose attempt N failed with the error "    \
    "TEXT (a\nstep's error, or a job's final_reason), and when, by the "     \
    "config's retry\nsection.  jobexec itself never retries: a worker that " \
    "takes the advice\ncreates a new job.\n"                                 \
    "\n"                                                                     \
    "Options:\n"                                                             \
    "  -a, --attempt N     the attempt that failed, from 1 (required)\n"     \
    "  -e, --error TEXT    its error text (required)\n"                      \
    "  -c, --config FILE   the config to take the policy from\n"             \
    "      --json          one JSON object instead of lines\n"               \
    "\n"                                                                     \
    "The policy (config section retry:, every key optional):\n"              \
    "  strategy            fixed | linear | exponential (default) | "        \
    "fibonacci:\n"                                                           \
    "                      a delay of base, base*N, base*2^(N-1) or "        \
    "base*F(N)\n"                                                            \
    "  base_delay_seconds  base, more than 0 (default 1)\n"                  \
    "  max_delay_seconds   the cap, at least base, at most 604800 "          \
    "(default 300)\n"                                                        \
    "  jitter              0 to 1 (default 0): the delay times 1-jitter to " \
    "1+jitter\n"                                                             \
    "  max_retries         0 to 1000 (default 3): attempts up to it are "    \
    "retried\n"                                                              \
    "  retryable_errors    POSIX extended regular expressions; the error "   \
    "must\n"                                                                 \
    "                      match one (none: every error is retryable)\n"     \
    "\n"                                                                     \
    "Prints should_retry, delay_seconds, attempt, next_attempt_at (UTC; "    \
    "none when\nnot retrying), strategy and reason.\n"                       \
    "\n"                                                                     \
    "Exit status: 0 advice given, whether to retry or not (read "            \
    "should_retry),\n2 bad usage or config, 3 internal error.\n"

/* A policy: fixed 2.5 s, two retries, errors that time out or are
 * refused. */
#define POLICY                                                               \
    "plugins: []\n"                                                          \
    "retry:\n"                                                               \
    "  strategy: fixed\n"                                                    \
    "  base_delay_seconds: 2.5\n"                                            \
    "  max_retries: 2\n"                                                     \
    "  retryable_errors: [\"timed out\", \"^Step [0-9]+ failed: refused\"]\n"

/* A config of text in the test's folder; its path. */
static const char *write_config(fixture *f, const char *text)
{
    return fx_keep(f, tu_write(fx_dir(f), "jobexec.yaml", text));
}

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS.UUUUUU+00:00", which
 * must be exactly that shape; -1 otherwise. */
static double parse_utc(const char *s)
{
    struct tm tm = {0};
    unsigned usec;
    int n = 0;

    if (strlen(s) != 32 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6u+00:00%n", &tm.tm_year,
               &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &usec, &n) != 7 ||
        n != 32)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + usec / 1e6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* next_attempt_at is delay after a moment between before and after
 * (give or take the microsecond it is rounded to). */
static void assert_next_at(const char *at, double delay, double before,
                           double after)
{
    double t = parse_utc(at);

    if (t < 0)
        fail_msg("next_attempt_at '%s' is not ISO 8601 UTC with "
                 "microseconds", at);
    assert_true(t >= before + delay - 1e-6);
    assert_true(t <= after + delay + 1e-6);
}

/* ---- help --------------------------------------------------------------- */

static void test_help(void **state)
{
    static const char *const forms[][2] = {
        {"help", "retry-advice"}, {"retry-advice", "--help"},
        {"retry-advice", "-h"}};
    fixture *f = *state;

    for (size_t i = 0; i < 3; i++) {
        JOBEXEC(f, NULL, forms[i][0], forms[i][1]);
        assert_int_equal(f->p.status, 0);
        assert_string_equal(f->p.out, RETRY_USAGE);
        assert_string_equal(f->p.err, "");
    }
    /* --help wins: nothing is checked or loaded. */
    JOBEXEC(f, NULL, "retry-advice", "-c", "/nonexistent.yaml", "--help");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, RETRY_USAGE);
}

/* ---- advice ------------------------------------------------------------- */

static void test_lines_retry(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, POLICY);
    double before = now(), after;
    char *at;

    JOBEXEC(f, NULL, "retry-advice", "--config", config, "--attempt", "2",
            "--error", "Step 3 failed: timed out after 30 s");
    after = now();
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    at = strstr(f->p.out, "next_attempt_at: ");
    assert_non_null(at);
    at = fx_printf(f, "%.32s", at + strlen("next_attempt_at: "));
    assert_next_at(at, 2.5, before, after);
    assert_string_equal(
        f->p.out,
        fx_printf(f, "should_retry: true\n"
                     "delay_seconds: 2.5\n"
                     "attempt: 2\n"
                     "next_attempt_at: %s\n"
                     "strategy: fixed\n"
                     "reason: attempt 2 failed: retry 2 of up to 2; the "
                     "error matches 'timed out'\n",
                  at));
}

static void test_lines_no_retry(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, POLICY);

    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "3", "-e",
            "timed out");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_string_equal(f->p.out, "should_retry: false\n"
                                  "delay_seconds: 0.0\n"
                                  "attempt: 3\n"
                                  "next_attempt_at: (none)\n"
                                  "strategy: fixed\n"
                                  "reason: attempt 3 failed: max_retries "
                                  "(2) reached\n");

    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e",
            "Step 0 failed: Boom");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_string_equal(f->p.out, "should_retry: false\n"
                                  "delay_seconds: 0.0\n"
                                  "attempt: 1\n"
                                  "next_attempt_at: (none)\n"
                                  "strategy: fixed\n"
                                  "reason: attempt 1 failed: the error "
                                  "matches no retryable_errors pattern\n");
}

/* Exactly the six keys, in order, with their types. */
static void assert_json_keys(const json_t *doc)
{
    static const char *const keys[] = {"should_retry", "delay_seconds",
                                       "attempt",      "next_attempt_at",
                                       "strategy",     "reason"};
    const char *key;
    json_t *v;
    size_t i = 0;

    assert_int_equal(json_object_size(doc), 6);
    json_object_foreach((json_t *)doc, key, v) {
        assert_string_equal(key, keys[i]);
        i++;
    }
    assert_true(json_is_boolean(json_object_get(doc, "should_retry")));
    assert_true(json_is_real(json_object_get(doc, "delay_seconds")));
}

static void test_json(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, POLICY);
    double before = now(), after;
    json_t *doc;

    JOBEXEC(f, NULL, "retry-advice", "--json", "-c", config, "-a", "1", "-e",
            "Step 12 failed: refused by the target");
    after = now();
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    doc = fx_doc(f);
    assert_json_keys(doc);
    assert_true(json_is_true(json_object_get(doc, "should_retry")));
    assert_true(json_real_value(json_object_get(doc, "delay_seconds")) ==
                2.5);
    assert_int_equal(doc_int(doc, "attempt"), 1);
    assert_next_at(doc_string(doc, "next_attempt_at"), 2.5, before, after);
    assert_string_equal(doc_string(doc, "strategy"), "fixed");
    assert_string_equal(doc_string(doc, "reason"),
                        "attempt 1 failed: retry 1 of up to 2; the error "
                        "matches '^Step [0-9]+ failed: refused'");

    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "7", "-e", "x",
            "--json");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "{\n"
                        "  \"should_retry\": false,\n"
                        "  \"delay_seconds\": 0.0,\n"
                        "  \"attempt\": 7,\n"
                        "  \"next_attempt_at\": null,\n"
                        "  \"strategy\": \"fixed\",\n"
                        "  \"reason\": \"attempt 7 failed: the error "
                        "matches no retryable_errors pattern\"\n"
                        "}\n");
}

/* The command draws random01 itself: every delay within the bounds. */
static void test_jitter_bounds(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, "retry:\n"
                                         "  strategy: linear\n"
                                         "  base_delay_seconds: 10\n"
                                         "  jitter: 0.5\n");

    for (int i = 0; i < 8; i++) {
        json_t *doc;
        double d;
        JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "2", "-e", "x",
                "--json");
        assert_int_equal(f->p.status, 0);
        doc = fx_doc(f);
        d = json_real_value(json_object_get(doc, "delay_seconds"));
        assert_true(d >= 10.0 && d < 30.0);
        assert_string_equal(doc_string(doc, "strategy"), "linear");
    }
}

/* Without --config, the config in effect: the build tree's, which has no
 * retry section, so the defaults. */
static void test_default_config(void **state)
{
    fixture *f = *state;
    json_t *doc;

    JOBEXEC(f, NULL, "retry-advice", "-a", "3", "-e", "anything", "--json");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    doc = fx_doc(f);
    assert_true(json_is_true(json_object_get(doc, "should_retry")));
    assert_true(json_real_value(json_object_get(doc, "delay_seconds")) ==
                4.0);
    assert_string_equal(doc_string(doc, "strategy"), "exponential");
    assert_string_equal(doc_string(doc, "reason"),
                        "attempt 3 failed: retry 3 of up to 3; every error "
                        "is retryable (no retryable_errors)");
}

/* A pattern with a tab in it: escaped on the reason's line, as JSON
 * escapes it in JSON. */
static void test_reason_escaped(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, "retry:\n"
                                         "  retryable_errors: [\"a\\tb\"]\n");

    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "a\tb");
    assert_int_equal(f->p.status, 0);
    assert_true(ends_with(f->p.out, "\nreason: attempt 1 failed: retry 1 "
                                    "of up to 3; the error matches "
                                    "'a\\tb'\n"));
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "a\tb",
            "--json");
    assert_string_equal(doc_string(fx_doc(f), "reason"),
                        "attempt 1 failed: retry 1 of up to 3; the error "
                        "matches 'a\tb'");
}

/* ---- refusals ----------------------------------------------------------- */

static void test_refuse_usage(void **state)
{
    static const char *const bad[] = {"0",  "-1",  "+1",         " 1",
                                      "1.5", "abc", "4294967296", ""};
    fixture *f = *state;

    JOBEXEC(f, NULL, "retry-advice");
    assert_usage_error(&f->p, "jobexec: missing --attempt N (the attempt "
                              "that failed, from 1)\n" TRY_RETRY);
    JOBEXEC(f, NULL, "retry-advice", "--error", "x");
    assert_usage_error(&f->p, "jobexec: missing --attempt N (the attempt "
                              "that failed, from 1)\n" TRY_RETRY);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        JOBEXEC(f, NULL, "retry-advice", "--attempt", bad[i], "-e", "x");
        assert_usage_error(&f->p,
                           fx_printf(f, "jobexec: --attempt must be an "
                                        "integer from 1 to 4294967295, "
                                        "found '%s'\n" TRY_RETRY,
                                     bad[i]));
    }
    JOBEXEC(f, NULL, "retry-advice", "--attempt", "4294967295", "-e", "x");
    assert_int_equal(f->p.status, 0);
    JOBEXEC(f, NULL, "retry-advice", "-a", "1");
    assert_usage_error(&f->p, "jobexec: missing --error TEXT (the failed "
                              "attempt's error)\n" TRY_RETRY);
    JOBEXEC(f, NULL, "retry-advice", "-a", "1", "--error");
    assert_usage_error(&f->p, "jobexec: option '--error' needs a value\n"
                              TRY_RETRY);
    JOBEXEC(f, NULL, "retry-advice", "-a", "1", "-e", "x", "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_RETRY);
    JOBEXEC(f, NULL, "retry-advice", "-a", "1", "-e", "x", "--db", "r.db");
    assert_usage_error(&f->p, "jobexec: option '--db' does not apply to "
                              "'retry-advice'\n" TRY_RETRY);
    JOBEXEC(f, NULL, "retry-advice", "-a", "1", "-e", "x", "--json=1");
    assert_usage_error(&f->p, "jobexec: option '--json' takes no value\n"
                              TRY_RETRY);
    /* Its options are its own. */
    JOBEXEC(f, NULL, "run", "--attempt", "1", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--attempt' does not apply "
                              "to 'run'\nTry 'jobexec run --help' for more "
                              "information.\n");
    JOBEXEC(f, NULL, "check", "-e", "x");
    assert_usage_error(&f->p, "jobexec: option '-e' does not apply to "
                              "'check'\nTry 'jobexec check --help' for more "
                              "information.\n");
}

static void test_refuse_config(void **state)
{
    fixture *f = *state;
    const char *config = write_config(f, "plugins: []\n"
                                         "retry:\n"
                                         "  strategy: fixed\n"
                                         "  retryable_errors:\n"
                                         "    - timed out\n"
                                         "    - \"[unclosed\"\n");

    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "x");
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.out, "");
    assert_true(starts_with(
        f->p.err, fx_printf(f, "jobexec: %s:6:7: retry.retryable_errors[1] "
                               "is not a valid regular expression: ",
                            config)));
    assert_int_equal(count_lines(f->p.err), 1);

    /* Patterns whose repetitions regcomp would copy past any use: refused
     * before regcomp spends minutes and gigabytes on them. */
    config = write_config(f, "plugins: []\n"
                             "retry:\n"
                             "  retryable_errors:\n"
                             "    - \"(a{999}){999}\"\n"
                             "    - \"s++++++++++++++++++++++++++++++++\"\n");
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "x");
    assert_usage_error(
        &f->p, fx_printf(f, "jobexec: %s:4:7: retry.retryable_errors[0] is "
                            "too large a regular expression: at most 1024 "
                            "bytes, and repetitions ('+', {m,n}) that copy "
                            "it to no more than 1000 parts\n",
                         config));
    config = write_config(f, "plugins: []\n"
                             "retry:\n"
                             "  retryable_errors:\n"
                             "    - \"x\"\n"
                             "    - \"s++++++++++++++++++++++++++++++++\"\n");
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "x");
    assert_int_equal(f->p.status, 2);
    assert_non_null(strstr(f->p.err, ":5:7: retry.retryable_errors[1] is too "
                                     "large a regular expression"));
    /* A loop around what can match nothing: refused with the operator's
     * place in the pattern. */
    config = write_config(f, "plugins: []\n"
                             "retry:\n"
                             "  retryable_errors: [\"x((a*)+)+\"]\n");
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "x");
    assert_usage_error(
        &f->p, fx_printf(f, "jobexec: %s:3:22: retry.retryable_errors[0] "
                            "repeats without bound what can match nothing "
                            "('+' at byte 7, as in (a*)+ or a**): leave "
                            "that repetition out, it changes no match\n",
                         config));
    /* Many repetitions side by side, and small intervals, are fine. */
    config = write_config(f, "plugins: []\n"
                             "retry:\n"
                             "  retryable_errors:\n"
                             "    - \"^[a-z]+ [0-9]+ [a-z]+ [0-9]+ [a-z]+ "
                             "[0-9]+ [a-z]+ [0-9]+ [a-z]+ [0-9]+ [a-z]+ "
                             "[0-9]+ [a-z]+ [0-9]+ x\"\n"
                             "    - \"([0-9]{1,3}[.]){3}[0-9]{1,3}\"\n");
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e",
            "10.0.0.1 unreachable");
    assert_int_equal(f->p.status, 0);

    config = write_config(f, "retry:\n  strategy: x\n");
    JOBEXEC(f, NULL, "retry-advice", "-c", config, "-a", "1", "-e", "x",
            "--json");
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s:2:13: retry.strategy 'x' is "
                                    "not one of fixed, linear, exponential, "
                                    "fibonacci\n",
                                 config));

    JOBEXEC(f, NULL, "retry-advice", "-c", E2E "/no-such-config.yaml", "-a",
            "1", "-e", "x");
    assert_usage_error(&f->p, "jobexec: " E2E "/no-such-config.yaml: cannot "
                              "open: No such file or directory\n");
}

/* The advice is the answer a script reads: a lost write is an error. */
static void test_stdout_full(void **state)
{
    fixture *f = *state;
    const char *const lines[] = {TU_JOBEXEC, "retry-advice", "-a", "1", "-e",
                                 "x", NULL};
    const char *const json[] = {TU_JOBEXEC, "retry-advice", "-a", "1", "-e",
                                "x", "--json", NULL};

    fx_spawn(f, lines, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_string_equal(f->p.err, "jobexec: cannot write to standard output\n");
    fx_spawn(f, json, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_string_equal(f->p.err, "jobexec: cannot write to standard output\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_help),
        TEST(test_lines_retry),
        TEST(test_lines_no_retry),
        TEST(test_json),
        TEST(test_jitter_bounds),
        TEST(test_default_config),
        TEST(test_reason_escaped),
        TEST(test_refuse_usage),
        TEST(test_refuse_config),
        TEST(test_stdout_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
