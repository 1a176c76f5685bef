/*
 * test_isolation_crash.c - what an isolated plugin must not be able to do
 * to the executor.  The misbehave fixture does, one step type each: crash,
 * exit, spin, ignore SIGTERM, exhaust memory or descriptors, flood stdout,
 * send too much, garbage or text that is not UTF-8.  Each must end its
 * step FAILED (or, for stdout, COMPLETED) with its exact reason, and the
 * same executor must then run a normal step, in a new runner when the old
 * one died.
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

#include "isolation_util.h"

/* ---- each misbehaviour, then a normal step ------------------------------ */

/* Runs type, asserts the job's reason and the step's stderr (stderr_has:
 * a part of it; NULL: none), and that the same executor then runs "well".
 * replaced: the runner died with the step, so "well" ran in a new one and
 * the old one was reaped. */
static void misbehave_then_well(fixture *f, const char *type, int timeout,
                                const char *error, const char *stderr_has,
                                int replaced)
{
    const char *err_text;
    char reason[512];
    pid_t before, after;

    make_executor(f, "", "", "");
    before = well_pid(f);
    run_type(f, type, timeout, NULL);
    snprintf(reason, sizeof reason, "Step 0 failed: %s", error);
    assert_outcome(f, JX_JOB_FAILED, reason);
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
    assert_string_equal(step_error(f), error);
    assert_string_equal(json_string_value(json_object_get(f->step, "status")),
                        "FAILED");
    assert_true(json_is_null(json_object_get(f->step, "output")));
    err_text = json_string_value(json_object_get(f->step, "stderr"));
    if (stderr_has == NULL && err_text != NULL)
        fail_msg("unexpected stderr: %s", err_text);
    if (stderr_has != NULL &&
        (err_text == NULL || strstr(err_text, stderr_has) == NULL))
        fail_msg("stderr lacks '%s': %s", stderr_has,
                 err_text ? err_text : "(none)");
    after = well_pid(f);
    if (replaced) {
        assert_int_not_equal(after, before);
        assert_int_equal(proc_state(before, NULL), 0); /* reaped */
    }
    assert_int_equal(count_zombie_children(), 0);
}

static void test_segfault(void **state)
{
    if (SANITIZED) /* UBSan reports the load and exits */
        misbehave_then_well(*state, "segfault", 30,
                            "runner exited with status 1 during the step",
                            "runtime error: load of null pointer", 1);
    else
        misbehave_then_well(*state, "segfault", 30,
                            "handler crashed: signal 11 (SIGSEGV: "
                            "Segmentation fault)",
                            NULL, 1);
}

static void test_abort(void **state)
{
    misbehave_then_well(*state, "abort", 30,
                        "handler crashed: signal 6 (SIGABRT: Aborted)", NULL,
                        1);
}

static void test_exit0(void **state)
{
    misbehave_then_well(*state, "exit0", 30,
                        "runner exited with status 0 during the step", NULL,
                        1);
}

static void test_loop_times_out(void **state)
{
    misbehave_then_well(*state, "loop", 1, "timed out after 1 s", NULL, 1);
}

static void test_ignore_term_times_out(void **state)
{
    misbehave_then_well(*state, "ignore_term", 1, "timed out after 1 s",
                        NULL, 1);
}

static void test_alloc_10g(void **state)
{
    if (SANITIZED) {
        /* The runner sets no RLIMIT_AS under AddressSanitizer. */
        print_message("skipped: no address space limit under "
                      "AddressSanitizer\n");
        skip();
    }
    misbehave_then_well(*state, "alloc_10g", 30,
                        "cannot allocate 10 GiB: Cannot allocate memory", NULL,
                        0);
}

