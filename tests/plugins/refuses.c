/*
 * refuses - a step handler with a validate() that refuses steps, so that
 * `jobexec check` and jx_executor_check() can be seen to reject a plan
 * before anything runs.  A step is accepted only when it names a target and
 * its parameter "allowed" is boolean true.
 */
#include <stdio.h>

#include <jobexec/step_handler_v1.h>

static const char *const refuses_types[] = {"guarded", NULL};

static int refuses_validate(void *state, const jx_host_v1 *host,
                            const jx_step *step, char *errbuf,
                            size_t errbuf_len)
{
    int allowed = 0;

    (void)state;
    if (host->step_target(step)[0] == '\0') {
        snprintf(errbuf, errbuf_len, "target must be set");
        return -1;
    }
    if (host->param_bool(step, "allowed", &allowed) != 0 || !allowed) {
        snprintf(errbuf, errbuf_len, "parameter 'allowed' must be true");
        return -1;
    }
    return 0;
}

static int refuses_execute(void *state, const jx_host_v1 *host,
                           const jx_context *ctx, const jx_step *step,
                           jx_output *out)
{
    (void)state;
    (void)ctx;
    if (host->out_string(out, "guarded", host->step_target(step)) != 0) {
        host->out_error(out, "output could not be recorded");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

JX_STEP_HANDLER(refuses) = {
    JX_STEP_HANDLER_HEADER,
    "refuses",
    "1.0.0",
    refuses_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    refuses_validate,
    refuses_execute,
    NULL,
};
