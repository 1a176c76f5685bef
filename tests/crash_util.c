/*
 * crash_util.c - see crash_util.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

char where[192];
uint64_t rng_state;

uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

const char *verdict_name(jx_verdict v)
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

int make_executor(const char *log, const char *fsync, const char *side,
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

jx_plan *make_plan(const char *job_id, size_t n, jx_error *err)
{
    char *text = tu_plan_text(job_id, n, "crash", -1, NULL);
    jx_plan *plan = NULL;

    if (text == NULL)
        return NULL;
    if (jx_plan_parse(text, strlen(text), "plan.yaml", &plan, err) != 0)
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

int read_full(int fd, void *buf, size_t len)
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

int write_full(int fd, const void *buf, size_t len)
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

int wait_child(pid_t pid)
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

struct spawner spawners[N_LANES] = {{-1, -1, -1, 0}, {-1, -1, -1, 0}};

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

int spawner_start(struct spawner *sp)
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

int spawner_drain(struct spawner *sp, run_resp *resp)
{
    run_resp ignored;

    if (!sp->busy)
        return 0;
    sp->busy = 0;
    return read_full(sp->from, resp != NULL ? resp : &ignored,
                     sizeof *resp);
}

void spawner_stop(struct spawner *sp)
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

void drop_run(fixture *f)
{
    tu_drop_job(&f->res, &f->plan, &f->ex, NULL);
}

static void free_fixture(fixture *f)
{
    if (f == NULL)
        return;
    drop_run(f);
    tu_temp_free(f->dir);
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
    if (tu_temp_log(&f->dir, &f->log) != 0 ||
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

int fx_setup(void **state)
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

int fx_teardown(void **state)
{
    fixture *f = *state;

    /* A test that failed with a child in flight: take its response. */
    for (int i = 0; i < N_LANES; i++)
        spawner_drain(&spawners[i], NULL);
    free_fixture(f->peer);
    free_fixture(f);
    return 0;
}

void open_parent(fixture *f, const char *log, const char *fsync)
{
    drop_run(f);
    CHECK(make_executor(log, fsync, "/dev/null", -1, &f->ex, &f->err) == 0,
          "executor on %s: %s", log, f->err.message);
}

void run_parent(fixture *f, const char *job_id, size_t n)
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

void read_log(const char *path, char **text, log_view *v)
{
    static const char names_job[] = "\"job_id\":\"" JOB "\"";
    const char *p, *nl;
    struct stat st;

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
    /* A writer killed while it held the log mapped leaves zeros after its
     * last bytes, where the text stops. */
    v->zero_tail = stat(path, &st) == 0 && (size_t)st.st_size > strlen(*text);
    /* Enough of it to name the job (its whole id, quote or not). */
    v->torn_names_job = v->torn && strstr(p, "\"job_id\":\"" JOB) != NULL;
}

size_t read_ran(fixture *f, const char *path)
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

void verify(fixture *f, const char *path, seen_jobs *s,
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

void check_log(fixture *f, log_view *v)
{
    seen_jobs s;
    jx_verify_summary sum;

    read_log(f->log, &f->text, v);
    if (!v->exists)
        return;
    CHECK(v->other_lines == 0, "%zu lines of another job", v->other_lines);
    verify(f, f->log, &s, &sum);
    /* verify reads a zero tail as a torn tail. */
    CHECK(sum.torn_tail == (v->torn || v->zero_tail),
          "torn_tail %d, but the file %s", sum.torn_tail,
          v->torn        ? "ends in a torn line"
          : v->zero_tail ? "ends in a zero tail"
                         : "ends whole");
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

void check_ran(const log_view *v, size_t n_ran)
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

void check_with_job2(fixture *f, const char *path, const log_view *v,
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

void check_reopen(fixture *f, const char *fsync, const log_view *v)
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
