/*
 * test_secrets_run.c - redaction in the library, in both isolation modes
 * (in process, and in a jobexec-runner process): the handler gets the
 * real value of a secret parameter, while the step output (values and
 * keys), step errors and so final_reason, evidence records, the log and
 * the document, plugin log and progress messages, check refusals and an
 * isolated plugin's stderr carry "[REDACTED]" in its place, also when a
 * message or stderr is cut; and a chain of redacted records verifies.
 *
 * The fixture plugin tests/plugins/echo.so hands every parameter back
 * through every host service; its "sink" file shows what it really got.
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

/* ---- the handler gets the real value ------------------------------------ */

static void test_handler_receives_real_secret(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    read_file(f, f->sink_path);
    assert_string_equal(f->text,
                        "password=" SECRET "\nnote=" PLAIN "\n");
}

/* A secret used as the target too: the handler gets it as it is, the
 * evidence shows it redacted. */
static void test_secret_as_target(void **state)
{
    fixture *f = *state;
    json_t *step;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    target: \"" SECRET "\"\n"
                       "    parameters: {password: \"" SECRET "\"}\n"
                       "    secret_parameters: [password]\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    read_file(f, f->sink_path);
    assert_string_equal(f->text,
                        "target=" SECRET "\npassword=" SECRET "\n");
    assert_nowhere(f, SECRET);
    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "target"), "\"" REDACTED "\"");
}

/* ---- redaction in a run ------------------------------------------------- */

static void test_run_redacts_everywhere(void **state)
{
    fixture *f = *state;
    json_t *step;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_reason(f->res),
                        "All steps completed successfully");
    assert_int_equal(seen.n_records, 4);
    assert_nowhere(f, SECRET);

    /* Output: the value and the key that were the secret are redacted;
     * the plain parameter is untouched. */
    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "status"), "\"COMPLETED\"");
    assert_json_equal(json_object_get(step, "output"),
                      "{\"password\":\"" REDACTED "\",\"" REDACTED
                      "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                      "\":\"note\"}");
    if (f->isolated) /* echo copied its parameters to stderr */
        assert_json_equal(json_object_get(step, "stderr"),
                          "\"echo: password=" REDACTED "\\necho: note=" PLAIN
                          "\\n\"");
    step = json_array_get(json_object_get(document(f), "step_results"), 0);
    assert_json_equal(json_object_get(step, "output"),
                      "{\"password\":\"" REDACTED "\",\"" REDACTED
                      "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                      "\":\"note\"}");

    /* The log holds the same records: the redacted output is in it. */
    read_file(f, f->log_path);
    assert_int_equal(tu_count_lines(f->log_path), 4);
    assert_int_equal(count_of(f->text, REDACTED), f->isolated ? 3 : 2);
    assert_has("the evidence log", f->text, f->text_len, PLAIN);

    /* Log and progress: one message per parameter, secret redacted. */
    assert_int_equal(seen.n_logs, 2);
    assert_log(0, "param password=" REDACTED);
    assert_log(1, "param note=" PLAIN);
    assert_int_equal(seen.n_progress, 2);
    assert_progress(0, "working with " REDACTED);
    assert_progress(1, "working with " PLAIN);
}

static void test_failing_step_is_redacted(void **state)
{
    fixture *f = *state;
    json_t *step, *fin;

#define FAIL_ERROR                                                            \
    "failed with password=" REDACTED ", note=" PLAIN ", fail=true"

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(", fail: true"));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), "Step 0 failed: " FAIL_ERROR);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
    assert_nowhere(f, SECRET);

    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "status"), "\"FAILED\"");
    assert_json_equal(json_object_get(step, "error"), "\"" FAIL_ERROR "\"");
    fin = record(f, "job_finished");
    assert_json_equal(json_object_get(fin, "final_reason"),
                      "\"Step 0 failed: " FAIL_ERROR "\"");
    fin = document(f);
    assert_json_equal(json_object_get(fin, "final_reason"),
                      "\"Step 0 failed: " FAIL_ERROR "\"");
    step = json_array_get(json_object_get(fin, "step_results"), 0);
    assert_json_equal(json_object_get(step, "error"), "\"" FAIL_ERROR "\"");
    /* The handler still got the secret. */
    read_file(f, f->sink_path);
    assert_string_equal(f->text, "password=" SECRET "\nnote=" PLAIN
                                 "\nfail=true\n");
