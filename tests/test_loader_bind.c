/*
 * test_loader_bind.c - what the loader binds once files are accepted:
 * step types bound twice, a health observer that is not one, the shipped
 * plugins, jx_executor_plugin_info, a module that is handler and observer
 * at once, all-or-nothing start-up (a later plugin's failure unloads the
 * earlier ones), in-process registration and its refusals, and the
 * fixture plugins behaving as other suites rely on.
 *
 * Each test copies the .so files it needs into a private temp folder.
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "loader_util.h"

/* Runs a plan (PLAN_HEAD + steps) and returns its evidence document. */
static json_t *run(fixture *f, const char *steps)
{
    char *text, *buf = NULL;
    size_t len = 0;
    json_error_t jerr;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    int rc;

    assert_true(asprintf(&text, PLAN_HEAD "%s", steps) > 0);
    jx_plan_free(f->plan);
    f->plan = NULL;
    rc = jx_plan_parse(text, strlen(text), "plan.yaml", &f->plan, &f->err);
    free(text);
    if (rc != 0)
        fail_msg("plan refused: %s", f->err.message);
    jx_result_free(f->res);
    f->res = NULL;
    opts.document = open_memstream(&buf, &len);
    assert_non_null(opts.document);
    rc = jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err);
    fclose(opts.document);
    json_decref(f->doc);
    f->doc = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (rc != 0)
        fail_msg("run failed: %s", f->err.message);
    if (f->doc == NULL)
        fail_msg("evidence document is not JSON: %s", jerr.text);
    return f->doc;
}

static json_t *step_output(const json_t *doc, size_t i)
{
    json_t *step = json_array_get(json_object_get(doc, "step_results"), i);
    assert_non_null(step);
    return json_object_get(step, "output");
}

static json_int_t output_int(const json_t *doc, size_t i, const char *key)
{
    json_t *v = json_object_get(step_output(doc, i), key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Asserts that list (NULL-terminated) is exactly the n names given. */
static void assert_types(const char *const *list, size_t n, ...)
{
    va_list ap;
    size_t i;

    assert_non_null(list);
    va_start(ap, n);
    for (i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        assert_non_null(list[i]);
        assert_string_equal(list[i], want);
    }
    va_end(ap);
    assert_null(list[n]);
}

/* Whether the dynamic linker still has the module at path mapped. */
static int still_mapped(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

    if (h == NULL)
        return 0;
    dlclose(h); /* drop the reference NOLOAD took */
    return 1;
}

/* ---- binding and health ------------------------------------------------- */

static void test_step_type_bound_twice(void **state)
{
    fixture *f = *state;
    int rc;

    put_shipped(f, "noop");
    put_fixture(f, "counting", 0644);
    rc = load(f, "plugins:\n"
                 "  - path: noop\n"
                 "    step_types: [count]\n"
                 "  - path: counting\n");
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":5:11: step type 'count' is bound to both "
                 "'noop' (%s/noop.so) and 'counting' (%s/counting.so)",
                 f->dir, f->dir);
}

static void test_step_type_bound_twice_other_order(void **state)
{
    fixture *f = *state;
    int rc;

    /* The plugin's own type first, then the config binding it again. */
    put_shipped(f, "noop");
    put_fixture(f, "counting", 0644);
    rc = load(f, "plugins:\n"
                 "  - path: counting\n"
                 "  - path: noop\n"
                 "    step_types: [other, count]\n");
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":4:11: step type 'count' is bound to both "
                 "'counting' (%s/counting.so) and 'noop' (%s/noop.so)",
                 f->dir, f->dir);
}

static void test_step_types_on_observer_only_plugin(void **state)
{
    fixture *f = *state;
    int rc;

    put_shipped(f, "health_static");
    rc = load(f, "plugins:\n"
                 "  - path: health_static\n"
                 "    step_types: [capability_enable]\n");
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":3:11: plugin '%s/health_static.so': step_types "
                 "given, but it exports no step_handler_v1",
                 f->dir);
}

static void test_observer_not_configured(void **state)
{
    fixture *f = *state;
    int rc;

    put_shipped(f, "noop");
    rc = load(f, "plugins:\n"
                 "  - path: noop\n"
                 "health:\n"
                 "  observer: health_static\n");
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":5:13: health observer 'health_static' is not "
                 "one of the configured plugins");
}

