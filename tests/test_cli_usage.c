/*
 * test_cli_usage.c - the jobexec command's version, help and bad usage:
 * --version, the main help and each command's (as `help CMD`, `CMD
 * --help` and `CMD -h`), help lost to a full standard output, and every
 * usage error (no or unknown command, unknown options, an option of
 * another command, a flag given a value, an option without one, a missing
 * or extra operand) with exit 2 and its exact message.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

#define TRY_MAIN "Try 'jobexec --help' for more information.\n"

#define RUN_USAGE                                                            \
    "Usage: jobexec run [--config FILE] [--verbose] [--quiet] "              \
    "[--progress MODE] PLAN|-\n"                                             \
    "Run the plan in PLAN (YAML or JSON; - reads standard input).\n"         \
    "\n"                                                                     \
    "Steps run in order; the job stops at the first step that fails.\n"      \
    "The evidence document (JSON) is written to standard output as the "     \
    "job\nruns; the config's evidence.log, when set, receives one record "   \
    "per event.\nA one-line summary of how the job ended goes to standard "  \
    "error.\n"                                                               \
    "SIGINT or SIGTERM cancels the job: the running step is asked to "       \
    "stop, no\nfurther step starts, and the job ends CANCELLED.  A second "  \
    "one says which\nstep the job waits for; a third ends jobexec at once "  \
    "(exit 3), the job's\nevidence incomplete.\n"                            \
    "\n"                                                                     \
    "  -P, --progress MODE  progress on standard error: line (a line "       \
    "redrawn in\n"                                                           \
    "                       place; the default when standard error is a "   \
    "terminal),\n"                                                           \
    "                       json (one JSON object per event), or none\n"    \
    "  -q, --quiet          no summary line on standard error\n"            \
    "  --scope ID --incident ID --action A\n"                               \
    "                       run only as the scope ID allows (see jobexec "   \
    "scope):\n"                                                              \
    "                       refused, no step runs, and the exit status is "  \
    "5\n"                                                                    \
    "\n"                                                                     \
    "Exit status: 0 completed, 1 failed or cancelled, 2 bad config or plan " \
    "(nothing\nran), 3 internal error, 5 refused by the scope gate.\n"

#define CHECK_USAGE                                                          \
    "Usage: jobexec check [--config FILE] [--json] [PLAN|-]\n"               \
    "Load the config and every plugin it names, and, given a plan, check "   \
    "that\nevery step has a handler and that each handler's validate "       \
    "accepts it.\nNothing runs, and the evidence log is only checked, never " \
    "created or changed.\nWith --json, one JSON document on standard "       \
    "output: {ok: true, config,\nplugins, plan} or {ok: false, file, line, " \
    "column, reason, error, message}.\nExit status: 0 valid, 2 invalid (an " \
    "evidence log that cannot be opened or\ncreated among them), 3 "         \
    "internal error.\n"

#define PLUGINS_USAGE                                                        \
    "Usage: jobexec plugins [--config FILE] [--json]\n"                      \
    "List the plugins the config loads: name, version, ABI, whether they "   \
    "run\nin-process (and are thread-safe) or isolated (how many runners, "   \
    "as which\nuser), the file, and the step types bound to them.\nWith "   \
    "--json, one JSON array of {name, version, abi_version, file,\n"        \
    "isolated, thread_safe, health_observer, runners, runner_user, "         \
    "step_types}.\n"


/* ---- version and help --------------------------------------------------- */

static void test_version(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--version");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "-V");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");
}

static void test_help_main(void **state)
{
    static const char *const forms[] = {"--help", "-h", "help"};
    fixture *f = *state;

    for (size_t i = 0; i < 3; i++) {
        JOBEXEC(f, NULL, forms[i]);
        assert_int_equal(f->p.status, 0);
        assert_main_usage(f->p.out, BUILD_CONFIG);
        assert_string_equal(f->p.err, "");
    }
}

/* A command's help, reached as `help CMD`, `CMD --help` and `CMD -h`. */
static void assert_command_help(fixture *f, const char *cmd, const char *text)
{
    const char *const forms[][2] = {{"help", cmd}, {cmd, "--help"},
                                    {cmd, "-h"}};

    for (size_t i = 0; i < 3; i++) {
        JOBEXEC(f, NULL, forms[i][0], forms[i][1]);
        assert_int_equal(f->p.status, 0);
        assert_string_equal(f->p.out, text);
        assert_string_equal(f->p.err, "");
    }
}

static void test_help_run(void **state)
{
    assert_command_help(*state, "run", RUN_USAGE);
}

static void test_help_check(void **state)
{
    assert_command_help(*state, "check", CHECK_USAGE);
}

static void test_help_plugins(void **state)
{
    assert_command_help(*state, "plugins", PLUGINS_USAGE);
}

/* usage lists `help [COMMAND]`: help is one of the topics. */
static void test_help_help(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "help", "help");
    assert_int_equal(f->p.status, 0);
    assert_main_usage(f->p.out, BUILD_CONFIG);
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "help", "help", "run");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'run'\n"
                              TRY_MAIN);
}

/* Help and version are answers too: a lost write is an error. */
static void test_help_stdout_full(void **state)
{
    static const char *const forms[][3] = {
        {"--help", NULL}, {"--version", NULL}, {"-V", NULL},
        {"help", NULL},   {"help", "run"},     {"run", "--help"}};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const char *const argv[] = {TU_JOBEXEC, forms[i][0], forms[i][1],
                                    NULL};
        fx_spawn(f, argv, NULL, OUT_DEV_FULL);
        assert_int_equal(f->p.status, 3);
        assert_string_equal(f->p.err,
                            "jobexec: cannot write to standard output\n");
    }
}

