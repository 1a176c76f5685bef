/*
 * test_preload.c - a worker with plugins linked in.  This program is linked
 * with `-dlpreopen` of noop and fail (tests/Makefile.inc), so a config that
 * names them by bare name loads them from the binary itself, even when
 * plugin_dir holds no file at all; anything else is still looked for on
 * disk and refused when absent.
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
#include <ltdl.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

typedef struct fixture {
    char *empty_dir; /* plugin_dir: nothing to load from disk */
    jx_config *cfg;
    jx_executor *ex;
    jx_executor *ex2;
    jx_plan *plan;
    jx_result *res;
    char *doc_text;
    size_t doc_len;
    json_t *doc;
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL || (f->empty_dir = tu_mkdtemp()) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    json_decref(f->doc);
    free(f->doc_text);
    jx_executor_free(f->ex2);
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    tu_temp_free(f->empty_dir);
    free(f);
    return 0;
}

/* The config: plugin_dir is the empty folder, then the plugin entries. */
static void parse_config(fixture *f, const char *plugins)
{
    tu_configf(&f->cfg, &f->err, "test.yaml", NULL,
               "plugin_dir: %s\nplugins:\n%s", f->empty_dir, plugins);
}

#define PRELOADED_PLUGINS                                                     \
    "  - path: noop\n"                                                        \
    "    step_types: [capability_enable]\n"                                   \
    "  - path: fail\n"                                                        \
    "    step_types: [bad]\n"                                                 \
    "    config: {error_message: \"Boom\"}\n"

static void make_executor(fixture *f)
{
    parse_config(f, PRELOADED_PLUGINS);
    tu_executor(f->cfg, NULL, &f->ex, &f->err);
}

static void run_plan(fixture *f, const char *steps)
{
    char *text = NULL;
    json_error_t jerr;
    jx_run_options opts = {0};
    int rc;

    assert_true(asprintf(&text, "job_id: " TU_JOB "\ncontract_id: "
                                TU_CONTRACT "\nsteps:\n%s",
                         steps) > 0);
    tu_plan(text, &f->plan, &f->err);
    free(text);
    opts.document = open_memstream(&f->doc_text, &f->doc_len);
    assert_non_null(opts.document);
    rc = jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(fclose(opts.document), 0);
    if (rc != 0)
        fail_msg("run: %s", f->err.message);
    f->doc = json_loads(f->doc_text, 0, &jerr);
    if (f->doc == NULL)
        fail_msg("document: %s", jerr.text);
}

static void assert_preloaded(const jx_executor *ex, size_t i,
                             const char *name, const char *step_type)
{
    jx_plugin_info info;

    assert_int_equal(jx_executor_plugin_info(ex, i, &info), 0);
    assert_string_equal(info.name, name);
    assert_string_equal(info.version, "1.0.0");
    assert_string_equal(info.path, "(preloaded)");
    assert_int_equal(info.abi_version, JX_ABI_VERSION);
    assert_int_equal(info.has_handler, 1);
    assert_int_equal(info.is_health_observer, 0);
    assert_int_equal(info.thread_safe, 1);
    assert_non_null(info.step_types);
    assert_string_equal(info.step_types[0], step_type);
    assert_null(info.step_types[1]);
}

static void test_preloaded_plugins_load(void **state)
{
    fixture *f = *state;

    make_executor(f);
    assert_int_equal(jx_executor_plugin_count(f->ex), 2);
    assert_preloaded(f->ex, 0, "noop", "capability_enable");
    assert_preloaded(f->ex, 1, "fail", "bad");
}

static void test_job_runs_through_preloaded(void **state)
{
    fixture *f = *state;
    json_t *out;

    make_executor(f);
    run_plan(f, "  - {step_index: 0, step_type: capability_enable, "
                "target: CAP_A}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_reason(f->res),
                        "All steps completed successfully");
    out = json_object_get(
        json_array_get(json_object_get(f->doc, "step_results"), 0), "output");
    assert_string_equal(json_string_value(json_object_get(out, "handler")),
                        "noop");
    assert_string_equal(json_string_value(json_object_get(out, "target")),
                        "CAP_A");
}

static void test_preloaded_fail_reads_its_config(void **state)
{
    fixture *f = *state;

    make_executor(f);
    run_plan(f, "  - {step_index: 0, step_type: capability_enable}\n"
                "  - {step_index: 1, step_type: bad}\n"
                "  - {step_index: 2, step_type: capability_enable}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), "Step 1 failed: Boom");
    assert_int_equal(jx_result_steps_executed(f->res), 2);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
}

static void test_two_executors_share_preloaded(void **state)
{
    fixture *f = *state;

    /* libltdl is reference-counted: a second executor, and freeing the
     * first, leave the preloaded modules usable. */
    make_executor(f);
    if (jx_executor_new(f->cfg, &f->ex2, &f->err) != 0)
        fail_msg("second executor: %s", f->err.message);
    assert_preloaded(f->ex2, 0, "noop", "capability_enable");
    jx_executor_free(f->ex);
    f->ex = f->ex2;
    f->ex2 = NULL;
    run_plan(f, "  - {step_index: 0, step_type: capability_enable}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
}

/* A name that was not linked in is still looked for on disk. */
static void test_other_names_still_need_a_file(void **state)
{
    fixture *f = *state;
    char *expected = NULL;
    int rc;

    parse_config(f, "  - path: health_static\n");
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    assert_int_equal(rc, JX_ELOAD);
    assert_null(f->ex);
    assert_true(asprintf(&expected,
                         "test.yaml:3:11: plugin '%s/health_static.so': "
                         "cannot open: No such file or directory",
                         f->empty_dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
}

/* Only a bare name selects a preloaded module: a file name is a file. */
static void test_file_name_is_not_preloaded(void **state)
{
    fixture *f = *state;
    char *expected = NULL;
    int rc;

    parse_config(f, "  - path: noop.so\n");
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    assert_int_equal(rc, JX_ELOAD);
    assert_true(asprintf(&expected,
                         "test.yaml:3:11: plugin '%s/noop.so': cannot open: "
                         "No such file or directory",
                         f->empty_dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_preloaded_plugins_load),
        T(test_job_runs_through_preloaded),
        T(test_preloaded_fail_reads_its_config),
        T(test_two_executors_share_preloaded),
        T(test_other_names_still_need_a_file),
        T(test_file_name_is_not_preloaded),
    };
#undef T
    /* The modules linked in with -dlpreopen, registered before the first
     * lt_dlinit (which jx_executor_new performs). */
    LTDL_SET_PRELOADED_SYMBOLS();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
