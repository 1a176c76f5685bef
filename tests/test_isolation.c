/*
 * test_isolation.c - plugins run in jobexec-runner processes.
 *
 * The misbehave fixture does, one step type each, what an isolated plugin
 * must not be able to do to the executor: crash, exit, spin, ignore
 * SIGTERM, leave a setsid() grandchild, exhaust memory or descriptors,
 * flood stdout, send too much or garbage.  Each must end its step FAILED
 * (or, for stdout, COMPLETED) with its exact reason, and the same executor
 * must then run a normal step.  Around that: the runner's confinement
 * (user, no_new_privs, limits, inherited files), descriptors and zombies
 * over a thousand jobs, cancellation from a thread, from an on_record
 * callback and by SIGTERM to `jobexec run`, the in-process deadline, and
 * the config's isolation and runner settings with their exact errors.
 *
 * Files the runner writes go to a 01777 folder: as root the runner is
 * nobody.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "testutil.h"

#define JOB "5d2c8e1a-7b3f-4a9e-8c1d-2e3f4a5b6c7d"
#define OTHER_JOB "00000000-0000-4000-8000-000000000000"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define HEAD "job_id: " JOB "\ncontract_id: " CONTRACT "\nsteps:\n"

#define MISBEHAVE TU_FIXTURES "/misbehave.so"
#define BOTH TU_FIXTURES "/both.so" /* a handler and an observer */
#define RUNNER TU_BUILDDIR "/jobexec-runner"

#define N_JOBS 1000

/* ---- the fixture -------------------------------------------------------- */

typedef struct fixture {
    char *dir;         /* private temp folder, traversable by the runner */
    char *shared;      /* dir/shared, mode 01777: the runner writes here */
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    json_t *step;      /* the last step_finished record's "step" */
    atomic_int step_started;  /* a step_started record was seen */
    int cancel_kind;          /* on_record cancels on step 0's record of
                                 this kind (-1: never) */
    int cancel_told;          /* ... and what jx_executor_cancel returned */
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL)
        return -1;
    if (chmod(f->dir, 0755) != 0 ||
        asprintf(&f->shared, "%s/shared", f->dir) < 0 ||
        mkdir(f->shared, 0700) != 0 || chmod(f->shared, 01777) != 0)
        return -1;
    atomic_init(&f->step_started, 0);
    f->cancel_kind = -1;
    *state = f;
    return 0;
}

static void drop_run(fixture *f)
{
    jx_result_free(f->res);
    f->res = NULL;
    jx_plan_free(f->plan);
    f->plan = NULL;
    json_decref(f->step);
    f->step = NULL;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    drop_run(f);
    jx_executor_free(f->ex);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->shared);
    free(f);
    return 0;
}

/* The config: misbehave (with plugin_extra under its entry), the build's
 * runner (with runner_extra), then tail (more top-level sections). */
static char *config_text(const char *plugin_extra, const char *runner_extra,
                         const char *tail)
{
    char *text;

    if (asprintf(&text,
                 "plugins:\n"
                 "  - path: " MISBEHAVE "\n"
                 "%s"
                 "runner:\n"
                 "  path: " RUNNER "\n"
                 "%s%s",
                 plugin_extra, runner_extra, tail) < 0)
        fail_msg("out of memory");
    return text;
}

static jx_config *parse_config(const char *text, jx_error *err)
{
    jx_config *cfg = NULL;

    if (jx_config_parse(text, strlen(text), "test.yaml", TU_PLUGINS, &cfg,
                        err) != 0)
        fail_msg("config: %s", err->message);
    return cfg;
}

static void make_executor(fixture *f, const char *plugin_extra,
                          const char *runner_extra, const char *tail)
{
    char *text = config_text(plugin_extra, runner_extra, tail);
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    free(text);
    if (rc != 0)
        fail_msg("executor: %s", f->err.message);
}

/* ---- running ------------------------------------------------------------ */

/* Keeps the last step result and, on request, cancels the job at one of
 * step 0's records. */
static int on_record(const jx_record *rec, void *user)
{
    fixture *f = user;
    json_t *v;

    if (rec->kind == JX_RECORD_STEP_STARTED)
        atomic_store(&f->step_started, 1);
    if ((int)rec->kind == f->cancel_kind && rec->step_index == 0)
        f->cancel_told = jx_executor_cancel(f->ex, NULL);
    if (rec->kind != JX_RECORD_STEP_FINISHED)
        return 0;
    v = json_loadb(rec->json, rec->json_len, 0, NULL);
    if (v == NULL)
        return -1;
    json_decref(f->step);
    f->step = json_incref(json_object_get(v, "step"));
    json_decref(v);
    return 0;
}

static void parse_plan(fixture *f, const char *steps)
{
    char *text;

    if (asprintf(&text, HEAD "%s", steps) < 0)
        fail_msg("out of memory");
    if (jx_plan_parse(text, strlen(text), "plan.yaml", &f->plan, &f->err) !=
        0)
        fail_msg("plan: %s", f->err.message);
    free(text);
}

/* Runs f->plan; the result is in f->res, the last step result in f->step. */
static void run_parsed(fixture *f)
{
    jx_run_options opts = {on_record, NULL, f, NULL};

    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->step);
    f->step = NULL;
    atomic_store(&f->step_started, 0);
    if (jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err) != 0)
        fail_msg("run: %s", f->err.message);
    assert_non_null(f->res);
}

static void run_steps(fixture *f, const char *steps)
{
    drop_run(f);
    parse_plan(f, steps);
    run_parsed(f);
}

/* One step of type with timeout_seconds and parameters (a YAML flow
 * mapping, or NULL). */
static void run_type(fixture *f, const char *type, int timeout,
                     const char *params)
{
    char *steps;

    if (asprintf(&steps,
                 "  - {step_index: 0, step_type: %s, timeout_seconds: %d%s%s}"
                 "\n",
                 type, timeout, params ? ", parameters: " : "",
                 params ? params : "") < 0)
        fail_msg("out of memory");
    run_steps(f, steps);
    free(steps);
}

static void assert_outcome(const fixture *f, jx_job_status status,
                           const char *reason)
{
    assert_string_equal(jx_result_reason(f->res), reason);
    assert_int_equal(jx_result_status(f->res), status);
}

static const char *step_error(const fixture *f)
{
    const char *error;

    assert_non_null(f->step);
    error = json_string_value(json_object_get(f->step, "error"));
    assert_non_null(error);
    return error;
}

