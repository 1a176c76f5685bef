/*
 * plan_json.c - the fast reader of JSON plans.
 *
 * The positioned reader (plan.c) drives libyaml, builds a tree per step
 * and reads some 10 MB/s; a 100,000-step plan spent more time there than
 * in running and logging every step.  This reader walks JSON text once,
 * writes each step's strings and compact parameters straight into the
 * plan, and keeps no tree.
 *
 * It never refuses.  Anything it does not take whole (bad JSON, a schema
 * error, a limit, a shape where YAML reads JSON text differently) is
 * declined, and the positioned reader reads the text again: it gives the
 * refusal its line and column, or takes what this one would not.  So
 * every rule here is a rule about when to decline, and for what it
 * takes, it must give exactly what the positioned reader gives: the same
 * strings, the same parameters text byte for byte, the same positions
 * (tests/test_plan_json.c and the plan fuzz target compare the two).
 *
 * Where YAML reads JSON text differently, this reader declines: a raw
 * character libyaml refuses (DEL, C1 controls) or folds (NEL, U+2028,
 * U+2029), escaped surrogates (libyaml refuses even a valid pair), a key
 * longer than libyaml's 1024-character simple keys or broken over lines,
 * tabs outside the root object, a lone CR.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "base/jsonbuf.h"
#include "input/plan_read.h"

#define DECLINE JX__PLAN_DECLINED

/* The positioned reader's limits (plan.c), or a little inside them. */
#define MAX_DEPTH 60            /* it refuses past 64 */
#define MAX_SCALAR (1024 * 1024) /* bytes of a value, unescaped */
#define MAX_NODES (16 * 1024 * 1024)
#define MAX_KEY_SPAN 1000 /* libyaml: a key and its ':' within 1024 chars */
#define MAX_KEYS 64       /* per object, checked for duplicates in place */
#define MAX_NUMBER 64     /* bytes of a number's text */
#define MAX_STEP_INDEX 9007199254740991LL
#define MAX_TIMEOUT_SECONDS (7 * 24 * 3600)

/* A key of an object being read, for the duplicate check. */
typedef struct key_entry {
    size_t off, len; /* in reader.keys */
} key_entry;

/* A top-level parameter of the step being read, for secret_parameters. */
typedef struct param_entry {
    size_t key_off, key_len; /* in reader.keys */
    size_t value_off;        /* in reader.values; SIZE_MAX: not a string */
    size_t value_len;
} param_entry;

typedef struct reader {
    const char *p, *end;
    unsigned line;          /* 1-based line of p */
    const char *col_at;     /* columns are counted up to here ... */
    unsigned col;           /* ... this many, on the current line */
    size_t n_nodes;         /* keys, values and collections, as YAML counts */
    jx_plan *plan;
    jx__buf out;    /* the current step's parameters, compact */
    jx__buf text;   /* one string, unescaped */
    jx__buf keys;   /* unescaped keys of the objects open */
    key_entry *key_stack;
    size_t n_keys, keys_cap;
    jx__buf values; /* string parameters of the current step */
    param_entry params[MAX_KEYS];
    size_t n_top_params;
    /* secret_parameters of the current step: names, unescaped */
    jx__buf secret_names;
    size_t n_secret_names;
    const jx__step *prev; /* the step before the one being read */
    /* Told of the text behind a finished step, which is read no more:
     * what a step keeps is copied into the plan. */
    jx__plan_release_fn *release;
    void *release_user;
    const char *released; /* told up to here */
} reader;

/* Every this many bytes read, the text behind is given back. */
#define RELEASE_BYTES ((size_t)1 << 20)

/* ---- bytes ------------------------------------------------------------- */

static int at_end(const reader *r) { return r->p >= r->end; }

static void new_line(reader *r, const char *start)
{
    r->line++;
    r->col_at = start;
    r->col = 0;
}

/* Skips JSON whitespace; tabs only when allowed (inside the root). */
static int skip_ws(reader *r, int tabs_ok)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == ' ' || (c == '\t' && tabs_ok)) {
            r->p++;
        } else if (c == '\n') {
            new_line(r, ++r->p);
        } else if (c == '\r') {
            if (r->p + 1 >= r->end || r->p[1] != '\n')
                return DECLINE; /* a lone CR: libyaml's line break only */
            r->p += 2;
            new_line(r, r->p);
        } else if (c == '\t') {
            return DECLINE;
        } else {
            break;
        }
    }
    return 0;
}

