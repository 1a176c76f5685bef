/*
 * test_cli_json.c - --json on check, evidence verify and evidence show:
 * one document (JSON Lines for show) with the fields README lists, the
 * same exit statuses as without it, refusals split into file, line,
 * column and reason; and job id prefixes wherever --job is taken.
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

#include "cli_util.h"

/* Two jobs whose ids share their first 8 digits (and a third that does
 * not), for prefixes. */
#define TWIN_A "3f1c2b7a-0000-4000-8000-00000000000a"
#define TWIN_B "3f1c2b7a-0000-4000-8000-00000000000b"

/* The document must be exactly want (jansson's equality: same members,
 * same values, any order). */
static void assert_json(fixture *f, const char *want)
{
    json_error_t e;
    json_t *w = json_loads(want, 0, &e);
    json_t *got = fx_doc(f);

    if (w == NULL)
        fail_msg("want: %s", e.text);
    if (!json_equal(w, got)) {
        json_decref(w);
        fail_msg("got %s", f->p.out);
    }
    json_decref(w);
}

/* Runs plan.yaml (PLAN_JOB, 3 steps) with an evidence log; its path. */
static const char *make_log(fixture *f, const char **cfg)
{
    const char *log;

    *cfg = write_log_config(f, &log);
    JOBEXEC(f, NULL, "run", "--config", *cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    return log;
}

/* Runs a one-step job with that id into the log of cfg. */
static void run_job(fixture *f, const char *cfg, const char *job_id)
{
    const char *plan = fx_keep(
        f, tu_write(fx_dir(f), "one.yaml",
                    fx_printf(f, "job_id: %s\n"
                                 "contract_id: " E2E_CONTRACT "\n"
                                 "steps:\n"
                                 "  - {step_index: 0, step_type: unknown}\n",
                              job_id)));

    JOBEXEC(f, NULL, "run", "--config", cfg, "--quiet", plan);
    assert_int_equal(f->p.status, 0);
}

/* ---- check --json -------------------------------------------------------- */

static void test_check_json_ok(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "check", "--json", "-c", NOOP_CONFIG);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_json(f, "{\"ok\": true, \"config\": \"" NOOP_CONFIG "\", "
                   "\"plugins\": 1, \"plan\": null}");

    JOBEXEC(f, NULL, "check", "--json", "-c", NOOP_CONFIG, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_json(f, "{\"ok\": true, \"config\": \"" NOOP_CONFIG "\", "
                   "\"plugins\": 1, \"plan\": {\"file\": \"" E2E
                   "/plan.yaml\", \"job_id\": \"" PLAN_JOB "\", "
                   "\"job_id_generated\": false, \"contract_id\": \""
                   E2E_CONTRACT "\", \"steps\": 3}}");
}

/* A refused plan: where and why, exit 2 as without --json, nothing on
 * stderr. */
static void test_check_json_refused_plan(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "check", "--json", "-c", NOOP_CONFIG,
            E2E "/plan-fails.yaml");
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.err, "");
    assert_json(f, "{\"ok\": false, \"file\": \"" E2E "/plan-fails.yaml\", "
                   "\"line\": 9, \"column\": 5, \"reason\": \"step 1: No "
                   "handler registered for step type: bad\", \"error\": "
                   "\"JX_EREFUSED\", \"message\": \"" E2E "/plan-fails.yaml"
                   ":9:5: step 1: No handler registered for step type: "
                   "bad\"}");

    /* The same text on stderr without --json. */
    JOBEXEC(f, NULL, "check", "-c", NOOP_CONFIG, E2E "/plan-fails.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/plan-fails.yaml:9:5: step "
                              "1: No handler registered for step type: "
                              "bad\n");
}

