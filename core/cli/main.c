/*
 * cli.c - the jobexec command: what ops run and script.
 *
 * Exit codes: 0 job completed, 1 job failed or was cancelled, 2 bad usage,
 * config or plan (nothing ran), 3 internal error; `evidence verify` adds 4.
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobexec/jobexec.h>

#include "cli/cli.h"

const char *const jx_cli_prog = "jobexec";
#define prog jx_cli_prog

/* Writes s with what a terminal would act on spelled out: C0 controls, DEL
 * and C1 controls (U+0080..U+009F).  Plugin and log text is not ours: a
 * newline in it would forge a line, an escape sequence could hide text. */
static void put_escaped(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", fp);
        else if (*p == '\r')
            fputs("\\r", fp);
        else if (*p == '\t')
            fputs("\\t", fp);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\u%04x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            fprintf(fp, "\\u%04x", *++p);
        else
            putc(*p, fp);
    }
}

/* printf's text as one line, escaped by put_escaped(); -1 when out of
 * memory, with nothing written. */
int jx_cli_print_line(FILE *fp, const char *fmt, ...)
{
    char *text;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    put_escaped(fp, text);
    putc('\n', fp);
    free(text);
    return 0;
}

/* The uninstalled binary (run from its build tree) uses the tree's config
 * and plugins, so that a fresh build works without `make install`. */
static int running_uninstalled(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t root = strlen(JX__BUILD_TREE);

    if (n <= 0)
        return 0;
    exe[n] = '\0';
    return strncmp(exe, JX__BUILD_TREE, root) == 0 && exe[root] == '/';
}

/* The config read when --config is not given. */
static const char *default_config(int uninstalled)
{
    return uninstalled ? JX__BUILD_CONFIG : JX__SYSCONFDIR "/jobexec.yaml";
}

static void usage_main(FILE *fp)
{
    fprintf(fp,
            "Usage: %s COMMAND [OPTIONS] [ARGS]\n"
            "Run governance jobs: an ordered plan of steps, performed by "
            "step-handler\nplugins, with evidence for every step.\n"
            "\n"
            "Commands:\n"
            "  run [--config FILE] PLAN|-    run a plan; print the evidence "
            "document\n"
            "  check [--config FILE] [PLAN]  validate the config (and a plan); "
            "run nothing\n"
            "  plugins [--config FILE]       list loaded plugins and their "
            "step types\n"
            "  evidence verify FILE [--pubkey KEY] [--job ID]\n"
            "                                check an evidence log's chains "
            "and seals\n"
            "  evidence show FILE [--job ID] print an evidence log as a "
            "timeline\n"
            "  keygen FILE                   write a key pair for sealing "
            "evidence\n"
            "  help [COMMAND]                show help for a command\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   the config file (default: %s)\n"
            "  -v, --verbose       show plugin log messages of every level\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n"
            "\n"
            "Exit status: 0 job completed, 1 job failed or cancelled, 2 bad "
            "usage, config\nor plan (nothing ran), 3 internal error.  "
            "`evidence verify` has its own\n(see its --help).\n",
            prog, default_config(running_uninstalled()));
}

static void usage_run(FILE *fp)
{
    fprintf(fp,
            "Usage: %s run [--config FILE] [--verbose] PLAN|-\n"
            "Run the plan in PLAN (YAML or JSON; - reads standard input).\n"
            "\n"
            "Steps run in order; the job stops at the first step that fails.\n"
            "The evidence document (JSON) is written to standard output as "
            "the job\nruns; the config's evidence.log, when set, receives one "
            "record per event.\nA one-line summary goes to standard error "
            "when it is a terminal.\n"
            "SIGINT or SIGTERM cancels the job: the running step is asked "
            "to stop, no\nfurther step starts, and the job ends CANCELLED.\n"
            "\n"
            "Exit status: 0 completed, 1 failed or cancelled, 2 bad config "
            "or plan (nothing\nran), 3 internal error.\n",
            prog);
}

