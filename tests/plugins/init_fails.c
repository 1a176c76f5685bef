/* init_fails - a well-formed handler whose init always refuses. */
#include <jobexec/step_handler_v1.h>

#include "common.h"

static const char *const if_types[] = {"never", NULL};

static int if_init(const jx_host_v1 *host, const jx_plugin_config *config,
                   void **state, char *errbuf, size_t errbuf_len)
{
    (void)host, (void)config, (void)state;
    fixture_error(errbuf, errbuf_len, "cannot reach the inventory service");
    return -1;
}

static int if_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)host, (void)ctx, (void)step, (void)out;
    return JX_STEP_OK;
}

JX_STEP_HANDLER(init_fails) = {
    JX_STEP_HANDLER_HEADER, "init_fails", "1.0.0", if_types, 0,
    if_init, NULL, if_execute, NULL,
};