/* A refused config, with a position and without one. */
static void test_check_json_refused_config(void **state)
{
    fixture *f = *state;
    const char *cfg = fx_keep(f, tu_write(fx_dir(f), "bad.yaml",
                                          "plugins:\n"
                                          "  - path: noop\n"
                                          "    bogus: 1\n"));
    const char *missing = fx_printf(f, "%s/none.yaml", fx_dir(f));

    JOBEXEC(f, NULL, "check", "--json", "-c", cfg);
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.err, "");
    assert_json(f, fx_printf(f, "{\"ok\": false, \"file\": \"%s\", "
                                "\"line\": 3, \"column\": 5, \"reason\": "
                                "\"unknown key 'bogus' in a plugin entry\", "
                                "\"error\": \"JX_ECONFIG\", \"message\": "
                                "\"%s:3:5: unknown key 'bogus' in a plugin "
                                "entry\"}",
                             cfg, cfg));

    JOBEXEC(f, NULL, "check", "--json", "-c", missing);
    assert_int_equal(f->p.status, 2);
    assert_json(f, fx_printf(f, "{\"ok\": false, \"file\": \"%s\", "
                                "\"line\": null, \"column\": null, "
                                "\"reason\": \"cannot open: No such file or "
                                "directory\", \"error\": \"JX_ECONFIG\", "
                                "\"message\": \"%s: cannot open: No such "
                                "file or directory\"}",
                             missing, missing));
}

/* ---- evidence verify --json ---------------------------------------------- */

#define VALID_REPORT(id, records, first, status)                             \
    "{\"job_id\": \"" id "\", \"verdict\": \"valid\", \"records\": "         \
    #records ", \"first_line\": " #first ", \"bad_line\": 0, \"reason\": "   \
    "\"\", \"torn\": false, \"signed_seal\": false, \"signature_checked\": " \
    "false, \"final_status\": \"" status "\", \"run\": 1, \"runs\": 1}"

static void test_verify_json_valid(void **state)
{
    fixture *f = *state;
    const char *cfg, *log = make_log(f, &cfg);

    run_job(f, cfg, TWIN_A);
    JOBEXEC(f, NULL, "evidence", "verify", log, "--json");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_json(f, fx_printf(f, "{\"file\": \"%s\", \"job\": null, "
                                "\"pubkey\": null, \"jobs\": ["
                                VALID_REPORT(PLAN_JOB, 8, 1, "COMPLETED") ", "
                                VALID_REPORT(TWIN_A, 4, 9, "COMPLETED") "], "
                                "\"summary\": {\"jobs\": 2, "
                                "\"distinct_jobs\": 2, \"valid\": 2, "
                                "\"incomplete\": 0, \"tampered\": 0, "
                                "\"lines\": 12, \"stray_lines\": 0, "
                                "\"first_stray_line\": 0, \"stray_reason\": "
                                "\"\", \"torn_tail\": false}, "
                                "\"exit_status\": 0}",
                             log));

    /* --job with a prefix: the id it selects. */
    JOBEXEC(f, NULL, "evidence", "verify", log, "--json", "--job",
            "3F1C2B7A-9D");
    assert_int_equal(f->p.status, 0);
    assert_json(f, fx_printf(f, "{\"file\": \"%s\", \"job\": \"" PLAN_JOB
                                "\", \"pubkey\": null, \"jobs\": ["
                                VALID_REPORT(PLAN_JOB, 8, 1, "COMPLETED")
                                "], \"summary\": {\"jobs\": 1, "
                                "\"distinct_jobs\": 1, \"valid\": 1, "
                                "\"incomplete\": 0, \"tampered\": 0, "
                                "\"lines\": 12, \"stray_lines\": 0, "
                                "\"first_stray_line\": 0, \"stray_reason\": "
                                "\"\", \"torn_tail\": false}, "
                                "\"exit_status\": 0}",
                             log));
}

