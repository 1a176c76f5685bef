/*
 * crash_util.h - what the test_crash_* suites share: the handler whose
 * first act is to append "ran <step_index>" to a side file, executors and
 * plans built in the parent and in children, the spawners that fork the
 * children that get killed, a fixture per lane, reading what reached the
 * disk, jx_evidence_verify()'s view of it, and the checks made after every
 * kill or cut.
 */
#ifndef JX_TEST_CRASH_UTIL_H
#define JX_TEST_CRASH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define JOB "3c9d2f4e-8a1b-4c6d-9e0f-1a2b3c4d5e6f"
#define JOB2 "7e1f0a9b-2c3d-4e5f-8a6b-9c0d1e2f3a4b"

#define N_STEPS 100
/* job_started, step_started and step_finished per step, job_finished. */
#define N_RECORDS (2 * N_STEPS + 2)
#define REOPEN_STEPS 3

/* The kill or cut being checked, named in every failure message. */
extern char where[192];

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            char check_msg_[2048];                                            \
            snprintf(check_msg_, sizeof check_msg_, __VA_ARGS__);             \
            fail_msg("%s: %s", where, check_msg_);                            \
        }                                                                     \
    } while (0)

/* A fixed seed: every run draws the same kill delays (as fractions of the
 * measured run time) and the same cuts. */
extern uint64_t rng_state;
/* The next number of the sequence rng_state starts. */
uint64_t rng_next(void);
/* VALID, INCOMPLETE or TAMPERED. */
const char *verdict_name(jx_verdict v);

/* ---- building executors and plans (parent and children) --------------- */

/* An executor logging to log (fsync NULL: the default policy) with the
 * crash handler appending to side.  0, or -1 with err filled. */
int make_executor(const char *log, const char *fsync, const char *side,
                  int64_t kill_at, jx_executor **out, jx_error *err);
/* A plan of job_id with n steps of type "crash"; NULL with err filled. */
jx_plan *make_plan(const char *job_id, size_t n, jx_error *err);

/* ---- the children that get killed -------------------------------------- */

/* One run of JOB in a child. */
typedef struct run_req {
    char log[512], side[512], fsync[8];
    int64_t kill_step;   /* its handler kills the child; -1: none */
    int64_t kill_seq;    /* handing this record over kills it; -1: none */
    long kill_after_us;  /* SIGKILL from outside after this; -1: none */
} run_req;

typedef struct run_resp {
    int status;      /* wait status; -1: no child */
    long elapsed_us; /* from fork to reaping */
} run_resp;

/* Waits for the child pid; its wait status. */
int wait_child(pid_t pid);
/* Reads and writes exactly len bytes; 0, or -1 at an error or EOF. */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/*
 * Children are forked by spawners, themselves forked before the suite
 * allocates anything.  A fork copies its parent's page tables, and under
 * AddressSanitizer (whose quarantine keeps freed memory mapped) the
 * suite's own process grows to where each fork costs more than the job it
 * runs.  Two spawners ("lanes") run two children at once, so that one is
 * checked while the next runs.  A spawner also sends the timed SIGKILL:
 * its child is not reaped until then, so the pid is still its child's,
 * and the suite's own work does not delay the kill.
 */
#define N_LANES 2

struct spawner {
    pid_t pid;
    int to, from; /* requests; responses */
    int busy;     /* a response is owed */
};

/* The lanes' spawners: main() starts them before the tests run (in the
 * suites that kill children) and stops them after. */
extern struct spawner spawners[N_LANES];

/* Forks the spawner sp; 0, or -1 with errno set. */
int spawner_start(struct spawner *sp);
/* Reads the response a spawner owes, if any. */
int spawner_drain(struct spawner *sp, run_resp *resp);
/* Ends the spawner sp and waits for it. */
void spawner_stop(struct spawner *sp);

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early.  One per lane: the kill tests run
 * two children at once, each on its own files. */
typedef struct fixture {
    int lane;
    struct fixture *peer; /* lane 1, from lane 0 */
    char *dir;
    char *log;        /* the log under test */
    char *side;       /* "ran k" lines of the handlers */
    char *side_first; /* the side file as the first job left it */
    char *first;      /* the log as the first job left it */
    char *spare;      /* another log (measuring, copying) */
    char *mnt;        /* where a tmpfs goes */
    char *text;       /* the log as last read */
    char *text2;      /* the log after the second job */
    char *side_text;
    char *full;       /* a complete log, for cutting */
    char *reason;     /* the reason a job is expected to give */
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
} fixture;

/* The fixture of every test: lane 0, with lane 1 as its peer; the random
 * sequence restarted. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Frees the result, the plan and the executor of f. */
void drop_run(fixture *f);
/* Opens an executor in the parent; its handler's lines go nowhere. */
void open_parent(fixture *f, const char *log, const char *fsync);
/* Runs job_id with n steps on f->ex into f->res. */
void run_parent(fixture *f, const char *job_id, size_t n);

/* ---- reading what reached the disk -------------------------------------- */

/* What the complete lines of a log say about JOB. */
typedef struct log_view {
    int exists;
    size_t whole;       /* bytes up to the last newline */
    size_t lines;       /* complete lines of JOB */
    size_t other_lines; /* complete lines of other jobs */
    int torn;           /* the last line has bytes but no newline */
    int torn_names_job; /* ... in a line that still names JOB */
    int zero_tail;      /* zeros follow the last bytes (a writer killed
                           while it held the log mapped) */
    int finished;       /* JOB's job_finished is a complete line */
    unsigned char started[N_STEPS]; /* step_started of step k is there */
} log_view;

/* Reads path into *text (replacing what was there) and parses its lines. */
void read_log(const char *path, char **text, log_view *v);
/* Reads a side file; returns how many handlers ran, after checking that
 * they ran in step order, each once. */
size_t read_ran(fixture *f, const char *path);

/* ---- what jx_evidence_verify says --------------------------------------- */

typedef struct job_seen {
    int found;
    jx_verdict verdict;
    uint64_t records;
    int torn;
    char reason[256];
    char final_status[16];
} job_seen;

typedef struct seen_jobs {
    job_seen job, job2;
    size_t others;
} seen_jobs;

/* Verifies path: readable, no job TAMPERED, no stray line. */
void verify(fixture *f, const char *path, seen_jobs *s,
            jx_verify_summary *sum);

/* ---- the checks after every kill ---------------------------------------- */

/* The log as a killed or cut run left it: each complete line is part of
 * JOB's intact chain, and the verdict follows whether job_finished made
 * it to the file. */
void check_log(fixture *f, log_view *v);
/* No handler ran without its step_started on disk; a sealed job ran every
 * handler. */
void check_ran(const log_view *v, size_t n_ran);
/* After the first job (as its view found it), JOB2 of n2 steps was run on
 * the same log: it is VALID, the first job kept its verdict, and the file
 * ends whole. */
void check_with_job2(fixture *f, const char *path, const log_view *v,
                     size_t n2);
/* A new executor opens the log a kill left, cuts its torn tail and runs
 * another job after the complete lines, which it keeps byte for byte. */
void check_reopen(fixture *f, const char *fsync, const log_view *v);

#endif
