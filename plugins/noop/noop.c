/*
 * noop - completes every step without doing anything, reporting what it was
 * asked to do.  The default handler of the shipped config.
 */
#include <stdio.h>
#include <time.h>

#include <jobexec/step_handler_v1.h>

static const char *const noop_types[] = {NULL};

static void iso_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
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
