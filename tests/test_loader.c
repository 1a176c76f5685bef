/*
 * test_loader.c - loading plugins through the public API: every refusal of
 * the loader (unsafe file or folder, wrong descriptor, failing init, step
 * types bound twice, a health observer that is not one) with its exact code
 * and "CONFIG:LINE:COL: plugin 'PATH': reason" message, and the good paths:
 * shipped plugins, a module that is handler and observer at once, step type
 * binding, jx_executor_plugin_info, all-or-nothing start-up and in-process
 * registration.
 *
 * Each test copies the .so files it needs into a private temp folder, so
 * that modes and owners can be changed without touching the build tree.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "testutil.h"

#define CONFIG_NAME "loader.yaml"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define PLAN_HEAD "contract_id: " CONTRACT "\nsteps:\n"

/* The size of a version 1.0 descriptor: the least a loader accepts, fixed
 * for good whatever members later minor versions append. */
#define HANDLER_V1_0_SIZE                                                     \
    (offsetof(step_handler_v1, fini) + sizeof(void (*)(void *)))

/* What the loader prints for a descriptor whose magic is 0xdeadbeef. */
#define BAD_MAGIC_TEXT                                                        \
    "step_handler_v1 has magic 0x00000000deadbeef, expected "                 \
    "0x4a58535445500001"

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    char *dir; /* private temp folder, symbolic links resolved */
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    json_t *doc;  /* the evidence document of the last run */
    char *want;   /* the expected message being compared */
    char *path;   /* a scratch path */
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char *made;

    if (f == NULL || (made = tu_mkdtemp()) == NULL) {
        free(f);
        return -1;
    }
    /* Messages name the real path: resolve $TMPDIR's symbolic links. */
    f->dir = realpath(made, NULL);
    if (f->dir == NULL) {
        tu_rm_rf(made);
        free(made);
        free(f);
        return -1;
    }
    free(made);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_result_free(f->res);
    jx_plan_free(f->plan);
    jx_executor_free(f->ex);
    jx_config_free(f->cfg);
    json_decref(f->doc);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->want);
    free(f->path);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* f->path = f->dir + "/" + rel. */
static const char *in_dir(fixture *f, const char *rel)
{
    free(f->path);
    f->path = NULL;
    assert_true(asprintf(&f->path, "%s/%s", f->dir, rel) > 0);
    return f->path;
}

static void copy_so(fixture *f, const char *from_dir, const char *name,
                    const char *to_rel, unsigned mode)
{
    char from[PATH_MAX], to[PATH_MAX];

    snprintf(from, sizeof from, "%s/%s.so", from_dir, name);
    snprintf(to, sizeof to, "%s/%s", f->dir, to_rel);
    if (tu_copy(from, to, mode) != 0)
        fail_msg("cannot copy %s to %s: %s", from, to, strerror(errno));
}

/* Copies tests/plugins/NAME.so to the temp folder as NAME.so. */
static void put_fixture(fixture *f, const char *name, unsigned mode)
{
    char rel[128];

    snprintf(rel, sizeof rel, "%s.so", name);
    copy_so(f, TU_FIXTURES, name, rel, mode);
}

/* The same for a shipped plugin (noop, fail, health_static). */
static void put_shipped(fixture *f, const char *name)
{
    char rel[128];

    snprintf(rel, sizeof rel, "%s.so", name);
    copy_so(f, TU_PLUGINS, name, rel, 0644);
}

static void make_folder(fixture *f, const char *rel, unsigned mode)
{
    const char *path = in_dir(f, rel);

    assert_int_equal(mkdir(path, 0700), 0);
    /* chmod, not mkdir's mode: the umask must not mask the bits tested. */
    assert_int_equal(chmod(path, mode), 0);
}

/* Parses "plugin_dir: DIR\n" + body (which must be accepted) and builds an
 * executor from it; returns jx_executor_new's code. */
static int load_from(fixture *f, const char *plugin_dir, const char *body)
{
    jx_executor *ex;
    char *text;
    int rc;

    assert_true(asprintf(&text, "plugin_dir: %s\n%s", plugin_dir, body) > 0);
    rc = jx_config_parse(text, strlen(text), CONFIG_NAME, plugin_dir, &f->cfg,
                         &f->err);
    free(text);
    if (rc != 0)
        fail_msg("config refused: %s", f->err.message);
    memset(&f->err, 0, sizeof f->err);
    ex = (jx_executor *)&ex; /* must be reset to NULL on failure */
    rc = jx_executor_new(f->cfg, &ex, &f->err);
    if (rc != 0) {
        assert_null(ex);
        return rc;
    }
    assert_non_null(ex);
    f->ex = ex;
    return 0;
}

