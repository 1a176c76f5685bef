/*
 * test_embed.c - what an embedding program gets besides running jobs: log
 * messages with the name of the plugin that logged them (in-process, from
 * every entry point and from a plugin's own thread, and isolated), the
 * older log handler unchanged, and cancelling a job before it starts
 * (remembered, used up by the run, bounded, forgotten on request).
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

#include <cmocka.h>

#include "fixture.h"
#include "testutil.h"

/* ---- what the log handlers received ------------------------------------ */

#define MAX_LINES 32

static pthread_mutex_t lines_lock = PTHREAD_MUTEX_INITIALIZER;
static char *lines[MAX_LINES];
static size_t n_lines;

static void keep_line(char *line)
{
    pthread_mutex_lock(&lines_lock);
    if (line != NULL && n_lines < MAX_LINES)
        lines[n_lines++] = line;
    else
        free(line);
    pthread_mutex_unlock(&lines_lock);
}

static void forget_lines(void)
{
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    n_lines = 0;
}

/* "LEVEL PLUGIN JOB STEP MESSAGE", with "-" for what is NULL. */
static void plugin_log(int level, const char *plugin, const char *job_id,
                       int64_t step_index, const char *message, void *user)
{
    char *line;

    assert_ptr_equal(user, &lines);
    if (asprintf(&line, "%d %s %s %lld %s", level, plugin ? plugin : "-",
                 job_id ? job_id : "-", (long long)step_index, message) < 0)
        line = NULL;
    keep_line(line);
}

/* The older handler: no plugin name. */
static void old_log(int level, const char *job_id, int64_t step_index,
                    const char *message, void *user)
{
    char *line;

    assert_ptr_equal(user, &n_lines);
    if (asprintf(&line, "old %d %s %lld %s", level, job_id ? job_id : "-",
                 (long long)step_index, message) < 0)
        line = NULL;
    keep_line(line);
}

static void assert_lines(const char *const *want, size_t n)
{
    for (size_t i = 0; i < n && i < n_lines; i++)
        assert_string_equal(lines[i], want[i]);
    assert_int_equal(n_lines, n);
}

/* ---- "talker": logs from every entry point ----------------------------- */

typedef struct talk_thread {
    const jx_host_v1 *host;
    const jx_context *ctx;
} talk_thread;

static void *talk_from_thread(void *arg)
{
    talk_thread *t = arg;

    t->host->log(t->ctx, JX_LOG_INFO, "from a thread of its own");
    return NULL;
}

static int talk_init(const jx_host_v1 *host, const jx_plugin_config *config,
                     void **state, char *errbuf, size_t errbuf_len)
{
    (void)config;
    (void)errbuf;
    (void)errbuf_len;
    host->log(NULL, JX_LOG_INFO, "init");
    *state = (void *)host; /* fini gets no host: keep it */
    return 0;
}

static int talk_validate(void *state, const jx_host_v1 *host,
                         const jx_step *step, char *errbuf, size_t len)
{
    (void)state;
    (void)step;
    (void)errbuf;
    (void)len;
    host->log(NULL, JX_LOG_DEBUG, "validate");
    return 0;
}

