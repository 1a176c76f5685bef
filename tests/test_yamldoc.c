/*
 * test_yamldoc.c - the YAML reader under plans and configs: positions of
 * nodes, scalar typing, the refusals (aliases, anchors, several documents,
 * duplicate keys) and the limits checked while parsing, each failure with
 * its exact "NAME:LINE:COL: reason" message.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "input/yamldoc.h"

#define NAME "doc.yaml"

/* ---- per-test state ----------------------------------------------------- */

/* What a test parses lives here, so that the teardown frees it even when
 * an assertion ends the test early. */
typedef struct fixture {
    jx__node *root;
    json_t *json;
    json_t *expected;
    char *text;
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx__node_free(f->root);
    json_decref(f->json);
    json_decref(f->expected);
    free(f->text);
    free(f);
    return 0;
}

/* The default limits with one of them made small, so that it is reached
 * with a few bytes. */
static jx__doc_limits limits_with(size_t max_bytes, size_t max_depth,
                                  size_t max_scalar, size_t max_nodes)
{
    jx__doc_limits l = jx__default_limits;
    if (max_bytes != 0)
        l.max_bytes = max_bytes;
    if (max_depth != 0)
        l.max_depth = max_depth;
    if (max_scalar != 0)
        l.max_scalar = max_scalar;
    if (max_nodes != 0)
        l.max_nodes = max_nodes;
    return l;
}

/* Parses len bytes of text with limits; the result stays in f. */
static int parse_n(fixture *f, const char *text, size_t len,
                   const jx__doc_limits *limits)
{
    jx__node_free(f->root);
    f->root = NULL;
    memset(&f->err, 0, sizeof f->err);
    return jx__yaml_parse(text, len, NAME, limits, &f->root, &f->err);
}

static const jx__node *parse_ok(fixture *f, const char *text)
{
    int rc = parse_n(f, text, strlen(text), &jx__default_limits);
    if (rc != 0)
        fail_msg("unexpected failure: %s", f->err.message);
    assert_non_null(f->root);
    return f->root;
}

/* Asserts that parsing fails with code and exactly message. */
static void parse_fails_n(fixture *f, const char *text, size_t len,
                          const jx__doc_limits *limits, int code,
                          const char *message)
{
    int rc = parse_n(f, text, len, limits);
    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
    assert_string_equal(f->err.message, message);
    assert_null(f->root);
}

/* The same for a text without NUL bytes. */
static int parse_lim(fixture *f, const char *text,
                     const jx__doc_limits *limits)
{
    return parse_n(f, text, strlen(text), limits);
}

static void fails_lim(fixture *f, const char *text,
                      const jx__doc_limits *limits, int code,
                      const char *message)
{
    parse_fails_n(f, text, strlen(text), limits, code, message);
}

static void parse_fails(fixture *f, const char *text, int code,
                        const char *message)
{
    parse_fails_n(f, text, strlen(text), &jx__default_limits, code, message);
}

/* The whole document converted to JSON; asserts success. */
static json_t *to_json_ok(fixture *f, const char *text)
{
    const jx__node *root = parse_ok(f, text);
    json_decref(f->json);
    f->json = jx__node_to_json(root, NAME, &f->err);
    if (f->json == NULL)
        fail_msg("unexpected failure: %s", f->err.message);
    return f->json;
}

