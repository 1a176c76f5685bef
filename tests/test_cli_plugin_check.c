/*
 * test_cli_plugin_check.c - `jobexec plugin check FILE` against the
 * fixture plugins: the descriptor it prints, every load refusal with its
 * exact message and exit 2, a failing init, validate refusing and
 * accepting (exit 1 and 0), a step run in a runner, and bad YAML.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli_util.h"

#define FIXTURES TU_BUILDDIR "/tests/plugins/.libs"
#define ECHO FIXTURES "/echo.so"
#define REFUSES FIXTURES "/refuses.so"

/* The last run: exit status, stdout and stderr exactly. */
static void assert_run(const fixture *f, int status, const char *out,
                       const char *err)
{
    assert_string_equal(f->p.out, out);
    assert_string_equal(f->p.err, err);
    assert_int_equal(f->p.status, status);
}

/* A fixture outside jobexec's plugin folder runs isolated by default. */
static void test_plugin_check_descriptor(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugin", "check", ECHO);
    assert_run(f, 0,
               "plugin: echo 1.0.0 (abi 1)\n"
               "file: " ECHO "\n"
               "runs: isolated (1 runner as nobody:nogroup)\n"
               "flags: not read (isolated)\n"
               "step types: echo\n"
               "init: OK\n",
               "");

    /* The section decides, as a config entry would; bound types add. */
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--config-section",
            "{isolation: inproc, step_types: [say]}");
    assert_run(f, 0,
               "plugin: echo 1.0.0 (abi 1)\n"
               "file: " ECHO "\n"
               "runs: in-process\n"
               "flags: thread-safe\n"
               "step types: echo say\n"
               "init: OK\n",
               "");
}

/* Each load refusal is the loader's own message, and exit 2: nothing of
 * the plugin's code ran. */
static void test_plugin_check_not_a_plugin(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/bad_magic.so");
    assert_run(f, 2, "",
               "jobexec: plugin '" FIXTURES "/bad_magic.so': "
               "step_handler_v1 has magic 0x00000000deadbeef, expected "
               "0x4a58535445500001\n");
    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/wrong_abi.so");
    assert_run(f, 2, "",
               "jobexec: plugin '" FIXTURES "/wrong_abi.so': "
               "step_handler_v1 has abi_version 2, expected 1\n");
    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/short_size.so");
    assert_run(f, 2, "",
               "jobexec: plugin '" FIXTURES "/short_size.so': "
               "step_handler_v1 has struct_size 16, expected at least 80\n");
    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/no_symbol.so");
    assert_run(f, 2, "",
               "jobexec: plugin '" FIXTURES "/no_symbol.so': exports "
               "neither step_handler_v1 nor health_observer_v1: looked for "
               "no_symbol_LTX_step_handler_v1 and "
               "no_symbol_LTX_health_observer_v1, as "
               "JX_STEP_HANDLER(no_symbol) and JX_HEALTH_OBSERVER(no_symbol) "
               "name them (the prefix comes from the file's name: a module "
               "renamed after it was built keeps its old one)\n");
    /* ".so" is added to a name without a dot, as in a config. */
    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/missing");
    assert_run(f, 2, "",
               "jobexec: plugin '" FIXTURES "/missing.so': cannot open: No "
               "such file or directory\n");
}

/* The loader's file checks: a module others may write is refused. */
static void test_plugin_check_unsafe_file(void **state)
{
    fixture *f = *state;
    const char *copy = fx_printf(f, "%s/echo.so", fx_dir(f));
    char *cmd = fx_printf(f, "cp '%s' '%s'", ECHO, copy);

    assert_int_equal(system(cmd), 0);
    assert_int_equal(chmod(copy, 0664), 0);
    JOBEXEC(f, NULL, "plugin", "check", copy);
    assert_run(f, 2, "",
               fx_printf(f, "jobexec: plugin '%s': writable by group or "
                            "others (mode 0664), expected it writable by "
                            "its owner only\n",
                         copy));
}

/* init's refusal is the plugin saying no: exit 1; its config is the
 * section's config. */
static void test_plugin_check_init(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugin", "check", FIXTURES "/init_fails.so");
    assert_run(f, 1, "",
               "jobexec: plugin '" FIXTURES "/init_fails.so': init failed: "
               "cannot reach the inventory service\n");
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--config-section",
            "isolation: inproc\nconfig: {sink: [1]}\n");
    assert_run(f, 1, "",
               "jobexec: --config-section:1:1: plugin '" ECHO "': init "
               "failed: sink must be a path\n");
}

