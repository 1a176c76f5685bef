/*
 * yamldoc.c - YAML documents into a positioned tree, with limits.
 *
 * libyaml's event parser is driven by hand so that every limit is checked
 * as soon as the event that would break it arrives: a 100,000-deep nesting
 * is refused at depth max_depth + 1, and an alias is refused where it
 * stands, so expansion bombs never get a chance to grow.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/jsonbuf.h"
#include "input/yamldoc.h"

const jx__doc_limits jx__default_limits = {
    .max_bytes = 1024 * 1024,
    .max_depth = 64,
    .max_scalar = 64 * 1024,
    .max_nodes = 100000,
};

typedef struct parse_state {
    const char *name;
    const jx__doc_limits *limits;
    size_t n_nodes;
    /* Open collections, innermost last. */
    jx__node **stack;
    size_t depth;
    size_t stack_cap;
    jx__node *root;
    /* A map's key waiting for its value. */
    jx__node **pending_key;
    const jx__stream *stream; /* may be NULL */
    jx__budget *budget;       /* may be NULL */
    /* The sequence being streamed, once open, and the arena its items'
     * nodes come from: emptied after each item, so that a long plan's
     * steps cost no malloc per node. */
    jx__node *streamed_seq;
    jx__arena items;
} parse_state;

/* What a node costs the budget: itself, its text and its arrays, as
 * the heap holds them. */
static size_t node_bytes(const jx__node *n)
{
    size_t n_arrays = n->keys != NULL ? 2 : 1;

    return jx__heap_cost(sizeof *n) +
           (n->text != NULL ? jx__heap_cost(n->text_len + 1) : 0) +
           (n->cap > 0 ? n_arrays * jx__heap_cost(n->cap * sizeof(jx__node *))
                       : 0);
}

/* Gives back to the budget what a whole tree was charged. */
static void release_tree(parse_state *st, const jx__node *n)
{
    if (st->budget == NULL || n == NULL || n->in_arena)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        if (n->keys != NULL)
            release_tree(st, n->keys[i]);
        release_tree(st, n->items[i]);
    }
    jx__budget_release(st->budget, node_bytes(n));
}

static void drop_tree(parse_state *st, jx__node *n)
{
    release_tree(st, n);
    jx__node_free(n);
}

/* Charges bytes for a node at mark; JX_ELIMIT with err filled when the
 * budget is spent. */
static int charge(parse_state *st, size_t bytes, const yaml_mark_t *mark,
                  jx_error *err)
{
    if (jx__budget_charge(st->budget, bytes) == 0)
        return 0;
    return jx__budget_refusal(st->budget, err, st->name,
                              (unsigned)mark->line + 1,
                              (unsigned)mark->column + 1);
}

static int fail_at(jx_error *err, const char *name, unsigned line,
                   unsigned col, int code, const char *why)
{
    return jx__fail(err, code, "%s:%u:%u: %s", name, line, col, why);
}

void jx__node_free(jx__node *node)
{
    if (node == NULL || node->in_arena)
        return;
    for (size_t i = 0; i < node->n_items; i++) {
        if (node->keys != NULL)
            jx__node_free(node->keys[i]);
        jx__node_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node->text);
    free(node);
}

/* Whether a node made now belongs to an item of the streamed sequence. */
static int in_streamed_item(const parse_state *st)
{
    return st->streamed_seq != NULL && st->depth >= 2 &&
           st->stack[1] == st->streamed_seq;
}

/*
 * A new node at mark, with room for text_len bytes of text and its NUL
 * when it is a scalar, charged to the budget; in the items' arena inside
 * a streamed item, else on the heap.  NULL with err filled (JX_ENOMEM, or
 * the budget's refusal).
 */