static void test_observer_without_observer_symbol(void **state)
{
    fixture *f = *state;
    int rc;

    put_shipped(f, "noop");
    rc = load(f, "plugins:\n"
                 "  - path: noop\n"
                 "health:\n"
                 "  observer: noop\n");
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":5:13: health observer 'noop' (%s/noop.so) "
                 "exports no health_observer_v1",
                 f->dir);
}

/* ---- good paths --------------------------------------------------------- */

static void test_shipped_plugins_load(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;
    json_t *doc;

    /* Straight from the build tree, as `jobexec` run from it does. */
    if (load_from(f, TU_PLUGINS,
                  "plugins:\n"
                  "  - path: noop\n"
                  "    step_types: [capability_enable]\n"
                  "  - path: fail\n"
                  "    step_types: [bad]\n"
                  "    config: {error_message: Boom}\n"
                  "  - path: health_static\n"
                  "    config: {snapshot: {cpu: ok}}\n"
                  "health:\n"
                  "  observer: health_static\n") != 0)
        fail_msg("executor refused: %s", f->err.message);
    assert_int_equal(jx_executor_plugin_count(f->ex), 3);

    get_info(f, 0, &info);
    assert_string_equal(info.name, "noop");
    assert_string_equal(info.path, TU_PLUGINS "/noop.so");
    assert_types(info.step_types, 1, "capability_enable");
    get_info(f, 1, &info);
    assert_string_equal(info.name, "fail");
    assert_string_equal(info.path, TU_PLUGINS "/fail.so");
    assert_types(info.step_types, 1, "bad");
    get_info(f, 2, &info);
    assert_string_equal(info.name, "health_static");
    assert_string_equal(info.path, TU_PLUGINS "/health_static.so");
    assert_false(info.has_handler);
    assert_true(info.is_health_observer);

    doc = run(f, "  - {step_index: 0, step_type: capability_enable, "
                 "target: A}\n"
                 "  - {step_index: 1, step_type: bad, target: B}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), "Step 1 failed: Boom");
    assert_string_equal(
        json_string_value(json_object_get(step_output(doc, 0), "handler")),
        "noop");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "health_observations"),
                            "before"),
            "cpu")),
        "ok");
}

static void test_plugin_info(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    put_fixture(f, "counting", 0644);
    put_fixture(f, "serial", 0644);
    put_shipped(f, "health_static");
    load_ok(f, "plugins:\n"
               "  - path: counting\n"
               "  - path: serial\n"
               "  - path: health_static\n"
               "health:\n"
               "  observer: health_static\n");
    assert_int_equal(jx_executor_plugin_count(f->ex), 3);

    get_info(f, 0, &info);
    assert_string_equal(info.name, "counting");
    assert_string_equal(info.version, "1.0.0");
    assert_string_equal(info.path, in_dir(f, "counting.so"));
    assert_int_equal(info.abi_version, 1);
    assert_true(info.thread_safe);
    assert_true(info.has_handler);
    assert_false(info.is_health_observer);
    assert_types(info.step_types, 1, "count");

    get_info(f, 1, &info);
    assert_string_equal(info.name, "serial");
    assert_string_equal(info.version, "1.0.0");
    assert_string_equal(info.path, in_dir(f, "serial.so"));
    assert_int_equal(info.abi_version, 1);
    assert_false(info.thread_safe);
    assert_true(info.has_handler);
    assert_false(info.is_health_observer);
    assert_types(info.step_types, 1, "serial");

    get_info(f, 2, &info);
    assert_string_equal(info.name, "health_static");
    assert_string_equal(info.version, "1.0.0");
    assert_string_equal(info.path, in_dir(f, "health_static.so"));
    assert_int_equal(info.abi_version, 1);
    assert_true(info.thread_safe);
    assert_false(info.has_handler);
    assert_true(info.is_health_observer);
    /* It handles nothing: an empty list, never NULL. */
    assert_types(info.step_types, 0);

    assert_int_equal(jx_executor_plugin_info(f->ex, 3, &info), JX_EINVAL);
}

