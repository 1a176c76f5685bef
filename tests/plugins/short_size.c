/* short_size - a descriptor that claims to be smaller than ABI 1.0's. */
#include <jobexec/step_handler_v1.h>

static int ss_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)host, (void)ctx, (void)step, (void)out;
    return JX_STEP_OK;
}

JX_STEP_HANDLER(short_size) = {
    JX_STEP_HANDLER_MAGIC, JX_ABI_VERSION, 16,
    "short_size", "1.0.0", NULL, 0, NULL, NULL, ss_execute, NULL,
};
