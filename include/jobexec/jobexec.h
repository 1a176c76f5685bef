/*
 * jobexec.h - the embedding API of libjobexec.
 *
 * A worker process typically:
 *
 *     jx_config *cfg; jx_executor *ex; jx_plan *plan; jx_result *res;
 *     jx_error err;
 *     jx_config_load("/etc/jobexec/jobexec.yaml", NULL, &cfg, &err);
 *     jx_executor_new(cfg, &ex, &err);      // loads and inits every plugin
 *     jx_config_free(cfg);                  // the executor keeps a copy
 *     for (each job from the queue) {
 *         jx_plan_parse(text, len, "queue", &plan, &err);
 *         jx_executor_run(ex, plan, &opts, &res, &err);
 *         ... jx_result_status(res) ...
 *         jx_result_free(res); jx_plan_free(plan);
 *     }
 *     jx_executor_free(ex);
 *
 * Every call returns 0 or a negative JX_E* code and, on failure, fills the
 * caller's jx_error (which may be NULL) with a one-line message naming the
 * file, line:column and the reason.  The library never prints, never exits.
 *
 * Thread safety: a jx_executor, once built, may run jobs from many threads
 * at once; plugins that do not declare JX_HANDLER_THREAD_SAFE are called one
 * at a time.  Plans and results are owned by the caller and must not be
 * shared between threads while in use.  Registration calls
 * (jx_executor_add_handler, jx_executor_set_health_observer) are not
 * thread-safe: make them before the executor is shared between threads.
 */
#ifndef JOBEXEC_JOBEXEC_H
#define JOBEXEC_JOBEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jobexec/step_handler_v1.h>
#include <jobexec/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ------------------------------------------------------------ */

/* X(name, value, text): the one list of error codes. */
#define JX_ERRNO_MAP(X)                                                       \
    X(NOMEM, -1, "out of memory")                                             \
    X(INVAL, -2, "invalid argument")                                          \
    X(IO, -3, "input/output error")                                           \
    X(CONFIG, -4, "invalid config")                                           \
    X(PLAN, -5, "invalid plan")                                               \
    X(LIMIT, -6, "input exceeds a limit")                                     \
    X(LOAD, -7, "plugin could not be loaded")                                 \
    X(ABI, -8, "plugin does not implement the expected ABI")                  \
    X(INIT, -9, "plugin failed to initialise")                                \
    X(REFUSED, -10, "step refused by its handler")                            \
    X(EVIDENCE, -11, "evidence could not be delivered")                       \
    X(INTERNAL, -12, "internal error")                                        \
    X(KEY, -13, "key file unusable")

enum {
    JX_OK = 0,
#define JX__ERRNO_ENUM(name, value, text) JX_E##name = (value),
    JX_ERRNO_MAP(JX__ERRNO_ENUM)
#undef JX__ERRNO_ENUM
};

#define JX_ERROR_MESSAGE_SIZE 1024

/* Filled by failing calls.  code is one of JX_E*; message is one line. */
typedef struct jx_error {
    int code;
    char message[JX_ERROR_MESSAGE_SIZE];
} jx_error;

/* A short static description of an error code ("out of memory"). */
const char *jx_strerror(int code);

/* The code's name ("JX_ENOMEM"), for logs and messages meant for people
 * who read code; "JX_E?" for a code that is not one. */
const char *jx_err_name(int code);

/* The library's version, "MAJOR.MINOR.PATCH", as it was built: compare it
 * with JX_VERSION_STRING (<jobexec/version.h>) to tell a program built
 * against other headers. */
const char *jx_version(void);

/* The plugin folder of the installation (compiled in). */
const char *jx_default_plugin_dir(void);

/* ---- Logging ----------------------------------------------------------- */

/* Receives plugin log messages (host->log).  job_id is NULL and step_index
 * -1 outside a job (plugin init and fini).  Called as
 * jx_plugin_log_cb is (below), from whichever thread logged. */
typedef void (*jx_log_fn)(int level, const char *job_id, int64_t step_index,
                          const char *message, void *user);

