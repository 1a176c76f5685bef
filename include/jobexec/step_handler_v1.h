/*
 * step_handler_v1.h - the jobexec plugin ABI, version 1.
 *
 * A plugin is a libtool module (-module -avoid-version) that exports one or
 * both of these const data symbols:
 *
 *   step_handler_v1    performs steps of one or more step types;
 *   health_observer_v1 returns health snapshots, and nothing else.
 *
 * Declare them with JX_STEP_HANDLER(modname) / JX_HEALTH_OBSERVER(modname),
 * where modname is the module's file name without extension.  The macros add
 * libltdl's "modname_LTX_" prefix, so the same source builds a loadable .so
 * and can be dlpreopened next to other plugins inside one worker binary.
 * libltdl derives the prefix from the file's name, so a module renamed
 * after it was built is refused ("exports neither step_handler_v1 nor
 * health_observer_v1").
 *
 * Building a module.  With libtool (Makefile.am, where $$ stands for $):
 *
 *   hello_la_LDFLAGS = -module -avoid-version -shared \
 *       -export-symbols-regex '^([a-z0-9_]+_LTX_)?(step_handler_v1|health_observer_v1)$$'
 *
 * (a module that is not installed also needs -rpath DIR, or libtool makes
 * a static archive), or by hand:
 *
 *   cc -shared -fPIC -o hello.so hello.c $(pkg-config --cflags jobexec)
 *
 * A module needs no -ljobexec: it reaches the host only through jx_host_v1.
 * Built by hand, nothing filters what it exports, so everything but the
 * descriptors SHOULD be static.
 *
 * Rules every plugin MUST follow:
 *  - Everything the host lends (steps, contexts, configs, strings) is const
 *    and valid only for the duration of the call that received it.  Copy
 *    what you keep.
 *  - Everything a plugin hands back goes through host calls, which copy it
 *    at once.  No JSON or YAML library type crosses this ABI.
 *  - No mutable globals: keep per-instance state in the pointer that init()
 *    returns.  One host may run many jobs on many threads.
 *  - Unless JX_HANDLER_THREAD_SAFE is set, the host never calls execute() or
 *    validate() of the same instance from two threads at once.
 *
 * How failures are reported is under "Errors" below; what holds for a plugin
 * that runs in a separate process, under "Isolation".
 *
 * This header depends on nothing but <stddef.h> and <stdint.h>; it compiles
 * as C99 and C++.  Structs only grow at their end.  Each struct's members
 * start under a comment "since 1.0", which covers every member down to the
 * next such comment; a later minor version N appends its members at the end
 * under a comment "since 1.N" and sets JX_ABI_MINOR to N.  A member after
 * the 1.0 ones is read only when struct_size covers it.
 */
#ifndef JOBEXEC_STEP_HANDLER_V1_H
#define JOBEXEC_STEP_HANDLER_V1_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "JXSTEP" + 0x0001: identifies a step_handler_v1 descriptor. */
#define JX_STEP_HANDLER_MAGIC UINT64_C(0x4A58535445500001)
/* "JXHLTH" + 0x0001: identifies a health_observer_v1 descriptor. */
#define JX_HEALTH_OBSERVER_MAGIC UINT64_C(0x4A58484C54480001)
/* The major version of this ABI.  A host refuses any other value. */
#define JX_ABI_VERSION 1u
/* The minor version this header describes.  A minor version only appends
 * members, to jx_host_v1 and to the descriptors; it never moves, retypes or
 * removes one, so any 1.x plugin loads in any 1.x host.  The host reads a
 * descriptor member only when the plugin's struct_size covers it (an older
 * host ignores what it does not know, and refuses a struct_size below the
 * 1.0 size).  A plugin calls a host member added after 1.0 only when
 * JX_HOST_HAS(host, member) is true.  Sources that must also build against
 * older headers test "#if JX_ABI_MINOR >= N". */
#define JX_ABI_MINOR 0u