static void test_handler_and_observer_in_one_module(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;
    json_t *doc, *health;

    put_fixture(f, "both", 0644);
    load_ok(f, "plugins:\n"
               "  - path: both\n"
               "health:\n"
               "  observer: both\n");
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    get_info(f, 0, &info);
    assert_string_equal(info.name, "both");
    assert_true(info.has_handler);
    assert_true(info.is_health_observer);
    assert_types(info.step_types, 1, "both_step");

    doc = run(f, "  - {step_index: 0, step_type: both_step, target: T}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_true(json_is_true(json_object_get(step_output(doc, 0), "done")));
    /* Observed once before the job and once after its one step. */
    health = json_object_get(doc, "health_observations");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(health, "before"), "observations")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(health, "after"), "observations")),
                     2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(health, "after"), "status")),
                        "green");
}

static void test_descriptor_and_config_types_bound(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;
    json_t *doc;

    put_fixture(f, "counting", 0644);
    /* "count" is the plugin's own and listed again: bound once. */
    load_ok(f, "plugins:\n"
               "  - path: counting\n"
               "    step_types: [tally, count]\n"
               "    config: {start: 40}\n");
    get_info(f, 0, &info);
    assert_types(info.step_types, 2, "count", "tally");

    doc = run(f, "  - {step_index: 0, step_type: count}\n"
                 "  - {step_index: 1, step_type: tally}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(output_int(doc, 0, "calls"), 41);
    assert_int_equal(output_int(doc, 1, "calls"), 42);
}

static void test_failure_in_second_plugin_unloads_first(void **state)
{
    fixture *f = *state;
    char counting[PATH_MAX];
    int rc;

    put_fixture(f, "counting", 0644);
    put_fixture(f, "init_fails", 0644);
    snprintf(counting, sizeof counting, "%s/counting.so", f->dir);
    assert_false(still_mapped(counting));
    /* counting's init allocates its state: its fini must free it (the
     * sanitizer build reports a leak otherwise) and the module must be
     * closed. */
    rc = load(f, "plugins:\n"
                 "  - path: counting\n"
                 "  - path: init_fails\n");
    expect_error(f, rc, JX_EINIT,
                 CONFIG_NAME ":4:11: plugin '%s/init_fails.so': init failed: "
                 "cannot reach the inventory service",
                 f->dir);
    assert_false(still_mapped(counting));
}

static void test_refused_second_plugin_unloads_first(void **state)
{
    fixture *f = *state;
    char counting[PATH_MAX];
    int rc;

    put_fixture(f, "counting", 0644);
    put_fixture(f, "bad_magic", 0644);
    snprintf(counting, sizeof counting, "%s/counting.so", f->dir);
    rc = load(f, "plugins:\n"
                 "  - path: counting\n"
                 "    config: {start: 1}\n"
                 "  - path: bad_magic\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":5:11: plugin '%s/bad_magic.so': "
                 BAD_MAGIC_TEXT,
                 f->dir);
    assert_false(still_mapped(counting));
}

static void test_loaded_module_stays_mapped_until_free(void **state)
{
    fixture *f = *state;
    char counting[PATH_MAX];

    /* The control for the two tests above: still_mapped() does see a
     * module the executor holds. */
    put_fixture(f, "counting", 0644);
    snprintf(counting, sizeof counting, "%s/counting.so", f->dir);
    load_ok(f, "plugins:\n  - path: counting\n");
    assert_true(still_mapped(counting));
    jx_executor_free(f->ex);
    f->ex = NULL;
    assert_false(still_mapped(counting));
}

/* ---- in-process registration -------------------------------------------- */

static const char *const first_types[] = {"dup", NULL};
static const char *const second_types[] = {"other", NULL};

static int first_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    host->out_string(out, "handler", "first");
    return JX_STEP_OK;
}

static int refusing_init(const jx_host_v1 *host,
                         const jx_plugin_config *config, void **state,
                         char *errbuf, size_t errbuf_len)
{
    (void)host;
    (void)config;
    (void)state;
    snprintf(errbuf, errbuf_len, "no licence");
    return -1;
}