/* Sets the process-wide log handler; NULL (the default) drops messages.
 * Replaces a handler set with jx_set_plugin_log_handler().  Thread-safe;
 * meant to be called once at start-up. */
void jx_set_log_handler(jx_log_fn fn, void *user);

/*
 * Receives log messages as jx_log_fn does, with the name of the plugin
 * that logged (its descriptor's name, as jx_plugin_info.name gives it; an
 * isolated plugin's too).  plugin is NULL for the library's own messages
 * (a torn evidence line cut off, an audit sink's failure, a health
 * observer that failed).  Everything is lent for the call only; message is
 * redacted of the job's secrets.
 *
 * Which thread calls it: the thread that called into the plugin: the one
 * in jx_executor_new() / jx_executor_add_handler() for init, in
 * jx_executor_run() for execute and the health observer, in
 * jx_executor_check() or jx_executor_run() for validate, in
 * jx_executor_free() for fini.  An isolated plugin's messages come on the
 * thread waiting for its runner, that is the same one.  A plugin that
 * logs from a thread of its own, with the step's context, calls it on
 * that thread.  It may therefore be called from several threads at once:
 * it must be thread-safe, and must not call back into the executor.
 */
typedef void (*jx_plugin_log_cb)(int level, const char *plugin,
                                 const char *job_id, int64_t step_index,
                                 const char *message, void *user);

/* Sets the process-wide log handler that is given plugin names; NULL
 * drops messages.  Replaces a handler set with jx_set_log_handler(): one
 * handler receives each message.  Thread-safe; meant to be called once at
 * start-up. */
void jx_set_plugin_log_handler(jx_plugin_log_cb cb, void *user);

/* ---- Config ------------------------------------------------------------ */

typedef struct jx_config jx_config;

/*
 * Reads an ops config file (YAML; schema in README).  Relative plugin paths
 * resolve under its plugin_dir, or under default_plugin_dir when the file
 * sets none (NULL: jx_default_plugin_dir()).  On success *out is the
 * caller's to jx_config_free().
 */
int jx_config_load(const char *path, const char *default_plugin_dir,
                   jx_config **out, jx_error *err);

/* The same from memory; name is used in messages. */
int jx_config_parse(const char *text, size_t len, const char *name,
                    const char *default_plugin_dir, jx_config **out,
                    jx_error *err);

void jx_config_free(jx_config *cfg);

/* Sets the jobexec-runner program that isolated plugins run in (default:
 * the config's runner.path, else the installed one).  For programs and
 * tests run from a build tree. */
int jx_config_set_runner_path(jx_config *cfg, const char *path);
/* The config's runner.path, or NULL when it sets none.  Owned by cfg. */
const char *jx_config_runner_path(const jx_config *cfg);

/* The config section of the first plugin whose path, as written in the
 * config, is name ("registry"), as compact JSON text; NULL when no plugin
 * is (or out of memory).  The caller free()s it.  For tools that work on
 * a plugin's data beside the executor, as `jobexec registry` does. */
char *jx_config_plugin_section(const jx_config *cfg, const char *name);

/* The config's scopes.db (the scope store), or NULL.  Owned by cfg. */
const char *jx_config_scopes_db(const jx_config *cfg);

/* The config's queue.db (the governance store's connection string, for
 * <jobexec/queue.h>), or NULL when it sets none.  Owned by cfg. */
const char *jx_config_queue_db(const jx_config *cfg);

/* The config's evidence.signing_key (the secret key file), or NULL when it
 * sets none.  Owned by cfg. */
const char *jx_config_signing_key(const jx_config *cfg);

/* Flags of jx_config_parse_plugin(). */
enum {
    /* Run the plugin in a jobexec-runner process, whatever the entry's
     * isolation says. */
    JX_CONFIG_PLUGIN_ISOLATED = 1u << 0
};

