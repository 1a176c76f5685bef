/*
 * test_evidence_records.c - the record callback of jx_run_options
 * (EXEC-002): records come in order (job_started, then step_started and
 * step_finished per step, then job_finished), carry seq from 0 and prev,
 * the SHA-256 of the previous line's exact bytes (of "jobexec:chain:v1:" +
 * job_id for the first), also for a step without a handler; and a sink
 * that refuses a record stops the job: evidence is never lost silently.
 *
 * The chain is checked with libsodium, independently of the core's own
 * SHA-256.
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
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "evidence_util.h"

/* ---- the record callback ------------------------------------------------ */

static void test_callback_records_in_order(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    static const jx_record_kind kinds[] = {
        JX_RECORD_JOB_STARTED,  JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_JOB_FINISHED};
    static const int64_t indexes[] = {-1, 0, 0, 1, 1, 2, 2, -1};

    make_executor(f, NULL);
    parse_plan(f, TU_JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_records, 8);
    for (size_t i = 0; i < 8; i++) {
        const seen_record *r = &seen.records[i];
        assert_int_equal(r->kind, kinds[i]);
        assert_int_equal(r->step_index, indexes[i]);
        assert_int_equal(r->seq, i);
        assert_non_null(r->json);
        assert_int_equal(strlen(r->json), r->json_len);
        assert_null(strchr(r->json, '\n'));
        lines[i] = r->json;
    }
    assert_int_equal(verify_chain(lines, 8, TU_JOB), 3);
}

static void test_record_contents(void **state)
{
    fixture *f = *state;
    json_t *rec, *v;

    make_executor(f, NULL);
    parse_plan(f, TU_JOB, 2, 1);
    run(f, 1);
    assert_int_equal(seen.n_records, 6);

    rec = parse_record(seen.records[0].json);
    assert_string_equal(json_string_value(json_object_get(rec, "contract_id")),
                        TU_CONTRACT);
    assert_string_equal(
        json_string_value(json_object_get(rec, "executor_version")),
        jx_version());
    json_decref(rec);

    rec = parse_record(seen.records[1].json);
    assert_int_equal(json_integer_value(json_object_get(rec, "step_index")),
                     0);
    assert_string_equal(json_string_value(json_object_get(rec, "step_type")),
                        "rec");
    json_decref(rec);

    /* The failed step has its step_finished record too (EXEC-002). */
    rec = parse_record(seen.records[4].json);
    v = json_object_get(rec, "step");
    assert_true(json_is_object(v));
    assert_int_equal(json_integer_value(json_object_get(v, "step_index")), 1);
    assert_string_equal(json_string_value(json_object_get(v, "status")),
                        "FAILED");
    assert_string_equal(json_string_value(json_object_get(v, "error")),
                        "refused by the target");
    json_decref(rec);

    rec = parse_record(seen.records[5].json);
    assert_string_equal(json_string_value(json_object_get(rec, "final_status")),
                        "FAILED");
    assert_string_equal(json_string_value(json_object_get(rec, "final_reason")),
                        "Step 1 failed: refused by the target");
    v = json_object_get(rec, "execution_summary");
    assert_int_equal(json_integer_value(json_object_get(v, "steps_executed")),
                     2);
    assert_int_equal(json_integer_value(json_object_get(v, "steps_failed")),
                     1);
    json_decref(rec);
}

/* A step_finished lends its step result as a slice of the record: the
 * very text of its "step" member, and how the step ended.  Other records
 * lend none. */
static void test_step_result_slice(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    parse_plan(f, TU_JOB, 2, 1);
    run(f, 1);
    assert_int_equal(seen.n_records, 6);
    for (size_t i = 0; i < seen.n_records; i++) {
        const seen_record *r = &seen.records[i];
        json_t *rec, *want, *got;
        char *text;

        if (r->kind != JX_RECORD_STEP_FINISHED) {
            assert_int_equal(r->result_at, -1);
            assert_int_equal(r->result_len, 0);
            assert_int_equal(r->completed, 0);
            continue;
        }
        assert_true(r->result_at > 0);
        assert_true((size_t)r->result_at + r->result_len < r->json_len);
        assert_memory_equal(r->json + r->result_at - 8, ",\"step\":{", 9);
        rec = parse_record(r->json);
        want = json_object_get(rec, "step");
        text = strndup(r->json + r->result_at, r->result_len);
        got = json_loads(text, 0, NULL); /* the slice is one whole value */
        assert_non_null(got);
        assert_true(json_equal(got, want));
        assert_int_equal(r->completed, r->step_index == 0);
        json_decref(got);
        json_decref(rec);
        free(text);
    }
}