/* Runs "well" and returns the pid it reports (the runner's, when
 * isolated). */
static pid_t well_pid(fixture *f)
{
    json_t *pid;

    run_type(f, "well", 30, NULL);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_non_null(f->step);
    pid = json_object_get(json_object_get(f->step, "output"), "pid");
    assert_true(json_is_integer(pid));
    assert_true(json_integer_value(pid) > 0);
    return (pid_t)json_integer_value(pid);
}

/* ---- /proc -------------------------------------------------------------- */

static size_t count_fds(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    d = opendir(path);
    if (d == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The state letter of a process and its parent; 0 when it is gone. */
static char proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[1024], state = 0;
    FILE *fp;
    const char *close_paren;
    long parent = 0;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "re")) == NULL)
        return 0;
    if (fgets(buf, sizeof buf, fp) != NULL &&
        (close_paren = strrchr(buf, ')')) != NULL &&
        sscanf(close_paren + 1, " %c %ld", &state, &parent) != 2)
        state = 0;
    fclose(fp);
    if (ppid != NULL)
        *ppid = (pid_t)parent;
    return state;
}

/* Children of this process that are zombies. */
static size_t count_zombie_children(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        pid_t ppid = 0;
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (proc_state((pid_t)pid, &ppid) == 'Z' && ppid == getpid())
            n++;
    }
    closedir(d);
    return n;
}

/* The line of /proc/PID/FILE that starts with key, without the key; NULL
 * when there is none or the file cannot be read.  free() the result.
 * Asserts nothing: threads use it too. */