static void usage_check(FILE *fp)
{
    fprintf(fp,
            "Usage: %s check [--config FILE] [PLAN|-]\n"
            "Load the config and every plugin it names, and, given a plan, "
            "check that\nevery step has a handler and that each handler's "
            "validate accepts it.\nNothing runs, and the evidence log is "
            "only checked, never created or changed.\nExit status: 0 valid, "
            "2 invalid (an evidence log that cannot be opened or\ncreated "
            "among them), 3 internal error.\n",
            prog);
}

static void usage_plugins(FILE *fp)
{
    fprintf(fp,
            "Usage: %s plugins [--config FILE]\n"
            "List the plugins the config loads: name, version, ABI, whether "
            "they are\nthread-safe, the file, and the step types bound to "
            "them.\n",
            prog);
}

static int exit_for(int code)
{
    switch (code) {
    case JX_ECONFIG:
    case JX_EPLAN:
    case JX_ELIMIT:
    case JX_ELOAD:
    case JX_EABI:
    case JX_EINIT:
    case JX_EREFUSED:
        return EXIT_USAGE;
    default:
        return EXIT_INTERNAL;
    }
}

static int report(const jx_error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->message);
    return exit_for(err->code);
}

/* flags: JX_EXECUTOR_CHECK_ONLY for the commands that run nothing, so
 * that they never create or change the evidence log. */
static int load_executor(const options *o, unsigned flags, jx_executor **ex,
                         jx_error *err)
{
    int uninstalled = running_uninstalled();
    const char *path = o->config;
    const char *plugin_dir = uninstalled ? JX__BUILD_PLUGINDIR : NULL;
    jx_config *cfg;
    int rc;

    if (path == NULL)
        path = default_config(uninstalled);
    if ((rc = jx_config_load(path, plugin_dir, &cfg, err)) != 0)
        return rc;
    /* The tree's runner, unless the config names one. */
    if (uninstalled && jx_config_runner_path(cfg) == NULL)
        jx_config_set_runner_path(cfg, JX__BUILD_RUNNER);
    rc = jx_executor_open(cfg, flags, ex, err);
    jx_config_free(cfg);
    return rc;
}

static void log_to_stderr(int level, const char *job_id, int64_t step_index,
                          const char *message, void *user)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const options *o = user;

    if (level > JX_LOG_WARNING && !o->verbose)
        return;
    if (level < 0 || level > JX_LOG_DEBUG)
        level = JX_LOG_DEBUG;
    if (job_id != NULL)
        jx_cli_print_line(stderr, "%s: %s: job %s step %lld: %s", prog,
                          names[level], job_id, (long long)step_index,
                          message);
    else
        jx_cli_print_line(stderr, "%s: %s: %s", prog, names[level], message);
}

/*
 * SIGINT and SIGTERM cancel the job: the step is asked to stop, no further
 * step starts, and the evidence is completed.  The signals are blocked in
 * every thread and taken by sigwait() in a thread of their own, because
 * jx_executor_cancel() is not async-signal-safe.  SIGUSR2 tells that
 * thread the job is over.
 */
typedef struct canceller {
    pthread_t thread;
    sigset_t set;
    jx_executor *ex;
    int started;
} canceller;

static void *cancel_on_signal(void *arg)
{
    canceller *c = arg;
    int sig;

    while (sigwait(&c->set, &sig) == 0) {
        if (sig == SIGUSR2)
            break;
        fprintf(stderr, "%s: %s: cancelling the job\n", prog,
                sig == SIGINT ? "interrupted" : "terminated");
        jx_executor_cancel(c->ex, NULL);
    }
    return NULL;
}

static void canceller_start(canceller *c, jx_executor *ex)
{
    sigemptyset(&c->set);
    sigaddset(&c->set, SIGINT);
    sigaddset(&c->set, SIGTERM);
    sigaddset(&c->set, SIGUSR2);
    c->ex = ex;
    c->started = pthread_sigmask(SIG_BLOCK, &c->set, NULL) == 0 &&
                 pthread_create(&c->thread, NULL, cancel_on_signal, c) == 0;
}

