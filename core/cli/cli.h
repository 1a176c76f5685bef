/*
 * cli.h - what the files of the jobexec command share: each command's
 * description (its file defines it, with its option table), the parsed
 * options, and the helpers every command uses.
 */
#ifndef JX__CLI_CLI_H
#define JX__CLI_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include <jobexec/jobexec.h>

/* Exit codes.  EXIT_TAMPERED is `evidence verify`'s alone,
 * EXIT_SCOPE_REJECTED `run --scope`'s. */
enum { EXIT_COMPLETED = 0, EXIT_JOB_FAILED = 1, EXIT_USAGE = 2,
       EXIT_INTERNAL = 3, EXIT_TAMPERED = 4, EXIT_SCOPE_REJECTED = 5 };

typedef struct options {
    const char *config;
    int verbose;
    const char *operand;  /* PLAN, evidence's verify|show, keygen's FILE */
    const char *operand2; /* evidence's FILE */
    const char *pubkey;   /* evidence verify --pubkey */
    const char *job;      /* evidence --job, registry history --job */
    const char *db;       /* registry --db */
    const char *capability; /* registry history --capability */
    int json;             /* registry, scope, retry-advice --json */
    const char *progress; /* run --progress */
    int quiet;            /* run --quiet: no summary line */
    /* Scopes: run --scope/--incident/--action, scope create ... */
    const char *scope_id, *incident;
    const char *actions[32]; /* --action, as often as given */
    size_t n_actions;
    const char *max_attempts, *ttl, *intent, *max_cost, *created_by;
    const char *attempt;  /* retry-advice --attempt */
    const char *error;    /* retry-advice --error */
    const char *config_section; /* plugin check --config-section */
    const char *step;     /* plugin check --step */
    int run;              /* plugin check --run */
    const char *format;   /* evidence export --format */
    const char *key;      /* evidence export --key */
    const char *output;   /* evidence export --output */
    /* worker, submit, jobs */
    const char *concurrency, *name, *lease, *poll, *rescue;
    int once, migrate, rescue_once;
    const char *status, *limit; /* jobs list */
} options;

typedef struct jx__cli_command {
    const char *name;
    int (*run)(const options *o);
    void (*usage)(FILE *fp);
    int min_operands, max_operands;
    const char *missing;   /* what to say when operands are missing */
    const char *optstring; /* its short options, for getopt_long */
    const struct option *longopts; /* its option table */
} jx__cli_command;

/* Values of options that have no short form (getopt_long returns them
 * like letters; above any char, so that no letter is mistaken for one). */
enum {
    JX__OPT_SCOPE = 256,
    JX__OPT_INCIDENT,
    JX__OPT_ACTION,
    JX__OPT_MAX_ATTEMPTS,
    JX__OPT_TTL,
    JX__OPT_INTENT,
    JX__OPT_MAX_COST,
    JX__OPT_CREATED_BY,
    JX__OPT_CONFIG_SECTION,
    JX__OPT_STEP,
    JX__OPT_RUN,
    JX__OPT_FORMAT,
    JX__OPT_KEY,
    JX__OPT_CONCURRENCY,
    JX__OPT_NAME,
    JX__OPT_LEASE,
    JX__OPT_POLL,
    JX__OPT_ONCE,
    JX__OPT_MIGRATE,
    JX__OPT_RESCUE_ONCE,
    JX__OPT_RESCUE,
    JX__OPT_STATUS,
    JX__OPT_LIMIT
};

/* The entries of option tables that several commands share. */
#define JX__CLI_OPT_CONFIG {"config", required_argument, NULL, 'c'}
#define JX__CLI_OPT_VERBOSE {"verbose", no_argument, NULL, 'v'}
#define JX__CLI_OPT_HELP {"help", no_argument, NULL, 'h'}
#define JX__CLI_OPT_VERSION {"version", no_argument, NULL, 'V'}
#define JX__CLI_OPT_END {NULL, 0, NULL, 0}

/* The commands, each defined in its own file. */
extern const jx__cli_command jx__cli_run, jx__cli_check, jx__cli_plugins,
    jx__cli_evidence, jx__cli_keygen, jx__cli_registry, jx__cli_scope,
    jx__cli_retry, jx__cli_plugin, jx__cli_worker, jx__cli_submit,
    jx__cli_jobs;

extern const char *const jx__cli_prog;

