/*
 * test_crash_writers.c - two executors in two processes append to one
 * evidence log, and one of them is killed with SIGKILL at a random moment.
 *
 * Records are made large (every step returns a big output), so that many
 * kills land in the middle of a write(2) and leave a torn record in the
 * file while the other writer carries on.  After every round the
 * survivor's jobs must all be valid with every record they wrote, the
 * killed writer's job incomplete (valid when it finished first), nothing
 * tampered and no line of no job, and `jobexec evidence verify` must exit
 * 0 or 1, never 4.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>
#include <jobexec/step_handler_v1.h>

#include "fixture.h"
#include "testutil.h"

/* Under AddressSanitizer every fork copies a large shadow and every step
 * costs several times more: fewer rounds keep the suite within a minute. */
#if defined(__SANITIZE_ADDRESS__)
#define N_ROUNDS 30
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define N_ROUNDS 30
#endif
#endif
#ifndef N_ROUNDS
#define N_ROUNDS 100
#endif

#define OUTPUT_BYTES (128 * 1024) /* per step: a record spans many pages */
#define SURVIVOR_JOBS 3
#define SURVIVOR_STEPS 6
#define VICTIM_STEPS 8
/* The victim dies this long at most after a step_started is handed over,
 * which is when it and the step_finished before it are written. */
#define KILL_WINDOW_US 150
#define VICTIM_JOB "dead0000-0000-4000-8000-000000000001"
#define UUID_BUF 37

/* The survivor's job k. */
static void survivor_job_id(int k, char id[UUID_BUF])
{
    snprintf(id, UUID_BUF, "5a5a5a5a-0000-4000-8000-%012d", k);
}

/* ---- the handler: a big output per step ---------------------------------- */

static char *blob;

static int big_execute(void *state, const jx_host_v1 *host,
                       const jx_context *ctx, const jx_step *step,
                       jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    return host->out_string(out, "blob", blob) == 0 ? JX_STEP_OK
                                                    : JX_STEP_FAILED;
}

static const char *const big_types[] = {"big", NULL};

static const step_handler_v1 big_handler = {
    JX_STEP_HANDLER_HEADER, "big", "1.0.0", big_types, 0, NULL, NULL,
    big_execute,            NULL,
};

/* ---- the writers ---------------------------------------------------------- */

/* Runs the jobs ids[0..n) of steps steps each on log; exits 0 when all
 * completed.  Never returns. */
/* Where the victim dies: a SIGKILL timer armed when record seq is
 * handed over, firing after delay_us. */
typedef struct kill_plan {
    int64_t seq; /* -1: never */
    long delay_us;
} kill_plan;

static int arm_kill_cb(const jx_record *rec, void *user)
{
    const kill_plan *k = user;
    struct sigevent sev;
    struct itimerspec its;
    timer_t t;

    if ((int64_t)rec->seq != k->seq)
        return 0;
    memset(&sev, 0, sizeof sev);
    memset(&its, 0, sizeof its);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGKILL;
    its.it_value.tv_nsec = k->delay_us * 1000 + 1;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0 ||
        timer_settime(t, 0, &its, NULL) != 0)
        raise(SIGKILL);
    return 0;
}

static void __attribute__((noreturn)) writer(const char *log, int n,
                                             const char ids[][UUID_BUF],
                                             size_t steps,
                                             const kill_plan *kill)
{
    jx_run_options opts = {0};
    char *cfg_text = NULL;
    jx_config *cfg = NULL;
    jx_executor *ex = NULL;
    jx_error err;

    if (asprintf(&cfg_text, "evidence: {log: \"%s\", fsync: none}\n", log) <
            0 ||
        jx_config_parse(cfg_text, strlen(cfg_text), "writers.yaml",
                        TU_PLUGINS, &cfg, &err) != 0 ||
        jx_executor_new(cfg, &ex, &err) != 0 ||
        jx_executor_add_handler(ex, &big_handler, NULL, NULL, &err) != 0) {
        fprintf(stderr, "writer: %s\n", err.message);
        _exit(3);
    }
    opts.on_record = arm_kill_cb;
    for (int k = 0; k < n; k++) {
        char *text = tu_plan_text(ids[k], steps, "big", -1, NULL);
        kill_plan copy = *kill;

        opts.user = &copy;
        jx_plan *plan = NULL;
        jx_result *res = NULL;

        if (text == NULL ||
            jx_plan_parse(text, strlen(text), "plan.yaml", &plan, &err) != 0 ||
            jx_executor_run(ex, plan, &opts, &res, &err) != 0 ||
            jx_result_status(res) != JX_JOB_COMPLETED) {
            fprintf(stderr, "writer: job %s: %s\n", ids[k],
                    res != NULL ? jx_result_reason(res) : err.message);
            _exit(4);
        }
        jx_result_free(res);
        jx_plan_free(plan);
        free(text);
    }
    _exit(0);
}

static pid_t start_writer(const char *log, int n,
                          const char ids[][UUID_BUF], size_t steps,
                          const kill_plan *kill)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0)
        writer(log, n, ids, steps, kill);
    assert_true(pid > 0);
    return pid;
}

