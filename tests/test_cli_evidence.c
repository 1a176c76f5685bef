/*
 * test_cli_evidence.c - `jobexec evidence verify|show` and `jobexec keygen`
 * on logs written by `jobexec run`: unreadable files, --job in any case
 * and as a prefix, the full job id in show's timeline, control characters
 * and Unicode bidirectional controls escaped in what show, verify and run
 * print of a log or a plugin's text, and a folder given to keygen.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

/* ---- evidence and keygen ------------------------------------------------ */

#define PLAN_JOB_UPPER "3F1C2B7A-9D4E-4A8B-8C6D-1E2F3A4B5C6D"

/* Runs plan.yaml (PLAN_JOB, 3 steps) with an evidence log; returns the
 * log's path. */
static const char *make_log(fixture *f)
{
    const char *log, *cfg = write_log_config(f, &log);

    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    return log;
}

/* A folder opens but cannot be read: show says so, as verify does,
 * instead of showing nothing. */
static void test_evidence_unreadable(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    const char *want =
        fx_printf(f, "jobexec: %s: cannot read: Is a directory\n", dir);

    JOBEXEC(f, NULL, "evidence", "show", dir);
    assert_usage_error(&f->p, want);

    JOBEXEC(f, NULL, "evidence", "show", dir, "--job", PLAN_JOB);
    assert_usage_error(&f->p, want);

    JOBEXEC(f, NULL, "evidence", "verify", dir);
    assert_usage_error(&f->p, want);
}

/* --job takes the id as stored (lower case) or in upper case. */
static void test_evidence_job_any_case(void **state)
{
    static const char *const ids[] = {PLAN_JOB, PLAN_JOB_UPPER};
    fixture *f = *state;
    const char *log = make_log(f);

    for (size_t i = 0; i < 2; i++) {
        JOBEXEC(f, NULL, "evidence", "verify", log, "--job", ids[i]);
        assert_int_equal(f->p.status, 0);
        assert_string_equal(f->p.out,
                            PLAN_JOB ": valid (8 records, unsigned seal)\n"
                            "1 job: 1 valid, 0 incomplete, 0 tampered\n");
        assert_string_equal(f->p.err, "");

        JOBEXEC(f, NULL, "evidence", "show", log, "-j", ids[i]);
        assert_int_equal(f->p.status, 0);
        assert_int_equal(count_lines(f->p.out), 8);
        assert_string_equal(f->p.err, "");
    }

    /* Its first 8 digits, as the timeline shows them, in either case. */
    JOBEXEC(f, NULL, "evidence", "show", log, "--job", "3F1C2B7A");
    assert_int_equal(f->p.status, 0);
    assert_int_equal(count_lines(f->p.out), 8);
    assert_string_equal(f->p.err, "");

    /* A whole id the log does not hold. */
    JOBEXEC(f, NULL, "evidence", "show", log, "--job", TU_NIL_JOB);
    assert_usage_error(&f->p, fx_printf(f, "jobexec: %s: no record of job "
                                           TU_NIL_JOB "\n", log));
}

/* Each line names the job by its first 8 characters; the job_started
 * line gives the whole id, for --job. */