static jx__node *node_new(parse_state *st, jx__node_kind kind,
                          const yaml_mark_t *mark, size_t text_len,
                          jx_error *err)
{
    int scalar = kind == JX__NODE_SCALAR, arena = in_streamed_item(st);
    size_t cost = jx__heap_cost(sizeof(jx__node)) +
                  (scalar ? jx__heap_cost(text_len + 1) : 0);
    jx__node *n;

    if (arena) {
        n = jx__arena_alloc(&st->items, sizeof *n);
        if (n != NULL) {
            memset(n, 0, sizeof *n);
            n->in_arena = 1;
            if (scalar && (n->text = jx__arena_alloc_text(
                               &st->items, text_len + 1)) == NULL)
                n = NULL;
        }
        if (n == NULL && errno == E2BIG) {
            jx__budget_refusal(st->budget, err, st->name,
                               (unsigned)mark->line + 1,
                               (unsigned)mark->column + 1);
            return NULL;
        }
    } else {
        if (charge(st, cost, mark, err) != 0)
            return NULL;
        n = calloc(1, sizeof *n);
        if (n != NULL && scalar && (n->text = malloc(text_len + 1)) == NULL) {
            free(n);
            n = NULL;
        }
        if (n == NULL)
            jx__budget_release(st->budget, cost);
    }
    if (n == NULL) {
        jx__fail(err, JX_ENOMEM, "%s: out of memory", st->name);
        return NULL;
    }
    n->kind = kind;
    n->line = (unsigned)mark->line + 1;
    n->col = (unsigned)mark->column + 1;
    return n;
}

/* The room of a collection's arrays for one more item; -1 when out of
 * memory, -2 when past the budget. */
static int make_room(parse_state *st, jx__node *coll)
{
    size_t cap = coll->cap == 0 ? 4 : coll->cap * 2;
    size_t n_arrays = coll->kind == JX__NODE_MAP ? 2 : 1;
    size_t old = coll->cap > 0 ? jx__heap_cost(coll->cap * sizeof(jx__node *))
                               : 0;
    /* While realloc moves an array, the old and the new both exist. */
    size_t peak = n_arrays * jx__heap_cost(cap * sizeof(jx__node *));
    jx__node **items, **keys;

    if (coll->in_arena) { /* the old arrays stay until the arena empties */
        items = jx__arena_alloc(&st->items, cap * sizeof *items);
        keys = items == NULL || coll->kind != JX__NODE_MAP
                   ? NULL
                   : jx__arena_alloc(&st->items, cap * sizeof *keys);
        if (items == NULL || (coll->kind == JX__NODE_MAP && keys == NULL))
            return errno == E2BIG ? -2 : -1;
        if (coll->n_items > 0) { /* a new collection has no arrays yet */
            memcpy(items, coll->items, coll->n_items * sizeof *items);
            if (keys != NULL)
                memcpy(keys, coll->keys, coll->n_items * sizeof *keys);
        }
        coll->items = items;
        if (keys != NULL)
            coll->keys = keys;
        coll->cap = cap;
        return 0;
    }
    if (jx__budget_charge(st->budget, peak) != 0)
        return -2;
    jx__budget_release(st->budget, n_arrays * old);
    if ((items = realloc(coll->items, cap * sizeof *items)) == NULL)
        return -1;
    coll->items = items;
    if (coll->kind == JX__NODE_MAP) {
        if ((keys = realloc(coll->keys, cap * sizeof *keys)) == NULL)
            return -1;
        coll->keys = keys;
    }
    coll->cap = cap;
    return 0;
}

static int push_item(parse_state *st, jx__node *coll, jx__node *key,
                     jx__node *value)
{
    int rc;

    if (coll->n_items == coll->cap && (rc = make_room(st, coll)) != 0)
        return rc;
    if (coll->kind == JX__NODE_MAP)
        coll->keys[coll->n_items] = key;
    coll->items[coll->n_items++] = value;
    return 0;
}

/* Attaches a finished node to its parent (or makes it the root). */
/* Whether node is an item of the streamed sequence: root map -> key ->
 * sequence -> node. */
static int is_streamed(const parse_state *st)
{
    return st->streamed_seq != NULL && st->depth == 2 &&
           st->stack[1] == st->streamed_seq;
}

/* Whether a sequence opening now is the one to stream: under the root
 * map's key stream->key. */
