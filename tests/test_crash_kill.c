/*
 * test_crash_kill.c - the evidence log when the worker dies.
 *
 * A worker killed with SIGKILL at every record boundary, inside every
 * handler and at random moments, and a log cut at random bytes (what a
 * power cut mid-write leaves), must each leave a file that verifies
 * INCOMPLETE (VALID only when the job really finished), never TAMPERED,
 * in which no handler ran without its step_started on disk, and which the
 * next executor opens, cuts clean and appends to.
 *
 * Runs that die do so in fork()ed children (crash_util.c's spawners); the
 * parent reads what reached the files.  The handler's first act is to
 * append "ran <step_index>" to a side file, which is the proof that it
 * ran.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include <jobexec/jobexec.h>

#include "crash_util.h"

#define N_RANDOM_KILLS 200
#define N_CUTS 200

/* ---- killing runs ------------------------------------------------------- */

/* Starts a run of JOB on f's lane, on fresh files. */
static void run_start(fixture *f, const char *fsync, int64_t kill_step,
                      int64_t kill_seq, long kill_after_us)
{
    struct spawner *sp = &spawners[f->lane];
    run_req req;

    memset(&req, 0, sizeof req);
    snprintf(req.log, sizeof req.log, "%s", f->log);
    snprintf(req.side, sizeof req.side, "%s", f->side);
    snprintf(req.fsync, sizeof req.fsync, "%s", fsync);
    req.kill_step = kill_step;
    req.kill_seq = kill_seq;
    req.kill_after_us = kill_after_us;
    unlink(f->log);
    unlink(f->side);
    CHECK(!sp->busy && write_full(sp->to, &req, sizeof req) == 0,
          "the spawner of lane %d takes no request", f->lane);
    sp->busy = 1;
}

/* Waits for the run on f's lane; returns the child's wait status. */
static int run_finish(fixture *f, long *elapsed_us)
{
    run_resp resp = {-1, 0};

    CHECK(spawner_drain(&spawners[f->lane], &resp) == 0,
          "the spawner of lane %d is gone", f->lane);
    CHECK(resp.status != -1, "the spawner of lane %d could not fork",
          f->lane);
    if (elapsed_us != NULL)
        *elapsed_us = resp.elapsed_us;
    return resp.status;
}

