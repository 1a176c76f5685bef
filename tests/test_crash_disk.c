/*
 * test_crash_disk.c - the evidence log when the disk says no, and under
 * each fsync policy.  Appends that fail (EFBIG under RLIMIT_FSIZE, ENOSPC
 * on a full tmpfs, also when the job goes to map the log and cannot grow
 * it) stop the job before its next step, are cut back off the file
 * (unless another writer has it open), and leave the worker able to run
 * the next job; every fsync policy leaves logs that verify VALID.
 *
 * The failing appends happen in fork()ed children, which report through a
 * pipe; the parent reads what reached the files.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

#include "crash_util.h"

#define FAIL_STEPS 50
#define AFTER_STEPS 5

/* ---- appends that fail -------------------------------------------------- */

/* What a child that ran two jobs on one executor reports through a pipe. */
typedef struct child_report {
    int skipped;    /* the stage could not be set up */
    char why[1100]; /* ... why */
    int status[2];  /* jx_job_status, or -1: the job did not run */
    size_t planned[2], executed[2];
    char reason[2][1100];
} child_report;

/* One write(2) to a pipe, so that it arrives whole. */
_Static_assert(sizeof(child_report) <= PIPE_BUF, "the report must fit");

/* Runs job_id with n steps on ex into slot of r. */
static void run_into(jx_executor *ex, const char *job_id, size_t n,
                     child_report *r, int slot)
{
    jx_error err;
    jx_plan *plan = make_plan(job_id, n, &err);
    jx_result *res = NULL;

    r->status[slot] = -1;
    r->planned[slot] = n;
    if (plan == NULL) {
        snprintf(r->reason[slot], sizeof r->reason[slot], "plan: %s",
                 err.message);
        return;
    }
    if (jx_executor_run(ex, plan, NULL, &res, &err) != 0) {
        snprintf(r->reason[slot], sizeof r->reason[slot], "run: %s",
                 err.message);
    } else {
        r->status[slot] = (int)jx_result_status(res);
        r->executed[slot] = jx_result_steps_executed(res);
        snprintf(r->reason[slot], sizeof r->reason[slot], "%s",
                 jx_result_reason(res));
        jx_result_free(res);
    }
    jx_plan_free(plan);
}

typedef void (*stage_fn)(fixture *f, const void *arg, child_report *r);

/* Runs stage in a child and returns its report. */
static void in_child(fixture *f, stage_fn stage, const void *arg,
                     child_report *r)
{
    int fds[2], status;
    pid_t pid;
    ssize_t got;

    memset(r, 0, sizeof *r);
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        child_report mine;

        close(fds[0]);
        memset(&mine, 0, sizeof mine);
        stage(f, arg, &mine);
        _exit(write(fds[1], &mine, sizeof mine) == (ssize_t)sizeof mine ? 0
                                                                        : 5);
    }
    close(fds[1]);
    got = pid > 0 ? read(fds[0], r, sizeof *r) : -1;
    close(fds[0]);
    status = pid > 0 ? wait_child(pid) : -1;
    CHECK(pid > 0, "fork: %s", strerror(errno));
    CHECK(got == (ssize_t)sizeof *r && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0,
          "the child reported nothing (wait status 0x%x)", (unsigned)status);
}

/* The first job stopped at a failed append, before its next step, and
 * left a log that ends whole; the second, on the same executor, completed
 * after it in the log_final. */
static void check_failed_then_recovered(fixture *f, const child_report *r,
                                        const char *log_final,
                                        const char *reason)
{
    log_view v, after;
    seen_jobs s;
    jx_verify_summary sum;
    size_t n_ran;

    CHECK(r->status[0] == JX_JOB_FAILED, "the first job: status %d: %s",
          r->status[0], r->reason[0]);
    CHECK(strcmp(r->reason[0], reason) == 0, "reason '%s', expected '%s'",
          r->reason[0], reason);
    CHECK(r->executed[0] < r->planned[0], "all %zu steps ran",
          r->executed[0]);
    n_ran = read_ran(f, f->side_first);
    CHECK(n_ran == r->executed[0],
          "%zu handlers ran for %zu steps executed: the handler of the "
          "step after the failure ran",
          n_ran, r->executed[0]);

    /* Right after the failure: the failed append was cut back off. */
    read_log(f->first, &f->text, &v);
    CHECK(v.exists && v.lines > 0 && !v.torn && !v.finished,
          "the log after the failure: %zu lines, torn %d, sealed %d", v.lines,
          v.torn, v.finished);
    verify(f, f->first, &s, &sum);
    CHECK(sum.jobs == 1 && sum.torn_tail == 0 &&
              s.job.verdict == JX_VERDICT_INCOMPLETE &&
              s.job.records == v.lines,
          "the log after the failure: %zu jobs, torn %d, %s with %" PRIu64
          " of %zu records (%s)",
          sum.jobs, sum.torn_tail, verdict_name(s.job.verdict),
          s.job.records, v.lines, s.job.reason);
    CHECK(n_ran < N_STEPS && !v.started[n_ran],
          "step %zu's step_started is in the log, but its handler never ran",
          n_ran);
    check_ran(&v, n_ran);

    CHECK(r->status[1] == JX_JOB_COMPLETED && r->executed[1] == AFTER_STEPS,
          "the next job on the same executor: status %d, %zu steps: %s",
          r->status[1], r->executed[1], r->reason[1]);
    CHECK(strcmp(r->reason[1], "All steps completed successfully") == 0,
          "the next job: %s", r->reason[1]);
    read_log(log_final, &f->text2, &after);
    CHECK(after.lines == v.lines && after.whole > v.whole &&
              memcmp(f->text2, f->text, v.whole) == 0,
          "the next job changed the first one's records");
    check_with_job2(f, log_final, &v, AFTER_STEPS);
}

