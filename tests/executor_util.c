/*
 * executor_util.c - see executor_util.h.
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

#include "executor_util.h"

/* EXEC-005 at compile time: execute() receives const views only. */
_Static_assert(
    __builtin_types_compatible_p(
        __typeof__(((step_handler_v1 *)0)->execute),
        int (*)(void *, const jx_host_v1 *, const jx_context *,
                const jx_step *, jx_output *)),
    "execute must receive const views of the job and the step");

/* ---- what the in-process handlers saw ----------------------------------- */

executor_seen seen;

void copy_text(char *dst, size_t len, const char *src)
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

const char *const inproc_types[] = {
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

int fx_setup(void **state)
{
    memset(&seen, 0, sizeof seen);
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

void drop_run(fixture *f)
{
    json_decref(f->doc);
    f->doc = NULL;
    free(f->doc_text);
    f->doc_text = NULL;
    tu_drop_job(&f->res, &f->plan, NULL, NULL);
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    drop_run(f);
    tu_drop_job(NULL, NULL, &f->ex, &f->cfg);
    free(f);
    return 0;
}

void make_executor(fixture *f, const char *config_text)
{
    if (config_text != NULL)
        tu_configf(&f->cfg, &f->err, "test.yaml", TU_PLUGINS, "%s",
                   config_text);
    tu_executor(f->cfg, &inproc_handler, &f->ex, &f->err);
}

void parse_plan(fixture *f, const char *plan_text)
{
    tu_plan(plan_text, &f->plan, &f->err);
}

void run_parsed(fixture *f, jx_run_options *opts)
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

void run_plan(fixture *f, const char *plan_text)
{
    parse_plan(f, plan_text);
    run_parsed(f, NULL);
}

/* ---- reading the document ----------------------------------------------- */

json_t *get(const json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    if (v == NULL)
        fail_msg("no member '%s'", key);
    return v;
}

const char *get_str(const json_t *object, const char *key)
{
    json_t *v = get(object, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is not a string", key);
    return json_string_value(v);
}

json_int_t get_int(const json_t *object, const char *key)
{
    json_t *v = get(object, key);
    if (!json_is_integer(v))
        fail_msg("member '%s' is not an integer", key);
    return json_integer_value(v);
}

json_t *results(const fixture *f) { return get(f->doc, "step_results"); }

json_t *result_at(const fixture *f, size_t i)
{
    json_t *r = json_array_get(results(f), i);
    assert_non_null(r);
    return r;
}

void assert_iso_utc(const char *s)
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

void assert_summary(const fixture *f, json_int_t executed,
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

void assert_final(const fixture *f, jx_job_status status,
                  const char *status_name, const char *reason)
{
    assert_int_equal(jx_result_status(f->res), status);
    assert_string_equal(jx_result_status_name(f->res), status_name);
    assert_string_equal(jx_result_reason(f->res), reason);
    assert_string_equal(get_str(f->doc, "final_status"), status_name);
    assert_string_equal(get_str(f->doc, "final_reason"), reason);
}

static void step(char *buf, size_t len, int64_t index, const char *type)
{
    snprintf(buf, len, "  - {step_index: %lld, step_type: %s}\n",
             (long long)index, type);
}

char *plan_of(size_t n, const int64_t *indexes,
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

void run_steps(fixture *f, size_t n, const int64_t *indexes,
               const char *const *types)
{
    char *text = plan_of(n, indexes, types);
    parse_plan(f, text);
    free(text);
    run_parsed(f, NULL);
}

void assert_json_text(const json_t *v, const char *expected_text)
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
