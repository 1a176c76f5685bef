/*
 * error.c - error codes: their names, their texts, and jx__fail().
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

const char *jx_strerror(int code)
{
    switch (code) {
    case JX_OK:
        return "success";
#define JX__ERRNO_CASE(name, value, text)                                     \
    case JX_E##name:                                                          \
        return text;
        JX_ERRNO_MAP(JX__ERRNO_CASE)
#undef JX__ERRNO_CASE
    default:
        return "unknown error";
    }
}

const char *jx_err_name(int code)
{
    switch (code) {
    case JX_OK:
        return "JX_OK";
#define JX__ERRNO_NAME(name, value, text)                                     \
    case JX_E##name:                                                          \
        return "JX_E" #name;
        JX_ERRNO_MAP(JX__ERRNO_NAME)
#undef JX__ERRNO_NAME
    default:
        return "JX_E?";
    }
}

/* The length of the valid UTF-8 sequence at s (at most n bytes) and its
 * code point in *cp; 0 when the bytes there are not one.  Overlong forms
 * and surrogates are not valid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    unsigned c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (len == 0 || len > n || s[0] >= 0xF5)
        return 0;
    c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Characters a terminal acts on rather than shows: C0 and C1 controls,
 * DEL, and the bidirectional embeddings, overrides and isolates that can
 * make text read otherwise than it is. */
static int must_escape(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Messages quote input (a scalar, a key, a path): each must stay one line
 * that cannot drive the terminal it is printed on.  Controls become \n,
 * \t, \r, \xHH (C0 and DEL) or \uHHHH (C1, bidi controls), and bytes
 * that are not UTF-8 \xHH.  The result has nothing left to escape, so a
 * message quoted into another one is not escaped twice.  Truncation never
 * splits a character or an escape.
 */
void jx__escape_text(const char *in, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = strlen(in), o = 0;

    if (size == 0)
        return;
    for (size_t i = 0; i < n;) {
        char esc[8];
        unsigned cp;
        size_t len = utf8_decode(s + i, n - i, &cp), add;

        if (len == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", s[i]);
            len = 1;
        } else if (!must_escape(cp)) {
            esc[0] = '\0';
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            snprintf(esc, sizeof esc, "\\%c",
                     cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
        } else {
            snprintf(esc, sizeof esc, cp < 0x80 ? "\\x%02x" : "\\u%04x",
                     cp);
        }
        add = esc[0] != '\0' ? strlen(esc) : len;
        if (o + add >= size)
            break;
        memcpy(out + o, esc[0] != '\0' ? esc : in + i, add);
        o += add;
        i += len;
    }
    out[o] = '\0';
}

int (jx__fail)(jx_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        char raw[sizeof err->message];
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        jx__escape_text(raw, err->message, sizeof err->message);
    }
    return code;
}

char *jx__strdup(const char *s) { return s != NULL ? strdup(s) : NULL; }
