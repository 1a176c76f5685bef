/*
 * redact.c - replaces secret values wherever they appear in text.
 *
 * At each place, the longest secret starting there is replaced
 * (secrets.c), so a secret that contains a shorter one is replaced whole.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonbuf.h"
#include "input/redact.h"

int jx__has_secrets(const jx_plan *plan)
{
    return plan != NULL && plan->secrets.n > 0;
}

/* The earliest occurrence of any secret in s; its length in *len. */
static const char *next_secret(const jx_plan *plan, const char *s,
                               size_t *len)
{
    return jx__secrets_find(&plan->secrets, s, strlen(s), len);
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
            jx__buf_puts(&out, JX__REDACTED) != 0)
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

char *jx__redact_cut(const jx_plan *plan, const char *s, int *oom)
{
    char *whole = jx__redact_text(plan, s, oom);
    const char *text = whole != NULL ? whole : s;
    size_t len, tail;
    char *out;

    if (*oom || !jx__has_secrets(plan) || s == NULL)
        return whole;
    len = strlen(text);
    tail = jx__secrets_start_at_end(&plan->secrets, text, len);
    if (tail == 0)
        return whole;
    if (asprintf(&out, "%.*s%s", (int)(len - tail), text, JX__REDACTED) < 0) {
        out = NULL;
        *oom = 1;
    }
    free(whole);
    return out;
}

/* A redacted copy of a JSON string literal's text, re-encoded into the
 * plan's arena. */
static int redact_literal(jx_plan *plan, const char *raw, const char **json)
{
    int oom;
    char *clean = jx__redact_text(plan, raw, &oom);
    jx__buf text = {0};
    const char *kept;

    if (clean == NULL)
        return oom ? JX_ENOMEM : 0;
    if (jx__buf_put_json_string(&text, clean) == 0 &&
        (kept = jx__arena_strndup(&plan->strings, text.data, text.len)) !=
            NULL)
        *json = kept;
    else
        oom = 1;
    free(clean);
    jx__buf_free(&text);
    return oom ? JX_ENOMEM : 0;
}

int jx__redact_plan(jx_plan *plan)
{
    /* What redaction adds is not the reader's to bound. */
    plan->strings.budget = NULL;
    for (size_t i = 0; jx__has_secrets(plan) && i < plan->n_steps; i++) {
        jx__step *st = &plan->steps[i];
        if (redact_literal(plan, st->type, &st->type_json) != 0 ||
            redact_literal(plan, st->target, &st->target_json) != 0)
            return JX_ENOMEM;
    }
    return 0;
}

/* s redacted, or s itself; NULL on OOM.  Frees nothing. */
static char *text_or_same(const jx_plan *plan, const char *s, int *changed)
{
    int oom;
    char *r = jx__redact_text(plan, s, &oom);

    *changed = r != NULL;
    return r != NULL ? r : oom ? NULL : (char *)s;
}

static json_t *redact_value(const jx_plan *plan, json_t *v);

/* A new object with v's members before the one keyed stop (members keep
 * their order), for a copy that starts where the first change is. */