static const step_handler_v1 first_handler = {
    JX_STEP_HANDLER_HEADER, "first", "1.0.0", first_types,
    JX_HANDLER_THREAD_SAFE, NULL, NULL, first_execute, NULL,
};
static const step_handler_v1 second_handler = {
    JX_STEP_HANDLER_HEADER, "second", "1.0.0", second_types,
    JX_HANDLER_THREAD_SAFE, NULL, NULL, first_execute, NULL,
};
static const step_handler_v1 bad_magic_handler = {
    UINT64_C(0xdeadbeef), JX_ABI_VERSION, (uint32_t)sizeof(step_handler_v1),
    "bad", "1.0.0", second_types, 0, NULL, NULL, first_execute, NULL,
};
static const step_handler_v1 wrong_abi_handler = {
    JX_STEP_HANDLER_MAGIC, 2u, (uint32_t)sizeof(step_handler_v1),
    "bad", "1.0.0", second_types, 0, NULL, NULL, first_execute, NULL,
};
static const step_handler_v1 no_execute_handler = {
    JX_STEP_HANDLER_HEADER, "bad", "1.0.0", second_types,
    0, NULL, NULL, NULL, NULL,
};
static const step_handler_v1 failing_init_handler = {
    JX_STEP_HANDLER_HEADER, "bad", "1.0.0", second_types,
    0, refusing_init, NULL, first_execute, NULL,
};

static void new_empty_executor(fixture *f)
{
    assert_int_equal(jx_executor_new(NULL, &f->ex, &f->err), 0);
    assert_non_null(f->ex);
    assert_int_equal(jx_executor_plugin_count(f->ex), 0);
}

static void add_refused(fixture *f, const step_handler_v1 *desc,
                        const char *const *extra, int code,
                        const char *message)
{
    int rc;

    memset(&f->err, 0, sizeof f->err);
    rc = jx_executor_add_handler(f->ex, desc, extra, NULL, &f->err);
    expect_error(f, rc, code, "%s", message);
}

/* After a refusal the executor is as it was: "dup" runs on first, and
 * "other" (bound only by refused descriptors) has no handler. */
