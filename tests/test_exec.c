/*
 * test_exec.c - the exec plugin running real commands, in-process and
 * isolated: exit statuses and signals with their exact reasons, bounded
 * output, the environment commands get (nothing of ours), stdin and cwd,
 * a deadline and a cancellation ending a whole process tree (a child that
 * ignores SIGTERM included), secrets kept off command lines and out of
 * the evidence, and validate's refusals.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_util.h"

static void exec_plugin(pfix *f, const char *isolation, const char *config)
{
    /* An isolated command runs as the runner's user (nobody, under root):
     * it must reach the folder it writes its pids to. */
    chmod(f->dir, 0777);
    pf_executor(f,
                "plugins:\n"
                "  - path: exec\n"
                "    isolation: %s\n"
                "    config: {%s}\n"
                "runner: {path: " TU_RUNNER "}\n",
                isolation, config != NULL ? config : "");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The step's text: a command step with these parameters. */
static jx_job_status run_cmd(pfix *f, const char *params, int timeout)
{
    char steps[4096];

    snprintf(steps, sizeof steps,
             "  - step_index: 0\n"
             "    step_type: command\n"
             "    timeout_seconds: %d\n"
             "    parameters: %s\n",
             timeout, params);
    return pf_run(f, steps);
}

static void assert_reason(pfix *f, jx_job_status status, const char *reason)
{
    assert_int_equal(jx_result_status(f->res), status);
    assert_string_equal(jx_result_reason(f->res), reason);
}

/* ---- what a command returns ------------------------------------------------ */

static void check_output(pfix *f)
{
    json_t *out;

    assert_int_equal(run_cmd(f, "{argv: [sh, -c, 'echo out; echo err >&2']}",
                             30),
                     JX_JOB_COMPLETED);
    out = pf_output(f, 0);
    assert_int_equal(json_integer_value(json_object_get(out, "exit_status")),
                     0);
    assert_string_equal(pf_str(out, "stdout"), "out\n");
    assert_string_equal(pf_str(out, "stderr"), "err\n");
    assert_true(json_is_false(json_object_get(out, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(out, "stderr_truncated")));
    assert_true(json_real_value(json_object_get(out, "duration_seconds")) >
                0);
    assert_null(json_object_get(out, "signal"));
}

static void test_output_inproc(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "inproc", NULL);
    check_output(f);
}

static void test_output_isolated(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "process", NULL);
    check_output(f);
}

static void test_exit_status_fails(void **state)
{
    pfix *f = *state;

    exec_plugin(f, "inproc", NULL);
    run_cmd(f, "{argv: [sh, -c, 'exit 3']}", 30);
    assert_reason(f, JX_JOB_FAILED, "Step 0 failed: command exited with "
                                    "status 3");
    run_cmd(f, "{argv: ['false']}", 30);
    assert_reason(f, JX_JOB_FAILED, "Step 0 failed: command exited with "
                                    "status 1");
}

static void test_signal_fails(void **state)
{
    pfix *f = *state;

    exec_plugin(f, "inproc", NULL);
    run_cmd(f, "{argv: [sh, -c, 'kill -SEGV $$']}", 30);
    assert_reason(f, JX_JOB_FAILED, "Step 0 failed: command killed by "
                                    "signal 11 (SIGSEGV)");
    exec_plugin(f, "process", NULL);
    run_cmd(f, "{argv: [sh, -c, 'kill -KILL $$']}", 30);
    assert_reason(f, JX_JOB_FAILED, "Step 0 failed: command killed by "
                                    "signal 9 (SIGKILL)");
}

static void test_output_bounded(void **state)
{
    pfix *f = *state;
    json_t *out;

    exec_plugin(f, "inproc", "max_output_bytes: 10");
    run_cmd(f, "{argv: [sh, -c, 'head -c 100000 /dev/zero | tr \"\\\\0\" a; "
               "printf 12345 >&2']}",
            30);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    out = pf_output(f, 0);
    assert_string_equal(pf_str(out, "stdout"), "aaaaaaaaaa");
    assert_true(json_is_true(json_object_get(out, "stdout_truncated")));
    assert_string_equal(pf_str(out, "stderr"), "12345");
    assert_true(json_is_false(json_object_get(out, "stderr_truncated")));
}

/* Bytes that are not UTF-8 are kept as U+FFFD, not a failed step. */
static void test_binary_output(void **state)
{
    pfix *f = *state;

    exec_plugin(f, "inproc", NULL);
    run_cmd(f, "{argv: [printf, 'a\\377b']}", 30);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_string_equal(pf_str(pf_output(f, 0), "stdout"),
                        "a\xef\xbf\xbd"
                        "b");
}

/* ---- what a command gets ----------------------------------------------------- */