/*
 * A config of one plugin, from the YAML of one entry of plugins: alone
 * (section, len bytes; NULL or blank: an empty entry), as `jobexec plugin
 * check --config-section` takes it.  Its keys are those of an entry
 * (path, step_types, config, isolation, runners); file is the module to
 * load, in place of the entry's path (which may be absent, and is not
 * read).  file resolves as a path in a config does (under
 * default_plugin_dir when relative; ".so" added to a name without a dot),
 * and isolation defaults as in a config.  Messages name positions in
 * section's own text, prefixed name.  No plugin is loaded here.  flags:
 * JX_CONFIG_PLUGIN_*.  *out is the caller's to jx_config_free().
 */
int jx_config_parse_plugin(const char *section, size_t len, const char *name,
                           const char *file, const char *default_plugin_dir,
                           unsigned flags, jx_config **out, jx_error *err);

/* ---- Execution scopes ---------------------------------------------------- */

/*
 * A scope binds what a job may do: an incident, the actions allowed, how
 * many times (max_attempts), until when (ttl), why (intent), by whom.  A
 * run given a scope runs only when the scope exists, is active, has not
 * expired, has an attempt left, is bound to the run's incident and allows
 * its action; it consumes one attempt atomically, so of two runs racing
 * for a single-use scope exactly one runs.  Scopes live in an SQLite
 * database (the config's scopes.db); several processes may share it.
 */
typedef struct jx_scope_store jx_scope_store;

typedef struct jx_scope_spec {
    const char *incident_id;    /* required */
    const char *const *actions; /* required, NULL-terminated, not empty */
    unsigned max_attempts;      /* 0: 1 */
    unsigned ttl_seconds;       /* 0: 300 */
    double max_cost_usd;        /* < 0: no ceiling */
    const char *intent;         /* may be NULL */
    const char *created_by;     /* may be NULL: "jobexec" */
} jx_scope_spec;

/* Opens (creating it, with its folder's owner's rights) the store at
 * path.  *out is the caller's to jx_scope_store_close().  Thread-safe
 * once open. */
int jx_scope_store_open(const char *path, jx_scope_store **out,
                        jx_error *err);
void jx_scope_store_close(jx_scope_store *s);

/* Creates a scope; its id (a UUID) goes to id.  JX_EINVAL with the reason
 * for a spec that is incomplete. */
int jx_scope_create(jx_scope_store *s, const jx_scope_spec *spec,
                    char id[37], jx_error *err);

/* Revokes a scope: no run may use it any more.  JX_EINVAL when there is
 * no such scope. */
int jx_scope_revoke(jx_scope_store *s, const char *id, jx_error *err);

/* The scopes (id NULL) or one scope as JSON text: an array of, or one,
 * {id, incident_id, actions, max_attempts, attempts_used, max_cost_usd,
 * intent, created_by, created_at, expires_at, status}, status "active",
 * "exhausted", "expired" or "revoked" as of now.  The caller free()s it.
 * JX_EINVAL when id names no scope. */
int jx_scope_json(jx_scope_store *s, const char *id, char **json,
                  jx_error *err);

/*
 * The gate: checks the scope for (incident_id, action) and consumes one
 * attempt, in one transaction.  Returns 0 when the run may go on, or
 * JX_EREFUSED with why (why_size bytes) one of "not found", "revoked",
 * "expired", "exhausted", "incident mismatch", "action not allowed".
 * jx_executor_run calls it when the run's options name a scope.
 */
int jx_scope_consume(jx_scope_store *s, const char *scope_id,
                     const char *incident_id, const char *action, char *why,
                     size_t why_size, jx_error *err);
/* ---- Retry advice ------------------------------------------------------ */

/*
 * The executor never retries: a handler is called at most once per step.
 * A worker that wants to try a failed job's work again creates a new job,
 * and jx_retry_advise() tells it whether and when, by the config's retry
 * section (schema in README).
 */
typedef struct jx_retry_advice {
    int should_retry;          /* 1: try again at next_attempt_at */
    double delay_seconds;      /* from now; 0 when should_retry is 0 */
    unsigned attempt;          /* the attempt that failed, as given */
    char next_attempt_at[40];  /* now + delay_seconds, ISO 8601 UTC with
                                  microseconds, as evidence timestamps are
                                  written; "" when should_retry is 0 */
    const char *strategy;      /* "fixed", "linear", "exponential" or
                                  "fibonacci" (static) */
    char reason[256];          /* one line saying why */
} jx_retry_advice;

