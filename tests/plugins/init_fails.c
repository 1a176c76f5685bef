/*
 * init_fails - a well-formed step handler whose init always fails with a
 * fixed reason, so the loader's "init failed: ..." path and its all or
 * nothing clean-up can be checked.
 */
#include <stdio.h>

#include <jobexec/step_handler_v1.h>

static const char *const init_fails_types[] = {"never", NULL};

static int init_fails_init(const jx_host_v1 *host,
                           const jx_plugin_config *config, void **state,
                           char *errbuf, size_t errbuf_len)
{
    (void)host;
    (void)config;
    *state = NULL;
    snprintf(errbuf, errbuf_len, "cannot reach the inventory service");
    return -1;
}

static int init_fails_execute(void *state, const jx_host_v1 *host,
                              const jx_context *ctx, const jx_step *step,
                              jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    /* Never reached: the host refuses to start when init fails. */
    host->out_error(out, "init_fails executed although its init failed");
    return JX_STEP_FAILED;
}

JX_STEP_HANDLER(init_fails) = {
    JX_STEP_HANDLER_HEADER,
    "init_fails",
    "1.0.0",
    init_fails_types,
    JX_HANDLER_THREAD_SAFE,
    init_fails_init,
    NULL,
    init_fails_execute,
    NULL,
};
