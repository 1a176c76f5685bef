/* counting - counts its calls (config "start" sets the first value) and
 * fails when parameter fail is true. */
#include <stdatomic.h>
#include <stdlib.h>

#include <jobexec/step_handler_v1.h>

#include "common.h"

typedef struct counting_state {
    atomic_llong calls;
} counting_state;

static const char *const ct_types[] = {"count", NULL};

static int ct_init(const jx_host_v1 *host, const jx_plugin_config *config,
                   void **state, char *errbuf, size_t errbuf_len)
{
    counting_state *st = malloc(sizeof *st);
    int64_t start = 0;

    if (st == NULL) {
        fixture_error(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    host->config_int(config, "start", &start);
    atomic_init(&st->calls, start);
    *state = st;
    return 0;
}

static int ct_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    counting_state *st = state;
    long long n = atomic_fetch_add(&st->calls, 1) + 1;
    int fail = 0;

    (void)ctx;
    host->out_int(out, "calls", n);
    if (host->param_bool(step, "fail", &fail) == 0 && fail) {
        host->out_error(out, "asked to fail");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static void ct_fini(void *state) { free(state); }

JX_STEP_HANDLER(counting) = {
    JX_STEP_HANDLER_HEADER, "counting", "1.0.0", ct_types,
    JX_HANDLER_THREAD_SAFE, ct_init, NULL, ct_execute, ct_fini,
};
