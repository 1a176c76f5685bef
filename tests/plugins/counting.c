/*
 * counting - counts the calls of its execute() in per-instance state, so
 * that tests can prove how often a handler ran (never twice for one step,
 * never after a failure) and that many threads may call it at once.
 *
 * Config: start (integer, optional) - the counter's initial value.
 * Parameters: fail (boolean) - when true the step fails with "asked to
 * fail"; the call is counted all the same.
 * Output: {"calls": <the count after this call>}.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <jobexec/step_handler_v1.h>

typedef struct counting_state {
    atomic_llong calls;
} counting_state;

static const char *const counting_types[] = {"count", NULL};

static int counting_init(const jx_host_v1 *host,
                         const jx_plugin_config *config, void **state,
                         char *errbuf, size_t errbuf_len)
{
    int64_t start = 0;
    counting_state *st;

    if (host->config_int(config, "start", &start) != 0 &&
        host->config_json(config, "start") != NULL) {
        snprintf(errbuf, errbuf_len, "start must be an integer");
        return -1;
    }
    st = malloc(sizeof *st);
    if (st == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    atomic_init(&st->calls, (long long)start);
    *state = st;
    return 0;
}

static int counting_execute(void *state, const jx_host_v1 *host,
                            const jx_context *ctx, const jx_step *step,
                            jx_output *out)
{
    counting_state *st = state;
    long long calls = atomic_fetch_add(&st->calls, 1) + 1;
    int fail = 0;

    (void)ctx;
    host->out_int(out, "calls", (int64_t)calls);
    if (host->param_bool(step, "fail", &fail) == 0 && fail) {
        host->out_error(out, "asked to fail");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static void counting_fini(void *state)
{
    free(state);
}

JX_STEP_HANDLER(counting) = {
    JX_STEP_HANDLER_HEADER,
    "counting",
    "1.0.0",
    counting_types,
    JX_HANDLER_THREAD_SAFE,
    counting_init,
    NULL,
    counting_execute,
    counting_fini,
};
