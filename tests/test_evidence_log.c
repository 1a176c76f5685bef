/*
 * test_evidence_log.c - the JSON Lines log named by the config: its chain,
 * records on disk before the step's handler runs, jobs and executors
 * appending to one file, its mode, a log that cannot be opened or is a
 * device;
 * a second writer leaving a live writer's last line alone, and an executor
 * opened only to check, which never creates or changes the log.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "evidence_util.h"

/* ---- the log ------------------------------------------------------------ */

static void test_log_chain_verifies(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 4, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 10);
    assert_int_equal(verify_chain(lines, n, TU_JOB), 4);
    /* The log holds exactly the bytes the callback was given. */
    assert_int_equal(seen.n_records, 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(lines[i], seen.records[i].json);
}

static void test_log_of_failed_job(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 4, 1);
    run(f, 0);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    n = read_log(f, lines, MAX_RECORDS);
    /* Steps 0 and 1 started and finished; 2 and 3 never started. */
    assert_int_equal(n, 6);
    assert_int_equal(verify_chain(lines, n, TU_JOB), 2);
}

static void test_step_started_on_disk_before_handler(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    make_executor(f, f->log_path);
    seen.log_path = f->log_path;
    parse_plan(f, TU_JOB, 3, -1);
    run(f, 0);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_calls, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(seen.calls[i], (int64_t)i);
        if (!seen.own_record_on_disk[i])
            fail_msg("step %zu ran before its step_started reached the log",
                     i);
    }
    assert_int_equal(verify_chain(lines, read_log(f, lines, MAX_RECORDS), TU_JOB),
                     3);
}

static void test_two_jobs_in_one_log(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 2, -1);
    run(f, 0);
    parse_plan(f, TU_JOB2, 3, -1);
    run(f, 0);
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 6 + 8);
    /* Jobs run one after the other: two whole chains, one after the other,
     * each starting from its own job_id. */
    assert_int_equal(verify_chain(lines, 6, TU_JOB), 2);
    assert_int_equal(verify_chain(lines + 6, 8, TU_JOB2), 3);
}

static void test_log_appends_across_executors(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 1, -1);
    run(f, 0);
    /* A new executor (a restarted worker) appends; it never truncates. */
    jx_executor_free(f->ex);
    f->ex = NULL;
    jx_config_free(f->cfg);
    f->cfg = NULL;
    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB2, 1, -1);
    run(f, 0);
    assert_int_equal(read_log(f, lines, MAX_RECORDS), 8);
    assert_int_equal(verify_chain(lines, 4, TU_JOB), 1);
    assert_int_equal(verify_chain(lines + 4, 4, TU_JOB2), 1);
}

static void test_log_file_mode(void **state)
{
    fixture *f = *state;
    struct stat st;
    mode_t old = umask(0); /* the mode must not depend on the umask */

    make_executor(f, f->log_path);
    umask(old);
    assert_int_equal(stat(f->log_path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    /* Created at start-up, empty until a job runs. */
    assert_int_equal(st.st_size, 0);
}

static void test_log_path_is_folder(void **state)
{
    fixture *f = *state;
    char *text = NULL, *expected = NULL;
    int rc;

    assert_true(asprintf(&text, "evidence: {log: \"%s\"}\n", f->dir) > 0);
    rc = jx_config_parse(text, strlen(text), "test.yaml", TU_PLUGINS, &f->cfg,
                         &f->err);
    free(text);
    assert_int_equal(rc, 0);
    f->ex = (jx_executor *)&rc; /* must be reset to NULL */
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_true(asprintf(&expected,
                         "test.yaml:1:17: evidence log '%s': cannot open: Is "
                         "a directory",
                         f->dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
}

/* A device opens, but swallows the evidence (/dev/null) or takes none of
 * it (/dev/full): it is refused before anything runs, at the key that
 * names it.  Appends a full disk refuses are test_crash_disk's. */
#define LOG_DEV_FULL "evidence: {log: /dev/full}\n"

static void test_device_log_refused(void **state)
{
    fixture *f = *state;
    struct stat st;
    int rc;

    if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode))
        skip();
    rc = jx_config_parse(LOG_DEV_FULL, strlen(LOG_DEV_FULL), "test.yaml",
                         TU_PLUGINS, &f->cfg, &f->err);
    assert_int_equal(rc, 0);
    f->ex = (jx_executor *)&rc; /* must be reset to NULL */
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:1:17: evidence log '/dev/full': a device, "
                        "expected a regular file");
}

/* ---- sharing the file; checking without touching it --------------------- */

/* The head of a record whose append is still going on. */
static const char half_record[] = "{\"seq\":4,\"prev\":\"9f86d0";

static void append_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "a");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void test_live_writers_last_line_is_left_alone(void **state)
{
    fixture *f = *state;
    jx_executor *other = NULL;
    char *before, *during, *after;

    make_executor(f, f->log_path);
    parse_plan(f, TU_JOB, 1, -1);
    run(f, 0);
    /* While f->ex has the file open, a line without its newline may be
     * its record being appended right now: a second writer starting up
     * must not take it for a crash's torn line. */
    append_text(f->log_path, half_record);
    before = tu_read(f->log_path);
    assert_non_null(before);
    if (jx_executor_new(f->cfg, &other, &f->err) != 0)
        fail_msg("second executor: %s", f->err.message);
    during = tu_read(f->log_path);
    assert_non_null(during);
    assert_string_equal(during, before);
    jx_executor_free(other);
    /* Once nobody has the file open, the line is a crash's leftover: the
     * next writer cuts it and nothing else. */
    jx_executor_free(f->ex);
    f->ex = NULL;
    if (jx_executor_new(f->cfg, &other, &f->err) != 0)
        fail_msg("third executor: %s", f->err.message);
    after = tu_read(f->log_path);
    assert_non_null(after);
    assert_int_equal(strlen(after), strlen(before) - strlen(half_record));
    assert_memory_equal(after, before, strlen(after));
    jx_executor_free(other);
    free(before);
    free(during);
    free(after);
}

