/*
 * executor.c - builds an executor from a config: loads and initialises
 * its plugins (all or nothing), binds their step types, sets up the
 * health observer, opens the evidence log and key; and frees it.  Running
 * a job is run.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/config_file.h"
#include "isolate/isolate.h"
#include "run/executor.h"

static int add_plugin(jx_executor *ex, jx__plugin *p, jx_error *err)
{
    jx__plugin **grown =
        realloc(ex->plugins, (ex->n_plugins + 1) * sizeof *grown);
    if (grown == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    ex->plugins = grown;
    ex->plugins[ex->n_plugins++] = p;
    return 0;
}

void jx_executor_free(jx_executor *ex)
{
    if (ex == NULL)
        return;
    /* fini in reverse order of init, as a stack unwinds. */
    for (size_t i = ex->n_plugins; i > 0; i--)
        jx__plugin_free(ex->plugins[i - 1]);
    free(ex->plugins);
    jx__binding_free(&ex->bindings);
    jx__evlog_close(ex->log);
    jx__signer_free(ex->signer);
    jx_scope_store_close(ex->scopes);
    jx__audit_close(&ex->audit);
    if (ex->ltdl_held)
        jx__ltdl_release();
    free(ex->ahead);
    pthread_mutex_destroy(&ex->running_lock);
    free(ex);
}

static jx__plugin *find_observer(const jx_executor *ex, const char *name)
{
    for (size_t i = 0; i < ex->n_plugins; i++) {
        jx__plugin *p = ex->plugins[i];
        if (strcmp(p->written, name) == 0 ||
            (p->observer != NULL && strcmp(p->observer->name, name) == 0) ||
            (p->isolated && strcmp(p->handler->name, name) == 0))
            return p;
    }
    return NULL;
}

static int load_plugin(jx_executor *ex, const jx_config *cfg,
                       const jx__plugin_conf *pc, jx_error *err)
{
    jx__origin o = {cfg->name, pc->line, pc->col, pc->path};
    jx__plugin *p;
    int rc;

    int isolated = pc->isolation == JX__ISOLATION_PROCESS &&
                   (pc->isolation_set ||
                    !jx__plugin_is_preloaded(pc->path_written));

    /* Silently ignoring it would leave ops believing steps run in
     * parallel processes. */
    if (!isolated && pc->runners != 0)
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: plugin '%s' runs in-process; runners "
                        "applies only to isolation: process",
                        cfg->name, pc->runners_line, pc->runners_col,
                        pc->path_written);
    rc = isolated ? jx__isolate_open(pc, cfg, &p, err)
                  : jx__plugin_open(pc, cfg->name, &p, err);
    if (rc != 0)
        return rc;
    o.path = p->path;
    rc = jx__binding_collect(p, (const char *const *)pc->step_types, &o, err);
    if (rc == 0)
        rc = add_plugin(ex, p, err);
    if (rc != 0) {
        jx__plugin_free(p);
        return rc;
    }
    if ((rc = jx__binding_rebuild(&ex->bindings, ex->plugins, ex->n_plugins,
                                  &o, err)) != 0)
        return rc;
    /* An isolated plugin was initialised by its runner. */
    if (p->handler == NULL || p->handler_ready)
        return 0;
    return jx__plugin_init_handler(p, &o, err);
}

static int setup_observer(jx_executor *ex, const jx_config *cfg,
                          jx_error *err)
{
    jx__plugin *p = find_observer(ex, cfg->health_observer);
    jx__origin o = {cfg->name, cfg->health_line, cfg->health_col,
                    cfg->health_observer};

    if (p == NULL)
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: health observer '%s' is not one of the "
                        "configured plugins",
                        cfg->name, cfg->health_line, cfg->health_col,
                        cfg->health_observer);
    if (p->isolated)
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: health observer '%s' runs isolated; "
                        "observers run in-process (set isolation: inproc)",
                        cfg->name, cfg->health_line, cfg->health_col,
                        cfg->health_observer);
    if (p->observer == NULL)
        return jx__fail(err, JX_ECONFIG,
                        "%s:%u:%u: health observer '%s' (%s) exports no "
                        "health_observer_v1",
                        cfg->name, cfg->health_line, cfg->health_col,
                        cfg->health_observer, p->path);
    o.path = p->path;
    if (jx__plugin_init_observer(p, &o, err) != 0)
        return err != NULL ? err->code : JX_EINIT;
    ex->observer = p;
    return 0;
}

