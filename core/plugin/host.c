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

void jx__step_view_done(jx_step *view)
{
    jx__scratch_free(&view->scratch);
    json_decref(view->params);
    view->params = NULL;
    free(view->param_keys);
    view->param_keys = NULL;
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

/* One handler at a time: the old form (no plugin name) or the new. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static jx_log_fn log_fn;
static jx_plugin_log_cb plugin_log_cb;
static void *log_user;

_Thread_local const char *jx__log_plugin;

void jx_set_log_handler(jx_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    plugin_log_cb = NULL;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void jx_set_plugin_log_handler(jx_plugin_log_cb cb, void *user)
{
    pthread_mutex_lock(&log_lock);
    plugin_log_cb = cb;
    log_fn = NULL;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void jx__log_cut(const jx_context *ctx, int level, const char *message,
                 int cut)
{
    jx_log_fn fn;
    jx_plugin_log_cb cb;
    void *user;
    char *clean = NULL;
    /* A step's context names its plugin even on the plugin's own
     * threads; outside a step, the core's call into the plugin does. */
    const char *plugin = ctx != NULL && ctx->plugin != NULL ? ctx->plugin
                                                            : jx__log_plugin;
    int oom = 0;

    pthread_mutex_lock(&log_lock);
    fn = log_fn;
    cb = plugin_log_cb;
    user = log_user;
    pthread_mutex_unlock(&log_lock);
    if (fn == NULL && cb == NULL)
        return;
    if (ctx != NULL)
        clean = cut ? jx__redact_cut(ctx->plan, message, &oom)
                    : jx__redact_text(ctx->plan, message, &oom);
    if (oom)
        message = "(a message was dropped: out of memory redacting it)";
    if (cb != NULL)
        cb(level, plugin, ctx != NULL ? ctx->plan->job_id : NULL,
           ctx != NULL ? ctx->step_index : -1, clean ? clean : message,
           user);
    else
        fn(level, ctx != NULL ? ctx->plan->job_id : NULL,
           ctx != NULL ? ctx->step_index : -1, clean ? clean : message,
           user);
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

/* The step's parameters as an object, decoded on first use; NULL when
 * out of memory.  The text is what jansson wrote: it decodes. */
static const json_t *params_of(const jx_step *s)
{
    jx_step *view = (jx_step *)s; /* the decoded copy only */

    if (view->params == NULL)
        view->params = json_loads(s->step->params_json, 0, NULL);
    return view->params;
}

static const char *param_key(const jx_step *s, size_t i)
{
    jx_step *view = (jx_step *)s; /* the decoded copy only */

    if (i >= s->step->n_params)
        return NULL;
    if (view->param_keys == NULL) {
        const json_t *params;
        size_t k = 0;
        if ((params = params_of(s)) == NULL ||
            (view->param_keys = malloc(s->step->n_params *
                                       sizeof *view->param_keys)) == NULL)
            return NULL;
        for (void *it = json_object_iter((json_t *)params);
             it != NULL && k < s->step->n_params;
             it = json_object_iter_next((json_t *)params, it))
            view->param_keys[k++] = json_object_iter_key(it);
    }
    return view->param_keys[i];
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
    return get_string(params_of(s), key);
}
static int param_int(const jx_step *s, const char *key, int64_t *out)
{
    return get_int(params_of(s), key, out);
}
static int param_bool(const jx_step *s, const char *key, int *out)
{
    return get_bool(params_of(s), key, out);
}
static int param_double(const jx_step *s, const char *key, double *out)
{
    const json_t *v = lookup(params_of(s), key);
    if (!json_is_number(v) || out == NULL)
        return -1;
    *out = json_number_value(v);
    return 0;
}
static const char *param_json(const jx_step *s, const char *key)
{
    const json_t *v = lookup(params_of(s), key);
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
    const char *shown;

    if (c->on_progress == NULL && c->progress == NULL)
        return;
    if (message != NULL)
        clean = cut ? jx__redact_cut(c->plan, message, &oom)
                    : jx__redact_text(c->plan, message, &oom);
    shown = clean != NULL ? clean : oom ? NULL : message;
    /* NaN too: a JSON number cannot hold it. */
    fraction = fraction >= 0 ? (fraction > 1 ? 1 : fraction) : 0;
    if (c->on_progress != NULL)
        c->on_progress(c->plan->job_id, c->step_index, fraction, shown,
                       c->user);
    if (c->progress != NULL)
        c->progress(c->progress_arg, fraction, shown);
    free(clean);
}

static void ctx_progress(const jx_context *c, double fraction,
                         const char *message)
{
    jx__progress_cut(c, fraction, message, 0);
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
    .out_string = jx__out_string,
    .out_int = jx__out_int,
    .out_bool = jx__out_bool,
    .out_double = jx__out_double,
    .out_json = jx__out_json,
    .out_merge_json = jx__out_merge_json,
    .out_error = jx__out_error,
    .config_string = config_string,
    .config_int = config_int,
    .config_bool = config_bool,
    .config_json = config_json,
};