static void assert_at(const jx__node *n, jx__node_kind kind, unsigned line,
                      unsigned col)
{
    assert_non_null(n);
    assert_int_equal(n->kind, kind);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

static void assert_scalar(const jx__node *n, const char *text, int quoted,
                          unsigned line, unsigned col)
{
    assert_at(n, JX__NODE_SCALAR, line, col);
    assert_string_equal(n->text, text);
    assert_int_equal(n->text_len, strlen(text));
    assert_int_equal(n->quoted, quoted);
}

/* A flow document nested depth levels deep: "[[[ ... ]]]". */
static char *nested_flow(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

/* ---- positions ---------------------------------------------------------- */

static const char positions_doc[] = "top:\n"
                                    "  key: value\n"
                                    "  list:\n"
                                    "    - one\n"
                                    "    - \"two\"\n"
                                    "flow: {a: [1, 'x y']}\n";

static void test_positions_block(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, positions_doc);
    const jx__node *top, *list;

    assert_at(root, JX__NODE_MAP, 1, 1);
    assert_int_equal(root->n_items, 2);
    assert_scalar(root->keys[0], "top", 0, 1, 1);
    assert_scalar(root->keys[1], "flow", 0, 6, 1);

    top = jx__map_get(root, "top");
    assert_at(top, JX__NODE_MAP, 2, 3);
    assert_int_equal(top->n_items, 2);
    assert_scalar(top->keys[0], "key", 0, 2, 3);
    assert_scalar(jx__map_get(top, "key"), "value", 0, 2, 8);
    assert_scalar(top->keys[1], "list", 0, 3, 3);

    list = jx__map_get(top, "list");
    assert_at(list, JX__NODE_SEQ, 4, 5);
    assert_null(list->keys);
    assert_int_equal(list->n_items, 2);
    assert_scalar(list->items[0], "one", 0, 4, 7);
    assert_scalar(list->items[1], "two", 1, 5, 7);
}

static void test_positions_flow(void **state)
{
    fixture *f = *state;
    const jx__node *flow, *seq;

    flow = jx__map_get(parse_ok(f, positions_doc), "flow");
    assert_at(flow, JX__NODE_MAP, 6, 7);
    assert_scalar(flow->keys[0], "a", 0, 6, 8);
    seq = jx__map_get(flow, "a");
    assert_at(seq, JX__NODE_SEQ, 6, 11);
    assert_int_equal(seq->n_items, 2);
    assert_scalar(seq->items[0], "1", 0, 6, 12);
    assert_scalar(seq->items[1], "x y", 1, 6, 15);
}

/* Columns count characters, not bytes: "é" is two bytes, one column. */
static void test_positions_count_characters(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, "\xc3\xa9t\xc3\xa9: [a, b]\n");
    const jx__node *seq = jx__map_get(root, "\xc3\xa9t\xc3\xa9");

    assert_at(seq, JX__NODE_SEQ, 1, 6);
    assert_scalar(seq->items[1], "b", 0, 1, 10);
}

/* ---- map lookups -------------------------------------------------------- */

static void test_map_get(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, "a: 1\nb: [2]\nc:\n");

    assert_scalar(jx__map_get(root, "a"), "1", 0, 1, 4);
    assert_at(jx__map_get(root, "b"), JX__NODE_SEQ, 2, 4);
    /* "c:" with nothing after it: an empty plain scalar, not absent. */
    assert_scalar(jx__map_get(root, "c"), "", 0, 3, 3);
    assert_null(jx__map_get(root, "d"));
    assert_null(jx__map_get(root, "A"));
    /* Not a map: nothing to find. */
    assert_null(jx__map_get(jx__map_get(root, "b"), "a"));
    assert_null(jx__map_get(jx__map_get(root, "a"), "a"));
    assert_null(jx__map_get(NULL, "a"));
}

static void test_kind_names(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, "a: 1\nb: [2]\n");

    assert_string_equal(jx__node_kind_name(root), "a mapping");
    assert_string_equal(jx__node_kind_name(jx__map_get(root, "a")),
                        "a scalar");
    assert_string_equal(jx__node_kind_name(jx__map_get(root, "b")),
                        "a sequence");
}

/* ---- scalar typing ------------------------------------------------------ */

static void test_typing_quoted_stays_string(void **state)
{
    fixture *f = *state;
    json_t *j = to_json_ok(f, "a: \"42\"\nb: '42'\nc: \"true\"\n"
                              "d: 'null'\ne: \"\"\nf: !!str 42\n");

    assert_true(json_is_object(j));
    assert_string_equal(json_string_value(json_object_get(j, "a")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "b")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "c")), "true");
    assert_string_equal(json_string_value(json_object_get(j, "d")), "null");
    assert_string_equal(json_string_value(json_object_get(j, "e")), "");
    assert_string_equal(json_string_value(json_object_get(j, "f")), "42");
}

