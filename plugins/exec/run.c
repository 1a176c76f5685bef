/*
 * run.c - running a command: posix_spawn (safe in a threaded worker) into
 * a process group of its own, stdin fed and stdout/stderr read through
 * pipes, bounded, while the step's deadline and the job's cancellation
 * are watched.  When either comes, or the command exits, its whole group
 * gets SIGTERM, the grace, then SIGKILL: nothing it started outlives the
 * step.
 */
#define _GNU_SOURCE /* asprintf, sigabbrev_np, posix_spawn_*_np */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"

/* How often a wait looks at the cancellation flag, which (in-process) no
 * file descriptor announces. */
#define TICK_MS 20
/* Of the step's time, what the plugin keeps to kill the command and
 * report before the host's deadline passes (and, isolated, the runner is
 * killed with the command left running). */
#define REPORT_MARGIN_MS 250

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct stream {
    int fd;           /* -1 once closed */
    char *data;
    size_t len, max;
    int truncated;
} stream;

/* Reads what is there, keeping max bytes and dropping the rest, so that a
 * chatty command never blocks on a full pipe. */
static void drain(stream *s)
{
    char buf[8192];

    while (s->fd >= 0) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(s->fd);
            s->fd = -1;
            return;
        }
        size_t keep = s->max > s->len ? s->max - s->len : 0;
        if (keep > (size_t)n)
            keep = (size_t)n;
        if (keep < (size_t)n)
            s->truncated = 1;
        if (keep > 0) {
            memcpy(s->data + s->len, buf, keep);
            s->len += keep;
        }
    }
}

/* Feeds stdin without blocking; closes it when all is written (or the
 * command stopped reading). */
static void feed(int *fd, const char *data, size_t len, size_t *done)
{
    while (*fd >= 0 && *done < len) {
        ssize_t n = write(*fd, data + *done, len - *done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0)
            break; /* EPIPE: it closed its stdin */
        *done += (size_t)n;
    }
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Whether the command has exited, without reaping it: while its zombie
 * stands, its pid (and so its process group's id) cannot be reused, and
 * the group can still be signalled safely. */
static int has_exited(pid_t pid)
{
    siginfo_t si;

    si.si_pid = 0;
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == pid;
}

/* Ends the command's process group and reaps the command.  Still running
 * (a timeout, a cancellation): SIGTERM, up to grace_ms for it to exit,
 * then SIGKILL to whatever is left.  Exited: SIGKILL to what it left
 * behind in its group. */
static void end_group(pid_t pid, int exited, long grace_ms, int *status)
{
    if (!exited) {
        kill(-pid, SIGTERM);
        for (long waited = 0; waited < grace_ms && !has_exited(pid);
             waited += 10) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* The grace left for a command that ran out of time: no more than the
 * step's own time allows, so the report is made before the deadline. */
static long grace_for(const exec_config *cfg, const jx_host_v1 *host,
                      const jx_context *ctx, int timed_out)
{
    int64_t left = host->ctx_time_left_ms(ctx) - REPORT_MARGIN_MS;

    if (!timed_out || left >= cfg->kill_grace_ms)
        return cfg->kill_grace_ms;
    return left > 0 ? (long)left : 0;
}

static int spawn(const exec_request *req, int in_fd, int out_fd, int err_fd,
                 pid_t *pid, char *why, size_t why_len)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;

    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    /* Nothing else of the executor's (or the runner's fd 3). */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (req->cwd != NULL)
        posix_spawn_file_actions_addchdir_np(&fa, req->cwd);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, req->argv[0], &fa, &at, req->argv, req->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        exec_why(why, why_len, "cannot run '%s'%s%s: %s", req->argv[0],
                 req->cwd != NULL ? " in " : "",
                 req->cwd != NULL ? req->cwd : "", strerror(rc));
        return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int exec_run(const exec_config *cfg, const jx_host_v1 *host,
             const jx_context *ctx, const exec_request *req,
             exec_result *res, char *why, size_t why_len)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    stream so = {-1, NULL, 0, cfg->max_output_bytes, 0};
    stream se = {-1, NULL, 0, cfg->max_output_bytes, 0};
    double t0 = now_s(), deadline;
    int64_t left = host->ctx_time_left_ms(ctx);
    size_t fed = 0;
    int status = 0, exited = 0, pidfd;
    pid_t pid;

    memset(res, 0, sizeof *res);
    /* Leave time to kill it and report before the host's deadline: half
     * the step's time at least. */
    deadline = t0 + (double)(left - cfg->kill_grace_ms - REPORT_MARGIN_MS) /
                        1e3;
    if (deadline < t0 + (double)left / 2e3)
        deadline = t0 + (double)left / 2e3;
    if ((so.data = malloc(so.max + 1)) == NULL ||
        (se.data = malloc(se.max + 1)) == NULL ||
        /* Close-on-exec everywhere: the child's ends are dup2'ed, which
         * clears it, and no other command inherits them. */
        pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        (req->input != NULL && pipe2(in, O_CLOEXEC) != 0)) {
        exec_why(why, why_len, "cannot set up the command: %s",
                 strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    if (spawn(req, in[0], out[1], err[1], &pid, why, why_len) != 0)
        goto fail;
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    so.fd = out[0];
    se.fd = err[0];
    fcntl(so.fd, F_SETFL, O_NONBLOCK);
    fcntl(se.fd, F_SETFL, O_NONBLOCK);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

    while (!exited) {
        struct pollfd p[4] = {{so.fd, POLLIN, 0}, {se.fd, POLLIN, 0},
                              {in[1], POLLOUT, 0}, {pidfd, POLLIN, 0}};
        if (host->ctx_cancelled(ctx)) {
            res->cancelled = 1;
            break;
        }
        if (now_s() >= deadline) {
            res->timed_out = 1;
            break;
        }
        poll(p, 4, TICK_MS);
        drain(&so);
        drain(&se);
        feed(&in[1], req->input, req->input_len, &fed);
        exited = has_exited(pid);
    }
    /* Exited, timed out or cancelled: nothing of its group stays. */
    end_group(pid, exited, grace_for(cfg, host, ctx, res->timed_out),
              &status);
    drain(&so);
    drain(&se);
    if (pidfd >= 0)
        close(pidfd);
    close_fd(&in[1]);
    close_fd(&so.fd);
    close_fd(&se.fd);
    res->seconds = now_s() - t0;
    res->exited = WIFEXITED(status);
    res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    res->out = so.data;
    res->err = se.data;
    res->out_len = so.len;
    res->err_len = se.len;
    res->out[res->out_len] = res->err[res->err_len] = '\0';
    res->out_truncated = so.truncated;
    res->err_truncated = se.truncated;
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&err[i]);
    }
    free(so.data);
    free(se.data);
    return -1;
}

void exec_result_free(exec_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
