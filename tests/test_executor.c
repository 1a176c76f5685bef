/*
 * test_executor.c - the run loop against the invariants of DESIGN.md, with
 * the cases of the reference executor's own suite: order (EXEC-001), a
 * result per step (EXEC-002), stop at the first failure (EXEC-003), health
 * observed and copied (EXEC-004), no mutation of the plan (EXEC-005), no
 * retry (EXEC-006), the evidence document's field names, the host services
 * a handler sees and the result getters.
 *
 * Handlers and observers are in-process descriptors defined here, next to
 * the shipped plugins (noop, fail, health_static) loaded through a config.
 */
#include "config.h"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "input/plan.h"
#include "testutil.h"

/* What text_edges sets under one key: quotes, backslashes, control
 * characters, DEL and multi-byte UTF-8, each written as jansson would. */
#define ESC_KEY "esc\"\\\n"
#define ESC_VALUE "tab\t\x01\x7f \xc3\xa9 \xe2\x82\xac"

#define JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define HEAD "job_id: " JOB "\ncontract_id: " CONTRACT "\n"

/* EXEC-005 at compile time: execute() receives const views only. */
_Static_assert(
    __builtin_types_compatible_p(
        __typeof__(((step_handler_v1 *)0)->execute),
        int (*)(void *, const jx_host_v1 *, const jx_context *,
                const jx_step *, jx_output *)),
    "execute must receive const views of the job and the step");

/* ---- what the in-process handlers saw ----------------------------------- */

#define MAX_CALLS 64

/* One test runs at a time: the handlers below report here. */
static struct {
    int64_t order[MAX_CALLS]; /* step_index of each execute, in call order */
    size_t n_calls;
    size_t n_observe;
    int observe_fails;
    /* What the probe handler read through the host table. */
    char job_id[64], contract_id[64], tenant_id[64], executed_by[64];
    char started_at[64];
    int64_t index, timeout;
    char type[64], target[64], params_json[256];
    size_t n_params;
    char keys[8][16];
    int key_past_end_is_null;
    char s_value[64];
    int s_of_int_is_null;
    int64_t i_value;
    int i_rc, i_of_string_rc, i_missing_rc;
    int b_value, b_rc;
    double d_value, d_of_int;
    int d_rc, d_of_int_rc;
    char j_value[128];
    int j_missing_is_null;
    int64_t time_left_ms;
    int cancelled;
    int out_rc[8]; /* the typed handler's out_* return codes */
    /* What on_progress received. */
    size_t n_progress;
    double fractions[8];
    char messages[8][32];
    int64_t progress_index[8];
    char progress_job[8][64];
    void *progress_user;
} seen;

static void copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src != NULL ? src : "(null)");
}

static void record_call(const jx_host_v1 *host, const jx_step *step)
{
    if (seen.n_calls < MAX_CALLS)
        seen.order[seen.n_calls] = host->step_index(step);
    seen.n_calls++;
}

/* Reads every accessor of the host table into `seen`. */
static void probe(const jx_host_v1 *host, const jx_context *ctx,
                  const jx_step *step)
{
    int64_t ignored_i;

    copy_text(seen.job_id, sizeof seen.job_id, host->ctx_job_id(ctx));
    copy_text(seen.contract_id, sizeof seen.contract_id,
              host->ctx_contract_id(ctx));
    copy_text(seen.tenant_id, sizeof seen.tenant_id, host->ctx_tenant_id(ctx));
    copy_text(seen.executed_by, sizeof seen.executed_by,
              host->ctx_executed_by(ctx));
    copy_text(seen.started_at, sizeof seen.started_at,
              host->ctx_started_at(ctx));
    seen.time_left_ms = host->ctx_time_left_ms(ctx);
    seen.cancelled = host->ctx_cancelled(ctx);

    seen.index = host->step_index(step);
    seen.timeout = host->step_timeout_seconds(step);
    copy_text(seen.type, sizeof seen.type, host->step_type(step));
    copy_text(seen.target, sizeof seen.target, host->step_target(step));
    copy_text(seen.params_json, sizeof seen.params_json,
              host->step_parameters_json(step));
    seen.n_params = host->param_count(step);
    for (size_t i = 0; i < seen.n_params && i < 8; i++)
        copy_text(seen.keys[i], sizeof seen.keys[i], host->param_key(step, i));
    seen.key_past_end_is_null = host->param_key(step, seen.n_params) == NULL;

    copy_text(seen.s_value, sizeof seen.s_value,
              host->param_string(step, "s"));
    seen.s_of_int_is_null = host->param_string(step, "i") == NULL;
    seen.i_rc = host->param_int(step, "i", &seen.i_value);
    seen.i_of_string_rc = host->param_int(step, "s", &ignored_i);
    seen.i_missing_rc = host->param_int(step, "absent", &ignored_i);
    seen.b_rc = host->param_bool(step, "b", &seen.b_value);
    seen.d_rc = host->param_double(step, "d", &seen.d_value);
    seen.d_of_int_rc = host->param_double(step, "i", &seen.d_of_int);
    copy_text(seen.j_value, sizeof seen.j_value, host->param_json(step, "j"));
    seen.j_missing_is_null = host->param_json(step, "absent") == NULL;
}