static void test_typing_plain_scalars(void **state)
{
    fixture *f = *state;
    json_t *j = to_json_ok(
        f, "int: 42\nneg: -7\npos: +7\nzero: 0\n"
           "max: 9223372036854775807\nmin: -9223372036854775808\n"
           "t: true\nT: True\nf: false\nF: FALSE\n"
           "n1: null\nn2: ~\nn3:\nn4: NULL\n"
           "fl: 2.5\nexp: -1.5e3\nhalf: .5\n"
           "word: hello\nmixed: 42abc\ninf: .inf\n");

    assert_true(json_is_integer(json_object_get(j, "int")));
    assert_int_equal(json_integer_value(json_object_get(j, "int")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "neg")), -7);
    assert_int_equal(json_integer_value(json_object_get(j, "pos")), 7);
    assert_true(json_is_integer(json_object_get(j, "zero")));
    assert_true(json_integer_value(json_object_get(j, "max")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(j, "min")) == INT64_MIN);
    assert_true(json_is_true(json_object_get(j, "t")));
    assert_true(json_is_true(json_object_get(j, "T")));
    assert_true(json_is_false(json_object_get(j, "f")));
    assert_true(json_is_false(json_object_get(j, "F")));
    assert_true(json_is_null(json_object_get(j, "n1")));
    assert_true(json_is_null(json_object_get(j, "n2")));
    assert_true(json_is_null(json_object_get(j, "n3")));
    assert_true(json_is_null(json_object_get(j, "n4")));
    assert_true(json_is_real(json_object_get(j, "fl")));
    assert_true(json_real_value(json_object_get(j, "fl")) == 2.5);
    assert_true(json_real_value(json_object_get(j, "exp")) == -1500.0);
    assert_true(json_real_value(json_object_get(j, "half")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(j, "word")),
                        "hello");
    assert_string_equal(json_string_value(json_object_get(j, "mixed")),
                        "42abc");
    /* Only decimal shapes are numbers. */
    assert_string_equal(json_string_value(json_object_get(j, "inf")), ".inf");
}

static void test_typing_integer_out_of_range(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, "a: 1\nb: [2, 9223372036854775808]\n");

    f->json = jx__node_to_json(root, NAME, &f->err);
    assert_null(f->json);
    assert_int_equal(f->err.code, JX_EPLAN);
    assert_string_equal(f->err.message,
                        NAME ":2:8: integer out of range: "
                             "9223372036854775808");

    root = parse_ok(f, "-9223372036854775809\n");
    f->json = jx__node_to_json(root, NAME, &f->err);
    assert_null(f->json);
    assert_string_equal(f->err.message,
                        NAME ":1:1: integer out of range: "
                             "-9223372036854775809");
}

static void test_typing_float_out_of_range(void **state)
{
    fixture *f = *state;
    const jx__node *root = parse_ok(f, "x:\n  y: 1e999\n");

    f->json = jx__node_to_json(root, NAME, &f->err);
    assert_null(f->json);
    assert_int_equal(f->err.code, JX_EPLAN);
    assert_string_equal(f->err.message,
                        NAME ":2:6: number out of range: 1e999");
}

/* Map keys keep document order in the JSON object. */
static void test_typing_key_order(void **state)
{
    fixture *f = *state;
    json_t *j = to_json_ok(f, "zeta: 1\nalpha: 2\nmid: 3\n");
    const char *want[] = {"zeta", "alpha", "mid"};
    size_t i = 0;

    for (void *it = json_object_iter(j); it != NULL;
         it = json_object_iter_next(j, it))
        assert_string_equal(json_object_iter_key(it), want[i++]);
    assert_int_equal(i, 3);
}

/* ---- jx__node_int ------------------------------------------------------- */

