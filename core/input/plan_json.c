/*
 * plan_json.c - a plan from JSON already parsed.  A worker has each job's
 * steps as jsonb; reading them back through the YAML parser cost it more
 * than anything else per job.
 *
 * What jx_plan_parse() would accept is built here; every doubt goes back
 * to it (JX__PLAN_PARSE_TEXT), so that a refusal is worded, positioned
 * and redacted by one reader only.  A document is taken here only when:
 * the keys are the plan's and the steps' own, without secret_parameters
 * (whose values redaction must know before anything else is read); every
 * text value is a jansson string (a JSON null would read in YAML as the
 * text "null"); the ids are UUIDs and step_index and timeout_seconds
 * integers within the parser's ranges; and the parameters hold strings,
 * integers, booleans, nulls, arrays and objects only, no real number
 * (whose YAML and jansson readings could differ in the last digit),
 * nested less deep than the parser's limit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "base/sha256.h"
#include "input/plan.h"
#include "input/plan_json.h"
#include "input/redact.h"

/* As plan.c: MAX_TIMEOUT_SECONDS, MAX_STEP_INDEX. */
#define MAX_TIMEOUT_SECONDS (7 * 24 * 3600)
#define MAX_STEP_INDEX 9007199254740991LL
/* Well inside the parser's limits (plan_limits in plan.c: depth 64, a
 * value of 1 MiB): a document past these is left to it. */
#define MAX_DEPTH 32
#define MAX_TEXT (1024 * 1024)

#define PARSE JX__PLAN_PARSE_TEXT

static int oom(jx_error *err)
{
    return jx__fail(err, JX_ENOMEM, "out of memory");
}

/* Whether obj's keys are all in allowed. */
static int keys_within(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach (obj, key, v) {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL)
            return 0;
    }
    return 1;
}

/* A non-empty text value's copy (empty allowed when allow_empty). */
static int text_of(json_t *v, int allow_empty, char **out, jx_error *err)
{
    if (!json_is_string(v) || (!allow_empty && json_string_length(v) == 0))
        return PARSE;
    *out = strdup(json_string_value(v));
    return *out == NULL ? oom(err) : 0;
}

/* A UUID's canonical lower-case form, as the parser stores it. */
static int uuid_of(json_t *v, char out[JX__UUID_LEN + 1])
{
    uuid_t u;

    if (!json_is_string(v) || json_string_length(v) != JX__UUID_LEN ||
        uuid_parse(json_string_value(v), u) != 0)
        return PARSE;
    uuid_unparse_lower(u, out);
    return 0;
}

/* Whether v reads as the same value through YAML as through jansson. */
static int plain_value(json_t *v, int depth)
{
    size_t i;
    const char *key;
    json_t *item;

    if (depth > MAX_DEPTH)
        return 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach (v, key, item)
            if (!plain_value(item, depth + 1))
                return 0;
        return 1;
    case JSON_ARRAY:
        json_array_foreach (v, i, item)
            if (!plain_value(item, depth + 1))
                return 0;
        return 1;
    case JSON_REAL:
        return 0;
    default:
        return 1;
    }
}

static char *literal(const char *text)
{
    json_t *str = json_string(text);
    char *out = str != NULL ? json_dumps(str, JSON_ENCODE_ANY) : NULL;

    json_decref(str);
    return out;
}

/* params, params_json and param_keys, as plan.c's read_params gives
 * them; a step without parameters shares the plan's empty object. */
static int params_of(json_t *v, jx_plan *plan, jx__step *st, jx_error *err)
{
    size_t i = 0;

    if (v == NULL || json_object_size(v) == 0) {
        if (v != NULL && !json_is_object(v))
            return PARSE;
        if (plan->no_params == NULL && (plan->no_params = json_object()) ==
                                           NULL)
            return oom(err);
        v = plan->no_params;
    } else if (!json_is_object(v) || !plain_value(v, 0)) {
        return PARSE;
    }
    st->params = json_incref(v);
    st->n_params = json_object_size(v);
    st->params_json = st->n_params > 0 ? json_dumps(v, JSON_COMPACT)
                                       : strdup("{}");
    st->param_keys = malloc((st->n_params + 1) * sizeof *st->param_keys);
    if (st->params_json == NULL || st->param_keys == NULL)
        return oom(err);
    for (void *it = json_object_iter(v); it != NULL;
         it = json_object_iter_next(v, it))
        st->param_keys[i++] = json_object_iter_key(it);
    st->param_keys[i] = NULL;
    return 0;
}