static int talk_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    talk_thread t = {host, ctx};
    pthread_t th;

    (void)state;
    (void)step;
    (void)out;
    host->log(ctx, JX_LOG_WARNING, "execute");
    assert_int_equal(pthread_create(&th, NULL, talk_from_thread, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    return JX_STEP_OK;
}

static void talk_fini(void *state)
{
    const jx_host_v1 *host = state;

    host->log(NULL, JX_LOG_INFO, "fini");
}

static const char *const talk_types[] = {"talk", NULL};

static const step_handler_v1 talker = {
    JX_STEP_HANDLER_HEADER, "talker",  "1.0.0",      talk_types,
    0,                      talk_init, talk_validate, talk_execute,
    talk_fini,
};

/* Every message names the plugin: from init, validate, execute, a thread
 * the plugin started with the step's context, and fini. */
static void test_log_names_plugin(void **state)
{
    static const char *const want[] = {
        "2 talker - -1 init",
        "3 talker - -1 validate",
        "1 talker " TU_JOB " 0 execute",
        "2 talker " TU_JOB " 0 from a thread of its own",
        "2 talker - -1 fini",
    };
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    (void)state;
    jx_set_plugin_log_handler(plugin_log, &lines);
    tu_executor(NULL, &talker, &ex, &err);
    tu_plan_steps(&plan, &err, TU_JOB, 1, "talk", -1, NULL);
    tu_run_job(ex, plan, NULL, &res, &err);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    tu_drop_job(&res, &plan, &ex, NULL);
    jx_set_plugin_log_handler(NULL, NULL);
    assert_lines(want, sizeof want / sizeof want[0]);
    forget_lines();
}

/* jx_set_log_handler() keeps its behaviour, and each setter replaces the
 * other's handler: one handler receives each message. */
static void test_log_old_handler(void **state)
{
    static const char *const want[] = {
        "old 2 - -1 init",
        "old 3 - -1 validate",
        "old 1 " TU_JOB " 0 execute",
        "old 2 " TU_JOB " 0 from a thread of its own",
        "old 2 - -1 fini",
    };
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    (void)state;
    jx_set_plugin_log_handler(plugin_log, &lines);
    jx_set_log_handler(old_log, &n_lines);
    tu_executor(NULL, &talker, &ex, &err);
    tu_plan_steps(&plan, &err, TU_JOB, 1, "talk", -1, NULL);
    tu_run_job(ex, plan, NULL, &res, &err);
    tu_drop_job(&res, &plan, &ex, NULL);
    jx_set_log_handler(NULL, NULL);
    assert_lines(want, sizeof want / sizeof want[0]);
    forget_lines();
}

/* An isolated plugin's messages come back from its runner with its
 * name: echo logs "param NAME=VALUE" at warning level. */
static void test_log_names_isolated_plugin(void **state)
{
    static const char *const want[] = {
        "1 echo " TU_JOB " 0 param note=hello",
    };
    jx_config *cfg = NULL;
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    (void)state;
    tu_configf(&cfg, &err, "iso.yaml", NULL,
               "plugins:\n"
               "  - path: %s/echo.so\n"
               "    isolation: process\n",
               TU_FIXTURES);
    assert_int_equal(jx_config_set_runner_path(cfg, TU_RUNNER), 0);
    jx_set_plugin_log_handler(plugin_log, &lines);
    tu_executor(cfg, NULL, &ex, &err);
    tu_plan("job_id: " TU_JOB "\n"
            "contract_id: " TU_CONTRACT "\n"
            "steps:\n"
            "  - {step_index: 0, step_type: echo, "
            "parameters: {note: hello}}\n",
            &plan, &err);
    tu_run_job(ex, plan, NULL, &res, &err);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    tu_drop_job(&res, &plan, &ex, &cfg);
    jx_set_plugin_log_handler(NULL, NULL);
    assert_lines(want, sizeof want / sizeof want[0]);
    forget_lines();
}

/* ---- cancelling ahead --------------------------------------------------- */

static unsigned calls;
static jx_executor *hook_ex;
static int hook_rc;

static void count_call(const jx_host_v1 *host, const jx_step *step)
{
    (void)host;
    (void)step;
    calls++;
}

/* Cancels its own job from inside step 0, as another thread would. */
static void cancel_self(const jx_host_v1 *host, const jx_step *step)
{
    (void)host;
    (void)step;
    calls++;
    hook_rc = jx_executor_cancel_ahead(hook_ex, TU_JOB, NULL);
}

/* The kinds of the records a run produced, one letter each (S job
 * started, s step started, f step finished, F job finished); the last
 * record's JSON in *last. */
typedef struct records {
    char kinds[16];
    size_t n;
    char *last;
} records;

static int keep_record(const jx_record *rec, void *user)
{
    records *r = user;

    if (r->n + 1 < sizeof r->kinds)
        r->kinds[r->n++] = "SsfF"[rec->kind];
    free(r->last);
    r->last = tu_record_copy(rec);
    return 0;
}

static int setup_ex(void **state)
{
    jx_executor *ex = NULL;
    jx_error err = {0, ""};

    calls = 0;
    hook_rc = -100;
    tu_rec_hook = count_call;
    tu_executor(NULL, &tu_rec_handler, &ex, &err);
    hook_ex = ex;
    *state = ex;
    return 0;
}

static int teardown_ex(void **state)
{
    jx_executor_free(*state);
    tu_rec_hook = NULL;
    return 0;
}

/* Runs TU_JOB (3 rec steps, from step_index 0) on ex; the result and the
 * records in *res and *r. */
static void run_three(jx_executor *ex, jx_result **res, records *r)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};

    opts.on_record = keep_record;
    opts.user = r;
    tu_plan_steps(&plan, &err, TU_JOB, 3, "rec", -1, NULL);
    tu_run_job(ex, plan, &opts, res, &err);
    jx_plan_free(plan);
}

