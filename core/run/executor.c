/*
 * executor.c - builds an executor from a config and runs jobs.
 *
 * The run loop is the invariants table of DESIGN.md:
 *   EXEC-001  steps run in plan order (the plan reader has already refused
 *             indexes that do not strictly increase);
 *   EXEC-002  every started step gets a step_finished record, delivered to
 *             every sink before the next step starts;
 *   EXEC-003  the loop ends at the first step that did not complete;
 *   EXEC-004  health is observed before the job and after every step whose
 *             handler returned; observers only ever produce a snapshot;
 *   EXEC-005  handlers get const views; nothing here writes the plan;
 *   EXEC-006  each handler is called at most once per step: there is no
 *             retry path in this file;
 *   JOB-001   a plan without a contract_id UUID never gets this far.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "input/config_file.h"
#include "evidence/document.h"
#include "evidence/chain.h"
#include "plugin/host.h"
#include "isolate/isolate.h"
#include "plugin/loader.h"
#include "input/plan.h"
#include "input/redact.h"

typedef struct binding {
    const char *step_type; /* owned by the plugin's bound list */
    jx__plugin *plugin;
    size_t order;          /* the plugin's position, to break ties */
} binding;

struct jx_executor {
    jx__plugin **plugins;
    size_t n_plugins;
    binding *bindings; /* sorted by step_type */
    size_t n_bindings;
    jx__plugin *observer; /* may be NULL */
    jx__evlog *log;       /* may be NULL */
    jx__signer *signer;   /* may be NULL */
    int ltdl_held;
    int check_only; /* JX_EXECUTOR_CHECK_ONLY: runs nothing */
    /* Jobs running now, for jx_executor_cancel(). */
    pthread_mutex_t running_lock;
    struct job *running;
};

struct jx_result {
    jx_job_status status;
    char *reason;
    char job_id[JX_UUID_LEN + 1];
    size_t executed, succeeded, failed;
    double duration;
};

/* ---- building ----------------------------------------------------------- */

static int type_cmp(const void *a, const void *b)
{
    return strcmp(((const binding *)a)->step_type,
                  ((const binding *)b)->step_type);
}

static int binding_cmp(const void *a, const void *b)
{
    int c = type_cmp(a, b);
    size_t oa = ((const binding *)a)->order, ob = ((const binding *)b)->order;
    return c != 0 ? c : (oa > ob) - (oa < ob);
}

static const binding *find_binding(const jx_executor *ex, const char *type)
{
    binding key = {type, NULL, 0};
    if (ex->n_bindings == 0)
        return NULL;
    return bsearch(&key, ex->bindings, ex->n_bindings, sizeof key, type_cmp);
}

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

