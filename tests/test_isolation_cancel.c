/*
 * test_isolation_cancel.c - cancelling isolated steps: from a thread (a
 * cooperative sleep, a loop that has to be killed, another job's id),
 * from an on_record callback between steps and as a step starts, and by
 * SIGTERM to `jobexec run`, whose log still verifies; and the deadline of
 * a step run in-process.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "isolation_util.h"

/* ---- cancellation ------------------------------------------------------- */

typedef struct canceller {
    fixture *f;
    const char *job_id; /* NULL: every job */
    long delay_ms;      /* after the step started */
    int told;           /* what jx_executor_cancel returned */
    pthread_t thread;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    double give_up = now_s() + 20;

    while (!atomic_load(&c->f->step_started) && now_s() < give_up)
        sleep_ms(2);
    sleep_ms(c->delay_ms);
    c->told = jx_executor_cancel(c->f->ex, c->job_id);
    return NULL;
}

static void start_canceller(canceller *c, fixture *f, const char *job_id)
{
    c->f = f;
    c->job_id = job_id;
    c->delay_ms = 200;
    c->told = -100;
    atomic_store(&f->step_started, 0);
    assert_int_equal(pthread_create(&c->thread, NULL, cancel_later, c), 0);
}

static void test_cancel_cooperative_sleep(void **state)
{
    fixture *f = *state;
    canceller c;
    double t0;

    make_executor(f, "", "", "");
    assert_int_equal(jx_executor_cancel(f->ex, NULL), 0); /* nothing runs */
    start_canceller(&c, f, JOB);
    t0 = now_s();
    run_type(f, "sleep", 30, NULL); /* sleeps until told */
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled during step 0: cancelled");
    assert_string_equal(jx_result_status_name(f->res), "CANCELLED");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
    assert_string_equal(step_error(f), "cancelled");
    assert_true(now_s() - t0 < 15); /* not the 30 s timeout */
    well_pid(f);
}

static void test_cancel_loop_is_killed(void **state)
{
    fixture *f = *state;
    canceller c;
    pid_t before;
    double t0;

    make_executor(f, "", "  kill_grace_ms: 200\n", "");
    before = well_pid(f);
    start_canceller(&c, f, NULL);
    t0 = now_s();
    run_type(f, "loop", 30, NULL);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED,
                   "Cancelled during step 0: cancelled (the handler did not "
                   "stop within 200 ms and was killed)");
    assert_true(now_s() - t0 < 15);
    assert_int_not_equal(well_pid(f), before);
    assert_int_equal(proc_state(before, NULL), 0);
    assert_int_equal(count_zombie_children(), 0);
}

static void test_cancel_other_job_id(void **state)
{
    fixture *f = *state;
    canceller c;

    make_executor(f, "", "", "");
    start_canceller(&c, f, TU_NIL_JOB);
    run_type(f, "sleep", 30, "{ms: 600}");
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 0);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(f->step, "output"), "slept_ms")),
                     600);
}

static void test_cancel_between_steps(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    f->cancel_kind = JX_RECORD_STEP_FINISHED;
    run_steps(f, "  - {step_index: 0, step_type: well}\n"
                 "  - {step_index: 1, step_type: well}\n");
    assert_int_equal(f->cancel_told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled before step 1");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 0);
    f->cancel_kind = -1;
    well_pid(f);
}

/* A handler that sleeps through a cancel without looking at ctx_cancelled
 * (one nanosleep, its result ignored) is not woken early: a cancel reaches
 * the runner as data, not as a signal that interrupts its calls.  So the
 * step either did its work, returned within the grace and is COMPLETED
 * with all of it, or is killed after the grace and FAILED.  Never
 * COMPLETED for work cut short. */
static void test_cancel_does_not_cut_sleep_short(void **state)
{
    fixture *f = *state;
    canceller c;

    make_executor(f, "", "  kill_grace_ms: 5000\n", "");
    well_pid(f);
    drop_run(f);
    start_canceller(&c, f, JOB);
    run_steps(f, "  - {step_index: 0, step_type: nap, parameters: {ms: 1000}}\n"
                 "  - {step_index: 1, step_type: well}\n");
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled before step 1");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_string_equal(json_string_value(json_object_get(f->step, "status")),
                        "COMPLETED");
    if (json_integer_value(json_object_get(json_object_get(f->step, "output"),
                                           "slept_ms")) < 1000)
        fail_msg("the sleep was cut short: %lld ms",
                 (long long)json_integer_value(json_object_get(
                     json_object_get(f->step, "output"), "slept_ms")));
    well_pid(f);
}