/* One in-process handler; the step type says what it does. */
static int inproc_execute(void *state, const jx_host_v1 *host,
                          const jx_context *ctx, const jx_step *step,
                          jx_output *out)
{
    const char *type = host->step_type(step);

    (void)state;
    record_call(host, step);
    if (strcmp(type, "fail_once") == 0) {
        host->out_error(out, "Nope");
        return JX_STEP_FAILED;
    }
    if (strcmp(type, "fail_silent") == 0)
        return JX_STEP_FAILED;
    if (strcmp(type, "return7") == 0)
        return 7;
    if (strcmp(type, "probe") == 0)
        probe(host, ctx, step);
    if (strcmp(type, "progress") == 0) {
        host->ctx_progress(ctx, -0.5, "below");
        host->ctx_progress(ctx, 0.25, NULL);
        host->ctx_progress(ctx, 7.0, "above");
    }
    if (strcmp(type, "typed") == 0) {
        /* Return codes are checked after the run: an assertion here would
         * jump out of the executor in the middle of a step. */
        int *rc = seen.out_rc;
        rc[0] = host->out_string(out, "s", "text");
        rc[1] = host->out_int(out, "i", -42);
        rc[2] = host->out_bool(out, "b", 1);
        rc[3] = host->out_double(out, "d", 0.5);
        rc[4] = host->out_json(out, "j", "{\"k\":[1,2]}");
        rc[5] = host->out_json(out, "bad", "{not json");
        rc[6] = host->out_merge_json(out, "{\"m\":1,\"s\":\"new\"}");
        rc[7] = host->out_merge_json(out, "[1]");
        return JX_STEP_OK;
    }
    if (strcmp(type, "text_edges") == 0) {
        int *rc = seen.out_rc;
        char key[8];

        rc[0] = host->out_string(out, "a", "first");
        rc[1] = host->out_string(out, ESC_KEY, ESC_VALUE);
        rc[2] = host->out_int(out, "a", INT64_MIN); /* keeps its place */
        rc[3] = host->out_string(out, "bad\xff", "x");
        rc[4] = host->out_bool(out, "f", 0);
        rc[5] = host->out_string(out, "n", NULL);
        for (int i = 0; i < 20; i++) { /* more keys than kept as text */
            snprintf(key, sizeof key, "k%02d", i);
            rc[6] |= host->out_int(out, key, i);
        }
        rc[7] = host->out_string(out, "k03", "again");
        return JX_STEP_OK;
    }
    if (strcmp(type, "null_keys") == 0) {
        int *rc = seen.out_rc;
        rc[0] = host->out_double(out, NULL, 1.5);
        rc[1] = host->out_json(out, NULL, "{\"a\":[1]}");
        rc[2] = host->out_string(out, NULL, "x");
        rc[3] = host->out_int(out, "kept", 1);
        return JX_STEP_OK;
    }
    if (strcmp(type, "bad_utf8") == 0) {
        seen.out_rc[0] = host->out_string(out, "v", "\xc3\x28");
        return JX_STEP_OK;
    }
    if (strcmp(type, "bad_utf8_late") == 0) { /* after a real: an object */
        seen.out_rc[0] = host->out_double(out, "d", 1.5);
        seen.out_rc[1] = host->out_string(out, "v", "ok\xff");
        return JX_STEP_OK;
    }
    host->out_int(out, "seen_index", host->step_index(step));
    return JX_STEP_OK;
}

static const char *const inproc_types[] = {
    "rec", "fail_once", "fail_silent", "return7", "probe", "progress",
    "typed", "text_edges", "bad_utf8", "bad_utf8_late", "null_keys", NULL};

static const step_handler_v1 inproc_handler = {
    JX_STEP_HANDLER_HEADER,
    "inproc",
    "2.3.4",
    inproc_types,
    0,
    NULL,
    NULL,
    inproc_execute,
    NULL,
};

/* Counts its calls and reports the count in the snapshot. */
static int count_observe(void *state, const jx_host_v1 *host,
                         jx_output *snapshot, char *errbuf, size_t errbuf_len)
{
    (void)state;
    seen.n_observe++;
    if (seen.observe_fails) {
        snprintf(errbuf, errbuf_len, "sensor offline");
        return -1;
    }
    host->out_int(snapshot, "n", (int64_t)seen.n_observe);
    host->out_string(snapshot, "status", "green");
    return 0;
}

static const health_observer_v1 count_observer = {
    JX_HEALTH_OBSERVER_HEADER, "counter", "1.0.0", 0, NULL, count_observe,
    NULL,
};

static void on_progress(const char *job_id, int64_t step_index,
                        double fraction, const char *message, void *user)
{
    size_t i = seen.n_progress++;

    if (i >= 8)
        return;
    seen.fractions[i] = fraction;
    copy_text(seen.messages[i], sizeof seen.messages[i], message);
    copy_text(seen.progress_job[i], sizeof seen.progress_job[i], job_id);
    seen.progress_index[i] = step_index;
    seen.progress_user = user;
}

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    char *doc_text;
    size_t doc_len;
    json_t *doc;
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    memset(&seen, 0, sizeof seen);
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static void drop_run(fixture *f)
{
    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    jx_plan_free(f->plan);
    f->plan = NULL;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    drop_run(f);
    jx_executor_free(f->ex);
    jx_config_free(f->cfg);
    free(f);
    return 0;
}