static char *proc_line(pid_t pid, const char *file, const char *key)
{
    char path[64], *text, *line, *out = NULL;
    size_t klen = strlen(key);

    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    if ((text = tu_read(path)) == NULL)
        return NULL;
    for (line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0) {
            out = strdup(line + klen);
            break;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
    return out;
}

/* Soft and hard values of a /proc/PID/limits line, e.g. "Max open files". */
static void assert_limit(pid_t pid, const char *name, const char *value)
{
    char *rest = proc_line(pid, "limits", name);
    char soft[64] = "", hard[64] = "";

    if (rest == NULL)
        fail_msg("no '%s' in /proc/%ld/limits", name, (long)pid);
    if (sscanf(rest, "%63s %63s", soft, hard) != 2)
        fail_msg("unreadable limit '%s':%s", name, rest);
    free(rest);
    assert_string_equal(soft, value);
    assert_string_equal(hard, value);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* A fixture built with the sanitizers dies in their handler, not by the
 * signal. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

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

/* ---- a setsid() grandchild ---------------------------------------------- */

/* What find_cgroup_parent() in the core looks for: the unified hierarchy,
 * this process's place in it, writable.  1 with its path, or 0 with why
 * not. */
static int cgroup_parent(char *path, size_t path_len, char *why, size_t len)
{
    char line[4096], mount[1024] = "", self[2048] = "";
    FILE *fp = fopen("/proc/self/mountinfo", "re");

    if (fp == NULL)
        return snprintf(why, len, "no /proc/self/mountinfo"), 0;
    while (mount[0] == '\0' && fgets(line, sizeof line, fp) != NULL)
        if (strstr(line, " - cgroup2 ") == NULL ||
            sscanf(line, "%*s %*s %*s %*s %1023s", mount) != 1)
            mount[0] = '\0';
    fclose(fp);
    if (mount[0] == '\0')
        return snprintf(why, len, "no cgroup v2 hierarchy is mounted"), 0;
    if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
        return snprintf(why, len, "no /proc/self/cgroup"), 0;
    while (self[0] == '\0' && fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, "0::", 3) != 0 ||
            sscanf(line + 3, "%2047s", self) != 1)
            self[0] = '\0';
    fclose(fp);
    snprintf(path, path_len, "%s%s", mount,
             strcmp(self, "/") == 0 ? "" : self);
    if (self[0] == '\0' || access(path, W_OK) != 0)
        return snprintf(why, len, "the cgroup v2 folder %s is not writable",
                        path), 0;
    return 1;
}

/* The runner cgroups this process has now (the core names them
 * jobexec-PID-...); 0 without a cgroup v2 hierarchy. */
static size_t count_runner_cgroups(void)
{
    char parent[4096], why[512], prefix[64];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    if (!cgroup_parent(parent, sizeof parent, why, sizeof why))
        return 0;
    snprintf(prefix, sizeof prefix, "jobexec-%ld-", (long)getpid());
    if ((d = opendir(parent)) == NULL)
        fail_msg("cannot open %s: %s", parent, strerror(errno));
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static int have_cgroup2(char *why, size_t len)
{
    char parent[4096];
    return cgroup_parent(parent, sizeof parent, why, len);
}

/* Watches the pid file while the step runs. */
typedef struct watcher {
    const char *pid_file;
    atomic_int done;
    pid_t pid;          /* the grandchild */
    char state;         /* its state when seen */
    char cgroup[256];   /* its cgroup v2 path when seen */
} watcher;

static void *watch_grandchild(void *arg)
{
    watcher *w = arg;
    double give_up = now_s() + 20;

    while (!atomic_load(&w->done) && now_s() < give_up) {
        char *text = tu_read(w->pid_file), *cg;
        long pid = text != NULL ? strtol(text, NULL, 10) : 0;
        free(text);
        if (pid > 0) {
            w->pid = (pid_t)pid;
            w->state = proc_state(w->pid, NULL);
            if ((cg = proc_line(w->pid, "cgroup", "0::")) != NULL)
                snprintf(w->cgroup, sizeof w->cgroup, "%s", cg);
            free(cg);
            break;
        }
        sleep_ms(5);
    }
    return NULL;
}

static void test_setsid_grandchild_killed(void **state)
{
    fixture *f = *state;
    char why[512], *pid_file, *params;
    watcher w = {0};
    pthread_t thread;
    double give_up;
    char st;

    if (!have_cgroup2(why, sizeof why)) {
        print_message("skipped: %s: a setsid() descendant can outlive the "
                      "step\n", why);
        skip();
    }
    if (asprintf(&pid_file, "%s/grandchild.pid", f->shared) < 0 ||
        asprintf(&params, "{pid_file: \"%s\"}", pid_file) < 0)
        fail_msg("out of memory");
    w.pid_file = pid_file;
    atomic_init(&w.done, 0);
    make_executor(f, "", "", "");
    assert_int_equal(pthread_create(&thread, NULL, watch_grandchild, &w), 0);
    run_type(f, "setsid_child", 1, params);
    atomic_store(&w.done, 1);
    pthread_join(thread, NULL);
    assert_outcome(f, JX_JOB_FAILED, "Step 0 failed: timed out after 1 s");
    /* It existed, in a cgroup of the runner's own, while the step ran. */
    if (w.pid <= 0)
        fail_msg("the grandchild's pid never reached %s", pid_file);
    assert_true(w.state == 'S' || w.state == 'R');
    if (strstr(w.cgroup, "/jobexec-") == NULL)
        fail_msg("the grandchild was in cgroup '%s', not the runner's own",
                 w.cgroup);
    /* cgroup.kill is asynchronous; the grandchild's new parent reaps it. */
    give_up = now_s() + 5;
    while ((st = proc_state(w.pid, NULL)) != 0 && st != 'Z' &&
           now_s() < give_up)
        sleep_ms(10);
    if (st != 0 && st != 'Z')
        fail_msg("grandchild %ld outlived the step (state %c)", (long)w.pid,
                 st);
    well_pid(f);
    free(params);
    free(pid_file);
}

/* A child that waits to be killed; returns its pid. */
static pid_t start_sleeper(void)
{
    pid_t pid = fork();

    if (pid == 0) {
        for (;;)
            pause();
    }
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    return pid;
}

static void make_cgroup(char *path, size_t len, const char *parent, long pid)
{
    snprintf(path, len, "%s/jobexec-%ld-0x1-1", parent, pid);
    if (mkdir(path, 0700) != 0)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* A worker killed outright leaves its runners' cgroups, and whatever
 * escaped into them, behind.  The next executor that runs isolated
 * plugins removes those of dead workers and leaves live ones' alone;
 * one opened only to check runs nothing and removes nothing.  What is
 * seen is asserted only after the sleepers are gone, so a failure does
 * not leave them behind. */
static void test_stale_cgroups_swept(void **state)
{
    fixture *f = *state;
    char parent[4096], why[512], dead_cg[4200], live_cg[4200], procs[4300];
    char text[32];
    pid_t dead = fork(), live, leftover, reaped = 0;
    jx_executor *checker = NULL;
    jx_config *cfg;
    char *cfg_text;
    int status = 0, fd, kept_by_check, swept, live_kept;
    double give_up;

    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    if (!cgroup_parent(parent, sizeof parent, why, sizeof why)) {
        print_message("skipped: %s: there are no runner cgroups\n", why);
        skip();
    }
    live = start_sleeper();
    leftover = start_sleeper();
    make_cgroup(dead_cg, sizeof dead_cg, parent, (long)dead);
    make_cgroup(live_cg, sizeof live_cg, parent, (long)live);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dead_cg);
    snprintf(text, sizeof text, "%ld", (long)leftover);
    if ((fd = open(procs, O_WRONLY | O_CLOEXEC)) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        fail_msg("cannot move %ld into %s: %s", (long)leftover, dead_cg,
                 strerror(errno));
    close(fd);

    cfg_text = config_text("", "", "");
    cfg = parse_config(cfg_text, &f->err);
    if (jx_executor_open(cfg, JX_EXECUTOR_CHECK_ONLY, &checker, &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
    jx_executor_free(checker);
    jx_config_free(cfg);
    free(cfg_text);
    kept_by_check = access(dead_cg, F_OK) == 0;

    make_executor(f, "", "", "");
    swept = access(dead_cg, F_OK) != 0 && errno == ENOENT;
    live_kept = access(live_cg, F_OK) == 0;
    /* An emptied cgroup can be removed a moment before its last process
     * can be waited for. */
    for (give_up = now_s() + 5; reaped == 0 && now_s() < give_up;
         sleep_ms(5))
        reaped = waitpid(leftover, &status, WNOHANG);

    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    rmdir(live_cg);
    if (reaped == 0) {
        kill(leftover, SIGKILL);
        waitpid(leftover, NULL, 0);
        rmdir(dead_cg);
    }
    assert_true(kept_by_check);
    assert_true(swept);
    assert_true(live_kept);
    assert_int_equal(reaped, leftover);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* ---- descriptors and zombies over many jobs ----------------------------- */

static void test_thousand_jobs_leak_nothing(void **state)
{
    fixture *f = *state;
    jx_plan *well = NULL, *crash = NULL;
    size_t before, after;
    pid_t self = getpid();
    char why[512];

    make_executor(f, "", "", "");
    parse_plan(f, "  - {step_index: 0, step_type: well}\n");
    well = f->plan;
    f->plan = NULL;
    parse_plan(f, "  - {step_index: 0, step_type: abort}\n");
    crash = f->plan;
    f->plan = NULL;

    f->plan = well;
    run_parsed(f); /* the runner is up, as it will be at the end */
    before = count_fds(self);
    for (int i = 0; i < N_JOBS; i++) {
        /* Now and then a crash: the runner is replaced. */
        int crashes = i % 100 == 50;
        f->plan = crashes ? crash : well;
        run_parsed(f);
        if (jx_result_status(f->res) !=
            (crashes ? JX_JOB_FAILED : JX_JOB_COMPLETED))
            fail_msg("job %d: %s", i, jx_result_reason(f->res));
    }
    f->plan = NULL;
    after = count_fds(self);
    assert_int_equal(after, before);
    assert_int_equal(count_zombie_children(), 0);
    /* Only the live runner's cgroup, when there are cgroups. */
    assert_int_equal(count_runner_cgroups(),
                     have_cgroup2(why, sizeof why) ? 1 : 0);
    jx_plan_free(well);
    jx_plan_free(crash);
}

/* ---- confinement -------------------------------------------------------- */

static void assert_ids(pid_t pid, const char *key, unsigned id)
{
    char *rest = proc_line(pid, "status", key);
    unsigned r, e, s, fs;

    assert_non_null(rest);
    assert_int_equal(sscanf(rest, "%u %u %u %u", &r, &e, &s, &fs), 4);
    free(rest);
    assert_int_equal(r, id);
    assert_int_equal(e, id);
    assert_int_equal(s, id);
    assert_int_equal(fs, id);
}

/* fd 0 and 1 /dev/null, 2 a pipe, 3 the socket, and nothing else: not the
 * evidence log. */
static void assert_runner_fds(pid_t pid)
{
    static const char *const want[] = {"/dev/null", "/dev/null", "pipe:[",
                                       "socket:["};
    char path[64], target[PATH_MAX];

    assert_int_equal(count_fds(pid), 4);
    for (int fd = 0; fd < 4; fd++) {
        ssize_t n;
        snprintf(path, sizeof path, "/proc/%ld/fd/%d", (long)pid, fd);
        n = readlink(path, target, sizeof target - 1);
        assert_true(n > 0);
        target[n] = '\0';
        if (strncmp(target, want[fd], strlen(want[fd])) != 0)
            fail_msg("runner fd %d is %s, not %s", fd, target, want[fd]);
    }
}

static void test_runner_confinement(void **state)
{
    fixture *f = *state;
    char *tail, *groups, *nnp;
    pid_t pid;

    if (asprintf(&tail, "evidence:\n  log: %s/evidence.jsonl\n", f->dir) < 0)
        fail_msg("out of memory");
    make_executor(f, "",
                  "  max_open_files: 64\n"
                  "  max_cpu_seconds: 600\n"
                  "  max_address_space_mb: 1024\n",
                  tail);
    free(tail);
    pid = well_pid(f);
    assert_int_not_equal(pid, getpid());
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        struct group *gr = getgrnam("nogroup");
        assert_non_null(pw);
        assert_non_null(gr);
        assert_int_equal(pw->pw_uid, 65534);
        assert_ids(pid, "Uid:", pw->pw_uid);
        assert_ids(pid, "Gid:", gr->gr_gid);
        groups = proc_line(pid, "status", "Groups:");
        assert_non_null(groups);
        assert_int_equal(strspn(groups, " \t"), strlen(groups)); /* none */
        free(groups);
    } else {
        assert_ids(pid, "Uid:", geteuid());
    }
    nnp = proc_line(pid, "status", "NoNewPrivs:");
    assert_non_null(nnp);
    assert_string_equal(nnp, "\t1");
    free(nnp);
    assert_limit(pid, "Max core file size", "0");
    assert_limit(pid, "Max open files", "64");
    assert_limit(pid, "Max cpu time", "600");
    if (!SANITIZED)
        assert_limit(pid, "Max address space", "1073741824");
    assert_runner_fds(pid);
    /* Its own process group, so that the group can be killed. */
    assert_int_equal(getpgid(pid), pid);
}

/* A runner started from a thread of the worker outlives that thread: the
 * next job, on another thread, finds it warm.  (cmocka cannot fail from a
 * thread: the thread only records what happened.) */
typedef struct thread_job {
    jx_executor *ex;
    jx_job_status crash_status, well_status;
    pid_t pid;
    int rc;
} thread_job;

static int record_pid(const jx_record *rec, void *user)
{
    json_t *v;

    if (rec->kind != JX_RECORD_STEP_FINISHED)
        return 0;
    v = json_loadb(rec->json, rec->json_len, 0, NULL);
    *(pid_t *)user = (pid_t)json_integer_value(json_object_get(
        json_object_get(json_object_get(v, "step"), "output"), "pid"));
    json_decref(v);
    return 0;
}

/* One step of type; 0 with *status, or the error code. */
static int run_quiet(jx_executor *ex, const char *type,
                     const jx_run_options *opts, jx_job_status *status)
{
    char text[256];
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    int rc;

    snprintf(text, sizeof text, HEAD "  - {step_index: 0, step_type: %s}\n",
             type);
    rc = jx_plan_parse(text, strlen(text), "plan.yaml", &plan, NULL);
    if (rc == 0)
        rc = jx_executor_run(ex, plan, opts, &res, NULL);
    if (rc == 0)
        *status = jx_result_status(res);
    jx_result_free(res);
    jx_plan_free(plan);
    return rc;
}

static void *crash_then_well(void *arg)
{
    thread_job *t = arg;
    jx_run_options opts = {record_pid, NULL, &t->pid, NULL};

    t->rc = run_quiet(t->ex, "abort", NULL, &t->crash_status);
    if (t->rc == 0) /* a new runner, spawned by this thread */
        t->rc = run_quiet(t->ex, "well", &opts, &t->well_status);
    return NULL;
}

static void test_runner_outlives_spawning_thread(void **state)
{
    fixture *f = *state;
    thread_job t = {0};
    pthread_t thread;

    make_executor(f, "", "", "");
    t.ex = f->ex;
    assert_int_equal(pthread_create(&thread, NULL, crash_then_well, &t), 0);
    pthread_join(thread, NULL);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.crash_status, JX_JOB_FAILED);
    assert_int_equal(t.well_status, JX_JOB_COMPLETED);
    assert_true(t.pid > 0);
    sleep_ms(50); /* a parent-death signal would be delivered by now */
    assert_int_equal(well_pid(f), t.pid);
}

/* The worker dies while its runner is stuck in a step that ignores
 * SIGTERM: the runner sees its channel hang up and ends its own group. */
static void test_runner_dies_with_worker(void **state)
{
    fixture *f = *state;
    int fds[2];
    pid_t worker, runner = 0;
    char st = 'R';

    assert_int_equal(pipe(fds), 0);
    worker = fork();
    assert_true(worker >= 0);
    if (worker == 0) {
        /* The worker owns the executor, so its death closes the channel. */
        jx_run_options opts = {record_pid, NULL, &runner, NULL};
        jx_job_status status;

        close(fds[0]);
        make_executor(f, "", "", "");
        if (run_quiet(f->ex, "well", &opts, &status) != 0 ||
            write(fds[1], &runner, sizeof runner) != sizeof runner)
            _exit(1);
        run_quiet(f->ex, "ignore_term", NULL, &status); /* hangs */
        _exit(2);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &runner, sizeof runner), sizeof runner);
    close(fds[0]);
    assert_true(runner > 0);
    sleep_ms(200); /* the hanging step is running */
    assert_int_equal(proc_state(runner, NULL) != 0, 1);
    kill(worker, SIGKILL);
    waitpid(worker, NULL, 0);
    for (int i = 0; i < 200; i++) {
        st = proc_state(runner, NULL);
        if (st == 0 || st == 'Z')
            break;
        sleep_ms(10);
    }
    /* Gone, or a zombie of whoever inherited it: not running. */
    if (st != 0 && st != 'Z')
        fail_msg("runner %ld still in state %c after its worker died",
                 (long)runner, st);
}

/* ---- cancellation ------------------------------------------------------- */

typedef struct canceller {
    fixture *f;
    const char *job_id; /* NULL: every job */
    long delay_ms;      /* after the step started */
    int told;           /* what jx_executor_cancel returned */
    pthread_t thread;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    double give_up = now_s() + 20;

    while (!atomic_load(&c->f->step_started) && now_s() < give_up)
        sleep_ms(2);
    sleep_ms(c->delay_ms);
    c->told = jx_executor_cancel(c->f->ex, c->job_id);
    return NULL;
}

static void start_canceller(canceller *c, fixture *f, const char *job_id)
{
    c->f = f;
    c->job_id = job_id;
    c->delay_ms = 200;
    c->told = -100;
    atomic_store(&f->step_started, 0);
    assert_int_equal(pthread_create(&c->thread, NULL, cancel_later, c), 0);
}

static void test_cancel_cooperative_sleep(void **state)
{
    fixture *f = *state;
    canceller c;
    double t0;

    make_executor(f, "", "", "");
    assert_int_equal(jx_executor_cancel(f->ex, NULL), 0); /* nothing runs */
    start_canceller(&c, f, JOB);
    t0 = now_s();
    run_type(f, "sleep", 30, NULL); /* sleeps until told */
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled during step 0: cancelled");
    assert_string_equal(jx_result_status_name(f->res), "CANCELLED");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
    assert_string_equal(step_error(f), "cancelled");
    assert_true(now_s() - t0 < 15); /* not the 30 s timeout */
    well_pid(f);
}

static void test_cancel_loop_is_killed(void **state)
{
    fixture *f = *state;
    canceller c;
    pid_t before;
    double t0;

    make_executor(f, "", "  kill_grace_ms: 200\n", "");
    before = well_pid(f);
    start_canceller(&c, f, NULL);
    t0 = now_s();
    run_type(f, "loop", 30, NULL);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 1);
    assert_outcome(f, JX_JOB_CANCELLED,
                   "Cancelled during step 0: cancelled (the handler did not "
                   "stop within 200 ms and was killed)");
    assert_true(now_s() - t0 < 15);
    assert_int_not_equal(well_pid(f), before);
    assert_int_equal(proc_state(before, NULL), 0);
    assert_int_equal(count_zombie_children(), 0);
}

static void test_cancel_other_job_id(void **state)
{
    fixture *f = *state;
    canceller c;

    make_executor(f, "", "", "");
    start_canceller(&c, f, OTHER_JOB);
    run_type(f, "sleep", 30, "{ms: 600}");
    pthread_join(c.thread, NULL);
    assert_int_equal(c.told, 0);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(f->step, "output"), "slept_ms")),
                     600);
}

