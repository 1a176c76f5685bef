/*
 * cgroup.c - runner cgroups: made, filled, killed, removed, and those a
 * dead worker left behind swept.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "isolate/cgroup.h"
#include "isolate/isolate.h"

char *jx__cgroup_parent(void)
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

char *jx__cgroup_make(const char *parent, const void *tag, unsigned serial)
{
    char *dir;

    if (parent == NULL || asprintf(&dir, "%s/jobexec-%ld-%p-%u", parent,
                                   (long)getpid(), tag, serial) < 0)
        return NULL;
    if (mkdir(dir, 0700) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

int jx__cgroup_write(const char *dir, const char *file, const char *text)
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

/* Whether process pid is in the cgroup whose folder is dir: /proc/PID/
 * cgroup's "0::/path" is dir's tail. */
static int in_cgroup(pid_t pid, const char *dir)
{
    char path[64], line[4096];
    size_t dlen = strlen(dir), len;
    FILE *fp;
    int in = 0;

    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)pid);
    if ((fp = fopen(path, "re")) == NULL)
        return 0;
    while (!in && fgets(line, sizeof line, fp) != NULL) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        len = strlen(line + 3);
        in = len > 1 && len <= dlen &&
             strcmp(dir + dlen - len, line + 3) == 0;
    }
    fclose(fp);
    return in;
}

/* SIGKILL to pid if it is still in dir's cgroup, then waits (up to 1 s)
 * for it to die.  The pidfd pins the process: a pid reused after
 * cgroup.procs was read is not in the cgroup, and is left alone.  1 when
 * it was killed. */
static int kill_member(pid_t pid, const char *dir)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd p;
    int killed;

    if (fd < 0)
        return 0; /* gone already */
    killed = in_cgroup(pid, dir) &&
             syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0;
    if (killed) {
        p = (struct pollfd){fd, POLLIN, 0};
        poll(&p, 1, 1000);
    }
    close(fd);
    return killed;
}

unsigned jx__cgroup_kill_others(const char *dir, pid_t keep)
{
    char path[4096];
    unsigned killed = 0;

    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    /* A fork loop adds members while they are killed: a few rounds. */
    for (int round = 0; round < 100; round++) {
        FILE *fp = fopen(path, "re");
        unsigned before = killed;
        long pid;

        if (fp == NULL)
            break;
        while (fscanf(fp, "%ld", &pid) == 1)
            if (pid > 0 && (pid_t)pid != keep)
                killed += (unsigned)kill_member((pid_t)pid, dir);
        fclose(fp);
        if (killed == before)
            break;
    }
    return killed;
}

void jx__cgroup_remove(const char *dir)
{
    jx__cgroup_write(dir, "cgroup.kill", "1");
    /* cgroup.kill is asynchronous: the folder empties within moments. */
    for (int i = 0; i < 200 && rmdir(dir) != 0 && errno == EBUSY; i++)
        jx__sleep_ms(5);
}

void jx__isolate_sweep_cgroups(void)
{
    char *parent = jx__cgroup_parent();
    DIR *d = parent != NULL ? opendir(parent) : NULL;
    const struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        long pid;
        int end = 0;
        char *dir;

        /* jobexec-PID-..., as jx__cgroup_make names them. */
        if (sscanf(e->d_name, "jobexec-%ld-%n", &pid, &end) != 1 ||
            end == 0 || pid <= 0 || pid == (long)getpid())
            continue;
        /* EPERM: alive, another user's. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (asprintf(&dir, "%s/%s", parent, e->d_name) >= 0) {
            jx__cgroup_remove(dir);
            free(dir);
        }
    }
    if (d != NULL)
        closedir(d);
    free(parent);
}
