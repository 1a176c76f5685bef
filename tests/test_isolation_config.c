/*
 * test_isolation_config.c - the config's isolation and runner settings:
 * which plugins run isolated by default, and every refusal with its exact
 * error (bad values and ranges, runners on an in-process plugin, a config
 * name that is not UTF-8, observers that would run isolated, a runner that
 * is missing or loads under too tight limits).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "isolation_util.h"

#define BOTH TU_FIXTURES "/both.so" /* a handler and an observer */

/* A config file name that is not UTF-8 cannot be told to the runner;
 * that is said, not reported as "out of memory". */
static void test_config_name_not_utf8(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "", "");
    jx_config *cfg = NULL;

    if (jx_config_parse(text, strlen(text), "cfg\xe9.yaml", TU_PLUGINS, &cfg,
                        &f->err) != 0)
        fail_msg("config: %s", f->err.message);
    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ECONFIG);
    /* Messages are UTF-8 themselves: the stray byte is shown escaped. */
    assert_string_equal(f->err.message,
                        "cfg\\xe9.yaml:2:11: plugin '" MISBEHAVE "': an "
                        "isolated plugin needs a plugin path and config file "
                        "name that are valid UTF-8");
    jx_config_free(cfg);
    free(text);
}

/* An observer-only plugin cannot be isolated; the refusal says what
 * to write instead. */
static void test_isolated_observer_refused(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " TU_PLUGINS "/health_static.so\n"
                               "    isolation: process\n"
                               "runner:\n"
                               "  path: " TU_RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_EABI);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" TU_PLUGINS
                        "/health_static.so': exports no step_handler_v1 (an "
                        "isolated plugin must handle steps; health observers "
                        "run in-process: set isolation: inproc to trust it)");
    jx_config_free(cfg);
}

/* Too tight a limit leaves the runner no descriptor to open the module
 * with; the message names the limits it loaded under. */
static void test_load_under_tight_limits(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "  max_open_files: 3\n", "");
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ELOAD);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" MISBEHAVE "': cannot "
                        "open: Too many open files (in the runner, under "
                        "runner.max_address_space_mb: 2048 and "
                        "runner.max_open_files: 3)");
    jx_config_free(cfg);
    free(text);
}

/* runners on a plugin that runs in-process would promise parallel
 * runners that never start. */
static void test_plugin_runners_inproc(void **state)
{
    fixture *f = *state;
    char *text = config_text("    isolation: inproc\n    runners: 2\n", "",
                             "");
    jx_config *cfg = parse_config(text, &f->err);

    assert_int_equal(jx_executor_new(cfg, &f->ex, &f->err), JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:4:14: plugin '" MISBEHAVE "' runs "
                        "in-process; runners applies only to isolation: "
                        "process");
    jx_config_free(cfg);
    free(text);
}

/* ---- config ------------------------------------------------------------- */

/* Shipped plugins (in the plugin folder) run in-process, others isolated,
 * unless the entry says otherwise. */
static void test_isolation_defaults(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: noop\n"
                               "  - path: fail\n"
                               "    isolation: process\n"
                               "  - path: " MISBEHAVE "\n"
                               "runner:\n"
                               "  path: " TU_RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);
    jx_plugin_info info;
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    if (rc != 0)
        fail_msg("executor: %s", f->err.message);
    assert_int_equal(jx_executor_plugin_count(f->ex), 3);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_string_equal(info.name, "noop");
    assert_int_equal(info.isolated, 0);
    assert_int_equal(info.runners, 0);
    assert_null(info.runner_user);
    assert_int_equal(jx_executor_plugin_info(f->ex, 1, &info), 0);
    assert_string_equal(info.name, "fail");
    assert_int_equal(info.isolated, 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 2, &info), 0);
    assert_string_equal(info.name, "misbehave");
    assert_int_equal(info.isolated, 1);
    assert_int_not_equal(well_pid(f), getpid());
}

/* Parses text; the parse must fail with code and exactly message. */
static void assert_config_error(const char *text, int code,
                                const char *message)
{
    jx_config *cfg = NULL;
    jx_error err = {0, ""};

    assert_int_equal(jx_config_parse(text, strlen(text), "test.yaml",
                                     TU_PLUGINS, &cfg, &err),
                     code);
    assert_null(cfg);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
}