/* A stray line and a torn tail: exit 4, as without --json. */
static void test_verify_json_tampered(void **state)
{
    fixture *f = *state;
    const char *log = fx_keep(f, tu_write(fx_dir(f), "stray.jsonl",
                                          "not json\n{\"event\""));

    JOBEXEC(f, NULL, "evidence", "verify", log, "--json");
    assert_int_equal(f->p.status, 4);
    assert_string_equal(f->p.err, "");
    fx_doc(f);
    assert_int_equal(json_array_size(json_object_get(f->doc, "jobs")), 0);
    assert_int_equal(doc_int(f->doc, "exit_status"), 4);
    {
        json_t *sum = json_object_get(f->doc, "summary");
        assert_int_equal(doc_int(sum, "stray_lines"), 1);
        assert_int_equal(doc_int(sum, "first_stray_line"), 1);
        assert_int_equal(doc_int(sum, "lines"), 2);
        assert_true(json_is_true(json_object_get(sum, "torn_tail")));
    }

    /* An unreadable file: exit 2, the reason on stderr, nothing else. */
    JOBEXEC(f, NULL, "evidence", "verify", fx_dir(f), "--json");
    assert_usage_error(&f->p, fx_printf(f, "jobexec: %s: cannot read: Is a "
                                           "directory\n",
                                        fx_dir(f)));
}

/* ---- evidence show --json ------------------------------------------------ */

static void test_show_json(void **state)
{
    static const char *const events[] = {
        "job_started",  "step_started", "step_finished", "step_started",
        "step_finished", "step_started", "step_finished", "job_finished"};
    fixture *f = *state;
    const char *cfg, *log = make_log(f, &cfg);
    char *line, *save = NULL;
    size_t n = 0;

    JOBEXEC(f, NULL, "evidence", "show", log, "--json", "-j", "3f1c2b7a");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    for (line = strtok_r(f->p.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        json_t *o = json_loads(line, 0, NULL), *rec;

        assert_non_null(o);
        assert_true(n < 8);
        rec = json_object_get(o, "record");
        assert_int_equal(doc_int(o, "line"), (json_int_t)n + 1);
        assert_int_equal(doc_int(o, "seq"), (json_int_t)n);
        assert_string_equal(doc_string(o, "job_id"), PLAN_JOB);
        assert_string_equal(doc_string(o, "event"), events[n]);
        assert_string_equal(doc_string(rec, "event"), events[n]);
        assert_int_equal(doc_int(rec, "seq"), (json_int_t)n);
        assert_non_null(strstr(doc_string(o, "time"), "+00:00"));
        if (n == 1)
            assert_string_equal(doc_string(o, "text"),
                                "step 0 started: capability_enable on "
                                "'CAP_E2E' (timeout 300 s)");
        json_decref(o);
    }
    assert_int_equal(n, 8);
}

/* A line that is no record is an object of its own; text that would
 * reorder a terminal is \u-escaped in the line. */
static void test_show_json_stray_and_bidi(void **state)
{
    fixture *f = *state;
    const char *log = fx_keep(
        f, tu_write(fx_dir(f), "odd.jsonl",
                    "garbage\n"
                    "{\"event\":\"step_started\",\"job_id\":\"" PLAN_JOB
                    "\",\"seq\":1,\"step_index\":0,\"step_type\":\"a"
                    "\xe2\x80\xae" "b\",\"target\":\"\",\"timeout_seconds\":"
                    "1,\"started_at\":\"T\"}\n"
                    "{\"torn"));

    JOBEXEC(f, NULL, "evidence", "show", log, "--json");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_string_equal(
        f->p.out,
        "{\"line\":1,\"event\":null,\"torn\":false}\n"
        "{\"line\":2,\"time\":\"T\",\"job_id\":\"" PLAN_JOB "\",\"event\":"
        "\"step_started\",\"seq\":1,\"text\":\"step 0 started: a\\u202Eb "
        "on '' (timeout 1 s)\",\"record\":{\"event\":\"step_started\","
        "\"job_id\":\"" PLAN_JOB "\",\"seq\":1,\"step_index\":0,"
        "\"step_type\":\"a\\u202Eb\",\"target\":\"\",\"timeout_seconds\":1,"
        "\"started_at\":\"T\"}}\n"
        "{\"line\":3,\"event\":null,\"torn\":true}\n");
}

/* --json is verify's and show's. */
static void test_json_not_export(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "evidence", "export", "log", "--json", "--job",
            PLAN_JOB, "--format", "slsa");
    assert_usage_error(&f->p, "jobexec: option '--json' applies only to "
                              "'evidence verify' and 'evidence show'\n"
                              "Try 'jobexec evidence --help' for more "
                              "information.\n");
}

