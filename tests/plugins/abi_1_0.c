/*
 * abi_1_0 - a plugin built against the 1.0 header (tests/abi-1.0, a copy
 * of include/jobexec/step_handler_v1.h as ABI 1.0 was released), which
 * every later host must keep loading and running: the ABI compatibility
 * guard.  It uses every 1.0 entry point and a good part of the host
 * table: config, parameters, context, output, log, progress.
 *
 * Config: greeting (string).  Parameters: name (string, required).
 * Output: {"greeting": ..., "name": ..., "job": ..., "index": ...,
 * "struct_size_host": ...}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobexec/step_handler_v1.h>

#if defined(JX_ABI_MINOR)
#error "built against a header newer than 1.0: the guard tests nothing"
#endif

typedef struct guard_state {
    char greeting[64];
} guard_state;

static const char *const guard_types[] = {"abi_1_0", NULL};

static int guard_init(const jx_host_v1 *host, const jx_plugin_config *config,
                      void **state, char *errbuf, size_t errbuf_len)
{
    const char *greeting = host->config_string(config, "greeting");
    guard_state *st = calloc(1, sizeof *st);

    if (st == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    snprintf(st->greeting, sizeof st->greeting, "%s",
             greeting != NULL ? greeting : "hello");
    *state = st;
    return 0;
}

static int guard_validate(void *state, const jx_host_v1 *host,
                          const jx_step *step, char *errbuf,
                          size_t errbuf_len)
{
    (void)state;
    if (host->param_string(step, "name") == NULL) {
        snprintf(errbuf, errbuf_len, "parameter 'name' is required");
        return -1;
    }
    return 0;
}

static int guard_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    const guard_state *st = state;
    const char *name = host->param_string(step, "name");

    if (name == NULL) {
        host->out_error(out, "parameter 'name' is required");
        return JX_STEP_FAILED;
    }
    host->log(ctx, JX_LOG_INFO, "greeting %s", name);
    host->ctx_progress(ctx, 0.5, "half way");
    host->out_string(out, "greeting", st->greeting);
    host->out_string(out, "name", name);
    host->out_string(out, "job", host->ctx_job_id(ctx));
    host->out_int(out, "index", host->step_index(step));
    host->out_int(out, "struct_size_host", (int64_t)host->struct_size);
    return JX_STEP_OK;
}

static void guard_fini(void *state)
{
    free(state);
}

JX_STEP_HANDLER(abi_1_0) = {
    JX_STEP_HANDLER_HEADER,
    "abi_1_0",
    "1.0.0",
    guard_types,
    JX_HANDLER_THREAD_SAFE,
    guard_init,
    guard_validate,
    guard_execute,
    guard_fini,
};