/* What an EFBIG stage is given. */
typedef struct efbig_arg {
    rlim_t limit;
    int other_writer; /* a second executor holds the log open meanwhile */
} efbig_arg;

static void efbig_stage(fixture *f, const void *arg, child_report *r)
{
    const efbig_arg *a = arg;
    struct rlimit rl;
    rlim_t saved;
    jx_executor *ex, *other = NULL;
    jx_error err;

    signal(SIGXFSZ, SIG_IGN); /* write(2) then fails with EFBIG */
    r->status[0] = r->status[1] = -1;
    if (make_executor(f->log, "step", f->side, -1, &ex, &err) != 0 ||
        (a->other_writer &&
         make_executor(f->log, "step", "/dev/null", -1, &other, &err) != 0)) {
        snprintf(r->reason[0], sizeof r->reason[0], "executor: %s",
                 err.message);
        return;
    }
    getrlimit(RLIMIT_FSIZE, &rl);
    saved = rl.rlim_cur;
    rl.rlim_cur = a->limit;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        snprintf(r->reason[0], sizeof r->reason[0], "setrlimit: %s",
                 strerror(errno));
        r->status[0] = -1;
    } else {
        run_into(ex, JOB, FAIL_STEPS, r, 0);
    }
    rl.rlim_cur = saved; /* only the soft limit was lowered */
    setrlimit(RLIMIT_FSIZE, &rl);
    tu_copy(f->log, f->first, 0600);
    tu_copy(f->side, f->side_first, 0644);
    run_into(ex, JOB2, AFTER_STEPS, r, 1);
    jx_executor_free(ex);
    jx_executor_free(other);
}

