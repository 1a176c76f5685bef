/*
 * test_loader.c - plugin loading through the public API: every refusal of
 * core/loader.c (file checks in the manner of sudo, then the descriptor's
 * magic, version and size, then init), the binding and health observer
 * rules of core/executor.c, all or nothing, what jx_executor_plugin_info
 * reports for loaded plugins, and in-process descriptors.
 *
 * Each test copies the modules it needs into a private temporary folder, so
 * that modes and owners can be changed without touching the build tree, and
 * writes a config whose plugin paths point there.  A copy keeps its file
 * name: libltdl finds the descriptor through the "modname_LTX_" prefix.
 */
#include "config.h"

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

#define JOB "2d7f6a1c-3b8e-4c2a-9f0d-5e6a7b8c9d01"
#define CONTRACT "8e1d2c3b-4a5f-4e6d-8c7b-0a9f8e7d6c5b"
#define HEAD "job_id: " JOB "\ncontract_id: " CONTRACT "\n"

/* "plugins:\n  - path: " puts the path value at column 11. */
#define PATH_COL 11u
/* "health:\n  observer: " puts the observer value at column 13. */
#define OBSERVER_COL 13u

/* The smallest struct_size the host accepts: version 1.0 ends with fini. */
#define HANDLER_V1_0_SIZE                                                     \
    (offsetof(step_handler_v1, fini) + sizeof(void *))

typedef struct fixture {
    char *dir;    /* private temporary folder */
    char *real;   /* the same, with symbolic links resolved */
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char real[PATH_MAX];

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL ||
        realpath(f->dir, real) == NULL || (f->real = strdup(real)) == NULL) {
        if (f != NULL)
            free(f->dir);
        free(f);
        return -1;
    }
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
    /* A test may have left a folder its owner cannot write into. */
    chmod(f->dir, 0700);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->real);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name)
{
    char *path;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        fail_msg("out of memory");
    return path;
}

/* Copies from_dir/NAME.so into to_dir with the given mode; returns the
 * copy's path (free it). */
static char *place(const char *from_dir, const char *name, const char *to_dir,
                   unsigned mode)
{
    char file[64], *from, *to;

    snprintf(file, sizeof file, "%s.so", name);
    from = path_in(from_dir, file);
    to = path_in(to_dir, file);
    if (tu_copy(from, to, mode) != 0)
        fail_msg("cannot copy %s to %s (is it built?)", from, to);
    free(from);
    return to;
}

static char *fixture_plugin(fixture *f, const char *name)
{
    return place(TU_FIXTURES, name, f->dir, 0755);
}

