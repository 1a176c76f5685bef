/*
 * both - one module that is a step handler and a health observer at once.
 * The handler completes every step with {"done": true}; the observer
 * reports {"observations": n, "status": "green"}, n counting its calls, so
 * tests can tell how often health was observed.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <jobexec/step_handler_v1.h>

typedef struct observer_state {
    atomic_llong observations;
} observer_state;

static const char *const both_types[] = {"both_step", NULL};

static int both_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    if (host->out_bool(out, "done", 1) != 0) {
        host->out_error(out, "output could not be recorded");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static int both_observer_init(const jx_host_v1 *host,
                              const jx_plugin_config *config, void **state,
                              char *errbuf, size_t errbuf_len)
{
    observer_state *st = malloc(sizeof *st);

    (void)host;
    (void)config;
    if (st == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    atomic_init(&st->observations, 0);
    *state = st;
    return 0;
}

static int both_observe(void *state, const jx_host_v1 *host,
                        jx_output *snapshot, char *errbuf, size_t errbuf_len)
{
    observer_state *st = state;
    long long n = atomic_fetch_add(&st->observations, 1) + 1;

    if (host->out_int(snapshot, "observations", (int64_t)n) != 0 ||
        host->out_string(snapshot, "status", "green") != 0) {
        snprintf(errbuf, errbuf_len, "snapshot could not be recorded");
        return -1;
    }
    return 0;
}

static void both_observer_fini(void *state)
{
    free(state);
}

JX_STEP_HANDLER(both) = {
    JX_STEP_HANDLER_HEADER,
    "both",
    "1.0.0",
    both_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    both_execute,
    NULL,
};

JX_HEALTH_OBSERVER(both) = {
    JX_HEALTH_OBSERVER_HEADER,
    "both",
    "1.0.0",
    JX_HANDLER_THREAD_SAFE,
    both_observer_init,
    both_observe,
    both_observer_fini,
};
