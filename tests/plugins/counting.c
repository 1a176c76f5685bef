/*
 * counting - counts the calls of its execute() in per-instance state, so
 * that tests can prove how often a handler ran (never twice for one step,
 * never after a failure) and that many threads may call it at once.
 *
 * Config: start (integer, optional) - the counter's initial value;
 * ledger (path, optional) - a file every call appends "JOB_ID STEP_INDEX"
 * to, before anything else, so that calls are counted across processes
 * (and processes killed mid-step).
 * Parameters: fail (boolean) - when true the step fails with "asked to
 * fail"; the call is counted all the same.  sleep_ms (integer) - how long
 * the step takes; a cancel ends it early, failed "cancelled".
 * Output: {"calls": <the count after this call>}.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <jobexec/step_handler_v1.h>

typedef struct counting_state {
    atomic_llong calls;
    int ledger; /* -1: none */
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
    st->ledger = -1;
    if (host->config_string(config, "ledger") != NULL &&
        (st->ledger = open(host->config_string(config, "ledger"),
                           O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                           0644)) < 0) {
        snprintf(errbuf, errbuf_len, "cannot open the ledger");
        free(st);
        return -1;
    }
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
    int64_t sleep_ms = 0;

    if (st->ledger >= 0) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s %lld\n",
                         host->ctx_job_id(ctx),
                         (long long)host->step_index(step));
        if (write(st->ledger, line, (size_t)n) != n) {
            host->out_error(out, "cannot write the ledger");
            return JX_STEP_FAILED;
        }
    }
    host->out_int(out, "calls", (int64_t)calls);
    host->param_int(step, "sleep_ms", &sleep_ms);
    for (; sleep_ms > 0; sleep_ms -= 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (host->ctx_cancelled(ctx)) {
            host->out_error(out, "cancelled");
            return JX_STEP_FAILED;
        }
        nanosleep(&ts, NULL);
    }
    if (host->param_bool(step, "fail", &fail) == 0 && fail) {
        host->out_error(out, "asked to fail");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static void counting_fini(void *state)
{
    counting_state *st = state;

    if (st->ledger >= 0)
        close(st->ledger);
    free(st);
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