/* An executor from config text (NULL: none) plus the in-process handler. */
static void make_executor(fixture *f, const char *config_text)
{
    if (config_text != NULL &&
        jx_config_parse(config_text, strlen(config_text), "test.yaml",
                        TU_PLUGINS, &f->cfg, &f->err) != 0)
        fail_msg("config: %s", f->err.message);
    if (jx_executor_new(f->cfg, &f->ex, &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
    if (jx_executor_add_handler(f->ex, &inproc_handler, NULL, NULL,
                                &f->err) != 0)
        fail_msg("add_handler: %s", f->err.message);
}

static void parse_plan(fixture *f, const char *plan_text)
{
    if (jx_plan_parse(plan_text, strlen(plan_text), "plan.yaml", &f->plan,
                      &f->err) != 0)
        fail_msg("plan: %s", f->err.message);
}

/* Runs the plan already parsed, capturing the evidence document. */
static void run_parsed(fixture *f, jx_run_options *opts)
{
    jx_run_options local = {0};
    json_error_t jerr;
    FILE *fp = open_memstream(&f->doc_text, &f->doc_len);
    int rc;

    assert_non_null(fp);
    if (opts == NULL)
        opts = &local;
    opts->document = fp;
    rc = jx_executor_run(f->ex, f->plan, opts, &f->res, &f->err);
    assert_int_equal(fclose(fp), 0);
    opts->document = NULL;
    if (rc != 0)
        fail_msg("run: %s", f->err.message);
    assert_non_null(f->res);
    f->doc = json_loads(f->doc_text, 0, &jerr);
    if (f->doc == NULL)
        fail_msg("document is not JSON (%s): %s", jerr.text, f->doc_text);
}

static void run_plan(fixture *f, const char *plan_text)
{
    parse_plan(f, plan_text);
    run_parsed(f, NULL);
}

/* ---- reading the document ----------------------------------------------- */

static json_t *get(const json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    if (v == NULL)
        fail_msg("no member '%s'", key);
    return v;
}

static const char *get_str(const json_t *object, const char *key)
{
    json_t *v = get(object, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is not a string", key);
    return json_string_value(v);
}

static json_int_t get_int(const json_t *object, const char *key)
{
    json_t *v = get(object, key);
    if (!json_is_integer(v))
        fail_msg("member '%s' is not an integer", key);
    return json_integer_value(v);
}

static json_t *results(const fixture *f) { return get(f->doc, "step_results"); }

static json_t *result_at(const fixture *f, size_t i)
{
    json_t *r = json_array_get(results(f), i);
    assert_non_null(r);
    return r;
}

/* ISO 8601, UTC, microseconds, Python's "+00:00" suffix. */
static void assert_iso_utc(const char *s)
{
    regex_t re;
    int rc;

    assert_int_equal(
        regcomp(&re,
                "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
                "[0-6][0-9]\\.[0-9]{6}\\+00:00$",
                REG_EXTENDED | REG_NOSUB),
        0);
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("not an ISO 8601 UTC time with microseconds: '%s'", s);
}

static void assert_summary(const fixture *f, json_int_t executed,
                           json_int_t succeeded, json_int_t failed)
{
    json_t *s = get(f->doc, "execution_summary");

    assert_int_equal(get_int(s, "steps_executed"), executed);
    assert_int_equal(get_int(s, "steps_succeeded"), succeeded);
    assert_int_equal(get_int(s, "steps_failed"), failed);
    assert_int_equal(jx_result_steps_executed(f->res), executed);
    assert_int_equal(jx_result_steps_succeeded(f->res), succeeded);
    assert_int_equal(jx_result_steps_failed(f->res), failed);
}

static void assert_final(const fixture *f, jx_job_status status,
                         const char *status_name, const char *reason)
{
    assert_int_equal(jx_result_status(f->res), status);
    assert_string_equal(jx_result_status_name(f->res), status_name);
    assert_string_equal(jx_result_reason(f->res), reason);
    assert_string_equal(get_str(f->doc, "final_status"), status_name);
    assert_string_equal(get_str(f->doc, "final_reason"), reason);
}

/* ---- configs ------------------------------------------------------------ */

#define CONFIG_NOOP                                                           \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: noop\n"                                                        \
    "    step_types: [capability_enable, capability_disable]\n"

#define CONFIG_BOOM                                                           \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: fail\n"                                                        \
    "    step_types: [bad]\n"                                                 \
    "    config: {error_message: \"Boom\"}\n"

#define CONFIG_FAIL_DEFAULT                                                   \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: fail\n"                                                        \
    "    step_types: [bad]\n"

#define CONFIG_HEALTH                                                         \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: noop\n"                                                        \
    "    step_types: [capability_enable]\n"                                   \
    "  - path: health_static\n"                                               \
    "    config:\n"                                                           \
    "      snapshot: {status: healthy, nodes: 3, ratio: 0.5,\n"               \
    "                 zones: [a, b], degraded: false}\n"                      \
    "health:\n"                                                               \
    "  observer: health_static\n"

#define SNAPSHOT_JSON                                                         \
    "{\"status\":\"healthy\",\"nodes\":3,\"ratio\":0.5,"                      \
    "\"zones\":[\"a\",\"b\"],\"degraded\":false}"

static void step(char *buf, size_t len, int64_t index, const char *type)
{
    snprintf(buf, len, "  - {step_index: %lld, step_type: %s}\n",
             (long long)index, type);
}

/* A plan text of the given (index, type) pairs. */
static char *plan_of(size_t n, const int64_t *indexes,
                     const char *const *types)
{
    size_t cap = 256 + n * 64;
    char *text = malloc(cap);
    size_t len;

    assert_non_null(text);
    len = (size_t)snprintf(text, cap, HEAD "steps:\n");
    for (size_t i = 0; i < n; i++) {
        step(text + len, cap - len, indexes[i], types[i]);
        len += strlen(text + len);
    }
    return text;
}

static void run_steps(fixture *f, size_t n, const int64_t *indexes,
                      const char *const *types)
{
    char *text = plan_of(n, indexes, types);
    parse_plan(f, text);
    free(text);
    run_parsed(f, NULL);
}

/* ---- EXEC-001, EXEC-002: order, one result per step ---------------------- */

static void test_single_step_completes(void **state)
{
    fixture *f = *state;
    json_t *r;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - step_index: 0\n"
                     "    step_type: capability_enable\n"
                     "    target: CAP_A\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_summary(f, 1, 1, 0);
    assert_int_equal(json_array_size(results(f)), 1);
    r = result_at(f, 0);
    assert_int_equal(get_int(r, "step_index"), 0);
    assert_string_equal(get_str(r, "status"), "COMPLETED");
    assert_true(json_is_null(get(r, "error")));
    assert_true(json_is_object(get(r, "output")));
}

static void test_steps_run_in_declared_order(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 3, 4, 10, 11, 250};
    static const char *const types[] = {"rec", "rec", "rec",
                                        "rec", "rec", "rec"};

    make_executor(f, NULL);
    run_steps(f, 6, indexes, types);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_calls, 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *r = result_at(f, i);
        assert_int_equal(seen.order[i], indexes[i]);
        assert_int_equal(get_int(r, "step_index"), indexes[i]);
        assert_int_equal(get_int(get(r, "output"), "seen_index"),
                         indexes[i]);
    }
    assert_int_equal(json_array_size(results(f)), 6);
    assert_summary(f, 6, 6, 0);
}

static void test_timestamps_and_output_per_step(void **state)
{
    fixture *f = *state;
    static const char *const targets[] = {"CAP_A", "CAP_B", "CAP_C"};
    static const char *const types[] = {"capability_enable",
                                        "capability_disable",
                                        "capability_enable"};
    const char *job_start, *job_end, *previous_end;
    json_t *timing;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable, "
                     "target: CAP_A}\n"
                     "  - {step_index: 1, step_type: capability_disable, "
                     "target: CAP_B}\n"
                     "  - {step_index: 2, step_type: capability_enable, "
                     "target: CAP_C}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    timing = get(f->doc, "timing");
    job_start = get_str(timing, "started_at");
    job_end = get_str(timing, "completed_at");
    assert_iso_utc(job_start);
    assert_iso_utc(job_end);
    previous_end = job_start;
    for (size_t i = 0; i < 3; i++) {
        json_t *r = result_at(f, i), *out = get(r, "output");
        const char *started = get_str(r, "started_at");
        const char *completed = get_str(r, "completed_at");

        assert_iso_utc(started);
        assert_iso_utc(completed);
        /* Same fixed-width format: text order is time order. */
        assert_true(strcmp(previous_end, started) <= 0);
        assert_true(strcmp(started, completed) <= 0);
        previous_end = completed;

        assert_int_equal(json_object_size(out), 4);
        assert_string_equal(get_str(out, "handler"), "noop");
        assert_string_equal(get_str(out, "step_type"), types[i]);
        assert_string_equal(get_str(out, "target"), targets[i]);
        assert_iso_utc(get_str(out, "executed_at"));
        assert_true(strcmp(started, get_str(out, "executed_at")) <= 0);
        assert_true(strcmp(get_str(out, "executed_at"), completed) <= 0);
    }
    assert_true(strcmp(previous_end, job_end) <= 0);
}

/* ---- EXEC-003: stop on first failure ------------------------------------- */

static void test_stop_at_failing_step(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "bad", "rec"};
    json_t *r;

    make_executor(f, CONFIG_BOOM);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 1 failed: Boom");
    assert_summary(f, 2, 1, 1);
    /* Step 2 never ran. */
    assert_int_equal(seen.n_calls, 1);
    assert_int_equal(seen.order[0], 0);
    assert_int_equal(json_array_size(results(f)), 2);
    assert_string_equal(get_str(result_at(f, 0), "status"), "COMPLETED");
    r = result_at(f, 1);
    assert_int_equal(get_int(r, "step_index"), 1);
    assert_string_equal(get_str(r, "status"), "FAILED");
    assert_string_equal(get_str(r, "error"), "Boom");
    assert_true(json_is_null(get(r, "output")));
}

