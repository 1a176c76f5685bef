/*
 * output.c - what a handler (or observer) hands back, built through the
 * host's out_* calls.  Strings, integers and booleans under new keys stay
 * JSON text; anything else turns the output into a jansson object.  Either
 * way it reads exactly as jansson's compact dump of the object would.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/output.h"

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

const char *jx__output_text(const jx_output *out, size_t *len)
{
    if (out->object != NULL)
        return NULL;
    *len = out->members.len;
    return out->members.len > 0 ? out->members.data : "";
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

int jx__out_string(jx_output *out, const char *key, const char *value)
{
    scalar v = {SCALAR_STRING, value, 0};
    return out_scalar(out, key, &v);
}
int jx__out_int(jx_output *out, const char *key, int64_t value)
{
    scalar v = {SCALAR_INT, NULL, value};
    return out_scalar(out, key, &v);
}
int jx__out_bool(jx_output *out, const char *key, int value)
{
    scalar v = {SCALAR_BOOL, NULL, value != 0};
    return out_scalar(out, key, &v);
}
int jx__out_double(jx_output *out, const char *key, double value)
{
    return out_set(out, key, json_real(value));
}
int jx__out_json(jx_output *out, const char *key, const char *json)
{
    json_t *value;
    if (json == NULL)
        return -1;
    value = json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (value == NULL)
        return -1;
    return out_set(out, key, value);
}
int jx__out_merge_json(jx_output *out, const char *json_object)
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

void jx__out_error(jx_output *out, const char *message)
{
    char *copy = jx__strdup(message != NULL ? message : "");
    if (copy == NULL) {
        out->failed_alloc = 1;
        return;
    }
    free(out->error);
    out->error = copy;
}
