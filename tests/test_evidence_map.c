/*
 * test_evidence_map.c - a job that holds the evidence log alone appends
 * through a shared mapping of it (core/evidence/log.c): a writer killed
 * while it holds the log leaves a zero tail, which `evidence verify`
 * reports as a torn tail and the next writer alone cuts; a second writer
 * that arrives meanwhile waits for the log to be handed back, and both
 * jobs verify whole; after every job and at close the file ends with the
 * last record, under every fsync policy; a long job maps it with huge
 * pages unless every step is synced.
 */
#include "config.h"

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

#include "crash_util.h"

/* core/evidence/log.c's MAP_AFTER: a job's appends made with write(2)
 * before it may take the log alone (one per step). */
#define MAP_AFTER 64

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Whether this process (or pid) has path mapped. */
static int maps_file(pid_t pid, const char *path)
{
    char name[64], line[1024];
    FILE *fp;
    int found = 0;

    snprintf(name, sizeof name, "/proc/%ld/maps", (long)pid);
    if ((fp = fopen(name, "re")) == NULL)
        return 0;
    while (!found && fgets(line, sizeof line, fp) != NULL)
        found = strstr(line, path) != NULL;
    fclose(fp);
    return found;
}

/* In a child: runs job_id (n steps) on log, the handler of step kill_at
 * killing the child.  Exits 0 when the job completed. */
static void child_run(const char *log, const char *fsync, const char *side,
                      const char *job_id, size_t n, int64_t kill_at)
{
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err;
    int ok;

    ok = make_executor(log, fsync, side, kill_at, &ex, &err) == 0 &&
         (plan = make_plan(job_id, n, &err)) != NULL &&
         jx_executor_run(ex, plan, NULL, &res, &err) == 0 &&
         jx_result_status(res) == JX_JOB_COMPLETED;
    if (!ok)
        fprintf(stderr, "child: %s\n", err.message);
    _exit(ok ? 0 : 1);
}

static pid_t fork_run(fixture *f, const char *job_id, size_t n,
                      int64_t kill_at)
{
    pid_t pid = fork();

    CHECK(pid >= 0, "fork failed");
    if (pid == 0)
        child_run(f->log, "none", f->side, job_id, n, kill_at);
    return pid;
}

/* The log's bytes up to its first NUL, read into f->text. */
static long text_len(fixture *f)
{
    free(f->text);
    f->text = tu_read(f->log);
    return f->text != NULL ? (long)strlen(f->text) : -1;
}

/* How many "ran k" lines the side file holds. */
static size_t side_lines(const char *path)
{
    return tu_count_lines(path);
}

/* ---- a crash while mapped ----------------------------------------------- */

/*
 * A writer killed in a handler, the log mapped: the file holds the
 * records up to that step's step_started, then zeros.  verify says what
 * it says of a torn tail (exit 1, the same words); the next writer,
 * alone, cuts the zeros when it opens the log, and its job follows the
 * dead one's records directly.
 */
static void check_kill_while_mapped(fixture *f, size_t n, size_t kill_at)
{
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log, NULL};
    log_view v;
    tu_proc p;
    char *want;
    int status;

    snprintf(where, sizeof where, "killed in the handler of step %zu of %zu",
             kill_at, n);
    status = wait_child(fork_run(f, JOB, n, (int64_t)kill_at));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "the child was not killed (wait status 0x%x)", (unsigned)status);
    check_log(f, &v);
    CHECK(v.lines == 2 * kill_at + 2 && !v.torn && !v.finished,
          "%zu records (torn %d, finished %d)", v.lines, v.torn, v.finished);
    CHECK(v.zero_tail && file_size(f->log) > (long)v.whole,
          "no zero tail after the records: %ld bytes, %zu in lines",
          file_size(f->log), v.whole);

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 1);
    assert_true(asprintf(&want, "%s: ends in a torn line: a write was "
                                "interrupted\n1 job: 0 valid, 1 incomplete, "
                                "0 tampered\n",
                         f->log) > 0);
    assert_non_null(strstr(p.out, want));
    free(want);
    tu_proc_free(&p);

    /* Alone: the open cuts the zeros, before anything is appended. */
    open_parent(f, f->log, "none");
    CHECK(file_size(f->log) == (long)v.whole,
          "after reopening, %ld bytes, %zu in whole lines",
          file_size(f->log), v.whole);
    run_parent(f, JOB2, REOPEN_STEPS);
    drop_run(f);
    check_with_job2(f, f->log, &v, REOPEN_STEPS);
    CHECK(file_size(f->log) == text_len(f),
          "a zero tail after a clean close");
}

static void test_kill_while_mapped_leaves_zero_tail(void **state)
{
    check_kill_while_mapped(*state, 100, MAP_AFTER + 10);
}

