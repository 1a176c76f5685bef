/*
 * test_executor_output.c - what a run records and what a handler sees:
 * health observed before and after each step and copied (EXEC-004), the
 * evidence document's field names, a handler's output as text and as
 * JSON, the host services a handler reads, and progress reports.
 *
 * Handlers and observers are in-process descriptors (here and in
 * executor_util.c), next to the shipped plugins (noop, health_static)
 * loaded through a config.
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

#include "executor_util.h"

/* Counts its calls and reports the count in the snapshot. */
static int count_observe(void *state, const jx_host_v1 *host,
                         jx_output *snapshot, char *errbuf, size_t errbuf_len)
{
    (void)state;
    seen.n_observe++;
    if (seen.observe_fails) {
        snprintf(errbuf, errbuf_len, "sensor offline");
        return -1;
    }
    host->out_int(snapshot, "n", (int64_t)seen.n_observe);
    host->out_string(snapshot, "status", "green");
    return 0;
}

static const health_observer_v1 count_observer = {
    JX_HEALTH_OBSERVER_HEADER, "counter", "1.0.0", 0, NULL, count_observe,
    NULL,
};

static void on_progress(const char *job_id, int64_t step_index,
                        double fraction, const char *message, void *user)
{
    size_t i = seen.n_progress++;

    if (i >= 8)
        return;
    seen.fractions[i] = fraction;
    copy_text(seen.messages[i], sizeof seen.messages[i], message);
    copy_text(seen.progress_job[i], sizeof seen.progress_job[i], job_id);
    seen.progress_index[i] = step_index;
    seen.progress_user = user;
}

/* ---- EXEC-004: health observed, never modified --------------------------- */

static void test_health_static_snapshots(void **state)
{
    fixture *f = *state;
    json_t *h;

    make_executor(f, CONFIG_HEALTH);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n"
                     "  - {step_index: 1, step_type: capability_enable}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), SNAPSHOT_JSON);
    assert_json_text(get(h, "after"), SNAPSHOT_JSON);
}

static void test_health_without_observer_is_null(void **state)
{
    fixture *f = *state;
    json_t *h;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n");
    h = get(f->doc, "health_observations");
    assert_true(json_is_null(get(h, "before")));
    assert_true(json_is_null(get(h, "after")));
}

static void use_counting_observer(fixture *f)
{
    if (jx_executor_set_health_observer(f->ex, &count_observer, NULL,
                                        &f->err) != 0)
        fail_msg("observer: %s", f->err.message);
}

static void test_observed_before_and_after_each_step(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "rec", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_observe, 4);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), "{\"n\":1,\"status\":\"green\"}");
    assert_json_text(get(h, "after"), "{\"n\":4,\"status\":\"green\"}");
}

static void test_observed_after_failed_step_that_returned(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "fail_once", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 1 failed: Nope");
    /* Before the job, after step 0, after step 1; step 2 never ran. */
    assert_int_equal(seen.n_observe, 3);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "after"), "{\"n\":3,\"status\":\"green\"}");
}

static void test_no_observation_after_refused_plan(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1};
    static const char *const types[] = {"nobody_handles_this", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 2, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Plan refused: step 0: No handler registered for step "
                 "type: nobody_handles_this");
    assert_int_equal(seen.n_observe, 1);
    assert_int_equal(seen.n_calls, 0);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), "{\"n\":1,\"status\":\"green\"}");
    assert_true(json_is_null(get(h, "after")));
}

static void test_failing_observer_gives_null(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0};
    static const char *const types[] = {"rec"};
    json_t *h;

    seen.observe_fails = 1;
    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 1, indexes, types);
    /* Health that cannot be observed is recorded, not fatal. */
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_observe, 2);
    h = get(f->doc, "health_observations");
    assert_true(json_is_null(get(h, "before")));
    assert_true(json_is_null(get(h, "after")));
}

/* ---- the evidence document ----------------------------------------------- */

/* Extra members are allowed (DESIGN.md: none removed); missing ones not. */
static void assert_has_keys(const json_t *object, const char *const *keys)
{
    for (const char *const *k = keys; *k != NULL; k++)
        (void)get(object, *k);
}