static void test_cancel_between_steps(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    f->cancel_kind = JX_RECORD_STEP_FINISHED;
    run_steps(f, "  - {step_index: 0, step_type: well}\n"
                 "  - {step_index: 1, step_type: well}\n");
    assert_int_equal(f->cancel_told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled before step 1");
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 0);
    f->cancel_kind = -1;
    well_pid(f);
}

/* Cancelled after step_started, before the runner has the step: the
 * request must still reach a handler that checks ctx_cancelled. */
static void test_cancel_as_step_starts(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    well_pid(f);
    f->cancel_kind = JX_RECORD_STEP_STARTED;
    run_type(f, "sleep", 30, NULL); /* sleeps until told */
    assert_int_equal(f->cancel_told, 1);
    assert_outcome(f, JX_JOB_CANCELLED, "Cancelled during step 0: cancelled");
    f->cancel_kind = -1;
    well_pid(f);
}

/* The verdict of the one job in a log. */
typedef struct verdicts {
    size_t n;
    jx_verdict verdict;
    char final_status[32];
} verdicts;

static int on_job(const jx_job_report *r, void *user)
{
    verdicts *v = user;

    v->n++;
    v->verdict = r->verdict;
    snprintf(v->final_status, sizeof v->final_status, "%s",
             r->final_status ? r->final_status : "(none)");
    return 0;
}