static void test_environment_is_only_what_is_given(void **state)
{
    pfix *f = *state;

    setenv("JX_TEST_OURS", "must not leak", 1);
    exec_plugin(f, "inproc", NULL);
    run_cmd(f, "{argv: [env], env: {GREETING: hello}}", 30);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_string_equal(pf_str(pf_output(f, 0), "stdout"),
                        "GREETING=hello\n"
                        "PATH=/usr/local/bin:/usr/bin:/bin\n"
                        "LANG=C.UTF-8\n");
    /* PATH given is PATH used. */
    run_cmd(f, "{argv: [/usr/bin/env], env: {PATH: /opt/x}}", 30);
    assert_string_equal(pf_str(pf_output(f, 0), "stdout"),
                        "PATH=/opt/x\nLANG=C.UTF-8\n");
    unsetenv("JX_TEST_OURS");
}

static void test_stdin_and_cwd(void **state)
{
    pfix *f = *state;
    char params[1024], *want;

    exec_plugin(f, "inproc", NULL);
    snprintf(params, sizeof params,
             "{argv: [sh, -c, 'pwd; cat'], cwd: %s, stdin: \"line 1\\nline "
             "2\\n\"}",
             f->dir);
    run_cmd(f, params, 30);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    if (asprintf(&want, "%s\nline 1\nline 2\n", f->dir) < 0)
        fail();
    assert_string_equal(pf_str(pf_output(f, 0), "stdout"), want);
    free(want);
    run_cmd(f, "{argv: [/bin/pwd], cwd: /nonexistent}", 30);
    assert_reason(f, JX_JOB_FAILED, "Step 0 failed: cannot run '/bin/pwd' in "
                                    "/nonexistent: No such file or "
                                    "directory");
}

static void test_command_not_found(void **state)
{
    pfix *f = *state;

    exec_plugin(f, "inproc", NULL);
    run_cmd(f, "{argv: [no-such-command-here]}", 30);
    assert_reason(f, JX_JOB_FAILED,
                  "Step 0 failed: command 'no-such-command-here' not found "
                  "in PATH /usr/local/bin:/usr/bin:/bin");
}

/* ---- ending a process tree ---------------------------------------------------- */

/* Whether the pid in the file still runs (it was written by the tree).
 * A killed process stays a zombie until something reaps it: that is
 * dead too.  Waits up to 2 s for SIGKILL to land. */
static int alive(pfix *f, const char *name)
{
    char *text = tu_read(pf_path(f, name)), stat_path[64];
    long pid = text != NULL ? strtol(text, NULL, 10) : 0;

    free(text);
    if (pid <= 0)
        fail_msg("%s holds no pid", name);
    snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
    for (int i = 0; i < 200; i++) {
        const char *state;
        char *st = tu_read(stat_path);
        if (st == NULL)
            return 0;
        state = strrchr(st, ')');
        if (state != NULL && (state[2] == 'Z' || state[2] == 'X')) {
            free(st);
            return 0;
        }
        free(st);
        usleep(10000);
    }
    return 1;
}

/* A shell that ignores SIGTERM, with a child that does too: only SIGKILL
 * to the whole group ends them. */
static void check_timeout_kills_tree(pfix *f)
{
    char params[1024];
    double t0 = now_s();

    snprintf(params, sizeof params,
             "{argv: [sh, -c, 'trap \"\" TERM; (trap \"\" TERM; echo "
             "$$BASHPID > /dev/null; sleep 60) & echo $! > %s/child.pid; "
             "echo $$ > %s/shell.pid; sleep 60; wait']}",
             f->dir, f->dir);
    run_cmd(f, params, 2);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_true(strncmp(jx_result_reason(f->res),
                        "Step 0 failed: command did not finish within the "
                        "step's timeout: killed after ",
                        70) == 0);
    assert_true(now_s() - t0 < 2.5);
    assert_false(alive(f, "child.pid"));
    assert_false(alive(f, "shell.pid"));
}

static void test_timeout_kills_tree_inproc(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "inproc", NULL);
    check_timeout_kills_tree(f);
}

static void test_timeout_kills_tree_isolated(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "process", NULL);
    check_timeout_kills_tree(f);
}

typedef struct canceller {
    jx_executor *ex;
    pfix *f;
} canceller;

/* Cancels the job once its command has written its pid. */
static void *cancel_soon(void *arg)
{
    canceller *c = arg;
    char *path;

    if (asprintf(&path, "%s/shell.pid", c->f->dir) < 0)
        return NULL;
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        usleep(10000);
    free(path);
    usleep(50000);
    jx_executor_cancel(c->ex, NULL);
    return NULL;
}

