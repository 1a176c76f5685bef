/*
 * binding.c - the step type -> plugin table, sorted for bsearch.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/binding.h"

static int type_cmp(const void *a, const void *b)
{
    return strcmp(((const jx__binding *)a)->step_type,
                  ((const jx__binding *)b)->step_type);
}

static int binding_cmp(const void *a, const void *b)
{
    int c = type_cmp(a, b);
    size_t oa = ((const jx__binding *)a)->order;
    size_t ob = ((const jx__binding *)b)->order;
    return c != 0 ? c : (oa > ob) - (oa < ob);
}

jx__plugin *jx__binding_find(const jx__bindings *b, const char *type)
{
    jx__binding key = {type, NULL, 0};
    const jx__binding *found;

    if (b->n == 0)
        return NULL;
    found = bsearch(&key, b->table, b->n, sizeof key, type_cmp);
    return found != NULL ? found->plugin : NULL;
}

int jx__binding_collect(jx__plugin *p, const char *const *extra,
                        const jx__origin *o, jx_error *err)
{
    size_t n_own = 0, n_extra = 0, n = 0;

    if (p->handler == NULL) {
        if (extra != NULL && extra[0] != NULL)
            return jx__fail(err, JX_ECONFIG,
                            "%s:%u:%u: plugin '%s': step_types given, but it "
                            "exports no step_handler_v1",
                            o->file, o->line, o->col, o->path);
        return 0;
    }
    while (p->handler->step_types != NULL &&
           p->handler->step_types[n_own] != NULL)
        n_own++;
    while (extra != NULL && extra[n_extra] != NULL)
        n_extra++;
    p->bound = calloc(n_own + n_extra + 1, sizeof *p->bound);
    if (p->bound == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_own + n_extra; i++) {
        const char *t = i < n_own ? p->handler->step_types[i]
                                  : extra[i - n_own];
        int seen = 0;
        for (size_t k = 0; k < n; k++)
            seen |= strcmp(p->bound[k], t) == 0;
        if (seen)
            continue; /* listed by the plugin and again by the config */
        if ((p->bound[n] = strdup(t)) == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        p->n_bound = ++n;
    }
    return 0;
}

/* The refusal of a step type bound to both a and b. */
static int bound_twice(const jx__origin *o, const char *type,
                       const jx__plugin *a, const jx__plugin *b,
                       jx_error *err)
{
    if (o != NULL && o->file != NULL)
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: step type '%s' is bound to both '%s' "
                        "(%s) and '%s' (%s)",
                        o->file, o->line, o->col, type, a->written, a->path,
                        b->written, b->path);
    return jx__fail(err, JX_ECONFIG,
                    "step type '%s' is bound to both '%s' (%s) and '%s' (%s)",
                    type, a->written, a->path, b->written, b->path);
}

int jx__binding_rebuild(jx__bindings *b, jx__plugin *const *plugins,
                        size_t n_plugins, const jx__origin *o, jx_error *err)
{
    size_t total = 0, n = 0;
    jx__binding *table;

    for (size_t i = 0; i < n_plugins; i++)
        total += plugins[i]->n_bound;
    table = malloc((total ? total : 1) * sizeof *table);
    if (table == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_plugins; i++)
        for (size_t k = 0; k < plugins[i]->n_bound; k++)
            table[n++] = (jx__binding){plugins[i]->bound[k], plugins[i], i};
    qsort(table, n, sizeof *table, binding_cmp);
    for (size_t i = 1; i < n; i++) {
        int rc;
        if (strcmp(table[i - 1].step_type, table[i].step_type) != 0)
            continue;
        rc = bound_twice(o, table[i].step_type, table[i - 1].plugin,
                         table[i].plugin, err);
        free(table);
        return rc;
    }
    free(b->table);
    b->table = table;
    b->n = n;
    return 0;
}

void jx__binding_drop(jx__bindings *b, const jx__plugin *p)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n; i++)
        if (b->table[i].plugin != p)
            b->table[n++] = b->table[i];
    b->n = n;
}

void jx__binding_free(jx__bindings *b)
{
    free(b->table);
    b->table = NULL;
    b->n = 0;
}