/* A cancel that comes first is remembered; the job then runs no handler,
 * ends CANCELLED before its first step with complete evidence, and uses
 * the cancel up: the next run of the job completes. */
static void test_cancel_ahead_first(void **state)
{
    jx_executor *ex = *state;
    jx_result *res = NULL;
    records r = {{0}, 0, NULL};

    /* jx_executor_cancel() alone still forgets a job not running. */
    assert_int_equal(jx_executor_cancel(ex, TU_JOB), 0);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, NULL), 0);
    run_three(ex, &res, &r);
    assert_int_equal(jx_result_status(res), JX_JOB_CANCELLED);
    assert_string_equal(jx_result_reason(res), "Cancelled before step 0");
    assert_int_equal(jx_result_steps_executed(res), 0);
    assert_int_equal(calls, 0);
    assert_string_equal(r.kinds, "SF");
    assert_non_null(strstr(r.last, "\"final_status\":\"CANCELLED\","
                                   "\"final_reason\":\"Cancelled before "
                                   "step 0\""));
    assert_non_null(strstr(r.last, ",\"seal\":{\"head\":\""));

    r.n = 0;
    memset(r.kinds, 0, sizeof r.kinds);
    run_three(ex, &res, &r);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_int_equal(calls, 3);
    assert_string_equal(r.kinds, "SsfsfsfF");
    assert_int_equal(jx_executor_forget_cancel(ex, NULL), 0);
    jx_result_free(res);
    free(r.last);
}

/* A job cancelled ahead is not checked: a plan that would be refused
 * ends CANCELLED, not "Plan refused". */
static void test_cancel_ahead_unchecked(void **state)
{
    jx_executor *ex = *state;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    tu_plan_steps(&plan, &err, TU_JOB, 2, "rec", 1, "missing");
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, &err), 0);
    tu_run_job(ex, plan, NULL, &res, &err);
    assert_int_equal(jx_result_status(res), JX_JOB_CANCELLED);
    assert_string_equal(jx_result_reason(res), "Cancelled before step 0");
    tu_run_job(ex, plan, NULL, &res, &err);
    assert_int_equal(jx_result_status(res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(res), "Plan refused: step 1: No "
                                               "handler registered for step "
                                               "type: missing");
    assert_int_equal(calls, 0);
    jx_result_free(res);
    jx_plan_free(plan);
}

/* The id in upper case is the same job; twice is one cancel. */
static void test_cancel_ahead_same_job(void **state)
{
    jx_executor *ex = *state;
    jx_result *res = NULL;
    records r = {{0}, 0, NULL};
    char upper[37];

    for (size_t i = 0; i < sizeof upper; i++)
        upper[i] = (char)(TU_JOB[i] >= 'a' && TU_JOB[i] <= 'f'
                              ? TU_JOB[i] - 'a' + 'A'
                              : TU_JOB[i]);
    assert_int_equal(jx_executor_cancel_ahead(ex, upper, NULL), 0);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, NULL), 0);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB2, NULL), 0);
    run_three(ex, &res, &r);
    assert_string_equal(jx_result_reason(res), "Cancelled before step 0");
    /* TU_JOB2's is still there, TU_JOB's is used up. */
    assert_int_equal(jx_executor_forget_cancel(ex, TU_JOB), 0);
    assert_int_equal(jx_executor_forget_cancel(ex, TU_JOB2), 1);
    assert_int_equal(jx_executor_forget_cancel(ex, TU_JOB2), 0);
    jx_result_free(res);
    free(r.last);
}

