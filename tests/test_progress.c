/*
 * test_progress.c - a run's progress events: their sequence for 0, 1 and
 * many steps, a failed and a cancelled job, handler reports passed on at
 * most every 100 ms with the last one of a step always delivered, kept in
 * the step's evidence record, redacted; and the struct_size rule of
 * jx_run_options.
 */
#include "config.h"

#include <math.h>
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

#include <jobexec/jobexec.h>

#include "fixture.h"

#define MAX_EVENTS 64

typedef struct seen_event {
    char stage[16];
    int64_t step_index;
    size_t step_number, steps_done, total;
    double percentage, fraction, eta, elapsed;
    char message[128];
    int has_message;
    char status[16];
} seen_event;

static seen_event events[MAX_EVENTS];
static size_t n_events;

static void on_event(const jx_progress_event *ev, void *user)
{
    seen_event *e;

    (void)user;
    if (n_events >= MAX_EVENTS)
        return;
    e = &events[n_events++];
    snprintf(e->stage, sizeof e->stage, "%s", ev->stage);
    e->step_index = ev->step_index;
    e->step_number = ev->step_number;
    e->steps_done = ev->steps_done;
    e->total = ev->total_steps;
    e->percentage = ev->percentage;
    e->fraction = ev->step_fraction;
    e->eta = ev->eta_seconds;
    e->elapsed = ev->elapsed_seconds;
    e->has_message = ev->message != NULL;
    snprintf(e->message, sizeof e->message, "%s",
             ev->message != NULL ? ev->message : "");
    snprintf(e->status, sizeof e->status, "%s",
             ev->status != NULL ? ev->status : "");
}

/* A handler that reports progress: parameter "reports" times, "pause_ms"
 * apart, fraction i/reports, message "part I"; fails when "fail" is
 * true. */
static int reporter_execute(void *state, const jx_host_v1 *host,
                            const jx_context *ctx, const jx_step *step,
                            jx_output *out)
{
    int64_t n = 0, pause = 0;
    int fail = 0;

    (void)state;
    host->param_int(step, "reports", &n);
    host->param_int(step, "pause_ms", &pause);
    host->param_bool(step, "fail", &fail);
    for (int64_t i = 1; i <= n; i++) {
        char msg[64];
        struct timespec ts = {pause / 1000, (pause % 1000) * 1000000L};
        snprintf(msg, sizeof msg, "part %lld of %s", (long long)i,
                 host->step_target(step));
        host->ctx_progress(ctx, (double)i / (double)n, msg);
        if (pause > 0)
            nanosleep(&ts, NULL);
    }
    if (fail) {
        host->out_error(out, "gave up");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static const char *const reporter_types[] = {"work", NULL};
static const step_handler_v1 reporter = {
    JX_STEP_HANDLER_HEADER, "reporter", "1.0.0", reporter_types, 0, NULL,
    NULL, reporter_execute, NULL,
};

typedef struct fix {
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
    char *doc;
    size_t doc_len;
} fix;

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    tu_executor(NULL, &reporter, &f->ex, &f->err);
    n_events = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;

    tu_drop_job(&f->res, &f->plan, &f->ex, NULL);
    free(f->doc);
    free(f);
    return 0;
}

static void run(fix *f, const char *steps)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    char *text;
    FILE *fp;

    if (asprintf(&text, "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT
                        "\nsteps:%s",
                 steps) < 0)
        fail();
    tu_plan(text, &f->plan, &f->err);
    free(text);
    free(f->doc);
    fp = open_memstream(&f->doc, &f->doc_len);
    opts.document = fp;
    opts.on_job_progress = on_event;
    n_events = 0;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    fclose(fp);
}

static void assert_event(size_t i, const char *stage, int64_t step_index,
                         size_t done, double percentage)
{
    if (i >= n_events)
        fail_msg("event %zu missing (%zu events)", i, n_events);
    assert_string_equal(events[i].stage, stage);
    assert_int_equal(events[i].step_index, step_index);
    assert_int_equal(events[i].steps_done, done);
    if (fabs(events[i].percentage - percentage) > 1e-9)
        fail_msg("event %zu: %g%%, expected %g%%", i, events[i].percentage,
                 percentage);
}