static void canceller_stop(canceller *c)
{
    if (!c->started)
        return;
    pthread_kill(c->thread, SIGUSR2);
    pthread_join(c->thread, NULL);
}

static int cmd_run(const options *o)
{
    jx_run_options ro = {NULL, NULL, NULL, stdout};
    canceller cancel;
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};
    int rc, status;

    if (jx_plan_load(o->operand, &plan, &err) != 0)
        return report(&err);
    if (load_executor(o, 0, &ex, &err) != 0) {
        jx_plan_free(plan);
        return report(&err);
    }
    canceller_start(&cancel, ex);
    rc = jx_executor_run(ex, plan, &ro, &res, &err);
    canceller_stop(&cancel);
    if (rc != 0) {
        status = report(&err);
    } else {
        status = jx_result_status(res) == JX_JOB_COMPLETED ? EXIT_COMPLETED
                                                           : EXIT_JOB_FAILED;
        if (isatty(STDERR_FILENO))
            jx_cli_print_line(stderr, "%s: job %s %s: %zu/%zu steps "
                                      "succeeded in %.3f s - %s",
                              prog, jx_result_job_id(res),
                              jx_result_status_name(res),
                              jx_result_steps_succeeded(res),
                              jx_plan_step_count(plan),
                              jx_result_duration_seconds(res),
                              jx_result_reason(res));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* The steps ran: say how the job ended, not only what was lost. */
        if (res != NULL)
            fprintf(stderr, "%s: job %s %s, but the evidence document could "
                            "not be written to standard output\n",
                    prog, jx_result_job_id(res), jx_result_status_name(res));
        else
            fprintf(stderr, "%s: cannot write the evidence document to "
                            "standard output\n", prog);
        status = EXIT_INTERNAL;
    }
    jx_result_free(res);
    jx_executor_free(ex);
    jx_plan_free(plan);
    return status;
}

static int cmd_check(const options *o)
{
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};
    int rc = 0;

    if (o->operand != NULL && jx_plan_load(o->operand, &plan, &err) != 0)
        return report(&err);
    if (load_executor(o, JX_EXECUTOR_CHECK_ONLY, &ex, &err) != 0) {
        jx_plan_free(plan);
        return report(&err);
    }
    if (plan != NULL)
        rc = jx_executor_check(ex, plan, &err);
    if (rc == 0 && plan != NULL)
        printf("plan OK: %zu step%s, job %s, contract %s\n",
               jx_plan_step_count(plan),
               jx_plan_step_count(plan) == 1 ? "" : "s",
               jx_plan_job_id_generated(plan) ? "(generated at run time)"
                                              : jx_plan_job_id(plan),
               jx_plan_contract_id(plan));
    else if (rc == 0)
        printf("config OK: %zu plugin%s loaded\n",
               jx_executor_plugin_count(ex),
               jx_executor_plugin_count(ex) == 1 ? "" : "s");
    jx_plan_free(plan);
    jx_executor_free(ex);
    return rc == 0 ? EXIT_COMPLETED : report(&err);
}

static int cmd_plugins(const options *o)
{
    jx_executor *ex = NULL;
    jx_error err = {0, ""};

    if (load_executor(o, JX_EXECUTOR_CHECK_ONLY, &ex, &err) != 0)
        return report(&err);
    for (size_t i = 0; i < jx_executor_plugin_count(ex); i++) {
        jx_plugin_info info;
        jx_executor_plugin_info(ex, i, &info);
        printf("%s %s (abi %u%s%s%s)\n  file: %s\n  step types:", info.name,
               info.version, info.abi_version,
               info.thread_safe ? ", thread-safe" : "",
               info.is_health_observer ? ", health observer" : "",
               info.isolated ? ", isolated" : "", info.path);
        for (size_t k = 0; info.step_types != NULL && info.step_types[k];
             k++)
            printf(" %s", info.step_types[k]);
        printf(info.step_types != NULL && info.step_types[0] ? "\n"
                                                             : " (none)\n");
    }
    jx_executor_free(ex);
    return EXIT_COMPLETED;
}

