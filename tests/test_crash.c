/*
 * test_crash.c - the evidence log when the worker dies or the disk says no.
 *
 * A worker killed with SIGKILL at every record boundary, inside every
 * handler and at random moments, and a log cut at random bytes (what a
 * power cut mid-write leaves), must each leave a file that verifies
 * INCOMPLETE (VALID only when the job really finished), never TAMPERED,
 * in which no handler ran without its step_started on disk, and which the
 * next executor opens, cuts clean and appends to.  Appends that fail
 * (EFBIG, ENOSPC) stop the job before its next step, are cut back off the
 * file, and leave the worker able to run the next job.
 *
 * Runs that die do so in fork()ed children; the parent reads what reached
 * the files.  The handler's first act is to append "ran <step_index>" to a
 * side file, which is the proof that it ran.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

#include "testutil.h"

#define JOB "3c9d2f4e-8a1b-4c6d-9e0f-1a2b3c4d5e6f"
#define JOB2 "7e1f0a9b-2c3d-4e5f-8a6b-9c0d1e2f3a4b"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"

#define N_STEPS 100
/* job_started, step_started and step_finished per step, job_finished. */
#define N_RECORDS (2 * N_STEPS + 2)
#define REOPEN_STEPS 3
#define N_RANDOM_KILLS 200
#define N_CUTS 200
#define FAIL_STEPS 50
#define AFTER_STEPS 5

/* The kill or cut being checked, named in every failure message. */
static char where[192];

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            char check_msg_[2048];                                            \
            snprintf(check_msg_, sizeof check_msg_, __VA_ARGS__);             \
            fail_msg("%s: %s", where, check_msg_);                            \
        }                                                                     \
    } while (0)

/* A fixed seed: every run draws the same kill delays (as fractions of the
 * measured run time) and the same cuts. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static const char *verdict_name(jx_verdict v)
{
    return v == JX_VERDICT_VALID        ? "VALID"
           : v == JX_VERDICT_INCOMPLETE ? "INCOMPLETE"
                                        : "TAMPERED";
}

/* ---- the handler ------------------------------------------------------- */

typedef struct crash_state {
    int side_fd;
    int64_t kill_at; /* the step whose handler kills the process; -1: none */
} crash_state;

static int crash_init(const jx_host_v1 *host, const jx_plugin_config *config,
                      void **state, char *errbuf, size_t errbuf_len)
{
    const char *side = host->config_string(config, "side");
    crash_state *s = malloc(sizeof *s);

    if (s == NULL || side == NULL) {
        free(s);
        snprintf(errbuf, errbuf_len, "no side file, or out of memory");
        return -1;
    }
    s->kill_at = -1;
    host->config_int(config, "kill_at", &s->kill_at);
    s->side_fd = open(side, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->side_fd < 0) {
        snprintf(errbuf, errbuf_len, "%s: %s", side, strerror(errno));
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int crash_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    crash_state *s = state;
    int64_t k = host->step_index(step);
    char line[32];
    int len = snprintf(line, sizeof line, "ran %" PRId64 "\n", k);

    (void)ctx;
    /* First of all: this line is the proof that the handler ran. */
    if (write(s->side_fd, line, (size_t)len) != len) {
        host->out_error(out, "cannot append to the side file");
        return JX_STEP_FAILED;
    }
    if (k == s->kill_at)
        raise(SIGKILL);
    return JX_STEP_OK;
}

static void crash_fini(void *state)
{
    crash_state *s = state;

    close(s->side_fd);
    free(s);
}

static const char *const crash_types[] = {"crash", NULL};

static const step_handler_v1 crash_handler = {
    JX_STEP_HANDLER_HEADER,
    "crash",
    "1.0.0",
    crash_types,
    0,
    crash_init,
    NULL,
    crash_execute,
    crash_fini,
};

/* ---- building executors and plans (parent and children) --------------- */

/* An executor logging to log (fsync NULL: the default policy) with the
 * crash handler appending to side.  0, or -1 with err filled. */
static int make_executor(const char *log, const char *fsync, const char *side,
                         int64_t kill_at, jx_executor **out, jx_error *err)
{
    char *cfg_text = NULL, *handler_json = NULL;
    jx_config *cfg = NULL;
    int rc = -1;

    *out = NULL;
    if ((fsync != NULL ? asprintf(&cfg_text,
                                  "evidence: {log: \"%s\", fsync: %s}\n", log,
                                  fsync)
                       : asprintf(&cfg_text, "evidence: {log: \"%s\"}\n",
                                  log)) < 0)
        cfg_text = NULL;
    if (asprintf(&handler_json, "{\"side\": \"%s\", \"kill_at\": %" PRId64
                                "}", side, kill_at) < 0)
        handler_json = NULL;
    if (cfg_text == NULL || handler_json == NULL) {
        snprintf(err->message, sizeof err->message, "out of memory");
    } else if (jx_config_parse(cfg_text, strlen(cfg_text), "crash.yaml",
                               TU_PLUGINS, &cfg, err) == 0 &&
               jx_executor_new(cfg, out, err) == 0) {
        rc = jx_executor_add_handler(*out, &crash_handler, NULL, handler_json,
                                     err);
        if (rc != 0) {
            jx_executor_free(*out);
            *out = NULL;
        }
    }
    jx_config_free(cfg);
    free(cfg_text);
    free(handler_json);
    return rc;
}

/* A plan of job_id with n steps of type "crash"; NULL with err filled. */
static jx_plan *make_plan(const char *job_id, size_t n, jx_error *err)
{
    size_t cap = 128 + 48 * n, len;
    char *text = malloc(cap);
    jx_plan *plan = NULL;

    if (text == NULL)
        return NULL;
    len = (size_t)snprintf(text, cap,
                           "job_id: %s\ncontract_id: " CONTRACT "\nsteps:\n",
                           job_id);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "  - {step_index: %zu, step_type: crash}\n",
                                i);
    if (jx_plan_parse(text, len, "plan.yaml", &plan, err) != 0)
        plan = NULL;
    free(text);
    return plan;
}