/*
 * Advises on a retry after attempt `attempt` (counted from 1) failed with
 * the error text `error` (a step's error, or a job's final_reason).
 *
 * The delay for attempt N is base_delay_seconds times 1 (fixed), N
 * (linear), 2^(N-1) (exponential) or F(N) (fibonacci: 1, 1, 2, 3, 5...),
 * capped at max_delay_seconds, then multiplied by
 * 1 - jitter + 2 * jitter * random01 and capped again.  should_retry is 1
 * when the error matches one of retryable_errors (or there are none) and
 * N <= max_retries; the reason names the pattern that matched, or says
 * which of the two failed (the pattern is checked first).
 *
 * Pure: nothing is read but the arguments, nothing is kept, and the same
 * arguments give the same advice.  now is the caller's clock, seconds since
 * the epoch (0 up to the last second of 9999); random01, in [0, 1), the
 * caller's randomness for the jitter.  cfg NULL: the defaults (exponential,
 * 1 s doubling up to 300 s, no jitter, 3 retries, every error retryable).
 * Thread-safe: cfg is only read.
 *
 * Returns 0 with *out filled, whatever the advice; JX_EINVAL (out zeroed
 * when not NULL) for attempt 0, a NULL error or out, or now or random01
 * out of range.
 */
int jx_retry_advise(const jx_config *cfg, unsigned attempt, const char *error,
                    double now, double random01, jx_retry_advice *out,
                    jx_error *err);

/* ---- Executor ---------------------------------------------------------- */

typedef struct jx_executor jx_executor;

/*
 * Builds an executor from a config: opens the evidence log, loads every
 * plugin (refusing unsafe files and ABI mismatches), calls each init and
 * binds step types.  All or nothing: on any failure nothing stays loaded.
 * cfg may be NULL for an executor with only in-process handlers.  The
 * executor copies what it needs; cfg may be freed afterwards.
 */
int jx_executor_new(const jx_config *cfg, jx_executor **out, jx_error *err);

/* Flags of jx_executor_open(). */
enum {
    /* For checking a config and plans: the evidence log is neither created
     * nor changed, only checked to be writable (or creatable), and
     * jx_executor_run() refuses to run.  Plugins are loaded and inited as
     * for running. */
    JX_EXECUTOR_CHECK_ONLY = 1u << 0
};

/* jx_executor_new() with flags (JX_EXECUTOR_*); unknown flags are
 * refused with JX_EINVAL. */
int jx_executor_open(const jx_config *cfg, unsigned flags, jx_executor **out,
                     jx_error *err);

/* Calls every plugin's fini and unloads it.  NULL is allowed. */
void jx_executor_free(jx_executor *ex);

/*
 * Registers an in-process handler without a module: desc is checked like a
 * loaded plugin's descriptor and must outlive the executor.  extra_types
 * (NULL-terminated, may be NULL) binds more step types; config_json (may be
 * NULL) is the JSON object handed to init.  Not thread-safe: register
 * before other threads use the executor.
 */
int jx_executor_add_handler(jx_executor *ex, const step_handler_v1 *desc,
                            const char *const *extra_types,
                            const char *config_json, jx_error *err);

/* Installs an in-process health observer, replacing any configured one. */
int jx_executor_set_health_observer(jx_executor *ex,
                                    const health_observer_v1 *desc,
                                    const char *config_json, jx_error *err);

/* What `jobexec plugins` lists.  Pointers are owned by the executor. */
typedef struct jx_plugin_info {
    const char *name;    /* descriptor name */
    const char *version; /* descriptor version */
    const char *path;    /* file loaded, or "(in-process)" */
    unsigned abi_version;
    int thread_safe;
    int has_handler;         /* exports step_handler_v1 */
    int is_health_observer;  /* serves as the health observer */
    const char *const *step_types; /* bound step types, NULL-terminated */
    int isolated;            /* runs in a jobexec-runner process */
    /* Isolated: runner processes at most (runners, runner.max_per_plugin)
     * and who they run as, "user:group"; 0 and NULL in-process. */
    unsigned runners;
    const char *runner_user;
} jx_plugin_info;

