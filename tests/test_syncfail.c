/*
 * test_syncfail.c - a failed fdatasync of the evidence log fails the job
 * closed, is never retried, and leaves that log unwritable for the
 * executor's later jobs; the worker itself goes on.
 *
 * This program defines fdatasync() itself: the library's calls resolve to
 * it, so a test can make the Nth sync fail with EIO, as a dying disk would.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

/* ---- the interposed sync ------------------------------------------------ */

static int sync_calls; /* fdatasync calls seen */
static int fail_at;    /* the call (from 1) that fails; 0: none */

int fdatasync(int fd)
{
    if (++sync_calls == fail_at) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

/* ---- an in-process handler that counts its calls ------------------------ */

static int handler_calls;

static int count_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    (void)state;
    (void)host;
    (void)ctx;
    (void)step;
    (void)out;
    handler_calls++;
    return JX_STEP_OK;
}

static const char *const count_types[] = {"count", NULL};

static const step_handler_v1 count_handler = {
    JX_STEP_HANDLER_HEADER, "count", "1.0.0", count_types, 0,
    NULL, NULL, count_execute, NULL,
};

/* ---- fixture ------------------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char *log;
    jx_executor *ex;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL || tu_temp_log(&f->dir, &f->log) != 0)
        return -1;
    sync_calls = 0;
    fail_at = 0;
    handler_calls = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    jx_executor_free(f->ex);
    tu_temp_free(f->dir);
    free(f->log);
    free(f);
    return 0;
}

static void make_executor(fixture *f, const char *fsync)
{
    char text[512];
    jx_config *cfg;
    jx_error err;

    snprintf(text, sizeof text, "evidence: {log: \"%s\", fsync: %s}\n",
             f->log, fsync);
    if (jx_config_parse(text, strlen(text), "sync.yaml", NULL, &cfg,
                        &err) != 0 ||
        jx_executor_new(cfg, &f->ex, &err) != 0)
        fail_msg("executor: %s", err.message);
    jx_config_free(cfg);
    if (jx_executor_add_handler(f->ex, &count_handler, NULL, NULL, &err) != 0)
        fail_msg("handler: %s", err.message);
}

/* Runs a job of n count steps; the result is the caller's. */
static jx_result *run_steps(fixture *f, int n)
{
    char *text = tu_plan_text(NULL, (size_t)n, "count", -1, NULL);
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err;

    assert_non_null(text);
    if (jx_plan_parse(text, strlen(text), "plan.yaml", &plan, &err) != 0 ||
        jx_executor_run(f->ex, plan, NULL, &res, &err) != 0)
        fail_msg("run: %s", err.message);
    free(text);
    jx_plan_free(plan);
    return res;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- tests --------------------------------------------------------------- */

/*
 * Under fsync: step, a job of `steps` steps whose fail_at'th sync fails:
 * the handlers before it ran, the one after never does, the sync is not
 * tried again, the file ends with a whole record (no preallocated zeros
 * after it), and later jobs of this executor fail before their first
 * step without touching the file.
 */
static void check_step_sync_failure(fixture *f, int steps, int fail)
{
    jx_result *res;
    char *want, *text;
    long size;

    make_executor(f, "step");
    fail_at = fail;
    res = run_steps(f, steps);
    assert_int_equal(jx_result_status(res), JX_JOB_FAILED);
    assert_true(asprintf(&want, "evidence write failed: %s: sync failed: "
                                "Input/output error; nothing more is "
                                "written to this file",
                         f->log) > 0);
    assert_string_equal(jx_result_reason(res), want);
    assert_int_equal(handler_calls, fail - 1);
    assert_int_equal(sync_calls, fail);
    jx_result_free(res);
    size = file_size(f->log);
    text = tu_read(f->log);
    assert_non_null(text);
    assert_int_equal((long)strlen(text), size);
    assert_true(size > 0 && text[size - 1] == '\n');
    free(text);

    /* The worker goes on, but this log is done with: no write, no sync. */
    res = run_steps(f, 2);
    assert_int_equal(jx_result_status(res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(res), want);
    assert_int_equal(handler_calls, fail - 1);
    assert_int_equal(sync_calls, fail);
    assert_int_equal(file_size(f->log), size);
    jx_result_free(res);
    free(want);
}

/* One sync before each handler (the first also carries job_started): the
 * third fails, steps 0 and 1 ran, step 2 never does. */
static void test_step_sync_failure_fails_closed(void **state)
{
    check_step_sync_failure(*state, 5, 3);
}

/* The same in a job long enough to take the log alone and append through
 * its mapping (after its first 64 appends): the 70th sync fails, and the
 * zeros ahead are cut when the job hands the log back. */
static void test_step_sync_failure_while_mapped(void **state)
{
    check_step_sync_failure(*state, 100, 70);
}

/* fsync: job syncs once, at the end: every step ran, then the job fails
 * because its record may not be on disk. */
static void test_job_sync_failure_fails_the_job(void **state)
{
    fixture *f = *state;
    jx_result *res;
    char *want;

    make_executor(f, "job");
    fail_at = 1;
    res = run_steps(f, 3);
    assert_int_equal(jx_result_status(res), JX_JOB_FAILED);
    assert_true(asprintf(&want, "evidence write failed: %s: sync failed: "
                                "Input/output error; nothing more is "
                                "written to this file",
                         f->log) > 0);
    assert_string_equal(jx_result_reason(res), want);
    assert_int_equal(handler_calls, 3);
    assert_int_equal(sync_calls, 1);
    jx_result_free(res);
    free(want);
}

/* fsync: none never syncs, so a failing disk sync changes nothing. */
static void test_none_never_syncs(void **state)
{
    fixture *f = *state;
    jx_result *res;

    make_executor(f, "none");
    fail_at = 1;
    res = run_steps(f, 3);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_int_equal(sync_calls, 0);
    jx_result_free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_step_sync_failure_fails_closed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_sync_failure_while_mapped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_sync_failure_fails_the_job,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_none_never_syncs, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