/* Prefixes err's message with the config position that caused it. */
static int at_config(jx_error *err, const jx_config *cfg, unsigned line,
                     unsigned col)
{
    char why[JX_ERROR_MESSAGE_SIZE];

    snprintf(why, sizeof why, "%s", err != NULL ? err->message : "");
    return jx__fail(err, JX_ECONFIG, "%s:%u:%u: %s", cfg->name, line, col,
                    why);
}

/* The key is refused before the log is touched; messages about either
 * name the config line that set it. */
static int open_evidence(jx_executor *ex, const jx_config *cfg, jx_error *err)
{
    int rc;

    if (cfg->signing_key != NULL &&
        jx__signer_load(cfg->signing_key, &ex->signer, err) != 0)
        return at_config(err, cfg, cfg->signing_key_line,
                         cfg->signing_key_col);
    rc = ex->check_only ? jx__evlog_probe(cfg->evidence_log, err)
                        : jx__evlog_open(cfg->evidence_log,
                                         cfg->evidence_fsync, &ex->log, err);
    if (rc == JX_ECONFIG)
        return at_config(err, cfg, cfg->evidence_log_line,
                         cfg->evidence_log_col);
    return rc;
}

/* The audit trail's sinks, sealed with the evidence key.  Like the
 * evidence log, the file is only checked when the executor runs nothing. */