/* A plan the executor refuses still has a job: job_started and a sealed
 * job_finished, and no step in between. */
static void test_refused_plan_has_records(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    static const char plan[] = "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\n"
                               "steps:\n"
                               "  - {step_index: 0, step_type: rec}\n"
                               "  - {step_index: 1, step_type: unknown}\n"
                               "  - {step_index: 2, step_type: rec}\n";
    json_t *rec, *v;

    make_executor(f, NULL);
    assert_int_equal(
        jx_plan_parse(plan, strlen(plan), "plan.yaml", &f->plan, &f->err), 0);
    run(f, 1);
    assert_int_equal(seen.n_records, 2);
    for (size_t i = 0; i < 2; i++)
        lines[i] = seen.records[i].json;
    assert_int_equal(verify_chain(lines, 2, TU_JOB), 0);
    rec = parse_record(seen.records[1].json);
    assert_string_equal(json_string_value(json_object_get(rec, "event")),
                        "job_finished");
    assert_string_equal(json_string_value(json_object_get(rec, "final_status")),
                        "FAILED");
    assert_string_equal(json_string_value(json_object_get(rec, "final_reason")),
                        "Plan refused: step 1: No handler registered for "
                        "step type: unknown");
    v = json_object_get(rec, "execution_summary");
    assert_int_equal(json_integer_value(json_object_get(v, "steps_executed")),
                     0);
    json_decref(rec);
}

/* ---- a sink that refuses ------------------------------------------------ */

static void test_refusing_callback_stops_job(void **state)
{
    fixture *f = *state;

    seen.refuse_at_step_started = 2; /* step 1's */
    make_executor(f, NULL);
    parse_plan(f, TU_JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_status_name(f->res), "FAILED");
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "step_started #3");
    /* Step 1's handler never ran, nor anything after it. */
    assert_int_equal(seen.n_calls, 1);
    assert_int_equal(seen.calls[0], 0);
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 0);
    /* job_started, step 0, the refused step_started, job_finished. */
    assert_int_equal(seen.n_records, 5);
    assert_int_equal(seen.records[3].kind, JX_RECORD_STEP_STARTED);
    assert_false(seen.records[3].accepted);
    assert_int_equal(seen.records[4].kind, JX_RECORD_JOB_FINISHED);
}

static void test_refused_record_keeps_log_chain(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    char *kept[MAX_RECORDS];
    size_t n, n_kept = 0;
    json_t *last;

    seen.refuse_at_step_started = 2;
    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_int_equal(seen.n_calls, 1);
    /* The records the sink kept form a chain of their own. */
    for (size_t i = 0; i < seen.n_records; i++)
        if (seen.records[i].accepted)
            kept[n_kept++] = seen.records[i].json;
    assert_int_equal(n_kept, 4);
    assert_int_equal(verify_chain(kept, n_kept, TU_JOB), 1);
    /* The log holds the same chain: no record of a step that never
     * started, no seq twice. */
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 4);
    assert_int_equal(verify_chain(lines, n, TU_JOB), 1);
    last = parse_record(lines[n - 1]);
    assert_string_equal(json_string_value(json_object_get(last, "final_reason")),
                        "evidence write failed: the record sink refused "
                        "step_started #3");
    json_decref(last);
}

static void test_refusing_first_step_started_runs_nothing(void **state)
{
    fixture *f = *state;

    seen.refuse_at_step_started = 1; /* the first step's */
    make_executor(f, NULL);
    parse_plan(f, TU_JOB, 2, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(jx_result_steps_executed(f->res), 0);
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "step_started #1");
}

/* Nothing of the job was kept, so there is nothing to seal: a lone
 * job_finished would be a job that verify must call tampered. */
static void test_refused_job_started_leaves_no_record(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    seen.refuse_job_started = 1;
    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 2, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "job_started #0");
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(seen.n_records, 1);
    assert_int_equal(seen.records[0].kind, JX_RECORD_JOB_STARTED);
    assert_int_equal(read_log(f, lines, MAX_RECORDS), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_callback_records_in_order),
        T(test_record_contents),
        T(test_step_result_slice),
        T(test_refused_plan_has_records),
        T(test_refusing_callback_stops_job),
        T(test_refused_record_keeps_log_chain),
        T(test_refused_job_started_leaves_no_record),
        T(test_refusing_first_step_started_runs_nothing),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