/* Starts `jobexec run -c config plan` with stdout to out_path. */
static pid_t spawn_cli(const char *config, const char *plan,
                       const char *out_path, const char *err_path)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0 || dup2(in, 0) < 0 ||
            dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execl(TU_JOBEXEC, TU_JOBEXEC, "run", "-c", config, plan,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_cancel_by_sigterm(void **state)
{
    fixture *f = *state;
    char *log, *out_path, *err_path, *config, *plan, *text, *tail;
    verdicts v = {0};
    jx_verify_options vo = {NULL, NULL, on_job, &v};
    jx_verify_summary sum;
    json_t *doc;
    json_error_t jerr;
    double give_up;
    int status;
    pid_t pid;

    if (asprintf(&log, "%s/evidence.jsonl", f->dir) < 0 ||
        asprintf(&out_path, "%s/out.json", f->dir) < 0 ||
        asprintf(&err_path, "%s/err.txt", f->dir) < 0 ||
        asprintf(&tail, "evidence:\n  log: %s\n", log) < 0)
        fail_msg("out of memory");
    text = config_text("", "", tail);
    config = tu_write(f->dir, "jobexec.yaml", text);
    free(text);
    plan = tu_write(f->dir, "plan.yaml",
                    HEAD "  - {step_index: 0, step_type: sleep, "
                         "timeout_seconds: 30}\n"
                         "  - {step_index: 1, step_type: well}\n");
    pid = spawn_cli(config, plan, out_path, err_path);
    /* SIGTERM once the step is under way (its step_started is in the log:
     * the CLI's signal thread is up by then). */
    give_up = now_s() + 20;
    while (tu_count_lines(log) < 2 && now_s() < give_up &&
           waitpid(pid, &status, WNOHANG) == 0)
        sleep_ms(10);
    if (tu_count_lines(log) < 2) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        text = tu_read(err_path);
        fail_msg("the job never started: %s", text ? text : "");
    }
    sleep_ms(300);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);

    text = tu_read(out_path);
    assert_non_null(text);
    doc = json_loads(text, 0, &jerr);
    if (doc == NULL)
        fail_msg("stdout is not JSON (%s): %s", jerr.text, text);
    free(text);
    assert_string_equal(json_string_value(json_object_get(doc,
                                                          "final_status")),
                        "CANCELLED");
    assert_string_equal(json_string_value(json_object_get(doc,
                                                          "final_reason")),
                        "Cancelled during step 0: cancelled");
    assert_int_equal(json_array_size(json_object_get(doc, "step_results")),
                     1);
    json_decref(doc);

    assert_int_equal(jx_evidence_verify(log, &vo, &sum, &f->err), 0);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(sum.valid, 1);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.verdict, JX_VERDICT_VALID);
    assert_string_equal(v.final_status, "CANCELLED");
    assert_int_equal(count_zombie_children(), 0);
    free(log);
    free(out_path);
    free(err_path);
    free(tail);
    free(config);
    free(plan);
}