/*
 * Errors.  One style for every entry point.
 *
 * init, validate and observe fail by returning non-zero with a reason in
 * errbuf: one line of plain text that MUST be NUL-terminated within
 * errbuf_len bytes (snprintf does both).  No trailing newline or period,
 * no "error:" and no plugin or file name: the host says where.  Say what is
 * wrong and, where it helps, what was expected: "config key 'url' is
 * required", "parameter 'ttl' must be from 1 to 86400, got -5".  The host
 * puts in front of it:
 *
 *   init      CONFIG:LINE:COL: plugin 'PATH': init failed: REASON
 *             (start-up stops; in a runner replaced mid-run, the step fails
 *             with "the runner could not be restarted: " and that line)
 *   validate  PLAN:LINE:COL: step N refused by 'NAME': REASON
 *             (jx_executor_check, which `jobexec check` calls, refuses the
 *             plan)
 *   observe   nothing: REASON is logged as a warning and the snapshot is
 *             recorded as null
 *
 * From init and validate, an empty errbuf reads "(no reason given)".
 *
 * execute fails a step with host->out_error(out, REASON), same style, and
 * returns JX_STEP_FAILED.  REASON becomes the step's "error" and the job's
 * final_reason "Step N failed: REASON".  JX_STEP_FAILED without a reason
 * is recorded as "the handler reported failure without a reason"; a return
 * other than JX_STEP_OK or JX_STEP_FAILED as "the handler returned N, which
 * is neither JX_STEP_OK nor JX_STEP_FAILED"; out_error is ignored with
 * JX_STEP_OK.
 *
 * JX_STEP_FAILED says the step failed: the target refused, the work could
 * not be done.  That the handler broke (crashed, hung, overran its deadline,
 * exited, was cancelled, garbled the channel) is the core's to say, with
 * reasons of its own (see "Isolation").  So a plugin MUST NOT abort() or
 * exit() to report anything, and MUST NOT use stdout or stderr as its error
 * channel: in a runner stdout goes nowhere and stderr is kept only beside
 * the reason; in-process both are the worker's (`jobexec run` writes the
 * evidence document to stdout).  Log through host->log.
 *
 * Reasons from validate and execute are redacted against the plan's
 * secret_parameters, and against nothing else.  Reasons from init and
 * observe concern no plan and are shown as written: they MUST NOT quote a
 * secret (a token from the config section, say).
 */

/* Return values of execute(). */
#define JX_STEP_OK 0
#define JX_STEP_FAILED 1

/* Descriptor flags. */
/* execute() and validate() may be called concurrently on one instance. */
#define JX_HANDLER_THREAD_SAFE (1u << 0)

/* Log levels for jx_host_v1.log(). */
#define JX_LOG_ERROR 0
#define JX_LOG_WARNING 1
#define JX_LOG_INFO 2
#define JX_LOG_DEBUG 3

/* Opaque views the host lends to plugins.  Read them through jx_host_v1. */
typedef struct jx_step jx_step;                   /* one step of the plan */
typedef struct jx_context jx_context;             /* the job around a step */
typedef struct jx_plugin_config jx_plugin_config; /* the plugin's config section */
typedef struct jx_output jx_output;               /* where results are built */

/*
 * Host services.  The host passes a pointer to its table to every plugin
 * entry point; the table outlives the plugin instance.  Every call is
 * thread-safe.  Calls added later are appended and marked "since 1.N": test
 * for them with JX_HOST_HAS(host, member) before calling.
 */
