/*
 * isolation_util.h - what the test_isolation_* suites share: a fixture
 * with a folder the runner (nobody, when run as root) can write to,
 * executors on the misbehave fixture plugin and the build's runner, runs
 * of one step keeping the last step result, and what /proc says about
 * descriptors, processes and runner cgroups.
 */
#ifndef JX_TEST_ISOLATION_UTIL_H
#define JX_TEST_ISOLATION_UTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define JOB "5d2c8e1a-7b3f-4a9e-8c1d-2e3f4a5b6c7d"
#define HEAD "job_id: " JOB "\ncontract_id: " TU_CONTRACT "\nsteps:\n"

#define MISBEHAVE TU_FIXTURES "/misbehave.so"

/* A fixture built with the sanitizers dies in their handler, not by the
 * signal. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- the fixture -------------------------------------------------------- */

typedef struct fixture {
    char *dir;         /* private temp folder, traversable by the runner */
    char *shared;      /* dir/shared, mode 01777: the runner writes here */
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    json_t *step;      /* the last step_finished record's "step" */
    atomic_int step_started;  /* a step_started record was seen */
    int cancel_kind;          /* on_record cancels on step 0's record of
                                 this kind (-1: never) */
    int cancel_told;          /* ... and what jx_executor_cancel returned */
    jx_error err;
} fixture;

int fx_setup(void **state);
int fx_teardown(void **state);
/* Frees the last run: result, plan, step result. */
void drop_run(fixture *f);

/* The config: misbehave (with plugin_extra under its entry), the build's
 * runner (with runner_extra), then tail (more top-level sections). */
char *config_text(const char *plugin_extra, const char *runner_extra,
                  const char *tail);
/* Parses the config text (as test.yaml); the config is the caller's. */
jx_config *parse_config(const char *text, jx_error *err);
/* An executor on config_text(plugin_extra, runner_extra, tail). */
void make_executor(fixture *f, const char *plugin_extra,
                   const char *runner_extra, const char *tail);

/* ---- running ------------------------------------------------------------ */

/* f->plan: HEAD and the steps given. */
void parse_plan(fixture *f, const char *steps);
/* Runs f->plan; the result is in f->res, the last step result in f->step. */
void run_parsed(fixture *f);
/* parse_plan() and run_parsed(), after drop_run(). */
void run_steps(fixture *f, const char *steps);
/* One step of type with timeout_seconds and parameters (a YAML flow
 * mapping, or NULL). */
void run_type(fixture *f, const char *type, int timeout,
              const char *params);
/* The job ended with status and exactly reason. */
void assert_outcome(const fixture *f, jx_job_status status,
                    const char *reason);
/* The last step result's error. */
const char *step_error(const fixture *f);
/* Runs "well" and returns the pid it reports (the runner's, when
 * isolated). */
pid_t well_pid(fixture *f);

/* ---- /proc -------------------------------------------------------------- */

/* The descriptors process pid has open. */
size_t count_fds(pid_t pid);
/* The state letter of a process and its parent; 0 when it is gone. */
char proc_state(pid_t pid, pid_t *ppid);
/* Children of this process that are zombies. */
size_t count_zombie_children(void);
/* Sleeps ms milliseconds; the monotonic clock in seconds. */
void sleep_ms(long ms);
double now_s(void);

/* ---- cgroups ------------------------------------------------------------ */

/* What find_cgroup_parent() in the core looks for: the unified hierarchy,
 * this process's place in it, writable.  1 with its path, or 0 with why
 * not. */
int cgroup_parent(char *path, size_t path_len, char *why, size_t len);
/* The runner cgroups this process has now (the core names them
 * jobexec-PID-...); 0 without a cgroup v2 hierarchy. */
size_t count_runner_cgroups(void);

#endif
