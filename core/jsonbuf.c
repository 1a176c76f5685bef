/*
 * jsonbuf.c - see jsonbuf.h.
 */
#include "config.h"

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

int jx__buf_put_json(jx__buf *b, const json_t *v)
{
    return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
}

int jx__buf_put_json_string(jx__buf *b, const char *s)
{
    json_t *str = json_string(s);
    int rc = str != NULL ? jx__buf_put_json(b, str) : -1;
    json_decref(str);
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