static void test_node_int(void **state)
{
    fixture *f = *state;
    const jx__node *root =
        parse_ok(f, "a: 17\nb: -3\nc: \"5\"\nd: 5x\ne: [1]\nf: 1.0\n"
                    "g: 99999999999999999999\n");
    long long v = 0;

    assert_int_equal(jx__node_int(jx__map_get(root, "a"), NAME, "a", &v,
                                  &f->err), 0);
    assert_int_equal(v, 17);
    assert_int_equal(jx__node_int(jx__map_get(root, "b"), NAME, "b", &v,
                                  &f->err), 0);
    assert_int_equal(v, -3);

    assert_int_equal(jx__node_int(jx__map_get(root, "c"), NAME, "count", &v,
                                  &f->err), JX_EPLAN);
    assert_int_equal(f->err.code, JX_EPLAN);
    assert_string_equal(f->err.message,
                        NAME ":3:4: count must be an integer");
    jx__node_int(jx__map_get(root, "d"), NAME, "count", &v, &f->err);
    assert_string_equal(f->err.message,
                        NAME ":4:4: count must be an integer");
    jx__node_int(jx__map_get(root, "e"), NAME, "count", &v, &f->err);
    assert_string_equal(f->err.message,
                        NAME ":5:4: count must be an integer");
    jx__node_int(jx__map_get(root, "f"), NAME, "count", &v, &f->err);
    assert_string_equal(f->err.message,
                        NAME ":6:4: count must be an integer");
    /* Beyond 64 bits it is still a number: clamped, so that the caller's
     * range check names the range rather than the type. */
    assert_int_equal(jx__node_int(jx__map_get(root, "g"), NAME, "count", &v,
                                  &f->err), 0);
    assert_true(v == LLONG_MAX);
}

/* ---- refusals ----------------------------------------------------------- */

static void test_alias_refused(void **state)
{
    fixture *f = *state;
    /* An alias naming no anchor is still refused where it stands. */
    parse_fails(f, "a: [1]\nb: *x\n", JX_EPLAN,
                NAME ":2:4: anchors and aliases are not allowed");
    parse_fails(f, "a: [1, 2, *x]\n", JX_EPLAN,
                NAME ":1:11: anchors and aliases are not allowed");
}

static void test_anchor_refused(void **state)
{
    fixture *f = *state;
    /* Anchors alone are refused, on scalars and on collections alike. */
    parse_fails(f, "a: b\nc: &x 1\n", JX_EPLAN,
                NAME ":2:4: anchors and aliases are not allowed");
    parse_fails(f, "a: &m {b: 1}\n", JX_EPLAN,
                NAME ":1:4: anchors and aliases are not allowed");
    parse_fails(f, "list: &s [1]\n", JX_EPLAN,
                NAME ":1:7: anchors and aliases are not allowed");
    parse_fails(f, "a:\n  - 1\n  - &y\n    b: 2\n", JX_EPLAN,
                NAME ":3:5: anchors and aliases are not allowed");
}

static void test_merge_key_refused(void **state)
{
    fixture *f = *state;
    parse_fails(f, "base: &b {x: 1}\nuse:\n  <<: *b\n", JX_EPLAN,
                NAME ":1:7: anchors and aliases are not allowed");
}

static void test_multiple_documents_refused(void **state)
{
    fixture *f = *state;
    parse_fails(f, "a: 1\n---\nb: 2\n", JX_EPLAN,
                NAME ":2:1: more than one document");
    parse_fails(f, "--- a\n--- b\n", JX_EPLAN,
                NAME ":2:1: more than one document");
    parse_fails(f, "a: 1\n...\n---\nb: 2\n", JX_EPLAN,
                NAME ":3:1: more than one document");
    /* One document with its markers is fine. */
    assert_scalar(jx__map_get(parse_ok(f, "---\na: 1\n...\n"), "a"), "1", 0,
                  2, 4);
}

static void test_duplicate_keys_refused(void **state)
{
    fixture *f = *state;
    /* The later key is named, wherever the two stand. */
    parse_fails(f, "a: 1\nb: 2\na: 3\n", JX_EPLAN,
                NAME ":3:1: duplicate key 'a'");
    parse_fails(f, "m:\n  x: 1\n  y: 2\n  x: 3\n", JX_EPLAN,
                NAME ":4:3: duplicate key 'x'");
    parse_fails(f, "{k: 1, j: 2, k: 3}\n", JX_EPLAN,
                NAME ":1:14: duplicate key 'k'");
    /* Quoting does not make a different key. */
    parse_fails(f, "a: 1\n'a': 2\n", JX_EPLAN,
                NAME ":2:1: duplicate key 'a'");
    /* Same key in different maps is fine. */
    assert_non_null(parse_ok(f, "a: {x: 1}\nb: {x: 2}\n"));
}

