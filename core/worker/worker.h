/*
 * worker.h - what the worker's files share: the worker, its slots (the
 * jobs it holds, one per thread) and its log.
 */
#ifndef JX__WORKER_WORKER_H
#define JX__WORKER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include <jobexec/queue.h>

#include "base/common.h"
#include "worker/pg.h"

/* A job a thread holds, and when its lease was last renewed: the
 * monotonic time at which the renewing statement was sent, so that the
 * lease is known to run at least lease_seconds from then. */
typedef struct jx__slot {
    char job_id[JX__UUID_LEN + 1]; /* "" when the thread holds none */
    double renewed;
} jx__slot;

/* How far a stop has gone (jx_worker_stop). */
enum { JX__RUNNING = 0, JX__STOP_AFTER_STEP = 1, JX__STOP_NOW = 2 };

struct jx_worker {
    jx_executor *ex;
    char *conninfo; /* NULL: the PG* environment */
    char *name;
    unsigned concurrency, lease_seconds, poll_ms, rescue_seconds;
    int once;
    jx_worker_log_cb on_log;
    void *user;

    pthread_mutex_t lock; /* slots, the log, keeper_done */
    pthread_cond_t keeper_wake;
    jx__slot *slots;      /* concurrency of them */
    int keeper_done;
    atomic_int stopping;  /* JX__RUNNING, JX__STOP_* */
    int stop_pipe[2];     /* readable once stopping: wakes idle threads */
};

/* One logfmt line: ts, level, worker, then the pairs given as
 * key, value, ..., JX__LOG_END (a value quoted when it needs it). */
#define JX__LOG_END ((const char *)NULL)
void jx__worker_log(jx_worker *w, const char *level, ...);

/* Slot i now holds job_id ("" : none), renewed at t. */
void jx__slot_set(jx_worker *w, size_t i, const char *job_id, double t);
/* Slot i's lease was renewed by a statement sent at t. */
void jx__slot_renewed(jx_worker *w, size_t i, double t);
/* Whether slot i's lease surely has a third of its length left. */
int jx__slot_fresh(jx_worker *w, size_t i);

/* A claim already answered: sent with the terminal status of a thread's
 * previous job, to spare the round trip. */
typedef struct jx__claim {
    PGresult *row; /* the claim's result; NULL: none */
    double sent;   /* monotonic: the lease runs at least from then */
} jx__claim;

/* Claims one PENDING job for slot i on q, or takes next's, and runs it.
 * Returns 1 when a job was run, 0 when none was waiting, or a negative
 * code when the store could not be asked (err says why).  Unless the
 * worker runs once or is stopping, the job's terminal status carries the
 * thread's next claim, left in *next (its row, maybe without any job),
 * which the thread must pass to its next call. */
int jx__worker_take_job(jx_worker *w, jx_queue *q, size_t i, jx__claim *next,
                        jx_error *err);

#endif