static char *shipped_plugin(fixture *f, const char *name)
{
    return place(TU_PLUGINS, name, f->dir, 0755);
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format(const char *fmt, ...)
{
    va_list ap;
    char *text;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    return text;
}

/* Parses the config text (which must be valid) and builds an executor
 * from it; returns jx_executor_new's code. */
static int build(fixture *f, const char *text)
{
    int rc;

    if (jx_config_parse(text, strlen(text), "cfg.yaml", NULL, &f->cfg,
                        &f->err) != 0)
        fail_msg("config: %s\n%s", f->err.message, text);
    f->ex = (jx_executor *)(uintptr_t)1; /* must be reset to NULL */
    memset(&f->err, 0, sizeof f->err);
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    if (rc != 0)
        assert_null(f->ex);
    return rc;
}

/* Builds an executor from a config of one plugin. */
static int build_one(fixture *f, const char *path)
{
    char *text = format("plugins:\n  - path: %s\n", path);
    int rc = build(f, text);

    free(text);
    return rc;
}

/* Asserts a loader refusal: code, and "cfg.yaml:LINE:COL: plugin 'PATH':
 * REASON" in full. */
static void assert_refused(fixture *f, int rc, int code, unsigned line,
                           const char *path, const char *reason)
{
    char *want = format("cfg.yaml:%u:%u: plugin '%s': %s", line, PATH_COL,
                        path, reason);

    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
    assert_null(f->ex);
    assert_string_equal(f->err.message, want);
    free(want);
}

/* Loads one plugin and expects it refused at line 2. */
static void expect_one_refused(fixture *f, const char *path, int code,
                               const char *reason)
{
    int rc = build_one(f, path);

    assert_refused(f, rc, code, 2, path, reason);
}

static void assert_loaded(fixture *f, int rc)
{
    if (rc != 0)
        fail_msg("jx_executor_new: %s", f->err.message);
    assert_non_null(f->ex);
}

/* Runs a plan on f->ex and expects it COMPLETED with n steps. */
static void run_completed(fixture *f, const char *plan_text, size_t n)
{
    if (jx_plan_parse(plan_text, strlen(plan_text), "plan.yaml", &f->plan,
                      &f->err) != 0)
        fail_msg("plan: %s", f->err.message);
    if (jx_executor_run(f->ex, f->plan, NULL, &f->res, &f->err) != 0)
        fail_msg("run: %s", f->err.message);
    if (jx_result_status(f->res) != JX_JOB_COMPLETED)
        fail_msg("job ended %s: %s", jx_result_status_name(f->res),
                 jx_result_reason(f->res));
    assert_int_equal(jx_result_steps_executed(f->res), n);
    assert_int_equal(jx_result_steps_succeeded(f->res), n);
}

/* ---- the file: sudo's checks --------------------------------------------- */

static void test_missing_file(void **state)
{
    fixture *f = *state;
    char *path = path_in(f->dir, "absent.so");

    expect_one_refused(f, path, JX_ELOAD,
                       "cannot open: No such file or directory");
    free(path);
}

static void test_folder_is_not_a_file(void **state)
{
    fixture *f = *state;
    char *path = path_in(f->dir, "x.so");

    assert_int_equal(mkdir(path, 0700), 0);
    expect_one_refused(f, path, JX_ELOAD, "a folder, expected a regular file");
    free(path);
}

static void test_fifo_is_not_a_file(void **state)
{
    fixture *f = *state;
    char *path = path_in(f->dir, "x.so");

    assert_int_equal(mkfifo(path, 0600), 0);
    expect_one_refused(f, path, JX_ELOAD, "a FIFO, expected a regular file");
    free(path);
}

static void expect_mode_refused(fixture *f, unsigned mode)
{
    char *path = shipped_plugin(f, "noop");
    char reason[160];

    assert_int_equal(chmod(path, mode), 0);
    snprintf(reason, sizeof reason,
             "writable by group or others (mode %04o), expected it writable "
             "by its owner only",
             mode);
    expect_one_refused(f, path, JX_ELOAD, reason);
    free(path);
}

static void test_group_writable_file(void **state)
{
    expect_mode_refused(*state, 0664);
}

static void test_other_writable_file(void **state)
{
    expect_mode_refused(*state, 0646);
}

static void test_writable_folder_above(void **state)
{
    fixture *f = *state;
    char *sub = path_in(f->dir, "sub"), *real_sub = path_in(f->real, "sub");
    char *path, reason[PATH_MAX + 160];

    assert_int_equal(mkdir(sub, 0700), 0);
    path = place(TU_PLUGINS, "noop", sub, 0755);
    /* Set after mkdir, which the umask would have narrowed. */
    assert_int_equal(chmod(sub, 0775), 0);
    snprintf(reason, sizeof reason,
             "folder '%s' is writable by group or others (mode 0775), "
             "expected it writable by its owner only",
             real_sub);
    expect_one_refused(f, path, JX_ELOAD, reason);
    free(path);
    free(sub);
    free(real_sub);
}

/* The sticky bit (as on /tmp) keeps others from replacing the file. */
static void test_sticky_folder_accepted(void **state)
{
    fixture *f = *state;
    char *sub = path_in(f->dir, "sticky");
    char *path;

    assert_int_equal(mkdir(sub, 0700), 0);
    path = place(TU_PLUGINS, "noop", sub, 0755);
    assert_int_equal(chmod(sub, 01777), 0);
    assert_loaded(f, build_one(f, path));
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    free(path);
    free(sub);
}

static void test_foreign_owner(void **state)
{
    fixture *f = *state;
    char *path, reason[160];

    if (geteuid() != 0) {
        print_message("skipped: only root can give a file to uid 65534\n");
        skip();
    }
    path = shipped_plugin(f, "noop");
    assert_int_equal(chown(path, 65534, 65534), 0);
    snprintf(reason, sizeof reason,
             "owned by uid 65534, expected root or the running user (uid %u)",
             (unsigned)geteuid());
    expect_one_refused(f, path, JX_ELOAD, reason);
    free(path);
}

/* ---- the descriptor: magic, then version, then size ---------------------- */

static void test_bad_magic(void **state)
{
    fixture *f = *state;
    char *path = fixture_plugin(f, "bad_magic");

    expect_one_refused(f, path, JX_EABI,
                       "step_handler_v1 has magic 0x00000000deadbeef, "
                       "expected 0x4a58535445500001");
    free(path);
}

static void test_wrong_abi(void **state)
{
    fixture *f = *state;
    char *path = fixture_plugin(f, "wrong_abi");

    expect_one_refused(f, path, JX_EABI,
                       "step_handler_v1 has abi_version 2, expected 1");
    free(path);
}

static void test_short_size(void **state)
{
    fixture *f = *state;
    char *path = fixture_plugin(f, "short_size");
    char reason[128];

    snprintf(reason, sizeof reason,
             "step_handler_v1 has struct_size 16, expected at least %zu",
             (size_t)HANDLER_V1_0_SIZE);
    expect_one_refused(f, path, JX_EABI, reason);
    free(path);
}

static void test_no_symbol(void **state)
{
    fixture *f = *state;
    char *path = fixture_plugin(f, "no_symbol");

    expect_one_refused(f, path, JX_EABI,
                       "exports neither step_handler_v1 nor "
                       "health_observer_v1");
    free(path);
}

static void test_init_fails(void **state)
{
    fixture *f = *state;
    char *path = fixture_plugin(f, "init_fails");

    expect_one_refused(f, path, JX_EINIT,
                       "init failed: cannot reach the inventory service");
    free(path);
}

/* ---- bindings and the health observer ------------------------------------ */

static void test_duplicate_step_type(void **state)
{
    fixture *f = *state;
    char *noop = shipped_plugin(f, "noop");
    char *counting = fixture_plugin(f, "counting");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "    step_types: [count]\n"
                        "  - path: %s\n",
                        noop, counting);
    char *want = format("cfg.yaml:4:%u: step type 'count' is bound to both "
                        "'%s' (%s) and '%s' (%s)",
                        PATH_COL, noop, noop, counting, counting);
    int rc = build(f, text);

    assert_int_equal(rc, JX_ECONFIG);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message, want);
    free(want);
    free(text);
    free(counting);
    free(noop);
}

