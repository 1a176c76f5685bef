/*
 * test_executor_run.c - the run loop against the invariants of DESIGN.md,
 * with the cases of the reference executor's own suite: order (EXEC-001),
 * a result per step (EXEC-002), stop at the first failure (EXEC-003), no
 * retry (EXEC-006), no mutation of the plan (EXEC-005), and the result's
 * getters and the run's arguments.
 *
 * Handlers are the in-process descriptor of executor_util.c, next to the
 * shipped plugins (noop, fail) loaded through a config.
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

#include "input/plan.h"
#include "executor_util.h"

/* ---- EXEC-001, EXEC-002: order, one result per step ---------------------- */

static void test_single_step_completes(void **state)
{
    fixture *f = *state;
    json_t *r;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - step_index: 0\n"
                     "    step_type: capability_enable\n"
                     "    target: CAP_A\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_summary(f, 1, 1, 0);
    assert_int_equal(json_array_size(results(f)), 1);
    r = result_at(f, 0);
    assert_int_equal(get_int(r, "step_index"), 0);
    assert_string_equal(get_str(r, "status"), "COMPLETED");
    assert_true(json_is_null(get(r, "error")));
    assert_true(json_is_object(get(r, "output")));
}

static void test_steps_run_in_declared_order(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 3, 4, 10, 11, 250};
    static const char *const types[] = {"rec", "rec", "rec",
                                        "rec", "rec", "rec"};

    make_executor(f, NULL);
    run_steps(f, 6, indexes, types);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_calls, 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *r = result_at(f, i);
        assert_int_equal(seen.order[i], indexes[i]);
        assert_int_equal(get_int(r, "step_index"), indexes[i]);
        assert_int_equal(get_int(get(r, "output"), "seen_index"),
                         indexes[i]);
    }
    assert_int_equal(json_array_size(results(f)), 6);
    assert_summary(f, 6, 6, 0);
}

static void test_timestamps_and_output_per_step(void **state)
{
    fixture *f = *state;
    static const char *const targets[] = {"CAP_A", "CAP_B", "CAP_C"};
    static const char *const types[] = {"capability_enable",
                                        "capability_disable",
                                        "capability_enable"};
    const char *job_start, *job_end, *previous_end;
    json_t *timing;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable, "
                     "target: CAP_A}\n"
                     "  - {step_index: 1, step_type: capability_disable, "
                     "target: CAP_B}\n"
                     "  - {step_index: 2, step_type: capability_enable, "
                     "target: CAP_C}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    timing = get(f->doc, "timing");
    job_start = get_str(timing, "started_at");
    job_end = get_str(timing, "completed_at");
    assert_iso_utc(job_start);
    assert_iso_utc(job_end);
    previous_end = job_start;
    for (size_t i = 0; i < 3; i++) {
        json_t *r = result_at(f, i), *out = get(r, "output");
        const char *started = get_str(r, "started_at");
        const char *completed = get_str(r, "completed_at");

        assert_iso_utc(started);
        assert_iso_utc(completed);
        /* Same fixed-width format: text order is time order. */
        assert_true(strcmp(previous_end, started) <= 0);
        assert_true(strcmp(started, completed) <= 0);
        previous_end = completed;

        assert_int_equal(json_object_size(out), 4);
        assert_string_equal(get_str(out, "handler"), "noop");
        assert_string_equal(get_str(out, "step_type"), types[i]);
        assert_string_equal(get_str(out, "target"), targets[i]);
        assert_iso_utc(get_str(out, "executed_at"));
        assert_true(strcmp(started, get_str(out, "executed_at")) <= 0);
        assert_true(strcmp(get_str(out, "executed_at"), completed) <= 0);
    }
    assert_true(strcmp(previous_end, job_end) <= 0);
}

/* ---- EXEC-003: stop on first failure ------------------------------------- */