static int open_audit(jx_executor *ex, const jx_config *cfg, jx_error *err)
{
    int rc = 0;

    ex->audit.syslog = cfg->audit_syslog && !ex->check_only;
    ex->audit.signer = ex->signer;
    if ((ex->audit.handler = strdup(cfg->audit_handler != NULL
                                        ? cfg->audit_handler
                                        : "jobexec")) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (cfg->audit_log != NULL)
        rc = ex->check_only ? jx__evlog_probe(cfg->audit_log, err)
                            : jx__evlog_open(cfg->audit_log, JX__FSYNC_STEP,
                                             &ex->audit.log, err);
    if (rc == JX_ECONFIG)
        return at_config(err, cfg, cfg->audit_log_line, cfg->audit_log_col);
    return rc;
}

static int has_isolated(const jx_executor *ex)
{
    for (size_t i = 0; i < ex->n_plugins; i++)
        if (ex->plugins[i]->isolated)
            return 1;
    return 0;
}

int jx_executor_new(const jx_config *cfg, jx_executor **out, jx_error *err)
{
    return jx_executor_open(cfg, 0, out, err);
}

int jx_executor_open(const jx_config *cfg, unsigned flags, jx_executor **out,
                     jx_error *err)
{
    jx_executor *ex;
    int rc = 0;

    *out = NULL;
    if ((flags & ~(unsigned)JX_EXECUTOR_CHECK_ONLY) != 0)
        return jx__fail(err, JX_EINVAL, "jx_executor_open: unknown flags "
                                        "0x%x", flags);
    ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    ex->check_only = (flags & JX_EXECUTOR_CHECK_ONLY) != 0;
    pthread_mutex_init(&ex->running_lock, NULL);
    if ((rc = jx__ltdl_acquire(err)) != 0) {
        free(ex);
        return rc;
    }
    ex->ltdl_held = 1;
    for (size_t i = 0; cfg != NULL && i < cfg->n_plugins && rc == 0; i++)
        rc = load_plugin(ex, cfg, &cfg->plugins[i], err);
    if (rc == 0 && cfg != NULL && cfg->health_observer != NULL)
        rc = setup_observer(ex, cfg, err);
    if (rc == 0 && cfg != NULL && cfg->evidence_log != NULL)
        rc = open_evidence(ex, cfg, err);
    if (rc == 0 && cfg != NULL)
        rc = open_audit(ex, cfg, err);
    /* An executor that runs nothing needs no scope store, and must not
     * create one. */
    if (rc == 0 && cfg != NULL && cfg->scopes_db != NULL && !ex->check_only &&
        (rc = jx_scope_store_open(cfg->scopes_db, &ex->scopes, err)) != 0)
        rc = at_config(err, cfg, cfg->scopes_line, cfg->scopes_col);
    if (rc == 0 && !ex->check_only && has_isolated(ex))
        jx__isolate_sweep_cgroups();
    if (rc != 0) {
        /* All or nothing: never run with part of the configured handlers. */
        jx_executor_free(ex);
        return rc;
    }
    *out = ex;
    return 0;
}

int jx_executor_add_handler(jx_executor *ex, const step_handler_v1 *desc,
                            const char *const *extra_types,
                            const char *config_json, jx_error *err)
{
    jx__origin o = {NULL, 0, 0, "(in-process)"};
    jx__plugin *p;
    int rc;

    if (ex == NULL || desc == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_add_handler: NULL "
                                        "executor or descriptor");
    if ((rc = jx__plugin_wrap(desc, NULL, config_json, &p, err)) != 0)
        return rc;
    if ((rc = jx__binding_collect(p, extra_types, &o, err)) != 0 ||
        (rc = add_plugin(ex, p, err)) != 0) {
        jx__plugin_free(p);
        return rc;
    }
    rc = jx__binding_rebuild(&ex->bindings, ex->plugins, ex->n_plugins, &o,
                             err);
    if (rc == 0)
        rc = jx__plugin_init_handler(p, &o, err);
    if (rc != 0) {
        /* Take it back out: the executor stays as it was. */
        jx__binding_drop(&ex->bindings, p);
        ex->n_plugins--;
        jx__plugin_free(p);
    }
    return rc;
}

int jx_executor_set_health_observer(jx_executor *ex,
                                    const health_observer_v1 *desc,
                                    const char *config_json, jx_error *err)
{
    jx__origin o = {NULL, 0, 0, "(in-process)"};
    jx__plugin *p;
    int rc;

    if (ex == NULL || desc == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_set_health_observer: "
                                        "NULL executor or descriptor");
    if ((rc = jx__plugin_wrap(NULL, desc, config_json, &p, err)) != 0)
        return rc;
    if ((rc = jx__plugin_init_observer(p, &o, err)) != 0 ||
        (rc = add_plugin(ex, p, err)) != 0) {
        jx__plugin_free(p);
        return rc;
    }
    ex->observer = p;
    return 0;
}

size_t jx_executor_plugin_count(const jx_executor *ex)
{
    return ex->n_plugins;
}

int jx_executor_plugin_info(const jx_executor *ex, size_t i,
                            jx_plugin_info *out)
{
    static const char *const none[] = {NULL};
    const jx__plugin *p;
    uint32_t flags;

    if (i >= ex->n_plugins)
        return JX_EINVAL;
    p = ex->plugins[i];
    flags = p->handler != NULL ? p->handler->flags : p->observer->flags;
    out->name = p->handler != NULL ? p->handler->name : p->observer->name;
    out->version =
        p->handler != NULL ? p->handler->version : p->observer->version;
    out->path = p->path;
    out->abi_version = JX_ABI_VERSION;
    out->thread_safe = (flags & JX_HANDLER_THREAD_SAFE) != 0;
    out->has_handler = p->handler != NULL;
    out->is_health_observer = p == ex->observer;
    out->isolated = p->isolated;
    out->runners = p->runners;
    out->runner_user = p->runner_user;
    out->step_types = p->bound != NULL ? (const char *const *)p->bound : none;
    return 0;
}
