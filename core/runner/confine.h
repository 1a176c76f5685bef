/*
 * confine.h - what the runner does to itself before it opens a plugin.
 */
#ifndef JX__RUNNER_CONFINE_H
#define JX__RUNNER_CONFINE_H

#include "isolate/protocol.h"

/* Resource limits (no core dumps, CPU, open files, address space), the
 * unprivileged user when the LOAD says so, and no_new_privs. */
int jx__runner_confine(const jx__msg_load *load, jx_error *err);

/* Appends to a load failure's message the limits it ran under. */
void jx__runner_limits_hint(const jx__msg_load *load, jx_error *err);

/* Appends to a "Permission denied" refusal who the runner runs as: the
 * core, as another user, could read what the runner cannot. */
void jx__runner_user_hint(jx_error *err);

#endif