static int load(fixture *f, const char *body)
{
    return load_from(f, f->dir, body);
}

static void load_ok(fixture *f, const char *body)
{
    if (load(f, body) != 0)
        fail_msg("executor refused: %s", f->err.message);
}

/* Asserts rc and f->err are code and exactly the formatted message. */
static void expect_error(fixture *f, int rc, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void expect_error(fixture *f, int rc, int code, const char *fmt, ...)
{
    va_list ap;

    free(f->want);
    va_start(ap, fmt);
    assert_true(vasprintf(&f->want, fmt, ap) > 0);
    va_end(ap);
    assert_string_equal(f->err.message, f->want);
    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
}

/* Runs a plan (PLAN_HEAD + steps) and returns its evidence document. */
static json_t *run(fixture *f, const char *steps)
{
    char *text, *buf = NULL;
    size_t len = 0;
    json_error_t jerr;
    jx_run_options opts = {NULL, NULL, NULL, NULL};
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

static void get_info(const fixture *f, size_t i, jx_plugin_info *info)
{
    memset(info, 0, sizeof *info);
    assert_int_equal(jx_executor_plugin_info(f->ex, i, info), 0);
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

/* ---- the file and its folders ------------------------------------------- */

static void test_missing_file(void **state)
{
    fixture *f = *state;
    int rc = load(f, "plugins:\n  - path: absent\n");

    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/absent.so': cannot open: %s",
                 f->dir, strerror(ENOENT));
}

static void test_folder_is_not_a_plugin(void **state)
{
    fixture *f = *state;
    int rc;

    make_folder(f, "x.so", 0755);
    rc = load(f, "plugins:\n  - path: x.so\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/x.so': a folder, expected a "
                 "regular file",
                 f->dir);
}

static void test_fifo_is_not_a_plugin(void **state)
{
    fixture *f = *state;
    int rc;

    /* Opening a FIFO would block: the loader must refuse it from stat. */
    assert_int_equal(mkfifo(in_dir(f, "pipe.so"), 0644), 0);
    rc = load(f, "plugins:\n  - path: pipe\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/pipe.so': a FIFO, expected a "
                 "regular file",
                 f->dir);
}

static void test_group_writable_file(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "counting", 0664);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': writable by "
                 "group or others (mode 0664), expected it writable by its "
                 "owner only",
                 f->dir);
}

static void test_other_writable_file(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "counting", 0646);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': writable by "
                 "group or others (mode 0646), expected it writable by its "
                 "owner only",
                 f->dir);
}

static void test_group_writable_folder(void **state)
{
    fixture *f = *state;
    int rc;

    make_folder(f, "sub", 0775);
    copy_so(f, TU_FIXTURES, "counting", "sub/counting.so", 0644);
    rc = load(f, "plugins:\n  - path: sub/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/sub/counting.so': folder "
                 "'%s/sub' is writable by group or others (mode 0775), "
                 "expected it writable by its owner only",
                 f->dir, f->dir);
}

static void test_other_writable_folder(void **state)
{
    fixture *f = *state;
    int rc;

    /* Two levels: the unsafe folder is above the plugin's own. */
    make_folder(f, "open", 0757);
    make_folder(f, "open/deep", 0755);
    copy_so(f, TU_FIXTURES, "counting", "open/deep/counting.so", 0644);
    rc = load(f, "plugins:\n  - path: open/deep/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/open/deep/counting.so': "
                 "folder '%s/open' is writable by group or others (mode "
                 "0757), expected it writable by its owner only",
                 f->dir, f->dir);
}

static void test_sticky_world_writable_folder_accepted(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    /* Like /tmp: nobody can replace what another user owns in it. */
    make_folder(f, "shared", 01777);
    copy_so(f, TU_FIXTURES, "counting", "shared/counting.so", 0644);
    load_ok(f, "plugins:\n  - path: shared/counting\n"
               "    isolation: inproc\n");
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    get_info(f, 0, &info);
    assert_string_equal(info.path, in_dir(f, "shared/counting.so"));
}