static int opens_streamed(const parse_state *st, jx__node_kind kind)
{
    return kind == JX__NODE_SEQ && st->stream != NULL &&
           st->stream->key != NULL && st->depth == 1 &&
           st->stack[0]->kind == JX__NODE_MAP && st->pending_key[0] != NULL &&
           strcmp(st->pending_key[0]->text, st->stream->key) == 0;
}

static int attach(parse_state *st, jx__node *node, jx_error *err)
{
    jx__node *parent;
    int rc;

    if (st->depth == 0) {
        /* libyaml gives one root per document and a second document is
         * refused at its start, so there is no root yet; were there one,
         * it would not be leaked. */
        drop_tree(st, st->root);
        st->root = node;
        return 0;
    }
    if (is_streamed(st)) {
        rc = st->stream->on_item(node, st->stream->user, err);
        jx__arena_reset(&st->items); /* the item and all its nodes */
        return rc;
    }
    parent = st->stack[st->depth - 1];
    if (parent->kind == JX__NODE_MAP && st->pending_key[st->depth - 1] == NULL) {
        if (node->kind != JX__NODE_SCALAR) {
            rc = fail_at(err, st->name, node->line, node->col, JX_EPLAN,
                             "a mapping key must be a plain value");
            drop_tree(st, node);
            return rc;
        }
        st->pending_key[st->depth - 1] = node;
        return 0;
    }
    rc = push_item(st, parent, st->pending_key[st->depth - 1], node);
    if (rc != 0) {
        unsigned line = node->line, col = node->col;
        drop_tree(st, node);
        if (rc == -2)
            return jx__budget_refusal(st->budget, err, st->name, line, col);
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", st->name);
    }
    st->pending_key[st->depth - 1] = NULL;
    return 0;
}

static int count_node(parse_state *st, const yaml_mark_t *mark, jx_error *err)
{
    if (++st->n_nodes > st->limits->max_nodes) {
        char why[128];
        snprintf(why, sizeof why, "more than %zu values in one document",
                 st->limits->max_nodes);
        return fail_at(err, st->name, (unsigned)mark->line + 1,
                       (unsigned)mark->column + 1, JX_ELIMIT, why);
    }
    return 0;
}

static int open_collection(parse_state *st, jx__node_kind kind,
                           const yaml_event_t *ev, jx_error *err)
{
    jx__node *node;
    const unsigned char *anchor = kind == JX__NODE_MAP
                                      ? ev->data.mapping_start.anchor
                                      : ev->data.sequence_start.anchor;

    if (anchor != NULL)
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_EPLAN,
                       "anchors and aliases are not allowed");
    if (st->depth >= st->limits->max_depth) {
        char why[128];
        snprintf(why, sizeof why, "nesting deeper than %zu levels",
                 st->limits->max_depth);
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_ELIMIT, why);
    }
    if (count_node(st, &ev->start_mark, err) != 0)
        return err != NULL ? err->code : JX_ELIMIT;
    if (st->depth == st->stack_cap) {
        size_t cap = st->stack_cap == 0 ? 8 : st->stack_cap * 2;
        jx__node **stack = realloc(st->stack, cap * sizeof *stack);
        jx__node **pending;
        if (stack == NULL)
            return jx__fail(err, JX_ENOMEM, "%s: out of memory", st->name);
        st->stack = stack;
        pending = realloc(st->pending_key, cap * sizeof *pending);
        if (pending == NULL)
            return jx__fail(err, JX_ENOMEM, "%s: out of memory", st->name);
        st->pending_key = pending;
        st->stack_cap = cap;
    }
    if ((node = node_new(st, kind, &ev->start_mark, 0, err)) == NULL)
        return err != NULL ? err->code : JX_ENOMEM;
    if (opens_streamed(st, kind))
        st->streamed_seq = node;
    st->stack[st->depth] = node;
    st->pending_key[st->depth] = NULL;
    st->depth++;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const jx__node *ka = *(const jx__node *const *)a;
    const jx__node *kb = *(const jx__node *const *)b;
    int c = strcmp(ka->text, kb->text);
    if (c != 0)
        return c;
    return ka->line != kb->line ? (ka->line < kb->line ? -1 : 1)
                                : (ka->col < kb->col ? -1 : ka->col > kb->col);
}