static void test_evidence_show_full_id(void **state)
{
    fixture *f = *state;
    const char *log = make_log(f);
    char *line, *save = NULL;
    size_t n = 0;

    JOBEXEC(f, NULL, "evidence", "show", log);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    for (line = strtok_r(f->p.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        assert_non_null(strstr(line, "+00:00  3f1c2b7a  "));
        if (n == 0)
            assert_non_null(strstr(line, "  job started: contract "
                                         E2E_CONTRACT ", 3 steps, by "
                                         "e2e-test for tenant e2e; job id "
                                         PLAN_JOB
                                         "; plan sha256 "));
        else
            assert_null(strstr(line, PLAN_JOB));
    }
    assert_int_equal(n, 8);
}

/* What a log holds is printed with its control characters escaped: a
 * newline cannot forge a timeline line, nor ESC [8m hide the rest. */
static void test_evidence_show_escapes(void **state)
{
    fixture *f = *state;
    const char *log = fx_keep(
        f, tu_write(fx_dir(f), "forged.jsonl",
                    "{\"event\":\"step_finished\",\"job_id\":\"" PLAN_JOB
                    "\",\"step\":{\"step_index\":1,\"status\":\"FAILED\","
                    "\"completed_at\":\"2026-01-01T00:00:01+00:00\","
                    "\"error\":\"Boom\\n2026-01-01T00:00:02+00:00  "
                    "3f1c2b7a  job finished COMPLETED\\u001b[8m hidden\\r"
                    "\\t\\u007f\"}}\n"
                    "{\"event\":\"job_finished\",\"job_id\":\"" PLAN_JOB
                    "\",\"completed_at\":\"2026-01-01T00:00:03+00:00\","
                    "\"final_status\":\"FAILED\",\"final_reason\":"
                    "\"Step 1 failed: a\\nb\\u001b[8mc\",\"duration_seconds\""
                    ":1.5,\"execution_summary\":{\"steps_executed\":2,"
                    "\"steps_succeeded\":1,\"steps_failed\":1},"
                    "\"seal\":{}}\n"));

    JOBEXEC(f, NULL, "evidence", "show", log);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_string_equal(
        f->p.out,
        "2026-01-01T00:00:01+00:00  3f1c2b7a  step 1 FAILED: Boom\\n"
        "2026-01-01T00:00:02+00:00  3f1c2b7a  job finished COMPLETED"
        "\\u001b[8m hidden\\r\\t\\u007f\n"
        "2026-01-01T00:00:03+00:00  3f1c2b7a  job finished FAILED: Step 1 "
        "failed: a\\nb\\u001b[8mc (2 executed, 1 succeeded, 1 failed; "
        "1.500000 s; sealed, unsigned)\n");
}

/* Bidirectional controls (U+202A..U+202E, U+2066..U+2069) would reorder
 * what the terminal shows ("Trojan Source"): they are escaped like
 * control characters, and the characters around them are kept. */
static void test_evidence_show_escapes_bidi(void **state)
{
    fixture *f = *state;
    const char *log = fx_keep(
        f, tu_write(fx_dir(f), "bidi.jsonl",
                    "{\"event\":\"step_finished\",\"job_id\":\"" PLAN_JOB
                    "\",\"step\":{\"step_index\":0,\"status\":\"FAILED\","
                    "\"completed_at\":\"2026-01-01T00:00:01+00:00\","
                    "\"error\":\"a\u202ab\u202bc\u202cd\u202de\u202ef"
                    "\u2066g\u2067h\u2068i\u2069j\u2029k\u200fl\u00e9\"}}\n"));

    JOBEXEC(f, NULL, "evidence", "show", log);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    /* U+2029 and U+200F are no embedding, override or isolate: kept. */
    assert_string_equal(
        f->p.out,
        "2026-01-01T00:00:01+00:00  3f1c2b7a  step 0 FAILED: a\\u202ab"
        "\\u202bc\\u202cd\\u202de\\u202ef\\u2066g\\u2067h\\u2068i"
        "\\u2069j\xe2\x80\xa9k\xe2\x80\x8fl\xc3\xa9\n");
}

/* verify's reasons may quote a damaged line (the JSON parser's "near
 * '...'"): they are escaped too. */
static void test_evidence_verify_escapes(void **state)
{
    fixture *f = *state;
    const char *log =
        fx_keep(f, tu_write(fx_dir(f), "stray.jsonl", "\x1b[8mhidden\n"));

    JOBEXEC(f, NULL, "evidence", "verify", log);
    assert_int_equal(f->p.status, 4);
    assert_string_equal(f->p.err, "");
    assert_null(strchr(f->p.out, '\x1b'));
    assert_non_null(strstr(f->p.out, "\\u001b"));
    assert_int_equal(count_lines(f->p.out), 2);
    assert_true(ends_with(f->p.out, " (1 line belongs to no job)\n"
                                    "0 jobs: 0 valid, 0 incomplete, 0 "
                                    "tampered, 1 stray line\n"));
}

/* A plugin's text reaches the terminal escaped: its log messages, the
 * summary line of run, and the error as evidence show prints it. */
static void test_run_escapes_plugin_text(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    const char *log = fx_printf(f, "%s/evidence.jsonl", dir);
    const char *cfg = fx_keep(
        f, tu_write(dir, "escape.yaml",
                    fx_printf(f,
                              "plugins:\n"
                              "  - path: noop\n"
                              "    step_types: [capability_enable, "
                              "capability_disable]\n"
                              "  - path: fail\n"
                              "    step_types: [bad]\n"
                              "    config: {error_message: \"Boom\\nforged"
                              "\\e[8mhidden\"}\n"
                              "  - path: " TU_FIXTURES "/echo.so\n"
                              "evidence:\n"
                              "  log: %s\n",
                              log)));
    const char *plan = fx_keep(
        f, tu_write(dir, "echo.yaml",
                    "job_id: " PLAN_JOB "\n"
                    "contract_id: " E2E_CONTRACT "\n"
                    "steps:\n"
                    "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    parameters: {note: \"a\\nb\\e[8mc\"}\n"));
    /* The summary alone on the terminal: no progress line. */
    const char *const run[] = {TU_JOBEXEC, "run", "-c", cfg, "--progress",
                               "none", E2E "/plan-fails.yaml", NULL};

    JOBEXEC(f, NULL, "run", "-c", cfg, plan);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(fx_cut_summary(f, PLAN_JOB, "COMPLETED"),
                        "jobexec: warning: job " PLAN_JOB
                        " step 0: param note=a\\nb\\u001b[8mc\n");

    fx_spawn_tty(f, run);
    assert_int_equal(f->p.status, 1);
    if (!starts_with(f->p.err, "jobexec: job " FAILS_JOB " FAILED: 1/3 "
                               "steps succeeded in ") ||
        !ends_with(f->p.err, " s - Step 1 failed: Boom\\nforged"
                             "\\u001b[8mhidden\n"))
        fail_msg("summary line: '%s'", f->p.err);
    assert_int_equal(count_lines(f->p.err), 1);

    JOBEXEC(f, NULL, "evidence", "show", log, "--job", FAILS_JOB);
    assert_int_equal(f->p.status, 0);
    assert_non_null(strstr(f->p.out, "  9b8a7c6d  step 1 FAILED: Boom\\n"
                                     "forged\\u001b[8mhidden\n"));
    assert_int_equal(count_lines(f->p.out), 6);
}

/* A folder is no name for a key: say so, rather than "File exists". */
static void test_keygen_directory(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    DIR *d;

    JOBEXEC(f, NULL, "keygen", dir);
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s: is a directory; name a "
                                    "file in it for the secret key, e.g. "
                                    "%s/evidence.key\n",
                                 dir, dir));

    JOBEXEC(f, NULL, "keygen", fx_printf(f, "%s/", dir));
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s/: is a directory; name a "
                                    "file in it for the secret key, e.g. "
                                    "%s/evidence.key\n",
                                 dir, dir));

    /* Nothing was written. */
    d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("keygen left %s", e->d_name);
    closedir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_evidence_unreadable),
        TEST(test_evidence_job_any_case),
        TEST(test_evidence_show_full_id),
        TEST(test_evidence_show_escapes),
        TEST(test_evidence_show_escapes_bidi),
        TEST(test_evidence_verify_escapes),
        TEST(test_run_escapes_plugin_text),
        TEST(test_keygen_directory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
