/*
 * cgroup.h - a cgroup v2 folder per runner, where the machine has a
 * writable unified hierarchy: processes that leave the runner's process
 * group (setsid) are still found and killed.
 */
#ifndef JX__ISOLATE_CGROUP_H
#define JX__ISOLATE_CGROUP_H

/* The cgroup v2 folder of this process, if the unified hierarchy is
 * mounted and writable (malloc'd), else NULL: runner cgroups are made
 * below it. */
char *jx__cgroup_parent(void);

/* Makes PARENT/jobexec-PID-TAG-SERIAL (mode 0700) and returns its path,
 * malloc'd; NULL when it cannot. */
char *jx__cgroup_make(const char *parent, const void *tag, unsigned serial);

/* Writes text to dir/file; 0 or -1. */
int jx__cgroup_write(const char *dir, const char *file, const char *text);

/* Kills everything in a runner cgroup and removes the folder. */
void jx__cgroup_remove(const char *dir);

#endif