static void test_default_fail_message(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {7};
    static const char *const types[] = {"bad"};

    make_executor(f, CONFIG_FAIL_DEFAULT);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 7 failed: Intentional failure");
    assert_summary(f, 1, 0, 1);
    assert_string_equal(get_str(result_at(f, 0), "error"),
                        "Intentional failure");
}

static void test_missing_handler(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 3, 4};
    static const char *const types[] = {"rec", "no_such_type", "rec"};
    json_t *r;

    make_executor(f, NULL);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 3 failed: No handler registered for step type: "
                 "no_such_type");
    assert_summary(f, 2, 1, 1);
    assert_int_equal(seen.n_calls, 1);
    r = result_at(f, 1);
    assert_int_equal(get_int(r, "step_index"), 3);
    assert_string_equal(get_str(r, "status"), "FAILED");
    assert_string_equal(get_str(r, "error"),
                        "No handler registered for step type: no_such_type");
    assert_true(json_is_null(get(r, "output")));
    assert_iso_utc(get_str(r, "started_at"));
    assert_iso_utc(get_str(r, "completed_at"));
}

/* ---- EXEC-006: no retry --------------------------------------------------- */

static void test_failing_handler_called_once(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1};
    static const char *const types[] = {"fail_once", "fail_once"};

    make_executor(f, NULL);
    run_steps(f, 2, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 0 failed: Nope");
    assert_int_equal(seen.n_calls, 1);
    assert_summary(f, 1, 0, 1);

    /* A second run of the same plan is a new run: once more, not twice. */
    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    run_parsed(f, NULL);
    assert_int_equal(seen.n_calls, 2);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 0 failed: Nope");
}