/* The number after key in text is a plain decimal with six places, never
 * an exponent ("0.000082"). */
static void assert_six_places(const char *text, const char *key)
{
    const char *d = strstr(text, key), *dot;
    size_t n;

    assert_non_null(d);
    d += strlen(key);
    n = strspn(d, "0123456789.");
    assert_true(strchr(",}", d[n]) != NULL && d[n] != '\0');
    dot = memchr(d, '.', n);
    assert_non_null(dot);
    assert_int_equal(n - (size_t)(dot - d), 7);
}

static void test_document_fields(void **state)
{
    fixture *f = *state;
    static const char *const top[] = {
        "job_id", "final_status", "final_reason", "execution_summary",
        "step_results", "health_observations", "timing", "executor_version",
        NULL};
    static const char *const per_step[] = {"step_index", "status",
                                           "started_at", "completed_at",
                                           "output", "error", NULL};
    json_t *timing, *h, *r;

    make_executor(f, CONFIG_HEALTH);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n"
                     "  - {step_index: 1, step_type: fail_once}\n");
    assert_true(json_is_object(f->doc));
    assert_has_keys(f->doc, top);
    assert_string_equal(get_str(f->doc, "job_id"), TU_JOB);
    assert_string_equal(jx_result_job_id(f->res), TU_JOB);
    assert_string_equal(get_str(f->doc, "final_status"), "FAILED");
    assert_string_equal(get_str(f->doc, "final_reason"),
                        "Step 1 failed: Nope");
    assert_summary(f, 2, 1, 1);
    assert_string_equal(get_str(f->doc, "executor_version"), jx_version());

    assert_int_equal(json_array_size(results(f)), 2);
    for (size_t i = 0; i < 2; i++) {
        r = result_at(f, i);
        assert_has_keys(r, per_step);
        assert_int_equal(get_int(r, "step_index"), (json_int_t)i);
    }
    r = result_at(f, 0);
    assert_string_equal(get_str(r, "status"), "COMPLETED");
    assert_true(json_is_object(get(r, "output")));
    assert_true(json_is_null(get(r, "error")));
    r = result_at(f, 1);
    assert_string_equal(get_str(r, "status"), "FAILED");
    assert_true(json_is_null(get(r, "output")));
    assert_string_equal(get_str(r, "error"), "Nope");

    h = get(f->doc, "health_observations");
    assert_has_keys(h, (const char *const[]){"before", "after", NULL});
    assert_json_text(get(h, "before"), SNAPSHOT_JSON);
    assert_json_text(get(h, "after"), SNAPSHOT_JSON);

    timing = get(f->doc, "timing");
    assert_iso_utc(get_str(timing, "started_at"));
    assert_iso_utc(get_str(timing, "completed_at"));
    assert_true(json_is_real(get(timing, "duration_seconds")));
    assert_true(json_real_value(get(timing, "duration_seconds")) >= 0.0);
    assert_true(json_real_value(get(timing, "duration_seconds")) ==
                jx_result_duration_seconds(f->res));
    assert_six_places(f->doc_text, "\"duration_seconds\":");
}

static void test_document_of_completed_job(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "tenant_id: acme\nexecuted_by: worker-7\n"
                     "steps:\n  - {step_index: 0, step_type: typed}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    /* Output built through the host calls, copied as JSON values; a
     * repeated key replaces the earlier value. */
    assert_json_text(get(result_at(f, 0), "output"),
                     "{\"s\":\"new\",\"i\":-42,\"b\":true,\"d\":0.5,"
                     "\"j\":{\"k\":[1,2]},\"m\":1}");
    assert_int_equal(seen.out_rc[0], 0);
    assert_int_equal(seen.out_rc[1], 0);
    assert_int_equal(seen.out_rc[2], 0);
    assert_int_equal(seen.out_rc[3], 0);
    assert_int_equal(seen.out_rc[4], 0);
    assert_int_equal(seen.out_rc[5], -1); /* not JSON */
    assert_int_equal(seen.out_rc[6], 0);
    assert_int_equal(seen.out_rc[7], -1); /* not an object */
    assert_string_equal(get_str(f->doc, "executor_version"), jx_version());
    /* The document is exactly one JSON object followed by a newline. */
    assert_int_equal(f->doc_text[f->doc_len - 1], '\n');
}