static int integer_of(json_t *v, long long min, long long max,
                      long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > max)
        return PARSE;
    *out = json_integer_value(v);
    return 0;
}

static int step_of(json_t *v, jx_plan *plan, jx__step *st,
                   const jx__step *prev, jx_error *err)
{
    static const char *const keys[] = {"step_index", "step_type", "target",
                                       "parameters", "timeout_seconds", NULL};
    json_t *target = json_object_get(v, "target");
    json_t *timeout = json_object_get(v, "timeout_seconds");
    long long ll;
    int rc;

    if (!json_is_object(v) || !keys_within(v, keys) ||
        integer_of(json_object_get(v, "step_index"),
                   prev != NULL ? prev->index + 1 : 0, MAX_STEP_INDEX,
                   &ll) != 0)
        return PARSE;
    st->index = ll;
    ll = JX__DEFAULT_TIMEOUT_SECONDS;
    if (timeout != NULL && integer_of(timeout, 1, MAX_TIMEOUT_SECONDS, &ll))
        return PARSE;
    st->timeout_seconds = ll;
    if ((rc = text_of(json_object_get(v, "step_type"), 0, &st->type,
                      err)) != 0)
        return rc;
    if (target == NULL)
        rc = (st->target = strdup("")) == NULL ? oom(err) : 0;
    else
        rc = text_of(target, 1, &st->target, err);
    if (rc != 0)
        return rc;
    if ((st->type_json = literal(st->type)) == NULL ||
        (st->target_json = literal(st->target)) == NULL)
        return oom(err);
    return params_of(json_object_get(v, "parameters"), plan, st, err);
}

static int root_of(json_t *doc, jx_plan *plan, jx_error *err)
{
    static const char *const keys[] = {"job_id", "contract_id", "tenant_id",
                                       "executed_by", "steps", NULL};
    json_t *tenant = json_object_get(doc, "tenant_id");
    json_t *by = json_object_get(doc, "executed_by");
    int rc;

    /* A plan without job_id gets a new one at each parse: none here. */
    if (!json_is_object(doc) || !keys_within(doc, keys) ||
        uuid_of(json_object_get(doc, "contract_id"), plan->contract_id) ||
        uuid_of(json_object_get(doc, "job_id"), plan->job_id) ||
        !json_is_array(json_object_get(doc, "steps")))
        return PARSE;
    if (tenant == NULL)
        rc = (plan->tenant_id = strdup("")) == NULL ? oom(err) : 0;
    else
        rc = text_of(tenant, 1, &plan->tenant_id, err);
    if (rc != 0)
        return rc;
    if (by == NULL)
        return (plan->executed_by = strdup(JX__DEFAULT_EXECUTED_BY)) == NULL
                   ? oom(err)
                   : 0;
    return text_of(by, 0, &plan->executed_by, err);
}

static int steps_of(json_t *steps, jx_plan *plan, jx_error *err)
{
    size_t n = json_array_size(steps);
    int rc = 0;

    if (n == 0)
        return 0;
    if ((plan->steps = calloc(n, sizeof *plan->steps)) == NULL)
        return oom(err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        plan->n_steps++; /* counted first, so jx_plan_free frees it */
        rc = step_of(json_array_get(steps, i), plan, &plan->steps[i],
                     i > 0 ? &plan->steps[i - 1] : NULL, err);
    }
    return rc;
}

int jx__plan_from_json(json_t *doc, const char *text, size_t len,
                       const char *name, jx_plan **out, jx_error *err)
{
    unsigned char digest[JX__SHA256_LEN];
    jx_plan *plan;
    int rc;

    *out = NULL;
    if (len >= MAX_TEXT)
        return PARSE;
    if ((plan = calloc(1, sizeof *plan)) == NULL ||
        (plan->name = strdup(name)) == NULL) {
        free(plan);
        return oom(err);
    }
    rc = root_of(doc, plan, err);
    if (rc == 0)
        rc = steps_of(json_object_get(doc, "steps"), plan, err);
    /* No secrets: redaction has nothing to do, as in the parser. */
    if (rc == 0 && jx__redact_plan(plan) != 0)
        rc = oom(err);
    if (rc == 0 && jx__sha256(text, len, digest) != 0)
        rc = jx__fail(err, JX_EINTERNAL, "%s: SHA-256 failed", name);
    if (rc != 0) {
        jx_plan_free(plan);
        return rc;
    }
    jx__hex(digest, sizeof digest, plan->sha256);
    *out = plan;
    return 0;
}