static void test_failure_without_reason(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {2};
    static const char *const types[] = {"fail_silent"};

    make_executor(f, NULL);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 2 failed: the handler reported failure without a "
                 "reason");
    assert_string_equal(get_str(result_at(f, 0), "error"),
                        "the handler reported failure without a reason");
    assert_int_equal(seen.n_calls, 1);
}

static void test_unknown_return_value(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0};
    static const char *const types[] = {"return7"};

    make_executor(f, NULL);
    run_steps(f, 1, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler returned 7, which is neither "
                 "JX_STEP_OK nor JX_STEP_FAILED");
    assert_string_equal(get_str(result_at(f, 0), "status"), "FAILED");
    assert_true(json_is_null(get(result_at(f, 0), "output")));
    assert_int_equal(seen.n_calls, 1);
}

static void test_empty_plan(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps: []\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_summary(f, 0, 0, 0);
    assert_true(json_is_array(results(f)));
    assert_int_equal(json_array_size(results(f)), 0);
    assert_int_equal(seen.n_calls, 0);
    assert_true(jx_result_duration_seconds(f->res) >= 0.0);
}

/* ---- EXEC-004: health observed, never modified --------------------------- */

static void assert_json_text(const json_t *v, const char *expected_text)
{
    json_t *expected = json_loads(expected_text, JSON_DECODE_ANY, NULL);

    assert_non_null(expected);
    if (!json_equal(v, expected)) {
        char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(expected);
        fail_msg("expected %s, got %s", expected_text, got);
    }
    json_decref(expected);
}

static void test_health_static_snapshots(void **state)
{
    fixture *f = *state;
    json_t *h;

    make_executor(f, CONFIG_HEALTH);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n"
                     "  - {step_index: 1, step_type: capability_enable}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), SNAPSHOT_JSON);
    assert_json_text(get(h, "after"), SNAPSHOT_JSON);
}

static void test_health_without_observer_is_null(void **state)
{
    fixture *f = *state;
    json_t *h;

    make_executor(f, CONFIG_NOOP);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n");
    h = get(f->doc, "health_observations");
    assert_true(json_is_null(get(h, "before")));
    assert_true(json_is_null(get(h, "after")));
}

static void use_counting_observer(fixture *f)
{
    if (jx_executor_set_health_observer(f->ex, &count_observer, NULL,
                                        &f->err) != 0)
        fail_msg("observer: %s", f->err.message);
}

static void test_observed_before_and_after_each_step(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "rec", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_observe, 4);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), "{\"n\":1,\"status\":\"green\"}");
    assert_json_text(get(h, "after"), "{\"n\":4,\"status\":\"green\"}");
}

static void test_observed_after_failed_step_that_returned(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1, 2};
    static const char *const types[] = {"rec", "fail_once", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 3, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED", "Step 1 failed: Nope");
    /* Before the job, after step 0, after step 1; step 2 never ran. */
    assert_int_equal(seen.n_observe, 3);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "after"), "{\"n\":3,\"status\":\"green\"}");
}

static void test_no_observation_after_step_without_handler(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0, 1};
    static const char *const types[] = {"nobody_handles_this", "rec"};
    json_t *h;

    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 2, indexes, types);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: No handler registered for step type: "
                 "nobody_handles_this");
    assert_int_equal(seen.n_observe, 1);
    assert_int_equal(seen.n_calls, 0);
    h = get(f->doc, "health_observations");
    assert_json_text(get(h, "before"), "{\"n\":1,\"status\":\"green\"}");
    assert_true(json_is_null(get(h, "after")));
}

static void test_failing_observer_gives_null(void **state)
{
    fixture *f = *state;
    static const int64_t indexes[] = {0};
    static const char *const types[] = {"rec"};
    json_t *h;

    seen.observe_fails = 1;
    make_executor(f, NULL);
    use_counting_observer(f);
    run_steps(f, 1, indexes, types);
    /* Health that cannot be observed is recorded, not fatal. */
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_observe, 2);
    h = get(f->doc, "health_observations");
    assert_true(json_is_null(get(h, "before")));
    assert_true(json_is_null(get(h, "after")));
}

/* ---- the evidence document ----------------------------------------------- */

/* Extra members are allowed (DESIGN.md: none removed); missing ones not. */
static void assert_has_keys(const json_t *object, const char *const *keys)
{
    for (const char *const *k = keys; *k != NULL; k++)
        (void)get(object, *k);
}

