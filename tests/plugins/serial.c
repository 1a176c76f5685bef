/*
 * serial - a handler that does NOT declare itself thread-safe and detects
 * being called concurrently: the host must serialise its calls.  Each call
 * raises an "inside" flag, stays inside for about 200 microseconds so that
 * an overlapping call would see the flag, then lowers it.
 *
 * Output: {"ok": true, "calls": <the count after this call>}; a call that
 * finds the flag already raised fails with "concurrent call detected".
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jobexec/step_handler_v1.h>

typedef struct serial_state {
    atomic_bool inside;
    atomic_llong calls;
} serial_state;

static const char *const serial_types[] = {"serial", NULL};

static int serial_init(const jx_host_v1 *host, const jx_plugin_config *config,
                       void **state, char *errbuf, size_t errbuf_len)
{
    serial_state *st = malloc(sizeof *st);

    (void)host;
    (void)config;
    if (st == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    atomic_init(&st->inside, false);
    atomic_init(&st->calls, 0);
    *state = st;
    return 0;
}

static void stay_inside(void)
{
    struct timespec ts = {0, 200 * 1000};

    /* Interrupted sleeps resume with what is left. */
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int serial_execute(void *state, const jx_host_v1 *host,
                          const jx_context *ctx, const jx_step *step,
                          jx_output *out)
{
    serial_state *st = state;
    long long calls = atomic_fetch_add(&st->calls, 1) + 1;

    (void)ctx;
    (void)step;
    host->out_int(out, "calls", (int64_t)calls);
    if (atomic_exchange(&st->inside, true)) {
        /* The flag belongs to the call already inside: leave it raised. */
        host->out_error(out, "concurrent call detected");
        return JX_STEP_FAILED;
    }
    stay_inside();
    atomic_store(&st->inside, false);
    host->out_bool(out, "ok", 1);
    return JX_STEP_OK;
}

static void serial_fini(void *state)
{
    free(state);
}

JX_STEP_HANDLER(serial) = {
    JX_STEP_HANDLER_HEADER,
    "serial",
    "1.0.0",
    serial_types,
    0,
    serial_init,
    NULL,
    serial_execute,
    serial_fini,
};