static void test_duplicate_keys_many(void **state)
{
    fixture *f = *state;
    size_t cap = 2000 * 16, len = 0;

    f->text = malloc(cap);
    assert_non_null(f->text);
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(f->text + len, cap - len, "k%d: %d\n", i, i);
    assert_non_null(parse_ok(f, f->text));
    assert_int_equal(f->root->n_items, 1000);
    /* Line 1001 repeats the key of line 501. */
    len += (size_t)snprintf(f->text + len, cap - len, "k500: x\n");
    parse_fails(f, f->text, JX_EPLAN, NAME ":1001:1: duplicate key 'k500'");
}

static void test_complex_key_refused(void **state)
{
    fixture *f = *state;
    parse_fails(f, "[a]: 1\n", JX_EPLAN,
                NAME ":1:1: a mapping key must be a plain value");
    parse_fails(f, "x: 1\n? {b: c}\n: 2\n", JX_EPLAN,
                NAME ":2:3: a mapping key must be a plain value");
}

static void test_nul_in_value_refused(void **state)
{
    fixture *f = *state;
    parse_fails(f, "a: 1\nb: \"x\\0y\"\n", JX_EPLAN,
                NAME ":2:4: a value contains a NUL character");
}

/* ---- limits ------------------------------------------------------------- */

static void test_depth_limit(void **state)
{
    fixture *f = *state;
    jx__doc_limits l = limits_with(0, 3, 0, 0);

    assert_int_equal(parse_lim(f, "[[[1]]]", &l), 0);
    assert_int_equal(parse_lim(f, "a:\n b:\n  c: 1\n", &l), 0);
    fails_lim(f, "[[[[1]]]]", &l, JX_ELIMIT,
              NAME ":1:4: nesting deeper than 3 levels");
    fails_lim(f, "a:\n b:\n  c:\n   d: 1\n", &l, JX_ELIMIT,
              NAME ":4:4: nesting deeper than 3 levels");
}

static void test_depth_limit_default(void **state)
{
    fixture *f = *state;

    f->text = nested_flow(64);
    assert_int_equal(parse_n(f, f->text, strlen(f->text),
                             &jx__default_limits), 0);
    free(f->text);
    f->text = NULL;
    /* Refused at the opening bracket of level 65, long before the end. */
    f->text = nested_flow(100000);
    parse_fails(f, f->text, JX_ELIMIT,
                NAME ":1:65: nesting deeper than 64 levels");
}

static void test_scalar_limit(void **state)
{
    fixture *f = *state;
    jx__doc_limits l = limits_with(0, 0, 8, 0);

    assert_int_equal(parse_lim(f, "a: 12345678", &l), 0);
    fails_lim(f, "a: 123456789", &l, JX_ELIMIT,
              NAME ":1:4: a value longer than 8 bytes");
    /* Keys are values too. */
    fails_lim(f, "abcdefghi: 1", &l, JX_ELIMIT,
              NAME ":1:1: a value longer than 8 bytes");
}

static void test_node_limit(void **state)
{
    fixture *f = *state;
    jx__doc_limits l = limits_with(0, 0, 0, 5);

    /* The sequence and its four items: five nodes. */
    assert_int_equal(parse_lim(f, "[1, 2, 3, 4]", &l), 0);
    fails_lim(f, "[1, 2, 3, 4, 5]", &l, JX_ELIMIT,
              NAME ":1:14: more than 5 values in one document");
    /* Keys count. */
    fails_lim(f, "{a: 1, b: 2, c}", &l, JX_ELIMIT,
              NAME ":1:14: more than 5 values in one document");
}

static void test_document_size_limit(void **state)
{
    fixture *f = *state;
    jx__doc_limits l = limits_with(16, 0, 0, 0);

    assert_int_equal(parse_lim(f, "a: 1234567890123", &l), 0);
    fails_lim(f, "a: 12345678901234", &l, JX_ELIMIT,
              NAME ": larger than the limit of 16 bytes");
}

/* ---- empty and malformed documents -------------------------------------- */

