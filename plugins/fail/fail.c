/*
 * fail - fails every step with its configured error_message (default
 * "Intentional failure").  For exercising failure paths end to end.
 */
#include <stdlib.h>
#include <string.h>

#include <jobexec/step_handler_v1.h>

#define DEFAULT_MESSAGE "Intentional failure"

typedef struct fail_state {
    char *message;
} fail_state;

static const char *const fail_types[] = {NULL};

static int fail_init(const jx_host_v1 *host, const jx_plugin_config *config,
                     void **state, char *errbuf, size_t errbuf_len)
{
    const char *message = host->config_string(config, "error_message");
    fail_state *st;

    if (message == NULL && host->config_json(config, "error_message") != NULL) {
        strncpy(errbuf, "error_message must be a string", errbuf_len - 1);
        errbuf[errbuf_len - 1] = '\0';
        return -1;
    }
    st = malloc(sizeof *st);
    if (st == NULL ||
        (st->message = strdup(message != NULL ? message : DEFAULT_MESSAGE)) ==
            NULL) {
        free(st);
        strncpy(errbuf, "out of memory", errbuf_len - 1);
        errbuf[errbuf_len - 1] = '\0';
        return -1;
    }
    *state = st;
    return 0;
}

static int fail_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    const fail_state *st = state;

    (void)ctx;
    (void)step;
    host->out_error(out, st->message);
    return JX_STEP_FAILED;
}

static void fail_fini(void *state)
{
    fail_state *st = state;
    if (st != NULL)
        free(st->message);
    free(st);
}

JX_STEP_HANDLER(fail) = {
    JX_STEP_HANDLER_HEADER,
    "fail",
    "1.0.0",
    fail_types,
    JX_HANDLER_THREAD_SAFE,
    fail_init,
    NULL,
    fail_execute,
    fail_fini,
};