static void test_config_isolation_bogus(void **state)
{
    (void)state;
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    isolation: bogus\n",
                        JX_ECONFIG,
                        "test.yaml:3:16: isolation must be inproc or "
                        "process, found 'bogus'");
}

static void test_config_runner_path_relative(void **state)
{
    jx_config *cfg;
    jx_error err;

    (void)state;
    assert_config_error("runner:\n"
                        "  path: libexec/jobexec-runner\n",
                        JX_ECONFIG,
                        "test.yaml:2:9: runner.path 'libexec/jobexec-runner' "
                        "must be an absolute path");
    cfg = parse_config("runner: {max_open_files: 10}\n", &err);
    assert_int_equal(jx_config_set_runner_path(cfg, "jobexec-runner"),
                     JX_EINVAL);
    assert_int_equal(jx_config_set_runner_path(cfg, TU_RUNNER), 0);
    jx_config_free(cfg);
}

static void test_config_max_open_files_zero(void **state)
{
    (void)state;
    assert_config_error("runner:\n"
                        "  max_open_files: 0\n",
                        JX_ECONFIG,
                        "test.yaml:2:19: runner.max_open_files must be "
                        "between 1 and 1048576, found 0");
}

static void test_config_max_per_plugin_zero(void **state)
{
    (void)state;
    assert_config_error("runner:\n"
                        "  max_per_plugin: 0\n",
                        JX_ECONFIG,
                        "test.yaml:2:19: runner.max_per_plugin must be "
                        "between 1 and 256, found 0");
}

static void test_config_plugin_runners_range(void **state)
{
    (void)state;
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    runners: 257\n",
                        JX_ECONFIG,
                        "test.yaml:3:14: runners must be between 1 and 256, "
                        "found 257");
    assert_config_error("plugins:\n"
                        "  - path: " MISBEHAVE "\n"
                        "    runners: 0\n",
                        JX_ECONFIG,
                        "test.yaml:3:14: runners must be between 1 and 256, "
                        "found 0");
}

static void test_runner_missing(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " MISBEHAVE "\n"
                               "runner:\n"
                               "  path: /nonexistent/jobexec-runner\n";
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    assert_int_equal(rc, JX_ELOAD);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:2:11: plugin '" MISBEHAVE "': cannot "
                        "start the runner '/nonexistent/jobexec-runner': No "
                        "such file or directory");
    assert_non_null(strstr(f->err.message, "cannot start the runner"));
}

static void test_observer_isolated(void **state)
{
    fixture *f = *state;
    char *text = config_text("", "",
                             "health:\n"
                             "  observer: " MISBEHAVE "\n");
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    free(text);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:6:13: health observer '" MISBEHAVE
                        "' runs isolated; observers run in-process (set "
                        "isolation: inproc)");
    /* The runner started for it is gone, with its cgroup. */
    assert_int_equal(count_zombie_children(), 0);
    assert_int_equal(count_runner_cgroups(), 0);
}

/* Named by its descriptor's name rather than its path, the plugin is just
 * as configured, and just as isolated. */
static void test_observer_isolated_by_name(void **state)
{
    fixture *f = *state;
    static const char text[] = "plugins:\n"
                               "  - path: " BOTH "\n"
                               "health:\n"
                               "  observer: both\n"
                               "runner:\n"
                               "  path: " TU_RUNNER "\n";
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "test.yaml:4:13: health observer 'both' runs "
                        "isolated; observers run in-process (set isolation: "
                        "inproc)");
    assert_int_equal(count_zombie_children(), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_plugin_runners_inproc),
        T(test_config_name_not_utf8),
        T(test_isolated_observer_refused),
        T(test_load_under_tight_limits),
        T(test_config_max_per_plugin_zero),
        T(test_config_plugin_runners_range),
        T(test_isolation_defaults),
        T(test_config_isolation_bogus),
        T(test_config_runner_path_relative),
        T(test_config_max_open_files_zero),
        T(test_runner_missing),
        T(test_observer_isolated),
        T(test_observer_isolated_by_name),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
