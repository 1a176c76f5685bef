/*
 * cgroup.h - a cgroup v2 folder per runner, where the machine has a
 * writable unified hierarchy: processes that leave the runner's process
 * group (setsid) are still found and killed.
 */
#ifndef JX__ISOLATE_CGROUP_H
#define JX__ISOLATE_CGROUP_H

#include <sys/types.h>

/* The cgroup v2 folder of this process, if the unified hierarchy is
 * mounted and writable (malloc'd), else NULL: runner cgroups are made
 * below it. */
char *jx__cgroup_parent(void);

/* Makes PARENT/jobexec-PID-TAG-SERIAL (mode 0700) and returns its path,
 * malloc'd; NULL when it cannot. */
char *jx__cgroup_make(const char *parent, const void *tag, unsigned serial);

/* Writes text to dir/file; 0 or -1. */
int jx__cgroup_write(const char *dir, const char *file, const char *text);

/* SIGKILL to every process in the runner cgroup dir but the runner
 * itself (keep), waiting for each to die; how many there were.  The
 * runner kills its own descendants after each step; this finds what
 * escaped it (a plugin that gave up the runner's subreaper role, say). */
unsigned jx__cgroup_kill_others(const char *dir, pid_t keep);

/* Kills everything in a runner cgroup and removes the folder. */
void jx__cgroup_remove(const char *dir);

#endif