/* Prints what fmt makes, then a newline, with every control character in
 * it escaped (\n, \t, \u001b...): for lines that carry text from plugins
 * or from an evidence log, which must not start lines of their own or
 * drive the terminal.  Returns -1, having written nothing, when out of
 * memory. */
int jx__cli_print_line(FILE *fp, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Bad usage: prints "jobexec: MESSAGE" and "Try 'jobexec[ COMMAND]
 * --help' for more information." on stderr; returns EXIT_USAGE.  command
 * NULL: before any command. */
int jx__cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int jx__cli_vusage_error(const char *command, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;

/* The config read when --config is not given: the build tree's for the
 * binary run from its build tree, else the installed one. */
const char *jx__cli_default_config(void);

/* Prints "jobexec: MESSAGE" for err; returns the exit status its code
 * calls for (2 for bad input, 3 otherwise). */
int jx__cli_report(const jx_error *err);
/* The exit status jx__cli_report() returns for err, without printing. */
int jx__cli_status_for(const jx_error *err);

/* The folder relative plugin paths resolve under when a config sets no
 * plugin_dir: the build tree's for the uninstalled binary, else NULL (the
 * installation's). */
const char *jx__cli_plugin_dir(void);

/* For the uninstalled binary, the build tree's runner on cfg, unless cfg
 * names one. */
void jx__cli_tree_runner(jx_config *cfg);

/* Loads the config in effect: --config, else the default (the build
 * tree's, with the tree's plugins and runner, for the uninstalled
 * binary).  *cfg is the caller's to jx_config_free(). */
int jx__cli_load_config(const options *o, jx_config **cfg, jx_error *err);

/* Loads the config in effect and opens an executor on it (flags:
 * JX_EXECUTOR_CHECK_ONLY for the commands that run nothing, so that they
 * never create or change the evidence log). */
int jx__cli_load_executor(const options *o, unsigned flags, jx_executor **ex,
                          jx_error *err);

/* The log handler: plugin messages on stderr, escaped; info and debug
 * only with --verbose (user is the options). */
void jx__cli_log_to_stderr(int level, const char *job_id, int64_t step_index,
                           const char *message, void *user);

/* Prints s as jx__cli_print_line does (escaped), cut to at most width
 * columns, without a newline. */
void jx__cli_print_width(FILE *fp, const char *s, size_t width);

/* ---- progress.c: run's progress on standard error -------------------- */

enum { JX__PROGRESS_NONE, JX__PROGRESS_LINE, JX__PROGRESS_JSON };

typedef struct jx__cli_progress {
    int mode;
    double last_draw;
} jx__cli_progress;

/* mode: "line", "json", "none", or NULL: a line when standard error is a
 * terminal, else nothing.  -1 for another mode. */
int jx__cli_progress_init(jx__cli_progress *p, const char *mode);
/* The run's on_job_progress (user: the jx__cli_progress). */
void jx__cli_progress_cb(const jx_progress_event *ev, void *user);
/* Takes the progress line off the terminal, so that what is printed next
 * starts a clean line.  Nothing when none is shown. */
void jx__cli_progress_clear(void);

/* The governance store's connection string: --db, else the config's
 * queue.db (loading the config into *cfg, the caller's to free, when it is
 * NULL), else NULL for libpq's PG* environment.  NULL with err filled when
 * the config cannot be read. */
const char *jx__cli_queue_conninfo(const options *o, jx_config **cfg,
                                   jx_error *err);

/* ---- jobid.c: --job values ------------------------------------------ */

/* Resolves a --job value against the evidence log at log: a whole id in
 * any case (lower-cased into out, not looked up), or a prefix of at least
 * 8 hex digits that exactly one job of the log has.  Returns 0, or the
 * exit status after a message: too short or not an id (bad usage, for
 * `jobexec COMMAND --help`), no job or several (naming them), or a log
 * that cannot be read. */
int jx__cli_resolve_job(const char *command, const char *log,
                        const char *given, char out[37]);

/* The same against ids that each() feeds, one call of match(m, id) per
 * id (repeats are fine), returning 0 or an exit status after a message;
 * where names the source in messages. */
int jx__cli_resolve_job_in(const char *command, const char *where,
                           const char *given,
                           int (*each)(void *arg,
                                       int (*match)(void *m, const char *id),
                                       void *m),
                           void *arg, char out[37]);

/* evidence verify|show, dispatched by evidence.c. */
int jx__cli_evidence_verify(const options *o);
int jx__cli_evidence_show(const options *o);
int jx__cli_evidence_export(const options *o);

#endif
