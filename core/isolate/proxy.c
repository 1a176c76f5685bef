/*
 * proxy.c - an isolated plugin as the executor sees it: a step handler
 * whose execute and validate send the step to a runner and mirror its
 * answer, and jx__isolate_open(), which starts the first runner and
 * learns from it what the plugin is.
 */
#include "config.h"

#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "isolate/cgroup.h"
#include "isolate/frame.h"
#include "isolate/isolate.h"
#include "isolate/protocol.h"
#include "isolate/runner.h"

/* ---- start-up ---------------------------------------------------------- */

/* The first HELO tells the pool what the plugin is; a replacement runner
 * must be the same plugin. */
static int read_hello(jx__pool *p, const char *data, int first,
                      jx_error *err)
{
    jx__msg_hello m;
    json_t *keep, *t;
    size_t i;
    int rc = 0;

    if (jx__msg_hello_decode(data, &m, &keep) != 0) {
        rc = jx__fail(err, JX_ELOAD, "protocol error: malformed HELO");
    } else if (!first) {
        if (strcmp(m.name, p->name) != 0)
            rc = jx__fail(err, JX_ELOAD, "the plugin changed its name from "
                                         "'%s' to '%s'", p->name, m.name);
    } else if ((p->name = strdup(m.name)) == NULL ||
               (p->version = strdup(m.version)) == NULL ||
               (p->types = calloc(json_array_size(m.step_types) + 1,
                                  sizeof *p->types)) == NULL) {
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    } else {
        json_array_foreach(m.step_types, i, t)
            if ((p->types[i] = strdup(json_string_value(t))) == NULL) {
                rc = jx__fail(err, JX_ENOMEM, "out of memory");
                break;
            }
        p->has_validate = m.has_validate;
    }
    json_decref(keep);
    return rc;
}

/* The runner's own refusal: its loader's message and code. */
static int read_fail(const char *data, jx_error *err)
{
    const char *message;
    json_t *keep;
    int code, rc;

    jx__msg_fail_decode(data, &code, &message, &keep);
    rc = jx__fail(err, code, "%s", message);
    json_decref(keep);
    return rc;
}

/* Starts the runner and waits until the plugin is open and initialised. */
static int start(jx__runner *r, int first, jx_error *err)
{
    jx__waiting w = {.r = r, .cancel_fd = -1, .want = JX__MSG_HELO,
                     .want_alt = JX__MSG_FAIL, .want_max = JX__MSG_SMALL_MAX};
    int rc;

    if ((rc = jx__runner_spawn(r, err)) != 0)
        return rc;
    w.deadline = jx__monotonic() + JX__START_TIMEOUT_S;
    if (jx__frame_write(r->chan, JX__MSG_LOAD, r->pool->load,
                        strlen(r->pool->load)) != 0 ||
        jx__wait_for(&w) != 0) {
        size_t dropped;
        char *text;

        if (r->pid > 0)
            jx__describe_exit(r, w.why, sizeof w.why);
        text = jx__runner_take_stderr(r, &dropped);
        rc = jx__fail(err, JX_ELOAD, "the runner failed at start: %s%s%s",
                      w.timed_out ? "plugin init did not finish in time"
                                  : w.why,
                      text ? "; stderr: " : "", text ? text : "");
        free(text);
        return rc;
    }
    rc = w.got == JX__MSG_HELO ? read_hello(r->pool, w.data, first, err)
                               : read_fail(w.data, err);
    free(w.data);
    if (rc != 0)
        jx__runner_kill(r);
    return rc;
}

static int ensure_running(jx__runner *r, jx_output *out)
{
    jx_error err = {0, ""};

    if (r->pid > 0)
        return 0;
    if (start(r, 0, &err) == 0)
        return 0;
    if (asprintf(&out->error, "the runner could not be restarted: %s",
                 err.message) < 0)
        out->error = NULL;
    return -1;
}

/* ---- execute ----------------------------------------------------------- */

/* Mirrors the runner's DONE into out.  A DONE that is not what a runner
 * sends means the runner is not sane any more: it is replaced. */
static int read_done(jx__runner *r, const char *data, jx_output *out)
{
    int rc;

    if (jx__msg_done_decode(data, out, &rc) == 0)
        return rc;
    jx__runner_kill(r);
    if (asprintf(&out->error, "protocol error: malformed DONE") < 0)
        out->error = NULL;
    return JX_STEP_FAILED;
}