#undef FAIL_ERROR
}

static void test_check_refusal_is_redacted(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(", refuse: yes"));
    memset(&f->err, 0, sizeof f->err);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_int_equal(f->err.code, JX_EREFUSED);
    assert_string_equal(f->err.message,
                        NAME ":4:5: step 0 refused by 'echo': refused with "
                             "password=" REDACTED ", note=" PLAIN
                             ", refuse=yes");
    /* Without the refusing parameter the same step passes. */
    parse_plan(f, HEAD SECRET_STEP(""));
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
}

/* A step type that holds a secret's text is redacted in check's refusal
 * as it is in a run's reason. */
static void test_check_missing_handler_is_redacted(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: " SECRET "\n"
                       "    parameters: {password: \"" SECRET "\"}\n"
                       "    secret_parameters: [password]\n");
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_string_equal(f->err.message,
                        NAME ":4:5: step 0: No handler registered for step "
                             "type: " REDACTED);
}

/* A secret that JSON text escapes (a quote, a backslash, a tab) is found
 * in the output, where it stands escaped, and redacted there too. */
static void test_secret_escaped_in_json_redacted(void **state)
{
    fixture *f = *state;
    json_t *step;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {password: \"pa\\\"ss\\\\wo\\trd\"}\n"
                       "    secret_parameters: [password]\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "output"),
                      "{\"password\":\"" REDACTED "\",\"" REDACTED
                      "\":\"password\"}");
    read_file(f, f->log_path);
    assert_null(strstr(f->text, "pa\\\"ss\\\\wo\\trd"));
}

/* A secret that contains another is replaced whole, not around the
 * shorter one ("ZZ[REDACTED]ZZ"), whatever order the plan names them in.
 * (Upper case and digits that no hash or key of a record can hold.) */
