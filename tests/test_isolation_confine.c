/*
 * test_isolation_confine.c - the runner's confinement and what it leaves
 * behind: a setsid() grandchild killed with the step (cgroup v2), stale
 * runner cgroups of dead workers swept, descriptors and zombies over a
 * thousand jobs, the runner's user, no_new_privs, limits and inherited
 * files, a runner outliving the thread that started it, and a runner
 * ending with its worker.
 *
 * Files the runner writes go to a 01777 folder: as root the runner is
 * nobody.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "isolation_util.h"

#define N_JOBS 1000

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

/* ---- what a step that succeeds leaves running --------------------------- */

/* Runs type, which leaves one process sleeping and writes its pid to a
 * file: the step completes, its result counts the process, and by the
 * time the result is in, the process is gone (reaped, not a zombie). */
static void leftover_killed(fixture *f, const char *type)
{
    char *pid_file, *params, *text;
    pid_t runner;
    long pid;

    if (asprintf(&pid_file, "%s/leftover.pid", f->shared) < 0 ||
        asprintf(&params, "{pid_file: \"%s\"}", pid_file) < 0)
        fail_msg("out of memory");
    make_executor(f, "", "", "");
    runner = well_pid(f);
    run_type(f, type, 30, params);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_string_equal(json_string_value(json_object_get(f->step, "status")),
                        "COMPLETED");
    assert_int_equal(json_integer_value(json_object_get(
                         f->step, "leftover_processes")),
                     1);
    text = tu_read(pid_file);
    pid = text != NULL ? strtol(text, NULL, 10) : 0;
    free(text);
    if (pid <= 0)
        fail_msg("no pid in %s", pid_file);
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        fail_msg("process %ld outlived its step (state %c)", pid,
                 proc_state((pid_t)pid, NULL));
    /* The runner stays for the next step, and that one leaves nothing. */
    assert_int_equal(well_pid(f), runner);
    assert_null(json_object_get(f->step, "leftover_processes"));
    free(params);
    free(pid_file);
}

static void test_double_fork_killed(void **state)
{
    leftover_killed(*state, "double_fork");
}

static void test_setpgid_child_killed(void **state)
{
    leftover_killed(*state, "setpgid_child");
}

/* A plugin that gives up the runner's subreaper role before it double-
 * forks escapes the runner's sweep, not its cgroup: the core finds the
 * grandchild there, kills and counts it. */
static void test_escaped_fork_killed_by_cgroup(void **state)
{
    fixture *f = *state;
    char why[512], *pid_file, *params, *text;
    double give_up;
    long pid;
    char st;

    if (!have_cgroup2(why, sizeof why)) {
        print_message("skipped: %s: an escaped grandchild can outlive the "
                      "step\n", why);
        skip();
    }
    if (asprintf(&pid_file, "%s/escaped.pid", f->shared) < 0 ||
        asprintf(&params, "{pid_file: \"%s\"}", pid_file) < 0)
        fail_msg("out of memory");
    make_executor(f, "", "", "");
    run_type(f, "escape_fork", 30, params);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_int_equal(json_integer_value(json_object_get(
                         f->step, "leftover_processes")),
                     1);
    text = tu_read(pid_file);
    pid = text != NULL ? strtol(text, NULL, 10) : 0;
    free(text);
    if (pid <= 0)
        fail_msg("no pid in %s", pid_file);
    /* Dead at once; its new parent, outside the runner, reaps it. */
    give_up = now_s() + 5;
    while ((st = proc_state((pid_t)pid, NULL)) != 0 && st != 'Z' &&
           now_s() < give_up)
        sleep_ms(10);
    if (st != 0 && st != 'Z')
        fail_msg("process %ld outlived its step (state %c)", pid, st);
    free(params);
    free(pid_file);
}

/* A step that leaves nothing has no leftover_processes at all. */
static void test_no_leftovers(void **state)
{
    fixture *f = *state;
    pid_t before;

    make_executor(f, "", "", "");
    before = well_pid(f);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_null(json_object_get(f->step, "leftover_processes"));
    assert_int_equal(well_pid(f), before); /* the runner is kept */
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

/* fd 0 and 1 /dev/null, 2 a pipe, 3 the socket, 4 the signalfd its
 * cancels come on, 5 the module it loaded (held open: the file checked is
 * the file mapped), 6 the epoll set that watches the socket and the
 * signalfd, and nothing else: not the evidence log. */
static void assert_runner_fds(pid_t pid)
{
    static const char *const want[] = {"/dev/null", "/dev/null", "pipe:[",
                                       "socket:[", "anon_inode:[signalfd]",
                                       TU_FIXTURES "/",
                                       "anon_inode:[eventpoll]"};
    char path[64], target[PATH_MAX];

    assert_int_equal(count_fds(pid), 7);
    for (int fd = 0; fd < 7; fd++) {
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
    jx_run_options opts = {.on_record = record_pid, .user = &t->pid};

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
        jx_run_options opts = {.on_record = record_pid, .user = &runner};
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

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_setsid_grandchild_killed),
        T(test_double_fork_killed),
        T(test_setpgid_child_killed),
        T(test_escaped_fork_killed_by_cgroup),
        T(test_no_leftovers),
        T(test_stale_cgroups_swept),
        T(test_thousand_jobs_leak_nothing),
        T(test_runner_confinement),
        T(test_runner_outlives_spawning_thread),
        T(test_runner_dies_with_worker),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