size_t jx_executor_plugin_count(const jx_executor *ex);
int jx_executor_plugin_info(const jx_executor *ex, size_t i,
                            jx_plugin_info *out);

/* ---- Plan -------------------------------------------------------------- */

typedef struct jx_plan jx_plan;

/* Reads a plan (YAML or JSON) from a file, or stdin for "-". */
int jx_plan_load(const char *path, jx_plan **out, jx_error *err);
/* The same from memory; name is used in messages. */
int jx_plan_parse(const char *text, size_t len, const char *name,
                  jx_plan **out, jx_error *err);
void jx_plan_free(jx_plan *plan);

const char *jx_plan_job_id(const jx_plan *plan);
/* Non-zero when the plan had no job_id and jx_plan_job_id() was made up
 * when it was read: reading the same text again gives another. */
int jx_plan_job_id_generated(const jx_plan *plan);
const char *jx_plan_contract_id(const jx_plan *plan);
size_t jx_plan_step_count(const jx_plan *plan);
/* The step_index of the plan's i-th step (from 0); -1 past the end. */
int64_t jx_plan_step_index(const jx_plan *plan, size_t i);
/* The step_type of the plan's i-th step (from 0), or NULL beyond the last.
 * Owned by the plan. */
const char *jx_plan_step_type(const jx_plan *plan, size_t i);

/*
 * A plan of one step, from the YAML of one entry of steps: alone (text,
 * len bytes; name prefixes messages, which name positions in that text),
 * as `jobexec plugin check --step` takes it: step_type, and optionally
 * target, parameters, secret_parameters, timeout_seconds and step_index
 * (default 0).  The job gets a generated job_id and contract_id.  *out is
 * the caller's to jx_plan_free().
 */
int jx_plan_parse_step(const char *text, size_t len, const char *name,
                       jx_plan **out, jx_error *err);

/*
 * Checks, without running anything, that every step has a handler and that
 * each handler's validate() accepts it.  Returns 0, or JX_EREFUSED / JX_EPLAN
 * with the first refusal (file:line:column of the step and the reason).
 */
int jx_executor_check(jx_executor *ex, const jx_plan *plan, jx_error *err);

/* ---- Running ----------------------------------------------------------- */

typedef enum jx_job_status {
    JX_JOB_COMPLETED = 0,
    JX_JOB_FAILED = 1,
    JX_JOB_CANCELLED = 2
} jx_job_status;

/* Kinds of evidence records, in the order a job produces them. */
typedef enum jx_record_kind {
    JX_RECORD_JOB_STARTED = 0,
    JX_RECORD_STEP_STARTED = 1,
    JX_RECORD_STEP_FINISHED = 2,
    JX_RECORD_JOB_FINISHED = 3
} jx_record_kind;

/* One evidence record, lent to a sink for the duration of the call. */
typedef struct jx_record {
    jx_record_kind kind;
    int64_t step_index; /* -1 for job records */
    uint64_t seq;       /* position in the job's chain, from 0 */
    const char *json;   /* the record as one line of JSON, no newline,
                         * NUL-terminated (json[json_len] == '\0') */
    size_t json_len;
    /* step_finished only (NULL, 0, 0 otherwise): the step's result, the
     * object the document's step_results holds, as a slice of json (not
     * NUL-terminated), and whether the step completed.  A sink that keeps
     * step results needs no JSON parser for them. */
    const char *step_result;
    size_t step_result_len;
    int step_completed;
} jx_record;

/* A sink.  Returning non-zero means the record was not kept: the job then
 * stops before its next step and ends FAILED (evidence is never lost
 * silently).  Called on the thread in jx_executor_run(), in seq order, one
 * record at a time; jobs running on several threads with the same sink
 * call it from each of those threads at once. */
typedef int (*jx_record_cb)(const jx_record *rec, void *user);