static void test_secret_containing_secret_redacted_whole(void **state)
{
    fixture *f = *state;
    json_t *output;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {a: Qq7, b: ZZQq7ZZ, note: "
                       "\"x-Qq7-ZZQq7ZZ-y\"}\n"
                       "    secret_parameters: [a, b]\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_nowhere(f, "Qq7");
    assert_nowhere(f, "ZZ" REDACTED);
    assert_nowhere(f, REDACTED "ZZ");

    assert_int_equal(seen.n_logs, 3);
    assert_log(0, "param a=" REDACTED);
    assert_log(1, "param b=" REDACTED);
    assert_log(2, "param note=x-" REDACTED "-" REDACTED "-y");
    assert_int_equal(seen.n_progress, 3);
    assert_progress(1, "working with " REDACTED);
    output = json_object_get(json_object_get(record(f, "step_finished"),
                                             "step"),
                             "output");
    assert_json_equal(json_object_get(output, "a"), "\"" REDACTED "\"");
    assert_json_equal(json_object_get(output, "b"), "\"" REDACTED "\"");
    assert_json_equal(json_object_get(output, "note"),
                      "\"x-" REDACTED "-" REDACTED "-y\"");
    read_file(f, f->sink_path);
    assert_string_equal(f->text, "a=Qq7\nb=ZZQq7ZZ\nnote=x-Qq7-ZZQq7ZZ-y\n");
}

/* A secret is redacted wherever it stands, also inside a longer text and
 * more than once, and also when another step's plain parameter repeats
 * it: the value is secret, not the parameter. */
static void test_secret_redacted_inside_text_and_other_steps(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP("") "  - step_index: 1\n"
                                       "    step_type: echo\n"
                                       "    parameters: {url: \"db://u:"
                                       SECRET "@h/" SECRET "\"}\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_nowhere(f, SECRET);
    assert_int_equal(seen.n_logs, 3);
    assert_string_equal(seen.logs[2].message,
                        "param url=db://u:" REDACTED "@h/" REDACTED);
    assert_int_equal(seen.logs[2].step_index, 1);
}

/* A chain of redacted records verifies: redaction happens before the
 * records are hashed. */
static void test_redacted_chain_verifies(void **state)
{
    fixture *f = *state;
    jx_verify_summary sum;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    /* A second job, failing with the secret in its error, in the same log. */
    seen_clear();
    parse_plan(f, HEAD2 SECRET_STEP(", fail: true"));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);

    read_file(f, f->log_path);
    assert_lacks("the evidence log", f->text, f->text_len, SECRET);
    assert_int_equal(tu_count_lines(f->log_path), 8);
    assert_true(count_of(f->text, REDACTED) >= 4);

    memset(&sum, 0, sizeof sum);
    if (jx_evidence_verify(f->log_path, NULL, &sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
    assert_int_equal(sum.jobs, 2);
    assert_int_equal(sum.valid, 2);
    assert_int_equal(sum.incomplete, 0);
    assert_int_equal(sum.tampered, 0);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(sum.lines, 8);
}

/* ---- secrets longer than a message's room ------------------------------ */

/* A secret of len letters (upper case, which no hash or UUID of a record
 * holds); malloc'd. */
static char *long_secret(size_t len)
{
    static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    char *s = malloc(len + 1);

    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = letters[(i * 7 + i / 24) % (sizeof letters - 1)];
    s[len] = '\0';
    return s;
}

/* Parses a plan whose step has the secret parameter password = secret
 * (and extra parameters). */
static void parse_secret_plan(fixture *f, const char *secret,
                              const char *extra)
{
    char *text;

    assert_true(asprintf(&text,
                         HEAD "  - step_index: 0\n"
                              "    step_type: echo\n"
                              "    parameters: {password: \"%s\"%s}\n"
                              "    secret_parameters: [password]\n",
                         secret, extra) > 0);
    parse_plan(f, text);
    free(text);
}

/*
 * A secret too long for a log message (keys and certificates run to
 * kilobytes): the message is cut, but no part of the secret may show.
 * Redacting only after the cut misses the secret, which then shows whole
 * but for its tail.
 */
static void test_long_secret_in_log_is_redacted(void **state)
{
    fixture *f = *state;
    char *secret = long_secret(3000), head[17];

    snprintf(head, sizeof head, "%s", secret); /* its first 16 letters */
    make_executor(f);
    parse_secret_plan(f, secret, "");
    free(secret);
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_logs, 1);
    assert_non_null(seen.logs[0].message);
    assert_memory_equal(seen.logs[0].message, "param password=", 15);
    assert_nowhere(f, head);
    assert_progress(0, "working with " REDACTED);
}

/* The same for a check refusal that quotes a long secret: the reason is
 * cut to its buffer before it is redacted. */
static void test_long_secret_in_refusal_is_redacted(void **state)
{
    fixture *f = *state;
    char *secret = long_secret(600), head[17];

    snprintf(head, sizeof head, "%s", secret);
    make_executor(f);
    parse_secret_plan(f, secret, ", refuse: yes");
    free(secret);
    memset(&f->err, 0, sizeof f->err);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_memory_equal(f->err.message,
                        NAME ":4:5: step 0 refused by 'echo': refused with "
                             "password=",
                        sizeof(NAME ":4:5: step 0 refused by 'echo': "
                                    "refused with password=") - 1);
    assert_lacks("the refusal", f->err.message, strlen(f->err.message),
                 head);
}

/* An isolated plugin's stderr is kept up to runner.max_stderr_bytes: a
 * secret cut by that limit must not show its first part. */
static void test_secret_cut_by_stderr_limit_is_redacted(void **state)
{
    fixture *f = *state;
    const char *text;

    /* "echo: password=" is 15 bytes: the limit cuts the secret after
     * "hunter2-S3". */
    make_executor_with(f, ", max_stderr_bytes: 25");
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    text = json_string_value(json_object_get(
        json_object_get(record(f, "step_finished"), "step"), "stderr"));
    assert_non_null(text);
    assert_memory_equal(text, "echo: password=", 15);
    assert_nowhere(f, "hunter2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_handler_receives_real_secret),
        BOTH(test_secret_as_target),
        BOTH(test_run_redacts_everywhere),
        BOTH(test_failing_step_is_redacted),
        BOTH(test_check_refusal_is_redacted),
        BOTH(test_check_missing_handler_is_redacted),
        BOTH(test_secret_escaped_in_json_redacted),
        BOTH(test_secret_containing_secret_redacted_whole),
        BOTH(test_secret_redacted_inside_text_and_other_steps),
        BOTH(test_redacted_chain_verifies),
        BOTH(test_long_secret_in_log_is_redacted),
        BOTH(test_long_secret_in_refusal_is_redacted),
        {"test_secret_cut_by_stderr_limit_is_redacted_isolated",
         test_secret_cut_by_stderr_limit_is_redacted, fx_setup, fx_teardown,
         (void *)&isolated_mode},
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