static void test_step_types_on_observer_only(void **state)
{
    fixture *f = *state;
    char *path = shipped_plugin(f, "health_static");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "    step_types: [probe]\n",
                        path);
    int rc = build(f, text);

    assert_refused(f, rc, JX_ECONFIG, 2, path,
                   "step_types given, but it exports no step_handler_v1");
    free(text);
    free(path);
}

static void test_observer_not_configured(void **state)
{
    fixture *f = *state;
    char *path = shipped_plugin(f, "health_static");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "health:\n"
                        "  observer: nosuch\n",
                        path);
    char *want = format("cfg.yaml:4:%u: health observer 'nosuch' is not one "
                        "of the configured plugins",
                        OBSERVER_COL);
    int rc = build(f, text);

    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message, want);
    free(want);
    free(text);
    free(path);
}

/* Named as written under plugin_dir, noop is found but cannot observe. */
static void test_observer_without_symbol(void **state)
{
    fixture *f = *state;
    char *path = shipped_plugin(f, "noop");
    char *text = format("plugin_dir: %s\n"
                        "plugins:\n"
                        "  - path: noop\n"
                        "health:\n"
                        "  observer: noop\n",
                        f->dir);
    char *want = format("cfg.yaml:5:%u: health observer 'noop' (%s) exports "
                        "no health_observer_v1",
                        OBSERVER_COL, path);
    int rc = build(f, text);

    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_string_equal(f->err.message, want);
    free(want);
    free(text);
    free(path);
}

/* counting inits, then init_fails refuses: nothing may stay loaded, and
 * counting's fini must run (LeakSanitizer sees its state otherwise). */
static void test_all_or_nothing(void **state)
{
    fixture *f = *state;
    char *counting = fixture_plugin(f, "counting");
    char *failing = fixture_plugin(f, "init_fails");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "  - path: %s\n",
                        counting, failing);
    int rc = build(f, text);

    assert_refused(f, rc, JX_EINIT, 3, failing,
                   "init failed: cannot reach the inventory service");
    free(text);
    free(failing);
    free(counting);
}

