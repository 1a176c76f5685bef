/*
 * clock.c - timestamps and durations.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "clock.h"

double jx__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same suffix as Python's datetime.isoformat() for UTC, which the
 * reference executor's consumers parse. */
void jx__iso_now(char out[JX_ISO_TIME_SIZE])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, JX_ISO_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}