typedef struct command {
    const char *name;
    int (*run)(const options *o);
    void (*usage)(FILE *fp);
    int min_operands, max_operands;
    const char *missing; /* what to say when operands are missing */
    const char *optstring; /* the options it takes */
} command;

#define CONFIG_OPTS ":c:vhV"
static const command commands[] = {
    {"run", cmd_run, usage_run, 1, 1,
     "missing PLAN (a file, or - for standard input)", CONFIG_OPTS},
    {"check", cmd_check, usage_check, 0, 1, NULL, CONFIG_OPTS},
    {"plugins", cmd_plugins, usage_plugins, 0, 0, NULL, CONFIG_OPTS},
    {"evidence", jx_cli_evidence, jx_cli_usage_evidence, 2, 2,
     "missing what to do and the log: evidence verify|show FILE",
     ":k:j:hV"},
    {"keygen", jx_cli_keygen, jx_cli_usage_keygen, 1, 1,
     "missing FILE (where to write the secret key)", ":hV"},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"verbose", no_argument, NULL, 'v'},
    {"pubkey", required_argument, NULL, 'k'},
    {"job", required_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Prints "jobexec: MESSAGE" and where to find help; returns EXIT_USAGE.
 * cmd is the command whose help to point at, or NULL. */
static int bad_usage(const command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int bad_usage(const command *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s%s%s --help' for more information.\n", prog,
            cmd != NULL ? " " : "", cmd != NULL ? cmd->name : "");
    return EXIT_USAGE;
}

/* An option that some command has, but not cmd (NULL: before any
 * command).  form names it: "-c" or "--config". */
static int not_here(const command *cmd, const char *form)
{
    if (cmd == NULL)
        return bad_usage(cmd, "option '%s' does not apply here", form);
    return bad_usage(cmd, "option '%s' does not apply to '%s'", form,
                     cmd->name);
}

static const struct option *option_of(int val)
{
    for (const struct option *lo = longopts; lo->name != NULL; lo++)
        if (lo->val == val)
            return lo;
    return NULL;
}

/* getopt_long's '?', for arg (argv[optind - 1]): an unknown option, a
 * value given to a flag, or a short option of another command. */
static int refuse_option(const command *cmd, const char *arg)
{
    const struct option *lo = optopt != 0 ? option_of(optopt) : NULL;
    char form[3] = {'-', (char)optopt, '\0'};

    /* "--verb=1" comes back as an unknown 'v'.  arg is only this option's
     * when it is long: a short one may sit inside a cluster. */
    if (lo != NULL && strncmp(arg, "--", 2) == 0 &&
        strchr(arg, '=') != NULL &&
        strncmp(lo->name, arg + 2, strcspn(arg + 2, "=")) == 0)
        return bad_usage(cmd, "option '--%s' takes no value", lo->name);
    if (lo != NULL)
        return not_here(cmd, form);
    if (optopt != 0)
        return bad_usage(cmd, "unknown option '%s'", form);
    return bad_usage(cmd, "unknown option '%s'", arg);
}

/* Parses options into o.  Returns -1 to go on, or the exit status when an
 * option answered the question (help, version) or was wrong. */
static int parse_options(int argc, char **argv, const char *optstring,
                         options *o, const command *cmd)
{
    int c, li = -1;

    opterr = 0; /* our own messages, naming the program and the command */
    while ((c = getopt_long(argc, argv, optstring, longopts, &li)) != -1) {
        /* getopt_long takes every long option in the table: refuse those
         * that the command does not have. */
        if (c != '?' && c != ':' && strchr(optstring, c) == NULL) {
            char form[32];
            if (li >= 0)
                snprintf(form, sizeof form, "--%s", longopts[li].name);
            else
                snprintf(form, sizeof form, "-%c", c);
            return not_here(cmd, form);
        }
        li = -1;
        switch (c) {
        case 'k':
            o->pubkey = optarg;
            break;
        case 'j':
            o->job = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            if (cmd != NULL)
                cmd->usage(stdout);
            else
                usage_main(stdout);
            return EXIT_COMPLETED;
        case 'V':
            printf("jobexec %s (step_handler_v1 ABI %u)\n", jx_version(),
                   JX_ABI_VERSION);
            return EXIT_COMPLETED;
        case ':':
            return bad_usage(cmd, "option '%s' needs a value",
                             argv[optind - 1]);
        default:
            return refuse_option(cmd, argv[optind - 1]);
        }
    }
    return -1;
}

/* A closed standard stream would let the next open() (the evidence log)
 * take its number, and the document would land in the log.  Hold each
 * closed one with /dev/null, read-only for stdout, so that writing to it
 * fails and is reported instead of vanishing. */
static void hold_standard_fds(void)
{
    static const int flags[] = {O_RDONLY, O_RDONLY, O_WRONLY};
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", flags[fd]) != fd)
            exit(EXIT_INTERNAL);
}

/* What check and plugins print is the answer a script reads: a lost write
 * must not look like success. */
static int finish_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write to standard output\n", prog);
        return EXIT_INTERNAL;
    }
    return status;
}