/* Sorting copies of the key pointers keeps the check O(n log n) for maps of
 * any size; the later of two equal keys is the one reported. */
static int check_duplicate_keys(parse_state *st, const jx__node *map,
                                jx_error *err)
{
    jx__node **sorted;
    int rc = 0;

    if (map->n_items < 2)
        return 0;
    sorted = malloc(map->n_items * sizeof *sorted);
    if (sorted == NULL)
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", st->name);
    memcpy(sorted, map->keys, map->n_items * sizeof *sorted);
    qsort(sorted, map->n_items, sizeof *sorted, key_cmp);
    for (size_t i = 1; i < map->n_items; i++) {
        if (strcmp(sorted[i - 1]->text, sorted[i]->text) == 0) {
            rc = jx__fail(err, JX_EPLAN, "%s:%u:%u: duplicate key '%s'",
                          st->name, sorted[i]->line, sorted[i]->col,
                          sorted[i]->text);
            break;
        }
    }
    free(sorted);
    return rc;
}

static int close_collection(parse_state *st, jx_error *err)
{
    jx__node *node;
    int rc = 0;

    if (st->depth == 0) /* libyaml balances its events; never trust it */
        return jx__fail(err, JX_EINTERNAL, "%s: unbalanced YAML events",
                        st->name);
    node = st->stack[--st->depth];

    if (node->kind == JX__NODE_MAP)
        rc = check_duplicate_keys(st, node, err);
    if (rc != 0) {
        drop_tree(st, node);
        return rc;
    }
    return attach(st, node, err);
}

static int add_scalar(parse_state *st, const yaml_event_t *ev, jx_error *err)
{
    jx__node *node;
    size_t len = ev->data.scalar.length;

    if (ev->data.scalar.anchor != NULL)
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_EPLAN,
                       "anchors and aliases are not allowed");
    if (len > st->limits->max_scalar) {
        char why[128];
        snprintf(why, sizeof why, "a value longer than %zu bytes",
                 st->limits->max_scalar);
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_ELIMIT, why);
    }
    if (count_node(st, &ev->start_mark, err) != 0)
        return err != NULL ? err->code : JX_ELIMIT;
    if (memchr(ev->data.scalar.value, '\0', len) != NULL)
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_EPLAN,
                       "a value contains a NUL character");
    node = node_new(st, JX__NODE_SCALAR, &ev->start_mark, len, err);
    if (node == NULL)
        return err != NULL ? err->code : JX_ENOMEM;
    memcpy(node->text, ev->data.scalar.value, len);
    node->text[len] = '\0';
    node->text_len = len;
    node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                   (ev->data.scalar.tag != NULL &&
                    strcmp((const char *)ev->data.scalar.tag,
                           YAML_STR_TAG) == 0);
    return attach(st, node, err);
}

/* libyaml reports a bad byte (invalid UTF-8, a control character) as an
 * offset, not as a mark: count lines and characters up to it. */
static yaml_mark_t mark_at_offset(const char *text, size_t len, size_t offset)
{
    yaml_mark_t m = {offset, 0, 0};

    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            m.line++;
            m.column = 0;
        } else if ((c & 0xC0) != 0x80) { /* not a continuation byte */
            m.column++;
        }
    }
    return m;
}

static int parser_error(const parse_state *st, const yaml_parser_t *p,
                        const char *text, size_t len, jx_error *err)
{
    yaml_mark_t at = p->problem != NULL ? p->problem_mark : p->mark;
    char started[64] = "";

    if (p->error == YAML_READER_ERROR)
        at = mark_at_offset(text, len, p->problem_offset);
    /* An unclosed quote or bracket is reported where the file ends; say
     * where it opened, which is what needs fixing. */
    if (p->context != NULL && (p->context_mark.line != at.line ||
                               p->context_mark.column != at.column))
        snprintf(started, sizeof started, " started at %zu:%zu",
                 p->context_mark.line + 1, p->context_mark.column + 1);
    return jx__fail(err, JX_EPLAN, "%s:%zu:%zu: %s%s%s%s", st->name,
                    at.line + 1, at.column + 1,
                    p->problem != NULL ? p->problem : "malformed YAML",
                    p->context != NULL ? " " : "",
                    p->context != NULL ? p->context : "", started);
}

