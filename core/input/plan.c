/*
 * plan.c - reads a plan (YAML or JSON) and checks it against the schema and
 * the invariants that can be checked before a run: JOB-001 (a valid
 * contract_id) and EXEC-001 (strictly increasing step_index).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "base/file.h"
#include "base/sha256.h"
#include "input/plan.h"
#include "input/redact.h"
#include "input/yamldoc.h"

static const jx__doc_limits plan_limits = {
    .max_bytes = JX__PLAN_MAX_BYTES,
    .max_depth = 64,
    .max_scalar = 1024 * 1024,
    .max_nodes = 16 * 1024 * 1024,
};

#define at(err, name, n, ...) jx__node_fail(err, JX_EPLAN, name, n, __VA_ARGS__)

#define MAX_TIMEOUT_SECONDS (7 * 24 * 3600)
/* The largest integer every JSON consumer reads exactly (2^53 - 1). */
#define MAX_STEP_INDEX 9007199254740991LL

static int get_text(const jx__node *n, const char *name, const char *what,
                    int allow_empty, char **out, jx_error *err)
{
    if (n->kind != JX__NODE_SCALAR)
        return at(err, name, n, "%s must be a text value", what);
    if (!allow_empty && n->text_len == 0)
        return at(err, name, n, "%s must not be empty", what);
    *out = strdup(n->text);
    return *out == NULL ? jx__fail(err, JX_ENOMEM, "out of memory") : 0;
}

static int get_uuid(const jx__node *n, const char *name, const char *what,
                    char out[JX__UUID_LEN + 1], jx_error *err)
{
    uuid_t u;

    if (n->kind != JX__NODE_SCALAR)
        return at(err, name, n, "%s must be a UUID, found %s", what,
                  jx__node_kind_name(n));
    if (n->text_len != JX__UUID_LEN || uuid_parse(n->text, u) != 0)
        return at(err, name, n, "%s must be a UUID, found '%s'", what,
                  n->text);
    /* Store the canonical lower-case form: the id names the job's chain. */
    uuid_unparse_lower(u, out);
    return 0;
}

static int index_params(jx__step *st, jx_error *err);

/* What a step without parameters points at: nothing of its own. */
static char no_params_json[] = "{}";
static const char *no_param_keys[] = {NULL};

/* The plan's shared empty parameters, made on first use; a new
 * reference, or NULL when out of memory. */
static json_t *shared_no_params(jx_plan *plan)
{
    if (plan->no_params == NULL)
        plan->no_params = json_object();
    return json_incref(plan->no_params);
}

static int read_params(const jx__node *n, jx_plan *plan, jx__step *st,
                       jx_error *err)
{
    const char *name = plan->name;

    if (n == NULL || (n->kind == JX__NODE_SCALAR && !n->quoted &&
                      n->text_len == 0) ||
        (n->kind == JX__NODE_MAP && n->n_items == 0)) {
        st->params = shared_no_params(plan);
    } else {
        if (n->kind != JX__NODE_MAP)
            return at(err, name, n, "%s", "parameters must be a mapping");
        st->params = jx__node_to_json(n, name, err);
        if (st->params == NULL)
            return err != NULL ? err->code : JX_EPLAN;
    }
    return index_params(st, err);
}