/* Receives a handler's progress reports (host->ctx_progress), every one,
 * on the thread that reported: the job's thread (the one in
 * jx_executor_run(), which is also where an isolated plugin's reports
 * arrive), or a thread of an in-process handler's own.  Not serialised
 * with the job's other callbacks in that last case. */
typedef void (*jx_progress_cb)(const char *job_id, int64_t step_index,
                               double fraction, const char *message,
                               void *user);

/*
 * A job's progress, as the executor reports it: when the job starts, when
 * a handler reports (host->ctx_progress; at most every 100 ms, the last
 * one of a step always delivered), after each step, and when the job
 * ends.  Lent for the duration of the call; text is redacted.
 */
typedef struct jx_progress_event {
    const char *job_id;
    /* "started", "running" (a handler reported), "step_finished",
     * "finished" */
    const char *stage;
    int64_t step_index;     /* the step's step_index; -1 for started and
                             * finished */
    size_t step_number;     /* its position in the plan, from 1; 0 for
                             * started */
    size_t steps_done;      /* steps finished so far */
    size_t total_steps;
    double percentage;      /* 0..100: finished steps, and the running
                             * step's reported fraction */
    double step_fraction;   /* the running step's last report (0..1), or
                             * -1 when it has made none */
    const char *message;    /* the handler's message; NULL when none */
    const char *status;     /* with finished: "COMPLETED", ...; else NULL */
    double elapsed_seconds; /* since the job started */
    double eta_seconds;     /* a linear estimate of what is left; -1 when
                             * nothing is done yet, 0 when finished */
} jx_progress_event;

/* Called for "started", "step_finished" and "finished" on the job's
 * thread; for "running" on the thread whose report it carries (as
 * jx_progress_cb), or on the job's thread when a report held back is
 * delivered at the step's end.  The job's events are serialised: never
 * two at once for one job. */
typedef void (*jx_job_progress_cb)(const jx_progress_event *ev, void *user);

/*
 * Options of one run.  Zero-initialise it ({0} or JX_RUN_OPTIONS_INIT):
 * members after struct_size are read only when struct_size covers them,
 * so that a program built against an older header keeps working when the
 * struct grows.  Every callback is called on the thread that runs the job
 * (a handler's own threads' progress reports excepted: those come on the
 * thread that reported), never two at once for one job.
 */
typedef struct jx_run_options {
    jx_record_cb on_record;     /* may be NULL */
    jx_progress_cb on_progress; /* a handler's every report; may be NULL */
    void *user;                 /* passed to every callback */
    /* When set, the evidence document is written here as the job runs
     * (step results are streamed, so memory stays flat). */
    FILE *document;
    /* sizeof(jx_run_options) as the caller was built, or 0: only the four
     * members above are read. */
    size_t struct_size;
    jx_job_progress_cb on_job_progress; /* may be NULL */
    /* The scope the run must pass (all three, or none): the executor's
     * scope store (the config's scopes.db) decides, before any step.  A
     * refusal runs no step: the job ends FAILED, "Scope gate rejected:
     * REASON", and jx_result_scope_rejected() says so. */
    const char *scope_id;
    const char *incident_id;
    const char *action;
    /* Receives each audit event (job_created, job_started, job_completed,
     * job_failed, job_cancelled, scope_rejected) as one line of JSON, the
     * bytes the config's audit.log gets; returning non-zero before the
     * steps stops the job, FAILED.  Called on the job's thread (the one in
     * jx_executor_run()).  May be NULL. */
    int (*on_audit)(const char *json, size_t len, void *user);
} jx_run_options;

#define JX_RUN_OPTIONS_INIT                                                   \
    {NULL, NULL, NULL, NULL, sizeof(jx_run_options), NULL, NULL, NULL, NULL,  \
     NULL}

/* Whether opts (non-NULL) carries member m: set by a caller whose header
 * has it. */
#define JX_RUN_OPTIONS_HAS(opts, m)                                           \
    ((opts)->struct_size >= offsetof(jx_run_options, m) + sizeof((opts)->m))

typedef struct jx_result jx_result;

