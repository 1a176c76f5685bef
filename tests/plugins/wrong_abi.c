/*
 * wrong_abi - a step handler built against a future major version of the
 * ABI (abi_version 2).  The magic is right, so the refusal comes from the
 * version check.
 */
#include <jobexec/step_handler_v1.h>

static const char *const wrong_abi_types[] = {"wrong_abi", NULL};

static int wrong_abi_execute(void *state, const jx_host_v1 *host,
                             const jx_context *ctx, const jx_step *step,
                             jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    host->out_bool(out, "ran", 1);
    return JX_STEP_OK;
}

JX_STEP_HANDLER(wrong_abi) = {
    JX_STEP_HANDLER_MAGIC,
    2u,
    (uint32_t)sizeof(step_handler_v1),
    "wrong_abi",
    "2.0.0",
    wrong_abi_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    wrong_abi_execute,
    NULL,
};
