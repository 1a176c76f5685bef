/*
 * main.c - the jobexec command: finds the command, parses its options
 * against its own table (each command's file defines both), and runs it.
 *
 * Exit codes: 0 job completed, 1 job failed or was cancelled, 2 bad usage,
 * config or plan (nothing ran), 3 internal error; `evidence verify` adds 4.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define prog jx__cli_prog
typedef jx__cli_command command;

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
            "  plugin check FILE [--config-section YAML] [--step YAML] "
            "[--run]\n"
            "                                load one plugin as the loader "
            "does, ask its\n"
            "                                validate, run one step "
            "isolated\n"
            "  evidence verify FILE [--pubkey KEY] [--job ID]\n"
            "                                check an evidence log's chains "
            "and seals\n"
            "  evidence show FILE [--job ID] print an evidence log as a "
            "timeline\n"
            "  evidence export FILE --job ID --format in-toto|slsa [--key "
            "KEY]\n"
            "                                signed in-toto statements "
            "(DSSE) for a job\n"
            "  keygen FILE                   write a key pair for sealing "
            "evidence\n"
            "  registry list|history         what the capability registry "
            "holds, what\n"
            "                                changed it\n"
            "  scope create|list|show|revoke bound execution scopes for "
            "run --scope\n"
            "  worker [--db URL] [--concurrency N] [--once]\n"
            "                                run jobs from the PostgreSQL "
            "governance store\n"
            "  submit [--db URL] PLAN|-      add a plan to the store as a "
            "PENDING job\n"
            "  jobs list|show                the store's jobs, their status "
            "and evidence\n"
            "  retry-advice --attempt N --error TEXT\n"
            "                                whether and when to retry "
            "failed work\n"
            "  help [COMMAND]                show help for a command\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   the config file (default: %s)\n"
            "  -v, --verbose       show plugin log messages of every level\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n"
            "\n"
            "Exit status: 0 job completed, 1 job failed or cancelled, 2 bad "
            "usage, config\nor plan (nothing ran), 3 internal error, 5 "
            "refused by the scope gate\n(run --scope).  `evidence verify` "
            "has its own (see its --help).\n",
            prog, jx__cli_default_config());
}

static const command *const commands[] = {
    &jx__cli_run,      &jx__cli_check,  &jx__cli_plugins,
    &jx__cli_evidence, &jx__cli_keygen, &jx__cli_registry,
    &jx__cli_scope,    &jx__cli_retry,  &jx__cli_plugin,
    &jx__cli_worker,   &jx__cli_submit, &jx__cli_jobs,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* The program's own options, before any command. */