/* Records the step types p handles: its own and those the config adds. */
static int collect_types(jx__plugin *p, const char *const *extra,
                         const jx__origin *o, jx_error *err)
{
    size_t n_own = 0, n_extra = 0, n = 0;

    if (p->handler == NULL) {
        if (extra != NULL && extra[0] != NULL)
            return jx__fail(err, JX_ECONFIG,
                            "%s:%u:%u: plugin '%s': step_types given, but it "
                            "exports no step_handler_v1",
                            o->file, o->line, o->col, o->path);
        return 0;
    }
    while (p->handler->step_types != NULL &&
           p->handler->step_types[n_own] != NULL)
        n_own++;
    while (extra != NULL && extra[n_extra] != NULL)
        n_extra++;
    p->bound = calloc(n_own + n_extra + 1, sizeof *p->bound);
    if (p->bound == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_own + n_extra; i++) {
        const char *t = i < n_own ? p->handler->step_types[i]
                                  : extra[i - n_own];
        int seen = 0;
        for (size_t k = 0; k < n; k++)
            seen |= strcmp(p->bound[k], t) == 0;
        if (seen)
            continue; /* listed by the plugin and again by the config */
        if ((p->bound[n] = strdup(t)) == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        p->n_bound = ++n;
    }
    return 0;
}

/* Rebuilds the sorted table; a step type bound twice is refused, naming
 * both plugins and, for a config, where the later one stands. */
static int rebuild_bindings(jx_executor *ex, const jx__origin *o,
                            jx_error *err)
{
    size_t total = 0, n = 0;
    binding *table;

    for (size_t i = 0; i < ex->n_plugins; i++)
        total += ex->plugins[i]->n_bound;
    table = malloc((total ? total : 1) * sizeof *table);
    if (table == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < ex->n_plugins; i++)
        for (size_t k = 0; k < ex->plugins[i]->n_bound; k++)
            table[n++] = (binding){ex->plugins[i]->bound[k], ex->plugins[i], i};
    qsort(table, n, sizeof *table, binding_cmp);
    for (size_t i = 1; i < n; i++) {
        const jx__plugin *a = table[i - 1].plugin, *b = table[i].plugin;
        int rc;
        if (strcmp(table[i - 1].step_type, table[i].step_type) != 0)
            continue;
        if (o != NULL && o->file != NULL)
            rc = jx__fail(err, JX_ECONFIG,
                          "%s:%u:%u: step type '%s' is bound to both '%s' "
                          "(%s) and '%s' (%s)",
                          o->file, o->line, o->col, table[i].step_type,
                          a->written, a->path, b->written, b->path);
        else
            rc = jx__fail(err, JX_ECONFIG,
                          "step type '%s' is bound to both '%s' (%s) and "
                          "'%s' (%s)",
                          table[i].step_type, a->written, a->path, b->written,
                          b->path);
        free(table);
        return rc;
    }
    free(ex->bindings);
    ex->bindings = table;
    ex->n_bindings = n;
    return 0;
}

/* Drops p's bindings in place: taking a plugin back out must not fail
 * for want of memory and leave bindings to a freed plugin. */
static void unbind(jx_executor *ex, const jx__plugin *p)
{
    size_t n = 0;

    for (size_t i = 0; i < ex->n_bindings; i++)
        if (ex->bindings[i].plugin != p)
            ex->bindings[n++] = ex->bindings[i];
    ex->n_bindings = n;
}

void jx_executor_free(jx_executor *ex)
{
    if (ex == NULL)
        return;
    /* fini in reverse order of init, as a stack unwinds. */
    for (size_t i = ex->n_plugins; i > 0; i--)
        jx__plugin_free(ex->plugins[i - 1]);
    free(ex->plugins);
    free(ex->bindings);
    jx__evlog_close(ex->log);
    jx__signer_free(ex->signer);
    if (ex->ltdl_held)
        jx__ltdl_release();
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

    int isolated = pc->isolation == JX_ISOLATION_PROCESS &&
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
    rc = collect_types(p, (const char *const *)pc->step_types, &o, err);
    if (rc == 0)
        rc = add_plugin(ex, p, err);
    if (rc != 0) {
        jx__plugin_free(p);
        return rc;
    }
    if ((rc = rebuild_bindings(ex, &o, err)) != 0)
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
    if ((rc = collect_types(p, extra_types, &o, err)) != 0 ||
        (rc = add_plugin(ex, p, err)) != 0) {
        jx__plugin_free(p);
        return rc;
    }
    rc = rebuild_bindings(ex, &o, err);
    if (rc == 0)
        rc = jx__plugin_init_handler(p, &o, err);
    if (rc != 0) {
        /* Take it back out: the executor stays as it was. */
        unbind(ex, p);
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
    out->step_types = p->bound != NULL ? (const char *const *)p->bound : none;
    return 0;
}

/* ---- calling plugins ---------------------------------------------------- */

/* Calls into a plugin that is not thread-safe are serialised on its lock.
 * An isolated plugin's proxy queues its own calls: each runner process
 * serves one step at a time.  Returns whether the lock was taken, for
 * plugin_leave(). */
static int plugin_enter(jx__plugin *p, uint32_t flags)
{
    int locked = !p->isolated && (flags & JX_HANDLER_THREAD_SAFE) == 0;
    if (locked)
        pthread_mutex_lock(&p->lock);
    return locked;
}

static void plugin_leave(jx__plugin *p, int locked)
{
    if (locked)
        pthread_mutex_unlock(&p->lock);
}

/* Returns a snapshot, or JSON null when there is no observer or it failed:
 * an observer can only ever produce a snapshot (EXEC-004). */
static json_t *observe_health(jx_executor *ex)
{
    jx__plugin *p = ex->observer;
    jx_output out = {0};
    char why[512] = "";
    int locked, rc;
    json_t *snapshot;

    if (p == NULL)
        return json_null();
    locked = plugin_enter(p, p->observer->flags);
    rc = p->observer->observe(p->observer_state, &jx__host, &out, why,
                              sizeof why);
    plugin_leave(p, locked);
    if (rc != 0 || out.failed_alloc || out.not_utf8) {
        why[sizeof why - 1] = '\0';
        jx__log(NULL, JX_LOG_WARNING,
                rc != 0           ? why
                : out.failed_alloc ? "out of memory"
                                   : "the snapshot has a string that is not "
                                     "valid UTF-8");
        jx__output_clear(&out);
        return json_null();
    }
    snapshot = jx__output_take(&out);
    jx__output_clear(&out);
    return snapshot != NULL ? snapshot : json_null();
}

/* The type is redacted: a run's reason for the same step is. */
static int no_handler(const jx_plan *plan, const jx__step *st, jx_error *err)
{
    int oom = 0;
    char *clean = jx__redact_text(plan, st->type, &oom);
    int rc = jx__fail(err, JX_EREFUSED,
                      "%s:%u:%u: step %" PRId64
                      ": No handler registered for step type: %s",
                      plan->name, st->line, st->col, st->index,
                      clean != NULL ? clean
                      : oom         ? "(withheld: out of memory)"
                                    : st->type);

    free(clean);
    return rc;
}

int jx_executor_check(jx_executor *ex, const jx_plan *plan, jx_error *err)
{
    for (size_t i = 0; i < plan->n_steps; i++) {
        const jx__step *st = &plan->steps[i];
        const binding *b = find_binding(ex, st->type);
        jx_step view = {st, NULL, plan};
        char why[512] = "";
        int rc, locked;

        if (b == NULL)
            return no_handler(plan, st, err);
        if (b->plugin->handler->validate == NULL)
            continue;
        locked = plugin_enter(b->plugin, b->plugin->handler->flags);
        rc = b->plugin->handler->validate(b->plugin->handler_state, &jx__host,
                                          &view, why, sizeof why);
        plugin_leave(b->plugin, locked);
        jx__scratch_free(&view.scratch);
        if (rc != 0) {
            int oom;
            char *clean;

            why[sizeof why - 1] = '\0';
            /* A reason that filled the buffer was cut: maybe mid-secret. */
            clean = strlen(why) == sizeof why - 1
                        ? jx__redact_cut(plan, why, &oom)
                        : jx__redact_text(plan, why, &oom);
            rc = jx__fail(err, JX_EREFUSED,
                          "%s:%u:%u: step %" PRId64 " refused by '%s': %s",
                          plan->name, st->line, st->col, st->index,
                          b->plugin->handler->name,
                          clean != NULL ? clean
                          : oom         ? "(reason withheld: out of memory)"
                          : why[0]      ? why
                                        : "(no reason given)");
            free(clean);
            return rc;
        }
    }
    return 0;
}

/* ---- running ------------------------------------------------------------ */

/* What one run carries from step to step. */
typedef struct job {
    jx_executor *ex;
    const jx_plan *plan;
    const jx_run_options *opts;
    jx_result *res;
    jx__chain chain;
    jx__document doc;
    jx__buf text; /* members of the record being built, reused */
    jx__buf step; /* the step result being built, reused */
    jx__buf output; /* lent to each step's output as its text, reused */
    char started_at[JX_ISO_TIME_SIZE];
    double t0;
    json_t *health_before;
    json_t *health_after;
    int stopped; /* a step did not complete, or evidence failed */
    /* Cancellation: set by jx_executor_cancel(), polled by the run loop,
     * lent to handlers; cancel_fd wakes a wait on an isolated step. */
    atomic_int cancelled;
    int cancel_fd;
    struct job *next_running;
} job;

static int set_reason(jx_result *res, const char *fmt, ...) JX__PRINTF(2, 3);

static int set_reason(jx_result *res, const char *fmt, ...)
{
    va_list ap;
    int n;

    free(res->reason);
    va_start(ap, fmt);
    n = vasprintf(&res->reason, fmt, ap);
    va_end(ap);
    if (n < 0) {
        res->reason = NULL;
        return -1;
    }
    return 0;
}

/* Evidence that cannot be delivered stops the job: a step never runs
 * without its record (fail closed). */
static void evidence_failed(job *j)
{
    if (j->stopped)
        return; /* the first reason the job stopped is the one reported */
    j->res->status = JX_JOB_FAILED;
    set_reason(j->res, "evidence write failed: %s", j->chain.why);
    j->stopped = 1;
}

/* Emits the record whose members are in j->text (built_ok: whether
 * building them succeeded). */
static int emit(job *j, jx_record_kind kind, int64_t step_index, int built_ok)
{
    int rc;

    if (!built_ok) {
        snprintf(j->chain.why, sizeof j->chain.why,
                 "out of memory building a record");
        rc = -1;
    } else {
        rc = jx__chain_emit(&j->chain, kind, step_index, j->text.data,
                            j->text.len);
    }
    if (rc != 0)
        evidence_failed(j);
    return rc;
}

static int flush(job *j)
{
    if (jx__chain_flush(&j->chain) != 0) {
        evidence_failed(j);
        return -1;
    }
    return 0;
}

/* A step's outcome as the core sees it. */
typedef struct outcome {
    int completed;
    char *error;    /* NULL when completed */
    jx_output out;  /* the handler's; its output counts only if completed */
    int handler_returned;
    char *stderr_text; /* an isolated plugin's stderr, or NULL */
    size_t stderr_dropped; /* bytes of it beyond runner.max_stderr_bytes */
} outcome;

static void call_handler(job *j, const jx__step *st, jx__plugin *p,
                         outcome *oc)
{
    jx_context ctx = {
        .plan = j->plan,
        .started_at = j->started_at,
        .step_index = st->index,
        .deadline = jx__monotonic() + (double)st->timeout_seconds,
        .cancelled = &j->cancelled,
        .cancel_fd = j->cancel_fd,
        .on_progress = j->opts->on_progress,
        .user = j->opts->user,
    };
    jx_step view = {st, NULL, j->plan};
    jx_output *out = &oc->out;
    int locked, rc;

    locked = plugin_enter(p, p->handler->flags);
    rc = p->handler->execute(p->handler_state, &jx__host, &ctx, &view, out);
    plugin_leave(p, locked);
    jx__scratch_free(&view.scratch);
    oc->handler_returned = 1;
    oc->stderr_text = out->stderr_text;
    oc->stderr_dropped = out->stderr_dropped;
    out->stderr_text = NULL;
    /* In-process code cannot be pre-empted; a step that comes back after
     * its deadline is recorded as the timeout it was.  (A runner's steps
     * were timed by the proxy.) */
    if (!p->isolated && jx__monotonic() > ctx.deadline) {
        if (asprintf(&oc->error, "timed out after %" PRId64 " s",
                     st->timeout_seconds) < 0)
            oc->error = NULL;
    } else if (out->failed_alloc) {
        oc->error = strdup("the handler's output could not be recorded: out "
                           "of memory");
    } else if (out->not_utf8) {
        oc->error = strdup("the handler's output could not be recorded: a "
                           "string is not valid UTF-8");
    } else if (rc == JX_STEP_OK) {
        oc->completed = 1;
    } else if (out->error != NULL && out->error[0] != '\0') {
        oc->error = out->error;
        out->error = NULL;
    } else if (rc == JX_STEP_FAILED) {
        oc->error = strdup("the handler reported failure without a reason");
    } else if (asprintf(&oc->error, "the handler returned %d, which is "
                                    "neither JX_STEP_OK nor JX_STEP_FAILED",
                        rc) < 0) {
        oc->error = NULL;
    }
}

/* What a handler returns may quote its secret parameters; evidence never
 * does.  On OOM the step fails rather than keep an unredacted value. */
static void redact_outcome(const jx_plan *plan, outcome *oc)
{
    int oom = 0;
    char *error = jx__redact_text(plan, oc->error, &oom);

    if (error != NULL || oom) {
        free(oc->error);
        oc->error = error;
    }
    if (oc->stderr_text != NULL) {
        char *text = oc->stderr_dropped > 0
                         ? jx__redact_cut(plan, oc->stderr_text, &oom)
                         : jx__redact_text(plan, oc->stderr_text, &oom);
        if (text != NULL || oom) {
            free(oc->stderr_text);
            oc->stderr_text = text != NULL ? text : strdup(JX_REDACTED);
        }
    }
    if (oc->completed) {
        json_t *output = jx__redact_json_take(plan,
                                              jx__output_take(&oc->out));
        if (output == NULL) {
            oc->completed = 0;
            free(oc->error);
            oc->error = NULL; /* reported as out of memory */
        }
        jx__output_set(&oc->out, output);
    }
}

/* The members shared by step_started and the step result. */
static int put_step_head(jx__buf *b, const jx__step *st)
{
    return jx__buf_puts(b, "\"step_index\":") ||
           jx__buf_put_i64(b, st->index) ||
           jx__buf_puts(b, ",\"step_type\":") ||
           jx__buf_puts(b, st->type_json) ||
           jx__buf_puts(b, ",\"target\":") ||
           jx__buf_puts(b, st->target_json) ||
           jx__buf_puts(b, ",\"timeout_seconds\":") ||
           jx__buf_put_i64(b, st->timeout_seconds);
}

static int put_time(jx__buf *b, const char *key, const char *iso)
{
    return jx__buf_puts(b, key) || jx__buf_append(b, "\"", 1) ||
           jx__buf_puts(b, iso) || jx__buf_append(b, "\"", 1);
}

/* "stderr": the captured text, and what was dropped beyond the limit. */
static int put_stderr(jx__buf *b, const outcome *oc)
{
    char note[64] = "";

    if (oc->stderr_dropped > 0)
        snprintf(note, sizeof note, "... (%zu more bytes dropped)",
                 oc->stderr_dropped);
    return jx__buf_puts(b, ",\"stderr\":") ||
           jx__buf_put_json_string2(b, oc->stderr_text, note);
}

/* The step's entry of step_results, as one JSON object in j->step. */
static int build_step_result(job *j, const jx__step *st, const outcome *oc,
                             const char *started_at, const char *completed_at)
{
    jx__buf *b = &j->step;

    b->len = 0;
    return jx__buf_append(b, "{", 1) || put_step_head(b, st) ||
           jx__buf_puts(b, oc->completed ? ",\"status\":\"COMPLETED\""
                                         : ",\"status\":\"FAILED\"") ||
           put_time(b, ",\"started_at\":", started_at) ||
           put_time(b, ",\"completed_at\":", completed_at) ||
           jx__buf_puts(b, ",\"output\":") ||
           (oc->completed ? jx__output_put(b, &oc->out)
                          : jx__buf_puts(b, "null")) ||
           jx__buf_puts(b, ",\"error\":") ||
           (oc->completed ? jx__buf_puts(b, "null")
                          : jx__buf_put_json_string(b, oc->error)) ||
           (oc->stderr_text != NULL && put_stderr(b, oc)) ||
           jx__buf_append(b, "}", 1);
}

static int emit_step_started(job *j, const jx__step *st,
                             const char *started_at)
{
    jx__buf *b = &j->text;
    int ok;

    if (!jx__chain_has_sinks(&j->chain))
        return 0; /* per step: build nothing nobody reads */
    b->len = 0;
    ok = !(jx__buf_append(b, ",", 1) || put_step_head(b, st) ||
           put_time(b, ",\"started_at\":", started_at));
    return emit(j, JX_RECORD_STEP_STARTED, st->index, ok);
}

static void emit_step_finished(job *j, const jx__step *st, const outcome *oc,
                               int built_ok)
{
    jx__buf *b = &j->text;
    int ok = built_ok;

    if (!jx__chain_has_sinks(&j->chain))
        return;
    b->len = 0;
    ok = ok && !(jx__buf_puts(b, ",\"step\":") ||
                 jx__buf_append(b, j->step.data, j->step.len) ||
                 jx__buf_puts(b, ",\"health_after\":") ||
                 (oc->handler_returned ? jx__buf_put_json(b, j->health_after)
                                       : jx__buf_puts(b, "null")));
    emit(j, JX_RECORD_STEP_FINISHED, st->index, ok); /* EXEC-002 */
}

static void run_step(job *j, const jx__step *st)
{
    char started_at[JX_ISO_TIME_SIZE], completed_at[JX_ISO_TIME_SIZE];
    const binding *b = find_binding(j->ex, st->type);
    outcome oc = {0};

    /* The job's buffer, lent to the step's output: j->output stays its
     * owner (the early returns below leave it so) and takes it back, as
     * the output may have grown it, at the end. */
    oc.out.members = j->output;
    jx__iso_now(started_at);
    if (emit_step_started(j, st, started_at) != 0)
        return; /* the step never started */
    if (b == NULL) {
        if (asprintf(&oc.error, "No handler registered for step type: %s",
                     st->type) < 0)
            oc.error = NULL;
    } else if (flush(j) == 0) { /* step_started is in the log: go */
        call_handler(j, st, b->plugin, &oc); /* once: EXEC-006 */
    } else {
        return; /* the record did not reach the log: the handler never ran */
    }
    if (jx__has_secrets(j->plan))
        redact_outcome(j->plan, &oc);
    if (!oc.completed && oc.error == NULL)
        oc.error = strdup("out of memory");
    jx__iso_now(completed_at);
    if (oc.handler_returned) {
        json_decref(j->health_after);
        j->health_after = observe_health(j->ex); /* EXEC-004 */
    }
    j->res->executed++;
    if (oc.completed) {
        j->res->succeeded++;
    } else if (atomic_load(&j->cancelled)) {
        j->res->failed++;
        j->res->status = JX_JOB_CANCELLED;
        set_reason(j->res, "Cancelled during step %" PRId64 ": %s", st->index,
                   oc.error != NULL ? oc.error : "out of memory");
        j->stopped = 1;
    } else {
        j->res->failed++;
        j->res->status = JX_JOB_FAILED;
        set_reason(j->res, "Step %" PRId64 " failed: %s", st->index,
                   oc.error != NULL ? oc.error : "out of memory");
        j->stopped = 1; /* EXEC-003 */
    }
    /* The step's JSON is for the document and the records: without them,
     * the counts and the reason above are the whole result. */
    if (j->doc.fp != NULL || jx__chain_has_sinks(&j->chain)) {
        int built = build_step_result(j, st, &oc, started_at,
                                      completed_at) == 0;
        if (built)
            jx__doc_step(&j->doc, j->step.data, j->step.len);
        emit_step_finished(j, st, &oc, built);
    }
    j->output = oc.out.members;
    j->output.len = 0;
    oc.out.members = (jx__buf){NULL, 0, 0};
    jx__output_clear(&oc.out);
    free(oc.error);
    free(oc.stderr_text);
}

static json_t *summary(const jx_result *res)
{
    return json_pack("{s:I, s:I, s:I}", "steps_executed",
                     (json_int_t)res->executed, "steps_succeeded",
                     (json_int_t)res->succeeded, "steps_failed",
                     (json_int_t)res->failed);
}

static const char *status_name(jx_job_status s)
{
    switch (s) {
    case JX_JOB_COMPLETED:
        return "COMPLETED";
    case JX_JOB_CANCELLED:
        return "CANCELLED";
    default:
        return "FAILED";
    }
}

static void emit_job_started(job *j)
{
    const jx_plan *plan = j->plan;
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}", "contract_id",
        plan->contract_id, "tenant_id", plan->tenant_id, "executed_by",
        plan->executed_by, "plan_sha256", plan->sha256, "executor_version",
        PACKAGE_VERSION, "steps", (json_int_t)plan->n_steps, "started_at",
        j->started_at, "health_before", j->health_before);

    body = jx__redact_json_take(plan, body);

    j->text.len = 0;
    emit(j, JX_RECORD_JOB_STARTED, -1,
         body != NULL && jx__buf_put_members(&j->text, body) == 0);
    json_decref(body);
}