static void check_cancel_kills_tree(pfix *f, const char *reason)
{
    char params[1024];
    canceller c = {NULL, f};
    pthread_t t;
    double t0;

    snprintf(params, sizeof params,
             "{argv: [sh, -c, 'trap \"\" TERM; sleep 60 & echo $! > "
             "%s/child.pid; echo $$ > %s/shell.pid; wait']}",
             f->dir, f->dir);
    c.ex = f->ex;
    pthread_create(&t, NULL, cancel_soon, &c);
    t0 = now_s();
    run_cmd(f, params, 60);
    pthread_join(t, NULL);
    assert_reason(f, JX_JOB_CANCELLED, reason);
    assert_true(now_s() - t0 < 10);
    assert_false(alive(f, "child.pid"));
    assert_false(alive(f, "shell.pid"));
}

static void test_cancel_kills_tree_inproc(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "inproc", NULL);
    check_cancel_kills_tree(f, "Cancelled during step 0: command cancelled: "
                               "killed");
}

/* Isolated, the core reports its own outcome of a cancelled step. */
static void test_cancel_kills_tree_isolated(void **state)
{
    pfix *f = *state;
    exec_plugin(f, "process", NULL);
    check_cancel_kills_tree(f, "Cancelled during step 0: cancelled");
}

/* ---- secrets -------------------------------------------------------------- */

static void test_secret_by_reference(void **state)
{
    pfix *f = *state;
    const char *steps =
        "  - step_index: 0\n"
        "    step_type: command\n"
        "    secret_parameters: [token]\n"
        "    parameters:\n"
        "      token: s3cr3t-t0ken-value\n"
        "      env: {TOKEN: {param: token}}\n"
        "      stdin: {param: token}\n"
        "      argv: [sh, -c, 'echo \"env $TOKEN\"; echo \"in $(cat)\"; tr "
        "\"\\\\0\" \" \" < /proc/$$/cmdline']\n";

    exec_plugin(f, "inproc", NULL);
    assert_int_equal(pf_run(f, steps), JX_JOB_COMPLETED);
    /* The command got it, the command line never had it, and the
     * evidence shows it redacted. */
    assert_true(strncmp(pf_str(pf_output(f, 0), "stdout"),
                        "env [REDACTED]\nin [REDACTED]\n/usr/bin/sh -c echo "
                        "\"env $TOKEN\"",
                        50) == 0);
    assert_null(strstr(f->doc_text, "s3cr3t"));
}

/* ---- validate ----------------------------------------------------------- */

static void assert_refused(pfix *f, const char *params, const char *why)
{
    char *text, want[1024];

    if (asprintf(&text, "contract_id: " TU_CONTRACT "\nsteps:\n"
                        "  - {step_index: 0, step_type: command, "
                        "parameters: %s}\n",
                 params) < 0)
        fail();
    tu_plan(text, &f->plan, &f->err);
    free(text);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), JX_EREFUSED);
    snprintf(want, sizeof want, "plan.yaml:3:5: step 0 refused by 'exec': %s",
             why);
    assert_string_equal(f->err.message, want);
}

static void test_validate_refusals(void **state)
{
    pfix *f = *state;

    exec_plugin(f, "inproc", NULL);
    assert_refused(f, "{}", "parameter 'argv' is required: a list of "
                            "strings, the program first (no shell)");
    assert_refused(f, "{argv: 'ls -l'}", "parameter 'argv' is required: a "
                                         "list of strings, the program "
                                         "first (no shell)");
    assert_refused(f, "{argv: ['']}", "argv[0] must be a non-empty string");
    assert_refused(f, "{argv: [ls, 5]}", "argv[1] must be a string");
    assert_refused(f, "{argv: [ls], env: [A]}",
                   "parameter 'env' must be a mapping of variable names to "
                   "values");
    assert_refused(f, "{argv: [ls], env: {'A=B': x}}",
                   "env: 'A=B' is not a variable name");
    assert_refused(f, "{argv: [ls], env: {A: 1}}",
                   "env A must be a string or {param: NAME}");
    assert_refused(f, "{argv: [ls], env: {A: {param: nope}}}",
                   "env A refers to parameter 'nope', which is not a string "
                   "parameter of the step");
    assert_refused(f, "{argv: [ls], cwd: 7}",
                   "parameter 'cwd' must be a folder's path");
    assert_refused(f, "{argv: [ls], stdin: [x]}",
                   "parameter 'stdin' must be a string or {param: NAME}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PTEST(test_output_inproc),
        PTEST(test_output_isolated),
        PTEST(test_exit_status_fails),
        PTEST(test_signal_fails),
        PTEST(test_output_bounded),
        PTEST(test_binary_output),
        PTEST(test_environment_is_only_what_is_given),
        PTEST(test_stdin_and_cwd),
        PTEST(test_command_not_found),
        PTEST(test_timeout_kills_tree_inproc),
        PTEST(test_timeout_kills_tree_isolated),
        PTEST(test_cancel_kills_tree_inproc),
        PTEST(test_cancel_kills_tree_isolated),
        PTEST(test_secret_by_reference),
        PTEST(test_validate_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
