/* refuses - validate() refuses steps without a target or without
 * parameter allowed: true; execute() succeeds. */
#include <jobexec/step_handler_v1.h>

#include "common.h"

static const char *const rf_types[] = {"guarded", NULL};

static int rf_validate(void *state, const jx_host_v1 *host,
                       const jx_step *step, char *errbuf, size_t errbuf_len)
{
    int allowed = 0;

    (void)state;
    if (host->step_target(step)[0] == '\0') {
        fixture_error(errbuf, errbuf_len, "target must be set");
        return -1;
    }
    if (host->param_bool(step, "allowed", &allowed) != 0 || !allowed) {
        fixture_error(errbuf, errbuf_len, "parameter 'allowed' must be true");
        return -1;
    }
    return 0;
}

static int rf_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state, (void)ctx;
    host->out_string(out, "guarded", host->step_target(step));
    return JX_STEP_OK;
}

JX_STEP_HANDLER(refuses) = {
    JX_STEP_HANDLER_HEADER, "refuses", "1.0.0", rf_types,
    JX_HANDLER_THREAD_SAFE, NULL, rf_validate, rf_execute, NULL,
};