static int killed(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* Where a child kills itself: in a handler, or at a record. */
typedef struct kill_point {
    int64_t step, seq;
} kill_point;

/* Checks what a child that killed itself at p left: the log, the side
 * file and a reopening. */
static void check_kill_point(fixture *f, const char *fsync,
                             const kill_point *p, int status)
{
    log_view v;
    size_t n_ran;

    if (p->seq >= 0)
        snprintf(where, sizeof where,
                 "fsync %s, killed at record seq %" PRId64, fsync, p->seq);
    else
        snprintf(where, sizeof where,
                 "fsync %s, killed in the handler of step %" PRId64, fsync,
                 p->step);
    CHECK(killed(status), "the child was not killed (wait status 0x%x)",
          (unsigned)status);
    check_log(f, &v);
    CHECK(v.exists, "no log");
    n_ran = read_ran(f, f->side);
    check_ran(&v, n_ran);
    if (p->seq >= 0) {
        /* Handler k runs between step_started (seq 2k+1) and
         * step_finished (seq 2k+2) are handed over. */
        CHECK(n_ran == (size_t)p->seq / 2, "%zu handlers ran", n_ran);
        /* Record seq itself was never handed over, so never written. */
        CHECK(v.lines <= (size_t)p->seq && !v.torn && !v.finished,
              "%zu records (torn %d, finished %d)", v.lines, v.torn,
              v.finished);
    } else {
        CHECK(n_ran == (size_t)p->step + 1, "%zu handlers ran", n_ran);
        /* Everything up to this step's step_started, nothing more. */
        CHECK(v.lines == 2 * (size_t)p->step + 2 && !v.torn,
              "%zu records (torn %d)", v.lines, v.torn);
    }
    check_reopen(f, fsync, &v);
}

/* Kills at each of the 202 records (before it is handed over) and inside
 * each of the 100 handlers (after its side-file line). */
static void kill_everywhere(fixture *f, const char *fsync)
{
    fixture *lanes[N_LANES] = {f, f->peer};
    kill_point points[N_RECORDS + N_STEPS];
    size_t n = 0, next = 0;

    for (int64_t seq = 0; seq < N_RECORDS; seq++)
        points[n++] = (kill_point){-1, seq};
    for (int64_t k = 0; k < N_STEPS; k++)
        points[n++] = (kill_point){k, -1};
    /* Point i runs on lane i % N_LANES; it is checked while the next one
     * runs on the other lane. */
    for (; next < N_LANES; next++)
        run_start(lanes[next], fsync, points[next].step, points[next].seq,
                  -1);
    for (size_t i = 0; i < n; i++) {
        fixture *l = lanes[i % N_LANES];
        int status = run_finish(l, NULL);

        check_kill_point(l, fsync, &points[i], status);
        if (next < n) {
            run_start(lanes[next % N_LANES], fsync, points[next].step,
                      points[next].seq, -1);
            next++;
        }
    }
    printf("fsync %s: %d kills at record boundaries, %d kills inside "
           "handlers\n",
           fsync, N_RECORDS, N_STEPS);
}

static void test_kill_at_every_boundary_fsync_step(void **state)
{
    kill_everywhere(*state, "step");
}

static void test_kill_at_every_boundary_fsync_none(void **state)
{
    kill_everywhere(*state, "none");
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

/* How long a whole run takes here, fork to reaping, with both lanes
 * busy as they will be: the median of a few. */
static long calibrate(fixture *f)
{
    fixture *lanes[N_LANES] = {f, f->peer};
    long t[2 * N_LANES];

    for (int i = 0; i < N_LANES; i++)
        run_start(lanes[i], "step", -1, -1, -1);
    for (int i = 0; i < 2 * N_LANES; i++) {
        fixture *l = lanes[i % N_LANES];
        int status;
        log_view v;

        snprintf(where, sizeof where, "calibration run %d", i);
        status = run_finish(l, &t[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a run without kill ended with wait status 0x%x",
              (unsigned)status);
        check_log(l, &v);
        CHECK(v.finished, "a finished run left no job_finished");
        if (i + N_LANES < 2 * N_LANES)
            run_start(l, "step", -1, -1, -1);
    }
    qsort(t, 2 * N_LANES, sizeof t[0], cmp_long);
    return t[N_LANES];
}

/* Checks what a kill at a random moment left; counts where it landed. */
static void check_random_kill(fixture *f, int status, int counts[3])
{
    log_view v;
    size_t n_ran;

    CHECK(killed(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
          "the child ended with wait status 0x%x", (unsigned)status);
    check_log(f, &v);
    n_ran = read_ran(f, f->side);
    if (!v.exists) {
        CHECK(n_ran == 0, "%zu handlers ran without a log", n_ran);
        counts[0]++;
        return;
    }
    check_ran(&v, n_ran);
    /* VALID only if the job really finished. */
    if (!killed(status))
        CHECK(v.finished, "the job completed but left no job_finished");
    check_reopen(f, "step", &v);
    counts[v.finished ? 2 : v.lines == 0 ? 0 : 1]++;
}

static void test_kill_at_random_times(void **state)
{
    fixture *f = *state;
    fixture *lanes[N_LANES] = {f, f->peer};
    /* A little past a whole run, so that most kills land while the job
     * runs and some after it ended. */
    long span = calibrate(f) * 11 / 10 + 1;
    long delay[N_RANDOM_KILLS];
    int counts[3] = {0, 0, 0}; /* before the log, mid-job, after the end */
    int next = 0;

    for (int i = 0; i < N_RANDOM_KILLS; i++)
        delay[i] = (long)(rng_next() % (uint64_t)span);
    for (; next < N_LANES; next++)
        run_start(lanes[next], "step", -1, -1, delay[next]);
    for (int i = 0; i < N_RANDOM_KILLS; i++) {
        fixture *l = lanes[i % N_LANES];
        int status = run_finish(l, NULL);

        snprintf(where, sizeof where, "random kill %d, after %ld us", i,
                 delay[i]);
        check_random_kill(l, status, counts);
        if (next < N_RANDOM_KILLS) {
            run_start(lanes[next % N_LANES], "step", -1, -1, delay[next]);
            next++;
        }
    }
    printf("%d random kills within %ld us: %d before the first record, %d "
           "mid-job, %d after job_finished\n",
           N_RANDOM_KILLS, span, counts[0], counts[1], counts[2]);
    snprintf(where, sizeof where, "random kills");
    CHECK(counts[1] > 0, "no kill landed while the job ran");
}

/* A power cut mid-write: the log of a whole job, cut at random bytes. */
static void test_cut_at_random_bytes(void **state)
{
    fixture *f = *state;
    size_t size;
    int n_valid = 0;

    snprintf(where, sizeof where, "the whole job");
    open_parent(f, f->spare, "none");
    run_parent(f, JOB, N_STEPS);
    CHECK(jx_result_status(f->res) == JX_JOB_COMPLETED, "%s",
          jx_result_reason(f->res));
    drop_run(f);
    f->full = tu_read(f->spare);
    CHECK(f->full != NULL, "no log");
    size = strlen(f->full);
    for (int i = 0; i < N_CUTS; i++) {
        size_t cut = (size_t)(rng_next() % (size + 1));
        log_view v;
        int fd;

        snprintf(where, sizeof where, "log cut at byte %zu of %zu", cut, size);
        fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && write(fd, f->full, cut) == (ssize_t)cut,
              "cannot write the cut log: %s", strerror(errno));
        close(fd);
        check_log(f, &v);
        CHECK(v.finished == (cut == size), "job_finished %s",
              v.finished ? "present" : "absent");
        check_reopen(f, "none", &v);
        n_valid += v.finished;
    }
    printf("%d cuts of a %zu-byte log (%d at its end)\n", N_CUTS, size,
           n_valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kill_at_every_boundary_fsync_step, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_kill_at_every_boundary_fsync_none, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_at_random_times, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cut_at_random_bytes, fx_setup,
                                        fx_teardown),
    };

    int rc;

    for (int i = 0; i < N_LANES; i++) {
        if (spawner_start(&spawners[i]) != 0) {
            fprintf(stderr, "cannot start a spawner: %s\n", strerror(errno));
            return 1;
        }
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < N_LANES; i++)
        spawner_stop(&spawners[i]);
    return rc;
}
