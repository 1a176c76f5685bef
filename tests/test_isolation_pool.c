/*
 * test_isolation_pool.c - the runners serving a plugin: several at once
 * with runner.max_per_plugin or a plugin entry's runners, one by default,
 * waiting for a free runner within the step's timeout; and what passes
 * through a runner besides results: no busy loop on a closed stderr,
 * stderr between steps or from validate dropped, long log and progress
 * messages cut, the log messages of init and fini delivered.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "isolation_util.h"

/* ---- several runners per plugin ---------------------------------------- */

/* One job on its own thread: a one-step plan of its own job_id. */
typedef struct side_job {
    jx_executor *ex;
    char job_id[40];
    char step[512]; /* the step, a YAML flow mapping */
    jx_job_status status;
    char reason[512];
    pthread_t thread;
} side_job;

static void *run_side_job(void *arg)
{
    side_job *j = arg;
    char *text = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err;

    snprintf(j->reason, sizeof j->reason, "did not run");
    if (asprintf(&text, "job_id: %s\ncontract_id: " TU_CONTRACT "\nsteps:\n"
                        "  - %s\n", j->job_id, j->step) < 0 ||
        jx_plan_parse(text, strlen(text), "side.yaml", &plan, &err) != 0 ||
        jx_executor_run(j->ex, plan, NULL, &res, &err) != 0) {
        free(text);
        jx_plan_free(plan);
        return NULL;
    }
    j->status = jx_result_status(res);
    snprintf(j->reason, sizeof j->reason, "%s", jx_result_reason(res));
    jx_result_free(res);
    jx_plan_free(plan);
    free(text);
    return NULL;
}

static void start_side_job(side_job *j, jx_executor *ex, const char *job_id,
                           const char *step)
{
    memset(j, 0, sizeof *j);
    j->ex = ex;
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    snprintf(j->step, sizeof j->step, "%s", step);
    assert_int_equal(pthread_create(&j->thread, NULL, run_side_job, j), 0);
}

/* A step of type meet: creates mine, waits up to ms for other (both in
 * the folder the runner may write to). */
static const char *meet_step(fixture *f, char *buf, size_t len,
                             const char *mine, const char *other, int ms,
                             int timeout)
{
    snprintf(buf, len,
             "{step_index: 0, step_type: meet, timeout_seconds: %d, "
             "parameters: {mine: \"%s/%s\", other: \"%s/%s\", ms: %d}}",
             timeout, f->shared, mine, f->shared, other, ms);
    return buf;
}

#define JOB_A "a0000000-0000-4000-8000-000000000001"
#define JOB_B "b0000000-0000-4000-8000-000000000002"
#define JOB_C "c0000000-0000-4000-8000-000000000003"

/* With runner.max_per_plugin: 2, two jobs' steps run at the same time,
 * each in a runner of its own: they meet. */
static void test_runners_serve_steps_at_once(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "", "  max_per_plugin: 2\n", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                20000, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                20000, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_string_equal(a.reason, "All steps completed successfully");
    assert_string_equal(b.reason, "All steps completed successfully");
}

/* By default one runner serves a plugin: the second step waits for the
 * first, which therefore never meets it. */