/* The same sleep past the grace: the runner is killed, the step FAILED. */
static void test_cancel_sleep_past_grace_is_killed(void **state)
{
    fixture *f = *state;
    canceller c;
    pid_t before;

    make_executor(f, "", "  kill_grace_ms: 300\n", "");
    before = well_pid(f);
    start_canceller(&c, f, JOB);
    run_type(f, "nap", 30, "{ms: 3000}");
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED,
                   "Cancelled during step 0: cancelled (the handler did not "
                   "stop within 300 ms and was killed)");
    assert_string_equal(json_string_value(json_object_get(f->step, "status")),
                        "FAILED");
    assert_true(json_is_null(json_object_get(f->step, "output")));
    assert_int_not_equal(well_pid(f), before);
    assert_int_equal(count_zombie_children(), 0);
}

/* Cancelled after step_started, before the runner has the step: the
 * request must still reach a handler that checks ctx_cancelled. */
static void test_cancel_as_step_starts(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    well_pid(f);
    f->cancel_kind = JX_RECORD_STEP_STARTED;
    run_type(f, "sleep", 30, NULL); /* sleeps until told */
    assert_int_equal(f->cancel_told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled during step 0: cancelled");
    f->cancel_kind = -1;
    well_pid(f);
}

/* The verdict of the one job in a log. */
typedef struct verdicts {
    size_t n;
    jx_verdict verdict;
    char final_status[32];
} verdicts;

static int on_job(const jx_job_report *r, void *user)
{
    verdicts *v = user;

    v->n++;
    v->verdict = r->verdict;
    snprintf(v->final_status, sizeof v->final_status, "%s",
             r->final_status ? r->final_status : "(none)");
    return 0;
}

/* Starts `jobexec run -c config plan` with stdout to out_path. */
static pid_t spawn_cli(const char *config, const char *plan,
                       const char *out_path, const char *err_path)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0 || dup2(in, 0) < 0 ||
            dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execl(TU_JOBEXEC, TU_JOBEXEC, "run", "-c", config, plan,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Returns once the step is under way: its step_started is in the log, so
 * the CLI's signal thread is up. */
static void wait_for_step(pid_t pid, const char *log, const char *err_path)
{
    double give_up = now_s() + 20;
    int status;
    char *text;

    while (tu_count_lines(log) < 2 && now_s() < give_up &&
           waitpid(pid, &status, WNOHANG) == 0)
        sleep_ms(10);
    if (tu_count_lines(log) < 2) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        text = tu_read(err_path);
        fail_msg("the job never started: %s", text ? text : "");
    }
    sleep_ms(300);
}

/* `jobexec run` in a process of its own, on a config with an evidence
 * log and plugin_extra, and a plan of steps; started once its first step
 * is under way. */
typedef struct cli_job {
    char *log, *out_path, *err_path, *config, *plan;
    pid_t pid;
} cli_job;

static void start_cli_job(fixture *f, cli_job *c, const char *plugin_extra,
                          const char *steps)
{
    char *text, *tail, *plan_text;

    if (asprintf(&c->log, "%s/evidence.jsonl", f->dir) < 0 ||
        asprintf(&c->out_path, "%s/out.json", f->dir) < 0 ||
        asprintf(&c->err_path, "%s/err.txt", f->dir) < 0 ||
        asprintf(&tail, "evidence:\n  log: %s\n", c->log) < 0 ||
        asprintf(&plan_text, HEAD "%s", steps) < 0)
        fail_msg("out of memory");
    text = config_text(plugin_extra, "", tail);
    c->config = tu_write(f->dir, "jobexec.yaml", text);
    c->plan = tu_write(f->dir, "plan.yaml", plan_text);
    free(text);
    free(tail);
    free(plan_text);
    c->pid = spawn_cli(c->config, c->plan, c->out_path, c->err_path);
    wait_for_step(c->pid, c->log, c->err_path);
}

static void free_cli_job(cli_job *c)
{
    free(c->log);
    free(c->out_path);
    free(c->err_path);
    free(c->config);
    free(c->plan);
}

static void test_cancel_by_sigterm(void **state)
{
    fixture *f = *state;
    char *text;
    verdicts v = {0};
    jx_verify_options vo = {NULL, NULL, on_job, &v};
    jx_verify_summary sum;
    json_t *doc;
    json_error_t jerr;
    int status;
    cli_job c;
    pid_t pid;

    start_cli_job(f, &c, "",
                  "  - {step_index: 0, step_type: sleep, timeout_seconds: "
                  "30}\n"
                  "  - {step_index: 1, step_type: well}\n");
    pid = c.pid;
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);

    text = tu_read(c.out_path);
    assert_non_null(text);
    doc = json_loads(text, 0, &jerr);
    if (doc == NULL)
        fail_msg("stdout is not JSON (%s): %s", jerr.text, text);
    free(text);
    assert_string_equal(json_string_value(json_object_get(doc,
                                                          "final_status")),
                        "CANCELLED");
    assert_string_equal(json_string_value(json_object_get(doc,
                                                          "final_reason")),
                        "Cancelled during step 0: cancelled");
    assert_int_equal(json_array_size(json_object_get(doc, "step_results")),
                     1);
    json_decref(doc);

    assert_int_equal(jx_evidence_verify(c.log, &vo, &sum, &f->err), 0);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(sum.valid, 1);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.verdict, JX_VERDICT_VALID);
    assert_string_equal(v.final_status, "CANCELLED");
    assert_int_equal(count_zombie_children(), 0);
    free_cli_job(&c);
}