/* A forgotten cancel cancels nothing. */
static void test_cancel_ahead_forget(void **state)
{
    jx_executor *ex = *state;
    jx_result *res = NULL;
    records r = {{0}, 0, NULL};

    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, NULL), 0);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_NIL_JOB, NULL), 0);
    assert_int_equal(jx_executor_forget_cancel(ex, NULL), 2);
    run_three(ex, &res, &r);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_reason(res), TU_ALL_DONE);
    assert_int_equal(calls, 3);
    assert_int_equal(jx_executor_forget_cancel(NULL, NULL), JX_EINVAL);
    assert_int_equal(jx_executor_forget_cancel(ex, "nope"), 0);
    jx_result_free(res);
    free(r.last);
}

/* At most JX_CANCEL_AHEAD_MAX are remembered. */
static void test_cancel_ahead_bound(void **state)
{
    jx_executor *ex = *state;
    jx_error err = {0, ""};
    char id[37];

    for (unsigned i = 0; i < JX_CANCEL_AHEAD_MAX; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012x", i);
        assert_int_equal(jx_executor_cancel_ahead(ex, id, &err), 0);
    }
    /* One already remembered is no new one. */
    assert_int_equal(jx_executor_cancel_ahead(ex, id, &err), 0);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, &err), JX_ELIMIT);
    assert_int_equal(err.code, JX_ELIMIT);
    assert_string_equal(err.message,
                        "jx_executor_cancel_ahead: 1024 cancels of jobs not "
                        "started are remembered already; forget some with "
                        "jx_executor_forget_cancel()");
    assert_int_equal(jx_executor_forget_cancel(ex, id), 1);
    assert_int_equal(jx_executor_cancel_ahead(ex, TU_JOB, &err), 0);
    assert_int_equal(jx_executor_forget_cancel(ex, NULL),
                     JX_CANCEL_AHEAD_MAX);
}

static void test_cancel_ahead_bad_id(void **state)
{
    jx_executor *ex = *state;
    jx_error err = {0, ""};

    assert_int_equal(jx_executor_cancel_ahead(ex, "6b0b1b3e", &err),
                     JX_EINVAL);
    assert_string_equal(err.message, "jx_executor_cancel_ahead: '6b0b1b3e' "
                                     "is not a job id (a UUID)");
    assert_int_equal(jx_executor_cancel_ahead(ex, NULL, &err), JX_EINVAL);
    assert_string_equal(err.message, "jx_executor_cancel_ahead: NULL "
                                     "executor or job id");
    assert_int_equal(jx_executor_cancel_ahead(NULL, TU_JOB, NULL),
                     JX_EINVAL);
    assert_int_equal(jx_executor_forget_cancel(ex, NULL), 0);
}

/* A running job is cancelled at once, and nothing is remembered for a
 * later run. */
static void test_cancel_ahead_running(void **state)
{
    jx_executor *ex = *state;
    jx_result *res = NULL;
    records r = {{0}, 0, NULL};

    tu_rec_hook = cancel_self;
    run_three(ex, &res, &r);
    assert_int_equal(hook_rc, 1);
    assert_int_equal(jx_result_status(res), JX_JOB_CANCELLED);
    assert_string_equal(jx_result_reason(res), "Cancelled before step 1");
    assert_int_equal(jx_result_steps_executed(res), 1);
    assert_int_equal(calls, 1);
    assert_string_equal(r.kinds, "SsfF");
    assert_int_equal(jx_executor_forget_cancel(ex, NULL), 0);
    jx_result_free(res);
    free(r.last);
}

#define EX_TEST(name) cmocka_unit_test_setup_teardown(name, setup_ex, \
                                                      teardown_ex)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_names_plugin),
        cmocka_unit_test(test_log_old_handler),
        cmocka_unit_test(test_log_names_isolated_plugin),
        EX_TEST(test_cancel_ahead_first),
        EX_TEST(test_cancel_ahead_unchecked),
        EX_TEST(test_cancel_ahead_same_job),
        EX_TEST(test_cancel_ahead_forget),
        EX_TEST(test_cancel_ahead_bound),
        EX_TEST(test_cancel_ahead_bad_id),
        EX_TEST(test_cancel_ahead_running),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