static void test_stop_at_failing_step(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "bad", "rec"};
    json_t *r;

    make_executor(f, CONFIG_BOOM);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 1 failed: Boom");
    assert_summary(f, 2, 1, 1);
    /* Step 2 never ran. */
    assert_int_equal(seen.n_calls, 1);
    assert_int_equal(seen.order[0], 0);
    assert_int_equal(json_array_size(results(f)), 2);
    assert_string_equal(get_str(result_at(f, 0), "status"), "COMPLETED");
    r = result_at(f, 1);
    assert_int_equal(get_int(r, "step_index"), 1);
    assert_string_equal(get_str(r, "status"), "FAILED");
    assert_string_equal(get_str(r, "error"), "Boom");
    assert_true(json_is_null(get(r, "output")));
}

static void test_default_fail_message(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {7};
    static const char *const types[] = {"bad"};

    make_executor(f, CONFIG_FAIL_DEFAULT);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 7 failed: Intentional failure");
    assert_summary(f, 1, 0, 1);
    assert_string_equal(get_str(result_at(f, 0), "error"),
                        "Intentional failure");
}

/* A step type without a handler refuses the whole plan before step 0: the
 * steps before it do not run either. */
static void test_missing_handler(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 3, 4};
    static const char *const types[] = {"rec", "no_such_type", "rec"};

    make_executor(f, NULL);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Plan refused: step 3: No handler registered for step type: "
                 "no_such_type");
    assert_summary(f, 0, 0, 0);
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(json_array_size(results(f)), 0);
}

/* ---- EXEC-006: no retry --------------------------------------------------- */

static void test_failing_handler_called_once(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1};
    static const char *const types[] = {"fail_once", "fail_once"};

    make_executor(f, NULL);
    run_steps(f, 2, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 0 failed: Nope");
    assert_int_equal(seen.n_calls, 1);
    assert_summary(f, 1, 0, 1);

    /* A second run of the same plan is a new run: once more, not twice. */
    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    run_parsed(f, NULL);
    assert_int_equal(seen.n_calls, 2);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 0 failed: Nope");
}

static void test_failure_without_reason(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {2};
    static const char *const types[] = {"fail_silent"};

    make_executor(f, NULL);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 2 failed: the handler reported failure without a "
                 "reason");
    assert_string_equal(get_str(result_at(f, 0), "error"),
                        "the handler reported failure without a reason");
    assert_int_equal(seen.n_calls, 1);
}

static void test_unknown_return_value(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0};
    static const char *const types[] = {"return7"};

    make_executor(f, NULL);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler returned 7, which is neither "
                 "JX_STEP_OK nor JX_STEP_FAILED");
    assert_string_equal(get_str(result_at(f, 0), "status"), "FAILED");
    assert_true(json_is_null(get(result_at(f, 0), "output")));
    assert_int_equal(seen.n_calls, 1);
}

static void test_empty_plan(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps: []\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_summary(f, 0, 0, 0);
    assert_true(json_is_array(results(f)));
    assert_int_equal(json_array_size(results(f)), 0);
    assert_int_equal(seen.n_calls, 0);
    assert_true(jx_result_duration_seconds(f->res) >= 0.0);
}

/* ---- EXEC-005: the plan is not mutated ------------------------------------ */

/* Serialises every field of the plan, down to parameter keys and values,
 * so that any change shows up as a different text. */
static char *plan_fields(const jx_plan *plan)
{
    json_t *all = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[]}",
                            "name", plan->name, "job_id", plan->job_id,
                            "contract_id", plan->contract_id, "tenant_id",
                            plan->tenant_id, "executed_by", plan->executed_by,
                            "sha256", plan->sha256, "n_steps",
                            (json_int_t)plan->n_steps, "steps");
    json_t *steps = json_object_get(all, "steps");
    char *text;

    for (size_t i = 0; i < plan->n_steps; i++) {
        const jx__step *st = &plan->steps[i];
        json_array_append_new(
            steps,
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I}",
                      "index", (json_int_t)st->index, "type", st->type,
                      "target", st->target, "type_json", st->type_json,
                      "target_json", st->target_json, "timeout",
                      (json_int_t)st->timeout_seconds, "params_json",
                      st->params_json, "n_params", (json_int_t)st->n_params,
                      "line", (json_int_t)st->line, "col",
                      (json_int_t)st->col));
    }
    text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    assert_non_null(text);
    return text;
}

