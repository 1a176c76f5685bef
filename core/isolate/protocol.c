/*
 * protocol.c - encoding and decoding the runner protocol's messages, for
 * the core (isolate/) and the runner (runner/) alike.
 *
 * Text that comes from a plugin (messages, errors, reasons) may be any
 * bytes; jansson refuses strings that are not UTF-8, so those payloads
 * are assembled with jx__buf_put_json_string, which writes U+FFFD for
 * invalid bytes.  Payloads of known, checked values go through jansson.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "isolate/protocol.h"

/* ---- helpers ----------------------------------------------------------- */

static int put_dump(jx__buf *b, json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    int rc = text != NULL ? jx__buf_puts(b, text) : -1;

    free(text);
    json_decref(v);
    return rc;
}

/* ,"key":TEXT then rest; TEXT is JSON null for a NULL text. */
static int put_text(jx__buf *b, const char *key, const char *text,
                    const char *rest)
{
    return jx__buf_puts(b, ",\"") || jx__buf_puts(b, key) ||
                   jx__buf_puts(b, "\":") ||
                   (text != NULL ? jx__buf_put_json_string(b, text)
                                 : jx__buf_puts(b, "null")) ||
                   jx__buf_puts(b, rest)
               ? -1
               : 0;
}

/* The message member of LOG and PROG, cut to JX__MSG_TEXT_MAX.  The core
 * redacts a cut message's ending as a possible start of a secret. */
static int put_message(jx__buf *b, const char *message)
{
    size_t len = message != NULL ? strlen(message) : 0;
    int cut = len > JX__MSG_TEXT_MAX;
    char *text = cut ? strndup(message, JX__MSG_TEXT_MAX) : NULL;
    int rc;

    if (cut && text == NULL)
        return -1;
    rc = put_text(b, "message", cut ? text : message,
                  cut ? ",\"cut\":true}" : "}");
    free(text);
    return rc;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---- LOAD -------------------------------------------------------------- */

char *jx__msg_load_encode(const jx__msg_load *m)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:O, s:s, s:i, s:i, s:{s:I, s:I, s:I}, s:b, s:I, s:I}",
        "path", m->path, "written", m->written, "config", m->config,
        "config_name", m->config_name, "line", (int)m->line, "col",
        (int)m->col, "limits", "address_space_mb",
        (json_int_t)m->address_space_mb, "cpu_seconds",
        (json_int_t)m->cpu_seconds, "open_files", (json_int_t)m->open_files,
        "drop", m->drop, "uid", (json_int_t)m->uid, "gid",
        (json_int_t)m->gid);
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

    json_decref(v);
    return text;
}

int jx__msg_load_decode(const char *data, size_t len, jx__msg_load *m,
                        json_t **keep)
{
    json_t *v = *keep = json_loadb(data, len, 0, NULL);
    const json_t *lim = json_object_get(v, "limits");

    *m = (jx__msg_load){
        .path = json_string_value(json_object_get(v, "path")),
        .written = json_string_value(json_object_get(v, "written")),
        .config = json_object_get(v, "config"),
        .config_name = json_string_value(json_object_get(v, "config_name")),
        .line = (unsigned)int_of(v, "line"),
        .col = (unsigned)int_of(v, "col"),
        .address_space_mb = int_of(lim, "address_space_mb"),
        .cpu_seconds = int_of(lim, "cpu_seconds"),
        .open_files = int_of(lim, "open_files"),
        .drop = json_is_true(json_object_get(v, "drop")),
        .uid = int_of(v, "uid"),
        .gid = int_of(v, "gid"),
    };
    return m->path != NULL && m->written != NULL && m->config_name != NULL &&
                   json_is_object(m->config) && json_is_object(lim)
               ? 0
               : -1;
}

/* ---- HELO and FAIL ----------------------------------------------------- */

int jx__msg_hello_encode(jx__buf *b, const step_handler_v1 *d)
{
    json_t *types = json_array();

    for (size_t i = 0; d->step_types != NULL && d->step_types[i] != NULL; i++)
        json_array_append_new(types, json_string(d->step_types[i]));
    return put_dump(b, json_pack("{s:s, s:s, s:i, s:i, s:o, s:b}", "name",
                                 d->name, "version", d->version, "abi",
                                 (int)d->abi_version, "flags", (int)d->flags,
                                 "step_types", types, "validate",
                                 d->validate != NULL));
}

