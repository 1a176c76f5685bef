/*
 * config_file.h - the ops config, read and checked; nothing is loaded here.
 */
#ifndef JX__INPUT_CONFIG_FILE_H
#define JX__INPUT_CONFIG_FILE_H

#include <regex.h>
#include <stdint.h>

#include <jansson.h>

#include "base/common.h"
#include "input/yamldoc.h"

/* When the evidence log is synced to disk (evidence.fsync). */
typedef enum jx__fsync_policy {
    JX__FSYNC_STEP = 0, /* before every handler call and at job end */
    JX__FSYNC_JOB,      /* at job end */
    JX__FSYNC_NONE      /* left to the kernel */
} jx__fsync_policy;

/* How a plugin runs: in the executor's process, or in a runner. */
typedef enum jx__isolation {
    JX__ISOLATION_INPROC = 0,
    JX__ISOLATION_PROCESS = 1
} jx__isolation;

/* Runner processes that may serve one plugin at once. */
#define JX__MAX_RUNNERS 256

/* The runner section: how isolated plugins are run. */
typedef struct jx__runner_conf {
    char *path;                    /* NULL: the installed jobexec-runner */
    char *user, *group;            /* NULL: nobody / nogroup (when root) */
    uint64_t max_output_bytes;     /* a step's output, as JSON */
    uint64_t max_stderr_bytes;     /* kept per step in the evidence */
    uint64_t max_address_space_mb; /* RLIMIT_AS */
    uint64_t max_cpu_seconds;      /* RLIMIT_CPU, per runner process */
    uint64_t max_open_files;       /* RLIMIT_NOFILE */
    uint64_t kill_grace_ms;        /* SIGTERM to SIGKILL */
    uint64_t max_per_plugin;       /* runner processes serving one plugin */
} jx__runner_conf;

void jx__runner_conf_defaults(jx__runner_conf *rc);
void jx__runner_conf_clear(jx__runner_conf *rc);

/* How the delay before a retry grows with the attempt that failed. */
typedef enum jx__retry_strategy {
    JX__RETRY_FIXED = 0,   /* base */
    JX__RETRY_LINEAR,      /* base * N */
    JX__RETRY_EXPONENTIAL, /* base * 2^(N-1) */
    JX__RETRY_FIBONACCI    /* base * F(N), F(1) = F(2) = 1 */
} jx__retry_strategy;

/* Bounds and defaults of the retry section. */
#define JX__RETRY_MAX_DELAY 604800.0 /* a week, as timeout_seconds */
#define JX__RETRY_MAX_RETRIES 1000
#define JX__RETRY_DEFAULT_BASE 1.0
#define JX__RETRY_DEFAULT_MAX 300.0
#define JX__RETRY_DEFAULT_RETRIES 3

/* The retry section: the policy jx_retry_advise() applies.  The executor
 * never reads it: it never retries. */
typedef struct jx__retry_conf {
    jx__retry_strategy strategy;
    double base_delay;  /* seconds, > 0 */
    double max_delay;   /* seconds, >= base_delay */
    double jitter;      /* 0..1 */
    unsigned max_retries;
    /* retryable_errors: the patterns as written and compiled (POSIX ERE,
     * REG_NOSUB); none: every error is retryable. */
    char **pattern_texts;
    regex_t *patterns;
    size_t n_patterns;
} jx__retry_conf;

void jx__retry_conf_defaults(jx__retry_conf *rc);
void jx__retry_conf_clear(jx__retry_conf *rc);

typedef struct jx__plugin_conf {
    char *path_written;  /* as in the file, for messages and health.observer */
    char *path;          /* resolved: absolute, extension added */
    char **step_types;   /* extra bindings from the config */
    size_t n_step_types;
    json_t *config;      /* the plugin's own section, always an object */
    unsigned line, col;  /* where the entry stands */
    jx__isolation isolation;
    int isolation_set;   /* written in the config, not the default */
    uint64_t runners;    /* its own runner count; 0: runner.max_per_plugin */
    unsigned runners_line, runners_col;
} jx__plugin_conf;

struct jx_config {
    char *name;          /* the file, for messages */
    char *plugin_dir;
    jx__plugin_conf *plugins;
    size_t n_plugins;
    char *health_observer; /* NULL: no observer */
    unsigned health_line, health_col;
    char *evidence_log;    /* NULL: no log */
    unsigned evidence_log_line, evidence_log_col;
    jx__fsync_policy evidence_fsync;
    char *signing_key;     /* NULL: jobs are sealed unsigned */
    unsigned signing_key_line, signing_key_col;
    jx__runner_conf runner;
    char *audit_log;       /* audit.log; NULL: none */
    unsigned audit_log_line, audit_log_col;
    int audit_syslog;      /* audit.syslog */
    char *audit_handler;   /* audit.handler; NULL: "jobexec" */
    char *queue_db;        /* queue.db, the governance store; NULL: none */
    char *scopes_db;       /* NULL: no scope store */
    unsigned scopes_line, scopes_col;
    jx__retry_conf retry;
};

/*
 * Reads one plugins: entry n of the config name into pc (zeroed by the
 * caller; jx_config_free() frees it as part of a config).  file, when not
 * NULL, is the module to load instead of the entry's path, which may then
 * be absent.
 */
int jx__config_read_plugin(const jx__node *n, const char *name,
                           const char *plugin_dir,
                           const char *default_plugin_dir, const char *file,
                           jx__plugin_conf *pc, jx_error *err);

/* Reads a config's YAML into a tree, with the config's limits. */
int jx__config_yaml(const char *text, size_t len, const char *name,
                    struct jx__node **root, jx_error *err);

/* A config with nothing in it yet but its name and defaults. */
jx_config *jx__config_new(const char *name);

#endif