static void finish(job *j)
{
    char completed_at[JX_ISO_TIME_SIZE];
    json_t *body, *tail;

    jx__iso_now(completed_at);
    j->res->duration = jx__monotonic() - j->t0;
    if (!j->stopped)
        set_reason(j->res, "All steps completed successfully");
    body = json_pack("{s:s, s:s?, s:o, s:s, s:f}", "final_status",
                     status_name(j->res->status), "final_reason",
                     j->res->reason, "execution_summary", summary(j->res),
                     "completed_at", completed_at, "duration_seconds",
                     j->res->duration);
    j->text.len = 0;
    if (body == NULL || jx__buf_put_members(&j->text, body) != 0) {
        snprintf(j->chain.why, sizeof j->chain.why,
                 "out of memory building a record");
        evidence_failed(j);
    } else if (jx__chain_emit_sealed(&j->chain, j->text.data,
                                     j->text.len) != 0 ||
               jx__chain_finish(&j->chain) != 0) {
        evidence_failed(j);
    }
    json_decref(body);
    tail = json_pack("{s:s, s:s?, s:o, s:{s:O, s:O}, s:{s:s, s:s, s:f}, "
                     "s:s, s:s}",
                     "final_status", status_name(j->res->status),
                     "final_reason", j->res->reason,
                     "execution_summary", summary(j->res),
                     "health_observations", "before", j->health_before,
                     "after", j->health_after,
                     "timing", "started_at", j->started_at, "completed_at",
                     completed_at, "duration_seconds", j->res->duration,
                     "executor_version", PACKAGE_VERSION,
                     "plan_sha256", j->plan->sha256);
    if (tail != NULL)
        jx__doc_end(&j->doc, tail);
    json_decref(tail);
}