static const struct option main_options[] = {
    JX__CLI_OPT_CONFIG, JX__CLI_OPT_VERBOSE, JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION, JX__CLI_OPT_END,
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

/* An option of any command, by its letter (name NULL) or by its long name
 * (name_len bytes of name, exactly or as the unique abbreviation
 * getopt_long would take), so that an option of another command is named
 * as such rather than as unknown. */
static const struct option *option_anywhere(int val, const char *name,
                                            size_t name_len)
{
    const struct option *found = NULL;
    int ambiguous = 0;

    for (size_t i = 0; i <= N_COMMANDS; i++) {
        const struct option *lo = i < N_COMMANDS ? commands[i]->longopts
                                                 : main_options;
        for (; lo->name != NULL; lo++) {
            if (name == NULL ? lo->val != val
                             : strncmp(lo->name, name, name_len) != 0)
                continue;
            if (name == NULL || strlen(lo->name) == name_len)
                return lo;
            ambiguous |= found != NULL && found->val != lo->val;
            found = lo;
        }
    }
    return ambiguous ? NULL : found;
}

static int bad_usage(const command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int bad_usage(const command *cmd, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = jx__cli_vusage_error(cmd != NULL ? cmd->name : NULL, fmt, ap);
    va_end(ap);
    return rc;
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

/* getopt_long's '?', for arg (argv[optind - 1]): an unknown option, a
 * value given to a flag, or an option of another command. */
static int refuse_option(const command *cmd, const char *arg)
{
    const struct option *lo = optopt != 0 ? option_anywhere(optopt, NULL, 0)
                                          : NULL;
    char form[3] = {'-', (char)optopt, '\0'};
    int is_long = strncmp(arg, "--", 2) == 0;
    size_t name_len = is_long ? strcspn(arg + 2, "=") : 0;

    /* "--verb=1" comes back as an unknown 'v'.  arg is only this option's
     * when it is long: a short one may sit inside a cluster. */
    if (lo != NULL && is_long && arg[2 + name_len] == '=' &&
        strncmp(lo->name, arg + 2, name_len) == 0)
        return bad_usage(cmd, "option '--%s' takes no value", lo->name);
    if (lo != NULL)
        return not_here(cmd, form);
    if (optopt != 0)
        return bad_usage(cmd, "unknown option '%s'", form);
    /* A long option no table of this command has. */
    if (is_long && (lo = option_anywhere(0, arg + 2, name_len)) != NULL) {
        char named[64];
        snprintf(named, sizeof named, "--%s", lo->name);
        return not_here(cmd, named);
    }
    return bad_usage(cmd, "unknown option '%s'", arg);
}

/* Parses options into o, with the table of cmd (NULL: the program's
 * own).  Returns -1 to go on, or the exit status when an option answered
 * the question (help, version) or was wrong. */
static int parse_options(int argc, char **argv, const char *optstring,
                         options *o, const command *cmd)
{
    const struct option *table = cmd != NULL ? cmd->longopts : main_options;
    int c;

    opterr = 0; /* our own messages, naming the program and the command */
    while ((c = getopt_long(argc, argv, optstring, table, NULL)) != -1) {
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
        case 'd':
            o->db = optarg;
            break;
        case 'n':
            o->capability = optarg;
            break;
        case 'J':
            o->json = 1;
            break;
        case 'P':
            o->progress = optarg;
            break;
        case JX__OPT_SCOPE:
            o->scope_id = optarg;
            break;
        case JX__OPT_INCIDENT:
            o->incident = optarg;
            break;
        case JX__OPT_ACTION:
            if (o->n_actions == sizeof o->actions / sizeof o->actions[0])
                return bad_usage(cmd, "more than %zu --action options",
                                 o->n_actions);
            o->actions[o->n_actions++] = optarg;
            break;
        case JX__OPT_MAX_ATTEMPTS:
            o->max_attempts = optarg;
            break;
        case JX__OPT_TTL:
            o->ttl = optarg;
            break;
        case JX__OPT_INTENT:
            o->intent = optarg;
            break;
        case JX__OPT_MAX_COST:
            o->max_cost = optarg;
            break;
        case JX__OPT_CREATED_BY:
            o->created_by = optarg;
            break;
        case JX__OPT_CONFIG_SECTION:
            o->config_section = optarg;
            break;
        case JX__OPT_STEP:
            o->step = optarg;
            break;
        case JX__OPT_RUN:
            o->run = 1;
            break;
        case JX__OPT_FORMAT:
            o->format = optarg;
            break;
        case JX__OPT_KEY:
            o->key = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case JX__OPT_CONCURRENCY:
            o->concurrency = optarg;
            break;
        case JX__OPT_NAME:
            o->name = optarg;
            break;
        case JX__OPT_LEASE:
            o->lease = optarg;
            break;
        case JX__OPT_POLL:
            o->poll = optarg;
            break;
        case JX__OPT_ONCE:
            o->once = 1;
            break;
        case JX__OPT_MIGRATE:
            o->migrate = 1;
            break;
        case JX__OPT_RESCUE:
            o->rescue = optarg;
            break;
        case JX__OPT_RESCUE_ONCE:
            o->rescue_once = 1;
            break;
        case JX__OPT_STATUS:
            o->status = optarg;
            break;
        case JX__OPT_LIMIT:
            o->limit = optarg;
            break;
        case 'a':
            o->attempt = optarg;
            break;
        case 'e':
            o->error = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'q':
            o->quiet = 1;
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
    options o = {0};
    const command *cmd = NULL;
    int rc;

    hold_standard_fds();

    /* "+": stop at the first operand (the command), then parse again. */
    if ((rc = parse_options(argc, argv, "+:c:vhV", &o, NULL)) >= 0)
        return finish_stdout(rc);
    if (optind >= argc)
        return bad_usage(NULL, "missing command (run, check, plugins, "
                               "plugin, evidence, keygen, registry, scope, "
                               "worker, submit, jobs, retry-advice, help)");
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
    jx_set_log_handler(jx__cli_log_to_stderr, &o);
    rc = cmd->run(&o);
    /* run reports a lost document itself: the job ran regardless. */
    return cmd == &jx__cli_run ? rc : finish_stdout(rc);
}
