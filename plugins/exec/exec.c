/*
 * exec - runs a command for a step of type "command".
 *
 * Parameters: argv (required, no shell), env, cwd, stdin (request.c).
 * Output: exit_status (or signal and signal_name), stdout, stderr (each
 * at most max_output_bytes, with stdout_truncated / stderr_truncated),
 * duration_seconds.  A command that exits non-zero fails the step
 * ("command exited with status N"), as does one killed by a signal
 * ("command killed by signal N (NAME)").  At the step's deadline or when
 * the job is cancelled, the command's process group gets SIGTERM,
 * kill_grace_ms, then SIGKILL.
 *
 * Config: max_output_bytes (65536, per stream), kill_grace_ms (300; keep
 * it below runner.max kill_grace_ms when isolated, so the command is gone
 * before the runner is), path and lang (PATH and LANG given to commands).
 *
 * Thread-safe: a step's command, pipes and buffers are its own.
 */
#define _GNU_SOURCE /* asprintf, sigabbrev_np, posix_spawn_*_np */

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

static const char *const exec_types[] = {"command", NULL};

static int config_int(const jx_host_v1 *host, const jx_plugin_config *config,
                      const char *key, int64_t dflt, int64_t lo, int64_t hi,
                      int64_t *out, char *why, size_t why_len)
{
    if (host->config_json(config, key) == NULL) {
        *out = dflt;
        return 0;
    }
    if (host->config_int(config, key, out) != 0 || *out < lo || *out > hi) {
        exec_why(why, why_len, "config key '%s' must be an integer from %lld "
                               "to %lld",
                 key, (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static void exec_fini(void *state)
{
    exec_config *cfg = state;

    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->lang);
    free(cfg);
}

static int exec_init(const jx_host_v1 *host, const jx_plugin_config *config,
                     void **state, char *why, size_t why_len)
{
    exec_config *cfg = calloc(1, sizeof *cfg);
    const char *path = host->config_string(config, "path");
    const char *lang = host->config_string(config, "lang");
    int64_t max, grace;

    if (cfg == NULL) {
        exec_why(why, why_len, "out of memory");
        return -1;
    }
    if (config_int(host, config, "max_output_bytes", EXEC_DEFAULT_MAX_OUTPUT,
                   0, 64 * 1024 * 1024, &max, why, why_len) != 0 ||
        config_int(host, config, "kill_grace_ms", EXEC_DEFAULT_GRACE_MS, 0,
                   60000, &grace, why, why_len) != 0) {
        exec_fini(cfg);
        return -1;
    }
    cfg->max_output_bytes = (size_t)max;
    cfg->kill_grace_ms = (long)grace;
    cfg->path = strdup(path != NULL ? path : EXEC_DEFAULT_PATH);
    cfg->lang = strdup(lang != NULL ? lang : EXEC_DEFAULT_LANG);
    if (cfg->path == NULL || cfg->lang == NULL) {
        exec_fini(cfg);
        exec_why(why, why_len, "out of memory");
        return -1;
    }
    *state = cfg;
    return 0;
}

static int exec_validate(void *state, const jx_host_v1 *host,
                         const jx_step *step, char *why, size_t why_len)
{
    return exec_request_read(state, host, step, NULL, why, why_len);
}

/* Bytes a command wrote, as a string the evidence can hold: invalid UTF-8
 * becomes U+FFFD, so binary output cannot fail the step. */
static char *as_utf8(const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    if (out == NULL)
        return NULL;
    while (p < end) {
        size_t n = *p < 0x80           ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        int ok = n > 0 && (size_t)(end - p) >= n && *p != 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if (ok && n == 2)
            ok = *p >= 0xc2;
        if (ok && n == 3)
            ok = !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0);
        if (ok && n == 4)
            ok = *p <= 0xf4 && !(*p == 0xf0 && p[1] < 0x90) &&
                 !(*p == 0xf4 && p[1] >= 0x90);
        if (ok) {
            memcpy(o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

static int put_stream(const jx_host_v1 *host, jx_output *out,
                      const char *key, const char *flag, const char *data,
                      size_t len, int truncated)
{
    char *text = as_utf8(data, len);
    int rc = text != NULL ? host->out_string(out, key, text) : -1;

    free(text);
    return rc | host->out_bool(out, flag, truncated);
}

static int put_result(const jx_host_v1 *host, jx_output *out,
                      const exec_result *r)
{
    int rc = 0;

    if (r->exited)
        rc |= host->out_int(out, "exit_status", r->exit_status);
    else if (r->signal != 0)
        rc |= host->out_int(out, "signal", r->signal) |
              host->out_string(out, "signal_name",
                               sigabbrev_np(r->signal) != NULL
                                   ? sigabbrev_np(r->signal)
                                   : "?");
    return rc |
           put_stream(host, out, "stdout", "stdout_truncated", r->out,
                      r->out_len, r->out_truncated) |
           put_stream(host, out, "stderr", "stderr_truncated", r->err,
                      r->err_len, r->err_truncated) |
           host->out_double(out, "duration_seconds", r->seconds);
}

/* The step's error for a command that did not succeed, or NULL. */
static void judge(const exec_result *r, char *why, size_t why_len)
{
    why[0] = '\0';
    if (r->cancelled)
        exec_why(why, why_len, "command cancelled: killed");
    else if (r->timed_out)
        exec_why(why, why_len, "command did not finish within the step's "
                               "timeout: killed after %.1f s",
                 r->seconds);
    else if (r->signal != 0)
        exec_why(why, why_len, "command killed by signal %d (SIG%s)",
                 r->signal,
                 sigabbrev_np(r->signal) != NULL ? sigabbrev_np(r->signal)
                                                 : "?");
    else if (r->exit_status != 0)
        exec_why(why, why_len, "command exited with status %d",
                 r->exit_status);
}

static int exec_execute(void *state, const jx_host_v1 *host,
                        const jx_context *ctx, const jx_step *step,
                        jx_output *out)
{
    const exec_config *cfg = state;
    exec_request req;
    exec_result res;
    char why[512];
    int rc;

    if (exec_request_read(cfg, host, step, &req, why, sizeof why) != 0 ||
        exec_run(cfg, host, ctx, &req, &res, why, sizeof why) != 0) {
        exec_request_free(&req);
        host->out_error(out, why);
        return JX_STEP_FAILED;
    }
    exec_request_free(&req);
    judge(&res, why, sizeof why);
    rc = put_result(host, out, &res);
    exec_result_free(&res);
    if (why[0] != '\0') {
        host->out_error(out, why);
        return JX_STEP_FAILED;
    }
    return rc == 0 ? JX_STEP_OK : JX_STEP_FAILED;
}

JX_STEP_HANDLER(exec) = {
    JX_STEP_HANDLER_HEADER,
    "exec",
    "1.0.0",
    exec_types,
    JX_HANDLER_THREAD_SAFE,
    exec_init,
    exec_validate,
    exec_execute,
    exec_fini,
};