int jx__msg_hello_decode(const char *data, jx__msg_hello *m, json_t **keep)
{
    json_t *v = *keep = json_loads(data, 0, NULL);
    size_t i;
    json_t *t;

    *m = (jx__msg_hello){
        .name = json_string_value(json_object_get(v, "name")),
        .version = json_string_value(json_object_get(v, "version")),
        .step_types = json_object_get(v, "step_types"),
        .has_validate = json_is_true(json_object_get(v, "validate")),
    };
    if (m->name == NULL || m->version == NULL || !json_is_array(m->step_types))
        return -1;
    json_array_foreach(m->step_types, i, t)
        if (!json_is_string(t))
            return -1;
    return 0;
}

int jx__msg_fail_encode(jx__buf *b, int code, const char *message)
{
    return jx__buf_puts(b, "{\"code\":") || jx__buf_put_i64(b, code) ||
                   put_text(b, "message", message, "}")
               ? -1
               : 0;
}

void jx__msg_fail_decode(const char *data, int *code, const char **message,
                         json_t **keep)
{
    json_t *v = *keep = json_loads(data, 0, NULL);
    json_int_t c = int_of(v, "code");

    *code = c < 0 && c >= JX_EKEY ? (int)c : JX_ELOAD;
    *message = str_or(v, "message", "the runner refused");
}

/* ---- EXEC and VALI ----------------------------------------------------- */

int jx__msg_request_encode(jx__buf *b, const jx_context *ctx,
                           const jx__step *st, int cancelled)
{
    const jx_plan *plan = ctx->plan;
    int64_t left = (int64_t)((ctx->deadline - jx__monotonic()) * 1000.0);
    int rc = jx__buf_puts(b, cancelled ? "{\"cancelled\":true,"
                                         "\"time_left_ms\":"
                                       : "{\"time_left_ms\":") ||
             jx__buf_put_i64(b, left > 0 ? left : 0) ||
             jx__buf_puts(b, ",\"started_at\":") ||
             jx__buf_put_json_string(b, ctx->started_at) ||
             jx__buf_puts(b, ",\"plan\":{\"job_id\":\"") ||
             jx__buf_puts(b, plan->job_id) ||
             jx__buf_puts(b, "\",\"contract_id\":\"") ||
             jx__buf_puts(b, plan->contract_id) ||
             jx__buf_puts(b, "\",\"executed_by\":") ||
             jx__buf_put_json_string(b, plan->executed_by) ||
             jx__buf_puts(b, ",\"tenant_id\":") ||
             jx__buf_put_json_string(b, plan->tenant_id) ||
             jx__buf_puts(b, ",\"steps\":[{\"step_index\":") ||
             jx__buf_put_i64(b, st->index) ||
             jx__buf_puts(b, ",\"step_type\":") ||
             jx__buf_put_json_string(b, st->type) ||
             jx__buf_puts(b, ",\"target\":") ||
             jx__buf_put_json_string(b, st->target) ||
             jx__buf_puts(b, ",\"timeout_seconds\":") ||
             jx__buf_put_i64(b, st->timeout_seconds) ||
             jx__buf_puts(b, ",\"parameters\":") ||
             jx__buf_puts(b, st->params_json) || jx__buf_puts(b, "}]}}");
    return rc ? -1 : 0;
}

int jx__msg_request_decode(const char *data, size_t len, jx__msg_request *m,
                           json_t **keep)
{
    json_t *v = *keep = json_loadb(data, len, 0, NULL);
    const json_t *p = json_object_get(v, "plan");
    const json_t *step = json_array_get(json_object_get(p, "steps"), 0);

    *m = (jx__msg_request){
        .step = {
            .job_id = str_or(p, "job_id", ""),
            .contract_id = str_or(p, "contract_id", ""),
            .tenant_id = str_or(p, "tenant_id", ""),
            .executed_by = str_or(p, "executed_by", ""),
            .index = int_of(step, "step_index"),
            .type = str_or(step, "step_type", NULL),
            .target = str_or(step, "target", ""),
            .timeout_seconds = int_of(step, "timeout_seconds"),
            .params = json_object_get(step, "parameters"),
        },
        .started_at = json_string_value(json_object_get(v, "started_at")),
        .time_left_ms = int_of(v, "time_left_ms"),
        .cancelled = json_is_true(json_object_get(v, "cancelled")),
    };
    return m->step.type != NULL && json_is_object(m->step.params) ? 0 : -1;
}