static void test_plan_not_mutated(void **state)
{
    fixture *f = *state;
    char *before, *after;
    char first_params[256];

    make_executor(f, CONFIG_BOOM);
    parse_plan(f, HEAD "tenant_id: acme\n"
                       "steps:\n"
                       "  - step_index: 0\n"
                       "    step_type: probe\n"
                       "    target: CAP_A\n"
                       "    timeout_seconds: 42\n"
                       "    parameters: {s: str, i: 7, b: true, d: 2.5,\n"
                       "                 j: {a: [1, 2]}}\n"
                       "  - {step_index: 1, step_type: bad, target: X,\n"
                       "     parameters: {reason: ticket 42}}\n");
    before = plan_fields(f->plan);
    run_parsed(f, NULL);
    copy_text(first_params, sizeof first_params, seen.params_json);
    after = plan_fields(f->plan);
    assert_string_equal(after, before);
    free(after);

    /* A second run sees exactly what the first saw. */
    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    run_parsed(f, NULL);
    assert_string_equal(seen.params_json, first_params);
    after = plan_fields(f->plan);
    assert_string_equal(after, before);
    free(after);
    free(before);
}

/* ---- results and arguments ------------------------------------------------ */

static void test_result_getters(void **state)
{
    fixture *f = *state;
    jx_result *res = NULL;

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n"
                       "  - {step_index: 0, step_type: rec}\n"
                       "  - {step_index: 1, step_type: rec}\n");
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &res, &f->err), 0);
    assert_non_null(res);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_status_name(res), "COMPLETED");
    assert_string_equal(jx_result_reason(res),
                        "All steps completed successfully");
    assert_string_equal(jx_result_job_id(res), TU_JOB);
    assert_string_equal(jx_result_job_id(res), jx_plan_job_id(f->plan));
    assert_int_equal(jx_result_steps_executed(res), 2);
    assert_int_equal(jx_result_steps_succeeded(res), 2);
    assert_int_equal(jx_result_steps_failed(res), 0);
    assert_true(jx_result_duration_seconds(res) >= 0.0);
    assert_true(jx_result_duration_seconds(res) < 3600.0);
    jx_result_free(res);
    jx_result_free(NULL);
}

static void test_generated_job_id_reaches_result(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, "contract_id: " TU_CONTRACT "\n"
                "steps:\n  - {step_index: 0, step_type: rec}\n");
    assert_int_equal(strlen(jx_result_job_id(f->res)), 36);
    assert_string_equal(jx_result_job_id(f->res), jx_plan_job_id(f->plan));
    assert_string_equal(get_str(f->doc, "job_id"), jx_plan_job_id(f->plan));
}

static void test_run_refuses_null_arguments(void **state)
{
    fixture *f = *state;
    jx_result *res = (jx_result *)&res; /* must be reset to NULL */

    make_executor(f, NULL);
    assert_int_equal(jx_executor_run(f->ex, NULL, NULL, &res, &f->err),
                     JX_EINVAL);
    assert_null(res);
    assert_int_equal(f->err.code, JX_EINVAL);
    assert_string_equal(f->err.message,
                        "jx_executor_run: NULL executor or plan");
}

static void test_executor_without_config(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    make_executor(f, NULL);
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_string_equal(info.name, "inproc");
    assert_string_equal(info.version, "2.3.4");
    assert_string_equal(info.path, "(in-process)");
    assert_int_equal(info.abi_version, JX_ABI_VERSION);
    assert_int_equal(info.thread_safe, 0);
    assert_int_equal(info.has_handler, 1);
    assert_int_equal(info.is_health_observer, 0);
    for (size_t i = 0; inproc_types[i] != NULL; i++)
        assert_string_equal(info.step_types[i], inproc_types[i]);
    assert_int_equal(jx_executor_plugin_info(f->ex, 1, &info), JX_EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_single_step_completes),
        T(test_steps_run_in_declared_order),
        T(test_timestamps_and_output_per_step),
        T(test_stop_at_failing_step),
        T(test_default_fail_message),
        T(test_missing_handler),
        T(test_failing_handler_called_once),
        T(test_failure_without_reason),
        T(test_unknown_return_value),
        T(test_empty_plan),
        T(test_plan_not_mutated),
        T(test_result_getters),
        T(test_generated_job_id_reaches_result),
        T(test_run_refuses_null_arguments),
        T(test_executor_without_config),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
