/* serial - not thread-safe, and says so: it fails when it is entered while
 * another call is still inside. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <jobexec/step_handler_v1.h>

#include "common.h"

typedef struct serial_state {
    atomic_int inside;
    atomic_llong calls;
} serial_state;

static const char *const se_types[] = {"serial", NULL};

static int se_init(const jx_host_v1 *host, const jx_plugin_config *config,
                   void **state, char *errbuf, size_t errbuf_len)
{
    serial_state *st = calloc(1, sizeof *st);

    (void)host, (void)config;
    if (st == NULL) {
        fixture_error(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    *state = st;
    return 0;
}

static int se_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    serial_state *st = state;
    struct timespec pause = {0, 200000};
    long long n = atomic_fetch_add(&st->calls, 1) + 1;

    (void)ctx, (void)step;
    if (atomic_exchange(&st->inside, 1) != 0) {
        host->out_error(out, "concurrent call detected");
        return JX_STEP_FAILED;
    }
    nanosleep(&pause, NULL);
    atomic_store(&st->inside, 0);
    host->out_bool(out, "ok", 1);
    host->out_int(out, "calls", n);
    return JX_STEP_OK;
}

static void se_fini(void *state) { free(state); }

JX_STEP_HANDLER(serial) = {
    JX_STEP_HANDLER_HEADER, "serial", "1.0.0", se_types, 0,
    se_init, NULL, se_execute, se_fini,
};
