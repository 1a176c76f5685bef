/* wrong_abi - a descriptor built for a future major version of the ABI. */
#include <jobexec/step_handler_v1.h>

static int wa_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)host, (void)ctx, (void)step, (void)out;
    return JX_STEP_OK;
}

JX_STEP_HANDLER(wrong_abi) = {
    JX_STEP_HANDLER_MAGIC, 2, (uint32_t)sizeof(step_handler_v1),
    "wrong_abi", "1.0.0", NULL, 0, NULL, NULL, wa_execute, NULL,
};
