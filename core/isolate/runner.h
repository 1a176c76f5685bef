/*
 * runner.h - the core's view of an isolated plugin (a pool) and of each
 * runner process serving it, shared by the files of isolate/.
 */
#ifndef JX__ISOLATE_RUNNER_H
#define JX__ISOLATE_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "base/jsonbuf.h"
#include "input/config_file.h"
#include "plugin/host.h"

#define JX__START_TIMEOUT_S 30.0 /* LOAD to HELO: opening and init */
#define JX__FINI_TIMEOUT_S 5.0

/*
 * One isolated plugin: what every runner of it needs, and its runners.
 * Up to its entry's runners (else runner.max_per_plugin) runner processes
 * serve its steps at once, each one step at a time; they start when first
 * needed and stay warm.
 */
typedef struct jx__pool {
    char *program;
    jx__runner_conf limits; /* scalars only; strings not kept */
    int drop;               /* switch to uid/gid: the executor is root */
    uid_t uid;
    gid_t gid;
    char *load;             /* the LOAD message */
    char *cgroup_parent;    /* where runner cgroups are made, or NULL */
    /* What the plugin said about itself (from its first HELO). */
    step_handler_v1 desc;
    char *name, *version;
    char **types;
    int has_validate;
    /* The runners, made as steps need them.  busy and n_runners are
     * guarded by lock; a runner's process belongs to whoever took it. */
    pthread_mutex_t lock;
    pthread_cond_t given_back;
    struct jx__runner **runners; /* room for limits.max_per_plugin */
    size_t n_runners;
} jx__pool;

typedef struct jx__runner {
    jx__pool *pool;
    int busy;               /* taken by a step or a validate */
    unsigned serial;        /* for cgroup names */
    /* The running process, when pid > 0. */
    pid_t pid;
    int chan;
    int err_fd;
    char *cgroup;
    unsigned steps;         /* EXECs sent to this process: a cancel names
                               the one it is for */
    jx__buf err_text;       /* the current step's stderr, bounded */
    size_t err_dropped;
} jx__runner;

/* ---- process.c: the runner process --------------------------------- */

/* Starts r's process: its own process group (and cgroup, where one can be
 * made), the channel as fd 3, stderr to a pipe, nothing else open. */
int jx__runner_spawn(jx__runner *r, jx_error *err);
/* Waits up to ms for the runner to exit; 1 when it has (status kept). */
int jx__runner_reap_within(pid_t pid, long ms, int *status);
/* After the runner is gone: SIGTERM to what is left of its group, the
 * grace, then SIGKILL. */
void jx__runner_end_group(pid_t pgid, long grace_ms);
/* Closes the channel and stderr (keeping what it wrote last) and removes
 * the cgroup: the process has been reaped. */
void jx__runner_close(jx__runner *r);
/* SIGTERM to the whole group, a grace, then SIGKILL; then closes. */
void jx__runner_kill(jx__runner *r);

/* Reads what the runner wrote to stderr, keeping max_stderr_bytes. */
void jx__runner_drain_stderr(jx__runner *r);
/* The step's stderr so far (malloc'd; NULL when none); *dropped gets how
 * many bytes were beyond the limit. */
char *jx__runner_take_stderr(jx__runner *r, size_t *dropped);
/* Forgets what came between steps: text written after one step ended
 * must not reach the next, which may be another job's. */
void jx__runner_drop_stderr(jx__runner *r);

/* ---- wait.c: waiting for the runner's answer ------------------------ */

typedef struct jx__waiting {
    jx__runner *r;
    double deadline;         /* monotonic; 0: none */
    int cancel_fd;           /* -1: none */
    const jx_context *ctx;   /* for LOG and PROG; may be NULL */
    uint32_t want;           /* the message that ends the wait */
    uint32_t want_alt;       /* another that does (0: none) */
    size_t want_max;
    uint32_t got;            /* which of them came */
    /* Outcome */
    char *data;              /* the wanted message's payload (malloc'd) */
    char why[512];           /* when it did not come */
    int cancelled, timed_out;
} jx__waiting;

/* Waits for w->want, serving LOG and PROG and stderr meanwhile.  Returns
 * 0 with w->data set, or -1 with w->why set (the runner is then gone). */
int jx__wait_for(jx__waiting *w);
/* Describes how the runner ended, after it closed the channel. */
void jx__describe_exit(jx__runner *r, char *why, size_t len);

/* ---- pool.c: runners shared by steps -------------------------------- */

/* A pool for the plugin, without runners; NULL when out of memory. */
jx__pool *jx__pool_new(const jx__plugin_conf *pc, const jx_config *cfg);
/* Finishes every runner (fini runs in each) and frees the pool. */
void jx__pool_free(jx__pool *p);
/* Switches runners to runner.user/group when the executor is root. */
int jx__pool_resolve_user(jx__pool *p, const jx__runner_conf *c,
                          jx_error *err);
/* A runner (no process yet) owned by the pool's table once added. */
jx__runner *jx__runner_new(jx__pool *p);
/* Takes a runner for one call, waiting while all are busy: until one is
 * given back, the deadline passes (monotonic seconds; 0: none) or the job
 * is cancelled.  NULL with *why ("timed out", "cancelled", "out of
 * memory") when none came. */
jx__runner *jx__pool_take(jx__pool *p, double deadline,
                          const atomic_int *cancelled, const char **why);
void jx__pool_give_back(jx__pool *p, jx__runner *r);

#endif