/* RLIMIT_NOFILE minus what the runner holds: the first open past it. */
static void check_open_files(fixture *f, unsigned limit)
{
    char reason[128];
    pid_t pid = well_pid(f);
    size_t held = count_fds(pid);

    assert_true(held < limit);
    run_type(f, "open_files", 30, NULL);
    snprintf(reason, sizeof reason,
             "Step 0 failed: open #%zu failed: Too many open files",
             (size_t)limit - held + 1);
    assert_outcome(f, JX_JOB_FAILED, reason);
    well_pid(f);
}

static void test_open_files(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", ""); /* max_open_files: 1024 */
    check_open_files(f, 1024);
}

static void test_open_files_configured(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "  max_open_files: 64\n", "");
    check_open_files(f, 64);
}

static void test_stdout_1g(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    run_type(f, "stdout_1g", 60, NULL);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f->step, "output"), "wrote")),
                        "1 GiB to stdout");
    /* stdout is /dev/null: nothing of it reaches the evidence. */
    assert_null(json_object_get(f->step, "stderr"));
    well_pid(f);
}

/* "output too large: N bytes, more than the limit of L (...)" where N is
 * the DONE frame: the 1 MiB blob and a little JSON around it. */
static void check_big_output(fixture *f, unsigned long limit)
{
    char tail[128];
    const char *reason, *prefix = "Step 0 failed: output too large: ";
    unsigned long n;
    char *end;
    pid_t before = well_pid(f);

    run_type(f, "big_output", 30, NULL);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    reason = jx_result_reason(f->res);
    assert_true(strncmp(reason, prefix, strlen(prefix)) == 0);
    n = strtoul(reason + strlen(prefix), &end, 10);
    assert_true(n > (1ul << 20) && n < (1ul << 20) + 256);
    snprintf(tail, sizeof tail,
             " bytes, more than the limit of %lu (runner.max_output_bytes)",
             limit);
    assert_string_equal(end, tail);
    assert_int_not_equal(well_pid(f), before);
}

static void test_big_output(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    check_big_output(f, 1048576);
}

static void test_max_output_bytes_configured(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "  max_output_bytes: 4096\n", "");
    check_big_output(f, 4096);
}

/* What the runner could not record fails the step as in-process. */
static void test_output_not_utf8(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    run_type(f, "bad_utf8", 30, NULL);
    assert_outcome(f, JX_JOB_FAILED, "Step 0 failed: the handler's output "
                                     "could not be recorded: a string is not "
                                     "valid UTF-8");
    well_pid(f);
}

static void test_garbage(void **state)
{
    fixture *f = *state;
    const char *prefix = "Step 0 failed: protocol error: frame '";
    pid_t before;

    make_executor(f, "", "", "");
    before = well_pid(f);
    run_type(f, "garbage", 30, NULL);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_true(strncmp(jx_result_reason(f->res), prefix, strlen(prefix)) ==
                0);
    assert_int_not_equal(well_pid(f), before);
    assert_int_equal(count_zombie_children(), 0);
}

/* A plugin that closes the channel is noticed at once, not at the step's
 * timeout, also when a program it started (and left fd 3 to) lives on:
 * the runner's fd 3 is close-on-exec. */
static void closes_channel(fixture *f, const char *type)
{
    double start = now_s();

    misbehave_then_well(f, type, 30,
                        "protocol error: the runner closed its channel", NULL,
                        1);
    if (now_s() - start > 10.0)
        fail_msg("noticed after %.1f s", now_s() - start);
}

static void test_close_channel(void **state)
{
    closes_channel(*state, "close_chan");
}

static void test_close_channel_with_child(void **state)
{
    closes_channel(*state, "close_chan_child");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_segfault),
        T(test_abort),
        T(test_exit0),
        T(test_loop_times_out),
        T(test_ignore_term_times_out),
        T(test_alloc_10g),
        T(test_open_files),
        T(test_open_files_configured),
        T(test_stdout_1g),
        T(test_big_output),
        T(test_max_output_bytes_configured),
        T(test_garbage),
        T(test_close_channel),
        T(test_close_channel_with_child),
        T(test_output_not_utf8),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
