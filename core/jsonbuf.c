/*
 * jsonbuf.c - see jsonbuf.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"

int jx__buf_append(jx__buf *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        char *grown;
        while (cap < b->len + len + 1)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int jx__buf_puts(jx__buf *b, const char *s)
{
    return jx__buf_append(b, s, strlen(s));
}

int jx__buf_put_i64(jx__buf *b, int64_t v)
{
    char digits[24];
    char *p = digits + sizeof digits;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return jx__buf_append(b, p, (size_t)(digits + sizeof digits - p));
}

static int dump_cb(const char *data, size_t len, void *user)
{
    return jx__buf_append(user, data, len);
}

/* The string as a JSON literal, escaped exactly as jansson's compact dump
 * does (short escapes, \u00XX for other control characters, UTF-8 and DEL
 * as they are), so that the fast path changes no byte of the evidence.
 * Runs of plain bytes are copied whole. */
static int put_string(jx__buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;

    if (jx__buf_append(b, "\"", 1) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (jx__buf_append(b, s + run, i - run) != 0)
            return -1;
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        if (jx__buf_append(b, esc, esc_len) != 0)
            return -1;
    }
    return jx__buf_append(b, s + run, len - run) || jx__buf_append(b, "\"", 1);
}

static int put_value(jx__buf *b, const json_t *v, int depth);

static int put_object(jx__buf *b, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    const char *sep = "{";

    json_object_foreach((json_t *)v, key, item) {
        if (jx__buf_puts(b, sep) || put_string(b, key, strlen(key)) ||
            jx__buf_append(b, ":", 1) || put_value(b, item, depth + 1))
            return -1;
        sep = ",";
    }
    return jx__buf_puts(b, *sep == '{' ? "{}" : "}");
}

static int put_array(jx__buf *b, const json_t *v, int depth)
{
    size_t i;
    json_t *item;

    if (jx__buf_append(b, "[", 1) != 0)
        return -1;
    json_array_foreach((json_t *)v, i, item) {
        if ((i > 0 && jx__buf_append(b, ",", 1)) ||
            put_value(b, item, depth + 1))
            return -1;
    }
    return jx__buf_append(b, "]", 1);
}

/*
 * jansson's own dump costs about 2 us for a four-member object, the
 * largest single cost of a logged no-op step; this walk does the same in
 * a fraction of that.  Reals (whose formatting jansson owns), and values
 * nested deeper than jansson would dump, go through jansson.
 */
static int put_value(jx__buf *b, const json_t *v, int depth)
{
    if (depth > 2048)
        return -1; /* jansson refuses such depth too */
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(b, v, depth);
    case JSON_ARRAY:
        return put_array(b, v, depth);
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return jx__buf_put_i64(b, (int64_t)json_integer_value(v));
    case JSON_TRUE:
        return jx__buf_append(b, "true", 4);
    case JSON_FALSE:
        return jx__buf_append(b, "false", 5);
    case JSON_NULL:
        return jx__buf_append(b, "null", 4);
    default:
        return json_dump_callback(v, dump_cb, b,
                                  JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

int jx__buf_put_json(jx__buf *b, const json_t *v)
{
    size_t start = b->len;

    if (v == NULL || put_value(b, v, 0) != 0) {
        b->len = start;
        if (b->data != NULL)
            b->data[start] = '\0';
        return -1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

int jx__buf_put_utf8(jx__buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = b->len;

    for (size_t i = 0, step; i < len; i += step)
        if ((step = utf8_seq(u + i, len - i)) == 0)
            return JX__BUF_NOT_UTF8;
    if (put_string(b, s, len) != 0) {
        b->len = start;
        if (b->data != NULL)
            b->data[start] = '\0';
        return -1;
    }
    return 0;
}

/* Text from plugins (error messages, a runner's stderr) may be any bytes;
 * a JSON document may not.  Invalid UTF-8 becomes U+FFFD. */
int jx__buf_put_json_string(jx__buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, step;
    jx__buf clean = {0};
    int rc;

    while (i < n && (step = utf8_seq(u + i, n - i)) != 0)
        i += step;
    if (i == n)
        return put_string(b, s, n);
    rc = jx__buf_append(&clean, s, i);
    while (rc == 0 && i < n) {
        step = utf8_seq(u + i, n - i);
        rc = step != 0 ? jx__buf_append(&clean, s + i, step)
                       : jx__buf_append(&clean, "\xef\xbf\xbd", 3);
        i += step != 0 ? step : 1;
    }
    if (rc == 0)
        rc = put_string(b, clean.data, clean.len);
    jx__buf_free(&clean);
    return rc;
}

int jx__buf_put_members(jx__buf *b, const json_t *object)
{
    size_t start = b->len;

    if (jx__buf_put_json(b, object) != 0)
        return -1;
    if (b->len - start == 2) { /* "{}": no members */
        b->len = start;
        b->data[start] = '\0';
        return 0;
    }
    b->data[start] = ',';
    b->data[--b->len] = '\0'; /* the closing brace */
    return 0;
}

void jx__buf_free(jx__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int jx__buf_put_json_string2(jx__buf *b, const char *s, const char *tail)
{
    char *both;
    int rc;

    if (asprintf(&both, "%s%s", s, tail) < 0)
        return -1;
    rc = jx__buf_put_json_string(b, both);
    free(both);
    return rc;
}