/* Output kept as text reads byte for byte as jansson's dump of the same
 * calls would: escapes, order, a key set again, a key jansson refuses,
 * and the switch to an object past JX__OUTPUT_TEXT_KEYS keys. */
static void test_output_text_matches_jansson(void **state)
{
    fixture *f = *state;
    json_t *expected = json_object();
    char key[8], *want, *needle = NULL;

    json_object_set_new(expected, "a", json_string("first"));
    json_object_set_new(expected, ESC_KEY, json_string(ESC_VALUE));
    json_object_set_new(expected, "a", json_integer(INT64_MIN));
    json_object_set_new(expected, "f", json_false());
    json_object_set_new(expected, "n", json_null());
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        json_object_set_new(expected, key, json_integer(i));
    }
    json_object_set_new(expected, "k03", json_string("again"));
    want = json_dumps(expected, JSON_COMPACT);
    json_decref(expected);
    assert_non_null(want);
    assert_true(asprintf(&needle, "\"output\":%s,\"error\":null", want) > 0);
    free(want);

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: text_edges}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    if (strstr(f->doc_text, needle) == NULL)
        fail_msg("expected %s in %s", needle, f->doc_text);
    free(needle);
    for (int i = 0; i < 8; i++)
        assert_int_equal(seen.out_rc[i], i == 3 ? -1 : 0);
}

/* A string that is not UTF-8 cannot be recorded: the step fails, saying
 * why. */
static void test_output_not_utf8_fails_step(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: bad_utf8}\n");
    assert_int_equal(seen.out_rc[0], -1);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler's output could not be "
                 "recorded: a string is not valid UTF-8");

    drop_run(f);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: bad_utf8_late}\n");
    assert_int_equal(seen.out_rc[0], 0);
    assert_int_equal(seen.out_rc[1], -1);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler's output could not be "
                 "recorded: a string is not valid UTF-8");
}

/* A NULL key is refused, and the value made for it is not leaked (the
 * sanitizer build's leak check sees to that). */
static void test_output_null_key_refused(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: null_keys}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.out_rc[0], -1);
    assert_int_equal(seen.out_rc[1], -1);
    assert_int_equal(seen.out_rc[2], -1);
    assert_int_equal(seen.out_rc[3], 0);
    assert_json_text(get(result_at(f, 0), "output"), "{\"kept\":1}");
}

/* ---- what a handler sees -------------------------------------------------- */

