/*
 * yamldoc.h - YAML (and so JSON) documents read into a small tree that
 * remembers where each node stood, with limits enforced while parsing.
 */
#ifndef JX__INPUT_YAMLDOC_H
#define JX__INPUT_YAMLDOC_H

#include <stddef.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/common.h"
#include "base/jsonbuf.h"

typedef enum { JX__NODE_SCALAR, JX__NODE_MAP, JX__NODE_SEQ } jx__node_kind;

typedef struct jx__node {
    jx__node_kind kind;
    unsigned line, col; /* 1-based position of the node's first character */
    /* Scalars: the text (NUL-terminated) and whether it was quoted, which
     * decides typing: a quoted "42" stays a string. */
    char *text;
    size_t text_len;
    int quoted;
    /* Nodes of a streamed item live in the parser's arena, freed with it:
     * jx__node_free() leaves them alone. */
    int in_arena;
    /* Maps: keys[i] -> items[i]; sequences: items only.  Keys are scalars. */
    struct jx__node **keys;
    struct jx__node **items;
    size_t n_items;
    size_t cap; /* allocated length of keys/items */
} jx__node;

/* Bounds enforced while parsing, before memory can run out. */
typedef struct jx__doc_limits {
    size_t max_bytes;  /* whole document */
    size_t max_depth;  /* nested maps and sequences */
    size_t max_scalar; /* one scalar's length */
    size_t max_nodes;  /* all nodes */
} jx__doc_limits;

extern const jx__doc_limits jx__default_limits;

/*
 * Parses one YAML document.  Aliases, anchors on collections, more than one
 * document and duplicate keys are refused.  name prefixes every message:
 * "NAME:LINE:COL: reason".  *root is the caller's to jx__node_free().
 */
int jx__yaml_parse(const char *text, size_t len, const char *name,
                   const jx__doc_limits *limits, jx__node **root,
                   jx_error *err);

/*
 * Streams the items of one top-level sequence instead of keeping them: each
 * item of the sequence under root key `key` is handed to on_item as soon as
 * it is complete, then freed, so a plan's steps never all exist as a tree.
 * The sequence itself stays in the tree, empty.  A non-zero return from
 * on_item stops parsing with that code (err already filled).
 */
typedef struct jx__stream {
    const char *key; /* NULL: no sequence is streamed */
    int (*on_item)(const jx__node *item, void *user, jx_error *err);
    void *user;
    /* Nodes alive at once are charged to it, and a node past its limit
     * is refused where it stands (JX_ELIMIT, jx__budget_refusal()).  May
     * be NULL. */
    jx__budget *budget;
} jx__stream;

int jx__yaml_parse_stream(const char *text, size_t len, const char *name,
                          const jx__doc_limits *limits,
                          const jx__stream *stream, jx__node **root,
                          jx_error *err);

void jx__node_free(jx__node *node);

/* The value under key in a map, or NULL. */
const jx__node *jx__map_get(const jx__node *map, const char *key);

/* "map", "sequence" or "scalar", for messages. */
const char *jx__node_kind_name(const jx__node *node);

/*
 * Converts a node to JSON.  Plain scalars are typed as YAML's core schema
 * does (null, true/false, integers, floats); quoted ones stay strings.
 * Returns NULL with err filled on failure.
 */
json_t *jx__node_to_json(const jx__node *node, const char *name,
                         jx_error *err);

/* Whether node is a scalar that reads as a string (quoted, or plain and
 * neither null, a boolean nor a number). */
int jx__node_is_string(const jx__node *node);

/*
 * Appends a node as compact JSON text, byte for byte what
 * jx__node_to_json() and jansson's compact dump would give, with the same
 * refusals, but without building the tree.  On failure nothing is
 * appended.
 */
int jx__node_put_json(jx__buf *b, const jx__node *node, const char *name,
                      jx_error *err);

/* Fails with "NAME:LINE:COL: reason" at node n; returns code. */
int jx__node_fail(jx_error *err, int code, const char *name,
                  const jx__node *n, const char *fmt, ...) JX__PRINTF(5, 6);
#ifdef __clang_analyzer__
/* As jx__fail() in base/common.h: the analyzer learns that it returns
 * code (yamldoc.c defines it as (jx__node_fail)). */
#define jx__node_fail(err, code, name, n, ...)                                \
    (jx__node_fail((err), (code), (name), (n), __VA_ARGS__), (code))
#endif

/* Refuses (with code) the first key of map not in allowed, a NULL-terminated
 * list: "unknown key 'K' in WHERE". */
int jx__check_keys(const jx__node *map, const char *const *allowed,
                   const char *name, const char *where, int code,
                   jx_error *err);

/* Reads an integer scalar; JX_EPLAN with err filled when it is not one.
 * One beyond 64 bits is clamped to LLONG_MIN/LLONG_MAX, so that the
 * caller's range check gives the reason. */
int jx__node_int(const jx__node *node, const char *name, const char *what,
                 long long *out, jx_error *err);

/* Reads a number scalar of the decimal shapes parameters are typed by
 * (integers and floats; never "inf", "nan" or hex); JX_EPLAN with err
 * filled ("WHAT must be a number") when it is not one.  One beyond a
 * double's range reads as strtod() gives it (+-HUGE_VAL, or nearly 0), so
 * that the caller's range check gives the reason. */
int jx__node_number(const jx__node *node, const char *name, const char *what,
                    double *out, jx_error *err);

#endif