/* ---- cancellation -------------------------------------------------------- */

static void start_running(jx_executor *ex, job *j)
{
    atomic_init(&j->cancelled, 0);
    /* Without an eventfd, isolated steps still see the flag when their
     * wait ends; only the wake-up is lost. */
    j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_lock(&ex->running_lock);
    j->next_running = ex->running;
    ex->running = j;
    pthread_mutex_unlock(&ex->running_lock);
}

static void stop_running(jx_executor *ex, job *j)
{
    pthread_mutex_lock(&ex->running_lock);
    for (job **pp = &ex->running; *pp != NULL; pp = &(*pp)->next_running)
        if (*pp == j) {
            *pp = j->next_running;
            break;
        }
    pthread_mutex_unlock(&ex->running_lock);
    if (j->cancel_fd >= 0)
        close(j->cancel_fd);
    j->cancel_fd = -1;
}

int jx_executor_cancel(jx_executor *ex, const char *job_id)
{
    uint64_t one = 1;
    int n = 0;

    if (ex == NULL)
        return JX_EINVAL;
    pthread_mutex_lock(&ex->running_lock);
    for (job *j = ex->running; j != NULL; j = j->next_running) {
        if (job_id != NULL && strcmp(job_id, j->plan->job_id) != 0)
            continue;
        atomic_store(&j->cancelled, 1);
        if (j->cancel_fd >= 0 && write(j->cancel_fd, &one, sizeof one) < 0 &&
            errno != EAGAIN)
            continue; /* the flag alone still stops the job */
        n++;
    }
    pthread_mutex_unlock(&ex->running_lock);
    return n;
}

