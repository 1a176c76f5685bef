/*
 * test_secrets_cli.c - redaction through `jobexec run --verbose` and
 * `jobexec check`, with the echo plugin in process and isolated: stdout,
 * stderr and the evidence log show "[REDACTED]" where a secret parameter's
 * value was, while echo's sink shows that it received the real value.
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

#include <jobexec/jobexec.h>

#include "secrets_util.h"

/* ---- the command line --------------------------------------------------- */

/* Writes the CLI's config (echo in the given isolation, copying its
 * parameters to stderr when isolated) and a plan; returns their paths. */
static void write_cli_files(fixture *f, const char *plan_text, char **cfg,
                            char **plan)
{
    char *text;

    assert_true(asprintf(&text,
                         "evidence: {log: \"%s\"}\n"
                         "plugins:\n"
                         "  - path: " ECHO_SO "\n"
                         "    isolation: %s\n"
                         "    config: {sink: \"%s\", stderr: %s}\n",
                         f->log_path, f->isolated ? "process" : "inproc",
                         f->sink_path, f->isolated ? "true" : "false") > 0);
    *cfg = tu_write(f->dir, "jobexec.yaml", text);
    free(text);
    *plan = tu_write(f->dir, "plan.yaml", plan_text);
    assert_non_null(*cfg);
    assert_non_null(*plan);
}

static void cli_run_checks(fixture *f, int expect_status,
                           const char *expect_reason)
{
    json_t *doc, *step;
    json_error_t jerr;

    if (f->p.status != expect_status)
        fail_msg("exit %d, expected %d; stderr: %s", f->p.status,
                 expect_status, f->p.err);
    assert_lacks("stdout", f->p.out, strlen(f->p.out), SECRET);
    assert_lacks("stderr", f->p.err, strlen(f->p.err), SECRET);
    read_file(f, f->log_path);
    assert_lacks("the evidence log", f->text, f->text_len, SECRET);
    assert_has("the evidence log", f->text, f->text_len, REDACTED);
    assert_int_equal(tu_count_lines(f->log_path), 4);
    assert_has("stdout", f->p.out, strlen(f->p.out), REDACTED);
    assert_has("stdout", f->p.out, strlen(f->p.out), PLAIN);

    /* --verbose shows the plugin's warnings, redacted. */
    assert_has("stderr", f->p.err, strlen(f->p.err),
               "jobexec: warning: job " TU_JOB " step 0: param password="
               REDACTED "\n");
    assert_has("stderr", f->p.err, strlen(f->p.err),
               "jobexec: warning: job " TU_JOB " step 0: param note=" PLAIN
               "\n");

    json_decref(f->json);
    f->json = doc = json_loads(f->p.out, 0, &jerr);
    if (doc == NULL)
        fail_msg("stdout is not JSON: %s", jerr.text);
    assert_json_equal(json_object_get(doc, "final_reason"), expect_reason);
    step = json_array_get(json_object_get(doc, "step_results"), 0);
    if (expect_status == 0) {
        assert_json_equal(json_object_get(step, "output"),
                          "{\"password\":\"" REDACTED "\",\"" REDACTED
                          "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                          "\":\"note\"}");
        assert_json_equal(json_object_get(step, "error"), "null");
    } else { /* the error, as final_reason without "Step 0 failed: " */
        char *error = strstr(json_string_value(json_object_get(
                                 doc, "final_reason")),
                             ": ");
        assert_non_null(error);
        assert_string_equal(json_string_value(json_object_get(step, "error")),
                            error + 2);
    }
    if (f->isolated) { /* echo's copy of its parameters, from line one */
        const char *text = json_string_value(json_object_get(step, "stderr"));
        static const char first[] = "echo: password=" REDACTED "\n"
                                    "echo: note=" PLAIN "\n";
        assert_non_null(text);
        assert_memory_equal(text, first, sizeof first - 1);
    }

    /* ...while the handler had the real value. */
    read_file(f, f->sink_path);
    assert_has("the sink", f->text, f->text_len, "password=" SECRET "\n");
}

static void test_cli_run_redacts(void **state)
{
    fixture *f = *state;
    char *cfg, *plan;

    write_cli_files(f, HEAD SECRET_STEP(""), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "run", "--verbose", "--config",
                                 cfg, plan, NULL});
    free(cfg);
    free(plan);
    cli_run_checks(f, 0, "\"All steps completed successfully\"");
}

static void test_cli_run_failing_step_redacts(void **state)
{
    fixture *f = *state;
    char *cfg, *plan;

    write_cli_files(f, HEAD SECRET_STEP(", fail: true"), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "run", "--verbose", "--config",
                                 cfg, plan, NULL});
    free(cfg);
    free(plan);
    cli_run_checks(f, 1,
                   "\"Step 0 failed: failed with password=" REDACTED
                   ", note=" PLAIN ", fail=true\"");
}

static void test_cli_check_refusal_redacted(void **state)
{
    fixture *f = *state;
    char *cfg, *plan, *expected;

    write_cli_files(f, HEAD SECRET_STEP(", refuse: yes"), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "check", "--config", cfg, plan,
                                 NULL});
    free(cfg);
    assert_true(asprintf(&expected,
                         "jobexec: %s:4:5: step 0 refused by 'echo': refused "
                         "with password=" REDACTED ", note=" PLAIN
                         ", refuse=yes\n",
                         plan) > 0);
    free(plan);
    if (f->p.status != 2)
        fail_msg("exit %d, expected 2; stderr: %s", f->p.status, f->p.err);
    assert_lacks("stderr", f->p.err, strlen(f->p.err), SECRET);
    assert_lacks("stdout", f->p.out, strlen(f->p.out), SECRET);
    assert_string_equal(f->p.err, expected);
    assert_string_equal(f->p.out, "");
    free(expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_cli_run_redacts),
        BOTH(test_cli_run_failing_step_redacts),
        BOTH(test_cli_check_refusal_redacted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