/* --help wins over the rest of the line: nothing is loaded. */
static void test_help_before_operands(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--config", "/nonexistent.yaml", "--help");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, RUN_USAGE);
    assert_string_equal(f->p.err, "");
}

/* ---- bad usage ---------------------------------------------------------- */

static void test_no_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, NULL);
    assert_usage_error(&f->p, "jobexec: missing command (run, check, "
                              "plugins, plugin, evidence, keygen, registry, scope, "
                              "worker, submit, jobs, retry-advice, help)\n" TRY_MAIN);

    /* Options alone are no command either. */
    JOBEXEC(f, NULL, "--verbose");
    assert_usage_error(&f->p, "jobexec: missing command (run, check, "
                              "plugins, plugin, evidence, keygen, registry, scope, "
                              "worker, submit, jobs, retry-advice, help)\n" TRY_MAIN);
}

static void test_unknown_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "frobnicate", EXAMPLE_PLAN);
    assert_usage_error(&f->p,
                       "jobexec: unknown command 'frobnicate'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "help", "frobnicate");
    assert_usage_error(&f->p,
                       "jobexec: unknown command 'frobnicate'\n" TRY_MAIN);
}

/* Try lines: the program's help, or the command's. */
#define TRY_CMD(cmd) "Try 'jobexec " cmd " --help' for more information.\n"

/* Every message names the program (never argv[0]'s path) and points to
 * the help of the command in use. */
static void test_unknown_option(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--bogus", "run", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: unknown option '--bogus'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "-x");
    assert_usage_error(&f->p, "jobexec: unknown option '-x'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "run", "--bogus", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: unknown option '--bogus'\n"
                              TRY_CMD("run"));

    /* After the operand too: options may follow it. */
    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN, "-x");
    assert_usage_error(&f->p, "jobexec: unknown option '-x'\n"
                              TRY_CMD("check"));
}

/* An option of another command is named, not mistaken for its value, in
 * its long form and its short one alike. */
static void test_option_of_another_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--pubkey", "k.pub", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--pubkey' does not apply "
                              "to 'run'\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "-k", "k.pub", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '-k' does not apply "
                              "to 'run'\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "keygen", "--job=x", "key");
    assert_usage_error(&f->p, "jobexec: option '--job' does not apply "
                              "to 'keygen'\n" TRY_CMD("keygen"));

    JOBEXEC(f, NULL, "--config", "c.yaml", "evidence", "verify", "log");
    assert_usage_error(&f->p, "jobexec: option '--config' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    JOBEXEC(f, NULL, "evidence", "verify", "log", "--config", "x");
    assert_usage_error(&f->p, "jobexec: option '--config' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    JOBEXEC(f, NULL, "evidence", "verify", "log", "-c", "x");
    assert_usage_error(&f->p, "jobexec: option '-c' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    /* Before any command, only the program's own options apply. */
    JOBEXEC(f, NULL, "--pubkey", "k.pub", "run", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--pubkey' does not apply "
                              "here\n" TRY_MAIN);

    JOBEXEC(f, NULL, "evidence", "verify");
    assert_usage_error(&f->p, "jobexec: missing what to do and the log: "
                              "evidence verify|show|export FILE\n"
                              TRY_CMD("evidence"));
}

/* getopt_long calls "--verbose=1" an unknown 'v': it is a flag given a
 * value, named in full even when abbreviated. */
static void test_flag_with_value(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--verbose=1", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--verbose' takes no value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "--verb=1", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--verbose' takes no value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "--help=x");
    assert_usage_error(&f->p, "jobexec: option '--help' takes no value\n"
                              TRY_MAIN);

    JOBEXEC(f, NULL, "evidence", "show", "log", "--version=2");
    assert_usage_error(&f->p, "jobexec: option '--version' takes no value\n"
                              TRY_CMD("evidence"));

    /* A short option after a long one with a value is still short. */
    JOBEXEC(f, NULL, "evidence", "verify", "log", "--pubkey=k", "-cx");
    assert_usage_error(&f->p, "jobexec: option '-c' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));
}

static void test_option_without_value(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins", "--config");
    assert_usage_error(&f->p, "jobexec: option '--config' needs a value\n"
                              TRY_CMD("plugins"));

    JOBEXEC(f, NULL, "run", EXAMPLE_PLAN, "-c");
    assert_usage_error(&f->p, "jobexec: option '-c' needs a value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "--config");
    assert_usage_error(&f->p, "jobexec: option '--config' needs a value\n"
                              TRY_MAIN);
}

/* The global options work after the command as well. */
static void test_options_after_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--version", EXAMPLE_PLAN);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", E2E "/plan.yaml", "--config",
            E2E "/config-health.yaml", "-v");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 3 steps, job " PLAN_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");
}

static void test_run_without_plan(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run");
    assert_usage_error(&f->p, "jobexec: missing PLAN (a file, or - for "
                              "standard input)\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-fail.yaml");
    assert_usage_error(&f->p, "jobexec: missing PLAN (a file, or - for "
                              "standard input)\n" TRY_CMD("run"));
}

static void test_extra_argument(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", EXAMPLE_PLAN, "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN, "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("check"));

    JOBEXEC(f, NULL, "plugins", "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("plugins"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_version),
        TEST(test_help_main),
        TEST(test_help_run),
        TEST(test_help_check),
        TEST(test_help_plugins),
        TEST(test_help_before_operands),
        TEST(test_help_help),
        TEST(test_help_stdout_full),
        TEST(test_no_command),
        TEST(test_unknown_command),
        TEST(test_unknown_option),
        TEST(test_option_of_another_command),
        TEST(test_flag_with_value),
        TEST(test_option_without_value),
        TEST(test_options_after_command),
        TEST(test_run_without_plan),
        TEST(test_extra_argument),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
