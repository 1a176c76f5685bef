/*
 * isolate.c - the core's side of an isolated plugin.
 *
 * The runner is started with posix_spawn (safe in a threaded worker) in its
 * own process group, with the channel socket as fd 3, stderr to a pipe the
 * core drains, stdin and stdout on /dev/null, and nothing else open.  Where
 * a cgroup v2 folder can be made, the runner is put in its own, so that
 * processes which leave its group (setsid) are still killed.  Whatever the
 * runner sends is untrusted: frames are bounded by type before anything is
 * allocated, and any surprise ends the step and replaces the runner.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "isolate/frame.h"
#include "plugin/host.h"
#include "isolate/isolate.h"
#include "base/jsonbuf.h"

#ifndef JX_RUNNER
#define JX_RUNNER "/usr/local/libexec/jobexec/jobexec-runner"
#endif

#define START_TIMEOUT_S 30.0      /* LOAD to HELO: opening and init */
#define SMALL_FRAME (64 * 1024)   /* LOG, PROG, HELO, FAIL, VRES */
#define FINI_TIMEOUT_S 5.0

/*
 * One isolated plugin: what every runner of it needs, and its runners.
 * Up to its entry's runners (else runner.max_per_plugin) runner processes
 * serve its steps at once, each one step at a time; they start when first
 * needed and stay warm.
 */
typedef struct pool {
    char *program;
    jx__runner_conf limits; /* scalars only; strings not kept */
    int drop;               /* switch to uid/gid: the executor is root */
    uid_t uid;
    gid_t gid;
    char *load;             /* the LOAD frame's payload */
    char *cgroup_parent;    /* where runner cgroups are made, or NULL */
    /* What the plugin said about itself (from its first HELO). */
    step_handler_v1 desc;
    char *name, *version;
    char **types;
    int has_validate;
    /* The runners, made as steps need them.  busy and n_runners are
     * guarded by lock; a runner's process belongs to whoever took it. */
    pthread_mutex_t lock;
    pthread_cond_t given_back;
    struct runner **runners; /* room for limits.max_per_plugin */
    size_t n_runners;
} pool;

typedef struct runner {
    pool *pool;
    int busy;               /* taken by a step or a validate */
    unsigned serial;        /* for cgroup names */
    /* The running process, when pid > 0. */
    pid_t pid;
    int chan;
    int err_fd;
    char *cgroup;
    jx__buf err_text;       /* the current step's stderr, bounded */
    size_t err_dropped;
} runner;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- cgroup ------------------------------------------------------------ */

/* The cgroup v2 folder of this process, if the unified hierarchy is
 * mounted and writable; runner cgroups are made below it. */
static char *find_cgroup_parent(void)
{
    char line[4096], mount[1024] = "", self[2048] = "";
    FILE *fp = fopen("/proc/self/mountinfo", "re");
    char *out = NULL;

    if (fp == NULL)
        return NULL;
    while (fgets(line, sizeof line, fp) != NULL) {
        char *dash = strstr(line, " - cgroup2 ");
        if (dash != NULL && sscanf(line, "%*s %*s %*s %*s %1023s", mount) == 1)
            break;
        mount[0] = '\0';
    }
    fclose(fp);
    if (mount[0] == '\0' || (fp = fopen("/proc/self/cgroup", "re")) == NULL)
        return NULL;
    while (fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, "0::", 3) == 0 && sscanf(line + 3, "%2047s", self) == 1)
            break;
    fclose(fp);
    if (self[0] == '\0' ||
        asprintf(&out, "%s%s", mount, strcmp(self, "/") == 0 ? "" : self) < 0)
        return NULL;
    if (access(out, W_OK) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void cgroup_make(runner *r)
{
    if (r->pool->cgroup_parent == NULL ||
        asprintf(&r->cgroup, "%s/jobexec-%ld-%p-%u", r->pool->cgroup_parent,
                 (long)getpid(), (void *)r, ++r->serial) < 0) {
        r->cgroup = NULL;
        return;
    }
    if (mkdir(r->cgroup, 0700) != 0) {
        free(r->cgroup);
        r->cgroup = NULL;
    }
}

static int cgroup_write(const char *dir, const char *file, const char *text)
{
    char path[4096];
    int fd, ok;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -1;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok ? 0 : -1;
}

/* Kills everything in a runner cgroup and removes it. */
static void cgroup_remove(const char *dir)
{
    cgroup_write(dir, "cgroup.kill", "1");
    /* cgroup.kill is asynchronous: the folder empties within moments. */
    for (int i = 0; i < 200 && rmdir(dir) != 0 && errno == EBUSY; i++)
        sleep_ms(5);
}

static void cgroup_end(runner *r)
{
    if (r->cgroup == NULL)
        return;
    cgroup_remove(r->cgroup);
    free(r->cgroup);
    r->cgroup = NULL;
}

void jx__isolate_sweep_cgroups(void)
{
    char *parent = find_cgroup_parent();
    DIR *d = parent != NULL ? opendir(parent) : NULL;
    const struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        long pid;
        int end = 0;
        char *dir;

        /* jobexec-PID-..., as cgroup_make names them. */
        if (sscanf(e->d_name, "jobexec-%ld-%n", &pid, &end) != 1 ||
            end == 0 || pid <= 0 || pid == (long)getpid())
            continue;
        /* EPERM: alive, another user's. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (asprintf(&dir, "%s/%s", parent, e->d_name) >= 0) {
            cgroup_remove(dir);
            free(dir);
        }
    }
    if (d != NULL)
        closedir(d);
    free(parent);
}

/* ---- the process ------------------------------------------------------- */

/* Waits up to ms for the runner to exit; 1 when it has (status kept).
 * A pidfd wakes the wait the moment it exits; without one (old kernels),
 * the wait polls. */
static int reap_within(pid_t pid, long ms, int *status)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    long waited = 0;

    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD)) {
            if (fd >= 0)
                close(fd);
            return 1;
        }
        if (waited >= ms) {
            if (fd >= 0)
                close(fd);
            return 0;
        }
        if (fd >= 0) {
            struct pollfd p = {fd, POLLIN, 0};
            double t0 = jx__monotonic();
            poll(&p, 1, (int)(ms - waited));
            waited += (long)((jx__monotonic() - t0) * 1000) + 1;
        } else {
            sleep_ms(2);
            waited += 2;
        }
    }
}

