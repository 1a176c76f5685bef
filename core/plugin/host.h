/*
 * host.h - the views lent to plugins and the host services table behind
 * them.  A view wraps core data read-only; anything a plugin asks to be
 * formatted (JSON of one parameter, say) lives in the view's scratch list
 * and is freed when the call returns.
 */
#ifndef JX__PLUGIN_HOST_H
#define JX__PLUGIN_HOST_H

#include <jansson.h>
#include <stdatomic.h>

#include "base/common.h"
#include "base/jsonbuf.h"
#include "plugin/output.h"
#include "input/plan.h"

typedef struct jx__scratch {
    struct jx__scratch *next;
    char text[];
} jx__scratch;

struct jx_step {
    const jx__step *step;
    jx__scratch *scratch;
    /* The parameters decoded from the step's text when a handler first
     * asks for one (and their keys in order), freed with the view: a plan
     * holds text, not trees.  A view is used by one thread at a time. */
    json_t *params;
    const char **param_keys;
    const jx_plan *plan; /* the step's plan */
    /* For the pre-run check's validate alone (0 and NULL elsewhere): how
     * long an isolated validate may wait for a free runner, and the job's
     * cancel flag, which ends that wait. */
    double wait_deadline;
    const atomic_int *cancelled;
};

struct jx_context {
    const jx_plan *plan;
    const char *started_at;  /* the job's start, ISO 8601 */
    int64_t step_index;      /* the running step */
    double deadline;         /* monotonic seconds */
    const atomic_int *cancelled;
    int cancel_fd;           /* readable once the job is cancelled; -1 */
    jx_progress_cb on_progress; /* from the run's options, may be NULL */
    void *user;
    /* Where the executor keeps the step's progress (run/progress.c);
     * NULL in a runner, which forwards reports to the core instead. */
    void (*progress)(void *arg, double fraction, const char *message);
    void *progress_arg;
    const char *plugin; /* the step's plugin's name, for the log; NULL */
};

struct jx_plugin_config {
    const json_t *object;
    jx__scratch *scratch;
};

extern const jx_host_v1 jx__host;

/* Frees what a view's calls formatted. */
void jx__scratch_free(jx__scratch **list);
/* Frees what a step view's calls made (formatted text, the decoded
 * parameters); the view can be used again. */
void jx__step_view_done(jx_step *view);

/* The name of the plugin the calling thread is in (the core sets it
 * around each call into a plugin: jx__plugin_enter, init, fini), for the
 * log handler; NULL in the core's own code. */
extern _Thread_local const char *jx__log_plugin;

/* Routes host->log() calls; see jx_set_log_handler().  Secrets of the
 * job are redacted; cut says the message was cut short. */
void jx__log(const jx_context *ctx, int level, const char *message);
void jx__log_cut(const jx_context *ctx, int level, const char *message,
                 int cut);
/* Reports progress as ctx_progress does; cut: message was cut short (its
 * ending is redacted as a possible start of a secret). */
void jx__progress_cut(const jx_context *ctx, double fraction,
                      const char *message, int cut);

#endif
