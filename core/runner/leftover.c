/*
 * leftover.c - what a step left running is killed after the step.
 *
 * The runner is a child subreaper (PR_SET_CHILD_SUBREAPER): a process
 * orphaned anywhere below it is re-parented to the runner, not to init.
 * So every live process a plugin started, double-forked, setsid() or
 * setpgid() ones included, is a descendant of the runner through its own
 * children, and the runner having no child at all means none is left.
 * That holds with or without a cgroup, and as whatever user the runner
 * runs as: its descendants are that user's too.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/leftover.h"

/* A fork loop can keep adding children while they are killed; each round
 * kills all there are, and this many rounds outlast any real plugin. */
#define MAX_ROUNDS 1000

int jx__runner_adopt_orphans(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* The runner's children found in one round (SIGKILL sent to each). */
typedef struct kids {
    pid_t *pid;
    size_t n, cap;
} kids;

/* SIGKILL to pid, a child of the runner, remembered to be reaped; 0, or
 * -1 when out of memory (it is killed anyway). */
static int kill_kid(kids *k, pid_t pid)
{
    if (kill(pid, SIGKILL) != 0)
        return 0;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        pid_t *grown = realloc(k->pid, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        k->pid = grown;
        k->cap = cap;
    }
    k->pid[k->n++] = pid;
    return 0;
}

/* Every child listed in one task's "children" file (a child belongs to
 * the thread that forked it).  -1 when the file cannot be read. */
static int kill_children_of(kids *k, const char *tid)
{
    char path[320];
    FILE *fp;
    long pid;

    snprintf(path, sizeof path, "/proc/self/task/%s/children", tid);
    if ((fp = fopen(path, "re")) == NULL)
        return -1;
    while (fscanf(fp, "%ld", &pid) == 1)
        if (pid > 0)
            kill_kid(k, (pid_t)pid);
    fclose(fp);
    return 0;
}

/* Without /proc/PID/task/TID/children (a kernel without
 * CONFIG_PROC_CHILDREN), every process's parent is read instead. */
static void kill_children_by_scan(kids *k)
{
    DIR *d = opendir("/proc");
    const struct dirent *e;
    char path[64];
    long self = (long)getpid();

    while (d != NULL && (e = readdir(d)) != NULL) {
        char line[1024];
        const char *end;
        long pid, ppid;
        FILE *fp;
        int ok;

        if ((pid = strtol(e->d_name, NULL, 10)) <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if ((fp = fopen(path, "re")) == NULL)
            continue;
        /* "pid (comm) state ppid ...": comm may hold spaces and
         * parentheses, so ppid is read after its last ')'. */
        ok = fgets(line, sizeof line, fp) != NULL &&
             (end = strrchr(line, ')')) != NULL &&
             sscanf(end + 1, " %*c %ld", &ppid) == 1;
        fclose(fp);
        if (ok && ppid == self)
            kill_kid(k, (pid_t)pid);
    }
    if (d != NULL)
        closedir(d);
}

/* SIGKILL to every child of the runner, each remembered in k. */
static void kill_children(kids *k)
{
    DIR *d = opendir("/proc/self/task");
    const struct dirent *e;

    if (d == NULL) {
        kill_children_by_scan(k);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && kill_children_of(k, e->d_name) != 0) {
            k->n = 0; /* killed again, counted once, by the scan */
            kill_children_by_scan(k);
            break;
        }
    closedir(d);
}

/* Reaps children that have exited.  1 while live children remain, 0 when
 * there are none. */
static int have_live_children(void)
{
    pid_t pid;

    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0 ||
           (pid < 0 && errno == EINTR))
        ;
    return pid == 0;
}

unsigned jx__runner_kill_leftovers(void)
{
    unsigned killed = 0;
    kids k = {NULL, 0, 0};

    /* Every step pays one waitpid that finds no child at all. */
    for (int round = 0; round < MAX_ROUNDS && have_live_children();
         round++) {
        k.n = 0;
        kill_children(&k);
        /* Each is reaped before the next round looks again, so none is
         * counted twice; their own children are the runner's now. */
        for (size_t i = 0; i < k.n; i++)
            while (waitpid(k.pid[i], NULL, 0) < 0 && errno == EINTR)
                ;
        killed += (unsigned)k.n;
        if (k.n == 0)
            usleep(1000); /* a child not listed yet, or just gone */
    }
    free(k.pid);
    return killed;
}