static void test_one_runner_by_default(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "", "", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                300, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                300, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    /* Whichever ran first waited alone; the other found it had been. */
    assert_int_equal((a.status == JX_JOB_FAILED) + (b.status == JX_JOB_FAILED),
                     1);
    assert_string_equal(a.status == JX_JOB_FAILED ? a.reason : b.reason,
                        "Step 0 failed: alone");
    assert_string_equal(a.status == JX_JOB_FAILED ? b.reason : a.reason,
                        "All steps completed successfully");
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A plugin that closes its stderr must not turn the wait for its step
 * into a busy loop: a second of waiting costs a second of CPU then. */
static void test_closed_stderr_costs_no_cpu(void **state)
{
    fixture *f = *state;
    double cpu;

    make_executor(f, "", "", "");
    well_pid(f); /* the runner is up: its start-up is not counted */
    cpu = cpu_seconds();
    run_type(f, "no_stderr", 30, "{ms: 1000}");
    cpu = cpu_seconds() - cpu;
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    if (cpu > 0.5)
        fail_msg("waiting 1 s for the step took %.2f s of CPU", cpu);
    well_pid(f);
}

/* What a runner writes to stderr between steps belongs to no step: it
 * must not turn up in the next one, which may be another job's. */
static void test_stderr_between_steps_dropped(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    run_type(f, "late_stderr", 30, "{said: \"late words\", ms: 100}");
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_null(json_object_get(f->step, "stderr"));
    sleep_ms(400);
    well_pid(f);
    assert_null(json_object_get(f->step, "stderr"));
}

/* Nor what a plugin's validate wrote while a plan was checked. */
static void test_validate_stderr_dropped(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    parse_plan(f, "  - {step_index: 0, step_type: chatter, parameters: "
                  "{said: \"validate words\"}}\n");
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
    drop_run(f);
    well_pid(f);
    assert_null(json_object_get(f->step, "stderr"));
}

/* The last message logged, and progress reported, by any plugin. */
static struct {
    int level;
    int had_job; /* it came with a job_id */
    char *text;
} last_log, last_progress;

static void keep_log(int level, const char *job_id, int64_t step_index,
                     const char *message, void *user)
{
    (void)step_index;
    (void)user;
    free(last_log.text);
    last_log.level = level;
    last_log.had_job = job_id != NULL;
    last_log.text = strdup(message);
}

static void keep_progress(const char *job_id, int64_t step_index,
                          double fraction, const char *message, void *user)
{
    (void)step_index;
    (void)fraction;
    (void)user;
    free(last_progress.text);
    last_progress.had_job = job_id != NULL;
    last_progress.text = message != NULL ? strdup(message) : NULL;
}

static void forget_messages(void)
{
    jx_set_log_handler(NULL, NULL);
    free(last_log.text);
    free(last_progress.text);
    memset(&last_log, 0, sizeof last_log);
    memset(&last_progress, 0, sizeof last_progress);
}

/* How many leading bytes of s are c. */
static size_t run_of(const char *s, char c)
{
    size_t n = 0;

    while (s != NULL && s[n] == c)
        n++;
    return n;
}

/* Long log and progress messages are cut to 10 KiB by the runner, not
 * refused by the core as an oversized frame: escaped, 12,000 control
 * bytes would be 72,000. */
static void test_long_messages_cut(void **state)
{
    fixture *f = *state;
    jx_run_options opts = {.on_progress = keep_progress};

    jx_set_log_handler(keep_log, NULL);
    make_executor(f, "", "", "");
    run_type(f, "big_log", 30, "{bytes: 12000}");
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_int_equal(last_log.level, JX_LOG_WARNING);
    assert_int_equal(run_of(last_log.text, '\x01'), 10 * 1024);

    drop_run(f);
    parse_plan(f, "  - {step_index: 0, step_type: big_progress, "
                  "parameters: {bytes: 70000}}\n");
    assert_int_equal(jx_executor_run(f->ex, f->plan, &opts, &f->res,
                                     &f->err),
                     0);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_true(last_progress.had_job);
    assert_int_equal(run_of(last_progress.text, 'p'), 10 * 1024);
    forget_messages();
}

/* What an isolated plugin logs from init reaches the log handler, as it
 * would in-process. */
static void test_init_log_reaches_handler(void **state)
{
    fixture *f = *state;

    jx_set_log_handler(keep_log, NULL);
    make_executor(f, "    config: {init_log: \"hello from init\"}\n", "",
                  "");
    assert_non_null(last_log.text);
    assert_string_equal(last_log.text, "hello from init");
    assert_int_equal(last_log.level, JX_LOG_WARNING);
    assert_false(last_log.had_job);
    forget_messages();
}

/* What it logs from fini reaches the log handler too, when the executor
 * closes. */
static void test_fini_log_reaches_handler(void **state)
{
    fixture *f = *state;

    make_executor(f, "    config: {fini_log: \"goodbye from fini\"}\n", "",
                  "");
    jx_set_log_handler(keep_log, NULL);
    assert_null(last_log.text);
    jx_executor_free(f->ex);
    f->ex = NULL;
    assert_non_null(last_log.text);
    assert_string_equal(last_log.text, "goodbye from fini");
    assert_int_equal(last_log.level, JX_LOG_WARNING);
    assert_false(last_log.had_job);
    forget_messages();
}

/* A plugin entry's runners wins over the runner section, both ways. */
static void test_plugin_runners_override(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];
    jx_plugin_info info;

    make_executor(f, "    runners: 2\n", "", "");
    /* jobexec plugins reads the same. */
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_int_equal(info.isolated, 1);
    assert_int_equal(info.runners, 2);
    assert_string_equal(info.runner_user, geteuid() == 0 ? "nobody:nogroup"
                                                         : info.runner_user);
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                20000, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                20000, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_string_equal(a.reason, "All steps completed successfully");
    assert_string_equal(b.reason, "All steps completed successfully");
}

static void test_plugin_runners_one(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "    runners: 1\n", "  max_per_plugin: 4\n", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                300, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                300, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_int_equal((a.status == JX_JOB_FAILED) + (b.status == JX_JOB_FAILED),
                     1);
    assert_string_equal(a.status == JX_JOB_FAILED ? a.reason : b.reason,
                        "Step 0 failed: alone");
}

/* Waiting for a free runner counts against the step's timeout, and a
 * cancelled job stops waiting. */
static void test_waiting_for_a_runner(void **state)
{
    fixture *f = *state;
    side_job a, c;
    char sa[512], path[600];
    double t0;

    make_executor(f, "", "", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "none",
                                                60000, 120));
    snprintf(path, sizeof path, "%s/a", f->shared);
    for (t0 = now_s(); access(path, F_OK) != 0 && now_s() - t0 < 20;)
        sleep_ms(2);
    assert_int_equal(access(path, F_OK), 0); /* A holds the only runner */

    t0 = now_s();
    run_type(f, "well", 1, NULL);
    /* The check before step 0 validates on a runner, and waits for one
     * no longer than the step itself would have. */
    assert_outcome(f, JX_JOB_FAILED, "Plan refused: step 0: refused by "
                                     "'misbehave': could not validate: timed out "
                                     "waiting for a free runner");
    assert_true(now_s() - t0 < 10);

    start_side_job(&c, f->ex, JOB_C,
                   "{step_index: 0, step_type: well, timeout_seconds: 60}");
    sleep_ms(100);
    assert_int_equal(jx_executor_cancel(f->ex, JOB_C), 1);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.status, JX_JOB_CANCELLED);
    assert_string_equal(c.reason, "Cancelled before step 0");

    assert_int_equal(jx_executor_cancel(f->ex, JOB_A), 1);
    pthread_join(a.thread, NULL);
    assert_string_equal(a.reason, "Cancelled during step 0: cancelled");
    well_pid(f); /* the runner serves the next step */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_runners_serve_steps_at_once),
        T(test_one_runner_by_default),
        T(test_closed_stderr_costs_no_cpu),
        T(test_stderr_between_steps_dropped),
        T(test_validate_stderr_dropped),
        T(test_long_messages_cut),
        T(test_init_log_reaches_handler),
        T(test_fini_log_reaches_handler),
        T(test_plugin_runners_override),
        T(test_plugin_runners_one),
        T(test_waiting_for_a_runner),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