/* What the record callback saw: whether the log was mapped at a record. */
typedef struct short_job_seen {
    const char *log;
    int records, mapped;
} short_job_seen;

static int on_record_mapped(const jx_record *rec, void *user)
{
    short_job_seen *s = user;

    (void)rec;
    s->records++;
    s->mapped |= maps_file(getpid(), s->log);
    return 0;
}

/*
 * A job of no more steps than MAP_AFTER appends with write(2) throughout:
 * taking the log alone would cost it more than it saves.  The log is
 * never mapped, and the file ends with the last record.
 */
static void test_short_job_never_maps(void **state)
{
    fixture *f = *state;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    short_job_seen seen = {.log = f->log};
    log_view v;

    snprintf(where, sizeof where, "a job of %d steps", MAP_AFTER - 1);
    open_parent(f, f->log, "none");
    f->plan = make_plan(JOB, MAP_AFTER - 1, &f->err);
    CHECK(f->plan != NULL, "plan: %s", f->err.message);
    opts.on_record = on_record_mapped;
    opts.user = &seen;
    CHECK(jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err) == 0,
          "run: %s", f->err.message);
    CHECK(seen.records == 2 * (MAP_AFTER - 1) + 2 && !seen.mapped,
          "%d records, the log mapped at one of them: %d", seen.records,
          seen.mapped);
    read_log(f->log, &f->text, &v);
    CHECK(v.lines == (size_t)seen.records && !v.zero_tail &&
              file_size(f->log) == (long)v.whole,
          "%zu records, %ld bytes, %zu in lines", v.lines, file_size(f->log),
          v.whole);
}

/* A writer killed while mapped, as above, about 2.5 MiB into its
 * records: in an extent mapped with huge pages, where the kernel gives
 * them. */
static void test_kill_in_huge_extent(void **state)
{
    check_kill_while_mapped(*state, 4000, 2900);
}

/* ---- a second writer ---------------------------------------------------- */

/*
 * While a child's long job holds the log mapped, the parent opens it and
 * runs a job: it waits for the child to hand the log back, appends with
 * write(2), and neither job loses a record.
 */
static void test_second_writer_while_mapped(void **state)
{
    fixture *f = *state;
    const size_t n_first = 20000, n_second = 5;
    struct timespec pause = {0, 1000 * 1000};
    seen_jobs s;
    jx_verify_summary sum;
    pid_t pid;
    int mapped = 0, status;

    snprintf(where, sizeof where, "a second writer");
    pid = fork_run(f, JOB, n_first, -1);
    /* Once a handler ran, the child's job is under way. */
    for (int i = 0; i < 5000 && side_lines(f->side) < 2; i++)
        nanosleep(&pause, NULL);
    mapped = maps_file(pid, f->log);
    open_parent(f, f->log, "none");
    run_parent(f, JOB2, n_second);
    CHECK(jx_result_status(f->res) == JX_JOB_COMPLETED,
          "the second writer's job: %s", jx_result_reason(f->res));
    drop_run(f);
    status = wait_child(pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the first writer's job did not complete (wait status 0x%x)",
          (unsigned)status);
    /* Evidence that the first writer had the log mapped when the second
     * came; unless its job had already ended (a very slow machine). */
    CHECK(mapped || side_lines(f->side) == n_first,
          "the first writer did not map the log");

    verify(f, f->log, &s, &sum);
    CHECK(sum.jobs == 2 && sum.valid == 2 && sum.torn_tail == 0,
          "%zu jobs, %zu valid, torn tail %d", sum.jobs, sum.valid,
          sum.torn_tail);
    CHECK(s.job.records == 2 * n_first + 2,
          "the first job has %" PRIu64 " records", s.job.records);
    CHECK(s.job2.records == 2 * n_second + 2,
          "the second job has %" PRIu64 " records", s.job2.records);
    CHECK(file_size(f->log) == text_len(f),
          "the file does not end with the last record");
}

/* ---- fsync policies ----------------------------------------------------- */

/* After each job, the executor still open, and after close: the file is
 * the records' bytes, no more (the preallocated tail is cut), and it is
 * no longer mapped. */
static void check_policy(fixture *f, const char *fsync)
{
    seen_jobs s;
    jx_verify_summary sum;
    log_view v;

    snprintf(where, sizeof where, "fsync %s", fsync);
    unlink(f->log);
    open_parent(f, f->log, fsync);
    run_parent(f, JOB, 7);
    read_log(f->log, &f->text, &v);
    CHECK(v.lines == 2 * 7 + 2 && !v.torn && !v.zero_tail &&
              file_size(f->log) == (long)v.whole,
          "after the job: %zu records, %ld bytes, %zu in lines", v.lines,
          file_size(f->log), v.whole);
    CHECK(!maps_file(getpid(), f->log), "mapped between jobs");
    run_parent(f, JOB2, 2);
    drop_run(f);
    read_log(f->log, &f->text, &v);
    CHECK(!v.torn && !v.zero_tail && file_size(f->log) == (long)v.whole,
          "after close: %ld bytes, %zu in lines", file_size(f->log),
          v.whole);
    verify(f, f->log, &s, &sum);
    CHECK(sum.jobs == 2 && sum.valid == 2 && sum.torn_tail == 0,
          "%zu jobs, %zu valid", sum.jobs, sum.valid);
}