/*
 * Runs a plan: steps in order, evidence per step, stop at the first failure,
 * each handler at most once.  Before step 0 the plan is checked as
 * jx_executor_check() does; a plan it refuses runs no handler and ends
 * FAILED, "Plan refused: step N: WHY".  Returns 0 when the job ran (refused
 * plans included), whatever its final status, with *out the caller's to jx_result_free(); a negative code only
 * when it could not run at all.  opts may be NULL.
 */
int jx_executor_run(jx_executor *ex, const jx_plan *plan,
                    const jx_run_options *opts, jx_result **out,
                    jx_error *err);

/*
 * Cancels the running job job_id, or every job running on ex when job_id
 * is NULL.  Thread-safe, and meant to be called from another thread than
 * the one in jx_executor_run.  The running step is asked to stop
 * (host->ctx_cancelled turns true; an isolated plugin's runner is
 * signalled, then killed after runner.kill_grace_ms), no further step
 * starts, and the job ends CANCELLED with complete evidence.  Returns how
 * many jobs were told, or a negative JX_E* code.  A job that is not
 * running is not affected, nor is it later: to cancel a job that may not
 * have started yet, use jx_executor_cancel_ahead().
 */
int jx_executor_cancel(jx_executor *ex, const char *job_id);

/* How many cancels of jobs not started yet one executor remembers. */
#define JX_CANCEL_AHEAD_MAX 1024

/*
 * Cancels job job_id (a UUID, in any case) whether or not it has started.
 * A running job is cancelled as jx_executor_cancel() does.  Otherwise the
 * cancel is remembered, and the next jx_executor_run() on ex of a plan
 * with that job_id is cancelled as it starts: it runs no handler (nor
 * validate, nor the scope gate), and ends CANCELLED, "Cancelled before
 * step N" (N the first step's step_index), with complete evidence
 * (job_started, a sealed job_finished, the document and the audit
 * events).  That run uses the cancel up; a later run of the same job is
 * not affected.  Remembering the same job twice keeps one cancel.
 *
 * Thread-safe, and race-free against a run that is starting: the cancel
 * either finds the job running or is found by it.  Returns 1 when a
 * running job was told, 0 when the cancel was remembered; JX_EINVAL for a
 * NULL ex or an id that is not a UUID, JX_ELIMIT when JX_CANCEL_AHEAD_MAX
 * cancels are remembered already (forget some first), JX_ENOMEM; err says
 * why.
 */
int jx_executor_cancel_ahead(jx_executor *ex, const char *job_id,
                             jx_error *err);

/*
 * Forgets the remembered cancel of job_id (any case), or every one when
 * job_id is NULL: for a job the caller will not run after all.  Returns
 * how many were forgotten (0 when none was remembered, or for an id that
 * is not a UUID), or JX_EINVAL for a NULL ex.  Thread-safe.
 */
int jx_executor_forget_cancel(jx_executor *ex, const char *job_id);

jx_job_status jx_result_status(const jx_result *res);
const char *jx_result_status_name(const jx_result *res);
/* "All steps completed successfully", "Step N failed: ERROR",
 * "Cancelled during step N: ERROR", "Cancelled before step N" or
 * "evidence write failed: WHY" (README lists which status goes with
 * each). */
const char *jx_result_reason(const jx_result *res);
const char *jx_result_job_id(const jx_result *res);
size_t jx_result_steps_executed(const jx_result *res);
size_t jx_result_steps_succeeded(const jx_result *res);
size_t jx_result_steps_failed(const jx_result *res);
/* Non-zero when the scope gate refused the run (no step ran). */
int jx_result_scope_rejected(const jx_result *res);
/* The job's duration in seconds, to the microsecond (as the evidence
 * document's timing.duration_seconds, which prints it as 0.000082). */
double jx_result_duration_seconds(const jx_result *res);
void jx_result_free(jx_result *res);

/* ---- Evidence log: verifying, keys ------------------------------------ */

typedef enum jx_verdict {
    JX_VERDICT_VALID = 0,      /* sealed, and every record intact */
    JX_VERDICT_INCOMPLETE = 1, /* intact so far, but no seal: interrupted,
                                  or the file's tail was cut */
    JX_VERDICT_TAMPERED = 2    /* a record was changed, dropped, reordered,
                                  duplicated or spliced, or a seal is bad */
} jx_verdict;