/* After the runner is gone: what it started in its group gets SIGTERM,
 * the grace to finish, then SIGKILL. */
static void end_group(pid_t pgid, long grace_ms)
{
    if (kill(-pgid, SIGTERM) != 0)
        return; /* nobody left */
    for (long waited = 0; waited < grace_ms && kill(-pgid, 0) == 0;
         waited += 5)
        sleep_ms(5);
    kill(-pgid, SIGKILL);
}

static void drain_stderr(runner *r);

static void close_process(runner *r)
{
    if (r->chan >= 0)
        close(r->chan);
    /* What a dying runner wrote last (a sanitizer's report, say) is still
     * in the pipe: keep it for the step's evidence. */
    drain_stderr(r);
    if (r->err_fd >= 0)
        close(r->err_fd);
    r->chan = r->err_fd = -1;
    r->pid = 0;
    cgroup_end(r);
}

/* SIGTERM to the whole group, a grace, then SIGKILL: nothing the plugin
 * started survives the step (in the cgroup, not even setsid children). */
static void kill_runner(runner *r)
{
    int status = 0;

    if (r->pid <= 0)
        return;
    kill(-r->pid, SIGTERM);
    if (!reap_within(r->pid, (long)r->pool->limits.kill_grace_ms, &status)) {
        kill(-r->pid, SIGKILL);
        if (r->cgroup != NULL)
            cgroup_write(r->cgroup, "cgroup.kill", "1");
        while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
            ;
    } else {
        kill(-r->pid, SIGKILL); /* what is left of the group */
    }
    close_process(r);
}

static int spawn_process(runner *r, jx_error *err)
{
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, child_chan = -1, child_err = -1;
    char *const argv[] = {r->pool->program, NULL};
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
#if defined(__SANITIZE_ADDRESS__)
                    /* ASan reserves terabytes of address space and would
                     * abort on RLIMIT_AS; with this a failed allocation is
                     * NULL, as without the sanitizer. */
                    "ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0",
#endif
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        pipe2(ep, O_CLOEXEC) != 0)
        goto fail_errno;
    /* Above the numbers the child's dup2 targets, so that no dup2 is onto
     * itself (which would leave close-on-exec set). */
    if ((child_chan = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
        (child_err = fcntl(ep[1], F_DUPFD_CLOEXEC, 10)) < 0)
        goto fail_errno;
    close(sv[1]);
    close(ep[1]);
    sv[1] = ep[1] = -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, child_err, 2);
    posix_spawn_file_actions_adddup2(&fa, child_chan, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    cgroup_make(r);
    rc = posix_spawn(&r->pid, r->pool->program, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(child_chan);
    close(child_err);
    if (rc != 0) {
        close(sv[0]);
        close(ep[0]);
        r->pid = 0;
        cgroup_end(r);
        return jx__fail(err, JX_ELOAD, "cannot start the runner '%s': %s",
                        r->pool->program, strerror(rc));
    }
    r->chan = sv[0];
    r->err_fd = ep[0];
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
    if (r->cgroup != NULL) {
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)r->pid);
        if (cgroup_write(r->cgroup, "cgroup.procs", pid) != 0)
            cgroup_end(r); /* the group still bounds what it starts */
    }
    return 0;

fail_errno:
    rc = errno;
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    if (child_chan >= 0)
        close(child_chan);
    if (child_err >= 0)
        close(child_err);
    return jx__fail(err, JX_ELOAD, "cannot start the runner: %s",
                    strerror(rc));
}

/* ---- stderr ------------------------------------------------------------ */