/* ---- the children that get killed -------------------------------------- */

static int kill_at_seq(const jx_record *rec, void *user)
{
    const int64_t *seq = user;

    if ((int64_t)rec->seq == *seq)
        raise(SIGKILL);
    return 0;
}

/* One run of JOB in a child. */
typedef struct run_req {
    char log[512], side[512], fsync[8];
    int64_t kill_step;   /* its handler kills the child; -1: none */
    int64_t kill_seq;    /* handing this record over kills it; -1: none */
    long kill_after_us;  /* SIGKILL from outside after this; -1: none */
} run_req;

typedef struct run_resp {
    int status;      /* wait status; -1: no child */
    long elapsed_us; /* from fork to reaping */
} run_resp;

/* The child: runs JOB, killing itself where req says.  Never returns. */
static void __attribute__((noreturn)) child_run(const run_req *req)
{
    jx_run_options opts = {0};
    jx_executor *ex;
    jx_plan *plan = NULL;
    jx_result *res;
    jx_error err;
    int64_t kill_seq = req->kill_seq;

    if (make_executor(req->log, req->fsync, req->side, req->kill_step, &ex,
                      &err) != 0 ||
        (plan = make_plan(JOB, N_STEPS, &err)) == NULL) {
        fprintf(stderr, "child: %s\n", err.message);
        _exit(3);
    }
    if (kill_seq >= 0) {
        opts.on_record = kill_at_seq;
        opts.user = &kill_seq;
    }
    if (jx_executor_run(ex, plan, &opts, &res, &err) != 0) {
        fprintf(stderr, "child: %s\n", err.message);
        _exit(4);
    }
    _exit(jx_result_status(res) == JX_JOB_COMPLETED ? 0 : 1);
}

