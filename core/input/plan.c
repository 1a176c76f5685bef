/*
 * plan.c - reads a plan (YAML or JSON) and checks it against the schema and
 * the invariants that can be checked before a run: JOB-001 (a valid
 * contract_id) and EXEC-001 (strictly increasing step_index).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "base/file.h"
#include "base/huge.h"
#include "base/sha256.h"
#include "input/plan.h"
#include "input/plan_read.h"
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

int jx__plan_keep(jx_plan *plan, const char *text, size_t len,
                  const char **out, jx_error *err)
{
    *out = jx__arena_strndup(&plan->strings, text, len);
    return *out != NULL ? 0 : jx__plan_oom(plan, err);
}

static int get_text(const jx__node *n, jx_plan *plan, const char *what,
                    int allow_empty, const char **out, jx_error *err)
{
    const char *name = plan->name;

    if (n->kind != JX__NODE_SCALAR)
        return at(err, name, n, "%s must be a text value", what);
    if (!allow_empty && n->text_len == 0)
        return at(err, name, n, "%s must not be empty", what);
    plan->read_line = n->line;
    plan->read_col = n->col;
    return jx__plan_keep(plan, n->text, n->text_len, out, err);
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

const char jx__no_params_json[] = "{}";

int jx__plan_oom(const jx_plan *plan, jx_error *err)
{
    if (errno == E2BIG)
        return jx__budget_refusal(&plan->budget, err, plan->name,
                                  plan->read_line, plan->read_col);
    return jx__fail(err, JX_ENOMEM, "out of memory");
}

/* The text in b, kept in the plan's arena as *out. */
static int keep_buf(jx_plan *plan, const jx__buf *b, const char **out,
                    jx_error *err)
{
    return jx__plan_keep(plan, b->data, b->len, out, err);
}

static int read_params(const jx__node *n, jx_plan *plan, jx__step *st,
                       jx__buf *scratch, jx_error *err)
{
    const char *name = plan->name;
    int rc;

    if (n == NULL || (n->kind == JX__NODE_SCALAR && !n->quoted &&
                      n->text_len == 0) ||
        (n->kind == JX__NODE_MAP && n->n_items == 0)) {
        st->params_json = jx__no_params_json;
        st->n_params = 0;
        return 0;
    }
    if (n->kind != JX__NODE_MAP)
        return at(err, name, n, "%s", "parameters must be a mapping");
    scratch->len = 0;
    if ((rc = jx__node_put_json(scratch, n, name, err)) != 0)
        return rc;
    st->n_params = n->n_items;
    return keep_buf(plan, scratch, &st->params_json, err);
}

/* The text as a JSON string literal, quotes included, in the arena. */
static int keep_literal(jx_plan *plan, const char *text, jx__buf *scratch,
                        const char **out, jx_error *err)
{
    scratch->len = 0;
    if (jx__buf_put_json_string(scratch, text) != 0)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    return keep_buf(plan, scratch, out, err);
}

/* index_optional: a step read alone (jx_plan_parse_step) may leave
 * step_index out.  scratch is the caller's buffer, reused step to step. */
static int read_step(const jx__node *n, jx_plan *plan, jx__step *st,
                     const jx__step *prev, int index_optional,
                     jx__buf *scratch, jx_error *err)
{
    static const char *const keys[] = {"step_index", "step_type", "target",
                                       "parameters", "timeout_seconds",
                                       "secret_parameters", NULL};
    const char *name = plan->name;
    const jx__node *v;
    long long ll;
    int rc;

    st->line = plan->read_line = n->line;
    st->col = plan->read_col = n->col;
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
    if ((rc = get_text(v, plan, "step_type", 0, &st->type, err)) != 0)
        return rc;
    if ((v = jx__map_get(n, "target")) != NULL)
        rc = get_text(v, plan, "target", 1, &st->target, err);
    else
        st->target = "";
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
    plan->read_line = n->line;
    plan->read_col = n->col;
    if ((rc = keep_literal(plan, st->type, scratch, &st->type_json, err)) ||
        (rc = keep_literal(plan, st->target, scratch, &st->target_json, err)))
        return rc;
    return read_params(jx__map_get(n, "parameters"), plan, st, scratch, err);
}