static void test_document_fields(void **state)
{
    fixture *f = *state;
    static const char *const top[] = {
        "job_id", "final_status", "final_reason", "execution_summary",
        "step_results", "health_observations", "timing", "executor_version",
        NULL};
    static const char *const per_step[] = {"step_index", "status",
                                           "started_at", "completed_at",
                                           "output", "error", NULL};
    json_t *timing, *h, *r;

    make_executor(f, CONFIG_HEALTH);
    run_plan(f, HEAD "steps:\n"
                     "  - {step_index: 0, step_type: capability_enable}\n"
                     "  - {step_index: 1, step_type: fail_once}\n");
    assert_true(json_is_object(f->doc));
    assert_has_keys(f->doc, top);
    assert_string_equal(get_str(f->doc, "job_id"), JOB);
    assert_string_equal(jx_result_job_id(f->res), JOB);
    assert_string_equal(get_str(f->doc, "final_status"), "FAILED");
    assert_string_equal(get_str(f->doc, "final_reason"),
                        "Step 1 failed: Nope");
    assert_summary(f, 2, 1, 1);
    assert_string_equal(get_str(f->doc, "executor_version"), jx_version());

    assert_int_equal(json_array_size(results(f)), 2);
    for (size_t i = 0; i < 2; i++) {
        r = result_at(f, i);
        assert_has_keys(r, per_step);
        assert_int_equal(get_int(r, "step_index"), (json_int_t)i);
    }
    r = result_at(f, 0);
    assert_string_equal(get_str(r, "status"), "COMPLETED");
    assert_true(json_is_object(get(r, "output")));
    assert_true(json_is_null(get(r, "error")));
    r = result_at(f, 1);
    assert_string_equal(get_str(r, "status"), "FAILED");
    assert_true(json_is_null(get(r, "output")));
    assert_string_equal(get_str(r, "error"), "Nope");

    h = get(f->doc, "health_observations");
    assert_has_keys(h, (const char *const[]){"before", "after", NULL});
    assert_json_text(get(h, "before"), SNAPSHOT_JSON);
    assert_json_text(get(h, "after"), SNAPSHOT_JSON);

    timing = get(f->doc, "timing");
    assert_iso_utc(get_str(timing, "started_at"));
    assert_iso_utc(get_str(timing, "completed_at"));
    assert_true(json_is_real(get(timing, "duration_seconds")));
    assert_true(json_real_value(get(timing, "duration_seconds")) >= 0.0);
    assert_true(json_real_value(get(timing, "duration_seconds")) ==
                jx_result_duration_seconds(f->res));
}

static void test_document_of_completed_job(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "tenant_id: acme\nexecuted_by: worker-7\n"
                     "steps:\n  - {step_index: 0, step_type: typed}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    /* Output built through the host calls, copied as JSON values; a
     * repeated key replaces the earlier value. */
    assert_json_text(get(result_at(f, 0), "output"),
                     "{\"s\":\"new\",\"i\":-42,\"b\":true,\"d\":0.5,"
                     "\"j\":{\"k\":[1,2]},\"m\":1}");
    assert_int_equal(seen.out_rc[0], 0);
    assert_int_equal(seen.out_rc[1], 0);
    assert_int_equal(seen.out_rc[2], 0);
    assert_int_equal(seen.out_rc[3], 0);
    assert_int_equal(seen.out_rc[4], 0);
    assert_int_equal(seen.out_rc[5], -1); /* not JSON */
    assert_int_equal(seen.out_rc[6], 0);
    assert_int_equal(seen.out_rc[7], -1); /* not an object */
    assert_string_equal(get_str(f->doc, "executor_version"), jx_version());
    /* The document is exactly one JSON object followed by a newline. */
    assert_int_equal(f->doc_text[f->doc_len - 1], '\n');
}

/* Output kept as text reads byte for byte as jansson's dump of the same
 * calls would: escapes, order, a key set again, a key jansson refuses,
 * and the switch to an object past JX__OUTPUT_TEXT_KEYS keys. */
static void test_output_text_matches_jansson(void **state)
{
    fixture *f = *state;
    json_t *expected = json_object();
    char key[8], *want, *needle = NULL;

    json_object_set_new(expected, "a", json_string("first"));
    json_object_set_new(expected, ESC_KEY, json_string(ESC_VALUE));
    json_object_set_new(expected, "a", json_integer(INT64_MIN));
    json_object_set_new(expected, "f", json_false());
    json_object_set_new(expected, "n", json_null());
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        json_object_set_new(expected, key, json_integer(i));
    }
    json_object_set_new(expected, "k03", json_string("again"));
    want = json_dumps(expected, JSON_COMPACT);
    json_decref(expected);
    assert_non_null(want);
    assert_true(asprintf(&needle, "\"output\":%s,\"error\":null", want) > 0);
    free(want);

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: text_edges}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    if (strstr(f->doc_text, needle) == NULL)
        fail_msg("expected %s in %s", needle, f->doc_text);
    free(needle);
    for (int i = 0; i < 8; i++)
        assert_int_equal(seen.out_rc[i], i == 3 ? -1 : 0);
}

/* A string that is not UTF-8 cannot be recorded: the step fails, saying
 * why. */
static void test_output_not_utf8_fails_step(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: bad_utf8}\n");
    assert_int_equal(seen.out_rc[0], -1);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler's output could not be "
                 "recorded: a string is not valid UTF-8");

    drop_run(f);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: bad_utf8_late}\n");
    assert_int_equal(seen.out_rc[0], 0);
    assert_int_equal(seen.out_rc[1], -1);
    assert_final(f, JX_JOB_FAILED, "FAILED",
                 "Step 0 failed: the handler's output could not be "
                 "recorded: a string is not valid UTF-8");
}

/* A NULL key is refused, and the value made for it is not leaked (the
 * sanitizer build's leak check sees to that). */
static void test_output_null_key_refused(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: null_keys}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.out_rc[0], -1);
    assert_int_equal(seen.out_rc[1], -1);
    assert_int_equal(seen.out_rc[2], -1);
    assert_int_equal(seen.out_rc[3], 0);
    assert_json_text(get(result_at(f, 0), "output"), "{\"kept\":1}");
}

/* ---- EXEC-005: the plan is not mutated ------------------------------------ */

/* Serialises every field of the plan, down to parameter keys and values,
 * so that any change shows up as a different text. */
