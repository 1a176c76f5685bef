/*
 * jsonbuf.h - a growable buffer for assembling JSON text: fixed parts are
 * appended as bytes, values are encoded byte for byte as jansson's compact
 * dump would.
 */
#ifndef JX__BASE_JSONBUF_H
#define JX__BASE_JSONBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

/* A growable byte buffer, reused from record to record. */
typedef struct jx__buf {
    char *data;
    size_t len, cap;
} jx__buf;

/* Appenders return 0, or -1 when out of memory (the buffer is unchanged
 * but may have grown). */
int jx__buf_grow(jx__buf *b, size_t len); /* room for len more bytes */

/* Inline: records are built from many short pieces, and a call per piece
 * (with strlen of a literal done at run time) costs more than the copy. */
static inline int jx__buf_append(jx__buf *b, const char *data, size_t len)
{
    /* Room for len bytes and the NUL; written as a difference (len
     * never exceeds cap) so that a huge len cannot wrap the sum and skip
     * the growth, which refuses it. */
    if (len >= b->cap - b->len && jx__buf_grow(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static inline int jx__buf_puts(jx__buf *b, const char *s)
{
    return jx__buf_append(b, s, strlen(s));
}

int jx__buf_put_i64(jx__buf *b, int64_t v);
/* Any JSON value, compact, as json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)
 * writes it.  On failure nothing is appended. */
int jx__buf_put_json(jx__buf *b, const json_t *v);
/* A finite double as jansson writes a real (its formatting is jansson's
 * own); -1 for NaN and infinities, which JSON cannot hold. */
int jx__buf_put_real(jx__buf *b, double d);
/* A duration as a plain decimal with microseconds, "0.000082": jansson
 * writes reals as %.17g, and a fast step's 8.2000000000000001e-05 reads
 * badly in evidence. */
int jx__buf_put_seconds(jx__buf *b, double seconds);
/* A string of len bytes as a JSON string literal, as jansson writes it;
 * JX__BUF_NOT_UTF8 (nothing appended) when it is not valid UTF-8, which
 * jansson refuses too. */
#define JX__BUF_NOT_UTF8 (-2)
int jx__buf_put_utf8(jx__buf *b, const char *s, size_t len);
/* The length of the UTF-8 character at s (n bytes left, n >= 1) with its
 * code point in *cp, or 0 when it is not valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF are not). */
size_t jx__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Whether s is valid UTF-8, as jansson judges strings. */
int jx__utf8_valid(const char *s);
/* A string as a JSON string literal; invalid UTF-8 becomes U+FFFD. */
int jx__buf_put_json_string(jx__buf *b, const char *s);
/* The same for the text of s followed by that of tail (ASCII). */
int jx__buf_put_json_string2(jx__buf *b, const char *s, const char *tail);
/* The members of a JSON object, each preceded by a comma: ",\"a\":1". */
int jx__buf_put_members(jx__buf *b, const json_t *object);
void jx__buf_free(jx__buf *b);

#endif
