/*
 * error.c - error codes, messages and small shared helpers.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

const char *jx_version(void) { return PACKAGE_VERSION; }

const char *jx_default_plugin_dir(void) { return JX_PLUGINDIR; }

int jx__fail(jx_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

char *jx__strdup(const char *s) { return s != NULL ? strdup(s) : NULL; }

int jx__read_file(const char *path, size_t max_bytes, char **out,
                  size_t *out_len, jx_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    char *buf;
    size_t len = 0, cap = 4096;

    if (fp == NULL)
        return jx__fail(err, JX_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    buf = malloc(cap);
    while (buf != NULL) {
        size_t n;
        if (len + 1 == cap) {
            /* Refuse before the buffer can grow past the limit. */
            if (cap > max_bytes) {
                free(buf);
                if (!is_stdin)
                    fclose(fp);
                return jx__fail(err, JX_ELIMIT,
                                "%s: larger than the limit of %zu bytes",
                                path, max_bytes);
            }
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        n = fread(buf + len, 1, cap - 1 - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (buf == NULL) {
        if (!is_stdin)
            fclose(fp);
        return jx__fail(err, JX_ENOMEM, "%s: out of memory", path);
    }
    if (ferror(fp)) {
        int saved = errno;
        free(buf);
        if (!is_stdin)
            fclose(fp);
        return jx__fail(err, JX_EIO, "%s: read error: %s", path,
                        strerror(saved));
    }
    if (!is_stdin)
        fclose(fp);
    if (len > max_bytes) {
        free(buf);
        return jx__fail(err, JX_ELIMIT, "%s: larger than the limit of %zu bytes",
                        path, max_bytes);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}