static void test_host_accessors(void **state)
{
    fixture *f = *state;
    json_t *params, *expected;

    make_executor(f, NULL);
    run_plan(f, HEAD "tenant_id: acme\n"
                     "executed_by: worker-7\n"
                     "steps:\n"
                     "  - step_index: 4\n"
                     "    step_type: probe\n"
                     "    target: CAP_A\n"
                     "    timeout_seconds: 42\n"
                     "    parameters:\n"
                     "      s: str\n"
                     "      i: 7\n"
                     "      b: true\n"
                     "      d: 2.5\n"
                     "      j: {a: [1, 2], z: null}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_string_equal(seen.job_id, TU_JOB);
    assert_string_equal(seen.contract_id, TU_CONTRACT);
    assert_string_equal(seen.tenant_id, "acme");
    assert_string_equal(seen.executed_by, "worker-7");
    assert_string_equal(seen.started_at,
                        get_str(get(f->doc, "timing"), "started_at"));
    assert_int_equal(seen.index, 4);
    assert_string_equal(seen.type, "probe");
    assert_string_equal(seen.target, "CAP_A");
    assert_int_equal(seen.timeout, 42);

    params = json_loads(seen.params_json, 0, NULL);
    expected = json_loads("{\"s\":\"str\",\"i\":7,\"b\":true,\"d\":2.5,"
                          "\"j\":{\"a\":[1,2],\"z\":null}}",
                          0, NULL);
    assert_non_null(params);
    assert_true(json_equal(params, expected));
    json_decref(params);
    json_decref(expected);

    assert_int_equal(seen.n_params, 5);
    assert_string_equal(seen.keys[0], "s");
    assert_string_equal(seen.keys[1], "i");
    assert_string_equal(seen.keys[2], "b");
    assert_string_equal(seen.keys[3], "d");
    assert_string_equal(seen.keys[4], "j");
    assert_true(seen.key_past_end_is_null);

    assert_string_equal(seen.s_value, "str");
    assert_true(seen.s_of_int_is_null);
    assert_int_equal(seen.i_rc, 0);
    assert_int_equal(seen.i_value, 7);
    assert_int_equal(seen.i_of_string_rc, -1);
    assert_int_equal(seen.i_missing_rc, -1);
    assert_int_equal(seen.b_rc, 0);
    assert_int_equal(seen.b_value, 1);
    assert_int_equal(seen.d_rc, 0);
    assert_true(seen.d_value == 2.5);
    assert_int_equal(seen.d_of_int_rc, 0); /* an integer is a number */
    assert_true(seen.d_of_int == 7.0);
    assert_string_equal(seen.j_value, "{\"a\":[1,2],\"z\":null}");
    assert_true(seen.j_missing_is_null);

    assert_true(seen.time_left_ms > 0);
    assert_true(seen.time_left_ms <= 42 * 1000);
    assert_int_equal(seen.cancelled, 0);
}

static void test_host_accessor_defaults(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: probe}\n");
    assert_string_equal(seen.tenant_id, "");
    assert_string_equal(seen.executed_by, "executor");
    assert_string_equal(seen.target, "");
    assert_int_equal(seen.timeout, 300);
    assert_string_equal(seen.params_json, "{}");
    assert_int_equal(seen.n_params, 0);
    assert_true(seen.key_past_end_is_null);
    assert_true(seen.time_left_ms > 0);
    assert_true(seen.time_left_ms <= 300 * 1000);
    assert_iso_utc(seen.started_at);
}

static void test_progress_reports(void **state)
{
    fixture *f = *state;
    int marker;
    jx_run_options opts = {.on_progress = on_progress, .user = &marker};

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n"
                       "  - {step_index: 0, step_type: rec}\n"
                       "  - {step_index: 9, step_type: progress}\n");
    run_parsed(f, &opts);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_progress, 3);
    assert_ptr_equal(seen.progress_user, &marker);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(seen.progress_job[i], TU_JOB);
        assert_int_equal(seen.progress_index[i], 9);
    }
    /* Clamped into [0, 1]. */
    assert_true(seen.fractions[0] == 0.0);
    assert_true(seen.fractions[1] == 0.25);
    assert_true(seen.fractions[2] == 1.0);
    assert_string_equal(seen.messages[0], "below");
    assert_string_equal(seen.messages[1], "(null)");
    assert_string_equal(seen.messages[2], "above");
}

static void test_progress_without_callback(void **state)
{
    fixture *f = *state;
    jx_result *res = NULL;

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: progress}\n");
    /* No options at all: reports are dropped. */
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &res, &f->err), 0);
    assert_non_null(res);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    jx_result_free(res);
    assert_int_equal(seen.n_progress, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_health_static_snapshots),
        T(test_health_without_observer_is_null),
        T(test_observed_before_and_after_each_step),
        T(test_observed_after_failed_step_that_returned),
        T(test_no_observation_after_refused_plan),
        T(test_failing_observer_gives_null),
        T(test_document_fields),
        T(test_output_text_matches_jansson),
        T(test_output_not_utf8_fails_step),
        T(test_output_null_key_refused),
        T(test_document_of_completed_job),
        T(test_host_accessors),
        T(test_host_accessor_defaults),
        T(test_progress_reports),
        T(test_progress_without_callback),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