/* One step on runner r, which the caller has taken. */
static int execute_on(jx__runner *r, const jx_context *ctx,
                      const jx_step *step, jx_output *out)
{
    jx__waiting w = {.r = r, .ctx = ctx, .cancel_fd = ctx->cancel_fd,
                 .want = JX__MSG_DONE, .deadline = ctx->deadline};
    jx__buf req = {0};
    /* Read once: the request and the wait must agree on it. */
    int cancelled = ctx->cancelled != NULL && atomic_load(ctx->cancelled);
    int rc;

    w.want_max = (size_t)r->pool->limits.max_output_bytes;
    if (ensure_running(r, out) != 0)
        return JX_STEP_FAILED;
    if (jx__msg_request_encode(&req, ctx, step->step, cancelled) != 0) {
        jx__buf_free(&req);
        out->failed_alloc = 1;
        return JX_STEP_FAILED;
    }
    /* Already cancelled: the request says so itself; only the grace
     * runs. */
    if (cancelled) {
        w.cancelled = 1;
        w.deadline = jx__monotonic() +
                     (double)r->pool->limits.kill_grace_ms / 1e3;
    }
    jx__runner_drop_stderr(r);
    r->steps++; /* the runner counts it as it reads it */
    rc = jx__frame_write(r->chan, JX__MSG_EXEC, req.data, req.len);
    jx__buf_free(&req);
    if (rc != 0) {
        jx__describe_exit(r, w.why, sizeof w.why);
        rc = -1;
    } else {
        rc = jx__wait_for(&w);
    }
    out->stderr_text = jx__runner_take_stderr(r, &out->stderr_dropped);
    if (rc == 0) {
        rc = read_done(r, w.data, out);
        free(w.data);
        /* What the runner's own sweep missed is still in its cgroup. */
        if (r->pid > 0 && r->cgroup != NULL)
            out->leftover_processes +=
                jx__cgroup_kill_others(r->cgroup, r->pid);
        if (w.cancelled && rc != JX_STEP_OK) {
            free(out->error);
            out->error = strdup("cancelled");
        }
        return rc;
    }
    free(out->error);
    if (w.timed_out)
        rc = asprintf(&out->error, "timed out after %" PRId64 " s",
                      step->step->timeout_seconds);
    else
        rc = asprintf(&out->error, "%s", w.why);
    if (rc < 0)
        out->error = NULL;
    return JX_STEP_FAILED;
}

static int proxy_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    jx__pool *p = state;
    const char *why = "";
    jx__runner *r = jx__pool_take(p, ctx->deadline, ctx->cancelled, &why);
    int rc;

    (void)host;
    if (r == NULL) {
        /* Waiting for a free runner counts against the step's time. */
        if (strcmp(why, "timed out") == 0)
            rc = asprintf(&out->error, "timed out after %" PRId64
                          " s (waiting for a free runner)",
                          step->step->timeout_seconds);
        else
            rc = asprintf(&out->error, "%s", why);
        if (rc < 0)
            out->error = NULL;
        return JX_STEP_FAILED;
    }
    rc = execute_on(r, ctx, step, out);
    jx__pool_give_back(p, r);
    return rc;
}

/* validate on runner r, which the caller has taken. */
static int validate_on(jx__runner *r, const jx_step *step, char *why,
                       size_t why_len)
{
    jx_context ctx = {0};
    jx__waiting w = {.r = r, .cancel_fd = -1, .want = JX__MSG_VRES,
                     .want_max = JX__MSG_SMALL_MAX};
    jx_output out = {0};
    jx__buf req = {0};
    int rc;

    if (ensure_running(r, &out) != 0) {
        snprintf(why, why_len, "%s", out.error ? out.error : "out of memory");
        free(out.error);
        return -1;
    }
    /* validate sees no job: a context with the step's own plan fields. */
    ctx.plan = step->plan;
    ctx.started_at = "";
    ctx.deadline = jx__monotonic() + JX__START_TIMEOUT_S;
    w.deadline = ctx.deadline;
    if (jx__msg_request_encode(&req, &ctx, step->step, 0) != 0 ||
        jx__frame_write(r->chan, JX__MSG_VALI, req.data, req.len) != 0) {
        jx__buf_free(&req);
        snprintf(why, why_len, "the runner did not take the step");
        jx__runner_kill(r);
        return -1;
    }
    jx__buf_free(&req);
    rc = jx__wait_for(&w);
    jx__runner_drop_stderr(r); /* validate has nowhere to show it */
    if (rc != 0) {
        snprintf(why, why_len, "%s", w.timed_out ? "validate timed out"
                                                 : w.why);
        return -1;
    }
    rc = jx__msg_vres_decode(w.data, why, why_len);
    free(w.data);
    return rc;
}