/* params_json and param_keys of st->params (set, may be NULL on OOM). */
static int index_params(jx__step *st, jx_error *err)
{
    size_t i = 0;

    if (st->params == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    st->n_params = json_object_size(st->params);
    if (st->n_params == 0) {
        st->params_json = no_params_json;
        st->param_keys = no_param_keys;
        return 0;
    }
    st->param_keys = malloc((st->n_params + 1) * sizeof *st->param_keys);
    st->params_json = json_dumps(st->params, JSON_COMPACT);
    if (st->param_keys == NULL || st->params_json == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (void *it = json_object_iter(st->params); it != NULL;
         it = json_object_iter_next(st->params, it))
        st->param_keys[i++] = json_object_iter_key(it);
    st->param_keys[i] = NULL;
    return 0;
}

/* The text as a JSON string literal, quotes included. */
static char *json_literal(const char *text)
{
    json_t *str = json_string(text);
    char *out = str != NULL ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    return out;
}

/* index_optional: a step read alone (jx_plan_parse_step) may leave
 * step_index out. */
static int read_step(const jx__node *n, jx_plan *plan, jx__step *st,
                     const jx__step *prev, int index_optional, jx_error *err)
{
    static const char *const keys[] = {"step_index", "step_type", "target",
                                       "parameters", "timeout_seconds",
                                       "secret_parameters", NULL};
    const char *name = plan->name;
    const jx__node *v;
    long long ll;
    int rc;

    st->line = n->line;
    st->col = n->col;
    st->timeout_seconds = JX__DEFAULT_TIMEOUT_SECONDS;
    if (n->kind != JX__NODE_MAP)
        return at(err, name, n, "a step must be a mapping, found %s",
                  jx__node_kind_name(n));
    if ((rc = jx__check_keys(n, keys, name, "a step", JX_EPLAN, err)) != 0)
        return rc;
    if ((v = jx__map_get(n, "step_index")) == NULL && index_optional)
        ll = 0;
    else if (v == NULL)
        return at(err, name, n, "%s", "step has no 'step_index'");
    else if ((rc = jx__node_int(v, name, "step_index", &ll, err)) != 0)
        return rc;
    if (v != NULL && ll < 0)
        return at(err, name, v, "step_index must not be negative, found %s",
                  v->text);
    if (v != NULL && ll > MAX_STEP_INDEX)
        return at(err, name, v,
                  "step_index must be between 0 and %lld, found %s",
                  (long long)MAX_STEP_INDEX, v->text);
    if (prev != NULL && ll <= prev->index)
        return at(err, name, v,
                  "step_index %lld does not follow %lld: indexes must "
                  "strictly increase",
                  ll, (long long)prev->index);
    st->index = ll;
    if ((v = jx__map_get(n, "step_type")) == NULL)
        return at(err, name, n, "%s", "step has no 'step_type'");
    if ((rc = get_text(v, name, "step_type", 0, &st->type, err)) != 0)
        return rc;
    if ((v = jx__map_get(n, "target")) != NULL)
        rc = get_text(v, name, "target", 1, &st->target, err);
    else if ((st->target = strdup("")) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    if (rc != 0)
        return rc;
    if ((v = jx__map_get(n, "timeout_seconds")) != NULL) {
        if ((rc = jx__node_int(v, name, "timeout_seconds", &ll, err)) != 0)
            return rc;
        if (ll < 1 || ll > MAX_TIMEOUT_SECONDS)
            return at(err, name, v,
                      "timeout_seconds must be between 1 and 604800, found %s",
                      v->text);
        st->timeout_seconds = ll;
    }
    if ((st->type_json = json_literal(st->type)) == NULL ||
        (st->target_json = json_literal(st->target)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    return read_params(jx__map_get(n, "parameters"), plan, st, err);
}

/* Adds a secret value to the plan's list, which stays sorted longest
 * first so that redaction replaces a secret before any part of it. */
static int add_secret(jx_plan *plan, const char *value, jx_error *err)
{
    size_t len = strlen(value), at = 0;
    char **grown, *copy;

    for (size_t i = 0; i < plan->n_secrets; i++)
        if (strcmp(plan->secrets[i], value) == 0)
            return 0;
    while (at < plan->n_secrets && strlen(plan->secrets[at]) >= len)
        at++;
    grown = realloc(plan->secrets, (plan->n_secrets + 1) * sizeof *grown);
    if (grown == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    plan->secrets = grown;
    if ((copy = strdup(value)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    memmove(grown + at + 1, grown + at,
            (plan->n_secrets - at) * sizeof *grown);
    grown[at] = copy;
    plan->n_secrets++;
    return 0;
}

/* secret_parameters: [NAME, ...] marks parameters whose values the
 * handler receives but no output of the executor may show. */
static int read_secrets(const jx__node *step, jx_plan *plan,
                        const jx__step *st, jx_error *err)
{
    const jx__node *v = jx__map_get(step, "secret_parameters");
    const char *name = plan->name;

    if (v == NULL)
        return 0;
    if (v->kind != JX__NODE_SEQ)
        return at(err, name, v, "secret_parameters must be a sequence of "
                                "parameter names, found %s",
                  jx__node_kind_name(v));
    for (size_t i = 0; i < v->n_items; i++) {
        const jx__node *item = v->items[i];
        json_t *value;
        int rc;

        if (item->kind != JX__NODE_SCALAR)
            return at(err, name, item, "secret_parameters must list "
                                       "parameter names, found %s",
                      jx__node_kind_name(item));
        value = json_object_get(st->params, item->text);
        if (value == NULL)
            return at(err, name, item, "secret_parameters names '%s', which "
                                       "is not a parameter of this step",
                      item->text);
        if (!json_is_string(value) || json_string_length(value) == 0)
            return at(err, name, item, "secret parameter '%s' must be a "
                                       "non-empty string", item->text);
        if ((rc = add_secret(plan, json_string_value(value), err)) != 0)
            return rc;
    }
    return 0;
}

/* Every scalar under a secret parameter, before anything of its step is
 * checked: a refusal of the step (an integer out of range, a bad value)
 * or of anything read later may quote it, and is redacted with them. */
static int add_scalar_secrets(jx_plan *plan, const jx__node *n, jx_error *err)
{
    int rc = 0;

    if (n->kind == JX__NODE_SCALAR)
        return n->text_len > 0 ? add_secret(plan, n->text, err) : 0;
    for (size_t i = 0; rc == 0 && i < n->n_items; i++)
        rc = add_scalar_secrets(plan, n->items[i], err);
    return rc;
}

/* What secret_parameters names in a step not yet checked, as far as its
 * shape lets one tell; the checks come later (read_secrets). */
static int collect_secrets(const jx__node *step, jx_plan *plan, jx_error *err)
{
    const jx__node *names = jx__map_get(step, "secret_parameters");
    const jx__node *params = jx__map_get(step, "parameters");
    int rc = 0;

    if (names == NULL || params == NULL || names->kind != JX__NODE_SEQ)
        return 0;
    for (size_t i = 0; rc == 0 && i < names->n_items; i++) {
        const jx__node *value;
        if (names->items[i]->kind != JX__NODE_SCALAR)
            continue;
        value = jx__map_get(params, names->items[i]->text);
        if (value != NULL)
            rc = add_scalar_secrets(plan, value, err);
    }
    return rc;
}

/* Steps arrive one by one while the document is parsed (see
 * jx__yaml_parse_stream).  A step's error is kept, not raised, so that the
 * plan-level checks (contract_id first) still speak first. */
typedef struct step_reader {
    jx_plan *plan;
    size_t cap;
    int failed;    /* a step was refused: the rest are not read */
    jx_error error; /* why */
} step_reader;

static int read_streamed_step(const jx__node *item, void *user, jx_error *err)
{
    step_reader *r = user;
    jx_plan *plan = r->plan;
    int rc;

    /* Even after a refusal: a later step's secret may be what it quotes. */
    if ((rc = collect_secrets(item, plan, err)) != 0 || r->failed)
        return rc;
    if (plan->n_steps == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        jx__step *grown = realloc(plan->steps, cap * sizeof *grown);
        if (grown == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        plan->steps = grown;
        r->cap = cap;
    }
    memset(&plan->steps[plan->n_steps], 0, sizeof *plan->steps);
    plan->n_steps++; /* counted first, so jx_plan_free frees a partial one */
    rc = read_step(item, plan, &plan->steps[plan->n_steps - 1],
                   plan->n_steps > 1 ? &plan->steps[plan->n_steps - 2] : NULL,
                   0, &r->error);
    if (rc == 0)
        rc = read_secrets(item, plan, &plan->steps[plan->n_steps - 1],
                          &r->error);
    if (rc == JX_ENOMEM)
        return jx__fail(err, rc, "%s", r->error.message);
    r->failed = rc != 0;
    return 0;
}

static int read_steps(const jx__node *n, const char *name,
                      const step_reader *r, jx_error *err)
{
    if (n->kind == JX__NODE_SCALAR && !n->quoted && n->text_len == 0)
        return 0; /* "steps:" alone: an empty plan */
    if (n->kind != JX__NODE_SEQ)
        return at(err, name, n, "steps must be a sequence, found %s",
                  jx__node_kind_name(n));
    if (r->failed) {
        if (err != NULL)
            *err = r->error;
        return r->error.code;
    }
    return 0;
}

static int read_root(const jx__node *root, jx_plan *plan,
                     const step_reader *steps, jx_error *err)
{
    static const char *const keys[] = {"job_id", "contract_id", "tenant_id",
                                       "executed_by", "steps", NULL};
    const char *name = plan->name;
    const jx__node *v;
    int rc;

    if (root->kind != JX__NODE_MAP)
        return at(err, name, root, "a plan must be a mapping, found %s",
                  jx__node_kind_name(root));
    if ((rc = jx__check_keys(root, keys, name, "the plan", JX_EPLAN, err)))
        return rc;
    if ((v = jx__map_get(root, "contract_id")) == NULL)
        return at(err, name, root, "%s",
                  "missing 'contract_id': every job needs the UUID of its "
                  "approved contract");
    if ((rc = get_uuid(v, name, "contract_id", plan->contract_id, err)) != 0)
        return rc;
    if ((v = jx__map_get(root, "job_id")) != NULL) {
        if ((rc = get_uuid(v, name, "job_id", plan->job_id, err)) != 0)
            return rc;
    } else {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, plan->job_id);
        plan->job_id_generated = 1;
    }
    if ((v = jx__map_get(root, "tenant_id")) != NULL)
        rc = get_text(v, name, "tenant_id", 1, &plan->tenant_id, err);
    else if ((plan->tenant_id = strdup("")) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    if (rc != 0)
        return rc;
    if ((v = jx__map_get(root, "executed_by")) != NULL)
        rc = get_text(v, name, "executed_by", 0, &plan->executed_by, err);
    else if ((plan->executed_by = strdup(JX__DEFAULT_EXECUTED_BY)) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    if (rc != 0)
        return rc;
    if ((v = jx__map_get(root, "steps")) == NULL)
        return at(err, name, root, "%s", "missing 'steps'");
    return read_steps(v, name, steps, err);
}

static int hash_hex(const char *text, size_t len, char out[65])
{
    unsigned char digest[JX__SHA256_LEN];
    if (jx__sha256(text, len, digest) != 0)
        return -1;
    jx__hex(digest, sizeof digest, out);
    return 0;
}

int jx_plan_parse(const char *text, size_t len, const char *name,
                  jx_plan **out, jx_error *err)
{
    step_reader steps = {0};
    jx__stream stream = {"steps", read_streamed_step, &steps};
    jx__node *root = NULL;
    jx_plan *plan;
    int rc;

    *out = NULL;
    plan = calloc(1, sizeof *plan);
    if (plan == NULL || (plan->name = strdup(name)) == NULL) {
        free(plan);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    steps.plan = plan;
    rc = jx__yaml_parse_stream(text, len, name, &plan_limits, &stream, &root,
                               err);
    if (rc == 0)
        rc = read_root(root, plan, &steps, err);
    if (rc == 0 && steps.cap > plan->n_steps && plan->n_steps > 0) {
        /* Give back what doubling reserved: up to half the array. */
        jx__step *fit = realloc(plan->steps,
                                plan->n_steps * sizeof *plan->steps);
        if (fit != NULL)
            plan->steps = fit;
    }
    if (rc == 0 && jx__redact_plan(plan) != 0)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    jx__node_free(root);
    if (rc == 0 && hash_hex(text, len, plan->sha256) != 0)
        rc = jx__fail(err, JX_EINTERNAL, "%s: SHA-256 failed", name);
    if (rc != 0) {
        jx__redact_message(plan, err);
        jx_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

int jx_plan_load(const char *path, jx_plan **out, jx_error *err)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = jx__read_file(path, plan_limits.max_bytes, &text, &len, err);
    if (rc != 0) {
        if (rc != JX_ENOMEM && rc != JX_ELIMIT)
            rc = JX_EPLAN;
        if (err != NULL)
            err->code = rc;
        return rc;
    }
    rc = jx_plan_parse(text, len, name, out, err);
    free(text);
    return rc;
}

void jx_plan_free(jx_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->n_steps; i++) {
        jx__step *st = &plan->steps[i];
        free(st->type);
        free(st->target);
        free(st->type_json);
        free(st->target_json);
        json_decref(st->params);
        if (st->params_json != no_params_json)
            free(st->params_json);
        if (st->param_keys != no_param_keys)
            free(st->param_keys);
    }
    free(plan->steps);
    json_decref(plan->no_params);
    for (size_t i = 0; i < plan->n_secrets; i++)
        free(plan->secrets[i]);
    free(plan->secrets);
    free(plan->tenant_id);
    free(plan->executed_by);
    free(plan->name);
    free(plan);
}

const char *jx_plan_job_id(const jx_plan *plan) { return plan->job_id; }
int jx_plan_job_id_generated(const jx_plan *plan)
{
    return plan->job_id_generated;
}
const char *jx_plan_contract_id(const jx_plan *plan)
{
    return plan->contract_id;
}
size_t jx_plan_step_count(const jx_plan *plan) { return plan->n_steps; }

int64_t jx_plan_step_index(const jx_plan *plan, size_t i)
{
    return i < plan->n_steps ? plan->steps[i].index : -1;
}

const char *jx_plan_step_type(const jx_plan *plan, size_t i)
{
    return i < plan->n_steps ? plan->steps[i].type : NULL;
}

/* The ids a job needs, for a step that comes without its plan. */
static void generated_ids(jx_plan *plan)
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, plan->job_id);
    plan->job_id_generated = 1;
    uuid_generate_random(u);
    uuid_unparse_lower(u, plan->contract_id);
}

int jx_plan_parse_step(const char *text, size_t len, const char *name,
                       jx_plan **out, jx_error *err)
{
    jx__node *root = NULL;
    jx_plan *plan = calloc(1, sizeof *plan);
    int rc;

    *out = NULL;
    if (plan == NULL || (plan->name = strdup(name)) == NULL ||
        (plan->tenant_id = strdup("")) == NULL ||
        (plan->executed_by = strdup(JX__DEFAULT_EXECUTED_BY)) == NULL ||
        (plan->steps = calloc(1, sizeof *plan->steps)) == NULL) {
        jx_plan_free(plan);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    plan->n_steps = 1; /* counted first, so jx_plan_free frees a partial one */
    generated_ids(plan);
    rc = jx__yaml_parse(text, len, name, &plan_limits, &root, err);
    if (rc == 0)
        rc = collect_secrets(root, plan, err);
    if (rc == 0)
        rc = read_step(root, plan, plan->steps, NULL, 1, err);
    if (rc == 0)
        rc = read_secrets(root, plan, plan->steps, err);
    if (rc == 0 && jx__redact_plan(plan) != 0)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    if (rc == 0 && hash_hex(text, len, plan->sha256) != 0)
        rc = jx__fail(err, JX_EINTERNAL, "%s: SHA-256 failed", name);
    jx__node_free(root);
    if (rc != 0) {
        jx__redact_message(plan, err);
        jx_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

int jx__plan_single(const jx__single_step *in, jx_plan **out, jx_error *err)
{
    jx_plan *plan = calloc(1, sizeof *plan);
    jx__step *st;

    *out = NULL;
    if (plan == NULL || (plan->steps = calloc(1, sizeof *st)) == NULL) {
        free(plan);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    plan->n_steps = 1;
    st = plan->steps;
    if (strlen(in->job_id) != JX__UUID_LEN ||
        strlen(in->contract_id) != JX__UUID_LEN) {
        jx_plan_free(plan);
        return jx__fail(err, JX_EPLAN, "malformed step request");
    }
    memcpy(plan->job_id, in->job_id, JX__UUID_LEN + 1);
    memcpy(plan->contract_id, in->contract_id, JX__UUID_LEN + 1);
    st->index = in->index;
    st->timeout_seconds = in->timeout_seconds;
    st->params = json_incref(in->params);
    if ((plan->name = strdup("step")) == NULL ||
        (plan->tenant_id = strdup(in->tenant_id)) == NULL ||
        (plan->executed_by = strdup(in->executed_by)) == NULL ||
        (st->type = strdup(in->type)) == NULL ||
        (st->target = strdup(in->target)) == NULL ||
        (st->type_json = json_literal(st->type)) == NULL ||
        (st->target_json = json_literal(st->target)) == NULL ||
        index_params(st, err) != 0) {
        jx_plan_free(plan);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    *out = plan;
    return 0;
}

int jx__plan_steps_json(const char *text, size_t len, const char *name,
                        json_t **steps, jx_error *err)
{
    jx__node *root = NULL;
    const jx__node *v;
    int rc;

    *steps = NULL;
    rc = jx__yaml_parse(text, len, name, &plan_limits, &root, err);
    if (rc != 0)
        return rc;
    v = jx__map_get(root, "steps");
    if (v == NULL || v->kind != JX__NODE_SEQ)
        *steps = json_array(); /* "steps:" alone, or none: no step */
    else
        *steps = jx__node_to_json(v, name, err);
    jx__node_free(root);
    if (*steps == NULL)
        return err != NULL && err->code != 0 ? err->code : JX_ENOMEM;
    return 0;
}