static void test_check_only_creates_no_log(void **state)
{
    fixture *f = *state;
    struct stat st;

    parse_log_config(f, f->log_path);
    if (jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex, &f->err) !=
        0)
        fail_msg("check-only executor: %s", f->err.message);
    assert_int_equal(stat(f->log_path, &st), -1);
    assert_int_equal(jx_executor_add_handler(f->ex, &tu_rec_handler, NULL, NULL,
                                             &f->err),
                     0);
    parse_plan(f, TU_JOB, 2, -1);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
    /* It checks; it never runs. */
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &f->res, &f->err),
                     JX_EINVAL);
    assert_null(f->res);
    assert_string_equal(f->err.message,
                        "jx_executor_run: the executor was opened with "
                        "JX_EXECUTOR_CHECK_ONLY and runs no job");
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(stat(f->log_path, &st), -1);
}

static void test_check_only_leaves_torn_line(void **state)
{
    fixture *f = *state;
    char *after;

    append_text(f->log_path, half_record);
    parse_log_config(f, f->log_path);
    if (jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex, &f->err) !=
        0)
        fail_msg("check-only executor: %s", f->err.message);
    after = tu_read(f->log_path);
    assert_non_null(after);
    assert_string_equal(after, half_record);
    free(after);
}

static void test_check_only_needs_the_logs_folder(void **state)
{
    fixture *f = *state;
    char *path = NULL, *expected = NULL;

    assert_true(asprintf(&path, "%s/no-such-folder/evidence.jsonl", f->dir) >
                0);
    parse_log_config(f, path);
    f->ex = (jx_executor *)&path; /* must be reset to NULL */
    assert_int_equal(jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex,
                                      &f->err),
                     JX_ECONFIG);
    assert_null(f->ex);
    assert_true(asprintf(&expected,
                         "test.yaml:1:17: evidence log '%s': cannot be "
                         "created in "
                         "'%s/no-such-folder': No such file or directory",
                         path, f->dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
    free(path);
}

static void test_unknown_open_flags_refused(void **state)
{
    fixture *f = *state;

    f->ex = (jx_executor *)f; /* must be reset to NULL */
    assert_int_equal(jx_executor_open(NULL, 1u << 5, &f->ex, &f->err),
                     JX_EINVAL);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "jx_executor_open: unknown flags 0x20");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_log_chain_verifies),
        T(test_log_of_failed_job),
        T(test_step_started_on_disk_before_handler),
        T(test_two_jobs_in_one_log),
        T(test_log_appends_across_executors),
        T(test_log_file_mode),
        T(test_log_path_is_folder),
        T(test_device_log_refused),
        T(test_live_writers_last_line_is_left_alone),
        T(test_check_only_creates_no_log),
        T(test_check_only_leaves_torn_line),
        T(test_check_only_needs_the_logs_folder),
        T(test_unknown_open_flags_refused),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
