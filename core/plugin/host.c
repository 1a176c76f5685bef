/*
 * host.c - the jx_host_v1 services table: the only way a plugin reads its
 * inputs and hands back results.  Every getter reads const data; every
 * output call copies what it is given.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "input/redact.h"
#include "plugin/host.h"

/* ---- scratch ------------------------------------------------------------ */

void jx__scratch_free(jx__scratch **list)
{
    while (*list != NULL) {
        jx__scratch *next = (*list)->next;
        free(*list);
        *list = next;
    }
}

/* Dumps value as compact JSON into the list; NULL when out of memory. */
static const char *scratch_json(jx__scratch **list, const json_t *value)
{
    size_t len = json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    jx__scratch *s = malloc(sizeof *s + len + 1);

    if (s == NULL)
        return NULL;
    json_dumpb(value, s->text, len, JSON_COMPACT | JSON_ENCODE_ANY);
    s->text[len] = '\0';
    s->next = *list;
    *list = s;
    return s->text;
}

/* ---- logging ------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static jx_log_fn log_fn;
static void *log_user;

void jx_set_log_handler(jx_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void jx__log_cut(const jx_context *ctx, int level, const char *message,
                 int cut)
{
    jx_log_fn fn;
    void *user;
    char *clean = NULL;
    int oom = 0;

    pthread_mutex_lock(&log_lock);
    fn = log_fn;
    user = log_user;
    pthread_mutex_unlock(&log_lock);
    if (fn == NULL)
        return;
    if (ctx != NULL)
        clean = cut ? jx__redact_cut(ctx->plan, message, &oom)
                    : jx__redact_text(ctx->plan, message, &oom);
    if (oom)
        message = "(a message was dropped: out of memory redacting it)";
    fn(level, ctx != NULL ? ctx->plan->job_id : NULL,
       ctx != NULL ? ctx->step_index : -1, clean ? clean : message, user);
    free(clean);
}

void jx__log(const jx_context *ctx, int level, const char *message)
{
    jx__log_cut(ctx, level, message, 0);
}

static void host_log(const jx_context *ctx, int level, const char *fmt, ...)
    JX__PRINTF(3, 4);

/* Formatted whole, then redacted: cutting first could split a secret. */
static void host_log(const jx_context *ctx, int level, const char *fmt, ...)
{
    char *message;
    va_list ap;
    int n;

    if (fmt == NULL)
        return;
    va_start(ap, fmt);
    n = vasprintf(&message, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    jx__log(ctx, level, message);
    free(message);
}

/* ---- the step ----------------------------------------------------------- */

static int64_t step_index(const jx_step *s) { return s->step->index; }
static const char *step_type(const jx_step *s) { return s->step->type; }
static const char *step_target(const jx_step *s) { return s->step->target; }
static int64_t step_timeout_seconds(const jx_step *s)
{
    return s->step->timeout_seconds;
}
static const char *step_parameters_json(const jx_step *s)
{
    return s->step->params_json;
}
static size_t param_count(const jx_step *s) { return s->step->n_params; }
static const char *param_key(const jx_step *s, size_t i)
{
    return i < s->step->n_params ? s->step->param_keys[i] : NULL;
}

static const json_t *lookup(const json_t *object, const char *key)
{
    return key != NULL ? json_object_get(object, key) : NULL;
}

static const char *get_string(const json_t *object, const char *key)
{
    const json_t *v = lookup(object, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int get_int(const json_t *object, const char *key, int64_t *out)
{
    const json_t *v = lookup(object, key);
    if (!json_is_integer(v) || out == NULL)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int get_bool(const json_t *object, const char *key, int *out)
{
    const json_t *v = lookup(object, key);
    if (!json_is_boolean(v) || out == NULL)
        return -1;
    *out = json_is_true(v);
    return 0;
}

static const char *param_string(const jx_step *s, const char *key)
{
    return get_string(s->step->params, key);
}
static int param_int(const jx_step *s, const char *key, int64_t *out)
{
    return get_int(s->step->params, key, out);
}
static int param_bool(const jx_step *s, const char *key, int *out)
{
    return get_bool(s->step->params, key, out);
}
static int param_double(const jx_step *s, const char *key, double *out)
{
    const json_t *v = lookup(s->step->params, key);
    if (!json_is_number(v) || out == NULL)
        return -1;
    *out = json_number_value(v);
    return 0;
}
static const char *param_json(const jx_step *s, const char *key)
{
    const json_t *v = lookup(s->step->params, key);
    jx_step *mutable_view = (jx_step *)s; /* the scratch list only */
    return v != NULL ? scratch_json(&mutable_view->scratch, v) : NULL;
}

/* ---- the context -------------------------------------------------------- */

static const char *ctx_job_id(const jx_context *c) { return c->plan->job_id; }
static const char *ctx_contract_id(const jx_context *c)
{
    return c->plan->contract_id;
}
static const char *ctx_tenant_id(const jx_context *c)
{
    return c->plan->tenant_id;
}
static const char *ctx_executed_by(const jx_context *c)
{
    return c->plan->executed_by;
}
static const char *ctx_started_at(const jx_context *c) { return c->started_at; }
static int64_t ctx_time_left_ms(const jx_context *c)
{
    return (int64_t)((c->deadline - jx__monotonic()) * 1000.0);
}
static int ctx_cancelled(const jx_context *c)
{
    return c->cancelled != NULL && atomic_load(c->cancelled) != 0;
}
void jx__progress_cut(const jx_context *c, double fraction,
                      const char *message, int cut)
{
    int oom = 0;
    char *clean = NULL;

    if (c->on_progress == NULL)
        return;
    if (message != NULL)
        clean = cut ? jx__redact_cut(c->plan, message, &oom)
                    : jx__redact_text(c->plan, message, &oom);
    c->on_progress(c->plan->job_id, c->step_index,
                   fraction < 0 ? 0 : fraction > 1 ? 1 : fraction,
                   clean != NULL ? clean : oom ? NULL : message, c->user);
    free(clean);
}

static void ctx_progress(const jx_context *c, double fraction,
                         const char *message)
{
    jx__progress_cut(c, fraction, message, 0);
}

/* ---- output ------------------------------------------------------------- */

void jx__output_clear(jx_output *out)
{
    json_decref(out->object);
    jx__buf_free(&out->members);
    free(out->error);
    free(out->stderr_text);
    memset(out, 0, sizeof *out);
}

int jx__output_put(jx__buf *b, const jx_output *out)
{
    if (out->object != NULL)
        return jx__buf_put_json(b, out->object);
    if (out->members.len == 0)
        return jx__buf_append(b, "{}", 2);
    /* The members lead with a comma, which becomes the opening brace. */
    return jx__buf_append(b, "{", 1) ||
           jx__buf_append(b, out->members.data + 1, out->members.len - 1) ||
           jx__buf_append(b, "}", 1);
}

/* Turns a text output into its jansson object; 0, or -1 (and the output
 * marked as failed) when out of memory. */
static int to_object(jx_output *out)
{
    jx__buf text = {NULL, 0, 0};

    if (out->object != NULL)
        return 0;
    if (jx__output_put(&text, out) == 0)
        out->object = json_loadb(text.data, text.len, 0, NULL);
    jx__buf_free(&text);
    if (out->object == NULL) {
        out->failed_alloc = 1;
        return -1;
    }
    out->members.len = 0;
    out->n_keys = 0;
    return 0;
}

json_t *jx__output_take(jx_output *out)
{
    json_t *object;

    if (to_object(out) != 0)
        return NULL;
    object = out->object;
    out->object = NULL;
    return object;
}

void jx__output_set(jx_output *out, json_t *object)
{
    json_decref(out->object);
    out->object = object;
    out->members.len = 0;
    out->n_keys = 0;
}

static int out_set(jx_output *out, const char *key, json_t *value)
{
    if (key == NULL) {
        json_decref(value);
        return -1;
    }
    if (value != NULL && to_object(out) != 0) {
        json_decref(value);
        value = NULL;
    }
    /* json_object_set_new takes the reference even when it fails. */
    if (value == NULL || json_object_set_new(out->object, key, value) != 0) {
        if (value == NULL)
            out->failed_alloc = 1;
        return -1;
    }
    return 0;
}

/* Starts the text member for key: 0 with ,"key": appended, *mark where
 * it starts; 1 when it must go through the object instead (already an
 * object, a key set before, too many keys, out of memory); -1 for a key
 * that is not UTF-8, which jansson refuses. */
static int text_key(jx_output *out, const char *key, size_t *mark)
{
    jx__buf *b = &out->members;
    size_t start = b->len, lit;
    int rc;

    if (out->object != NULL || out->n_keys == JX__OUTPUT_TEXT_KEYS)
        return 1;
    if (jx__buf_append(b, ",", 1) != 0)
        return 1;
    lit = b->len;
    rc = jx__buf_put_utf8(b, key, strlen(key));
    for (size_t i = 0; rc == 0 && i < out->n_keys; i++)
        if (out->keys[i].len == b->len - lit &&
            memcmp(b->data + out->keys[i].at, b->data + lit,
                   b->len - lit) == 0)
            rc = 1;
    if (rc == 0)
        rc = jx__buf_append(b, ":", 1) != 0;
    if (rc != 0) {
        b->len = start;
        b->data[start] = '\0';
        return rc == JX__BUF_NOT_UTF8 ? -1 : 1;
    }
    out->keys[out->n_keys].at = lit;
    out->keys[out->n_keys].len = b->len - 1 - lit;
    out->n_keys++;
    *mark = start;
    return 0;
}

/* Ends the text member text_key() started: rc is what writing its value
 * returned; on failure the member is taken back and the output marked:
 * a value that was asked for and not kept fails the step. */
static int text_value_done(jx_output *out, size_t mark, int rc)
{
    if (rc == 0)
        return 0;
    out->n_keys--;
    out->members.len = mark;
    out->members.data[mark] = '\0';
    if (rc == JX__BUF_NOT_UTF8)
        out->not_utf8 = 1;
    else
        out->failed_alloc = 1;
    return -1;
}

/* A string, integer or boolean, as the out_* calls for them are given. */
typedef struct scalar {
    enum { SCALAR_STRING, SCALAR_INT, SCALAR_BOOL } kind;
    const char *string; /* NULL: JSON null */
    int64_t number;     /* the integer, or the boolean's truth */
} scalar;

static int put_scalar(jx__buf *b, const scalar *v)
{
    switch (v->kind) {
    case SCALAR_STRING:
        return v->string != NULL
                   ? jx__buf_put_utf8(b, v->string, strlen(v->string))
                   : jx__buf_append(b, "null", 4);
    case SCALAR_INT:
        return jx__buf_put_i64(b, v->number);
    default:
        return v->number ? jx__buf_append(b, "true", 4)
                         : jx__buf_append(b, "false", 5);
    }
}

static json_t *scalar_json(const scalar *v)
{
    switch (v->kind) {
    case SCALAR_STRING:
        return v->string != NULL ? json_string(v->string) : json_null();
    case SCALAR_INT:
        return json_integer(v->number);
    default:
        return json_boolean(v->number);
    }
}

/* One member, kept as text while the output can be, else set on its
 * object. */
static int out_scalar(jx_output *out, const char *key, const scalar *v)
{
    size_t mark;
    int rc = key != NULL ? text_key(out, key, &mark) : -1;

    if (rc == 0)
        return text_value_done(out, mark, put_scalar(&out->members, v));
    if (rc < 0)
        return -1;
    if (v->kind == SCALAR_STRING && v->string != NULL &&
        !jx__utf8_valid(v->string)) {
        out->not_utf8 = 1;
        return -1;
    }
    return out_set(out, key, scalar_json(v));
}

static int out_string(jx_output *out, const char *key, const char *value)
{
    scalar v = {SCALAR_STRING, value, 0};
    return out_scalar(out, key, &v);
}
static int out_int(jx_output *out, const char *key, int64_t value)
{
    scalar v = {SCALAR_INT, NULL, value};
    return out_scalar(out, key, &v);
}
static int out_bool(jx_output *out, const char *key, int value)
{
    scalar v = {SCALAR_BOOL, NULL, value != 0};
    return out_scalar(out, key, &v);
}
static int out_double(jx_output *out, const char *key, double value)
{
    return out_set(out, key, json_real(value));
}
static int out_json(jx_output *out, const char *key, const char *json)
{
    json_t *value;
    if (json == NULL)
        return -1;
    value = json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (value == NULL)
        return -1;
    return out_set(out, key, value);
}
static int out_merge_json(jx_output *out, const char *json_object)
{
    json_t *value;
    int rc;
    if (json_object == NULL)
        return -1;
    value = json_loads(json_object, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(value) || to_object(out) != 0) {
        json_decref(value);
        return -1;
    }
    rc = json_object_update(out->object, value);
    json_decref(value);
    return rc == 0 ? 0 : -1;
}

static void out_error(jx_output *out, const char *message)
{
    char *copy = jx__strdup(message != NULL ? message : "");
    if (copy == NULL) {
        out->failed_alloc = 1;
        return;
    }
    free(out->error);
    out->error = copy;
}

/* ---- the plugin's config ------------------------------------------------ */

static const char *config_string(const jx_plugin_config *c, const char *key)
{
    return get_string(c->object, key);
}
static int config_int(const jx_plugin_config *c, const char *key,
                      int64_t *out)
{
    return get_int(c->object, key, out);
}
static int config_bool(const jx_plugin_config *c, const char *key, int *out)
{
    return get_bool(c->object, key, out);
}
static const char *config_json(const jx_plugin_config *c, const char *key)
{
    const json_t *v = lookup(c->object, key);
    jx_plugin_config *mutable_view = (jx_plugin_config *)c;
    return v != NULL ? scratch_json(&mutable_view->scratch, v) : NULL;
}

const jx_host_v1 jx__host = {
    .struct_size = sizeof(jx_host_v1),
    .abi_version = JX_ABI_VERSION,
    .log = host_log,
    .step_index = step_index,
    .step_type = step_type,
    .step_target = step_target,
    .step_timeout_seconds = step_timeout_seconds,
    .step_parameters_json = step_parameters_json,
    .param_count = param_count,
    .param_key = param_key,
    .param_string = param_string,
    .param_int = param_int,
    .param_bool = param_bool,
    .param_double = param_double,
    .param_json = param_json,
    .ctx_job_id = ctx_job_id,
    .ctx_contract_id = ctx_contract_id,
    .ctx_tenant_id = ctx_tenant_id,
    .ctx_executed_by = ctx_executed_by,
    .ctx_started_at = ctx_started_at,
    .ctx_time_left_ms = ctx_time_left_ms,
    .ctx_cancelled = ctx_cancelled,
    .ctx_progress = ctx_progress,
    .out_string = out_string,
    .out_int = out_int,
    .out_bool = out_bool,
    .out_double = out_double,
    .out_json = out_json,
    .out_merge_json = out_merge_json,
    .out_error = out_error,
    .config_string = config_string,
    .config_int = config_int,
    .config_bool = config_bool,
    .config_json = config_json,
};