static void test_no_steps(void **state)
{
    fix *f = *state;

    run(f, " []\n");
    assert_int_equal(n_events, 2);
    assert_event(0, "started", -1, 0, 0);
    assert_int_equal(events[0].total, 0);
    assert_true(events[0].eta < 0);
    assert_event(1, "finished", -1, 0, 100);
    assert_string_equal(events[1].status, "COMPLETED");
    assert_true(events[1].eta == 0);
}

static void test_one_step(void **state)
{
    fix *f = *state;

    run(f, "\n  - {step_index: 5, step_type: work}\n");
    assert_int_equal(n_events, 3);
    assert_event(0, "started", -1, 0, 0);
    assert_event(1, "step_finished", 5, 1, 100);
    assert_int_equal(events[1].step_number, 1);
    assert_int_equal(events[1].total, 1);
    assert_true(events[1].fraction < 0); /* it reported nothing */
    assert_false(events[1].has_message);
    assert_true(events[1].eta == 0);
    assert_event(2, "finished", -1, 1, 100);
    /* No report, no progress member in the evidence. */
    assert_null(strstr(f->doc, "\"progress\""));
}

static void test_many_steps(void **state)
{
    fix *f = *state;
    char steps[2048] = "\n";

    for (int i = 0; i < 8; i++)
        snprintf(steps + strlen(steps), sizeof steps - strlen(steps),
                 "  - {step_index: %d, step_type: work}\n", i * 10);
    run(f, steps);
    assert_int_equal(n_events, 10);
    assert_event(0, "started", -1, 0, 0);
    for (size_t i = 1; i <= 8; i++) {
        assert_event(i, "step_finished", (int64_t)(i - 1) * 10, i,
                     100.0 * (double)i / 8);
        assert_int_equal(events[i].step_number, i);
        assert_true(events[i].elapsed >= events[i - 1].elapsed);
    }
    /* Half done: as long again to go, by the linear estimate. */
    assert_true(fabs(events[4].eta - events[4].elapsed) < 1e-9);
    assert_event(9, "finished", -1, 8, 100);
}

static void test_failed_job(void **state)
{
    fix *f = *state;

    run(f, "\n  - {step_index: 0, step_type: work}\n"
           "  - {step_index: 1, step_type: work, parameters: {fail: true}}\n"
           "  - {step_index: 2, step_type: work}\n"
           "  - {step_index: 3, step_type: work}\n");
    assert_int_equal(n_events, 4);
    assert_event(1, "step_finished", 0, 1, 25);
    assert_event(2, "step_finished", 1, 2, 50);
    /* How far it got, not 100. */
    assert_event(3, "finished", -1, 2, 50);
    assert_string_equal(events[3].status, "FAILED");
}

/* Reports in quick succession are held back; the last one of the step
 * always arrives, before the step's step_finished. */
static void test_handler_reports_rate_limited(void **state)
{
    fix *f = *state;

    run(f, "\n  - {step_index: 0, step_type: work, target: T, parameters: "
           "{reports: 50}}\n");
    assert_int_equal(n_events, 5);
    assert_event(1, "running", 0, 0, 2); /* the first: 1/50 */
    assert_string_equal(events[1].message, "part 1 of T");
    assert_int_equal(events[1].step_number, 1);
    assert_event(2, "running", 0, 0, 100); /* the last: 50/50 */
    assert_string_equal(events[2].message, "part 50 of T");
    assert_true(events[2].fraction == 1);
    assert_event(3, "step_finished", 0, 1, 100);
    /* step_finished carries the step's last report too. */
    assert_string_equal(events[3].message, "part 50 of T");
    assert_event(4, "finished", -1, 1, 100);
}

