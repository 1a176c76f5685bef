/*
 * executor.h - what an executor holds: its plugins, their bindings, the
 * health observer, the evidence log and key, and the jobs running now.
 */
#ifndef JX__RUN_EXECUTOR_H
#define JX__RUN_EXECUTOR_H

#include <pthread.h>

#include "coord/audit.h"
#include "evidence/chain.h"
#include "evidence/seal.h"
#include "plugin/binding.h"
#include "plugin/loader.h"

struct jx__job;

struct jx_executor {
    jx__plugin **plugins;
    size_t n_plugins;
    jx__bindings bindings;
    jx__plugin *observer; /* may be NULL */
    jx__evlog *log;       /* may be NULL */
    jx__signer *signer;   /* may be NULL */
    jx_scope_store *scopes; /* the config's scopes.db; may be NULL */
    jx__audit audit;        /* the audit trail's sinks; may have none */
    int ltdl_held;
    int check_only; /* JX_EXECUTOR_CHECK_ONLY: runs nothing */
    /* Jobs running now, for jx_executor_cancel() (run/cancel.c). */
    pthread_mutex_t running_lock;
    struct jx__job *running;
    /* Cancels of jobs that had not started (jx_executor_cancel_ahead()),
     * each used up when its job starts; under running_lock, at most
     * JX_CANCEL_AHEAD_MAX. */
    char (*ahead)[JX__UUID_LEN + 1];
    size_t n_ahead;
};

#endif
