/* both - a step handler and a health observer in one module. */
#include <stdatomic.h>
#include <stdlib.h>

#include <jobexec/step_handler_v1.h>

#include "common.h"

static const char *const bo_types[] = {"both_step", NULL};

static int bo_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)ctx, (void)step;
    host->out_bool(out, "done", 1);
    return JX_STEP_OK;
}

JX_STEP_HANDLER(both) = {
    JX_STEP_HANDLER_HEADER, "both", "1.0.0", bo_types,
    JX_HANDLER_THREAD_SAFE, NULL, NULL, bo_execute, NULL,
};

typedef struct observer_state {
    atomic_llong observations;
} observer_state;

static int ob_init(const jx_host_v1 *host, const jx_plugin_config *config,
                   void **state, char *errbuf, size_t errbuf_len)
{
    observer_state *st = calloc(1, sizeof *st);

    (void)host, (void)config;
    if (st == NULL) {
        fixture_error(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    *state = st;
    return 0;
}

static int ob_observe(void *state, const jx_host_v1 *host,
                      jx_output *snapshot, char *errbuf, size_t errbuf_len)
{
    observer_state *st = state;

    (void)errbuf, (void)errbuf_len;
    host->out_int(snapshot, "observations",
                  atomic_fetch_add(&st->observations, 1) + 1);
    host->out_string(snapshot, "status", "green");
    return 0;
}

static void ob_fini(void *state) { free(state); }

JX_HEALTH_OBSERVER(both) = {
    JX_HEALTH_OBSERVER_HEADER, "both", "1.0.0", JX_HANDLER_THREAD_SAFE,
    ob_init, ob_observe, ob_fini,
};
