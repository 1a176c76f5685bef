/*
 * clock.c - timestamps and durations.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

double jx__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void jx__sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

double jx__epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void jx__iso_time(double t, char out[JX__ISO_TIME_SIZE])
{
    time_t sec = (time_t)t;
    long usec = (long)((t - (double)sec) * 1e6);
    struct tm tm;

    if (usec < 0 || usec > 999999)
        usec = 0;
    gmtime_r(&sec, &tm);
    snprintf(out, JX__ISO_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, usec);
}

/* Formatting the date costs more than the rest of a no-op step, and it only
 * changes once a second: each thread keeps the last second's text. */
static _Thread_local time_t cached_second = -1;
static _Thread_local char cached_prefix[64]; /* "2026-11-28T14:00:00" */

/* The same suffix as Python's datetime.isoformat() for UTC, which the
 * reference executor's consumers parse. */
void jx__iso_now(char out[JX__ISO_TIME_SIZE])
{
    struct timespec ts;
    long usec;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(cached_prefix, sizeof cached_prefix,
                 "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_second = ts.tv_sec;
    }
    usec = ts.tv_nsec / 1000;
    size_t n = strlen(cached_prefix);
    memcpy(out, cached_prefix, n);
    out[n++] = '.';
    for (int i = 5; i >= 0; i--) {
        out[n + (size_t)i] = (char)('0' + usec % 10);
        usec /= 10;
    }
    memcpy(out + n + 6, "+00:00", 7);
}
