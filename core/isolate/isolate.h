/*
 * isolate.h - plugins that run in a jobexec-runner process.
 */
#ifndef JX__ISOLATE_ISOLATE_H
#define JX__ISOLATE_ISOLATE_H

#include "input/config_file.h"
#include "plugin/loader.h"

/*
 * Checks the plugin file as jx__plugin_open would, starts a runner that
 * opens and initialises the plugin itself, and returns a plugin whose
 * handler is a proxy to it.  Start-up errors read like in-process ones
 * ("CONFIG:LINE:COL: plugin 'PATH': ...").  The runner stays warm between
 * steps and jobs and is replaced after any failure; when the plugin's
 * runners (or runner.max_per_plugin) is above 1, more runners start as
 * steps from other threads need them.
 */
int jx__isolate_open(const jx__plugin_conf *pc, const jx_config *cfg,
                     jx__plugin **out, jx_error *err);

/*
 * Removes the runner cgroups (and kills what is left in them) of workers
 * that are no longer running: one killed outright leaves its runners'
 * folders behind, with any process that escaped its runner's process
 * group.  Folders are told apart by the PID in their name, so this assumes
 * the workers sharing a cgroup share a PID namespace too.
 */
void jx__isolate_sweep_cgroups(void);

#endif