/* Reads what the runner wrote to stderr, keeping the first
 * max_stderr_bytes of the step and counting the rest. */
static void drain_stderr(runner *r)
{
    char buf[4096];
    ssize_t n = -1;

    while (r->err_fd >= 0 && (n = read(r->err_fd, buf, sizeof buf)) > 0) {
        size_t max = (size_t)r->pool->limits.max_stderr_bytes;
        size_t room = max > r->err_text.len ? max - r->err_text.len : 0;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        if (keep > 0 && jx__buf_append(&r->err_text, buf, keep) != 0)
            keep = 0;
        r->err_dropped += (size_t)n - keep;
    }
    /* A plugin that closed its stderr: the pipe would report POLLHUP to
     * every poll for as long as the runner lives. */
    if (r->err_fd >= 0 && n == 0) {
        close(r->err_fd);
        r->err_fd = -1;
    }
}

/* The step's stderr so far (NULL when none); *dropped gets how many
 * bytes were beyond the limit. */
static char *take_stderr(runner *r, size_t *dropped)
{
    char *text = NULL;

    drain_stderr(r);
    *dropped = r->err_dropped;
    if (r->err_text.len > 0 || r->err_dropped > 0)
        text = strndup(r->err_text.data ? r->err_text.data : "",
                       r->err_text.len);
    r->err_text.len = 0;
    r->err_dropped = 0;
    return text;
}

/* Forgets what came between steps: text written after one step ended
 * must not reach the next, which may be another job's, redacted against
 * another plan. */
static void drop_stderr(runner *r)
{
    drain_stderr(r);
    r->err_text.len = 0;
    r->err_dropped = 0;
}

/* ---- waiting for frames ------------------------------------------------ */

typedef struct waiting {
    runner *r;
    double deadline;         /* monotonic; 0: none */
    int cancel_fd;           /* -1: none */
    const jx_context *ctx;   /* for LOG and PROG; may be NULL */
    uint32_t want;           /* the frame that ends the wait */
    uint32_t want_alt;       /* another that does (0: none) */
    size_t want_max;
    uint32_t got;            /* which of them came */
    /* Outcome */
    char *data;              /* the wanted frame's payload */
    char why[512];           /* when it did not come */
    int cancelled, timed_out;
} waiting;

static size_t frame_max(uint32_t type, void *user)
{
    const waiting *w = user;
    if (type == w->want)
        return w->want_max;
    if (w->want_alt != 0 && type == w->want_alt)
        return SMALL_FRAME;
    if (type == JX_FRAME_LOG || type == JX_FRAME_PROG)
        return SMALL_FRAME;
    return 0;
}