/* ---- LOG and PROG ------------------------------------------------------ */

int jx__msg_log_encode(jx__buf *b, int level, const char *message)
{
    return jx__buf_puts(b, "{\"level\":") || jx__buf_put_i64(b, level) ||
                   put_message(b, message)
               ? -1
               : 0;
}

int jx__msg_progress_encode(jx__buf *b, double fraction, const char *message)
{
    char head[64];

    snprintf(head, sizeof head, "{\"fraction\":%.6f", fraction);
    return jx__buf_puts(b, head) || put_message(b, message) ? -1 : 0;
}

void jx__msg_note_decode(const char *data, size_t len, jx__msg_note *m,
                         json_t **keep)
{
    json_t *v = *keep = json_loadb(data, len, 0, NULL);
    json_int_t level = int_of(v, "level");

    *m = (jx__msg_note){
        .level = level < 0 || level > JX_LOG_DEBUG ? JX_LOG_DEBUG
                                                   : (int)level,
        .fraction = json_number_value(json_object_get(v, "fraction")),
        .message = json_string_value(json_object_get(v, "message")),
        .cut = json_is_true(json_object_get(v, "cut")),
    };
}

/* ---- DONE -------------------------------------------------------------- */

int jx__msg_done_encode(jx__buf *b, int rc, const jx_output *out)
{
    return jx__buf_puts(b, "{\"rc\":") || jx__buf_put_i64(b, rc) ||
                   jx__buf_puts(b, out->failed_alloc ? ",\"failed_alloc\":true"
                                                     : "") ||
                   jx__buf_puts(b,
                                out->not_utf8 ? ",\"not_utf8\":true" : "") ||
                   (out->leftover_processes > 0 &&
                    (jx__buf_puts(b, ",\"leftover_processes\":") ||
                     jx__buf_put_i64(b, out->leftover_processes))) ||
                   jx__buf_puts(b, ",\"output\":") ||
                   jx__output_put(b, out) ||
                   put_text(b, "error", out->error, "}")
               ? -1
               : 0;
}

int jx__msg_done_error_encode(jx__buf *b, const char *error)
{
    return jx__buf_puts(b, "{\"rc\":1,\"output\":null") ||
                   put_text(b, "error", error, "}")
               ? -1
               : 0;
}

int jx__msg_done_decode(const char *data, jx_output *out, int *rc)
{
    json_t *v = json_loads(data, 0, NULL);
    json_t *output = json_object_get(v, "output");
    const char *error = json_string_value(json_object_get(v, "error"));
    json_t *jrc = json_object_get(v, "rc");
    json_t *left = json_object_get(v, "leftover_processes");

    if (!json_is_integer(jrc) || (output != NULL && !json_is_object(output) &&
                                  !json_is_null(output)) ||
        (left != NULL && (!json_is_integer(left) ||
                          json_integer_value(left) < 0 ||
                          json_integer_value(left) > UINT32_MAX))) {
        json_decref(v);
        return -1;
    }
    *rc = (int)json_integer_value(jrc);
    if (json_is_object(output))
        jx__output_set(out, json_incref(output));
    if (error != NULL && (out->error = strdup(error)) == NULL)
        out->failed_alloc = 1;
    out->failed_alloc |= json_is_true(json_object_get(v, "failed_alloc"));
    out->not_utf8 |= json_is_true(json_object_get(v, "not_utf8"));
    out->leftover_processes = (unsigned)json_integer_value(left);
    json_decref(v);
    return 0;
}

/* ---- VRES -------------------------------------------------------------- */

int jx__msg_vres_encode(jx__buf *b, int ok, const char *why)
{
    return jx__buf_puts(b, ok ? "{\"ok\":true" : "{\"ok\":false") ||
                   put_text(b, "why", why, "}")
               ? -1
               : 0;
}

int jx__msg_vres_decode(const char *data, char *why, size_t why_len)
{
    json_t *v = json_loads(data, 0, NULL);
    int rc = json_is_true(json_object_get(v, "ok")) ? 0 : -1;

    if (rc != 0)
        snprintf(why, why_len, "%s", str_or(v, "why", ""));
    json_decref(v);
    return rc;
}