static void test_empty_document(void **state)
{
    fixture *f = *state;
    parse_fails(f, "", JX_EPLAN, NAME ":1:1: the document is empty");
    parse_fails(f, "# only a comment\n\n", JX_EPLAN,
                NAME ":1:1: the document is empty");
    parse_fails(f, "\n\n   \n", JX_EPLAN, NAME ":1:1: the document is empty");
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    parse_fails(f, "a: [1, 2\n", JX_EPLAN,
                NAME ":2:1: did not find expected ',' or ']' while "
                     "parsing a flow sequence started at 1:4");
    parse_fails(f, "a: {b: 1\n", JX_EPLAN,
                NAME ":2:1: did not find expected ',' or '}' while "
                     "parsing a flow mapping started at 1:4");
    parse_fails(f, "a: b: c\n", JX_EPLAN,
                NAME ":1:5: mapping values are not allowed in this context");
    parse_fails(f, "a:\n\t- 1\n", JX_EPLAN,
                NAME ":2:1: found character that cannot start any token "
                     "while scanning for the next token");
    parse_fails(f, "a: 1\nb: \"open\n", JX_EPLAN,
                NAME ":3:1: found unexpected end of stream while scanning "
                     "a quoted scalar started at 2:4");
    parse_fails(f, "a:\n  - 1\n b: 2\n", JX_EPLAN,
                NAME ":3:2: did not find expected key while parsing a block "
                     "mapping started at 1:1");
}

/*
 * Bytes the reader refuses (bad UTF-8, control characters) are reported at
 * the offending byte, like every other fault, not at the start of the file.
 */
static void test_invalid_utf8_position(void **state)
{
    fixture *f = *state;
    parse_fails(f, "a: b\nc: \xff\n", JX_EPLAN,
                NAME ":2:4: invalid leading UTF-8 octet");
}

static void test_control_character_position(void **state)
{
    fixture *f = *state;
    parse_fails_n(f, "a: b\nc: d\0e\n", 12, &jx__default_limits, JX_EPLAN,
                  NAME ":2:5: control characters are not allowed");
    parse_fails(f, "a: b\nc: d\x01\n", JX_EPLAN,
                NAME ":2:5: control characters are not allowed");
}

/* ---- JSON --------------------------------------------------------------- */

static void test_json_input(void **state)
{
    fixture *f = *state;
    static const char text[] =
        "{\"a\": [1, 2.5, \"x\", true, null],\n"
        " \"b\": {\"c\": -3, \"d\": \"42\", \"e\": {}}, \"f\": []}";
    json_t *j = to_json_ok(f, text);
    const jx__node *b;

    f->expected = json_loads(text, 0, NULL);
    assert_non_null(f->expected);
    assert_true(json_equal(j, f->expected));
    assert_at(f->root, JX__NODE_MAP, 1, 1);
    b = jx__map_get(f->root, "b");
    assert_at(b, JX__NODE_MAP, 2, 7);
    assert_scalar(jx__map_get(b, "d"), "42", 1, 2, 22);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "b"), "d")), "42");
}

static void test_json_duplicate_key(void **state)
{
    fixture *f = *state;
    parse_fails(f, "{\"a\": 1, \"a\": 2}", JX_EPLAN,
                NAME ":1:10: duplicate key 'a'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_positions_block),
        T(test_positions_flow),
        T(test_positions_count_characters),
        T(test_map_get),
        T(test_kind_names),
        T(test_typing_quoted_stays_string),
        T(test_typing_plain_scalars),
        T(test_typing_integer_out_of_range),
        T(test_typing_float_out_of_range),
        T(test_typing_key_order),
        T(test_node_int),
        T(test_alias_refused),
        T(test_anchor_refused),
        T(test_merge_key_refused),
        T(test_multiple_documents_refused),
        T(test_duplicate_keys_refused),
        T(test_duplicate_keys_many),
        T(test_complex_key_refused),
        T(test_nul_in_value_refused),
        T(test_depth_limit),
        T(test_depth_limit_default),
        T(test_scalar_limit),
        T(test_node_limit),
        T(test_document_size_limit),
        T(test_empty_document),
        T(test_malformed),
        T(test_invalid_utf8_position),
        T(test_control_character_position),
        T(test_json_input),
        T(test_json_duplicate_key),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