static int handle_event(parse_state *st, const yaml_event_t *ev,
                        int *n_docs, jx_error *err)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*n_docs > 1)
            return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                           (unsigned)ev->start_mark.column + 1, JX_EPLAN,
                           "more than one document");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(err, st->name, (unsigned)ev->start_mark.line + 1,
                       (unsigned)ev->start_mark.column + 1, JX_EPLAN,
                       "anchors and aliases are not allowed");
    case YAML_SCALAR_EVENT:
        return add_scalar(st, ev, err);
    case YAML_SEQUENCE_START_EVENT:
        return open_collection(st, JX__NODE_SEQ, ev, err);
    case YAML_MAPPING_START_EVENT:
        return open_collection(st, JX__NODE_MAP, ev, err);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return close_collection(st, err);
    default:
        return 0;
    }
}

int jx__yaml_parse(const char *text, size_t len, const char *name,
                   const jx__doc_limits *limits, jx__node **root,
                   jx_error *err)
{
    return jx__yaml_parse_stream(text, len, name, limits, NULL, root, err);
}

int jx__yaml_parse_stream(const char *text, size_t len, const char *name,
                          const jx__doc_limits *limits,
                          const jx__stream *stream, jx__node **root,
                          jx_error *err)
{
    parse_state st = {.name = name, .limits = limits, .stream = stream,
                      .budget = stream != NULL ? stream->budget : NULL};

    st.items.budget = st.budget;
    yaml_parser_t parser;
    int n_docs = 0, rc = 0, done = 0;

    *root = NULL;
    if (len > limits->max_bytes)
        return jx__fail(err, JX_ELIMIT, "%s: larger than the limit of %zu bytes",
                        name, limits->max_bytes);
    if (!yaml_parser_initialize(&parser))
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&st, &parser, text, len, err);
            break;
        }
        rc = handle_event(&st, &ev, &n_docs, err);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (st.depth > 0) {
        st.depth--;
        drop_tree(&st, st.pending_key[st.depth]);
        drop_tree(&st, st.stack[st.depth]);
    }
    free(st.stack);
    free(st.pending_key);
    jx__arena_free(&st.items);
    if (rc != 0) {
        drop_tree(&st, st.root);
        return rc;
    }
    if (st.root == NULL)
        return jx__fail(err, JX_EPLAN, "%s:1:1: the document is empty", name);
    *root = st.root;
    return 0;
}

