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