static json_t *copy_members_before(json_t *v, const char *stop)
{
    json_t *copy = json_object(), *item;
    const char *key;

    json_object_foreach(v, key, item) {
        if (copy == NULL || key == stop)
            break;
        if (json_object_set(copy, key, item) != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}

/* Sets k to r in copy, k numbered when a key redacted alike is there. */
static int set_redacted(json_t *copy, char **k, int changed, json_t *r)
{
    for (int n = 2; changed && json_object_get(copy, *k) && n < 1000; n++) {
        char *numbered;
        if (asprintf(&numbered, "%s#%d", *k, n) < 0)
            break;
        if (json_object_get(copy, numbered) == NULL) {
            free(*k);
            *k = numbered;
        } else {
            free(numbered);
        }
    }
    return json_object_set_new(copy, *k, r);
}

/* A new array with v's first n items. */
static json_t *copy_items_before(json_t *v, size_t n)
{
    json_t *copy = json_array();

    for (size_t i = 0; copy != NULL && i < n; i++)
        if (json_array_append(copy, json_array_get(v, i)) != 0) {
            json_decref(copy);
            copy = NULL;
        }
    return copy;
}

/* Copied only from the first member that changes: most objects hold no
 * secret, and come back as themselves. */
static json_t *redact_object(const jx_plan *plan, json_t *v)
{
    json_t *copy = NULL;

    for (void *it = json_object_iter(v); it != NULL;
         it = json_object_iter_next(v, it)) {
        const char *key = json_object_iter_key(it);
        json_t *item = json_object_iter_value(it);
        int changed, rc;
        char *k = text_or_same(plan, key, &changed);
        json_t *r = k != NULL ? redact_value(plan, item) : NULL;

        if (r != NULL && copy == NULL) {
            if (!changed && r == item) {
                json_decref(r);
                continue;
            }
            copy = copy_members_before(v, key);
        }
        if (r == NULL || copy == NULL) {
            json_decref(r);
            rc = -1;
        } else {
            rc = set_redacted(copy, &k, changed, r);
        }
        if (changed)
            free(k);
        if (rc != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy != NULL ? copy : json_incref(v);
}

/* Copied only from the first item that changes, as objects are. */
static json_t *redact_array(const jx_plan *plan, json_t *v)
{
    size_t n = json_array_size(v);
    json_t *copy = NULL;

    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i), *r = redact_value(plan, item);

        if (r != NULL && copy == NULL) {
            if (r == item) {
                json_decref(r);
                continue;
            }
            copy = copy_items_before(v, i);
        }
        /* json_array_append_new takes r even when it fails. */
        if (r == NULL || copy == NULL ||
            json_array_append_new(copy, r) != 0) {
            if (copy == NULL)
                json_decref(r);
            json_decref(copy);
            return NULL;
        }
    }
    return copy != NULL ? copy : json_incref(v);
}

/* v itself (a new reference) when it holds no secret, else a redacted
 * copy; NULL on OOM. */
static json_t *redact_value(const jx_plan *plan, json_t *v)
{
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

json_t *jx__redact_json(const jx_plan *plan, json_t *v)
{
    if (!jx__has_secrets(plan) || v == NULL)
        return json_incref(v);
    return redact_value(plan, v);
}

json_t *jx__redact_json_take(const jx_plan *plan, json_t *v)
{
    json_t *clean;

    if (v == NULL || !jx__has_secrets(plan))
        return v;
    clean = jx__redact_json(plan, v);
    json_decref(v);
    return clean;
}

/* Messages were escaped when made (jx__fail): a secret holding a control
 * character stands in them escaped, and is looked for so.  0, or -1 when
 * out of memory. */
static int escape_secrets(const jx_plan *plan, jx__secrets *forms)
{
    for (uint32_t i = 1; i <= plan->secrets.n; i++) {
        char buf[JX_ERROR_MESSAGE_SIZE];
        jx__escape_text(plan->secrets.items[i].text, buf, sizeof buf);
        if (jx__secrets_add(forms, buf) < 0)
            return -1;
    }
    return 0;
}

/* The length of "NAME:LINE:COL: " at the start of a refusal of the plan
 * named name, or 0.  A secret as short as "3" must not eat the position. */
static size_t position_length(const char *name, const char *msg)
{
    size_t n = strlen(name);
    const char *p = msg + n;

    if (strncmp(msg, name, n) != 0 || *p != ':')
        return 0;
    for (int field = 0; field < 2; field++) {
        size_t digits = strspn(p + 1, "0123456789");
        if (digits == 0 || p[1 + digits] != ':')
            return 0;
        p += 1 + digits;
    }
    return p[1] == ' ' ? (size_t)(p + 2 - msg) : 0;
}

void jx__redact_message(const jx_plan *plan, jx_error *err)
{
    jx_plan shadow;
    char *clean = NULL;
    size_t keep;
    int oom = 0;

    if (err == NULL || !jx__has_secrets(plan))
        return;
    keep = plan->name != NULL ? position_length(plan->name, err->message) : 0;
    memset(&shadow, 0, sizeof shadow);
    if (escape_secrets(plan, &shadow.secrets) != 0)
        oom = 1;
    /* A message cut at its size may end in the first part of a secret. */
    else if (strlen(err->message) + 1 >= sizeof err->message)
        clean = jx__redact_cut(&shadow, err->message + keep, &oom);
    else
        clean = jx__redact_text(&shadow, err->message + keep, &oom);
    if (clean != NULL)
        snprintf(err->message + keep, sizeof err->message - keep, "%s",
                 clean);
    else if (oom) /* the reason cannot be shown safely: say only where */
        snprintf(err->message, sizeof err->message,
                 "%s: refused, and out of memory hiding secret values from "
                 "the reason", plan->name != NULL ? plan->name : "plan");
    free(clean);
    jx__secrets_free(&shadow.secrets);
}
