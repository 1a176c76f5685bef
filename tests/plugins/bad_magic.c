/*
 * bad_magic - a step handler whose descriptor carries the wrong magic
 * (0xdeadbeef).  Everything else is well formed, so the loader's refusal
 * can only come from the magic check, which runs first.
 */
#include <jobexec/step_handler_v1.h>

static const char *const bad_magic_types[] = {"bad_magic", NULL};

static int bad_magic_execute(void *state, const jx_host_v1 *host,
                             const jx_context *ctx, const jx_step *step,
                             jx_output *out)
{
    (void)state;
    (void)ctx;
    (void)step;
    host->out_bool(out, "ran", 1);
    return JX_STEP_OK;
}

JX_STEP_HANDLER(bad_magic) = {
    UINT64_C(0xdeadbeef),
    JX_ABI_VERSION,
    (uint32_t)sizeof(step_handler_v1),
    "bad_magic",
    "1.0.0",
    bad_magic_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    bad_magic_execute,
    NULL,
};