static void assert_only_first(fixture *f)
{
    json_t *doc;

    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    doc = run(f, "  - {step_index: 0, step_type: dup}\n");
    assert_string_equal(
        json_string_value(json_object_get(step_output(doc, 0), "handler")),
        "first");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    doc = run(f, "  - {step_index: 0, step_type: dup}\n"
                 "  - {step_index: 1, step_type: other}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_int_equal(json_array_size(json_object_get(doc, "step_results")), 0);
    assert_string_equal(jx_result_reason(f->res),
                        "Plan refused: step 1: No handler registered for "
                        "step type: other");
}

static void test_in_process_bad_descriptors(void **state)
{
    fixture *f = *state;
    char why[256];

    new_empty_executor(f);
    assert_int_equal(jx_executor_add_handler(f->ex, &first_handler, NULL,
                                             NULL, &f->err),
                     0);
    add_refused(f, &bad_magic_handler, NULL, JX_EABI,
                "plugin '(in-process)': " BAD_MAGIC_TEXT);
    add_refused(f, &wrong_abi_handler, NULL, JX_EABI,
                "plugin '(in-process)': step_handler_v1 has abi_version 2, "
                "expected 1");
    add_refused(f, &no_execute_handler, NULL, JX_EABI,
                "plugin '(in-process)': step_handler_v1 has no execute");
    snprintf(why, sizeof why, "plugin '(in-process)': init failed: no "
                              "licence");
    add_refused(f, &failing_init_handler, NULL, JX_EINIT, why);
    assert_only_first(f);
}

static void test_in_process_duplicate_type(void **state)
{
    fixture *f = *state;
    static const char *const extra[] = {"dup", NULL};

    new_empty_executor(f);
    assert_int_equal(jx_executor_add_handler(f->ex, &first_handler, NULL,
                                             NULL, &f->err),
                     0);
    /* second's own type is "other"; the extra "dup" is first's. */
    add_refused(f, &second_handler, extra, JX_ECONFIG,
                "step type 'dup' is bound to both 'first' ((in-process)) and "
                "'second' ((in-process))");
    assert_only_first(f);
}

static void test_in_process_duplicate_of_loaded_type(void **state)
{
    fixture *f = *state;
    static const char *const extra[] = {"count", NULL};
    int rc;
    json_t *doc;

    put_fixture(f, "counting", 0644);
    load_ok(f, "plugins:\n  - path: counting\n");
    rc = jx_executor_add_handler(f->ex, &first_handler, extra, NULL, &f->err);
    expect_error(f, rc, JX_ECONFIG,
                 "step type 'count' is bound to both 'counting' "
                 "(%s/counting.so) and 'first' ((in-process))",
                 f->dir);
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    doc = run(f, "  - {step_index: 0, step_type: count}\n");
    assert_int_equal(output_int(doc, 0, "calls"), 1);
    run(f, "  - {step_index: 0, step_type: count}\n"
           "  - {step_index: 1, step_type: dup}\n");
    assert_string_equal(jx_result_reason(f->res),
                        "Plan refused: step 1: No handler registered for "
                        "step type: dup");
}

/* ---- the fixtures behave as other suites rely on ------------------------ */

static void test_fixture_behaviour(void **state)
{
    fixture *f = *state;
    json_t *doc;

    put_fixture(f, "counting", 0644);
    put_fixture(f, "serial", 0644);
    put_fixture(f, "refuses", 0644);
    load_ok(f, "plugins:\n"
               "  - path: counting\n"
               "  - path: serial\n"
               "  - path: refuses\n");
    doc = run(f, "  - {step_index: 0, step_type: serial}\n"
                 "  - {step_index: 1, step_type: serial}\n"
                 "  - {step_index: 2, step_type: guarded, target: T, "
                 "parameters: {allowed: true}}\n"
                 "  - {step_index: 3, step_type: count}\n"
                 "  - {step_index: 4, step_type: count, "
                 "parameters: {fail: true}}\n");
    assert_int_equal(jx_result_steps_executed(f->res), 5);
    assert_string_equal(jx_result_reason(f->res),
                        "Step 4 failed: asked to fail");
    assert_true(json_is_true(json_object_get(step_output(doc, 0), "ok")));
    assert_int_equal(output_int(doc, 1, "calls"), 2);
    assert_string_equal(
        json_string_value(json_object_get(step_output(doc, 2), "guarded")),
        "T");
    assert_int_equal(output_int(doc, 3, "calls"), 1);
    /* The failed call was counted: the next one is the third. */
    doc = run(f, "  - {step_index: 0, step_type: count}\n");
    assert_int_equal(output_int(doc, 0, "calls"), 3);
}

static void check_refused_by(fixture *f, const char *steps, const char *why)
{
    char *text;
    int rc;

    assert_true(asprintf(&text, PLAN_HEAD "%s", steps) > 0);
    jx_plan_free(f->plan);
    f->plan = NULL;
    rc = jx_plan_parse(text, strlen(text), "plan.yaml", &f->plan, &f->err);
    free(text);
    assert_int_equal(rc, 0);
    rc = jx_executor_check(f->ex, f->plan, &f->err);
    expect_error(f, rc, JX_EREFUSED,
                 "plan.yaml:3:5: step 0 refused by 'refuses': %s", why);
}

static void test_refuses_fixture_validate(void **state)
{
    fixture *f = *state;

    put_fixture(f, "refuses", 0644);
    load_ok(f, "plugins:\n  - path: refuses\n");
    check_refused_by(f, "  - {step_index: 0, step_type: guarded}\n",
                     "target must be set");
    check_refused_by(f, "  - {step_index: 0, step_type: guarded, target: T}\n",
                     "parameter 'allowed' must be true");
    check_refused_by(f, "  - {step_index: 0, step_type: guarded, target: T, "
                        "parameters: {allowed: \"true\"}}\n",
                     "parameter 'allowed' must be true");
    check_refused_by(f, "  - {step_index: 0, step_type: guarded, target: T, "
                        "parameters: {allowed: false}}\n",
                     "parameter 'allowed' must be true");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_step_type_bound_twice),
        TEST(test_step_type_bound_twice_other_order),
        TEST(test_step_types_on_observer_only_plugin),
        TEST(test_observer_not_configured),
        TEST(test_observer_without_observer_symbol),
        TEST(test_shipped_plugins_load),
        TEST(test_plugin_info),
        TEST(test_handler_and_observer_in_one_module),
        TEST(test_descriptor_and_config_types_bound),
        TEST(test_failure_in_second_plugin_unloads_first),
        TEST(test_refused_second_plugin_unloads_first),
        TEST(test_loaded_module_stays_mapped_until_free),
        TEST(test_in_process_bad_descriptors),
        TEST(test_in_process_duplicate_type),
        TEST(test_in_process_duplicate_of_loaded_type),
        TEST(test_fixture_behaviour),
        TEST(test_refuses_fixture_validate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
