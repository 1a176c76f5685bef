/*
 * process.c - a runner process: started with posix_spawn (safe in a
 * threaded worker) in its own process group, with the channel socket as
 * fd 3, stderr to a pipe the core drains, stdin and stdout on /dev/null,
 * and nothing else open; reaped, killed with its whole group (and cgroup),
 * and its stderr kept, bounded, for the step's evidence.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "isolate/cgroup.h"
#include "isolate/runner.h"

static void cgroup_end(jx__runner *r)
{
    if (r->cgroup == NULL)
        return;
    jx__cgroup_remove(r->cgroup);
    free(r->cgroup);
    r->cgroup = NULL;
}

/* A pidfd wakes the wait the moment the runner exits; without one (old
 * kernels), the wait polls. */
int jx__runner_reap_within(pid_t pid, long ms, int *status)
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
            jx__sleep_ms(2);
            waited += 2;
        }
    }
}

/* After the runner is gone: what it started in its group gets SIGTERM,
 * the grace to finish, then SIGKILL. */
void jx__runner_end_group(pid_t pgid, long grace_ms)
{
    if (kill(-pgid, SIGTERM) != 0)
        return; /* nobody left */
    for (long waited = 0; waited < grace_ms && kill(-pgid, 0) == 0;
         waited += 5)
        jx__sleep_ms(5);
    kill(-pgid, SIGKILL);
}

void jx__runner_close(jx__runner *r)
{
    if (r->chan >= 0)
        close(r->chan);
    /* What a dying runner wrote last (a sanitizer's report, say) is still
     * in the pipe: keep it for the step's evidence. */
    jx__runner_drain_stderr(r);
    if (r->err_fd >= 0)
        close(r->err_fd);
    r->chan = r->err_fd = -1;
    r->pid = 0;
    cgroup_end(r);
}

/* SIGTERM to the whole group, a grace, then SIGKILL: nothing the plugin
 * started survives the step (in the cgroup, not even setsid children). */
void jx__runner_kill(jx__runner *r)
{
    int status = 0;

    if (r->pid <= 0)
        return;
    kill(-r->pid, SIGTERM);
    if (!jx__runner_reap_within(r->pid, (long)r->pool->limits.kill_grace_ms,
                                &status)) {
        kill(-r->pid, SIGKILL);
        if (r->cgroup != NULL)
            jx__cgroup_write(r->cgroup, "cgroup.kill", "1");
        while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
            ;
    } else {
        kill(-r->pid, SIGKILL); /* what is left of the group */
    }
    jx__runner_close(r);
}

int jx__runner_spawn(jx__runner *r, jx_error *err)
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
    r->cgroup = jx__cgroup_make(r->pool->cgroup_parent, r, ++r->serial);
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
    r->steps = 0;
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
    if (r->cgroup != NULL) {
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)r->pid);
        if (jx__cgroup_write(r->cgroup, "cgroup.procs", pid) != 0)
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

/* Reads what the runner wrote to stderr, keeping the first
 * max_stderr_bytes of the step and counting the rest. */
void jx__runner_drain_stderr(jx__runner *r)
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
char *jx__runner_take_stderr(jx__runner *r, size_t *dropped)
{
    char *text = NULL;

    jx__runner_drain_stderr(r);
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
void jx__runner_drop_stderr(jx__runner *r)
{
    jx__runner_drain_stderr(r);
    r->err_text.len = 0;
    r->err_dropped = 0;
}