/* ---- job id prefixes ----------------------------------------------------- */

static void test_prefix_errors(void **state)
{
    static const char *const verbs[] = {"show", "verify", "export"};
    fixture *f = *state;
    const char *cfg, *log = make_log(f, &cfg);

    const char *ambiguous, *twins, *none;

    run_job(f, cfg, TWIN_A);
    run_job(f, cfg, TWIN_B);
    ambiguous = fx_printf(f, "jobexec: %s: job id prefix '3f1c2b7a' is "
                             "ambiguous: " PLAN_JOB ", " TWIN_A ", " TWIN_B
                             "\n",
                          log);
    twins = fx_printf(f, "jobexec: %s: job id prefix '3f1c2b7a-0000-4000-"
                         "8000-00000000000' is ambiguous: " TWIN_A ", "
                         TWIN_B "\n",
                      log);
    none = fx_printf(f, "jobexec: %s: no job id starts with 'ffffffff'\n",
                     log);
    for (size_t i = 0; i < 3; i++) {
        const char *const fmt[] = {TU_JOBEXEC, "evidence", verbs[i], log,
                                   "--job", NULL, "--format", "slsa",
                                   "--key", "/nonexistent", NULL};
        const char *argv[11];

        memcpy(argv, fmt, sizeof argv);
        if (i < 2)
            argv[6] = NULL; /* no export options */

        argv[5] = "3f1c2b7a";
        fx_run(f, NULL, argv);
        assert_usage_error(&f->p, ambiguous);

        argv[5] = "3f1c2b7";
        fx_run(f, NULL, argv);
        assert_usage_error(&f->p, "jobexec: job id prefix '3f1c2b7' is too "
                                  "short: give at least 8 hex digits\n"
                                  "Try 'jobexec evidence --help' for more "
                                  "information.\n");

        argv[5] = "3f1c2b7a-0000-4000-8000-00000000000";
        fx_run(f, NULL, argv);
        assert_usage_error(&f->p, twins);

        argv[5] = "ffffffff";
        fx_run(f, NULL, argv);
        assert_usage_error(&f->p, none);

        argv[5] = "3f1c2b7a_";
        fx_run(f, NULL, argv);
        assert_usage_error(&f->p, "jobexec: '3f1c2b7a_' is not a job id: "
                                  "give the id, or at least its first 8 "
                                  "hex digits\n"
                                  "Try 'jobexec evidence --help' for more "
                                  "information.\n");
    }

    /* A prefix one job has selects it. */
    JOBEXEC(f, NULL, "evidence", "verify", log, "--job", "3F1C2B7A-9D4E");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        PLAN_JOB ": valid (8 records, unsigned seal)\n"
                        "1 job: 1 valid, 0 incomplete, 0 tampered\n");
    JOBEXEC(f, NULL, "evidence", "show", log, "--job",
            "3f1c2b7a-0000-4000-8000-00000000000b");
    assert_int_equal(f->p.status, 0);
    assert_int_equal(count_lines(f->p.out), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_check_json_ok),
        TEST(test_check_json_refused_plan),
        TEST(test_check_json_refused_config),
        TEST(test_verify_json_valid),
        TEST(test_verify_json_tampered),
        TEST(test_show_json),
        TEST(test_show_json_stray_and_bidi),
        TEST(test_json_not_export),
        TEST(test_prefix_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