#define REFUSES_HEAD                                                         \
    "plugin: refuses 1.0.0 (abi 1)\n"                                        \
    "file: " REFUSES "\n"                                                    \
    "runs: in-process\n"                                                     \
    "flags: thread-safe\n"                                                   \
    "step types: guarded\n"                                                  \
    "init: OK\n"

static void test_plugin_check_validate(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugin", "check", REFUSES, "--config-section",
            "isolation: inproc", "--step", "{step_type: guarded}");
    assert_run(f, 1, REFUSES_HEAD "validate: refused\n",
               "jobexec: --step:1:1: step 0 refused by 'refuses': target "
               "must be set\n");
    JOBEXEC(f, NULL, "plugin", "check", REFUSES, "--config-section",
            "isolation: inproc", "--step",
            "{step_type: guarded, target: A, parameters: {allowed: true}}");
    assert_run(f, 0, REFUSES_HEAD "validate: accepted\n", "");
    /* A type the plugin does not handle is a question it cannot answer. */
    JOBEXEC(f, NULL, "plugin", "check", REFUSES, "--config-section",
            "isolation: inproc", "--step", "{step_type: other}");
    assert_run(f, 2, REFUSES_HEAD,
               "jobexec: --step: step type 'other' is not one that "
               "'refuses' handles; bind it with step_types in "
               "--config-section\n");
}

/* --run runs the step in a runner even when the section says inproc:
 * what the step writes on stderr is kept, as only a runner does. */
static void test_plugin_check_run(void **state)
{
    fixture *f = *state;
    const char *step = fx_printf(f, "%s/step.yaml", fx_dir(f));
    FILE *fp = fopen(step, "w");

    assert_non_null(fp);
    fputs("step_type: echo\nparameters:\n  who: world\n", fp);
    fclose(fp);
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--config-section",
            "{isolation: inproc, config: {stderr: true}}", "--step",
            fx_printf(f, "@%s", step), "--run");
    assert_int_equal(f->p.status, 0);
    assert_non_null(strstr(f->p.out, "\nvalidate: accepted\n"
                                     "run: COMPLETED (echo, "));
    assert_true(ends_with(f->p.out,
                          " s)\n"
                          "output: {\"who\":\"world\",\"world\":\"who\"}\n"
                          "stderr: echo: who=world\\n\n"));

    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--step",
            "{step_type: echo, parameters: {fail: 1}}", "--run");
    assert_int_equal(f->p.status, 1);
    assert_true(ends_with(f->p.out, "validate: accepted\n"
                                    "run: FAILED: failed with fail=1\n"));
}

static void test_plugin_check_usage(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--config-section",
            "isolation: bogus");
    assert_run(f, 2, "",
               "jobexec: --config-section:1:12: isolation must be inproc or "
               "process, found 'bogus'\n");
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--config-section",
            "{path: x, colour: red}");
    assert_run(f, 2, "",
               "jobexec: --config-section:1:11: unknown key 'colour' in a "
               "plugin entry\n");
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--step", "[1, 2]");
    assert_int_equal(f->p.status, 2);
    assert_true(ends_with(f->p.err, "jobexec: --step:1:1: a step must be a "
                                    "mapping, found a sequence\n"));
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--step", "@/nonexistent");
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.err, "jobexec: /nonexistent: cannot read: No "
                                  "such file or directory\n");
    JOBEXEC(f, NULL, "plugin", "check", ECHO, "--run");
    assert_usage_error(&f->p, "jobexec: --run needs --step\nTry 'jobexec "
                              "plugin --help' for more information.\n");
    JOBEXEC(f, NULL, "plugin", "list", ECHO);
    assert_usage_error(&f->p, "jobexec: unknown plugin command 'list' "
                              "(check)\nTry 'jobexec plugin --help' for "
                              "more information.\n");
    JOBEXEC(f, NULL, "plugin", "check");
    assert_usage_error(&f->p, "jobexec: missing what to do and the module: "
                              "plugin check FILE\nTry 'jobexec plugin "
                              "--help' for more information.\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_plugin_check_descriptor),
        TEST(test_plugin_check_not_a_plugin),
        TEST(test_plugin_check_unsafe_file),
        TEST(test_plugin_check_init),
        TEST(test_plugin_check_validate),
        TEST(test_plugin_check_run),
        TEST(test_plugin_check_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
