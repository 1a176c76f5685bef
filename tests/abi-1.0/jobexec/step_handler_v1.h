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
 * This header depends on nothing but <stddef.h> and <stdint.h>; it compiles
 * as C99 and C++.  Structs only grow at their end; a member added in a later
 * minor version is marked "since 1.N" and is read only when struct_size
 * covers it.
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
     * SHOULD check it and return promptly. */
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
     * only with a JX_STEP_FAILED return; the last call wins. */
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
 * The step handler descriptor.  Export it as a const object; the host
 * copies nothing out of it but reads it for as long as the module is open.
 */
typedef struct step_handler_v1 {
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
     * Called once, at load, before any other entry point.  config is the
     * plugin's own section of the host config, read-only and valid only
     * during the call.  On success store the instance state (may be NULL)
     * in *state and return 0.  On failure write a one-line reason to
     * errbuf (errbuf_len bytes, always NUL-terminate) and return non-zero;
     * the host then refuses to start.  MAY be NULL.
     */
    int (*init)(const jx_host_v1 *host, const jx_plugin_config *config,
                void **state, char *errbuf, size_t errbuf_len);

    /*
     * Checks one step's target and parameters without side effects, so that
     * `jobexec check` can refuse a plan before anything runs.  Return 0 when
     * the step is acceptable; otherwise write a reason into errbuf and return
     * non-zero.  MAY be NULL (every step acceptable).
     */
    int (*validate)(void *state, const jx_host_v1 *host, const jx_step *step,
                    char *errbuf, size_t errbuf_len);

    /*
     * Performs one step.  Build structured output with host->out_* calls;
     * on failure call host->out_error() and return JX_STEP_FAILED.  Any other
     * return value than JX_STEP_OK counts as a failure.  The host calls this
     * at most once per step per run and never retries.  MUST NOT be NULL.
     */
    int (*execute)(void *state, const jx_host_v1 *host, const jx_context *ctx,
                   const jx_step *step, jx_output *out);

    /* Releases the state init() returned.  MAY be NULL. */
    void (*fini)(void *state);
} step_handler_v1;

/*
 * The health observer descriptor.  A health observer can only return a
 * snapshot: it receives no view of the job, the plan or the contract.
 */
typedef struct health_observer_v1 {
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
     * reason in errbuf when health cannot be observed (the evidence then
     * records the snapshot as null).  MUST NOT be NULL.
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
