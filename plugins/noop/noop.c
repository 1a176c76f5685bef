/*
 * noop - completes every step without doing anything, reporting what it was
 * asked to do.  The default handler of the shipped config.
 */
#include <string.h>
#include <time.h>

#include <jobexec/step_handler_v1.h>

static const char *const noop_types[] = {NULL};

/* Formatting the date costs more than the rest of a no-op step and it
 * changes once a second: each thread keeps the last second's text. */
static _Thread_local time_t cached_second = -1;
static _Thread_local char cached_date[32]; /* "2026-11-28T14:00:00" */

static void iso_now(char *buf, size_t len)
{
    struct timespec ts;
    long usec;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached_date, sizeof cached_date, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = ts.tv_sec;
    }
    usec = ts.tv_nsec / 1000;
    /* "+00:00": the suffix of Python's isoformat() for UTC. */
    if (len >= 33) {
        size_t n = strlen(cached_date);
        memcpy(buf, cached_date, n);
        buf[n] = '.';
        for (int i = 6; i >= 1; i--, usec /= 10)
            buf[n + (size_t)i] = (char)('0' + usec % 10);
        memcpy(buf + n + 7, "+00:00", 7);
    }
}

static int noop_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    char now[64];

    (void)state;
    (void)ctx;
    iso_now(now, sizeof now);
    host->out_string(out, "handler", "noop");
    host->out_string(out, "step_type", host->step_type(step));
    host->out_string(out, "target", host->step_target(step));
    host->out_string(out, "executed_at", now);
    return JX_STEP_OK;
}

JX_STEP_HANDLER(noop) = {
    JX_STEP_HANDLER_HEADER,
    "noop",
    "1.0.0",
    noop_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    noop_execute,
    NULL,
};