static char *plan_fields(const jx_plan *plan)
{
    json_t *all = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[]}",
                            "name", plan->name, "job_id", plan->job_id,
                            "contract_id", plan->contract_id, "tenant_id",
                            plan->tenant_id, "executed_by", plan->executed_by,
                            "sha256", plan->sha256, "n_steps",
                            (json_int_t)plan->n_steps, "steps");
    json_t *steps = json_object_get(all, "steps");
    char *text;

    for (size_t i = 0; i < plan->n_steps; i++) {
        const jx__step *st = &plan->steps[i];
        json_t *keys = json_array();
        for (size_t k = 0; k < st->n_params; k++)
            json_array_append_new(keys, json_string(st->param_keys[k]));
        json_array_append_new(
            steps,
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:O, s:s, s:o, s:I, "
                      "s:I, s:I}",
                      "index", (json_int_t)st->index, "type", st->type,
                      "target", st->target, "type_json", st->type_json,
                      "target_json", st->target_json, "timeout",
                      (json_int_t)st->timeout_seconds, "params", st->params,
                      "params_json", st->params_json, "keys", keys,
                      "n_params", (json_int_t)st->n_params, "line",
                      (json_int_t)st->line, "col", (json_int_t)st->col));
    }
    text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    assert_non_null(text);
    return text;
}

static void test_plan_not_mutated(void **state)
{
    fixture *f = *state;
    char *before, *after;
    char first_params[256];

    make_executor(f, CONFIG_BOOM);
    parse_plan(f, HEAD "tenant_id: acme\n"
                       "steps:\n"
                       "  - step_index: 0\n"
                       "    step_type: probe\n"
                       "    target: CAP_A\n"
                       "    timeout_seconds: 42\n"
                       "    parameters: {s: str, i: 7, b: true, d: 2.5,\n"
                       "                 j: {a: [1, 2]}}\n"
                       "  - {step_index: 1, step_type: bad, target: X,\n"
                       "     parameters: {reason: ticket 42}}\n");
    before = plan_fields(f->plan);
    run_parsed(f, NULL);
    copy_text(first_params, sizeof first_params, seen.params_json);
    after = plan_fields(f->plan);
    assert_string_equal(after, before);
    free(after);

    /* A second run sees exactly what the first saw. */
    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    run_parsed(f, NULL);
    assert_string_equal(seen.params_json, first_params);
    after = plan_fields(f->plan);
    assert_string_equal(after, before);
    free(after);
    free(before);
}

/* ---- what a handler sees -------------------------------------------------- */

static void test_host_accessors(void **state)
{
    fixture *f = *state;
    json_t *params, *expected;

    make_executor(f, NULL);
    run_plan(f, HEAD "tenant_id: acme\n"
                     "executed_by: worker-7\n"
                     "steps:\n"
                     "  - step_index: 4\n"
                     "    step_type: probe\n"
                     "    target: CAP_A\n"
                     "    timeout_seconds: 42\n"
                     "    parameters:\n"
                     "      s: str\n"
                     "      i: 7\n"
                     "      b: true\n"
                     "      d: 2.5\n"
                     "      j: {a: [1, 2], z: null}\n");
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_string_equal(seen.job_id, JOB);
    assert_string_equal(seen.contract_id, CONTRACT);
    assert_string_equal(seen.tenant_id, "acme");
    assert_string_equal(seen.executed_by, "worker-7");
    assert_string_equal(seen.started_at,
                        get_str(get(f->doc, "timing"), "started_at"));
    assert_int_equal(seen.index, 4);
    assert_string_equal(seen.type, "probe");
    assert_string_equal(seen.target, "CAP_A");
    assert_int_equal(seen.timeout, 42);

    params = json_loads(seen.params_json, 0, NULL);
    expected = json_loads("{\"s\":\"str\",\"i\":7,\"b\":true,\"d\":2.5,"
                          "\"j\":{\"a\":[1,2],\"z\":null}}",
                          0, NULL);
    assert_non_null(params);
    assert_true(json_equal(params, expected));
    json_decref(params);
    json_decref(expected);

    assert_int_equal(seen.n_params, 5);
    assert_string_equal(seen.keys[0], "s");
    assert_string_equal(seen.keys[1], "i");
    assert_string_equal(seen.keys[2], "b");
    assert_string_equal(seen.keys[3], "d");
    assert_string_equal(seen.keys[4], "j");
    assert_true(seen.key_past_end_is_null);

    assert_string_equal(seen.s_value, "str");
    assert_true(seen.s_of_int_is_null);
    assert_int_equal(seen.i_rc, 0);
    assert_int_equal(seen.i_value, 7);
    assert_int_equal(seen.i_of_string_rc, -1);
    assert_int_equal(seen.i_missing_rc, -1);
    assert_int_equal(seen.b_rc, 0);
    assert_int_equal(seen.b_value, 1);
    assert_int_equal(seen.d_rc, 0);
    assert_true(seen.d_value == 2.5);
    assert_int_equal(seen.d_of_int_rc, 0); /* an integer is a number */
    assert_true(seen.d_of_int == 7.0);
    assert_string_equal(seen.j_value, "{\"a\":[1,2],\"z\":null}");
    assert_true(seen.j_missing_is_null);

    assert_true(seen.time_left_ms > 0);
    assert_true(seen.time_left_ms <= 42 * 1000);
    assert_int_equal(seen.cancelled, 0);
}

static void test_host_accessor_defaults(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: probe}\n");
    assert_string_equal(seen.tenant_id, "");
    assert_string_equal(seen.executed_by, "executor");
    assert_string_equal(seen.target, "");
    assert_int_equal(seen.timeout, 300);
    assert_string_equal(seen.params_json, "{}");
    assert_int_equal(seen.n_params, 0);
    assert_true(seen.key_past_end_is_null);
    assert_true(seen.time_left_ms > 0);
    assert_true(seen.time_left_ms <= 300 * 1000);
    assert_iso_utc(seen.started_at);
}