/* jobexec help [TOPIC [EXTRA]]: TOPIC a command, "help", or NULL. */
static int cmd_help(const char *topic, const char *extra)
{
    const command *cmd = NULL;

    if (topic != NULL && strcmp(topic, "help") != 0 &&
        (cmd = find_command(topic)) == NULL)
        return bad_usage(NULL, "unknown command '%s'", topic);
    if (extra != NULL)
        return bad_usage(NULL, "unexpected argument '%s'", extra);
    if (cmd != NULL)
        cmd->usage(stdout);
    else
        usage_main(stdout);
    return EXIT_COMPLETED;
}

int main(int argc, char **argv)
{
    options o = {NULL, 0, NULL, NULL, NULL, NULL};
    const command *cmd = NULL;
    int rc;

    hold_standard_fds();

    /* "+": stop at the first operand (the command), then parse again. */
    if ((rc = parse_options(argc, argv, "+:c:vhV", &o, NULL)) >= 0)
        return finish_stdout(rc);
    if (optind >= argc)
        return bad_usage(NULL, "missing command (run, check, plugins, "
                               "evidence, keygen, help)");
    if (strcmp(argv[optind], "help") == 0)
        return finish_stdout(
            cmd_help(optind + 1 < argc ? argv[optind + 1] : NULL,
                     optind + 2 < argc ? argv[optind + 2] : NULL));
    if ((cmd = find_command(argv[optind])) == NULL)
        return bad_usage(NULL, "unknown command '%s'", argv[optind]);
    /* The command's own options, after its name. */
    argc -= optind;
    argv += optind;
    optind = 0; /* glibc: start over, permuting operands after options */
    if ((rc = parse_options(argc, argv, cmd->optstring, &o, cmd)) >= 0)
        return finish_stdout(rc);
    /* --config/--verbose given before the command name are the command's
     * options too: a command without them refuses them. */
    if (strchr(cmd->optstring, 'c') == NULL && (o.config || o.verbose))
        return not_here(cmd, o.config ? "--config" : "--verbose");
    if (argc - optind < cmd->min_operands)
        return bad_usage(cmd, "%s", cmd->missing);
    if (argc - optind > cmd->max_operands)
        return bad_usage(cmd, "unexpected argument '%s'",
                         argv[optind + cmd->max_operands]);
    if (optind < argc)
        o.operand = argv[optind++];
    if (optind < argc)
        o.operand2 = argv[optind++];
    jx_set_log_handler(log_to_stderr, &o);
    rc = cmd->run(&o);
    return cmd->run == cmd_run ? rc : finish_stdout(rc);
}