/* ---- in-process --------------------------------------------------------- */

/* ---- several runners per plugin ---------------------------------------- */

/* One job on its own thread: a one-step plan of its own job_id. */
typedef struct side_job {
    jx_executor *ex;
    char job_id[40];
    char step[512]; /* the step, a YAML flow mapping */
    jx_job_status status;
    char reason[512];
    pthread_t thread;
} side_job;

static void *run_side_job(void *arg)
{
    side_job *j = arg;
    char *text = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err;

    snprintf(j->reason, sizeof j->reason, "did not run");
    if (asprintf(&text, "job_id: %s\ncontract_id: " CONTRACT "\nsteps:\n"
                        "  - %s\n", j->job_id, j->step) < 0 ||
        jx_plan_parse(text, strlen(text), "side.yaml", &plan, &err) != 0 ||
        jx_executor_run(j->ex, plan, NULL, &res, &err) != 0) {
        free(text);
        jx_plan_free(plan);
        return NULL;
    }
    j->status = jx_result_status(res);
    snprintf(j->reason, sizeof j->reason, "%s", jx_result_reason(res));
    jx_result_free(res);
    jx_plan_free(plan);
    free(text);
    return NULL;
}

static void start_side_job(side_job *j, jx_executor *ex, const char *job_id,
                           const char *step)
{
    memset(j, 0, sizeof *j);
    j->ex = ex;
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    snprintf(j->step, sizeof j->step, "%s", step);
    assert_int_equal(pthread_create(&j->thread, NULL, run_side_job, j), 0);
}

/* A step of type meet: creates mine, waits up to ms for other (both in
 * the folder the runner may write to). */
static const char *meet_step(fixture *f, char *buf, size_t len,
                             const char *mine, const char *other, int ms,
                             int timeout)
{
    snprintf(buf, len,
             "{step_index: 0, step_type: meet, timeout_seconds: %d, "
             "parameters: {mine: \"%s/%s\", other: \"%s/%s\", ms: %d}}",
             timeout, f->shared, mine, f->shared, other, ms);
    return buf;
}

#define JOB_A "a0000000-0000-4000-8000-000000000001"
#define JOB_B "b0000000-0000-4000-8000-000000000002"
#define JOB_C "c0000000-0000-4000-8000-000000000003"

/* With runner.max_per_plugin: 2, two jobs' steps run at the same time,
 * each in a runner of its own: they meet. */
static void test_runners_serve_steps_at_once(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "", "  max_per_plugin: 2\n", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                20000, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                20000, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_string_equal(a.reason, "All steps completed successfully");
    assert_string_equal(b.reason, "All steps completed successfully");
}

/* By default one runner serves a plugin: the second step waits for the
 * first, which therefore never meets it. */
static void test_one_runner_by_default(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "", "", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                300, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                300, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    /* Whichever ran first waited alone; the other found it had been. */
    assert_int_equal((a.status == JX_JOB_FAILED) + (b.status == JX_JOB_FAILED),
                     1);
    assert_string_equal(a.status == JX_JOB_FAILED ? a.reason : b.reason,
                        "Step 0 failed: alone");
    assert_string_equal(a.status == JX_JOB_FAILED ? b.reason : a.reason,
                        "All steps completed successfully");
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A plugin that closes its stderr must not turn the wait for its step
 * into a busy loop: a second of waiting costs a second of CPU then. */
static void test_closed_stderr_costs_no_cpu(void **state)
{
    fixture *f = *state;
    double cpu;

    make_executor(f, "", "", "");
    well_pid(f); /* the runner is up: its start-up is not counted */
    cpu = cpu_seconds();
    run_type(f, "no_stderr", 30, "{ms: 1000}");
    cpu = cpu_seconds() - cpu;
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    if (cpu > 0.5)
        fail_msg("waiting 1 s for the step took %.2f s of CPU", cpu);
    well_pid(f);
}

/* What a runner writes to stderr between steps belongs to no step: it
 * must not turn up in the next one, which may be another job's. */
static void test_stderr_between_steps_dropped(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    run_type(f, "late_stderr", 30, "{said: \"late words\", ms: 100}");
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_null(json_object_get(f->step, "stderr"));
    sleep_ms(400);
    well_pid(f);
    assert_null(json_object_get(f->step, "stderr"));
}

/* Nor what a plugin's validate wrote while a plan was checked. */
static void test_validate_stderr_dropped(void **state)
{
    fixture *f = *state;

    make_executor(f, "", "", "");
    parse_plan(f, "  - {step_index: 0, step_type: chatter, parameters: "
                  "{said: \"validate words\"}}\n");
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
    drop_run(f);
    well_pid(f);
    assert_null(json_object_get(f->step, "stderr"));
}

/* The last message logged, and progress reported, by any plugin. */
static struct {
    int level;
    int had_job; /* it came with a job_id */
    char *text;
} last_log, last_progress;

static void keep_log(int level, const char *job_id, int64_t step_index,
                     const char *message, void *user)
{
    (void)step_index;
    (void)user;
    free(last_log.text);
    last_log.level = level;
    last_log.had_job = job_id != NULL;
    last_log.text = strdup(message);
}

static void keep_progress(const char *job_id, int64_t step_index,
                          double fraction, const char *message, void *user)
{
    (void)step_index;
    (void)fraction;
    (void)user;
    free(last_progress.text);
    last_progress.had_job = job_id != NULL;
    last_progress.text = message != NULL ? strdup(message) : NULL;
}

static void forget_messages(void)
{
    jx_set_log_handler(NULL, NULL);
    free(last_log.text);
    free(last_progress.text);
    memset(&last_log, 0, sizeof last_log);
    memset(&last_progress, 0, sizeof last_progress);
}

/* How many leading bytes of s are c. */
static size_t run_of(const char *s, char c)
{
    size_t n = 0;

    while (s != NULL && s[n] == c)
        n++;
    return n;
}

/* Long log and progress messages are cut to 10 KiB by the runner, not
 * refused by the core as an oversized frame: escaped, 12,000 control
 * bytes would be 72,000. */
static void test_long_messages_cut(void **state)
{
    fixture *f = *state;
    jx_run_options opts = {NULL, keep_progress, NULL, NULL};

    jx_set_log_handler(keep_log, NULL);
    make_executor(f, "", "", "");
    run_type(f, "big_log", 30, "{bytes: 12000}");
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_int_equal(last_log.level, JX_LOG_WARNING);
    assert_int_equal(run_of(last_log.text, '\x01'), 10 * 1024);

    drop_run(f);
    parse_plan(f, "  - {step_index: 0, step_type: big_progress, "
                  "parameters: {bytes: 70000}}\n");
    assert_int_equal(jx_executor_run(f->ex, f->plan, &opts, &f->res,
                                     &f->err),
                     0);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_true(last_progress.had_job);
    assert_int_equal(run_of(last_progress.text, 'p'), 10 * 1024);
    forget_messages();
}

/* What an isolated plugin logs from init reaches the log handler, as it
 * would in-process. */
static void test_init_log_reaches_handler(void **state)
{
    fixture *f = *state;

    jx_set_log_handler(keep_log, NULL);
    make_executor(f, "    config: {init_log: \"hello from init\"}\n", "",
                  "");
    assert_non_null(last_log.text);
    assert_string_equal(last_log.text, "hello from init");
    assert_int_equal(last_log.level, JX_LOG_WARNING);
    assert_false(last_log.had_job);
    forget_messages();
}

/* A plugin entry's runners wins over the runner section, both ways. */
static void test_plugin_runners_override(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "    runners: 2\n", "", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                20000, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                20000, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_string_equal(a.reason, "All steps completed successfully");
    assert_string_equal(b.reason, "All steps completed successfully");
}

static void test_plugin_runners_one(void **state)
{
    fixture *f = *state;
    side_job a, b;
    char sa[512], sb[512];

    make_executor(f, "    runners: 1\n", "  max_per_plugin: 4\n", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "b",
                                                300, 60));
    start_side_job(&b, f->ex, JOB_B, meet_step(f, sb, sizeof sb, "b", "a",
                                                300, 60));
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_int_equal((a.status == JX_JOB_FAILED) + (b.status == JX_JOB_FAILED),
                     1);
    assert_string_equal(a.status == JX_JOB_FAILED ? a.reason : b.reason,
                        "Step 0 failed: alone");
}