/* The 1-based column of q on the current line, in characters. */
static unsigned column_of(reader *r, const char *q)
{
    for (; r->col_at < q; r->col_at++)
        if (((unsigned char)*r->col_at & 0xC0) != 0x80)
            r->col++;
    return r->col + 1;
}

static int count_node(reader *r)
{
    return ++r->n_nodes > MAX_NODES ? DECLINE : 0;
}

/* ---- strings ----------------------------------------------------------- */

/* Length of the UTF-8 character at s (n bytes left) when it is one that
 * libyaml reads in a double-quoted scalar as JSON does, else 0. */
static size_t yaml_char(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t len = jx__utf8_decode(s, n, &cp);

    if (len == 0 || (cp >= 0x80 && cp < 0xa0) ||  /* C1 controls, NEL */
        cp == 0x2028 || cp == 0x2029 ||            /* line breaks */
        cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
        return 0;
    return len;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code point of \uXXXX at p (after the backslash and 'u'), or -1. */
static long hex4(const char *p, const char *end)
{
    long v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static int put_code_point(jx__buf *b, long cp)
{
    char u[3];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    return jx__buf_append(b, u, n);
}

/* One escape at p (just after the backslash) appended to b unescaped;
 * its length in *used.  DECLINE for what JSON or libyaml refuse. */
static int unescape_one(reader *r, const char *p, jx__buf *b, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    long cp;

    if (p >= r->end)
        return DECLINE;
    if (*p != 'u') {
        const char *hit;
        if (*p == '\0' || (hit = strchr(from, *p)) == NULL)
            return DECLINE;
        *used = 1;
        return jx__buf_append(b, &to[hit - from], 1) != 0 ? -1 : 0;
    }
    cp = hex4(p + 1, r->end);
    if (cp <= 0 || (cp >= 0xd800 && cp <= 0xdfff))
        return DECLINE; /* NUL ends a value; libyaml refuses surrogates */
    *used = 5;
    return put_code_point(b, cp) != 0 ? -1 : 0;
}

/*
 * Reads the string at r->p (its opening quote).  *raw and *raw_len give
 * its text as written; when it holds escapes (*escaped), the text
 * unescaped is in r->text.  DECLINE, or -1 when out of memory.
 */
static int read_string(reader *r, const char **raw, size_t *raw_len,
                       int *escaped)
{
    const unsigned char *p = (const unsigned char *)++r->p;
    const unsigned char *end = (const unsigned char *)r->end;
    const unsigned char *run = p;

    *escaped = 0;
    r->text.len = 0;
    for (;;) {
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (p >= end)
            return DECLINE;
        if (*p == '"')
            break;
        if (*p == '\\') {
            size_t used = 0;
            int rc;
            if (jx__buf_append(&r->text, (const char *)run,
                               (size_t)(p - run)) != 0)
                return -1;
            rc = unescape_one(r, (const char *)p + 1, &r->text, &used);
            if (rc != 0)
                return rc;
            *escaped = 1;
            p += 1 + used;
            run = p;
        } else if (*p >= 0x80) {
            size_t len = yaml_char(p, (size_t)(end - p));
            if (len == 0)
                return DECLINE;
            p += len;
        } else {
            return DECLINE; /* a raw control character or DEL */
        }
    }
    *raw = r->p;
    *raw_len = (size_t)((const char *)p - r->p);
    if (*escaped && jx__buf_append(&r->text, (const char *)run,
                                   (size_t)(p - run)) != 0)
        return -1;
    if ((*escaped ? r->text.len : *raw_len) > MAX_SCALAR)
        return DECLINE;
    r->p = (const char *)p + 1;
    return count_node(r);
}

/* The string just read, unescaped: its bytes and length. */
static const char *string_text(const reader *r, const char *raw,
                               size_t raw_len, int escaped, size_t *len)
{
    *len = escaped ? r->text.len : raw_len;
    return escaped ? r->text.data : raw;
}

/* The string just read as a JSON literal, as jansson writes it: as
 * written when it has no escapes (its bytes are then all plain), else
 * escaped anew. */
static int put_literal(reader *r, jx__buf *b, const char *raw, size_t raw_len,
                       int escaped)
{
    if (escaped) /* valid UTF-8: read_string saw to it */
        return jx__buf_put_utf8(b, r->text.data, r->text.len) != 0 ? -1 : 0;
    if (jx__buf_grow(b, raw_len + 2) != 0)
        return -1;
    b->data[b->len++] = '"';
    memcpy(b->data + b->len, raw, raw_len);
    b->len += raw_len;
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    return 0;
}

/* A string value at r->p, unescaped: its bytes (in the text or in
 * r->text, until the next string is read) and length.  DECLINE when
 * r->p holds no string: YAML reads a number or word as text. */
static int read_text_value(reader *r, const char **text, size_t *len)
{
    const char *raw;
    size_t raw_len;
    int escaped, rc;

    if (at_end(r) || *r->p != '"')
        return DECLINE;
    if ((rc = read_string(r, &raw, &raw_len, &escaped)) != 0)
        return rc;
    *text = string_text(r, raw, raw_len, escaped, len);
    return 0;
}

/* ---- keys -------------------------------------------------------------- */

/*
 * Reads a key and its colon.  The key, unescaped, is pushed on the key
 * stack, after the keys of its object (from `first`) were checked for a
 * duplicate.
 */
static int read_key(reader *r, size_t first, const char **key,
                    size_t *key_len)
{
    const char *start = r->p;
    unsigned line = r->line;
    size_t len;
    int rc;
    const char *text;
    key_entry *e;

    if ((rc = read_text_value(r, &text, &len)) != 0)
        return rc;
    if (r->n_keys - first >= MAX_KEYS)
        return DECLINE;
    for (size_t i = first; i < r->n_keys; i++)
        if (r->key_stack[i].len == len &&
            memcmp(r->keys.data + r->key_stack[i].off, text, len) == 0)
            return DECLINE; /* a duplicate: the positioned reader says so */
    if (r->n_keys == r->keys_cap) {
        size_t cap = r->keys_cap ? 2 * r->keys_cap : 64;
        key_entry *grown = realloc(r->key_stack, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        r->key_stack = grown;
        r->keys_cap = cap;
    }
    e = &r->key_stack[r->n_keys++];
    e->off = r->keys.len;
    e->len = len;
    if (jx__buf_append(&r->keys, text, len) != 0)
        return -1;
    if ((rc = skip_ws(r, 1)) != 0)
        return rc;
    if (at_end(r) || *r->p != ':' || r->line != line ||
        r->p - start > MAX_KEY_SPAN)
        return DECLINE;
    r->p++;
    *key = r->keys.data + e->off;
    *key_len = len;
    return skip_ws(r, 1);
}

/* Forgets the keys of an object just closed. */
static void pop_keys(reader *r, size_t first)
{
    if (first < r->n_keys) {
        r->keys.len = r->key_stack[first].off;
        r->n_keys = first;
    }
}

/* A copy of len bytes in the plan's arena: -1 when out of memory,
 * DECLINE past the budget (the positioned reader refuses it, with its
 * position). */
static int keep(reader *r, const char *text, size_t len, const char **out)
{
    int rc = jx__plan_keep(r->plan, text, len, out, NULL);

    return rc == 0 ? 0 : rc == JX_ENOMEM ? -1 : DECLINE;
}

/* ---- collections ---------------------------------------------------- */

/* What open_items and next_item say when the collection has ended. */
#define END 2

/* Enters the collection at r->p (its opening bracket, a node as YAML
 * counts): 0 with its first item next, END past the closing bracket when
 * it is empty, DECLINE. */
static int open_items(reader *r, char close)
{
    int rc = count_node(r);

    if (rc != 0)
        return rc;
    r->p++;
    if ((rc = skip_ws(r, 1)) != 0)
        return rc;
    if (!at_end(r) && *r->p == close) {
        r->p++;
        return END;
    }
    return 0;
}

/* After an item: 0 with the next item next, END past the closing
 * bracket, DECLINE for anything else. */
static int next_item(reader *r, char close)
{
    int rc = skip_ws(r, 1);

    if (rc != 0)
        return rc;
    if (at_end(r))
        return DECLINE;
    if (*r->p == close) {
        r->p++;
        return END;
    }
    if (*r->p != ',')
        return DECLINE;
    r->p++;
    return skip_ws(r, 1);
}

/* Appends the key of a member, and its colon, to b (a comma first when
 * it is not the first). */
static int put_key(jx__buf *b, size_t n, const char *key, size_t key_len)
{
    if ((n > 0 && jx__buf_append(b, ",", 1) != 0) ||
        jx__buf_put_utf8(b, key, key_len) != 0 ||
        jx__buf_append(b, ":", 1) != 0)
        return -1;
    return 0;
}

/* ---- values into the parameters' text ---------------------------------- */

/* Whether the value just read ends where JSON and YAML both see it end. */
static int delimited(const reader *r)
{
    char c;

    if (at_end(r))
        return 1;
    c = *r->p;
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' ||
           c == '\r' || c == '\t';
}

static int read_word(reader *r, jx__buf *b)
{
    static const char *const words[] = {"true", "false", "null"};

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
            r->p += n;
            if (!delimited(r))
                return DECLINE;
            return jx__buf_append(b, words[i], n) != 0 ? -1 : count_node(r);
        }
    }
    return DECLINE;
}

/*
 * A JSON number: an integer in 64 bits is written as jansson writes it
 * ("-0" as "0"); any other number as the double strtod() reads, as
 * jansson writes a real.  What YAML would refuse as out of range is
 * declined.
 */
static int read_number(reader *r, jx__buf *b, long long *as_int, int *is_int)
{
    const char *s = r->p;
    const char *p = s;
    unsigned long long mag = 0;
    int neg = 0, overflow = 0;

    if (*p == '-')
        neg = 1, p++;
    if (p >= r->end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < r->end &&
                                                p[1] >= '0' && p[1] <= '9'))
        return DECLINE;
    for (; p < r->end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (mag > (ULLONG_MAX - d) / 10)
            overflow = 1;
        else
            mag = mag * 10 + d;
    }
    *is_int = p >= r->end || (*p != '.' && *p != 'e' && *p != 'E');
    if (!*is_int) {
        if (*p == '.') {
            if (++p >= r->end || *p < '0' || *p > '9')
                return DECLINE;
            while (p < r->end && *p >= '0' && *p <= '9')
                p++;
        }
        if (p < r->end && (*p == 'e' || *p == 'E')) {
            if (++p < r->end && (*p == '+' || *p == '-'))
                p++;
            if (p >= r->end || *p < '0' || *p > '9')
                return DECLINE;
            while (p < r->end && *p >= '0' && *p <= '9')
                p++;
        }
    }
    r->p = p;
    if (!delimited(r) || (size_t)(p - s) > MAX_NUMBER)
        return DECLINE;
    if (*is_int) {
        if (overflow || mag > (unsigned long long)LLONG_MAX + neg)
            return DECLINE; /* YAML: "integer out of range" */
        *as_int = neg ? (long long)(0 - mag) : (long long)mag;
        if (b != NULL && jx__buf_put_i64(b, *as_int) != 0)
            return -1;
    } else {
        char text[MAX_NUMBER + 1];
        double d;
        memcpy(text, s, (size_t)(p - s));
        text[p - s] = '\0';
        errno = 0;
        d = strtod(text, NULL);
        if (errno == ERANGE)
            return DECLINE; /* YAML: "number out of range" */
        if (b != NULL && jx__buf_put_real(b, d) != 0)
            return -1;
    }
    return count_node(r);
}

static int read_value(reader *r, jx__buf *b, int depth);

static int read_object(reader *r, jx__buf *b, int depth, size_t *n_members)
{
    size_t first = r->n_keys;
    int rc;

    *n_members = 0;
    if (depth > MAX_DEPTH)
        return DECLINE;
    if (jx__buf_append(b, "{", 1) != 0)
        return -1;
    for (rc = open_items(r, '}'); rc == 0; rc = next_item(r, '}')) {
        const char *key;
        size_t key_len;

        if ((rc = read_key(r, first, &key, &key_len)) != 0)
            return rc;
        if (put_key(b, *n_members, key, key_len) != 0)
            return -1;
        if ((rc = read_value(r, b, depth + 1)) != 0)
            return rc;
        ++*n_members;
    }
    if (rc != END)
        return rc;
    pop_keys(r, first);
    return jx__buf_append(b, "}", 1) != 0 ? -1 : 0;
}

static int read_array(reader *r, jx__buf *b, int depth)
{
    size_t n = 0;
    int rc;

    if (depth > MAX_DEPTH)
        return DECLINE;
    if (jx__buf_append(b, "[", 1) != 0)
        return -1;
    for (rc = open_items(r, ']'); rc == 0; rc = next_item(r, ']')) {
        if (n++ > 0 && jx__buf_append(b, ",", 1) != 0)
            return -1;
        if ((rc = read_value(r, b, depth + 1)) != 0)
            return rc;
    }
    if (rc != END)
        return rc;
    return jx__buf_append(b, "]", 1) != 0 ? -1 : 0;
}

/* Any JSON value at r->p, appended to b as jansson writes it compact. */
static int read_value(reader *r, jx__buf *b, int depth)
{
    const char *raw;
    size_t raw_len, n;
    long long ll;
    int escaped, is_int, rc;

    if (at_end(r))
        return DECLINE;
    switch (*r->p) {
    case '{':
        return read_object(r, b, depth, &n);
    case '[':
        return read_array(r, b, depth);
    case '"':
        if ((rc = read_string(r, &raw, &raw_len, &escaped)) != 0)
            return rc;
        return put_literal(r, b, raw, raw_len, escaped);
    case 't':
    case 'f':
    case 'n':
        return read_word(r, b);
    default:
        return read_number(r, b, &ll, &is_int);
    }
}

/* ---- the plan ---------------------------------------------------------- */

/* A string value, unescaped, copied into the arena as *out; or same_as
 * itself, when it is not NULL and holds the same text: steps of one type
 * share one copy. */
static int read_text(reader *r, int allow_empty, const char *same_as,
                     const char **out)
{
    const char *text;
    size_t len;
    int rc;

    if ((rc = read_text_value(r, &text, &len)) != 0)
        return rc;
    if (!allow_empty && len == 0)
        return DECLINE;
    if (same_as != NULL && strlen(same_as) == len &&
        memcmp(same_as, text, len) == 0) {
        *out = same_as;
        return 0;
    }
    return keep(r, text, len, out);
}

static int read_uuid(reader *r, char out[JX__UUID_LEN + 1])
{
    const char *text;
    char copy[JX__UUID_LEN + 1];
    size_t len;
    int rc;
    uuid_t u;

    if ((rc = read_text_value(r, &text, &len)) != 0)
        return rc;
    if (len != JX__UUID_LEN)
        return DECLINE;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (uuid_parse(copy, u) != 0)
        return DECLINE;
    uuid_unparse_lower(u, out);
    return 0;
}

static int read_int_field(reader *r, long long lo, long long hi,
                          long long *out)
{
    int is_int, rc;

    if (at_end(r) || (*r->p != '-' && (*r->p < '0' || *r->p > '9')))
        return DECLINE;
    if ((rc = read_number(r, NULL, out, &is_int)) != 0)
        return rc;
    return is_int && *out >= lo && *out <= hi ? 0 : DECLINE;
}

/* A string parameter: into the parameters' text, and its value kept
 * (NUL-terminated) in case secret_parameters names it. */
static int read_param_string(reader *r, param_entry *pe)
{
    const char *raw, *text;
    size_t raw_len, len;
    int escaped, rc;

    if ((rc = read_string(r, &raw, &raw_len, &escaped)) != 0)
        return rc;
    if (put_literal(r, &r->out, raw, raw_len, escaped) != 0)
        return -1;
    text = string_text(r, raw, raw_len, escaped, &len);
    pe->value_off = r->values.len;
    pe->value_len = len;
    if (jx__buf_append(&r->values, text, len) != 0 ||
        jx__buf_append(&r->values, "", 1) != 0)
        return -1;
    return 0;
}

/* The step's "parameters": an object, written compact into r->out; its
 * string members remembered for secret_parameters. */
static int read_params(reader *r, jx__step *st, int depth)
{
    size_t first = r->n_keys, n = 0;
    int rc;

    if (at_end(r) || *r->p != '{' || depth > MAX_DEPTH)
        return DECLINE;
    r->out.len = 0;
    r->values.len = 0;
    r->n_top_params = 0;
    if (jx__buf_append(&r->out, "{", 1) != 0)
        return -1;
    for (rc = open_items(r, '}'); rc == 0; rc = next_item(r, '}')) {
        param_entry *pe;
        const char *key;
        size_t key_len;

        if ((rc = read_key(r, first, &key, &key_len)) != 0)
            return rc;
        if (put_key(&r->out, n, key, key_len) != 0)
            return -1;
        pe = &r->params[r->n_top_params++];
        pe->key_off = r->key_stack[r->n_keys - 1].off;
        pe->key_len = key_len;
        pe->value_off = SIZE_MAX;
        if (!at_end(r) && *r->p == '"')
            rc = read_param_string(r, pe);
        else
            rc = read_value(r, &r->out, depth + 1);
        if (rc != 0)
            return rc;
        n++;
    }
    if (rc != END)
        return rc;
    st->n_params = n;
    if (n == 0) {
        st->params_json = jx__no_params_json;
        return 0;
    }
    if (jx__buf_append(&r->out, "}", 1) != 0)
        return -1;
    return keep(r, r->out.data, r->out.len, &st->params_json);
}

/* "secret_parameters": an array of names, kept for the step's end. */
static int read_secret_names(reader *r)
{
    int rc;

    if (at_end(r) || *r->p != '[')
        return DECLINE;
    for (rc = open_items(r, ']'); rc == 0; rc = next_item(r, ']')) {
        const char *text;
        size_t len;

        if ((rc = read_text_value(r, &text, &len)) != 0)
            return rc;
        if (jx__buf_append(&r->secret_names, text, len) != 0 ||
            jx__buf_append(&r->secret_names, "", 1) != 0)
            return -1;
        r->n_secret_names++;
    }
    return rc == END ? 0 : rc;
}

/* Each name in secret_parameters must be a parameter holding a non-empty
 * string; its value becomes one of the plan's secrets.  Names and values
 * hold no NUL: read_string declines one. */
static int add_secrets(reader *r)
{
    const char *name = r->secret_names.data;

    for (size_t i = 0; i < r->n_secret_names; i++) {
        size_t len = strlen(name), k = 0;
        const param_entry *pe = r->params;
        int rc;

        while (k < r->n_top_params &&
               (pe[k].key_len != len ||
                memcmp(r->keys.data + pe[k].key_off, name, len) != 0))
            k++;
        if (k == r->n_top_params || pe[k].value_off == SIZE_MAX ||
            pe[k].value_len == 0)
            return DECLINE;
        rc = jx__plan_add_secret(r->plan, r->values.data + pe[k].value_off,
                                 NULL);
        if (rc != 0)
            return rc == JX_ENOMEM ? -1 : DECLINE;
        name += len + 1;
    }
    return 0;
}

/* A literal for the arena: type and target as JSON string literals. */
static int keep_literal(reader *r, const char *text, const char **out)
{
    r->out.len = 0;
    if (jx__buf_put_json_string(&r->out, text) != 0)
        return -1;
    return keep(r, r->out.data, r->out.len, out);
}

enum { F_INDEX = 1, F_TYPE = 2, F_TARGET = 4, F_PARAMS = 8, F_TIMEOUT = 16,
       F_SECRETS = 32 };

static int step_field(reader *r, const char *key, size_t len, jx__step *st,
                      int *seen)
{
    static const char *const names[] = {"step_index", "step_type", "target",
                                        "parameters", "timeout_seconds",
                                        "secret_parameters"};
    long long ll;
    size_t which = 0;
    int rc;

    while (which < 6 && (strlen(names[which]) != len ||
                         memcmp(names[which], key, len) != 0))
        which++;
    if (which == 6)
        return DECLINE; /* an unknown key */
    *seen |= 1 << which;
    switch (which) {
    case 0:
        if ((rc = read_int_field(r, 0, MAX_STEP_INDEX, &ll)) != 0)
            return rc;
        st->index = ll;
        return 0;
    case 1:
        return read_text(r, 0, r->prev != NULL ? r->prev->type : NULL,
                         &st->type);
    case 2:
        return read_text(r, 1, NULL, &st->target);
    case 3:
        /* The nodes YAML counts for the step's map come before. */
        return read_params(r, st, 4);
    case 4:
        if ((rc = read_int_field(r, 1, MAX_TIMEOUT_SECONDS, &ll)) != 0)
            return rc;
        st->timeout_seconds = ll;
        return 0;
    default:
        return read_secret_names(r);
    }
}

static int read_step(reader *r, jx__step *st, const jx__step *prev)
{
    size_t first = r->n_keys;
    int seen = 0, rc;

    if (at_end(r) || *r->p != '{')
        return DECLINE;
    r->prev = prev;
    st->line = r->line;
    st->col = column_of(r, r->p);
    st->timeout_seconds = JX__DEFAULT_TIMEOUT_SECONDS;
    st->target = "";
    st->params_json = jx__no_params_json;
    r->n_top_params = 0;
    r->secret_names.len = 0;
    r->n_secret_names = 0;
    for (rc = open_items(r, '}'); rc == 0; rc = next_item(r, '}')) {
        const char *key;
        size_t key_len;

        if ((rc = read_key(r, first, &key, &key_len)) != 0 ||
            (rc = step_field(r, key, key_len, st, &seen)) != 0)
            return rc;
    }
    if (rc != END)
        return rc;
    pop_keys(r, first);
    if (!(seen & F_INDEX) || !(seen & F_TYPE) ||
        (prev != NULL && st->index <= prev->index))
        return DECLINE;
    if ((rc = add_secrets(r)) != 0)
        return rc;
    if (prev != NULL && st->type == prev->type)
        st->type_json = prev->type_json;
    else if ((rc = keep_literal(r, st->type, &st->type_json)) != 0)
        return rc;
    return keep_literal(r, st->target, &st->target_json);
}

/* Between steps: gives back the text before r->p, once there is enough
 * of it.  Columns are counted up to r->p first, the only later reading
 * of bytes behind it. */
static void release_behind(reader *r)
{
    if (r->release == NULL || (size_t)(r->p - r->released) < RELEASE_BYTES)
        return;
    column_of(r, r->p);
    r->release(r->release_user, r->p);
    r->released = r->p;
}

static int read_steps(reader *r, size_t *cap)
{
    jx_plan *plan = r->plan;
    int rc;

    if (at_end(r) || *r->p != '[')
        return DECLINE;
    for (rc = open_items(r, ']'); rc == 0; rc = next_item(r, ']')) {
        jx__step *st;

        rc = jx__plan_grow_steps(plan, cap, r->line, 0, NULL);
        if (rc != 0)
            return rc == JX_ENOMEM ? -1 : DECLINE;
        st = &plan->steps[plan->n_steps++];
        memset(st, 0, sizeof *st);
        if ((rc = read_step(r, st, plan->n_steps > 1 ? st - 1 : NULL)) != 0)
            return rc;
        release_behind(r);
    }
    return rc == END ? 0 : rc;
}

enum { R_JOB = 1, R_CONTRACT = 2, R_TENANT = 4, R_BY = 8, R_STEPS = 16 };

static int root_field(reader *r, const char *key, size_t len, int *seen,
                      size_t *cap)
{
    static const char *const names[] = {"job_id", "contract_id", "tenant_id",
                                        "executed_by", "steps"};
    jx_plan *plan = r->plan;
    size_t which = 0;

    while (which < 5 && (strlen(names[which]) != len ||
                         memcmp(names[which], key, len) != 0))
        which++;
    if (which == 5)
        return DECLINE;
    *seen |= 1 << which;
    switch (which) {
    case 0:
        return read_uuid(r, plan->job_id);
    case 1:
        return read_uuid(r, plan->contract_id);
    case 2:
        return read_text(r, 1, NULL, &plan->tenant_id);
    case 3:
        return read_text(r, 0, NULL, &plan->executed_by);
    default:
        return read_steps(r, cap);
    }
}

static int read_root(reader *r, size_t *cap)
{
    int seen = 0, rc;

    if ((rc = skip_ws(r, 0)) != 0)
        return rc;
    if (at_end(r) || *r->p != '{')
        return DECLINE;
    for (rc = open_items(r, '}'); rc == 0; rc = next_item(r, '}')) {
        const char *key;
        size_t key_len;

        if ((rc = read_key(r, 0, &key, &key_len)) != 0 ||
            (rc = root_field(r, key, key_len, &seen, cap)) != 0)
            return rc;
    }
    if (rc != END)
        return rc;
    if ((rc = skip_ws(r, 0)) != 0)
        return rc;
    if (!at_end(r) || !(seen & R_CONTRACT) || !(seen & R_STEPS))
        return DECLINE; /* trailing text, no contract_id (or {}), no steps */
    if (!(seen & R_JOB))
        jx__plan_generate_job_id(r->plan);
    return 0;
}

int jx__plan_read_json(jx_plan *plan, const char *text, size_t len,
                       jx__plan_release_fn *release, void *release_user,
                       size_t *cap, jx_error *err)
{
    reader r = {.p = text, .end = text + len, .line = 1,
                .col_at = text, .plan = plan, .release = release,
                .release_user = release_user, .released = text};
    int rc = read_root(&r, cap);

    jx__buf_free(&r.out);
    jx__buf_free(&r.text);
    jx__buf_free(&r.keys);
    jx__buf_free(&r.values);
    jx__buf_free(&r.secret_names);
    free(r.key_stack);
    if (rc < 0)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    return rc;
}