static int read_full(int fd, void *buf, size_t len)
{
    for (char *p = buf; len > 0;) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    for (const char *p = buf; len > 0;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int wait_child(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Children are forked by spawners, themselves forked before the suite
 * allocates anything.  A fork copies its parent's page tables, and under
 * AddressSanitizer (whose quarantine keeps freed memory mapped) the
 * suite's own process grows to where each fork costs more than the job it
 * runs.  Two spawners ("lanes") run two children at once, so that one is
 * checked while the next runs.  A spawner also sends the timed SIGKILL:
 * its child is not reaped until then, so the pid is still its child's,
 * and the suite's own work does not delay the kill.
 */
#define N_LANES 2

static struct spawner {
    pid_t pid;
    int to, from; /* requests; responses */
    int busy;     /* a response is owed */
} spawners[N_LANES] = {{-1, -1, -1, 0}, {-1, -1, -1, 0}};

static void __attribute__((noreturn)) spawner_loop(int in, int out)
{
    run_req req;

    while (read_full(in, &req, sizeof req) == 0) {
        long t0 = now_us();
        pid_t pid = fork();
        run_resp resp = {-1, 0};

        if (pid == 0) {
            close(in);
            close(out);
            child_run(&req);
        }
        if (pid > 0) {
            if (req.kill_after_us >= 0) {
                struct timespec ts = {req.kill_after_us / 1000000,
                                      req.kill_after_us % 1000000 * 1000};
                nanosleep(&ts, NULL);
                kill(pid, SIGKILL);
            }
            resp.status = wait_child(pid);
        }
        resp.elapsed_us = now_us() - t0;
        if (write_full(out, &resp, sizeof resp) != 0)
            break;
    }
    _exit(0);
}

static int spawner_start(struct spawner *sp)
{
    int req[2], resp[2];

    if (pipe(req) != 0)
        return -1;
    if (pipe(resp) != 0) {
        close(req[0]);
        close(req[1]);
        return -1;
    }
    fflush(NULL); /* no child may repeat buffered output */
    sp->pid = fork();
    if (sp->pid == 0) {
        /* Only this spawner's own ends: the others' stay with the suite. */
        for (struct spawner *o = spawners; o < sp; o++) {
            close(o->to);
            close(o->from);
        }
        close(req[1]);
        close(resp[0]);
        spawner_loop(req[0], resp[1]);
    }
    close(req[0]);
    close(resp[1]);
    sp->to = req[1];
    sp->from = resp[0];
    return sp->pid > 0 ? 0 : -1;
}

/* Reads the response a spawner owes, if any. */
static int spawner_drain(struct spawner *sp, run_resp *resp)
{
    run_resp ignored;

    if (!sp->busy)
        return 0;
    sp->busy = 0;
    return read_full(sp->from, resp != NULL ? resp : &ignored,
                     sizeof *resp);
}

static void spawner_stop(struct spawner *sp)
{
    spawner_drain(sp, NULL);
    if (sp->to >= 0)
        close(sp->to); /* end of requests: the spawner exits */
    if (sp->from >= 0)
        close(sp->from);
    if (sp->pid > 0)
        wait_child(sp->pid);
}

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early.  One per lane: the kill tests run
 * two children at once, each on its own files. */
typedef struct fixture {
    int lane;
    struct fixture *peer; /* lane 1, from lane 0 */
    char *dir;
    char *log;        /* the log under test */
    char *side;       /* "ran k" lines of the handlers */
    char *side_first; /* the side file as the first job left it */
    char *first;      /* the log as the first job left it */
    char *spare;      /* another log (measuring, copying) */
    char *mnt;        /* where a tmpfs goes */
    char *text;       /* the log as last read */
    char *text2;      /* the log after the second job */
    char *side_text;
    char *full;       /* a complete log, for cutting */
    char *reason;     /* the reason a job is expected to give */
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
} fixture;

static void drop_run(fixture *f)
{
    jx_result_free(f->res);
    f->res = NULL;
    jx_plan_free(f->plan);
    f->plan = NULL;
    jx_executor_free(f->ex);
    f->ex = NULL;
}

static void free_fixture(fixture *f)
{
    if (f == NULL)
        return;
    drop_run(f);
    if (f->dir != NULL)
        tu_rm_rf(f->dir);
    free(f->dir);
    free(f->log);
    free(f->side);
    free(f->side_first);
    free(f->first);
    free(f->spare);
    free(f->mnt);
    free(f->text);
    free(f->text2);
    free(f->side_text);
    free(f->full);
    free(f->reason);
    free(f);
}

static fixture *new_fixture(int lane)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    f->lane = lane;
    if ((f->dir = tu_mkdtemp()) == NULL ||
        asprintf(&f->log, "%s/evidence.jsonl", f->dir) < 0 ||
        asprintf(&f->side, "%s/ran.txt", f->dir) < 0 ||
        asprintf(&f->side_first, "%s/ran-first.txt", f->dir) < 0 ||
        asprintf(&f->first, "%s/first.jsonl", f->dir) < 0 ||
        asprintf(&f->spare, "%s/spare.jsonl", f->dir) < 0 ||
        asprintf(&f->mnt, "%s/mnt", f->dir) < 0) {
        free_fixture(f);
        return NULL;
    }
    return f;
}

static int fx_setup(void **state)
{
    fixture *f = new_fixture(0);

    if (f == NULL || (f->peer = new_fixture(1)) == NULL) {
        free_fixture(f);
        return -1;
    }
    rng_state = UINT64_C(0x6a6f626578656321);
    snprintf(where, sizeof where, "setup");
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    /* A test that failed with a child in flight: take its response. */
    for (int i = 0; i < N_LANES; i++)
        spawner_drain(&spawners[i], NULL);
    free_fixture(f->peer);
    free_fixture(f);
    return 0;
}

/* Opens an executor in the parent; its handler's lines go nowhere. */
static void open_parent(fixture *f, const char *log, const char *fsync)
{
    drop_run(f);
    CHECK(make_executor(log, fsync, "/dev/null", -1, &f->ex, &f->err) == 0,
          "executor on %s: %s", log, f->err.message);
}

/* Runs job_id with n steps on f->ex into f->res. */
static void run_parent(fixture *f, const char *job_id, size_t n)
{
    jx_result_free(f->res);
    f->res = NULL;
    jx_plan_free(f->plan);
    f->plan = make_plan(job_id, n, &f->err);
    CHECK(f->plan != NULL, "plan: %s", f->err.message);
    CHECK(jx_executor_run(f->ex, f->plan, NULL, &f->res, &f->err) == 0,
          "run: %s", f->err.message);
}

/* ---- reading what reached the disk -------------------------------------- */

/* What the complete lines of a log say about JOB. */
typedef struct log_view {
    int exists;
    size_t whole;       /* bytes up to the last newline */
    size_t lines;       /* complete lines of JOB */
    size_t other_lines; /* complete lines of other jobs */
    int torn;           /* the file ends without a newline */
    int torn_names_job; /* ... in a line that still names JOB */
    int finished;       /* JOB's job_finished is a complete line */
    unsigned char started[N_STEPS]; /* step_started of step k is there */
} log_view;

/* Reads path into *text (replacing what was there) and parses its lines. */
static void read_log(const char *path, char **text, log_view *v)
{
    static const char names_job[] = "\"job_id\":\"" JOB "\"";
    const char *p, *nl;

    memset(v, 0, sizeof *v);
    free(*text);
    *text = tu_read(path);
    if (*text == NULL)
        return;
    v->exists = 1;
    for (p = *text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        size_t len = (size_t)(nl - p);
        /* The writer's compact JSON, read by key: jx_evidence_verify
         * checks each line in full, this only needs three members. */
        const char *id = memmem(p, len, "\"job_id\":\"", 10);
        const char *ev = memmem(p, len, "\"event\":\"", 9);
        const char *k = memmem(p, len, "\"step_index\":", 13);

        CHECK(id != NULL && ev != NULL, "line %zu is not a record: %.80s",
              v->lines + v->other_lines + 1, p);
        if (memmem(p, len, names_job, sizeof names_job - 1) == NULL) {
            v->other_lines++;
            continue;
        }
        v->lines++;
        if (strncmp(ev + 9, "step_started\"", 13) == 0 && k != NULL) {
            long i = strtol(k + 13, NULL, 10);
            if (i >= 0 && i < N_STEPS)
                v->started[i] = 1;
        }
        v->finished |= strncmp(ev + 9, "job_finished\"", 13) == 0;
    }
    v->whole = (size_t)(p - *text);
    v->torn = *p != '\0';
    /* Enough of it to name the job (its whole id, quote or not). */
    v->torn_names_job = v->torn && strstr(p, "\"job_id\":\"" JOB) != NULL;
}

/* Reads a side file; returns how many handlers ran, after checking that
 * they ran in step order, each once. */
static size_t read_ran(fixture *f, const char *path)
{
    size_t n = 0;
    const char *p;

    free(f->side_text);
    f->side_text = tu_read(path);
    for (p = f->side_text; p != NULL && *p != '\0'; n++) {
        char want[32];
        int len = snprintf(want, sizeof want, "ran %zu\n", n);

        CHECK(strncmp(p, want, (size_t)len) == 0,
              "side file line %zu is '%.20s', expected 'ran %zu'", n + 1, p,
              n);
        p += len;
    }
    return n;
}

/* ---- what jx_evidence_verify says --------------------------------------- */

typedef struct job_seen {
    int found;
    jx_verdict verdict;
    uint64_t records;
    int torn;
    char reason[256];
    char final_status[16];
} job_seen;

typedef struct seen_jobs {
    job_seen job, job2;
    size_t others;
} seen_jobs;

static int on_job(const jx_job_report *r, void *user)
{
    seen_jobs *s = user;
    job_seen *j = strcmp(r->job_id, JOB) == 0    ? &s->job
                  : strcmp(r->job_id, JOB2) == 0 ? &s->job2
                                                 : NULL;

    if (j == NULL) {
        s->others++;
        return 0;
    }
    j->found = 1;
    j->verdict = r->verdict;
    j->records = r->records;
    j->torn = r->torn;
    snprintf(j->reason, sizeof j->reason, "%s", r->reason);
    snprintf(j->final_status, sizeof j->final_status, "%s",
             r->final_status != NULL ? r->final_status : "(none)");
    return 0;
}

/* Verifies path: readable, no job TAMPERED, no stray line. */
static void verify(fixture *f, const char *path, seen_jobs *s,
                   jx_verify_summary *sum)
{
    jx_verify_options opts = {.on_job = on_job, .user = s};

    memset(s, 0, sizeof *s);
    CHECK(jx_evidence_verify(path, &opts, sum, &f->err) == 0, "verify: %s",
          f->err.message);
    CHECK(sum->tampered == 0, "TAMPERED: job %s: %s; job %s: %s", JOB,
          s->job.reason, JOB2, s->job2.reason);
    CHECK(sum->stray_lines == 0, "stray line %lu: %s", sum->first_stray_line,
          sum->stray_reason);
    CHECK(s->others == 0, "a job that was never run is in the log");
}

/* ---- the checks after every kill ---------------------------------------- */

/* The log as a killed or cut run left it: each complete line is part of
 * JOB's intact chain, and the verdict follows whether job_finished made
 * it to the file. */
static void check_log(fixture *f, log_view *v)
{
    seen_jobs s;
    jx_verify_summary sum;

    read_log(f->log, &f->text, v);
    if (!v->exists)
        return;
    CHECK(v->other_lines == 0, "%zu lines of another job", v->other_lines);
    verify(f, f->log, &s, &sum);
    CHECK(sum.torn_tail == v->torn, "torn_tail %d, but the file %s",
          sum.torn_tail, v->torn ? "ends in a torn line" : "ends whole");
    CHECK(sum.jobs == (v->lines > 0 ? 1u : 0u), "%zu jobs in %zu lines",
          sum.jobs, v->lines);
    if (v->lines == 0)
        return;
    CHECK(s.job.records == v->lines,
          "the chain verifies %" PRIu64 " records, but %zu complete lines "
          "are in the log",
          s.job.records, v->lines);
    CHECK(s.job.verdict == (v->finished ? JX_VERDICT_VALID
                                        : JX_VERDICT_INCOMPLETE),
          "verdict %s (%s) with job_finished %s", verdict_name(s.job.verdict),
          s.job.reason, v->finished ? "present" : "absent");
    CHECK(s.job.torn == v->torn_names_job, "torn %d, expected %d", s.job.torn,
          v->torn_names_job);
    if (v->finished) {
        CHECK(v->lines == N_RECORDS, "sealed after %zu records", v->lines);
        CHECK(strcmp(s.job.final_status, "COMPLETED") == 0,
              "final_status %s", s.job.final_status);
    }
}

/* No handler ran without its step_started on disk; a sealed job ran every
 * handler. */
static void check_ran(const log_view *v, size_t n_ran)
{
    for (size_t k = 0; k < n_ran; k++)
        CHECK(k < N_STEPS && v->started[k],
              "the handler of step %zu ran, but its step_started is not in "
              "the log",
              k);
    /* A handler runs only after everything before its step_started has
     * been written; nothing past the next step_started can be there. */
    CHECK(v->lines >= 2 * n_ran && v->lines <= 2 * n_ran + 2,
          "%zu records in the log after %zu handlers ran", v->lines, n_ran);
    if (v->finished)
        CHECK(n_ran == N_STEPS, "sealed, but only %zu handlers ran", n_ran);
}

/* After the first job (as its view found it), JOB2 of n2 steps was run on
 * the same log: it is VALID, the first job kept its verdict, and the file
 * ends whole. */
static void check_with_job2(fixture *f, const char *path, const log_view *v,
                            size_t n2)
{
    seen_jobs s;
    jx_verify_summary sum;

    verify(f, path, &s, &sum);
    CHECK(sum.torn_tail == 0, "the file ends in a torn line");
    CHECK(s.job2.found && s.job2.verdict == JX_VERDICT_VALID,
          "the next job is %s (%s)",
          s.job2.found ? verdict_name(s.job2.verdict) : "missing",
          s.job2.reason);
    CHECK(s.job2.records == 2 * n2 + 2, "the next job has %" PRIu64 " records",
          s.job2.records);
    CHECK(sum.jobs == (v->lines > 0 ? 2u : 1u), "%zu jobs in the log",
          sum.jobs);
    if (v->lines == 0)
        return;
    CHECK(s.job.verdict == (v->finished ? JX_VERDICT_VALID
                                        : JX_VERDICT_INCOMPLETE),
          "the old job is %s (%s)", verdict_name(s.job.verdict),
          s.job.reason);
    CHECK(s.job.records == v->lines && !s.job.torn,
          "the old job: %" PRIu64 " records (torn %d), expected %zu",
          s.job.records, s.job.torn, v->lines);
}

/* A new executor opens the log a kill left, cuts its torn tail and runs
 * another job after the complete lines, which it keeps byte for byte. */
static void check_reopen(fixture *f, const char *fsync, const log_view *v)
{
    open_parent(f, f->log, fsync);
    run_parent(f, JOB2, REOPEN_STEPS);
    CHECK(jx_result_status(f->res) == JX_JOB_COMPLETED,
          "the job after reopening: %s: %s", jx_result_status_name(f->res),
          jx_result_reason(f->res));
    drop_run(f);
    free(f->text2);
    f->text2 = tu_read(f->log);
    CHECK(f->text2 != NULL && strlen(f->text2) > v->whole &&
              (v->whole == 0 || memcmp(f->text2, f->text, v->whole) == 0),
          "the complete lines before the torn tail were not kept");
    check_with_job2(f, f->log, v, REOPEN_STEPS);
}

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

/* ---- appends that fail -------------------------------------------------- */

/* What a child that ran two jobs on one executor reports through a pipe. */
typedef struct child_report {
    int skipped;    /* the stage could not be set up */
    char why[1100]; /* ... why */
    int status[2];  /* jx_job_status, or -1: the job did not run */
    size_t executed[2];
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
    CHECK(r->executed[0] < FAIL_STEPS, "all %zu steps ran", r->executed[0]);
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

/* Fills the file system of path but for one page: a filler takes every
 * block, then gives one back. */
static int fill_but_a_page(const char *path, char *why, size_t why_len)
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
    size = (size / 4096 - 1) * 4096;
    if (size < 0 || ftruncate(fd, size) != 0) {
        snprintf(why, why_len, "shrinking the filler: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void enospc_stage(fixture *f, const void *arg, child_report *r)
{
    const char *log_copy = arg;
    char *log = NULL, *filler = NULL;
    jx_executor *ex = NULL;
    jx_error err;

    r->status[0] = r->status[1] = -1;
    /* A private tmpfs: mounted in this child's own namespace only. */
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", f->mnt, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=64k,mode=0700") != 0) {
        r->skipped = 1;
        snprintf(r->why, sizeof r->why, "%s", strerror(errno));
        return;
    }
    if (asprintf(&log, "%s/evidence.jsonl", f->mnt) < 0 ||
        asprintf(&filler, "%s/filler", f->mnt) < 0) {
        snprintf(r->why, sizeof r->why, "out of memory");
    } else if (make_executor(log, "step", f->side, -1, &ex, &err) != 0) {
        snprintf(r->why, sizeof r->why, "executor: %s", err.message);
    } else if (fill_but_a_page(filler, r->why, sizeof r->why) == 0) {
        run_into(ex, JOB, FAIL_STEPS, r, 0);
        /* The parent cannot see this tmpfs: it reads copies. */
        tu_copy(log, f->first, 0600);
        tu_copy(f->side, f->side_first, 0644);
        unlink(filler);
        run_into(ex, JOB2, AFTER_STEPS, r, 1);
        if (tu_copy(log, log_copy, 0600) != 0)
            snprintf(r->why, sizeof r->why, "cannot copy the log");
    }
    jx_executor_free(ex);
    free(log);
    free(filler);
}

static void test_enospc_fails_closed(void **state)
{
    fixture *f = *state;
    child_report r;
    char *reason = NULL;

    snprintf(where, sizeof where, "a full tmpfs");
    CHECK(mkdir(f->mnt, 0700) == 0, "mkdir: %s", strerror(errno));
    in_child(f, enospc_stage, f->spare, &r);
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
    CHECK(r.executed[0] > 0, "the first step did not fit in a page");
    printf("ENOSPC: stopped after %zu of %d steps\n", r.executed[0],
           FAIL_STEPS);
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
        cmocka_unit_test_setup_teardown(
            test_kill_at_every_boundary_fsync_step, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_kill_at_every_boundary_fsync_none, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_at_random_times, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cut_at_random_bytes, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_efbig_fails_closed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_efbig_beside_another_writer,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enospc_fails_closed, fx_setup,
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
