/*
 * echo - hands every parameter it receives back through each host service,
 * so that tests can follow a value (a secret, say) to every place the
 * executor writes: output, log, progress, step errors and check refusals.
 *
 * Step type "echo".  For each parameter NAME with value VALUE (a string as
 * is, any other value as its JSON text), in plan order:
 *   output    NAME: VALUE and VALUE: NAME, so {"password": "hunter2"} gives
 *             {"password": "hunter2", "hunter2": "password"};
 *   log       "param NAME=VALUE" at warning level;
 *   progress  "working with VALUE".
 * With a parameter "fail" the step fails with "failed with NAME=VALUE, ..."
 * listing every parameter; validate() refuses a step with a parameter
 * "refuse", giving "refused with NAME=VALUE, ..." as its reason.
 *
 * Config (both optional), the side channels that show what the handler
 * really received, since the host redacts everything it passes on:
 *   sink: PATH      appends "target=TARGET\n" (when there is a target) and
 *                   "NAME=VALUE\n" per parameter to PATH;
 *   stderr: true    writes "echo: NAME=VALUE\n" per parameter to stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, open_memstream */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobexec/step_handler_v1.h>

typedef struct echo_state {
    char *sink;     /* NULL: no sink file */
    int to_stderr;
} echo_state;

static const char *const echo_types[] = {"echo", NULL};

static int echo_init(const jx_host_v1 *host, const jx_plugin_config *config,
                     void **state, char *errbuf, size_t errbuf_len)
{
    const char *sink = host->config_string(config, "sink");
    echo_state *st = calloc(1, sizeof *st);

    if (st == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    if (sink == NULL && host->config_json(config, "sink") != NULL) {
        free(st);
        snprintf(errbuf, errbuf_len, "sink must be a path");
        return -1;
    }
    if (host->config_bool(config, "stderr", &st->to_stderr) != 0 &&
        host->config_json(config, "stderr") != NULL) {
        free(st);
        snprintf(errbuf, errbuf_len, "stderr must be true or false");
        return -1;
    }
    if (sink != NULL && (st->sink = strdup(sink)) == NULL) {
        free(st);
        snprintf(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    *state = st;
    return 0;
}

/* A parameter's value as text: strings as they are, the rest as JSON. */
static const char *value_of(const jx_host_v1 *host, const jx_step *step,
                            const char *key)
{
    const char *s = host->param_string(step, key);

    return s != NULL ? s : host->param_json(step, key);
}

/* "NAME=VALUE, NAME=VALUE" over every parameter; malloc'd, NULL on OOM. */
static char *list_params(const jx_host_v1 *host, const jx_step *step)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    if (fp == NULL)
        return NULL;
    for (size_t i = 0; i < host->param_count(step); i++) {
        const char *key = host->param_key(step, i);
        fprintf(fp, "%s%s=%s", i > 0 ? ", " : "", key,
                value_of(host, step, key));
    }
    if (fclose(fp) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* One write per line, so that concurrent steps never interleave a line. */
static int write_line(int fd, const char *prefix, const char *key,
                      const char *value)
{
    char *line;
    int n = asprintf(&line, "%s%s=%s\n", prefix, key, value);
    int rc;

    if (n < 0)
        return -1;
    rc = write(fd, line, (size_t)n) == (ssize_t)n ? 0 : -1;
    free(line);
    return rc;
}

static int sink_params(const echo_state *st, const jx_host_v1 *host,
                       const jx_step *step)
{
    int fd = -1, rc = 0;

    if (st->sink != NULL &&
        (fd = open(st->sink, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0600)) < 0)
        return -1;
    /* The target too, when there is one: it may carry a secret. */
    if (fd >= 0 && host->step_target(step)[0] != '\0' &&
        write_line(fd, "", "target", host->step_target(step)) != 0)
        rc = -1;
    for (size_t i = 0; i < host->param_count(step); i++) {
        const char *key = host->param_key(step, i);
        const char *value = value_of(host, step, key);

        if (fd >= 0 && write_line(fd, "", key, value) != 0)
            rc = -1;
        if (st->to_stderr && write_line(STDERR_FILENO, "echo: ", key, value))
            rc = -1;
    }
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    return rc;
}

static int echo_validate(void *state, const jx_host_v1 *host,
                         const jx_step *step, char *errbuf, size_t errbuf_len)
{
    char *list;

    (void)state;
    if (host->param_json(step, "refuse") == NULL)
        return 0;
    list = list_params(host, step);
    snprintf(errbuf, errbuf_len, "refused with %s",
             list != NULL ? list : "(out of memory)");
    free(list);
    return -1;
}

static int echo_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    size_t n = host->param_count(step);
    char *list;

    if (sink_params(state, host, step) != 0) {
        char message[256];
        snprintf(message, sizeof message, "the sink could not be written: %s",
                 strerror(errno));
        host->out_error(out, message);
        return JX_STEP_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = host->param_key(step, i);
        const char *value = value_of(host, step, key);
        char *message;

        if (host->out_string(out, key, value) != 0 ||
            host->out_string(out, value, key) != 0) {
            host->out_error(out, "output could not be recorded");
            return JX_STEP_FAILED;
        }
        host->log(ctx, JX_LOG_WARNING, "param %s=%s", key, value);
        if (asprintf(&message, "working with %s", value) >= 0) {
            host->ctx_progress(ctx, (double)(i + 1) / (double)n, message);
            free(message);
        }
    }
    if (host->param_json(step, "fail") == NULL)
        return JX_STEP_OK;
    list = list_params(host, step);
    if (list != NULL) {
        char *message;
        if (asprintf(&message, "failed with %s", list) >= 0) {
            host->out_error(out, message);
            free(message);
        }
        free(list);
    }
    return JX_STEP_FAILED;
}

static void echo_fini(void *state)
{
    echo_state *st = state;

    if (st != NULL)
        free(st->sink);
    free(st);
}

JX_STEP_HANDLER(echo) = {
    JX_STEP_HANDLER_HEADER,
    "echo",
    "1.0.0",
    echo_types,
    JX_HANDLER_THREAD_SAFE,
    echo_init,
    echo_validate,
    echo_execute,
    echo_fini,
};