/* Reports further apart than the interval all arrive. */
static void test_handler_reports_spaced(void **state)
{
    fix *f = *state;

    run(f, "\n  - {step_index: 0, step_type: work, target: T, parameters: "
           "{reports: 4, pause_ms: 120}}\n"
           "  - {step_index: 1, step_type: work}\n");
    assert_int_equal(n_events, 8);
    for (size_t i = 1; i <= 4; i++) {
        char want[32];
        assert_event(i, "running", 0, 0, 100.0 * (double)i / 4 / 2);
        snprintf(want, sizeof want, "part %zu of T", i);
        assert_string_equal(events[i].message, want);
    }
    assert_event(5, "step_finished", 0, 1, 50);
    /* The next step starts with no report of its own. */
    assert_event(6, "step_finished", 1, 2, 100);
    assert_false(events[6].has_message);
    assert_true(events[6].fraction < 0);
}

/* How far a failed step got is in its evidence record. */
static void test_progress_in_evidence(void **state)
{
    fix *f = *state;
    json_t *doc, *step;

    run(f, "\n  - {step_index: 0, step_type: work, target: DB, parameters: "
           "{reports: 4, fail: true}}\n");
    doc = json_loads(f->doc, 0, NULL);
    assert_non_null(doc);
    step = json_array_get(json_object_get(doc, "step_results"), 0);
    assert_string_equal(json_string_value(json_object_get(step, "status")),
                        "FAILED");
    {
        char *text = json_dumps(json_object_get(step, "progress"),
                                JSON_COMPACT);
        assert_string_equal(text, "{\"fraction\":1,\"message\":\"part 4 of "
                                  "DB\"}");
        free(text);
    }
    json_decref(doc);
}

/* Progress text is redacted like log lines. */
static void test_progress_redacted(void **state)
{
    fix *f = *state;

    run(f, "\n  - step_index: 0\n"
           "    step_type: work\n"
           "    target: hunter2-secret\n"
           "    parameters: {reports: 1, password: hunter2-secret}\n"
           "    secret_parameters: [password]\n");
    assert_string_equal(events[1].message, "part 1 of [REDACTED]");
    assert_null(strstr(f->doc, "hunter2"));
    assert_non_null(strstr(f->doc, "\"message\":\"part 1 of [REDACTED]\""));
}

/* Cancelled before a step: finished says so, at the steps done. */
static void cancel_on_first(const jx_progress_event *ev, void *user)
{
    on_event(ev, user);
    if (strcmp(ev->stage, "step_finished") == 0)
        jx_executor_cancel((jx_executor *)user, NULL);
}

static void test_cancelled_job(void **state)
{
    fix *f = *state;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;

    tu_plan("job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\nsteps:\n"
            "  - {step_index: 0, step_type: work}\n"
            "  - {step_index: 1, step_type: work}\n",
            &f->plan, &f->err);
    opts.on_job_progress = cancel_on_first;
    opts.user = f->ex;
    n_events = 0;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res), JX_JOB_CANCELLED);
    assert_int_equal(n_events, 3);
    assert_event(2, "finished", -1, 1, 50);
    assert_string_equal(events[2].status, "CANCELLED");
}

/* A caller built before on_job_progress existed leaves struct_size 0:
 * nothing after it is read. */
static void test_struct_size_zero_reads_old_members_only(void **state)
{
    fix *f = *state;
    jx_run_options opts = {0};

    tu_plan("contract_id: " TU_CONTRACT "\nsteps:\n"
            "  - {step_index: 0, step_type: work}\n",
            &f->plan, &f->err);
    opts.on_job_progress = on_event; /* beyond struct_size 0 */
    n_events = 0;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(n_events, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_steps),
        T(test_one_step),
        T(test_many_steps),
        T(test_failed_job),
        T(test_handler_reports_rate_limited),
        T(test_handler_reports_spaced),
        T(test_progress_in_evidence),
        T(test_progress_redacted),
        T(test_cancelled_job),
        T(test_struct_size_zero_reads_old_members_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