/* Bytes of the first n lines of text. */
static size_t prefix_of_lines(const char *text, size_t n)
{
    const char *p = text;

    for (size_t i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return p != NULL ? (size_t)(p - text) : strlen(text);
}

/* A file-size limit that falls in the middle of step 5's step_started,
 * which is appended (with step 4's step_finished) before handler 5 would
 * run; measured on a first run. */
static rlim_t limit_inside_step_5(fixture *f)
{
    size_t five_steps, sixth;

    snprintf(where, sizeof where, "measuring");
    open_parent(f, f->spare, "step");
    run_parent(f, JOB, FAIL_STEPS);
    drop_run(f);
    free(f->text);
    f->text = tu_read(f->spare);
    CHECK(f->text != NULL, "no log");
    five_steps = prefix_of_lines(f->text, 1 + 2 * 5);
    sixth = prefix_of_lines(f->text, 1 + 2 * 5 + 1) - five_steps;
    return (rlim_t)(five_steps + sixth / 2);
}

/* f->reason: "evidence write failed: LOG: " and what. */
static const char *write_failed(fixture *f, const char *what)
{
    char *reason = NULL;

    CHECK(asprintf(&reason, "evidence write failed: %s: %s", f->log, what) >
              0,
          "out of memory");
    free(f->reason);
    f->reason = reason; /* freed with the fixture */
    return reason;
}

static void test_efbig_fails_closed(void **state)
{
    fixture *f = *state;
    child_report r;
    efbig_arg a = {limit_inside_step_5(f), 0};

    snprintf(where, sizeof where, "RLIMIT_FSIZE %lu",
             (unsigned long)a.limit);
    in_child(f, efbig_stage, &a, &r);
    check_failed_then_recovered(f, &r, f->log,
                                write_failed(f, strerror(EFBIG)));
    CHECK(r.executed[0] == 5, "%zu steps ran under a limit set for 5",
          r.executed[0]);
    printf("EFBIG at %lu bytes: stopped after %zu of %d steps\n",
           (unsigned long)a.limit, r.executed[0], FAIL_STEPS);
}

/* While another writer has the file open, bytes at its end may be that
 * writer's next record: a failed append is then left in place, and the
 * executor writes nothing more to the file.  The next writer to open it
 * alone cuts the torn line. */
static void test_efbig_beside_another_writer(void **state)
{
    fixture *f = *state;
    child_report r;
    efbig_arg a = {limit_inside_step_5(f), 1};
    log_view v;
    seen_jobs s;
    jx_verify_summary sum;

    snprintf(where, sizeof where, "RLIMIT_FSIZE %lu, another writer",
             (unsigned long)a.limit);
    in_child(f, efbig_stage, &a, &r);
    CHECK(r.status[0] == JX_JOB_FAILED && r.executed[0] == 5,
          "the first job: status %d after %zu steps: %s", r.status[0],
          r.executed[0], r.reason[0]);
    CHECK(strcmp(r.reason[0], write_failed(f, strerror(EFBIG))) == 0,
          "reason '%s'", r.reason[0]);
    CHECK(r.status[1] == JX_JOB_FAILED && r.executed[1] == 0,
          "the next job: status %d after %zu steps: %s", r.status[1],
          r.executed[1], r.reason[1]);
    CHECK(strcmp(r.reason[1],
                 write_failed(f, "a failed append could not be cut off "
                                 "safely; nothing more is written to this "
                                 "file")) == 0,
          "reason '%s'", r.reason[1]);
    read_log(f->log, &f->text, &v);
    CHECK(v.torn && f->text != NULL && strlen(f->text) == a.limit,
          "the log: torn %d, %zu bytes under a limit of %lu", v.torn,
          f->text != NULL ? strlen(f->text) : 0, (unsigned long)a.limit);
    CHECK(read_ran(f, f->side_first) == 5, "%zu handlers ran",
          read_ran(f, f->side_first));

    open_parent(f, f->log, "step"); /* alone now: cuts the torn line */
    read_log(f->log, &f->text, &v);
    CHECK(!v.torn && v.lines == 1 + 2 * 5, "after reopening: torn %d, %zu "
                                           "lines", v.torn, v.lines);
    verify(f, f->log, &s, &sum);
    CHECK(sum.torn_tail == 0 && s.job.verdict == JX_VERDICT_INCOMPLETE,
          "after reopening: torn %d, %s (%s)", sum.torn_tail,
          verdict_name(s.job.verdict), s.job.reason);
}

/* Fills the file system of path but for `room` pages: a filler takes
 * every block, then gives room back. */
static int fill_but(const char *path, off_t room, char *why, size_t why_len)
{
    char block[4096];
    off_t size = 0;
    ssize_t n;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    memset(block, 'x', sizeof block);
    while ((n = write(fd, block, sizeof block)) > 0)
        size += n;
    if (n < 0 && errno != ENOSPC) {
        snprintf(why, why_len, "filling: %s", strerror(errno));
        close(fd);
        return -1;
    }
    size = (size / 4096 - room) * 4096;
    if (size < 0 || ftruncate(fd, size) != 0) {
        snprintf(why, why_len, "shrinking the filler: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* What an ENOSPC stage is given. */
typedef struct enospc_arg {
    const char *log_copy; /* where the log is copied for the parent */
    const char *tmpfs;    /* its mount options */
    off_t room;           /* pages left free */
    size_t steps;         /* of the job that runs out of room */
} enospc_arg;

static void enospc_stage(fixture *f, const void *arg, child_report *r)
{
    const enospc_arg *a = arg;
    char *log = NULL, *filler = NULL;
    jx_executor *ex = NULL;
    jx_error err;

    r->status[0] = r->status[1] = -1;
    /* A private tmpfs: mounted in this child's own namespace only. */
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", f->mnt, "tmpfs", MS_NOSUID | MS_NODEV, a->tmpfs) !=
            0) {
        r->skipped = 1;
        snprintf(r->why, sizeof r->why, "%s", strerror(errno));
        return;
    }
    if (asprintf(&log, "%s/evidence.jsonl", f->mnt) < 0 ||
        asprintf(&filler, "%s/filler", f->mnt) < 0) {
        snprintf(r->why, sizeof r->why, "out of memory");
    } else if (make_executor(log, "step", f->side, -1, &ex, &err) != 0) {
        snprintf(r->why, sizeof r->why, "executor: %s", err.message);
    } else if (fill_but(filler, a->room, r->why, sizeof r->why) == 0) {
        run_into(ex, JOB, a->steps, r, 0);
        /* The parent cannot see this tmpfs: it reads copies. */
        tu_copy(log, f->first, 0600);
        tu_copy(f->side, f->side_first, 0644);
        unlink(filler);
        run_into(ex, JOB2, AFTER_STEPS, r, 1);
        if (tu_copy(log, a->log_copy, 0600) != 0)
            snprintf(r->why, sizeof r->why, "cannot copy the log");
    }
    jx_executor_free(ex);
    free(log);
    free(filler);
}

/* Runs the ENOSPC stage a describes (skipped where no tmpfs can be
 * mounted): the job fails closed after more than min_steps steps. */
static void run_out_of_room(fixture *f, const enospc_arg *a,
                            size_t min_steps)
{
    child_report r;
    char *reason = NULL;

    CHECK(mkdir(f->mnt, 0700) == 0, "mkdir: %s", strerror(errno));
    in_child(f, enospc_stage, a, &r);
    if (r.skipped) {
        printf("skipped: cannot mount a tmpfs here (%s)\n", r.why);
        skip();
    }
    CHECK(r.why[0] == '\0', "%s", r.why);
    CHECK(asprintf(&reason, "evidence write failed: %s/evidence.jsonl: %s",
                   f->mnt, strerror(ENOSPC)) > 0,
          "out of memory");
    free(f->reason);
    f->reason = reason;
    check_failed_then_recovered(f, &r, f->spare, reason);
    CHECK(r.executed[0] > min_steps, "stopped after %zu steps, expected "
          "more than %zu", r.executed[0], min_steps);
    printf("ENOSPC: stopped after %zu of %zu steps\n", r.executed[0],
           r.planned[0]);
}

/* One page of room: the job stops within its first steps. */
static void test_enospc_fails_closed(void **state)
{
    fixture *f = *state;
    const enospc_arg a = {f->spare, "size=64k,mode=0700", 1, FAIL_STEPS};

    snprintf(where, sizeof where, "a full tmpfs");
    run_out_of_room(f, &a, 0);
}

/*
 * A job that runs out of room after its first MAP_AFTER (64) appends,
 * when it goes to take the log alone: growing the file for the mapping
 * fails, the job carries on with write(2), and fails closed at the append
 * that does not fit, as a job that never mapped does.  About 650 bytes a
 * step: 12 pages hold some 75 steps, not the 100 asked for.
 */
static void test_enospc_when_the_log_would_be_mapped(void **state)
{
    fixture *f = *state;
    const enospc_arg a = {f->spare, "size=256k,mode=0700", 12, N_STEPS};

    snprintf(where, sizeof where, "a tmpfs full after some 75 steps");
    run_out_of_room(f, &a, 64);
}

/* ---- fsync policies ----------------------------------------------------- */

static void test_fsync_policies_verify_valid(void **state)
{
    /* NULL: no fsync key, the default policy (step). */
    static const char *const policies[] = {"step", "job", "none", NULL};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        const char *policy = policies[i];
        seen_jobs s;
        jx_verify_summary sum;
        struct stat st;

        snprintf(where, sizeof where, "fsync %s",
                 policy != NULL ? policy : "(default)");
        unlink(f->log);
        open_parent(f, f->log, policy);
        run_parent(f, JOB, N_STEPS);
        CHECK(jx_result_status(f->res) == JX_JOB_COMPLETED, "%s",
              jx_result_reason(f->res));
        run_parent(f, JOB2, REOPEN_STEPS);
        CHECK(jx_result_status(f->res) == JX_JOB_COMPLETED, "%s",
              jx_result_reason(f->res));
        drop_run(f);
        verify(f, f->log, &s, &sum);
        CHECK(sum.jobs == 2 && sum.valid == 2 && sum.torn_tail == 0,
              "%zu jobs, %zu valid: %s%s", sum.jobs, sum.valid, s.job.reason,
              s.job2.reason);
        CHECK(s.job.records == N_RECORDS &&
                  s.job2.records == 2 * REOPEN_STEPS + 2,
              "%" PRIu64 " and %" PRIu64 " records", s.job.records,
              s.job2.records);
        CHECK(strcmp(s.job.final_status, "COMPLETED") == 0, "final_status %s",
              s.job.final_status);
        CHECK(stat(f->log, &st) == 0 && (st.st_mode & 0777) == 0600,
              "the log's mode is %o", (unsigned)(st.st_mode & 0777));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fsync_policies_verify_valid,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_efbig_fails_closed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_efbig_beside_another_writer,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enospc_fails_closed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_enospc_when_the_log_would_be_mapped, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