/* An in-process step that never looks at ctx_cancelled: the second
 * interrupt says what the job waits for, the third ends jobexec, exit 3,
 * with the job incomplete in the log. */
static void test_third_interrupt_ends_at_once(void **state)
{
    fixture *f = *state;
    char *text;
    verdicts v = {0};
    jx_verify_options vo = {NULL, NULL, on_job, &v};
    jx_verify_summary sum;
    int status;
    cli_job c;
    pid_t pid;

    start_cli_job(f, &c, "    isolation: inproc\n",
                  "  - {step_index: 4, step_type: loop, timeout_seconds: "
                  "60}\n");
    pid = c.pid;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kill(pid, SIGINT), 0);
        sleep_ms(200);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    text = tu_read(c.err_path);
    assert_string_equal(
        text, "jobexec: interrupted: cancelling the job\n"
              "jobexec: interrupted again: waiting for step 4 to return; a "
              "third time ends jobexec without it\n"
              "jobexec: interrupted a third time: exiting without waiting "
              "for step 4; its evidence ends at its step_started (the job "
              "is incomplete)\n");
    free(text);

    assert_int_equal(jx_evidence_verify(c.log, &vo, &sum, &f->err), 0);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(v.verdict, JX_VERDICT_INCOMPLETE);
    free_cli_job(&c);
}

/* ---- in-process --------------------------------------------------------- */

static void test_inproc_overrun(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    make_executor(f, "    isolation: inproc\n", "", "");
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_int_equal(info.isolated, 0);
    run_type(f, "sleep", 1, "{ms: 1500}");
    assert_outcome(f, JX_JOB_FAILED, "Step 0 failed: timed out after 1 s");
    assert_string_equal(step_error(f), "timed out after 1 s");
    assert_int_equal(well_pid(f), getpid()); /* it ran here */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_cancel_cooperative_sleep),
        T(test_cancel_loop_is_killed),
        T(test_cancel_does_not_cut_sleep_short),
        T(test_cancel_sleep_past_grace_is_killed),
        T(test_cancel_other_job_id),
        T(test_cancel_between_steps),
        T(test_cancel_as_step_starts),
        T(test_cancel_by_sigterm),
        T(test_third_interrupt_ends_at_once),
        T(test_inproc_overrun),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
