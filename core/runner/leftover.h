/*
 * leftover.h - nothing a step started outlives it: the runner adopts
 * every orphan of its descendants and, after each step, kills whatever
 * descends from it.
 */
#ifndef JX__RUNNER_LEFTOVER_H
#define JX__RUNNER_LEFTOVER_H

/* Makes the runner the reaper of its descendants' orphans, so that a
 * double-forked child is still its own child.  0 or -1 (errno set). */
int jx__runner_adopt_orphans(void);

/* Kills every process that descends from the runner, reaping them and
 * what had already exited.  Returns how many were alive and killed. */
unsigned jx__runner_kill_leftovers(void);

#endif