/* Describes how the runner ended, after it closed the channel. */
static void describe_exit(runner *r, char *why, size_t len)
{
    int status = 0;

    if (!reap_within(r->pid, 200, &status)) {
        snprintf(why, len, "protocol error: the runner closed its channel");
        kill_runner(r);
        return;
    }
    end_group(r->pid, (long)r->pool->limits.kill_grace_ms);
    close_process(r);
    if (WIFSIGNALED(status))
        snprintf(why, len, "handler crashed: signal %d (SIG%s: %s)",
                 WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?",
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, len, "runner exited with status %d during the step",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void on_side_frame(waiting *w, uint32_t type, const char *data,
                          size_t len)
{
    json_t *v = json_loadb(data, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(v, "message"));

    /* Logs from init and fini concern no plan: they go out unredacted,
     * as in-process ones do.  validate's are dropped: they concern a plan
     * this wait has no context for. */
    if ((w->ctx != NULL || w->want != JX_FRAME_VRES) &&
        type == JX_FRAME_LOG && msg != NULL) {
        json_int_t level = json_integer_value(json_object_get(v, "level"));
        jx__log_cut(w->ctx, level < 0 || level > JX_LOG_DEBUG ? JX_LOG_DEBUG
                                                              : (int)level,
                    msg, json_is_true(json_object_get(v, "cut")));
    } else if (w->ctx != NULL && type == JX_FRAME_PROG) {
        jx__progress_cut(w->ctx,
                         json_number_value(json_object_get(v, "fraction")),
                         msg, json_is_true(json_object_get(v, "cut")));
    }
    json_decref(v);
}

/* One frame from the channel.  Returns 1 when the wait is over. */
static int read_channel(waiting *w, jx__frame_reader *fr)
{
    char name[12];
    int rc;

    while ((rc = jx__frame_feed(fr, w->r->chan, frame_max, w)) ==
           JX_FRAME_READY) {
        if (fr->type == w->want ||
            (w->want_alt != 0 && fr->type == w->want_alt)) {
            w->got = fr->type;
            w->data = fr->data;
            fr->data = NULL;
            jx__frame_reset(fr);
            return 1;
        }
        if (fr->type != JX_FRAME_LOG && fr->type != JX_FRAME_PROG) {
            jx__frame_name(fr->type, name);
            snprintf(w->why, sizeof w->why, "protocol error: unexpected "
                                            "frame '%s'", name);
            kill_runner(w->r);
            return 1;
        }
        on_side_frame(w, fr->type, fr->data, fr->len);
        jx__frame_reset(fr);
    }
    if (rc == JX_FRAME_MORE)
        return 0;
    if (rc == JX_FRAME_TOO_BIG) {
        jx__frame_name(fr->type, name);
        if (fr->type == w->want && w->want == JX_FRAME_DONE)
            snprintf(w->why, sizeof w->why,
                     "output too large: %" PRIu32 " bytes, more than the "
                     "limit of %" PRIu64 " (runner.max_output_bytes)",
                     fr->len, w->r->pool->limits.max_output_bytes);
        else
            snprintf(w->why, sizeof w->why,
                     "protocol error: frame '%s' of %" PRIu32 " bytes", name,
                     fr->len);
        kill_runner(w->r);
        return 1;
    }
    if (rc == JX_FRAME_EOF && fr->got == 0)
        describe_exit(w->r, w->why, sizeof w->why);
    else if (rc == JX_FRAME_EOF)
        snprintf(w->why, sizeof w->why, "protocol error: the runner's "
                                        "channel ended inside a frame");
    else
        snprintf(w->why, sizeof w->why, "protocol error: %s",
                 strerror(errno));
    if (w->r->pid > 0)
        kill_runner(w->r);
    return 1;
}

/*
 * A short step answers within microseconds, and putting this thread to
 * sleep and waking it costs more than that (most of a warm isolated step,
 * on virtual machines above all).  So a wait spins briefly on the
 * channel before it first sleeps in poll().  1 when the wait is over.
 */
#define SPIN_US 60.0
static int spin_for_reply(waiting *w, jx__frame_reader *fr)
{
    double until = jx__monotonic() + SPIN_US / 1e6;

    do {
        if (read_channel(w, fr))
            return 1;
        if (fr->got > 0)
            return 0; /* a frame is arriving: poll for the rest */
    } while (jx__monotonic() < until);
    return 0;
}

/* Asks a running handler to stop (its ctx_cancelled turns true), then,
 * after the grace, stops the runner. */
static void cancel_step(waiting *w)
{
    if (w->cancelled)
        return;
    w->cancelled = 1;
    kill(w->r->pid, SIGUSR1);
    w->deadline = jx__monotonic() +
                  (double)w->r->pool->limits.kill_grace_ms / 1e3;
}

/* Waits for w->want, serving LOG and PROG frames and stderr meanwhile.
 * Returns 0 with w->data set, or -1 with w->why set (the runner is then
 * gone). */
static int wait_for(waiting *w)
{
    jx__frame_reader fr;

    memset(&fr, 0, sizeof fr);
    if (spin_for_reply(w, &fr)) {
        jx__frame_reset(&fr);
        return w->data != NULL ? 0 : -1;
    }
    for (;;) {
        struct pollfd pfd[3] = {{w->r->chan, POLLIN, 0},
                                {w->r->err_fd, POLLIN, 0},
                                {w->cancel_fd, POLLIN, 0}};
        double left = w->deadline > 0 ? w->deadline - jx__monotonic() : 1e9;
        int n;

        if (left <= 0) {
            if (w->cancelled)
                snprintf(w->why, sizeof w->why,
                         "cancelled (the handler did not stop within %" PRIu64
                         " ms and was killed)",
                         w->r->pool->limits.kill_grace_ms);
            w->timed_out = !w->cancelled;
            kill_runner(w->r);
            jx__frame_reset(&fr);
            return -1;
        }
        n = poll(pfd, w->cancel_fd >= 0 && !w->cancelled ? 3 : 2,
                 left > 1e6 ? -1 : (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            snprintf(w->why, sizeof w->why, "poll failed: %s",
                     strerror(errno));
            kill_runner(w->r);
            jx__frame_reset(&fr);
            return -1;
        }
        if (n <= 0)
            continue;
        if (pfd[1].revents != 0)
            drain_stderr(w->r);
        if (pfd[2].revents != 0)
            cancel_step(w);
        if (pfd[0].revents != 0 && read_channel(w, &fr)) {
            jx__frame_reset(&fr);
            return w->data != NULL ? 0 : -1;
        }
    }
}

/* ---- start-up ---------------------------------------------------------- */

static int read_hello(pool *p, const char *data, int first, jx_error *err)
{
    json_t *v = json_loads(data, 0, NULL);
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *version = json_string_value(json_object_get(v, "version"));
    json_t *types = json_object_get(v, "step_types");
    size_t i, n = json_array_size(types);
    json_t *t;
    int rc = 0;

    if (name == NULL || version == NULL || !json_is_array(types)) {
        rc = jx__fail(err, JX_ELOAD, "protocol error: malformed HELO");
    } else if (!first) {
        if (strcmp(name, p->name) != 0)
            rc = jx__fail(err, JX_ELOAD, "the plugin changed its name from "
                                         "'%s' to '%s'", p->name, name);
    } else if ((p->name = strdup(name)) == NULL ||
               (p->version = strdup(version)) == NULL ||
               (p->types = calloc(n + 1, sizeof *p->types)) == NULL) {
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    } else {
        json_array_foreach(types, i, t) {
            if (!json_is_string(t) ||
                (p->types[i] = strdup(json_string_value(t))) == NULL) {
                rc = jx__fail(err, JX_ELOAD, "protocol error: malformed "
                                             "step_types");
                break;
            }
        }
        p->has_validate = json_is_true(json_object_get(v, "validate"));
    }
    json_decref(v);
    return rc;
}

/* The runner's own refusal: its loader's message and code. */
static int read_fail(const char *data, jx_error *err)
{
    json_t *v = json_loads(data, 0, NULL);
    json_int_t code = json_integer_value(json_object_get(v, "code"));
    const char *msg = json_string_value(json_object_get(v, "message"));
    int rc = jx__fail(err, code < 0 && code >= JX_EKEY ? (int)code : JX_ELOAD,
                      "%s", msg != NULL ? msg : "the runner refused");

    json_decref(v);
    return rc;
}

/* Starts the runner and waits until the plugin is open and initialised. */
static int start(runner *r, int first, jx_error *err)
{
    waiting w = {.r = r, .cancel_fd = -1, .want = JX_FRAME_HELO,
                 .want_alt = JX_FRAME_FAIL, .want_max = SMALL_FRAME};
    int rc;

    if ((rc = spawn_process(r, err)) != 0)
        return rc;
    w.deadline = jx__monotonic() + START_TIMEOUT_S;
    if (jx__frame_write(r->chan, JX_FRAME_LOAD, r->pool->load,
                        strlen(r->pool->load)) != 0 ||
        wait_for(&w) != 0) {
        size_t dropped;
        char *text;

        if (r->pid > 0)
            describe_exit(r, w.why, sizeof w.why);
        text = take_stderr(r, &dropped);
        rc = jx__fail(err, JX_ELOAD, "the runner failed at start: %s%s%s",
                      w.timed_out ? "plugin init did not finish in time"
                                  : w.why,
                      text ? "; stderr: " : "", text ? text : "");
        free(text);
        return rc;
    }
    rc = w.got == JX_FRAME_HELO ? read_hello(r->pool, w.data, first, err)
                                : read_fail(w.data, err);
    free(w.data);
    if (rc != 0)
        kill_runner(r);
    return rc;
}

/* ---- the proxy's handler ----------------------------------------------- */

static int ensure_running(runner *r, jx_output *out)
{
    jx_error err = {0, ""};

    if (r->pid > 0)
        return 0;
    if (start(r, 0, &err) == 0)
        return 0;
    if (asprintf(&out->error, "the runner could not be restarted: %s",
                 err.message) < 0)
        out->error = NULL;
    return -1;
}

/* The step and the context around it, as the runner reads them (see
 * read_request in runner_main.c).  Type and target go raw: the displayed
 * copies (type_json, target_json) may be redacted, the handler's may
 * not. */
static int build_exec(jx__buf *b, const jx_context *ctx, const jx__step *st,
                      int cancelled)
{
    const jx_plan *plan = ctx->plan;
    int64_t left = (int64_t)((ctx->deadline - jx__monotonic()) * 1000.0);
    int rc = jx__buf_puts(b, cancelled ? "{\"cancelled\":true,\"time_left_ms\":"
                                       : "{\"time_left_ms\":") ||
             jx__buf_put_i64(b, left > 0 ? left : 0) ||
             jx__buf_puts(b, ",\"started_at\":") ||
             jx__buf_put_json_string(b, ctx->started_at) ||
             jx__buf_puts(b, ",\"plan\":{\"job_id\":\"") ||
             jx__buf_puts(b, plan->job_id) ||
             jx__buf_puts(b, "\",\"contract_id\":\"") ||
             jx__buf_puts(b, plan->contract_id) ||
             jx__buf_puts(b, "\",\"executed_by\":") ||
             jx__buf_put_json_string(b, plan->executed_by) ||
             jx__buf_puts(b, ",\"tenant_id\":") ||
             jx__buf_put_json_string(b, plan->tenant_id) ||
             jx__buf_puts(b, ",\"steps\":[{\"step_index\":") ||
             jx__buf_put_i64(b, st->index) ||
             jx__buf_puts(b, ",\"step_type\":") ||
             jx__buf_put_json_string(b, st->type) ||
             jx__buf_puts(b, ",\"target\":") ||
             jx__buf_put_json_string(b, st->target) ||
             jx__buf_puts(b, ",\"timeout_seconds\":") ||
             jx__buf_put_i64(b, st->timeout_seconds) ||
             jx__buf_puts(b, ",\"parameters\":") ||
             jx__buf_puts(b, st->params_json) || jx__buf_puts(b, "}]}}");
    return rc ? -1 : 0;
}

/* Mirrors the handler's DONE into out, as if it had run here.  A DONE
 * that is not what a runner sends means the runner is not sane any more:
 * it is replaced. */
static int read_done(runner *r, const char *data, jx_output *out)
{
    json_t *v = json_loads(data, 0, NULL);
    json_t *output = json_object_get(v, "output");
    const char *error = json_string_value(json_object_get(v, "error"));
    json_t *jrc = json_object_get(v, "rc");
    int rc;

    if (!json_is_integer(jrc) || (output != NULL && !json_is_object(output) &&
                                  !json_is_null(output))) {
        json_decref(v);
        kill_runner(r);
        if (asprintf(&out->error, "protocol error: malformed DONE") < 0)
            out->error = NULL;
        return JX_STEP_FAILED;
    }
    rc = (int)json_integer_value(jrc);
    if (json_is_object(output))
        jx__output_set(out, json_incref(output));
    if (error != NULL && (out->error = strdup(error)) == NULL)
        out->failed_alloc = 1;
    out->failed_alloc |= json_is_true(json_object_get(v, "failed_alloc"));
    out->not_utf8 |= json_is_true(json_object_get(v, "not_utf8"));
    json_decref(v);
    return rc;
}

/* ---- the pool ----------------------------------------------------------- */

static runner *runner_new(pool *p)
{
    runner *r = calloc(1, sizeof *r);

    if (r != NULL) {
        r->pool = p;
        r->chan = r->err_fd = -1;
    }
    return r;
}

/* An idle runner (one whose process is up, if any is), or a new one
 * while the pool has room; NULL when there is none free (the caller
 * waits) or no memory (*oom set).  Under p->lock. */
static runner *idle_runner(pool *p, int *oom)
{
    runner *r = NULL;

    for (size_t i = 0; i < p->n_runners; i++)
        if (!p->runners[i]->busy && (r == NULL || p->runners[i]->pid > 0))
            r = p->runners[i];
    if (r == NULL && p->n_runners < p->limits.max_per_plugin) {
        if ((r = runner_new(p)) == NULL)
            *oom = 1;
        else
            p->runners[p->n_runners++] = r;
    }
    return r;
}

/* Takes a runner for one call, waiting while all are busy: until one is
 * given back, the deadline passes (monotonic seconds; 0: none) or the job
 * is cancelled.  NULL with *why ("timed out", "cancelled", "out of
 * memory") when none came. */
static runner *take_runner(pool *p, double deadline,
                           const atomic_int *cancelled, const char **why)
{
    runner *r = NULL;
    int oom = 0;

    pthread_mutex_lock(&p->lock);
    while ((r = idle_runner(p, &oom)) == NULL && !oom) {
        struct timespec until;
        double now = jx__monotonic(), wake = now + 0.05;

        if (cancelled != NULL && atomic_load(cancelled)) {
            *why = "cancelled";
            break;
        }
        if (deadline > 0 && now >= deadline) {
            *why = "timed out";
            break;
        }
        /* Given-back wakes the wait; the pauses are for the cancel flag
         * and the deadline, which nothing signals. */
        if (deadline > 0 && deadline < wake)
            wake = deadline;
        until.tv_sec = (time_t)wake;
        until.tv_nsec = (long)((wake - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->given_back, &p->lock, &until);
    }
    if (r != NULL)
        r->busy = 1;
    else if (oom)
        *why = "out of memory";
    pthread_mutex_unlock(&p->lock);
    return r;
}

static void give_back(pool *p, runner *r)
{
    pthread_mutex_lock(&p->lock);
    r->busy = 0;
    pthread_cond_signal(&p->given_back);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the proxy's handler ----------------------------------------------- */

/* One step on runner r, which the caller has taken. */
static int execute_on(runner *r, const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    waiting w = {.r = r, .ctx = ctx, .cancel_fd = ctx->cancel_fd,
                 .want = JX_FRAME_DONE, .deadline = ctx->deadline};
    jx__buf req = {0};
    /* Read once: the request and the wait must agree on it. */
    int cancelled = ctx->cancelled != NULL && atomic_load(ctx->cancelled);
    int rc;

    w.want_max = (size_t)r->pool->limits.max_output_bytes;
    if (ensure_running(r, out) != 0)
        return JX_STEP_FAILED;
    if (build_exec(&req, ctx, step->step, cancelled) != 0) {
        jx__buf_free(&req);
        out->failed_alloc = 1;
        return JX_STEP_FAILED;
    }
    /* Already cancelled: the request says so itself; only the grace
     * runs. */
    if (cancelled) {
        w.cancelled = 1;
        w.deadline = jx__monotonic() +
                     (double)r->pool->limits.kill_grace_ms / 1e3;
    }
    drop_stderr(r);
    rc = jx__frame_write(r->chan, JX_FRAME_EXEC, req.data, req.len);
    jx__buf_free(&req);
    if (rc != 0) {
        describe_exit(r, w.why, sizeof w.why);
        rc = -1;
    } else {
        rc = wait_for(&w);
    }
    out->stderr_text = take_stderr(r, &out->stderr_dropped);
    if (rc == 0) {
        rc = read_done(r, w.data, out);
        free(w.data);
        if (w.cancelled && rc != JX_STEP_OK) {
            free(out->error);
            out->error = strdup("cancelled");
        }
        return rc;
    }
    free(out->error);
    if (w.timed_out)
        rc = asprintf(&out->error, "timed out after %" PRId64 " s",
                      step->step->timeout_seconds);
    else
        rc = asprintf(&out->error, "%s", w.why);
    if (rc < 0)
        out->error = NULL;
    return JX_STEP_FAILED;
}

static int proxy_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    pool *p = state;
    const char *why = "";
    runner *r = take_runner(p, ctx->deadline, ctx->cancelled, &why);
    int rc;

    (void)host;
    if (r == NULL) {
        /* Waiting for a free runner counts against the step's time. */
        if (strcmp(why, "timed out") == 0)
            rc = asprintf(&out->error, "timed out after %" PRId64
                          " s (waiting for a free runner)",
                          step->step->timeout_seconds);
        else
            rc = asprintf(&out->error, "%s", why);
        if (rc < 0)
            out->error = NULL;
        return JX_STEP_FAILED;
    }
    rc = execute_on(r, ctx, step, out);
    give_back(p, r);
    return rc;
}

/* validate on runner r, which the caller has taken. */
static int validate_on(runner *r, const jx_step *step, char *why,
                       size_t why_len)
{
    jx_context ctx = {0};
    waiting w = {.r = r, .cancel_fd = -1, .want = JX_FRAME_VRES,
                 .want_max = SMALL_FRAME};
    jx_output out = {0};
    jx__buf req = {0};
    json_t *v;
    int rc;

    if (ensure_running(r, &out) != 0) {
        snprintf(why, why_len, "%s", out.error ? out.error : "out of memory");
        free(out.error);
        return -1;
    }
    /* validate sees no job: a context with the step's own plan fields. */
    ctx.plan = step->plan;
    ctx.started_at = "";
    ctx.deadline = jx__monotonic() + START_TIMEOUT_S;
    w.deadline = ctx.deadline;
    if (build_exec(&req, &ctx, step->step, 0) != 0 ||
        jx__frame_write(r->chan, JX_FRAME_VALI, req.data, req.len) != 0) {
        jx__buf_free(&req);
        snprintf(why, why_len, "the runner did not take the step");
        kill_runner(r);
        return -1;
    }
    jx__buf_free(&req);
    rc = wait_for(&w);
    drop_stderr(r); /* validate has nowhere to show it */
    if (rc != 0) {
        snprintf(why, why_len, "%s", w.timed_out ? "validate timed out"
                                                 : w.why);
        return -1;
    }
    v = json_loads(w.data, 0, NULL);
    free(w.data);
    rc = json_is_true(json_object_get(v, "ok")) ? 0 : -1;
    if (rc != 0)
        snprintf(why, why_len, "%s",
                 json_string_value(json_object_get(v, "why"))
                     ? json_string_value(json_object_get(v, "why"))
                     : "");
    json_decref(v);
    return rc;
}

static int proxy_validate(void *state, const jx_host_v1 *host,
                          const jx_step *step, char *why, size_t why_len)
{
    pool *p = state;
    const char *failed = "";
    runner *r;
    int rc;

    (void)host;
    if (!p->has_validate)
        return 0;
    if ((r = take_runner(p, jx__monotonic() + START_TIMEOUT_S, NULL,
                         &failed)) == NULL) {
        snprintf(why, why_len, "validate %s (waiting for a free runner)",
                 failed);
        return -1;
    }
    rc = validate_on(r, step, why, why_len);
    give_back(p, r);
    return rc;
}

/* fini runs in the runner: ask it to finish, then make sure it has. */
static void runner_end(runner *r)
{
    int status;

    if (r == NULL)
        return;
    if (r->pid > 0 && jx__frame_write(r->chan, JX_FRAME_QUIT, "", 0) == 0 &&
        reap_within(r->pid, (long)(FINI_TIMEOUT_S * 1000), &status)) {
        kill(-r->pid, SIGKILL);
        close_process(r);
    }
    kill_runner(r);
    jx__buf_free(&r->err_text);
    free(r);
}

static void pool_free(pool *p)
{
    for (size_t i = 0; p->runners != NULL && i < p->n_runners; i++)
        runner_end(p->runners[i]);
    free(p->runners);
    free(p->program);
    free(p->load);
    free(p->cgroup_parent);
    free(p->name);
    free(p->version);
    for (size_t i = 0; p->types != NULL && p->types[i] != NULL; i++)
        free(p->types[i]);
    free(p->types);
    pthread_cond_destroy(&p->given_back);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void proxy_fini(void *state)
{
    pool_free(state);
}

/* ---- opening ----------------------------------------------------------- */

static int resolve_user(pool *p, const jx__runner_conf *c, jx_error *err)
{
    const char *user = c->user != NULL ? c->user : "nobody";
    const char *group = c->group != NULL ? c->group : "nogroup";
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0)
        return 0; /* nothing to give up */
    if ((pw = getpwnam(user)) == NULL)
        return jx__fail(err, JX_ECONFIG, "runner.user '%s' does not exist",
                        user);
    if ((gr = getgrnam(group)) == NULL)
        return jx__fail(err, JX_ECONFIG, "runner.group '%s' does not exist",
                        group);
    if (pw->pw_uid == 0 || gr->gr_gid == 0)
        return jx__fail(err, JX_ECONFIG, "isolated plugins never run as "
                                         "root: runner.user and runner.group "
                                         "must be unprivileged");
    p->drop = 1;
    p->uid = pw->pw_uid;
    p->gid = gr->gr_gid;
    return 0;
}

static char *load_payload(const pool *p, const jx__plugin_conf *pc,
                          const jx_config *cfg)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:O, s:s, s:i, s:i, s:{s:I, s:I, s:I}, s:b, s:I, s:I}",
        "path", pc->path, "written", pc->path_written, "config", pc->config,
        "config_name", cfg->name, "line", (int)pc->line, "col", (int)pc->col,
        "limits", "address_space_mb",
        (json_int_t)p->limits.max_address_space_mb, "cpu_seconds",
        (json_int_t)p->limits.max_cpu_seconds, "open_files",
        (json_int_t)p->limits.max_open_files, "drop", p->drop, "uid",
        (json_int_t)p->uid, "gid", (json_int_t)p->gid);
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

    json_decref(v);
    return text;
}

/* Prefixes err's message with the plugin's place in the config. */
static int at_plugin(jx_error *err, int code, const jx_config *cfg,
                     const jx__plugin_conf *pc)
{
    char why[JX_ERROR_MESSAGE_SIZE];

    if (err == NULL)
        return code;
    /* Messages from the runner's loader already name the place. */
    if (strncmp(err->message, cfg->name, strlen(cfg->name)) == 0)
        return err->code = code;
    snprintf(why, sizeof why, "%s", err->message);
    return jx__fail(err, code, "%s:%u:%u: plugin '%s': %s", cfg->name,
                    pc->line, pc->col, pc->path, why);
}

/* A pool for the plugin, without runners; NULL when out of memory. */
static pool *pool_new(const jx__plugin_conf *pc, const jx_config *cfg)
{
    pool *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;

    if (p == NULL)
        return NULL;
    p->limits = cfg->runner;
    p->limits.path = p->limits.user = p->limits.group = NULL;
    if (pc->runners != 0)
        p->limits.max_per_plugin = pc->runners;
    pthread_mutex_init(&p->lock, NULL);
    /* take_runner's timed waits are on the monotonic clock. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->given_back, &ca);
    pthread_condattr_destroy(&ca);
    p->program = strdup(cfg->runner.path ? cfg->runner.path : JX_RUNNER);
    p->runners = calloc((size_t)p->limits.max_per_plugin, sizeof *p->runners);
    if (p->program == NULL || p->runners == NULL) {
        pool_free(p);
        return NULL;
    }
    return p;
}

int jx__isolate_open(const jx__plugin_conf *pc, const jx_config *cfg,
                     jx__plugin **out, jx_error *err)
{
    pool *p;
    runner *first;
    int rc;

    *out = NULL;
    if ((rc = jx__plugin_check_path(pc, cfg->name, err)) != 0)
        return rc;
    /* The runner is told them in JSON, which carries only UTF-8. */
    if (!jx__utf8_valid(cfg->name) || !jx__utf8_valid(pc->path) ||
        !jx__utf8_valid(pc->path_written))
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: plugin '%s': an isolated plugin needs a "
                        "plugin path and config file name that are valid "
                        "UTF-8",
                        cfg->name, pc->line, pc->col, pc->path_written);
    if ((p = pool_new(pc, cfg)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if ((rc = resolve_user(p, &cfg->runner, err)) != 0) {
        pool_free(p);
        return at_plugin(err, rc, cfg, pc);
    }
    if ((p->load = load_payload(p, pc, cfg)) == NULL ||
        (first = runner_new(p)) == NULL) {
        pool_free(p);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    p->runners[p->n_runners++] = first;
    p->cgroup_parent = find_cgroup_parent();
    /* The first runner tells what the plugin is; more start on demand. */
    if ((rc = start(first, 1, err)) != 0) {
        pool_free(p);
        return at_plugin(err, rc, cfg, pc);
    }
    p->desc = (step_handler_v1){
        .magic = JX_STEP_HANDLER_MAGIC,
        .abi_version = JX_ABI_VERSION,
        .struct_size = sizeof(step_handler_v1),
        .name = p->name,
        .version = p->version,
        .step_types = (const char *const *)p->types,
        .flags = 0, /* one step at a time per runner */
        .execute = proxy_execute,
        .validate = proxy_validate,
        .fini = proxy_fini,
    };
    if ((rc = jx__plugin_proxy(pc, &p->desc, p, out, err)) != 0)
        pool_free(p);
    return rc;
}
