/* bad_magic - a descriptor whose magic is not JX_STEP_HANDLER_MAGIC. */
#include <jobexec/step_handler_v1.h>

static int bm_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)host, (void)ctx, (void)step, (void)out;
    return JX_STEP_OK;
}

JX_STEP_HANDLER(bad_magic) = {
    0xdeadbeef, JX_ABI_VERSION, (uint32_t)sizeof(step_handler_v1),
    "bad_magic", "1.0.0", NULL, 0, NULL, NULL, bm_execute, NULL,
};