/* ---- good paths ---------------------------------------------------------- */

static size_t count_types(const char *const *types)
{
    size_t n = 0;

    while (types != NULL && types[n] != NULL)
        n++;
    return n;
}

static void assert_info(const jx_plugin_info *info, const char *name,
                        const char *path, int has_handler, int observer,
                        const char *const *types)
{
    size_t n = count_types(types);

    assert_string_equal(info->name, name);
    assert_string_equal(info->version, "1.0.0");
    assert_string_equal(info->path, path);
    assert_int_equal(info->abi_version, 1);
    assert_int_equal(info->thread_safe, 1);
    assert_int_equal(info->has_handler, has_handler);
    assert_int_equal(info->is_health_observer, observer);
    assert_int_equal(count_types(info->step_types), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(info->step_types[i], types[i]);
}

static void test_good_plugins_load(void **state)
{
    fixture *f = *state;
    char *noop = shipped_plugin(f, "noop");
    char *fail = shipped_plugin(f, "fail");
    char *health = shipped_plugin(f, "health_static");
    char *both = fixture_plugin(f, "both");
    char *counting = fixture_plugin(f, "counting");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "    step_types: [capability_enable]\n"
                        "  - path: %s\n"
                        "    step_types: [bad]\n"
                        "  - path: %s\n"
                        "  - path: %s\n"
                        "  - path: %s\n"
                        "    step_types: [tally]\n"
                        "health:\n"
                        "  observer: both\n",
                        noop, fail, health, both, counting);
    static const char *const noop_types[] = {"capability_enable", NULL};
    static const char *const fail_types[] = {"bad", NULL};
    static const char *const both_types[] = {"both_step", NULL};
    static const char *const counting_types[] = {"count", "tally", NULL};
    jx_plugin_info info;

    assert_loaded(f, build(f, text));
    assert_int_equal(jx_executor_plugin_count(f->ex), 5);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_info(&info, "noop", noop, 1, 0, noop_types);
    assert_int_equal(jx_executor_plugin_info(f->ex, 1, &info), 0);
    assert_info(&info, "fail", fail, 1, 0, fail_types);
    assert_int_equal(jx_executor_plugin_info(f->ex, 2, &info), 0);
    assert_info(&info, "health_static", health, 0, 0, NULL);
    assert_int_equal(jx_executor_plugin_info(f->ex, 3, &info), 0);
    assert_info(&info, "both", both, 1, 1, both_types);
    assert_int_equal(jx_executor_plugin_info(f->ex, 4, &info), 0);
    assert_info(&info, "counting", counting, 1, 0, counting_types);
    assert_int_equal(jx_executor_plugin_info(f->ex, 5, &info), JX_EINVAL);

    /* Both of counting's types reach it, and the job completes. */
    run_completed(f,
                  HEAD "steps:\n"
                       "  - {step_index: 0, step_type: count}\n"
                       "  - {step_index: 1, step_type: tally}\n"
                       "  - {step_index: 2, step_type: both_step}\n",
                  3);
    free(text);
    free(counting);
    free(both);
    free(health);
    free(fail);
    free(noop);
}

/* The observer both.so serves shows up in the evidence document. */
static void test_both_observes_health(void **state)
{
    fixture *f = *state;
    char *both = fixture_plugin(f, "both");
    char *text = format("plugins:\n"
                        "  - path: %s\n"
                        "health:\n"
                        "  observer: both\n",
                        both);
    const char *plan = HEAD "steps:\n"
                            "  - {step_index: 0, step_type: both_step}\n";
    jx_run_options opts = {0};
    char *doc_text = NULL;
    size_t doc_len = 0;
    json_t *doc, *health;
    json_error_t jerr;

    assert_loaded(f, build(f, text));
    assert_int_equal(jx_plan_parse(plan, strlen(plan), "plan.yaml", &f->plan,
                                   &f->err), 0);
    opts.document = open_memstream(&doc_text, &doc_len);
    assert_non_null(opts.document);
    assert_int_equal(jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err),
                     0);
    assert_int_equal(fclose(opts.document), 0);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    doc = json_loads(doc_text, 0, &jerr);
    free(doc_text);
    assert_non_null(doc);
    health = json_object_get(doc, "health_observations");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(health, "before"), "status")),
        "green");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(health, "before"), "observations")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(health, "after"), "observations")),
                     2);
    json_decref(doc);
    free(text);
    free(both);
}