static void test_policy_none(void **state)
{
    check_policy(*state, "none");
}

static void test_policy_job(void **state)
{
    check_policy(*state, "job");
}

static void test_policy_step(void **state)
{
    check_policy(*state, "step");
}

/* A job bigger than the first extents: the file grows and is remapped
 * several times, and still ends with the last record. */
static void test_grows_past_extents(void **state)
{
    fixture *f = *state;
    seen_jobs s;
    jx_verify_summary sum;
    log_view v;

    snprintf(where, sizeof where, "a long job");
    open_parent(f, f->log, "none");
    run_parent(f, JOB, 12000); /* about 10 MiB of records */
    drop_run(f);
    read_log(f->log, &f->text, &v);
    CHECK(file_size(f->log) == (long)v.whole && !v.zero_tail,
          "%ld bytes, %zu in lines", file_size(f->log), v.whole);
    verify(f, f->log, &s, &sum);
    CHECK(sum.valid == 1 && s.job.records == 2 * 12000 + 2,
          "%zu valid, %" PRIu64 " records", sum.valid, s.job.records);
}

/* ---- huge pages ---------------------------------------------------------- */

/* What the record callback saw of the log's mapping halfway through a
 * long job. */
typedef struct mapping_seen {
    const char *log;
    uint64_t at_seq;
    int looked; /* the callback ran at at_seq */
    int mapped; /* the log was mapped then */
    int huge;   /* ... with the huge-page advice ("hg" in VmFlags) */
} mapping_seen;

static int on_record_look(const jx_record *rec, void *user)
{
    mapping_seen *m = user;

    if (rec->seq == m->at_seq) {
        int flag = tu_mapping_flag(NULL, m->log, "hg");

        m->looked = 1;
        m->mapped = flag >= 0;
        m->huge = flag == 1;
    }
    return 0;
}

/*
 * A long job's log is mapped with the huge-page advice once its extents
 * reach 2 MiB, under the policies that do not sync every step; under
 * fsync: step it never is (each sync would write a whole huge page back).
 * The log still ends with its last record and verifies.
 */
static void check_huge_advice(fixture *f, const char *fsync, int want_huge)
{
    const size_t n = 3000; /* about 2.5 MiB of records: a second extent */
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    mapping_seen m = {.log = f->log, .at_seq = 2 * n - 2};
    jx_verify_summary sum;
    seen_jobs s;
    log_view v;

    snprintf(where, sizeof where, "fsync %s, %zu steps", fsync, n);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
        skip(); /* a kernel without huge pages takes no such advice */
    open_parent(f, f->log, fsync);
    f->plan = make_plan(JOB, n, &f->err);
    CHECK(f->plan != NULL, "plan: %s", f->err.message);
    opts.on_record = on_record_look;
    opts.user = &m;
    CHECK(jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err) == 0,
          "run: %s", f->err.message);
    CHECK(m.looked && m.mapped, "looked at record %" PRIu64 ": %d, the "
          "log mapped then: %d", m.at_seq, m.looked, m.mapped);
    CHECK(m.huge == want_huge, "huge-page advice %d, wanted %d", m.huge,
          want_huge);
    drop_run(f);
    read_log(f->log, &f->text, &v);
    CHECK(file_size(f->log) == (long)v.whole && !v.zero_tail,
          "%ld bytes, %zu in lines", file_size(f->log), v.whole);
    verify(f, f->log, &s, &sum);
    CHECK(sum.valid == 1 && s.job.records == 2 * n + 2,
          "%zu valid, %" PRIu64 " records", sum.valid, s.job.records);
}

static void test_huge_pages_policy_none(void **state)
{
    check_huge_advice(*state, "none", 1);
}

static void test_huge_pages_policy_job(void **state)
{
    check_huge_advice(*state, "job", 1);
}

static void test_no_huge_pages_policy_step(void **state)
{
    check_huge_advice(*state, "step", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kill_while_mapped_leaves_zero_tail, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_in_huge_extent, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_short_job_never_maps, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_while_mapped,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_none, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_job, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_step, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_grows_past_extents, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_huge_pages_policy_none,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_huge_pages_policy_job,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_huge_pages_policy_step,
                                        fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