/* A config file name that is not UTF-8 cannot be told to the runner;
 * that is said, not reported as "out of memory". */
static void test_config_name_not_utf8(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "", "");
    jx_config *cfg = NULL;

    if (jx_config_parse(text, strlen(text), "cfg\xe9.yaml", TU_PLUGINS, &cfg,
                        &f->err) != 0)
        fail_msg("config: %s", f->err.message);
    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ECONFIG);
    assert_string_equal(f->err.message,
                        "cfg\xe9.yaml:2:11: plugin '" MISBEHAVE "': an "
                        "isolated plugin needs a plugin path and config file "
                        "name that are valid UTF-8");
    jx_config_free(cfg);
    free(text);
}

/* An observer-only plugin cannot be isolated; the refusal says what
 * to write instead. */
static void test_isolated_observer_refused(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " TU_PLUGINS "/health_static.so\n"
                               "    isolation: process\n"
                               "runner:\n"
                               "  path: " RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_EABI);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" TU_PLUGINS
                        "/health_static.so': exports no step_handler_v1 (an "
                        "isolated plugin must handle steps; health observers "
                        "run in-process: set isolation: inproc to trust it)");
    jx_config_free(cfg);
}

/* Too tight a limit makes libltdl say "file not found" of a file that
 * is there; the message names the limits it loaded under. */
static void test_load_under_tight_limits(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "  max_open_files: 3\n", "");
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ELOAD);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" MISBEHAVE "': cannot "
                        "load: file not found (in the runner, under "
                        "runner.max_address_space_mb: 2048 and "
                        "runner.max_open_files: 3)");
    jx_config_free(cfg);
    free(text);
}

/* runners on a plugin that runs in-process would promise parallel
 * runners that never start. */
static void test_plugin_runners_inproc(void **state)
{
    fixture *f = *state;
    char *text = config_text("    isolation: inproc\n    runners: 2\n", "",
                             "");
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:4:14: plugin '" MISBEHAVE "' runs "
                        "in-process; runners applies only to isolation: "
                        "process");
    jx_config_free(cfg);
    free(text);
}

/* Waiting for a free runner counts against the step's timeout, and a
 * cancelled job stops waiting. */
static void test_waiting_for_a_runner(void **state)
{
    fixture *f = *state;
    side_job a, c;
    char sa[512], path[600];
    double t0;

    make_executor(f, "", "", "");
    start_side_job(&a, f->ex, JOB_A, meet_step(f, sa, sizeof sa, "a", "none",
                                                60000, 120));
    snprintf(path, sizeof path, "%s/a", f->shared);
    for (t0 = now_s(); access(path, F_OK) != 0 && now_s() - t0 < 20;)
        sleep_ms(2);
    assert_int_equal(access(path, F_OK), 0); /* A holds the only runner */

    t0 = now_s();
    run_type(f, "well", 1, NULL);
    assert_outcome(f, JX_JOB_FAILED, "Step 0 failed: timed out after 1 s "
                                     "(waiting for a free runner)");
    assert_true(now_s() - t0 < 10);

    start_side_job(&c, f->ex, JOB_C,
                   "{step_index: 0, step_type: well, timeout_seconds: 60}");
    sleep_ms(100);
    assert_int_equal(jx_executor_cancel(f->ex, JOB_C), 1);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.status, JX_JOB_CANCELLED);
    assert_string_equal(c.reason, "Cancelled during step 0: cancelled");

    assert_int_equal(jx_executor_cancel(f->ex, JOB_A), 1);
    pthread_join(a.thread, NULL);
    assert_string_equal(a.reason, "Cancelled during step 0: cancelled");
    well_pid(f); /* the runner serves the next step */
}

