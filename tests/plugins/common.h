/*
 * common.h - small helpers shared by the fixture plugins.
 */
#ifndef JX_FIXTURE_COMMON_H
#define JX_FIXTURE_COMMON_H

#include <string.h>

static inline void fixture_error(char *errbuf, size_t len, const char *why)
{
    if (len == 0)
        return;
    strncpy(errbuf, why, len - 1);
    errbuf[len - 1] = '\0';
}

#endif