/* Adds a secret value to the plan's set (a value seen before is not added
 * twice). */
int jx__plan_add_secret(jx_plan *plan, const char *value, jx_error *err)
{
    size_t cost = strlen(value) + 1 + JX__SECRET_OVERHEAD;
    int added;

    if (jx__budget_charge(&plan->budget, cost) != 0)
        return jx__budget_refusal(&plan->budget, err, plan->name,
                                  plan->read_line, plan->read_col);
    if ((added = jx__secrets_add(&plan->secrets, value)) < 0)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (added == 0)
        jx__budget_release(&plan->budget, cost);
    return 0;
}

/* secret_parameters: [NAME, ...] marks parameters whose values the
 * handler receives but no output of the executor may show. */
static int read_secrets(const jx__node *step, jx_plan *plan, jx_error *err)
{
    const jx__node *v = jx__map_get(step, "secret_parameters");
    const jx__node *params = jx__map_get(step, "parameters");
    const char *name = plan->name;

    if (v == NULL)
        return 0;
    if (v->kind != JX__NODE_SEQ)
        return at(err, name, v, "secret_parameters must be a sequence of "
                                "parameter names, found %s",
                  jx__node_kind_name(v));
    for (size_t i = 0; i < v->n_items; i++) {
        const jx__node *item = v->items[i], *value;
        int rc;

        if (item->kind != JX__NODE_SCALAR)
            return at(err, name, item, "secret_parameters must list "
                                       "parameter names, found %s",
                      jx__node_kind_name(item));
        value = jx__map_get(params, item->text);
        if (value == NULL)
            return at(err, name, item, "secret_parameters names '%s', which "
                                       "is not a parameter of this step",
                      item->text);
        if (!jx__node_is_string(value) || value->text_len == 0)
            return at(err, name, item, "secret parameter '%s' must be a "
                                       "non-empty string", item->text);
        if ((rc = jx__plan_add_secret(plan, value->text, err)) != 0)
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
        return n->text_len > 0 ? jx__plan_add_secret(plan, n->text, err) : 0;
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
 * plan-level checks (contract_id first) still speak first; running out of
 * memory or budget stops the parse at once. */
typedef struct step_reader {
    jx_plan *plan;
    size_t cap;
    int failed;     /* a step was refused: the rest are not read */
    jx_error error; /* why */
    jx__buf scratch;
} step_reader;

/* Room for `more` steps past *cap; JX_ENOMEM or JX_ELIMIT with err
 * filled. */
static int add_room(jx_plan *plan, size_t *cap, size_t more, unsigned line,
                    unsigned col, jx_error *err)
{
    jx__step *grown;

    /* realloc may hold the old and the new array at once: charge both. */
    if (jx__budget_charge(&plan->budget,
                          (*cap + more) * sizeof *grown + *cap * sizeof *grown) !=
        0)
        return jx__budget_refusal(&plan->budget, err, plan->name, line, col);
    jx__budget_release(&plan->budget, *cap * sizeof *grown);
    if ((grown = realloc(plan->steps, (*cap + more) * sizeof *grown)) == NULL) {
        jx__budget_release(&plan->budget, more * sizeof *grown);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    plan->steps = grown;
    *cap += more;
    jx__huge_advise(grown, *cap * sizeof *grown);
    return 0;
}

int jx__plan_grow_steps(jx_plan *plan, size_t *cap, unsigned line,
                        unsigned col, jx_error *err)
{
    if (plan->n_steps < *cap)
        return 0;
    return add_room(plan, cap, *cap ? *cap : 16, line, col, err);
}

/* Room for a JSON plan of text_len bytes (JX__PLAN_MIN_STEP_BYTES). */
static int reserve_steps(jx_plan *plan, size_t *cap, size_t text_len,
                         jx_error *err)
{
    size_t steps = text_len / JX__PLAN_MIN_STEP_BYTES;

    return steps > *cap ? add_room(plan, cap, steps - *cap, 1, 1, err) : 0;
}

static int read_streamed_step(const jx__node *item, void *user, jx_error *err)
{
    step_reader *r = user;
    jx_plan *plan = r->plan;
    int rc;

    /* Even after a refusal: a later step's secret may be what it quotes. */
    if ((rc = collect_secrets(item, plan, err)) != 0 || r->failed)
        return rc;
    if ((rc = jx__plan_grow_steps(plan, &r->cap, item->line, item->col, err)) != 0)
        return rc;
    memset(&plan->steps[plan->n_steps], 0, sizeof *plan->steps);
    plan->n_steps++;
    rc = read_step(item, plan, &plan->steps[plan->n_steps - 1],
                   plan->n_steps > 1 ? &plan->steps[plan->n_steps - 2] : NULL,
                   0, &r->scratch, &r->error);
    if (rc == 0)
        rc = read_secrets(item, plan, &r->error);
    if (rc == JX_ENOMEM || rc == JX_ELIMIT) /* stop: the budget is spent */
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
        jx__plan_generate_job_id(plan);
    }
    if ((v = jx__map_get(root, "tenant_id")) != NULL &&
        (rc = get_text(v, plan, "tenant_id", 1, &plan->tenant_id, err)) != 0)
        return rc;
    if ((v = jx__map_get(root, "executed_by")) != NULL &&
        (rc = get_text(v, plan, "executed_by", 0, &plan->executed_by, err)))
        return rc;
    if ((v = jx__map_get(root, "steps")) == NULL)
        return at(err, name, root, "%s", "missing 'steps'");
    return read_steps(v, name, steps, err);
}

void jx__plan_generate_job_id(jx_plan *plan)
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, plan->job_id);
    plan->job_id_generated = 1;
}