int jx_executor_run(jx_executor *ex, const jx_plan *plan,
                    const jx_run_options *opts, jx_result **out,
                    jx_error *err)
{
    static const jx_run_options no_options = {NULL, NULL, NULL, NULL};
    job j = {.ex = ex, .plan = plan, .opts = opts ? opts : &no_options};

    *out = NULL;
    if (ex == NULL || plan == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_run: NULL executor or "
                                        "plan");
    if (ex->check_only)
        return jx__fail(err, JX_EINVAL, "jx_executor_run: the executor was "
                                        "opened with JX_EXECUTOR_CHECK_ONLY "
                                        "and runs no job");
    j.res = calloc(1, sizeof *j.res);
    if (j.res == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    memcpy(j.res->job_id, plan->job_id, sizeof j.res->job_id);
    j.res->status = JX_JOB_COMPLETED;
    j.t0 = jx__monotonic();
    jx__iso_now(j.started_at);
    jx__chain_init(&j.chain, plan->job_id, ex->log, ex->signer,
                   j.opts->on_record,
                   j.opts->user);
    jx__doc_begin(&j.doc, j.opts->document, plan);
    start_running(ex, &j);

    j.health_before = observe_health(ex); /* EXEC-004: before the job */
    j.health_after = json_null();
    emit_job_started(&j);

    for (size_t i = 0; i < plan->n_steps && !j.stopped; i++) { /* EXEC-001 */
        if (atomic_load(&j.cancelled)) {
            j.res->status = JX_JOB_CANCELLED;
            set_reason(j.res, "Cancelled before step %" PRId64,
                       plan->steps[i].index);
            j.stopped = 1;
            break;
        }
        run_step(&j, &plan->steps[i]);
    }

    stop_running(ex, &j);
    finish(&j);
    json_decref(j.health_before);
    json_decref(j.health_after);
    jx__chain_fini(&j.chain);
    jx__buf_free(&j.text);
    jx__buf_free(&j.step);
    jx__buf_free(&j.output);
    if (j.res->reason == NULL) {
        jx_result_free(j.res);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    *out = j.res;
    return 0;
}

jx_job_status jx_result_status(const jx_result *res) { return res->status; }
const char *jx_result_status_name(const jx_result *res)
{
    return status_name(res->status);
}
const char *jx_result_reason(const jx_result *res) { return res->reason; }
const char *jx_result_job_id(const jx_result *res) { return res->job_id; }
size_t jx_result_steps_executed(const jx_result *res)
{
    return res->executed;
}
size_t jx_result_steps_succeeded(const jx_result *res)
{
    return res->succeeded;
}
size_t jx_result_steps_failed(const jx_result *res) { return res->failed; }
double jx_result_duration_seconds(const jx_result *res)
{
    return res->duration;
}

void jx_result_free(jx_result *res)
{
    if (res == NULL)
        return;
    free(res->reason);
    free(res);
}
