/*
 * redact.c - replaces secret values wherever they appear in text.
 *
 * Secrets are searched longest first (the plan reader sorts them), so a
 * secret that contains a shorter one is replaced whole.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
#include "redact.h"

int jx__has_secrets(const jx_plan *plan)
{
    return plan != NULL && plan->n_secrets > 0;
}

/* The earliest occurrence of any secret in s; its length in *len. */
static const char *next_secret(const jx_plan *plan, const char *s,
                               size_t *len)
{
    const char *best = NULL;

    for (size_t i = 0; i < plan->n_secrets; i++) {
        const char *p = strstr(s, plan->secrets[i]);
        if (p != NULL && (best == NULL || p < best)) {
            best = p;
            *len = strlen(plan->secrets[i]);
        }
    }
    return best;
}

char *jx__redact_text(const jx_plan *plan, const char *s, int *oom)
{
    jx__buf out = {0};
    const char *at;
    size_t len = 0;

    *oom = 0;
    if (!jx__has_secrets(plan) || s == NULL ||
        (at = next_secret(plan, s, &len)) == NULL)
        return NULL;
    do {
        if (jx__buf_append(&out, s, (size_t)(at - s)) != 0 ||
            jx__buf_puts(&out, JX_REDACTED) != 0)
            goto fail;
        s = at + len;
    } while ((at = next_secret(plan, s, &len)) != NULL);
    if (jx__buf_puts(&out, s) != 0 || jx__buf_append(&out, "", 1) != 0)
        goto fail;
    return out.data;
fail:
    jx__buf_free(&out);
    *oom = 1;
    return NULL;
}

/* s redacted, or s itself; NULL on OOM.  Frees nothing. */
static char *text_or_same(const jx_plan *plan, const char *s, int *changed)
{
    int oom;
    char *r = jx__redact_text(plan, s, &oom);

    *changed = r != NULL;
    return r != NULL ? r : oom ? NULL : (char *)s;
}

static json_t *redact_object(const jx_plan *plan, json_t *v)
{
    json_t *copy = json_object();
    const char *key;
    json_t *item;

    if (copy == NULL)
        return NULL;
    json_object_foreach(v, key, item) {
        int changed;
        char *k = text_or_same(plan, key, &changed);
        json_t *r = k != NULL ? jx__redact_json(plan, item) : NULL;
        int rc = r != NULL ? json_object_set_new(copy, k, r) : -1;

        if (changed)
            free(k);
        if (rc != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}

static json_t *redact_array(const jx_plan *plan, json_t *v)
{
    json_t *copy = json_array();
    size_t i;
    json_t *item;

    if (copy == NULL)
        return NULL;
    json_array_foreach(v, i, item) {
        json_t *r = jx__redact_json(plan, item);
        if (r == NULL || json_array_append_new(copy, r) != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}

json_t *jx__redact_json(const jx_plan *plan, json_t *v)
{
    if (!jx__has_secrets(plan) || v == NULL)
        return json_incref(v);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return redact_object(plan, v);
    case JSON_ARRAY:
        return redact_array(plan, v);
    case JSON_STRING: {
        int oom;
        char *r = jx__redact_text(plan, json_string_value(v), &oom);
        json_t *out;

        if (r == NULL)
            return oom ? NULL : json_incref(v);
        out = json_string(r);
        free(r);
        return out;
    }
    default:
        return json_incref(v);
    }
}
