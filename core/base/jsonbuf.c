/*
 * jsonbuf.c - assembling JSON text byte for byte as jansson writes it:
 * escaping, UTF-8 checks, integers, and values through jansson.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonbuf.h"

int jx__buf_grow(jx__buf *b, size_t len)
{
    size_t cap = b->cap ? b->cap : 512;
    char *grown;

    if (len > SIZE_MAX / 2 - b->len)
        return -1;
    while (cap < b->len + len + 1)
        cap *= 2;
    grown = realloc(b->data, cap);
    if (grown == NULL)
        return -1;
    b->data = grown;
    b->cap = cap;
    return 0;
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

/* Whether a byte goes into a JSON string literal as it is: all but
 * control characters, the quote and the backslash. */
static inline int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* The escape of a byte that is not plain; returns its length. */
static size_t escape(unsigned char c, char esc[6])
{
    static const char hex[] = "0123456789ABCDEF";

    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
}

size_t jx__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, *cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, *cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, *cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
        (len == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
        return 0;
    return len;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return jx__utf8_decode(s, n, &cp);
}

/* Bytes of a 64-bit word, each set to c. */
#define EVERY_BYTE(c) (UINT64_C(0x0101010101010101) * (uint64_t)(c))

/* Whether some byte of w is below n (n <= 0x80): exact for the word as a
 * whole, which is all that is asked here. */
static inline uint64_t any_byte_below(uint64_t w, unsigned n)
{
    return (w - EVERY_BYTE(n)) & ~w & EVERY_BYTE(0x80);
}

/* Whether any of 8 bytes is not plain ASCII: a control character, the
 * quote, the backslash, or a byte of a multi-byte character. */
static inline int word_needs_look(uint64_t w)
{
    return ((w & EVERY_BYTE(0x80)) | any_byte_below(w, 0x20) |
            any_byte_below(w ^ EVERY_BYTE('"'), 1) |
            any_byte_below(w ^ EVERY_BYTE('\\'), 1)) != 0;
}

/* The string as a JSON literal, escaped exactly as jansson's compact dump
 * does (short escapes, \u00XX for other control characters, UTF-8 and DEL
 * as they are), so that the fast path changes no byte of the evidence.
 * Runs of plain bytes are copied whole.  With check_utf8, text that is
 * not UTF-8 is refused (JX__BUF_NOT_UTF8) in the same pass. */
static int put_string(jx__buf *b, const char *s, size_t len, int check_utf8)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = b->len, run = 0, i = 0;
    int rc = jx__buf_append(b, "\"", 1);

    while (rc == 0 && i < len) {
        char esc[6];
        size_t step;
        uint64_t w;

        /* Eight plain ASCII bytes at a time: the common case. */
        if (len - i >= 8) {
            memcpy(&w, u + i, 8);
            if (!word_needs_look(w)) {
                i += 8;
                continue;
            }
        }
        if (u[i] >= 0x80 && check_utf8) {
            if ((step = utf8_seq(u + i, len - i)) == 0)
                rc = JX__BUF_NOT_UTF8;
            i += step;
            continue;
        }
        if (plain(u[i])) {
            i++;
            continue;
        }
        step = escape(u[i], esc);
        if (jx__buf_append(b, s + run, i - run) != 0 ||
            jx__buf_append(b, esc, step) != 0)
            rc = -1;
        run = ++i;
    }
    if (rc == 0 && (jx__buf_append(b, s + run, len - run) != 0 ||
                    jx__buf_append(b, "\"", 1) != 0))
        rc = -1;
    if (rc != 0) {
        b->len = start;
        if (b->data != NULL)
            b->data[start] = '\0';
    }
    return rc;
}

static int put_value(jx__buf *b, const json_t *v, int depth);

static int put_object(jx__buf *b, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    const char *sep = "{";

    json_object_foreach((json_t *)v, key, item) {
        if (jx__buf_puts(b, sep) || put_string(b, key, strlen(key), 0) ||
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
        return put_string(b, json_string_value(v), json_string_length(v), 0);
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

int jx__buf_put_seconds(jx__buf *b, double seconds)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%.6f",
                     isfinite(seconds) && seconds >= 0 ? seconds : 0.0);

    if (n < 0 || (size_t)n >= sizeof text)
        return -1; /* beyond 10^24 s: not a duration this clock measures */
    return jx__buf_append(b, text, (size_t)n);
}

int jx__buf_put_real(jx__buf *b, double d)
{
    json_t *real = json_real(d); /* NULL for NaN and infinities */
    int rc = real != NULL ? jx__buf_put_json(b, real) : -1;

    json_decref(real);
    return rc;
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

/* Length of the valid UTF-8 that s (n bytes) starts with. */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0, step;

    while (i < n && (step = utf8_seq(s + i, n - i)) != 0)
        i += step;
    return i;
}

int jx__utf8_valid(const char *s)
{
    size_t n = strlen(s);

    return utf8_prefix((const unsigned char *)s, n) == n;
}

int jx__buf_put_utf8(jx__buf *b, const char *s, size_t len)
{
    return put_string(b, s, len, 1);
}

/* Text from plugins (error messages, a runner's stderr) may be any bytes;
 * a JSON document may not.  Invalid UTF-8 becomes U+FFFD. */
int jx__buf_put_json_string(jx__buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = utf8_prefix(u, n), len;
    char *clean;
    int rc;

    if (i == n)
        return put_string(b, s, n, 0);
    /* Each bad byte becomes the three bytes of U+FFFD. */
    if (n > (SIZE_MAX - 1) / 3 || (clean = malloc(3 * n + 1)) == NULL)
        return -1;
    memcpy(clean, s, i);
    len = i;
    while (i < n) {
        size_t step = utf8_seq(u + i, n - i);
        if (step != 0) {
            memcpy(clean + len, s + i, step);
            len += step;
            i += step;
        } else {
            memcpy(clean + len, "\xef\xbf\xbd", 3);
            len += 3;
            i++;
        }
    }
    rc = put_string(b, clean, len, 0);
    free(clean);
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