typedef struct jx_host_v1 {
    /* since 1.0 */
    uint32_t struct_size; /* sizeof(jx_host_v1) as built into the host */
    uint32_t abi_version; /* JX_ABI_VERSION */

    /* --- Logging ------------------------------------------------------ */

    /* Logs one message through the host's logger.  ctx may be NULL (from
     * init and fini).  The message is copied; printf-style formatting. */
    void (*log)(const jx_context *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* --- The step (valid during execute/validate) ---------------------- */

    int64_t (*step_index)(const jx_step *step);
    const char *(*step_type)(const jx_step *step);
    /* The target; "" when the plan gave none. */
    const char *(*step_target)(const jx_step *step);
    int64_t (*step_timeout_seconds)(const jx_step *step);
    /* All parameters as one compact JSON object text ("{}" when none). */
    const char *(*step_parameters_json)(const jx_step *step);
    /* Number of parameters, and the key of parameter i (0-based), in plan
     * order.  NULL when i is out of range. */
    size_t (*param_count)(const jx_step *step);
    const char *(*param_key)(const jx_step *step, size_t i);
    /* Typed parameter access.  The string getter returns NULL when the key
     * is absent or not a string; the others return 0 and fill *out, or -1
     * when the key is absent or of another type. */
    const char *(*param_string)(const jx_step *step, const char *key);
    int (*param_int)(const jx_step *step, const char *key, int64_t *out);
    int (*param_bool)(const jx_step *step, const char *key, int *out);
    int (*param_double)(const jx_step *step, const char *key, double *out);
    /* Any parameter as compact JSON text; NULL when absent. */
    const char *(*param_json)(const jx_step *step, const char *key);

    /* --- The job context (valid during execute/validate) --------------- */

    const char *(*ctx_job_id)(const jx_context *ctx);
    const char *(*ctx_contract_id)(const jx_context *ctx);
    /* "" when the plan named no tenant. */
    const char *(*ctx_tenant_id)(const jx_context *ctx);
    const char *(*ctx_executed_by)(const jx_context *ctx);
    /* When the job started: ISO 8601, UTC, microseconds. */
    const char *(*ctx_started_at)(const jx_context *ctx);
    /* Milliseconds left before the step's deadline (timeout_seconds after it
     * started); zero or negative once the deadline has passed.  Long-running
     * in-process work SHOULD check it and return JX_STEP_FAILED. */
    int64_t (*ctx_time_left_ms)(const jx_context *ctx);
    /* Non-zero once the job has been asked to stop.  Long-running work
     * SHOULD check it and return promptly (see "Isolation" for what a
     * cancelled step is recorded as). */
    int (*ctx_cancelled)(const jx_context *ctx);
    /* Reports progress of the running step: fraction in [0, 1], message may
     * be NULL.  Advisory; the host may drop frequent updates. */
    void (*ctx_progress)(const jx_context *ctx, double fraction,
                         const char *message);

    /* --- Output (valid during execute and observe) --------------------- */

    /* Add one key to the step's output object (or the health snapshot).
     * Keys and values are copied.  A repeated key replaces the earlier
     * value.  Each returns 0, or -1 when out of memory, when the key is
     * not valid UTF-8, or (out_json) when the text is not one JSON value.
     * A value that is lost (out of memory, or an out_string value that is
     * not valid UTF-8) fails the step: evidence is never partial. */
    int (*out_string)(jx_output *out, const char *key, const char *value);
    int (*out_int)(jx_output *out, const char *key, int64_t value);
    int (*out_bool)(jx_output *out, const char *key, int value);
    int (*out_double)(jx_output *out, const char *key, double value);
    int (*out_json)(jx_output *out, const char *key, const char *json);
    /* Adds every member of a JSON object text, as if by one out_json call
     * per member; -1 when the text is not a JSON object. */
    int (*out_merge_json)(jx_output *out, const char *json_object);
    /* Records why the step failed; the host copies the text.  Meaningful
     * only with a JX_STEP_FAILED return; the last call wins.  See
     * "Errors". */
    void (*out_error)(jx_output *out, const char *message);

    /* --- The plugin's config section (valid during init) --------------- */

    /* Same conventions as the param_ getters. */
    const char *(*config_string)(const jx_plugin_config *cfg, const char *key);
    int (*config_int)(const jx_plugin_config *cfg, const char *key,
                      int64_t *out);
    int (*config_bool)(const jx_plugin_config *cfg, const char *key, int *out);
    const char *(*config_json)(const jx_plugin_config *cfg, const char *key);
} jx_host_v1;

/* Non-zero when the host's table includes member m (for calls added in a
 * later minor version). */
#define JX_HOST_HAS(host, m)                                                  \
    ((host)->struct_size >= offsetof(jx_host_v1, m) + sizeof((host)->m) &&    \
     (host)->m != NULL)

/*
 * Isolation.  With "isolation: process" (the default for a plugin outside
 * jobexec's own plugin folder) a plugin's step handler runs in a
 * jobexec-runner process; the executor's process never calls its init.
 * Health observers always run in-process.  In a runner:
 *
 *  - The process is the runner's.  fd 3 is its channel to the core and
 *    SIGUSR1 its cancellation signal: a plugin MUST NOT read, write, close
 *    or replace fd 3, and MUST NOT change SIGUSR1's disposition or unblock
 *    it (it is blocked in every thread, and read by the runner).  A plugin that closes fd 3 fails its
 *    step at once ("protocol error: the runner closed its channel") and
 *    the runner is killed.  fd 3 is close-on-exec, so a program a plugin
 *    starts does not inherit it; a child a plugin forks without exec MUST
 *    close fd 3 (closing it in an exec'd child, as older plugins were told
 *    to, stays harmless).  Threads a plugin starts inherit SIGUSR1
 *    blocked.  SIGPIPE is ignored; other signals have their defaults.
 *  - stdin and stdout are /dev/null; stderr is a pipe to the core; nothing
 *    else of the executor is open (not the evidence log, not a key).  The
 *    environment holds only PATH=/usr/local/bin:/usr/bin:/bin and LC_ALL=C.
 *  - What execute writes to stderr is kept, up to runner.max_stderr_bytes
 *    (the rest counted as dropped), redacted, as the step's "stderr" in the
 *    evidence.  What is written during init, validate or fini, or between
 *    steps, belongs to no step and is dropped (a runner that dies or hangs
 *    at start-up has it quoted in the start-up error).  host->log and
 *    ctx_progress messages are cut to 10 KiB each; logs from validate are
 *    dropped, those from init and fini reach the host's log handler as an
 *    in-process plugin's do.
 *  - Before the plugin is opened the runner sets RLIMIT_AS, RLIMIT_CPU and
 *    RLIMIT_NOFILE from runner.max_address_space_mb, max_cpu_seconds and
 *    max_open_files, turns core dumps off, sets PR_SET_NO_NEW_PRIVS and,
 *    when the executor runs as root, becomes runner.user and runner.group
 *    (default nobody/nogroup; never root), who must be able to read the
 *    module.  The runner leads its own process group (and cgroup, where a
 *    writable cgroup v2 exists); what a plugin starts stays in it and is
 *    killed with the runner.  The runner is also a child subreaper: after
 *    every execute returns, before the result goes to the core, every
 *    process that descends from the runner (double-forked, setsid and
 *    setpgid ones too) is killed with SIGKILL and reaped, so is anything
 *    else left in the runner's cgroup, and the step's result counts those
 *    that were running ("leftover_processes": N,
 *    absent when none; the status stays what execute returned).  So
 *    nothing a step starts outlives it, and a plugin MUST NOT rely on a
 *    process of its own (one init started included) lasting from one
 *    step to the next.  Orphans are re-parented to the runner, so a
 *    plugin's wait(-1) may reap a process it did not start.
 *  - A runner serves one execute or validate at a time, whatever the flags
 *    say, and stays warm between steps and jobs.  init runs once per runner
 *    process, before its first request: once for each of a plugin's runners
 *    (runners: N, runner.max_per_plugin; each has its own state, and any of
 *    them may take a job's next step), and again in each runner that
 *    replaces one that crashed, exited, timed out, broke the protocol or was
 *    killed after a cancellation.  Every executor opened starts a first
 *    runner, so `jobexec check` and `jobexec plugins` call init too.
 *    Opening the module and init have 30 s together.  fini runs when the
 *    executor closes, with 5 s to finish, and is skipped whenever a runner
 *    is killed: nothing that must not be lost may wait for fini.
 *  - At the step's deadline the runner's process group gets SIGTERM, then
 *    SIGKILL after runner.kill_grace_ms, and the step is FAILED "timed out
 *    after N s".  No warning comes first: watch ctx_time_left_ms.
 *  - Cancellation turns ctx_cancelled true (it is true from the start when
 *    the job was cancelled before the step was sent).  It reaches the
 *    runner as SIGUSR1, read from a signalfd by a thread of the runner's
 *    own: no call the plugin makes is interrupted, no EINTR comes of it,
 *    and a sleep sleeps its full time.  Long waits SHOULD use calls with
 *    a timeout and check ctx_cancelled between them.  A step that returns
 *    within runner.kill_grace_ms keeps its runner: JX_STEP_OK is recorded
 *    COMPLETED, anything else FAILED with the error "cancelled" in place of
 *    the plugin's reason.  After the grace the runner is killed and the
 *    step is FAILED "cancelled (the handler did not stop within N ms and
 *    was killed)".
 *  - A crash ("handler crashed: signal 11 (SIGSEGV: Segmentation fault)"),
 *    an exit ("runner exited with status N during the step"), a hang past
 *    the deadline, a result beyond runner.max_output_bytes ("output too
 *    large: ...") or anything on fd 3 that is not the protocol ("protocol
 *    error: ...") fails that step, not the worker; a new runner starts
 *    when one is next needed.
 *
 * In-process ("isolation: inproc") none of this applies: the plugin shares
 * the executor's process, files and signals, ctx_cancelled turns true with
 * no signal, and a crash or exit() takes the worker down.
 */

/*
 * The step handler descriptor.  Export it as a const object; the host
 * copies nothing out of it but reads it for as long as the module is open.
 */
typedef struct step_handler_v1 {
    /* since 1.0 */
    uint64_t magic;       /* MUST be JX_STEP_HANDLER_MAGIC */
    uint32_t abi_version; /* MUST be JX_ABI_VERSION */
    uint32_t struct_size; /* MUST be sizeof(step_handler_v1) */

    const char *name;    /* short, stable plugin name, e.g. "noop" */
    const char *version; /* the plugin's own version, e.g. "1.2.0" */
    /* Step types this plugin handles, NULL-terminated; may be empty when
     * the config binds every type.  Config may bind more types. */
    const char *const *step_types;
    uint32_t flags; /* JX_HANDLER_* */

    /*
     * Called once, at load, before any other entry point; isolated, once
     * per runner process (see "Isolation").  config is the plugin's own
     * section of the host config, read-only and valid only during the call.
     * On success store the instance state (may be NULL) in *state and
     * return 0.  On failure write a one-line reason to errbuf (errbuf_len
     * bytes, always NUL-terminate; see "Errors") and return non-zero; the
     * host then refuses to start.  MAY be NULL.
     */
    int (*init)(const jx_host_v1 *host, const jx_plugin_config *config,
                void **state, char *errbuf, size_t errbuf_len);

    /*
     * Checks one step's target and parameters without side effects, so that
     * `jobexec check` can refuse a plan before anything runs.  Return 0 when
     * the step is acceptable; otherwise write a reason into errbuf (as for
     * init) and return non-zero.  MAY be NULL (every step acceptable).
     */
    int (*validate)(void *state, const jx_host_v1 *host, const jx_step *step,
                    char *errbuf, size_t errbuf_len);

    /*
     * Performs one step.  Build structured output with host->out_* calls;
     * on failure call host->out_error() and return JX_STEP_FAILED (see
     * "Errors").  Any other return value than JX_STEP_OK counts as a
     * failure.  The host calls this at most once per step per run and never
     * retries.  MUST NOT be NULL.
     */
    int (*execute)(void *state, const jx_host_v1 *host, const jx_context *ctx,
                   const jx_step *step, jx_output *out);

    /* Releases the state init() returned, when the host closes the plugin;
     * never called for a runner that is killed.  MAY be NULL. */
    void (*fini)(void *state);
} step_handler_v1;

/*
 * The health observer descriptor.  A health observer can only return a
 * snapshot: it receives no view of the job, the plan or the contract.
 */
typedef struct health_observer_v1 {
    /* since 1.0 */
    uint64_t magic;       /* MUST be JX_HEALTH_OBSERVER_MAGIC */
    uint32_t abi_version; /* MUST be JX_ABI_VERSION */
    uint32_t struct_size; /* MUST be sizeof(health_observer_v1) */

    const char *name;
    const char *version;
    uint32_t flags; /* JX_HANDLER_THREAD_SAFE, or 0 */

    /* As step_handler_v1.init.  MAY be NULL. */
    int (*init)(const jx_host_v1 *host, const jx_plugin_config *config,
                void **state, char *errbuf, size_t errbuf_len);

    /*
     * Fills snapshot with host->out_* calls.  Returns 0, or non-zero with a
     * reason in errbuf (as for init) when health cannot be observed (the
     * evidence then records the snapshot as null).  MUST NOT be NULL.
     */
    int (*observe)(void *state, const jx_host_v1 *host, jx_output *snapshot,
                   char *errbuf, size_t errbuf_len);

    /* Releases the state init() returned.  MAY be NULL. */
    void (*fini)(void *state);
} health_observer_v1;

/* Declares a plugin's exported descriptors: modname is the module's file
 * name without extension ("noop" for noop.so).  Usage:
 *     JX_STEP_HANDLER(noop) = { JX_STEP_HANDLER_MAGIC, ... };          */
#define JX_STEP_HANDLER(modname)                                              \
    extern const step_handler_v1 modname##_LTX_step_handler_v1;               \
    const step_handler_v1 modname##_LTX_step_handler_v1
#define JX_HEALTH_OBSERVER(modname)                                           \
    extern const health_observer_v1 modname##_LTX_health_observer_v1;         \
    const health_observer_v1 modname##_LTX_health_observer_v1

/* Fills the three header members of either descriptor. */
#define JX_STEP_HANDLER_HEADER                                                \
    JX_STEP_HANDLER_MAGIC, JX_ABI_VERSION, (uint32_t)sizeof(step_handler_v1)
#define JX_HEALTH_OBSERVER_HEADER                                             \
    JX_HEALTH_OBSERVER_MAGIC, JX_ABI_VERSION,                                 \
        (uint32_t)sizeof(health_observer_v1)

#ifdef __cplusplus
}
#endif

#endif /* JOBEXEC_STEP_HANDLER_V1_H */