static int hash_hex(const char *text, size_t len, char out[65])
{
    unsigned char digest[JX__SHA256_LEN];

    jx__sha256_expect(len);
    if (jx__sha256(text, len, digest) != 0)
        return -1;
    jx__hex(digest, sizeof digest, out);
    return 0;
}

/* What reading a plan of text_len bytes may take besides its text. */
static size_t memory_limit(size_t text_len)
{
    const size_t constant = (size_t)JX__PLAN_MEMORY_MIB << 20;

    if (text_len > (SIZE_MAX - constant) / 7)
        return SIZE_MAX;
    return 7 * text_len + constant;
}

jx_plan *jx__plan_new(const char *name, size_t text_len)
{
    jx_plan *plan = calloc(1, sizeof *plan);

    if (plan == NULL || (plan->name = strdup(name)) == NULL) {
        free(plan);
        return NULL;
    }
    plan->tenant_id = "";
    plan->executed_by = JX__DEFAULT_EXECUTED_BY;
    plan->strings.budget = &plan->budget;
    plan->budget.limit = memory_limit(text_len);
    plan->budget.rule = JX__PLAN_MEMORY_RULE;
    return plan;
}

/* The last checks and touches of a plan read either way; its digest is
 * the caller's. */
static int finish_plan(jx_plan *plan, size_t cap, jx_error *err)
{
    if (cap > plan->n_steps && plan->n_steps > 0) {
        /* Give back what growing reserved. */
        jx__step *fit = realloc(plan->steps,
                                plan->n_steps * sizeof *plan->steps);
        if (fit != NULL)
            plan->steps = fit;
    }
    if (jx__redact_plan(plan) != 0)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    return 0;
}