static void test_inproc_overrun(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    make_executor(f, "    isolation: inproc\n", "", "");
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_int_equal(info.isolated, 0);
    run_type(f, "sleep", 1, "{ms: 1500}");
    assert_outcome(f, JX_JOB_FAILED, "Step 0 failed: timed out after 1 s");
    assert_string_equal(step_error(f), "timed out after 1 s");
    assert_int_equal(well_pid(f), getpid()); /* it ran here */
}

/* ---- config ------------------------------------------------------------- */

/* Shipped plugins (in the plugin folder) run in-process, others isolated,
 * unless the entry says otherwise. */
static void test_isolation_defaults(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: noop\n"
                               "  - path: fail\n"
                               "    isolation: process\n"
                               "  - path: " MISBEHAVE "\n"
                               "runner:\n"
                               "  path: " RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);
    jx_plugin_info info;
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    if (rc != 0)
        fail_msg("executor: %s", f->err.message);
    assert_int_equal(jx_executor_plugin_count(f->ex), 3);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_string_equal(info.name, "noop");
    assert_int_equal(info.isolated, 0);
    assert_int_equal(jx_executor_plugin_info(f->ex, 1, &info), 0);
    assert_string_equal(info.name, "fail");
    assert_int_equal(info.isolated, 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 2, &info), 0);
    assert_string_equal(info.name, "misbehave");
    assert_int_equal(info.isolated, 1);
    assert_int_not_equal(well_pid(f), getpid());
}

/* Parses text; the parse must fail with code and exactly message. */
static void assert_config_error(const char *text, int code,
                                const char *message)
{
    jx_config *cfg = NULL;
    jx_error err = {0, ""};

    assert_int_equal(jx_config_parse(text, strlen(text), "test.yaml",
                                     TU_PLUGINS, &cfg, &err),
                     code);
    assert_null(cfg);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
}

static void test_config_isolation_bogus(void **state)
{
    (void)state;
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    isolation: bogus\n",
                        JX_ECONFIG,
                        "test.yaml:3:16: isolation must be inproc or "
                        "process, found 'bogus'");
}

static void test_config_runner_path_relative(void **state)
{
    jx_config *cfg;
    jx_error err;

    (void)state;
    assert_config_error("runner:\n"
                        "  path: libexec/jobexec-runner\n",
                        JX_ECONFIG,
                        "test.yaml:2:9: runner.path 'libexec/jobexec-runner' "
                        "must be an absolute path");
    cfg = parse_config("runner: {max_open_files: 10}\n", &err);
    assert_int_equal(jx_config_set_runner_path(cfg, "jobexec-runner"),
                     JX_EINVAL);
    assert_int_equal(jx_config_set_runner_path(cfg, RUNNER), 0);
    jx_config_free(cfg);
}

static void test_config_max_open_files_zero(void **state)
{
    (void)state;
    assert_config_error("runner:\n"
                        "  max_open_files: 0\n",
                        JX_ECONFIG,
                        "test.yaml:2:19: runner.max_open_files must be "
                        "between 1 and 1048576, found 0");
}

static void test_config_max_per_plugin_zero(void **state)
{
    (void)state;
    assert_config_error("runner:\n"
                        "  max_per_plugin: 0\n",
                        JX_ECONFIG,
                        "test.yaml:2:19: runner.max_per_plugin must be "
                        "between 1 and 256, found 0");
}

static void test_config_plugin_runners_range(void **state)
{
    (void)state;
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    runners: 257\n",
                        JX_ECONFIG,
                        "test.yaml:3:14: runners must be between 1 and 256, "
                        "found 257");
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    runners: 0\n",
                        JX_ECONFIG,
                        "test.yaml:3:14: runners must be between 1 and 256, "
                        "found 0");
}

static void test_runner_missing(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " MISBEHAVE "\n"
                               "runner:\n"
                               "  path: /nonexistent/jobexec-runner\n";
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    assert_int_equal(rc, JX_ELOAD);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" MISBEHAVE "': cannot "
                        "start the runner '/nonexistent/jobexec-runner': No "
                        "such file or directory");
    assert_non_null(strstr(f->err.message, "cannot start the runner"));
}

static void test_observer_isolated(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "",
                             "health:\n"
                             "  observer: " MISBEHAVE "\n");
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    free(text);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:6:13: health observer '" MISBEHAVE
                        "' runs isolated; observers run in-process (set "
                        "isolation: inproc)");
    /* The runner started for it is gone, with its cgroup. */
    assert_int_equal(count_zombie_children(), 0);
    assert_int_equal(count_runner_cgroups(), 0);
}

/* Named by its descriptor's name rather than its path, the plugin is just
 * as configured, and just as isolated. */
static void test_observer_isolated_by_name(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " BOTH "\n"
                               "health:\n"
                               "  observer: both\n"
                               "runner:\n"
                               "  path: " RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:4:13: health observer 'both' runs "
                        "isolated; observers run in-process (set isolation: "
                        "inproc)");
    assert_int_equal(count_zombie_children(), 0);
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
        T(test_setsid_grandchild_killed),
        T(test_stale_cgroups_swept),
        T(test_thousand_jobs_leak_nothing),
        T(test_runner_confinement),
        T(test_output_not_utf8),
        T(test_runners_serve_steps_at_once),
        T(test_one_runner_by_default),
        T(test_closed_stderr_costs_no_cpu),
        T(test_stderr_between_steps_dropped),
        T(test_validate_stderr_dropped),
        T(test_long_messages_cut),
        T(test_init_log_reaches_handler),
        T(test_plugin_runners_override),
        T(test_plugin_runners_one),
        T(test_plugin_runners_inproc),
        T(test_config_name_not_utf8),
        T(test_isolated_observer_refused),
        T(test_load_under_tight_limits),
        T(test_waiting_for_a_runner),
        T(test_config_max_per_plugin_zero),
        T(test_config_plugin_runners_range),
        T(test_runner_outlives_spawning_thread),
        T(test_runner_dies_with_worker),
        T(test_cancel_cooperative_sleep),
        T(test_cancel_loop_is_killed),
        T(test_cancel_other_job_id),
        T(test_cancel_between_steps),
        T(test_cancel_as_step_starts),
        T(test_cancel_by_sigterm),
        T(test_inproc_overrun),
        T(test_isolation_defaults),
        T(test_config_isolation_bogus),
        T(test_config_runner_path_relative),
        T(test_config_max_open_files_zero),
        T(test_runner_missing),
        T(test_observer_isolated),
        T(test_observer_isolated_by_name),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