int (jx__node_fail)(jx_error *err, int code, const char *name,
                    const jx__node *n, const char *fmt, ...)
{
    char why[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return jx__fail(err, code, "%s:%u:%u: %s", name, n->line, n->col, why);
}

int jx__check_keys(const jx__node *map, const char *const *allowed,
                   const char *name, const char *where, int code,
                   jx_error *err)
{
    for (size_t i = 0; i < map->n_items; i++) {
        const char *key = map->keys[i]->text;
        size_t k = 0;
        while (allowed[k] != NULL && strcmp(allowed[k], key) != 0)
            k++;
        if (allowed[k] == NULL)
            return jx__node_fail(err, code, name, map->keys[i],
                                 "unknown key '%s' in %s", key, where);
    }
    return 0;
}

const jx__node *jx__map_get(const jx__node *map, const char *key)
{
    if (map == NULL || map->kind != JX__NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n_items; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

const char *jx__node_kind_name(const jx__node *node)
{
    switch (node->kind) {
    case JX__NODE_MAP:
        return "a mapping";
    case JX__NODE_SEQ:
        return "a sequence";
    default:
        return "a scalar";
    }
}

static int is_null_word(const char *s)
{
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int bool_word(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
        strcmp(s, "TRUE") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
        strcmp(s, "FALSE") == 0)
        return 0;
    return -1;
}

/* 1: an integer in range; 0: not integer-shaped; -1: out of range. */
static int parse_integer(const char *s, long long *out)
{
    const char *p = s;
    char *end;

    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != '\0')
        return 0;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == ERANGE ? -1 : 1;
}

static int parse_float(const char *s, double *out)
{
    const char *p = s;
    char *end;
    int digits = 0;

    /* Only the decimal shapes of YAML's core schema: strtod alone would also
     * take "inf", "nan" and hex floats. */
    if (*p == '-' || *p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (digits == 0)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return errno == ERANGE ? -1 : 1;
}

/* What a scalar is under YAML's core schema, with its value. */
typedef enum {
    SCALAR_STRING, SCALAR_NULL, SCALAR_BOOL, SCALAR_INT, SCALAR_FLOAT,
    SCALAR_INT_RANGE, SCALAR_FLOAT_RANGE /* number-shaped, out of range */
} scalar_type;

typedef struct scalar_value {
    long long i; /* SCALAR_INT, and SCALAR_BOOL as 0/1 */
    double d;    /* SCALAR_FLOAT */
} scalar_value;

static scalar_type type_scalar(const jx__node *node, scalar_value *v)
{
    int b, r;

    if (node->quoted)
        return SCALAR_STRING;
    /* Most plain scalars are words that begin like no null, boolean or
     * number: say so before a dozen comparisons. */
    if (node->text_len > 0 &&
        strchr("~nNtTfF+-.0123456789", node->text[0]) == NULL)
        return SCALAR_STRING;
    if (is_null_word(node->text))
        return SCALAR_NULL;
    if ((b = bool_word(node->text)) >= 0) {
        v->i = b;
        return SCALAR_BOOL;
    }
    if ((r = parse_integer(node->text, &v->i)) != 0)
        return r < 0 ? SCALAR_INT_RANGE : SCALAR_INT;
    if ((r = parse_float(node->text, &v->d)) != 0)
        return r < 0 ? SCALAR_FLOAT_RANGE : SCALAR_FLOAT;
    return SCALAR_STRING;
}

int jx__node_is_string(const jx__node *node)
{
    scalar_value v;
    return node->kind == JX__NODE_SCALAR &&
           type_scalar(node, &v) == SCALAR_STRING;
}

/* The refusal of a scalar that JSON cannot hold; returns JX_EPLAN. */
static int scalar_refusal(const jx__node *node, scalar_type t,
                          const char *name, jx_error *err)
{
    const char *why = t == SCALAR_INT_RANGE     ? "integer out of range"
                      : t == SCALAR_FLOAT_RANGE ? "number out of range"
                                                : "not valid UTF-8 text";

    if (t == SCALAR_STRING)
        return jx__fail(err, JX_EPLAN, "%s:%u:%u: %s", name, node->line,
                        node->col, why);
    return jx__fail(err, JX_EPLAN, "%s:%u:%u: %s: %s", name, node->line,
                    node->col, why, node->text);
}

static json_t *scalar_to_json(const jx__node *node, const char *name,
                              jx_error *err)
{
    scalar_value v;
    scalar_type t = type_scalar(node, &v);
    json_t *out = NULL;

    switch (t) {
    case SCALAR_NULL: return json_null();
    case SCALAR_BOOL: return json_boolean(v.i);
    case SCALAR_INT: return json_integer(v.i);
    case SCALAR_FLOAT: return json_real(v.d);
    case SCALAR_STRING:
        out = json_stringn(node->text, node->text_len);
        break;
    default:
        break;
    }
    if (out == NULL)
        scalar_refusal(node, t, name, err);
    return out;
}

json_t *jx__node_to_json(const jx__node *node, const char *name,
                         jx_error *err)
{
    json_t *out;

    if (node->kind == JX__NODE_SCALAR)
        return scalar_to_json(node, name, err);
    out = node->kind == JX__NODE_MAP ? json_object() : json_array();
    if (out == NULL) {
        jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    for (size_t i = 0; i < node->n_items; i++) {
        json_t *child = jx__node_to_json(node->items[i], name, err);
        int rc;
        if (child == NULL) {
            json_decref(out);
            return NULL;
        }
        rc = node->kind == JX__NODE_MAP
                 ? json_object_set_new(out, node->keys[i]->text, child)
                 : json_array_append_new(out, child);
        if (rc != 0) {
            json_decref(out);
            if (node->kind == JX__NODE_MAP &&
                !jx__utf8_valid(node->keys[i]->text))
                jx__fail(err, JX_EPLAN, "%s:%u:%u: key is not valid UTF-8",
                         name, node->keys[i]->line, node->keys[i]->col);
            else
                jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
            return NULL;
        }
    }
    return out;
}

static int put_scalar(jx__buf *b, const jx__node *node, const char *name,
                      jx_error *err)
{
    scalar_value v;
    scalar_type t = type_scalar(node, &v);
    int rc;

    switch (t) {
    case SCALAR_NULL: rc = jx__buf_append(b, "null", 4); break;
    case SCALAR_BOOL:
        rc = v.i ? jx__buf_append(b, "true", 4) : jx__buf_append(b, "false", 5);
        break;
    case SCALAR_INT: rc = jx__buf_put_i64(b, v.i); break;
    case SCALAR_FLOAT: rc = jx__buf_put_real(b, v.d); break;
    case SCALAR_STRING:
        rc = jx__buf_put_utf8(b, node->text, node->text_len);
        if (rc != JX__BUF_NOT_UTF8)
            break;
        /* fall through */
    default:
        return scalar_refusal(node, t, name, err);
    }
    return rc == 0 ? 0 : jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
}

/* Refusals come in the order jx__node_to_json() gives them: a value's
 * before its key's. */
static int put_node(jx__buf *b, const jx__node *node, const char *name,
                    jx_error *err)
{
    int map = node->kind == JX__NODE_MAP;

    if (node->kind == JX__NODE_SCALAR)
        return put_scalar(b, node, name, err);
    if (jx__buf_append(b, map ? "{" : "[", 1) != 0)
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < node->n_items; i++) {
        const jx__node *key = map ? node->keys[i] : NULL;
        int key_rc = 0, rc;

        if (i > 0 && jx__buf_append(b, ",", 1) != 0)
            return jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
        if (key != NULL &&
            (key_rc = jx__buf_put_utf8(b, key->text, key->text_len)) == 0 &&
            jx__buf_append(b, ":", 1) != 0)
            key_rc = -1;
        if ((rc = put_node(b, node->items[i], name, err)) != 0)
            return rc;
        if (key_rc == JX__BUF_NOT_UTF8)
            return jx__fail(err, JX_EPLAN, "%s:%u:%u: key is not valid UTF-8",
                            name, key->line, key->col);
        if (key_rc != 0)
            return jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
    }
    if (jx__buf_append(b, map ? "}" : "]", 1) != 0)
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", name);
    return 0;
}

int jx__node_put_json(jx__buf *b, const jx__node *node, const char *name,
                      jx_error *err)
{
    size_t start = b->len;
    int rc = put_node(b, node, name, err);

    if (rc != 0) {
        b->len = start;
        if (b->data != NULL)
            b->data[start] = '\0';
    }
    return rc;
}

int jx__node_int(const jx__node *node, const char *name, const char *what,
                 long long *out, jx_error *err)
{
    int r = node->kind == JX__NODE_SCALAR && !node->quoted
                ? parse_integer(node->text, out)
                : 0;

    if (r == 0)
        return jx__fail(err, JX_EPLAN, "%s:%u:%u: %s must be an integer", name,
                        node->line, node->col, what);
    if (r < 0) /* still a number: let the caller's range check name it */
        *out = node->text[0] == '-' ? LLONG_MIN : LLONG_MAX;
    return 0;
}

int jx__node_number(const jx__node *node, const char *name, const char *what,
                    double *out, jx_error *err)
{
    int r = node->kind == JX__NODE_SCALAR && !node->quoted
                ? parse_float(node->text, out)
                : 0;

    if (r == 0)
        return jx__fail(err, JX_EPLAN, "%s:%u:%u: %s must be a number", name,
                        node->line, node->col, what);
    return 0; /* out of range: *out is strtod's, for the caller to refuse */
}
