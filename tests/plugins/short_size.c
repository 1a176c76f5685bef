/*
 * short_size - a step handler whose struct_size (16) covers only the three
 * header members: magic and abi_version are right, so the refusal comes
 * from the size check, before any member past the header is read.
 */
#include <jobexec/step_handler_v1.h>

static const char *const short_size_types[] = {"short_size", NULL};

static int short_size_execute(void *state, const jx_host_v1 *host,
                              const jx_context *ctx, const jx_step *step,
                              jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    host->out_bool(out, "ran", 1);
    return JX_STEP_OK;
}

JX_STEP_HANDLER(short_size) = {
    JX_STEP_HANDLER_MAGIC,
    JX_ABI_VERSION,
    16u,
    "short_size",
    "1.0.0",
    short_size_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    short_size_execute,
    NULL,
};