static int wait_for(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* ---- what verify says ----------------------------------------------------- */

typedef struct round_view {
    int survivor_valid[SURVIVOR_JOBS];
    uint64_t survivor_records[SURVIVOR_JOBS];
    jx_verdict victim;
    int victim_found, victim_torn, others;
    char reason[512];
} round_view;

static int on_job(const jx_job_report *r, void *user)
{
    round_view *v = user;
    char id[UUID_BUF];

    if (strcmp(r->job_id, VICTIM_JOB) == 0) {
        v->victim_found = 1;
        v->victim = r->verdict;
        /* Its torn record, marked, amid the survivor's records. */
        v->victim_torn = r->torn && strstr(r->reason, "its writer died") !=
                                        NULL;
        return 0;
    }
    for (int k = 0; k < SURVIVOR_JOBS; k++) {
        survivor_job_id(k, id);
        if (strcmp(r->job_id, id) == 0) {
            v->survivor_valid[k] = r->verdict == JX_VERDICT_VALID;
            v->survivor_records[k] = r->records;
            if (r->verdict != JX_VERDICT_VALID)
                snprintf(v->reason, sizeof v->reason, "%s: %s", r->job_id,
                         r->reason);
            return 0;
        }
    }
    v->others++;
    return 0;
}

/* Checks the log of one round; *torn tells whether the victim left a
 * torn record. */
static void check_round(int round, const char *log, int victim_status,
                        int *torn)
{
    round_view v;
    jx_verify_options opts = {.on_job = on_job, .user = &v};
    jx_verify_summary sum;
    jx_error err;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", log, NULL};
    tu_proc p;

    memset(&v, 0, sizeof v);
    assert_int_equal(jx_evidence_verify(log, &opts, &sum, &err), 0);
    if (sum.tampered != 0 || sum.stray_lines != 0)
        fail_msg("round %d: %zu tampered (%s), %lu stray lines (line %lu: "
                 "%s)",
                 round, sum.tampered, v.reason, sum.stray_lines,
                 sum.first_stray_line, sum.stray_reason);
    for (int k = 0; k < SURVIVOR_JOBS; k++)
        if (!v.survivor_valid[k] ||
            v.survivor_records[k] != 2 * SURVIVOR_STEPS + 2)
            fail_msg("round %d: survivor job %d: valid %d, %" PRIu64
                     " records: %s",
                     round, k, v.survivor_valid[k], v.survivor_records[k],
                     v.reason);
    assert_int_equal(v.others, 0);
    if (WIFEXITED(victim_status)) {
        assert_int_equal(WEXITSTATUS(victim_status), 0);
        assert_true(v.victim_found && v.victim == JX_VERDICT_VALID);
    } else if (v.victim_found) {
        /* Valid when it was killed after its job_finished. */
        assert_true(v.victim == JX_VERDICT_INCOMPLETE ||
                    v.victim == JX_VERDICT_VALID);
    }
    *torn = v.victim_found && v.victim_torn;

    tu_run(&p, NULL, argv);
    /* 1 for an incomplete job, or a torn tail (the victim's, killed after
     * the survivor's last append, maybe before its job_id was written). */
    if (p.status != ((v.victim_found && v.victim == JX_VERDICT_INCOMPLETE) ||
                     sum.torn_tail))
        fail_msg("round %d: verify exited %d:\n%s%s", round, p.status, p.out,
                 p.err);
    tu_proc_free(&p);
}

static void test_one_writer_killed(void **state)
{
    static const kill_plan never = {-1, 0};
    char *dir = NULL, *log = NULL;
    char sids[SURVIVOR_JOBS][UUID_BUF], vid[1][UUID_BUF];
    uint64_t rng = UINT64_C(0x746f726e6c696e65);
    int n_torn = 0, n_finished = 0;

    (void)state;
    assert_int_equal(tu_temp_log(&dir, &log), 0);
    for (int k = 0; k < SURVIVOR_JOBS; k++)
        survivor_job_id(k, sids[k]);
    snprintf(vid[0], sizeof vid[0], "%s", VICTIM_JOB);
    for (int round = 0; round < N_ROUNDS; round++) {
        pid_t survivor, victim;
        kill_plan kill;
        int status, torn;

        /* After a step_started (odd seq from 1), or job_finished's
         * neighbourhood: the last step_finished is written with it. */
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        kill.seq = 2 * (int64_t)((rng >> 33) % (VICTIM_STEPS + 1)) + 1;
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        kill.delay_us = (long)((rng >> 33) % KILL_WINDOW_US);
        unlink(log);
        survivor = start_writer(log, SURVIVOR_JOBS, sids, SURVIVOR_STEPS,
                                &never);
        victim = start_writer(log, 1, vid, VICTIM_STEPS, &kill);
        status = wait_for(victim);
        assert_true(WIFEXITED(status) ||
                    (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
        assert_int_equal(wait_for(survivor), 0);
        check_round(round, log, status, &torn);
        n_torn += torn;
        n_finished += WIFEXITED(status);
    }
    printf("%d rounds: %d left a torn record amid the other writer's, %d "
           "victims finished\n",
           N_ROUNDS, n_torn, n_finished);
    tu_temp_free(dir);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_writer_killed),
    };

    blob = malloc(OUTPUT_BYTES + 1);
    if (blob == NULL)
        return 1;
    for (size_t i = 0; i < OUTPUT_BYTES; i++)
        blob[i] = (char)('a' + i % 26);
    blob[OUTPUT_BYTES] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
