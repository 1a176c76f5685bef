/*
 * testutil.c - see testutil.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *dir;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (asprintf(&dir, "%s/jxtest.XXXXXX", base) < 0)
        return NULL;
    if (mkdtemp(dir) == NULL) {
        free(dir);
        return NULL;
    }
    return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rm_rf(const char *dir)
{
    if (dir != NULL)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_write(const char *dir, const char *name, const char *text)
{
    char *path;
    FILE *fp;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    fp = fopen(path, "w");
    if (fp == NULL) {
        free(path);
        return NULL;
    }
    fputs(text, fp);
    fclose(fp);
    chmod(path, 0644);
    return path;
}

char *tu_read(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (fp == NULL)
        return NULL;
    for (;;) {
        size_t n;
        if (len + 4096 + 1 > cap) {
            char *grown;
            cap = cap ? cap * 2 : 8192;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = grown;
        }
        n = fread(buf + len, 1, cap - len - 1, fp);
        len += n;
        if (n == 0)
            break;
    }
    fclose(fp);
    buf[len] = '\0';
    return buf;
}

int tu_copy(const char *from, const char *to, unsigned mode)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out;
    ssize_t n;

    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    close(in);
    close(out);
    return chmod(to, mode);
}

/* Drains both pipes at once so that a child writing a lot to one of them
 * never blocks on the other. */
static void drain(int out_fd, int err_fd, char **out, char **err)
{
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    size_t len[2] = {0, 0}, cap[2] = {0, 0};
    char *buf[2] = {NULL, NULL};
    int open_fds = 2;

    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            char chunk[8192];
            ssize_t n;
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            n = read(fds[i].fd, chunk, sizeof chunk);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (len[i] + (size_t)n + 1 > cap[i]) {
                cap[i] = (len[i] + (size_t)n + 1) * 2;
                buf[i] = realloc(buf[i], cap[i]);
            }
            memcpy(buf[i] + len[i], chunk, (size_t)n);
            len[i] += (size_t)n;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (buf[i] == NULL)
            buf[i] = calloc(1, 1);
        else
            buf[i][len[i]] = '\0';
    }
    *out = buf[0];
    *err = buf[1];
}

void tu_run(tu_proc *p, const char *stdin_text, const char *const *argv)
{
    int in[2], out[2], err[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;

    memset(p, 0, sizeof *p);
    if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) {
        p->status = -1;
        return;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                    environ) != 0) {
        p->status = -1;
        posix_spawn_file_actions_destroy(&fa);
        return;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_text != NULL) {
        signal(SIGPIPE, SIG_IGN);
        if (write(in[1], stdin_text, strlen(stdin_text)) < 0)
            (void)0; /* the child may not read it all */
    }
    close(in[1]);
    drain(out[0], err[0], &p->out, &p->err);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    p->status = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
}

void tu_proc_free(tu_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

size_t tu_count_lines(const char *path)
{
    char *text = tu_read(path);
    size_t n = 0;

    if (text == NULL)
        return 0;
    for (const char *c = text; *c; c++)
        n += *c == '\n';
    free(text);
    return n;
}

/* Whether path starts with "#!": libtool's wrapper does, a binary does not. */
static int is_script(const char *path)
{
    char head[2] = {0, 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (read(fd, head, sizeof head) != (ssize_t)sizeof head)
        head[0] = 0;
    close(fd);
    return head[0] == '#' && head[1] == '!';
}

/* In a shared build, builddir/jobexec is libtool's wrapper: a shell that
 * starts sed and ls four times before it execs .libs/jobexec, about 40 ms
 * a run.  The suites start the CLI a few thousand times, so they exec the
 * binary themselves, with the library path the wrapper would have set.
 * Children inherit that path, as they did from the wrapper. */
const char *tu_jobexec(void)
{
    static const char *path;
    const char *libs = TU_BUILDDIR "/" LT_OBJDIR, *old;
    char *both;

    if (path != NULL)
        return path;
    path = TU_BUILDDIR "/jobexec";
    if (!is_script(path))
        return path;
    old = getenv("LD_LIBRARY_PATH");
    if (old == NULL || *old == '\0')
        setenv("LD_LIBRARY_PATH", libs, 1);
    else if (strncmp(old, libs, strlen(libs)) != 0 &&
             asprintf(&both, "%s:%s", libs, old) >= 0) {
        setenv("LD_LIBRARY_PATH", both, 1);
        free(both);
    }
    path = TU_BUILDDIR "/" LT_OBJDIR "jobexec";
    return path;
}

/* Whether the VmFlags line has the two-letter flag among its words. */
static int has_vmflag(const char *line, const char *flag)
{
    size_t len = strlen(flag);

    for (const char *p = line + 8; (p = strstr(p, flag)) != NULL; p += len)
        if (p[-1] == ' ' && (p[len] == ' ' || p[len] == '\n' ||
                             p[len] == '\0'))
            return 1;
    return 0;
}

int tu_mapping_flag(const void *at, const char *path, const char *flag)
{
    char line[1024];
    FILE *fp = fopen("/proc/self/smaps", "re");
    int in = 0, found = -1;

    if (fp == NULL)
        return -1;
    /* A mapping's lines start with its range (and file), end with its
     * VmFlags; no field line reads as a range. */
    while (fgets(line, sizeof line, fp) != NULL) {
        unsigned long lo, hi;

        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            in = (at != NULL && (uintptr_t)at >= lo && (uintptr_t)at < hi) ||
                 (path != NULL && strstr(line, path) != NULL);
        else if (in && strncmp(line, "VmFlags:", 8) == 0 && found < 1)
            found = has_vmflag(line, flag);
    }
    fclose(fp);
    return found;
}