static int digest_plan(jx_plan *plan, const char *text, size_t len,
                       jx_error *err)
{
    if (hash_hex(text, len, plan->sha256) != 0)
        return jx__fail(err, JX_EINTERNAL, "%s: SHA-256 failed", plan->name);
    return 0;
}

/* The end of either reader: the plan handed over, or freed with the
 * message redacted of its secrets. */
static int hand_over(jx_plan *plan, int rc, jx_plan **out, jx_error *err)
{
    if (rc != 0) {
        jx__redact_message(plan, err);
        jx_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

int jx__plan_parse_positioned(const char *text, size_t len, const char *name,
                              jx_plan **out, jx_error *err)
{
    jx_plan *plan = jx__plan_new(name, len);
    step_reader steps = {.plan = plan};
    jx__stream stream = {"steps", read_streamed_step, &steps, NULL};
    jx__node *root = NULL;
    int rc;

    *out = NULL;
    if (plan == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    stream.budget = &plan->budget;
    rc = jx__yaml_parse_stream(text, len, name, &plan_limits, &stream, &root,
                               err);
    if (rc == 0)
        rc = read_root(root, plan, &steps, err);
    jx__node_free(root);
    jx__buf_free(&steps.scratch);
    if (rc == 0)
        rc = finish_plan(plan, steps.cap, err);
    if (rc == 0)
        rc = digest_plan(plan, text, len, err);
    return hand_over(plan, rc, out, err);
}

/* The fast reader, giving the text back through release as it goes when
 * release is not NULL.  The plan's digest is the caller's to fill. */
static int parse_fast(const char *text, size_t len, const char *name,
                      jx__plan_release_fn *release, void *release_user,
                      jx_plan **out, jx_error *err)
{
    jx_plan *plan = jx__plan_new(name, len);
    size_t cap = 0;
    int rc;

    *out = NULL;
    if (plan == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    rc = reserve_steps(plan, &cap, len, err);
    if (rc == 0)
        rc = jx__plan_read_json(plan, text, len, release, release_user, &cap,
                                err);
    if (rc == JX__PLAN_DECLINED) {
        jx_plan_free(plan);
        return rc;
    }
    if (rc == 0)
        rc = finish_plan(plan, cap, err);
    return hand_over(plan, rc, out, err);
}

/* A plan handed over without its digest: taken back when the digest
 * cannot be had. */
static int keep_digested(jx_plan **out, int digest_rc, jx_error *err)
{
    if (digest_rc == 0)
        return 0;
    jx__fail(err, JX_EINTERNAL, "%s: SHA-256 failed", (*out)->name);
    jx_plan_free(*out);
    *out = NULL;
    return JX_EINTERNAL;
}

int jx__plan_parse_fast(const char *text, size_t len, const char *name,
                        jx_plan **out, jx_error *err)
{
    int rc = parse_fast(text, len, name, NULL, NULL, out, err);

    if (rc != 0)
        return rc;
    return keep_digested(out, hash_hex(text, len, (*out)->sha256), err);
}

int jx_plan_parse(const char *text, size_t len, const char *name,
                  jx_plan **out, jx_error *err)
{
    int rc = jx__plan_parse_fast(text, len, name, out, err);

    /* What the fast reader declines, the positioned one reads afresh: it
     * says what is wrong and where, or takes it. */
    if (rc == JX__PLAN_DECLINED)
        rc = jx__plan_parse_positioned(text, len, name, out, err);
    return rc;
}

/* A plan file's text as jx_plan_load() reads it, given back page by page
 * behind the fast reader: at the end of a long plan its steps are in
 * memory, its text is not (a 100,000-step plan: some 12 MiB less).  The
 * text is hashed as it goes, each piece before it is given back. */
typedef struct plan_text {
    char *text;
    size_t len;
    uintptr_t released; /* pages before this are given back ... */
    jx__sha256_ctx *hash;
    int hash_failed;     /* ... and hashed, unless this is set */
} plan_text;

static void give_back(void *user, const char *upto)
{
    plan_text *t = user;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (t->released + page - 1) & ~(page - 1);
    uintptr_t to = (uintptr_t)upto & ~(page - 1);

    if (to <= from || t->hash_failed)
        return;
    if (jx__sha256_update(t->hash, (const char *)t->released,
                          to - t->released) != 0) {
        t->hash_failed = 1; /* the text stays: the caller hashes it whole */
        return;
    }
    /* Whole pages inside the buffer: malloc's own words, before it, are
     * left alone.  Pages given back read as zeros, and are not read;
     * hashed already, they are hashed no more. */
    madvise((void *)from, to - from, MADV_DONTNEED);
    t->released = to;
}

/* The digest of t's text: what give_back hashed, then the rest. */
static int digest_rest(plan_text *t, char out[65])
{
    unsigned char digest[JX__SHA256_LEN];
    size_t done = t->released - (uintptr_t)t->text;

    if (t->hash_failed ||
        jx__sha256_update(t->hash, t->text + done, t->len - done) != 0 ||
        jx__sha256_finish(t->hash, digest) != 0)
        return -1;
    jx__hex(digest, sizeof digest, out);
    return 0;
}

static int read_plan_file(const char *path, plan_text *t, jx_error *err)
{
    int rc = jx__read_file(path, plan_limits.max_bytes, &t->text, &t->len,
                           err);

    if (rc != 0) {
        if (rc != JX_ENOMEM && rc != JX_ELIMIT)
            rc = JX_EPLAN;
        if (err != NULL)
            err->code = rc;
        return rc;
    }
    t->released = (uintptr_t)t->text;
    return 0;
}

int jx_plan_load(const char *path, jx_plan **out, jx_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    plan_text t = {0};
    int rc;

    *out = NULL;
    if ((rc = read_plan_file(path, &t, err)) != 0)
        return rc;
    jx__sha256_expect(t.len);
    /* Standard input cannot be read twice: its text stays whole, as it
     * does when there is no context to hash it in pieces. */
    t.hash = is_stdin ? NULL : jx__sha256_ctx_new();
    t.hash_failed = t.hash == NULL || jx__sha256_start(t.hash) != 0;
    rc = parse_fast(t.text, t.len, name, t.hash_failed ? NULL : give_back,
                    &t, out, err);
    if (rc == 0)
        rc = keep_digested(out,
                           t.released == (uintptr_t)t.text
                               ? hash_hex(t.text, t.len, (*out)->sha256)
                               : digest_rest(&t, (*out)->sha256),
                           err);
    jx__sha256_ctx_free(t.hash);
    if (rc != JX__PLAN_DECLINED) {
        free(t.text);
        return rc;
    }
    if (t.released != (uintptr_t)t.text) {
        /* What the fast reader gave back, the positioned reader needs:
         * the file is read again (and is what it now holds). */
        free(t.text);
        if ((rc = read_plan_file(path, &t, err)) != 0)
            return rc;
    }
    rc = jx__plan_parse_positioned(t.text, t.len, name, out, err);
    free(t.text);
    return rc;
}

void jx_plan_free(jx_plan *plan)
{
    if (plan == NULL)
        return;
    free(plan->steps);
    jx__secrets_free(&plan->secrets);
    jx__arena_free(&plan->strings);
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

/* A plan of one step, for a step that comes without its plan. */
static jx_plan *one_step_plan(const char *name, size_t text_len)
{
    jx_plan *plan = jx__plan_new(name, text_len);
    uuid_t u;

    if (plan == NULL || (plan->steps = calloc(1, sizeof *plan->steps)) == NULL) {
        jx_plan_free(plan);
        return NULL;
    }
    plan->n_steps = 1;
    jx__plan_generate_job_id(plan);
    uuid_generate_random(u);
    uuid_unparse_lower(u, plan->contract_id);
    return plan;
}

int jx_plan_parse_step(const char *text, size_t len, const char *name,
                       jx_plan **out, jx_error *err)
{
    jx__stream stream = {0};
    jx__node *root = NULL;
    jx_plan *plan = one_step_plan(name, len);
    jx__buf scratch = {0};
    int rc;

    *out = NULL;
    if (plan == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    stream.budget = &plan->budget;
    rc = jx__yaml_parse_stream(text, len, name, &plan_limits, &stream, &root,
                               err);
    if (rc == 0)
        rc = collect_secrets(root, plan, err);
    if (rc == 0)
        rc = read_step(root, plan, plan->steps, NULL, 1, &scratch, err);
    if (rc == 0)
        rc = read_secrets(root, plan, err);
    jx__node_free(root);
    jx__buf_free(&scratch);
    if (rc == 0)
        rc = finish_plan(plan, 1, err);
    if (rc == 0)
        rc = digest_plan(plan, text, len, err);
    return hand_over(plan, rc, out, err);
}

int jx__plan_single(const jx__single_step *in, jx_plan **out, jx_error *err)
{
    jx_plan *plan;
    jx__step *st;
    jx__buf scratch = {0};
    int rc = 0;

    *out = NULL;
    if (strlen(in->job_id) != JX__UUID_LEN ||
        strlen(in->contract_id) != JX__UUID_LEN || !json_is_object(in->params))
        return jx__fail(err, JX_EPLAN, "malformed step request");
    /* No budget: the request's frame was bounded when it was read. */
    if ((plan = one_step_plan("step", 0)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    plan->budget.limit = 0;
    st = plan->steps;
    memcpy(plan->job_id, in->job_id, JX__UUID_LEN + 1);
    plan->job_id_generated = 0;
    memcpy(plan->contract_id, in->contract_id, JX__UUID_LEN + 1);
    st->index = in->index;
    st->timeout_seconds = in->timeout_seconds;
    st->n_params = json_object_size(in->params);
    if (jx__plan_keep(plan, in->tenant_id, strlen(in->tenant_id),
                      &plan->tenant_id, err) ||
        jx__plan_keep(plan, in->executed_by, strlen(in->executed_by),
                      &plan->executed_by, err) ||
        jx__plan_keep(plan, in->type, strlen(in->type), &st->type, err) ||
        jx__plan_keep(plan, in->target, strlen(in->target), &st->target,
                      err) ||
        keep_literal(plan, st->type, &scratch, &st->type_json, err) ||
        keep_literal(plan, st->target, &scratch, &st->target_json, err))
        rc = err != NULL ? err->code : JX_ENOMEM;
    scratch.len = 0;
    if (rc == 0 && st->n_params == 0)
        st->params_json = jx__no_params_json;
    else if (rc == 0 && jx__buf_put_json(&scratch, in->params) != 0)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    else if (rc == 0)
        rc = keep_buf(plan, &scratch, &st->params_json, err);
    jx__buf_free(&scratch);
    if (rc != 0) {
        jx_plan_free(plan);
        return rc;
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
    if (v == NULL || v->kind != JX__NODE_SEQ) {
        *steps = json_array(); /* "steps:" alone, or none: no step */
    } else {
        /* The plan reads step_type and target as text whatever they look
         * like ("target: 1e400" is the text 1e400): the copy keeps them
         * as text too, rather than refusing a number out of range. */
        for (size_t i = 0; i < v->n_items; i++) {
            jx__node *type = (jx__node *)jx__map_get(v->items[i], "step_type");
            jx__node *target = (jx__node *)jx__map_get(v->items[i], "target");
            if (type != NULL && type->kind == JX__NODE_SCALAR)
                type->quoted = 1;
            if (target != NULL && target->kind == JX__NODE_SCALAR)
                target->quoted = 1;
        }
        *steps = jx__node_to_json(v, name, err);
    }
    jx__node_free(root);
    if (*steps == NULL)
        return err != NULL && err->code != 0 ? err->code : JX_ENOMEM;
    return 0;
}