/* What jx_evidence_verify() found for one job; lent to the callback. */
typedef struct jx_job_report {
    const char *job_id;
    jx_verdict verdict;
    uint64_t records;        /* records of the job that were checked */
    unsigned long first_line; /* the job's first line in the file, from 1 */
    unsigned long bad_line;  /* TAMPERED: the first bad line; else 0 */
    const char *reason;      /* why it is not VALID; "" when it is */
    int torn;                /* the file ends in a torn line of this job,
                                or holds one of its records left torn by
                                a writer that died (a line ending in
                                "#torn") */
    int signed_seal;         /* the seal carries a signature */
    int signature_checked;   /* ... and it was checked against a key */
    const char *final_status; /* from job_finished; NULL when absent */
    /* A job may run more than once into one log (a queue that delivered
     * it twice): each run is a chain of its own and has its own report.
     * run counts from 1 in file order; runs is how many the file holds. */
    unsigned run, runs;
} jx_job_report;

/* Called on the thread in jx_evidence_verify(), before it returns, one
 * report at a time. */
typedef int (*jx_job_report_cb)(const jx_job_report *r, void *user);

typedef struct jx_verify_options {
    const char *pubkey_path; /* NULL: signatures are not checked, and an
                                unsigned seal is accepted */
    const char *job_id;      /* NULL: every job */
    jx_job_report_cb on_job; /* called per job (per run of a job that
                                ran more than once), in order of first
                                record; non-zero stops the verification */
    void *user;
} jx_verify_options;

typedef struct jx_verify_summary {
    size_t jobs, valid, incomplete, tampered;
    unsigned long lines;
    /* Lines that belong to no job (not JSON, not a record): any is
     * tampering of the file itself.  The first one and why. */
    unsigned long stray_lines, first_stray_line;
    char stray_reason[160];
    int torn_tail; /* the file ends without a newline */
} jx_verify_summary;

/*
 * Reads an evidence log and checks every job's chain: seq from 0 without
 * gaps, prev equal to the SHA-256 of the job's previous line (the first
 * derived from the job_id), a seal whose head matches, and, with a public
 * key, its Ed25519 signature.  Returns 0 when the file was read, whatever
 * the verdicts (read them from the callback and *sum); a negative code when
 * the file or the key could not be read, or opts->job_id was not found.
 */
int jx_evidence_verify(const char *path, const jx_verify_options *opts,
                       jx_verify_summary *sum, jx_error *err);

/* What jx_evidence_export() writes. */
typedef enum jx_export_format {
    JX_EXPORT_IN_TOTO = 0, /* per step, an in-toto link statement (v0.3) */
    JX_EXPORT_SLSA = 1     /* for the job, a SLSA provenance statement (v1) */
} jx_export_format;

/*
 * Writes job job_id of the evidence log path to out as in-toto statements
 * (https://in-toto.io/Statement/v1), each in a DSSE envelope signed with
 * the Ed25519 secret key at key_path (a `jobexec keygen` file), one
 * envelope per line (JSON Lines).  The job must verify first (as
 * jx_evidence_verify() does it; with pubkey_path, not NULL, its seal's
 * signature too) and have run once: otherwise nothing is written and
 * JX_EEVIDENCE says why ("PATH: not exported: ID: tampered: line N: WHY"),
 * or JX_EINVAL for a job the log does not hold or holds more than one run
 * of.  README's "Exporting a job" gives the statements' fields.
 */
int jx_evidence_export(const char *path, const char *job_id,
                       jx_export_format format, const char *key_path,
                       const char *pubkey_path, FILE *out, jx_error *err);

/* Writes a new Ed25519 key pair for evidence.signing_key: secret_path
 * (0600; never overwrites a file) and secret_path + ".pub".  key_id
 * (17 bytes) receives the id that seals will name. */
int jx_keygen(const char *secret_path, char key_id[17], jx_error *err);

#ifdef __cplusplus
}
#endif

#endif /* JOBEXEC_JOBEXEC_H */