/* ---- in-process descriptors ---------------------------------------------- */

static int probe_execute(void *st, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    (void)st, (void)ctx, (void)step;
    host->out_bool(out, "probed", 1);
    return JX_STEP_OK;
}

static const char *const probe_types[] = {"probe", NULL};

static const step_handler_v1 probe = {
    JX_STEP_HANDLER_HEADER, "probe", "1.0.0", probe_types,
    JX_HANDLER_THREAD_SAFE, NULL, NULL, probe_execute, NULL,
};

/* A second handler claiming probe's type. */
static const step_handler_v1 rival = {
    JX_STEP_HANDLER_HEADER, "rival", "1.0.0", probe_types,
    JX_HANDLER_THREAD_SAFE, NULL, NULL, probe_execute, NULL,
};

static void new_empty(fixture *f)
{
    if (jx_executor_new(NULL, &f->ex, &f->err) != 0)
        fail_msg("jx_executor_new: %s", f->err.message);
}

static void expect_in_process_refused(fixture *f, const step_handler_v1 *d,
                                      const char *reason)
{
    char want[256];

    snprintf(want, sizeof want, "plugin '(in-process)': %s", reason);
    memset(&f->err, 0, sizeof f->err);
    assert_int_equal(jx_executor_add_handler(f->ex, d, NULL, NULL, &f->err),
                     JX_EABI);
    assert_int_equal(f->err.code, JX_EABI);
    assert_string_equal(f->err.message, want);
    assert_int_equal(jx_executor_plugin_count(f->ex), 0);
}

static void test_in_process_bad_descriptors(void **state)
{
    fixture *f = *state;
    step_handler_v1 d = probe;

    new_empty(f);
    d.magic = UINT64_C(0xdeadbeef);
    expect_in_process_refused(f, &d,
                              "step_handler_v1 has magic 0x00000000deadbeef, "
                              "expected 0x4a58535445500001");
    d = probe;
    d.abi_version = 2;
    expect_in_process_refused(f, &d,
                              "step_handler_v1 has abi_version 2, expected 1");
    d = probe;
    d.execute = NULL;
    expect_in_process_refused(f, &d, "step_handler_v1 has no execute");

    /* The refusals left nothing behind: a good one still goes in. */
    assert_int_equal(
        jx_executor_add_handler(f->ex, &probe, NULL, NULL, &f->err), 0);
    run_completed(f, HEAD "steps:\n  - {step_index: 0, step_type: probe}\n",
                  1);
}

static void test_in_process_duplicate_type(void **state)
{
    fixture *f = *state;
    static const char *const extra[] = {"probe_too", NULL};
    jx_plugin_info info;

    new_empty(f);
    assert_int_equal(
        jx_executor_add_handler(f->ex, &probe, extra, NULL, &f->err), 0);
    assert_int_equal(
        jx_executor_add_handler(f->ex, &rival, NULL, NULL, &f->err),
        JX_ECONFIG);
    assert_string_equal(f->err.message,
                        "step type 'probe' is bound to both 'probe' "
                        "((in-process)) and 'rival' ((in-process))");

    /* Taken back out: probe alone, with its types, still runs the job. */
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_string_equal(info.path, "(in-process)");
    assert_info(&info, "probe", "(in-process)", 1, 0,
                (const char *const[]){"probe", "probe_too", NULL});
    run_completed(f,
                  HEAD "steps:\n"
                       "  - {step_index: 0, step_type: probe}\n"
                       "  - {step_index: 1, step_type: probe_too}\n",
                  2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_missing_file),
        T(test_folder_is_not_a_file),
        T(test_fifo_is_not_a_file),
        T(test_group_writable_file),
        T(test_other_writable_file),
        T(test_writable_folder_above),
        T(test_sticky_folder_accepted),
        T(test_foreign_owner),
        T(test_bad_magic),
        T(test_wrong_abi),
        T(test_short_size),
        T(test_no_symbol),
        T(test_init_fails),
        T(test_duplicate_step_type),
        T(test_step_types_on_observer_only),
        T(test_observer_not_configured),
        T(test_observer_without_symbol),
        T(test_all_or_nothing),
        T(test_good_plugins_load),
        T(test_both_observes_health),
        T(test_in_process_bad_descriptors),
        T(test_in_process_duplicate_type),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