static void test_progress_reports(void **state)
{
    fixture *f = *state;
    int marker;
    jx_run_options opts = {.on_progress = on_progress, .user = &marker};

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n"
                       "  - {step_index: 0, step_type: rec}\n"
                       "  - {step_index: 9, step_type: progress}\n");
    run_parsed(f, &opts);
    assert_final(f, JX_JOB_COMPLETED, "COMPLETED",
                 "All steps completed successfully");
    assert_int_equal(seen.n_progress, 3);
    assert_ptr_equal(seen.progress_user, &marker);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(seen.progress_job[i], JOB);
        assert_int_equal(seen.progress_index[i], 9);
    }
    /* Clamped into [0, 1]. */
    assert_true(seen.fractions[0] == 0.0);
    assert_true(seen.fractions[1] == 0.25);
    assert_true(seen.fractions[2] == 1.0);
    assert_string_equal(seen.messages[0], "below");
    assert_string_equal(seen.messages[1], "(null)");
    assert_string_equal(seen.messages[2], "above");
}

static void test_progress_without_callback(void **state)
{
    fixture *f = *state;
    jx_result *res = NULL;

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n  - {step_index: 0, step_type: progress}\n");
    /* No options at all: reports are dropped. */
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &res, &f->err), 0);
    assert_non_null(res);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    jx_result_free(res);
    assert_int_equal(seen.n_progress, 0);
}

/* ---- results and arguments ------------------------------------------------ */

static void test_result_getters(void **state)
{
    fixture *f = *state;
    jx_result *res = NULL;

    make_executor(f, NULL);
    parse_plan(f, HEAD "steps:\n"
                       "  - {step_index: 0, step_type: rec}\n"
                       "  - {step_index: 1, step_type: rec}\n");
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &res, &f->err), 0);
    assert_non_null(res);
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_status_name(res), "COMPLETED");
    assert_string_equal(jx_result_reason(res),
                        "All steps completed successfully");
    assert_string_equal(jx_result_job_id(res), JOB);
    assert_string_equal(jx_result_job_id(res), jx_plan_job_id(f->plan));
    assert_int_equal(jx_result_steps_executed(res), 2);
    assert_int_equal(jx_result_steps_succeeded(res), 2);
    assert_int_equal(jx_result_steps_failed(res), 0);
    assert_true(jx_result_duration_seconds(res) >= 0.0);
    assert_true(jx_result_duration_seconds(res) < 3600.0);
    jx_result_free(res);
    jx_result_free(NULL);
}

static void test_generated_job_id_reaches_result(void **state)
{
    fixture *f = *state;

    make_executor(f, NULL);
    run_plan(f, "contract_id: " CONTRACT "\n"
                "steps:\n  - {step_index: 0, step_type: rec}\n");
    assert_int_equal(strlen(jx_result_job_id(f->res)), 36);
    assert_string_equal(jx_result_job_id(f->res), jx_plan_job_id(f->plan));
    assert_string_equal(get_str(f->doc, "job_id"), jx_plan_job_id(f->plan));
}

static void test_run_refuses_null_arguments(void **state)
{
    fixture *f = *state;
    jx_result *res = (jx_result *)&res; /* must be reset to NULL */

    make_executor(f, NULL);
    assert_int_equal(jx_executor_run(f->ex, NULL, NULL, &res, &f->err),
                     JX_EINVAL);
    assert_null(res);
    assert_int_equal(f->err.code, JX_EINVAL);
    assert_string_equal(f->err.message,
                        "jx_executor_run: NULL executor or plan");
}

static void test_executor_without_config(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    make_executor(f, NULL);
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    assert_int_equal(jx_executor_plugin_info(f->ex, 0, &info), 0);
    assert_string_equal(info.name, "inproc");
    assert_string_equal(info.version, "2.3.4");
    assert_string_equal(info.path, "(in-process)");
    assert_int_equal(info.abi_version, JX_ABI_VERSION);
    assert_int_equal(info.thread_safe, 0);
    assert_int_equal(info.has_handler, 1);
    assert_int_equal(info.is_health_observer, 0);
    for (size_t i = 0; inproc_types[i] != NULL; i++)
        assert_string_equal(info.step_types[i], inproc_types[i]);
    assert_int_equal(jx_executor_plugin_info(f->ex, 1, &info), JX_EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_single_step_completes),
        T(test_steps_run_in_declared_order),
        T(test_timestamps_and_output_per_step),
        T(test_stop_at_failing_step),
        T(test_default_fail_message),
        T(test_missing_handler),
        T(test_failing_handler_called_once),
        T(test_failure_without_reason),
        T(test_unknown_return_value),
        T(test_empty_plan),
        T(test_health_static_snapshots),
        T(test_health_without_observer_is_null),
        T(test_observed_before_and_after_each_step),
        T(test_observed_after_failed_step_that_returned),
        T(test_no_observation_after_step_without_handler),
        T(test_failing_observer_gives_null),
        T(test_document_fields),
        T(test_output_text_matches_jansson),
        T(test_output_not_utf8_fails_step),
        T(test_output_null_key_refused),
        T(test_document_of_completed_job),
        T(test_plan_not_mutated),
        T(test_host_accessors),
        T(test_host_accessor_defaults),
        T(test_progress_reports),
        T(test_progress_without_callback),
        T(test_result_getters),
        T(test_generated_job_id_reaches_result),
        T(test_run_refuses_null_arguments),
        T(test_executor_without_config),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