static int proxy_validate(void *state, const jx_host_v1 *host,
                          const jx_step *step, char *why, size_t why_len)
{
    jx__pool *p = state;
    const char *failed = "";
    jx__runner *r;
    int rc;

    (void)host;
    if (!p->has_validate)
        return 0;
    /* The check waits no longer than the step itself would have (a view
     * without a deadline: as long as a runner may take to start). */
    if ((r = jx__pool_take(p,
                           step->wait_deadline > 0
                               ? step->wait_deadline
                               : jx__monotonic() + JX__START_TIMEOUT_S,
                           step->cancelled, &failed)) == NULL) {
        snprintf(why, why_len, "could not validate: %s waiting for a free "
                 "runner", failed);
        return -1;
    }
    rc = validate_on(r, step, why, why_len);
    jx__pool_give_back(p, r);
    return rc;
}

static void proxy_fini(void *state)
{
    jx__pool_free(state);
}

/* ---- opening ----------------------------------------------------------- */

/* "user:group" for ids, by name where they have one; NULL on OOM. */
static char *user_name(uid_t uid, gid_t gid)
{
    const struct passwd *pw = getpwuid(uid);
    const struct group *gr = getgrgid(gid);
    char *out;

    if (asprintf(&out, "%s%s%s", pw != NULL ? pw->pw_name : "?", ":",
                 gr != NULL ? gr->gr_name : "?") < 0)
        return NULL;
    return out;
}

static char *load_message(const jx__pool *p, const jx__plugin_conf *pc,
                          const jx_config *cfg)
{
    jx__msg_load m = {
        .path = pc->path,
        .written = pc->path_written,
        .config = pc->config,
        .config_name = cfg->name,
        .line = pc->line,
        .col = pc->col,
        .address_space_mb = (int64_t)p->limits.max_address_space_mb,
        .cpu_seconds = (int64_t)p->limits.max_cpu_seconds,
        .open_files = (int64_t)p->limits.max_open_files,
        .drop = p->drop,
        .uid = (int64_t)p->uid,
        .gid = (int64_t)p->gid,
    };
    return jx__msg_load_encode(&m);
}

/* Prefixes err's message with the plugin's place in the config. */
static int at_plugin(jx_error *err, int code, const jx_config *cfg,
                     const jx__plugin_conf *pc)
{
    char why[JX_ERROR_MESSAGE_SIZE];

    if (err == NULL)
        return code;
    /* Messages from the runner's loader already name the place. */
    if (strncmp(err->message, cfg->name, strlen(cfg->name)) == 0)
        return err->code = code;
    snprintf(why, sizeof why, "%s", err->message);
    return jx__fail(err, code, "%s:%u:%u: plugin '%s': %s", cfg->name,
                    pc->line, pc->col, pc->path, why);
}

int jx__isolate_open(const jx__plugin_conf *pc, const jx_config *cfg,
                     jx__plugin **out, jx_error *err)
{
    jx__pool *p;
    jx__runner *first;
    int rc;

    *out = NULL;
    if ((rc = jx__plugin_check_path(pc, cfg->name, err)) != 0)
        return rc;
    /* The runner is told them in JSON, which carries only UTF-8. */
    if (!jx__utf8_valid(cfg->name) || !jx__utf8_valid(pc->path) ||
        !jx__utf8_valid(pc->path_written))
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: plugin '%s': an isolated plugin needs a "
                        "plugin path and config file name that are valid "
                        "UTF-8",
                        cfg->name, pc->line, pc->col, pc->path_written);
    if ((p = jx__pool_new(pc, cfg)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if ((rc = jx__pool_resolve_user(p, &cfg->runner, err)) != 0) {
        jx__pool_free(p);
        return at_plugin(err, rc, cfg, pc);
    }
    if ((p->load = load_message(p, pc, cfg)) == NULL ||
        (first = jx__runner_new(p)) == NULL) {
        jx__pool_free(p);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    p->runners[p->n_runners++] = first;
    p->cgroup_parent = jx__cgroup_parent();
    /* The first runner tells what the plugin is; more start on demand. */
    if ((rc = start(first, 1, err)) != 0) {
        jx__pool_free(p);
        return at_plugin(err, rc, cfg, pc);
    }
    p->desc = (step_handler_v1){
        .magic = JX_STEP_HANDLER_MAGIC,
        .abi_version = JX_ABI_VERSION,
        .struct_size = sizeof(step_handler_v1),
        .name = p->name,
        .version = p->version,
        .step_types = (const char *const *)p->types,
        .flags = 0, /* one step at a time per runner */
        .execute = proxy_execute,
        .validate = proxy_validate,
        .fini = proxy_fini,
    };
    if ((rc = jx__plugin_proxy(pc, &p->desc, p, out, err)) != 0) {
        jx__pool_free(p);
        return rc;
    }
    (*out)->runners = (unsigned)p->limits.max_per_plugin;
    (*out)->runner_user = user_name(p->drop ? p->uid : geteuid(),
                                    p->drop ? p->gid : getegid());
    return 0;
}