static void test_owned_by_another_user(void **state)
{
    fixture *f = *state;
    int rc;

    if (geteuid() != 0) {
        print_message("skipped: only root can give a file to another user\n");
        skip();
    }
    put_fixture(f, "counting", 0644);
    assert_int_equal(chown(in_dir(f, "counting.so"), 65534, 65534), 0);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': owned by uid "
                 "65534, expected root or the running user (uid 0)",
                 f->dir);
}

static void test_folder_owned_by_another_user(void **state)
{
    fixture *f = *state;
    int rc;

    if (geteuid() != 0) {
        print_message("skipped: only root can give a folder to another "
                      "user\n");
        skip();
    }
    make_folder(f, "theirs", 0755);
    copy_so(f, TU_FIXTURES, "counting", "theirs/counting.so", 0644);
    assert_int_equal(chown(in_dir(f, "theirs"), 65534, 65534), 0);
    rc = load(f, "plugins:\n  - path: theirs/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/theirs/counting.so': folder "
                 "'%s/theirs' is owned by uid 65534, expected root or the "
                 "running user (uid 0)",
                 f->dir, f->dir);
}

static void test_dotdot_path_refused(void **state)
{
    fixture *f = *state;
    jx_config *cfg = (jx_config *)&cfg; /* must be reset to NULL */
    char *text;
    int rc;

    assert_true(asprintf(&text,
                         "plugin_dir: %s\nplugins:\n"
                         "  - path: counting\n"
                         "  - path: sub/../../counting\n",
                         f->dir) > 0);
    rc = jx_config_parse(text, strlen(text), CONFIG_NAME, f->dir, &cfg,
                         &f->err);
    free(text);
    if (rc == 0)
        f->cfg = cfg; /* freed by the teardown */
    assert_null(cfg);
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":4:11: plugin path 'sub/../../counting' may not "
                 "leave plugin_dir with '..'");
}

/* ---- the descriptor ----------------------------------------------------- */

static void test_bad_magic(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "bad_magic", 0644);
    rc = load(f, "plugins:\n  - path: bad_magic\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/bad_magic.so': "
                 BAD_MAGIC_TEXT,
                 f->dir);
}

static void test_wrong_abi_version(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "wrong_abi", 0644);
    rc = load(f, "plugins:\n  - path: wrong_abi\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/wrong_abi.so': "
                 "step_handler_v1 has abi_version 2, expected 1",
                 f->dir);
}

static void test_short_struct_size(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "short_size", 0644);
    rc = load(f, "plugins:\n  - path: short_size\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/short_size.so': "
                 "step_handler_v1 has struct_size 16, expected at least %zu",
                 f->dir, HANDLER_V1_0_SIZE);
}

static void test_missing_symbol(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "no_symbol", 0644);
    rc = load(f, "plugins:\n  - path: no_symbol\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/no_symbol.so': exports "
                 "neither step_handler_v1 nor health_observer_v1",
                 f->dir);
}

static void test_init_fails(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "init_fails", 0644);
    rc = load(f, "plugins:\n  - path: init_fails\n");
    expect_error(f, rc, JX_EINIT,
                 CONFIG_NAME ":3:11: plugin '%s/init_fails.so': init failed: "
                 "cannot reach the inventory service",
                 f->dir);
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
    doc = run(f, "  - {step_index: 0, step_type: dup}\n"
                 "  - {step_index: 1, step_type: other}\n");
    assert_string_equal(
        json_string_value(json_object_get(step_output(doc, 0), "handler")),
        "first");
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "Step 1 failed: No handler registered for step type: "
                        "other");
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
    doc = run(f, "  - {step_index: 0, step_type: count}\n"
                 "  - {step_index: 1, step_type: dup}\n");
    assert_int_equal(output_int(doc, 0, "calls"), 1);
    assert_string_equal(jx_result_reason(f->res),
                        "Step 1 failed: No handler registered for step type: "
                        "dup");
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

#define TEST(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_missing_file),
        TEST(test_folder_is_not_a_plugin),
        TEST(test_fifo_is_not_a_plugin),
        TEST(test_group_writable_file),
        TEST(test_other_writable_file),
        TEST(test_group_writable_folder),
        TEST(test_other_writable_folder),
        TEST(test_sticky_world_writable_folder_accepted),
        TEST(test_owned_by_another_user),
        TEST(test_folder_owned_by_another_user),
        TEST(test_dotdot_path_refused),
        TEST(test_bad_magic),
        TEST(test_wrong_abi_version),
        TEST(test_short_struct_size),
        TEST(test_missing_symbol),
        TEST(test_init_fails),
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
