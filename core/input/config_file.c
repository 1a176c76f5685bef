/*
 * config_file.c - reads the ops-written YAML config.  Every key is known; an
 * unknown one is an error, so that a typo never silently drops a setting.
 */
#include "config.h"

#include "base/file.h"
#include "input/config_file.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/regex_bound.h"
#include "input/yamldoc.h"

#ifndef LT_MODULE_EXT
#define LT_MODULE_EXT ".so"
#endif

static const jx__doc_limits config_limits = {
    .max_bytes = 1024 * 1024,
    .max_depth = 32,
    .max_scalar = 64 * 1024,
    .max_nodes = 100000,
};

#define at(err, name, n, ...) jx__node_fail(err, JX_ECONFIG, name, n, __VA_ARGS__)

/* The document reader speaks of plans; here the same faults are config
 * errors. */
static int as_config_error(jx_error *err, int rc)
{
    if (rc == JX_EPLAN) {
        rc = JX_ECONFIG;
        if (err != NULL)
            err->code = rc;
    }
    return rc;
}

static int expect_kind(const jx__node *n, jx__node_kind kind,
                       const char *name, const char *what, jx_error *err)
{
    static const char *const wanted[] = {"a value", "a mapping", "a sequence"};

    if (n->kind == kind)
        return 0;
    return at(err, name, n, "%s must be %s, found %s", what, wanted[kind],
              jx__node_kind_name(n));
}

static int get_string(const jx__node *n, const char *name, const char *what,
                      char **out, jx_error *err)
{
    if (expect_kind(n, JX__NODE_SCALAR, name, what, err) != 0)
        return JX_ECONFIG;
    /* The codes are spelt out: callers read *out whenever this is 0. */
    if (n->text_len == 0) {
        at(err, name, n, "%s must not be empty", what);
        return JX_ECONFIG;
    }
    if ((*out = strdup(n->text)) == NULL) {
        jx__fail(err, JX_ENOMEM, "out of memory");
        return JX_ENOMEM;
    }
    return 0;
}

static int has_dotdot(const char *path)
{
    const char *p = path;
    while ((p = strstr(p, "..")) != NULL) {
        int starts = p == path || p[-1] == '/';
        int ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return 1;
        p += 2;
    }
    return 0;
}

/* Absolute paths stay; relative ones go under plugin_dir and may not climb
 * out of it.  A name without an extension gets the platform's. */
static int resolve_plugin_path(const char *written, const char *plugin_dir,
                               const jx__node *n, const char *name,
                               char **out, jx_error *err)
{
    const char *base = strrchr(written, '/');
    const char *ext = "";
    size_t len;

    base = base != NULL ? base + 1 : written;
    if (*base == '\0')
        return at(err, name, n, "plugin path '%s' names a folder", written);
    if (written[0] != '/' && has_dotdot(written))
        return at(err, name, n,
                  "plugin path '%s' may not leave plugin_dir with '..'",
                  written);
    if (strchr(base, '.') == NULL)
        ext = LT_MODULE_EXT;
    len = strlen(plugin_dir) + strlen(written) + strlen(ext) + 2;
    *out = malloc(len);
    if (*out == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (written[0] == '/')
        snprintf(*out, len, "%s%s", written, ext);
    else
        snprintf(*out, len, "%s/%s%s", plugin_dir, written, ext);
    return 0;
}

static int read_step_types(const jx__node *n, const char *name,
                           jx__plugin_conf *pc, jx_error *err)
{
    if (expect_kind(n, JX__NODE_SEQ, name, "step_types", err) != 0)
        return JX_ECONFIG;
    pc->step_types = calloc(n->n_items + 1, sizeof *pc->step_types);
    if (pc->step_types == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n_items; i++) {
        int rc = get_string(n->items[i], name, "a step type",
                            &pc->step_types[i], err);
        if (rc != 0)
            return rc;
        pc->n_step_types++;
        /* "[a b]" for "[a, b]" would bind one type no plan can name. */
        if (strpbrk(pc->step_types[i], " \t\r\n") != NULL)
            return at(err, name, n->items[i],
                      "step type '%s' contains white space (a missing comma?)",
                      pc->step_types[i]);
    }
    return 0;
}

/* Whether path is a file directly inside folder. */
static int in_folder(const char *path, const char *folder)
{
    size_t n = strlen(folder);

    while (n > 1 && folder[n - 1] == '/')
        n--;
    return strncmp(path, folder, n) == 0 && path[n] == '/' &&
           strchr(path + n + 1, '/') == NULL;
}

static int read_isolation(const jx__node *v, const char *name,
                          jx__plugin_conf *pc, jx_error *err)
{
    if (expect_kind(v, JX__NODE_SCALAR, name, "isolation", err) != 0)
        return JX_ECONFIG;
    pc->isolation_set = 1;
    if (strcmp(v->text, "inproc") == 0)
        pc->isolation = JX__ISOLATION_INPROC;
    else if (strcmp(v->text, "process") == 0)
        pc->isolation = JX__ISOLATION_PROCESS;
    else
        return at(err, name, v, "isolation must be inproc or process, found "
                                "'%s'", v->text);
    return 0;
}

/* A positive integer under key in sec, at most max; messages name it
 * prefix + key ("runner.", or "" in a plugin entry).  Left as it is when
 * absent. */
static int read_limit(const jx__node *sec, const char *prefix,
                      const char *key, const char *name, long long max,
                      uint64_t *out, jx_error *err)
{
    const jx__node *v = jx__map_get(sec, key);
    long long ll;
    int rc;

    if (v == NULL)
        return 0;
    if ((rc = jx__node_int(v, name, key, &ll, err)) != 0)
        return as_config_error(err, rc);
    if (ll < 1 || ll > max)
        return at(err, name, v, "%s%s must be between 1 and %lld, found %s",
                  prefix, key, max, v->text);
    *out = (uint64_t)ll;
    return 0;
}

static int read_runner_limit(const jx__node *sec, const char *key,
                             const char *name, long long max, uint64_t *out,
                             jx_error *err)
{
    return read_limit(sec, "runner.", key, name, max, out, err);
}

/* A plugin entry's runner count, and where it is written, so that the
 * executor can refuse it for a plugin that turns out to run in-process. */
static int read_runners(const jx__node *n, const char *name,
                        jx__plugin_conf *pc, jx_error *err)
{
    const jx__node *v = jx__map_get(n, "runners");
    int rc = read_limit(n, "", "runners", name, JX__MAX_RUNNERS, &pc->runners,
                        err);

    if (rc == 0 && v != NULL) {
        pc->runners_line = v->line;
        pc->runners_col = v->col;
    }
    return rc;
}

int jx__config_read_plugin(const jx__node *n, const char *name,
                           const char *plugin_dir,
                           const char *default_plugin_dir, const char *file,
                           jx__plugin_conf *pc, jx_error *err)
{
    static const char *const keys[] = {"path", "step_types", "config",
                                       "isolation", "runners", NULL};
    const jx__node *v = NULL;
    int rc;

    pc->line = n->line;
    pc->col = n->col;
    if (expect_kind(n, JX__NODE_MAP, name, "a plugin entry", err) != 0)
        return JX_ECONFIG;
    rc = jx__check_keys(n, keys, name, "a plugin entry", JX_ECONFIG, err);
    if (rc != 0)
        return rc;
    /* file, when given, is the module: the entry's own path is not. */
    if (file != NULL && (pc->path_written = strdup(file)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (file == NULL && (v = jx__map_get(n, "path")) == NULL)
        return at(err, name, n, "%s", "plugin entry has no 'path'");
    if (file == NULL) {
        pc->line = v->line;
        pc->col = v->col;
        if ((rc = get_string(v, name, "path", &pc->path_written, err)) != 0)
            return rc;
    }
    rc = resolve_plugin_path(pc->path_written, plugin_dir, file ? n : v,
                             name, &pc->path, err);
    if (rc != 0)
        return rc;
    if ((v = jx__map_get(n, "step_types")) != NULL &&
        (rc = read_step_types(v, name, pc, err)) != 0)
        return rc;
    pc->isolation = in_folder(pc->path, default_plugin_dir) ? JX__ISOLATION_INPROC
                                                           : JX__ISOLATION_PROCESS;
    if ((v = jx__map_get(n, "isolation")) != NULL &&
        (rc = read_isolation(v, name, pc, err)) != 0)
        return rc;
    if ((rc = read_runners(n, name, pc, err)) != 0)
        return rc;
    if ((v = jx__map_get(n, "config")) != NULL) {
        if (v->kind == JX__NODE_SCALAR && !v->quoted && v->text_len == 0)
            v = NULL; /* "config:" with nothing after it */
        else if (expect_kind(v, JX__NODE_MAP, name, "config", err) != 0)
            return JX_ECONFIG;
    }
    pc->config = v != NULL ? jx__node_to_json(v, name, err) : json_object();
    if (pc->config == NULL)
        return v == NULL ? jx__fail(err, JX_ENOMEM, "out of memory")
                         : as_config_error(err, JX_EPLAN);
    return 0;
}

static int read_section(const jx__node *root, const char *section,
                        const char *key, const char *name, char **out,
                        unsigned *line, unsigned *col, jx_error *err)
{
    const char *const keys[] = {key, NULL};
    const jx__node *sec = jx__map_get(root, section);
    const jx__node *v;
    int rc;

    if (sec == NULL)
        return 0;
    if (expect_kind(sec, JX__NODE_MAP, name, section, err) != 0)
        return JX_ECONFIG;
    if ((rc = jx__check_keys(sec, keys, name, section, JX_ECONFIG, err)))
        return rc;
    if ((v = jx__map_get(sec, key)) == NULL)
        return 0;
    if (line != NULL) {
        *line = v->line;
        *col = v->col;
    }
    return get_string(v, name, key, out, err);
}

static int read_fsync(const jx__node *v, const char *name, jx_config *cfg,
                      jx_error *err)
{
    static const char *const names[] = {"step", "job", "none"};
    static const jx__fsync_policy policies[] = {JX__FSYNC_STEP, JX__FSYNC_JOB,
                                                JX__FSYNC_NONE};

    if (expect_kind(v, JX__NODE_SCALAR, name, "evidence.fsync", err) != 0)
        return JX_ECONFIG;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(v->text, names[i]) == 0) {
            cfg->evidence_fsync = policies[i];
            return 0;
        }
    return at(err, name, v, "evidence.fsync must be step, job or none, "
                            "found '%s'", v->text);
}

static int read_audit(const jx__node *sec, jx_config *cfg, jx_error *err)
{
    static const char *const keys[] = {"log", "syslog", "handler", NULL};
    const char *name = cfg->name;
    const jx__node *v;
    int rc;

    if (sec == NULL)
        return 0;
    if (expect_kind(sec, JX__NODE_MAP, name, "audit", err) != 0)
        return JX_ECONFIG;
    if ((rc = jx__check_keys(sec, keys, name, "audit", JX_ECONFIG, err)))
        return rc;
    if ((v = jx__map_get(sec, "log")) != NULL) {
        if ((rc = get_string(v, name, "audit.log", &cfg->audit_log, err)))
            return rc;
        if (cfg->audit_log[0] != '/')
            return at(err, name, v, "audit.log '%s' must be an absolute path",
                      cfg->audit_log);
        cfg->audit_log_line = v->line;
        cfg->audit_log_col = v->col;
    }
    if ((v = jx__map_get(sec, "syslog")) != NULL) {
        if (v->kind != JX__NODE_SCALAR || v->quoted ||
            (strcmp(v->text, "true") != 0 && strcmp(v->text, "false") != 0))
            return at(err, name, v, "%s", "audit.syslog must be true or false");
        cfg->audit_syslog = strcmp(v->text, "true") == 0;
    }
    if ((v = jx__map_get(sec, "handler")) != NULL &&
        (rc = get_string(v, name, "audit.handler", &cfg->audit_handler, err)))
        return rc;
    return 0;
}

static int read_evidence(const jx__node *sec, jx_config *cfg, jx_error *err)
{
    static const char *const keys[] = {"log", "fsync", "signing_key", NULL};
    const char *name = cfg->name;
    const jx__node *v;
    int rc;

    if (sec == NULL)
        return 0;
    if (expect_kind(sec, JX__NODE_MAP, name, "evidence", err) != 0)
        return JX_ECONFIG;
    if ((rc = jx__check_keys(sec, keys, name, "evidence", JX_ECONFIG, err)))
        return rc;
    if ((v = jx__map_get(sec, "log")) != NULL) {
        if ((rc = get_string(v, name, "evidence.log", &cfg->evidence_log,
                             err)))
            return rc;
        /* Relative, it would depend on where the executor was started. */
        if (cfg->evidence_log[0] != '/')
            return at(err, name, v, "evidence.log '%s' must be an absolute "
                                    "path", cfg->evidence_log);
        cfg->evidence_log_line = v->line;
        cfg->evidence_log_col = v->col;
    }
    if ((v = jx__map_get(sec, "fsync")) != NULL &&
        (rc = read_fsync(v, name, cfg, err)))
        return rc;
    if ((v = jx__map_get(sec, "signing_key")) != NULL) {
        if ((rc = get_string(v, name, "evidence.signing_key",
                             &cfg->signing_key, err)))
            return rc;
        if (cfg->signing_key[0] != '/')
            return at(err, name, v, "evidence.signing_key '%s' must be an "
                                    "absolute path", cfg->signing_key);
        cfg->signing_key_line = v->line;
        cfg->signing_key_col = v->col;
    }
    if (cfg->evidence_log == NULL && cfg->signing_key != NULL)
        return at(err, name, sec, "%s", "evidence.signing_key needs "
                                        "evidence.log: only the log is "
                                        "sealed");
    return 0;
}


static int read_runner(const jx__node *sec, jx_config *cfg, jx_error *err)
{
    static const char *const keys[] = {
        "path", "user", "group", "max_output_bytes", "max_stderr_bytes",
        "max_address_space_mb", "max_cpu_seconds", "max_open_files",
        "kill_grace_ms", "max_per_plugin", NULL};
    const char *name = cfg->name;
    jx__runner_conf *rc_ = &cfg->runner;
    const jx__node *v;
    int rc;

    if (sec == NULL)
        return 0;
    if (expect_kind(sec, JX__NODE_MAP, name, "runner", err) != 0)
        return JX_ECONFIG;
    if ((rc = jx__check_keys(sec, keys, name, "runner", JX_ECONFIG, err)))
        return rc;
    if ((v = jx__map_get(sec, "path")) != NULL) {
        if ((rc = get_string(v, name, "runner.path", &rc_->path, err)))
            return rc;
        if (rc_->path[0] != '/')
            return at(err, name, v, "runner.path '%s' must be an absolute "
                                    "path", rc_->path);
    }
    if ((v = jx__map_get(sec, "user")) != NULL &&
        (rc = get_string(v, name, "runner.user", &rc_->user, err)))
        return rc;
    if ((v = jx__map_get(sec, "group")) != NULL &&
        (rc = get_string(v, name, "runner.group", &rc_->group, err)))
        return rc;
    if ((rc = read_runner_limit(sec, "max_output_bytes", name, 1LL << 30,
                                &rc_->max_output_bytes, err)) ||
        (rc = read_runner_limit(sec, "max_stderr_bytes", name, 1LL << 24,
                                &rc_->max_stderr_bytes, err)) ||
        (rc = read_runner_limit(sec, "max_address_space_mb", name, 1LL << 30,
                                &rc_->max_address_space_mb, err)) ||
        (rc = read_runner_limit(sec, "max_cpu_seconds", name, 1LL << 31,
                                &rc_->max_cpu_seconds, err)) ||
        (rc = read_runner_limit(sec, "max_open_files", name, 1LL << 20,
                                &rc_->max_open_files, err)) ||
        (rc = read_runner_limit(sec, "kill_grace_ms", name, 60000,
                                &rc_->kill_grace_ms, err)) ||
        (rc = read_runner_limit(sec, "max_per_plugin", name, JX__MAX_RUNNERS,
                                &rc_->max_per_plugin, err)))
        return rc;
    return 0;
}

static int read_retry_strategy(const jx__node *v, const char *name,
                               jx__retry_conf *r, jx_error *err)
{
    static const char *const names[] = {"fixed", "linear", "exponential",
                                        "fibonacci"};
    static const jx__retry_strategy strategies[] = {
        JX__RETRY_FIXED, JX__RETRY_LINEAR, JX__RETRY_EXPONENTIAL,
        JX__RETRY_FIBONACCI};

    if (expect_kind(v, JX__NODE_SCALAR, name, "retry.strategy", err) != 0)
        return JX_ECONFIG;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(v->text, names[i]) == 0) {
            r->strategy = strategies[i];
            return 0;
        }
    return at(err, name, v, "retry.strategy '%s' is not one of fixed, "
                            "linear, exponential, fibonacci", v->text);
}

/* A delay in seconds under key, more than 0 and at most a week; left as
 * it is when absent.  *node is where it is written (NULL: absent). */
static int read_retry_delay(const jx__node *sec, const char *key,
                            const char *name, double *out,
                            const jx__node **node, jx_error *err)
{
    const jx__node *v = jx__map_get(sec, key);
    char what[48];
    int rc;

    *node = v;
    if (v == NULL)
        return 0;
    snprintf(what, sizeof what, "retry.%s", key);
    if ((rc = jx__node_number(v, name, what, out, err)) != 0)
        return as_config_error(err, rc);
    if (!(*out > 0 && *out <= JX__RETRY_MAX_DELAY))
        return at(err, name, v, "%s must be more than 0 and at most %g, "
                                "found %s", what, JX__RETRY_MAX_DELAY,
                  v->text);
    return 0;
}

/* max_delay_seconds may not be below base_delay_seconds, either of them
 * perhaps the default: the message stands where one of them is written. */
static int check_retry_delays(const jx__node *base, const jx__node *max,
                              const char *name, const jx__retry_conf *r,
                              jx_error *err)
{
    if (r->max_delay >= r->base_delay)
        return 0;
    if (max != NULL && base != NULL)
        return at(err, name, max, "retry.max_delay_seconds must be at least "
                                  "retry.base_delay_seconds (%s), found %s",
                  base->text, max->text);
    if (max != NULL)
        return at(err, name, max, "retry.max_delay_seconds must be at least "
                                  "retry.base_delay_seconds (%g, the "
                                  "default), found %s",
                  JX__RETRY_DEFAULT_BASE, max->text);
    return at(err, name, base, "retry.base_delay_seconds must be at most "
                               "retry.max_delay_seconds (%g, the default), "
                               "found %s", JX__RETRY_DEFAULT_MAX, base->text);
}

/* Refuses a pattern that regcomp would take long or much memory to
 * compile (see regex_bound.c). */
static int check_pattern(const jx__node *item, const char *name,
                         const char *what, jx_error *err)
{
    size_t offset = 0;

    switch (jx__regex_bound(item->text, item->text_len, &offset)) {
    case JX__REGEX_BOUNDED:
        return 0;
    case JX__REGEX_TOO_LARGE:
        return at(err, name, item,
                  "%s is too large a regular expression: at most %d bytes, "
                  "and repetitions ('+', {m,n}) that copy it to no more "
                  "than %d parts",
                  what, JX__REGEX_MAX_BYTES, JX__REGEX_MAX_PARTS);
    case JX__REGEX_EMPTY_LOOP:
        return at(err, name, item,
                  "%s repeats without bound what can match nothing "
                  "('%c' at byte %zu, as in (a*)+ or a**): leave that "
                  "repetition out, it changes no match",
                  what, item->text[offset], offset + 1);
    }
    return 0;
}

/* retryable_errors: POSIX extended regular expressions, compiled here so
 * that a bad one is refused with its position, and kept compiled. */
static int read_retryable_errors(const jx__node *v, const char *name,
                                 jx__retry_conf *r, jx_error *err)
{
    if (v->kind == JX__NODE_SCALAR && !v->quoted && v->text_len == 0)
        return 0; /* "retryable_errors:" alone: none */
    if (expect_kind(v, JX__NODE_SEQ, name, "retry.retryable_errors", err))
        return JX_ECONFIG;
    if (v->n_items == 0)
        return 0;
    r->pattern_texts = calloc(v->n_items, sizeof *r->pattern_texts);
    r->patterns = calloc(v->n_items, sizeof *r->patterns);
    if (r->pattern_texts == NULL || r->patterns == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n_items; i++) {
        const jx__node *item = v->items[i];
        char what[64];
        int rc;

        snprintf(what, sizeof what, "retry.retryable_errors[%zu]", i);
        if ((rc = get_string(item, name, what, &r->pattern_texts[i], err)))
            return rc;
        if ((rc = check_pattern(item, name, what, err)) != 0) {
            free(r->pattern_texts[i]);
            r->pattern_texts[i] = NULL;
            return rc;
        }
        /* The reader refuses NUL in scalars: regcomp sees the whole
         * pattern. */
        rc = regcomp(&r->patterns[i], item->text, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            free(r->pattern_texts[i]); /* not counted in n_patterns */
            r->pattern_texts[i] = NULL;
        }
        if (rc == REG_ESPACE)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        if (rc != 0) {
            char why[256];
            regerror(rc, &r->patterns[i], why, sizeof why);
            return at(err, name, item, "%s is not a valid regular "
                                       "expression: %s", what, why);
        }
        r->n_patterns++;
    }
    return 0;
}

static int read_retry(const jx__node *sec, jx_config *cfg, jx_error *err)
{
    static const char *const keys[] = {
        "strategy", "base_delay_seconds", "max_delay_seconds", "jitter",
        "max_retries", "retryable_errors", NULL};
    const char *name = cfg->name;
    jx__retry_conf *r = &cfg->retry;
    const jx__node *v, *base, *max;
    long long ll;
    int rc;

    if (sec == NULL)
        return 0;
    if (expect_kind(sec, JX__NODE_MAP, name, "retry", err) != 0)
        return JX_ECONFIG;
    if ((rc = jx__check_keys(sec, keys, name, "retry", JX_ECONFIG, err)))
        return rc;
    if ((v = jx__map_get(sec, "strategy")) != NULL &&
        (rc = read_retry_strategy(v, name, r, err)))
        return rc;
    if ((rc = read_retry_delay(sec, "base_delay_seconds", name,
                               &r->base_delay, &base, err)) ||
        (rc = read_retry_delay(sec, "max_delay_seconds", name, &r->max_delay,
                               &max, err)) ||
        (rc = check_retry_delays(base, max, name, r, err)))
        return rc;
    if ((v = jx__map_get(sec, "jitter")) != NULL) {
        if ((rc = jx__node_number(v, name, "retry.jitter", &r->jitter, err)))
            return as_config_error(err, rc);
        if (!(r->jitter >= 0 && r->jitter <= 1))
            return at(err, name, v, "retry.jitter must be between 0 and 1, "
                                    "found %s", v->text);
    }
    if ((v = jx__map_get(sec, "max_retries")) != NULL) {
        if ((rc = jx__node_int(v, name, "retry.max_retries", &ll, err)))
            return as_config_error(err, rc);
        if (ll < 0 || ll > JX__RETRY_MAX_RETRIES)
            return at(err, name, v, "retry.max_retries must be between 0 "
                                    "and %d, found %s", JX__RETRY_MAX_RETRIES,
                      v->text);
        r->max_retries = (unsigned)ll;
    }
    if ((v = jx__map_get(sec, "retryable_errors")) != NULL)
        return read_retryable_errors(v, name, r, err);
    return 0;
}

static int read_root(const jx__node *root, jx_config *cfg,
                     const char *default_plugin_dir, jx_error *err)
{
    static const char *const keys[] = {"plugin_dir", "plugins", "health",
                                       "evidence", "runner", "scopes",
                                       "retry", "audit", "queue", NULL};
    const char *name = cfg->name;
    const jx__node *v;
    int rc;

    if (expect_kind(root, JX__NODE_MAP, name, "the config", err) != 0)
        return JX_ECONFIG;
    rc = jx__check_keys(root, keys, name, "the config", JX_ECONFIG, err);
    if (rc != 0)
        return rc;
    if ((v = jx__map_get(root, "plugin_dir")) != NULL) {
        if ((rc = get_string(v, name, "plugin_dir", &cfg->plugin_dir, err)))
            return rc;
        if (cfg->plugin_dir[0] != '/')
            return at(err, name, v, "plugin_dir '%s' must be an absolute path",
                      cfg->plugin_dir);
    } else {
        cfg->plugin_dir = strdup(default_plugin_dir);
        if (cfg->plugin_dir == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    v = jx__map_get(root, "plugins");
    if (v != NULL && v->kind == JX__NODE_SCALAR && !v->quoted &&
        v->text_len == 0)
        v = NULL; /* "plugins:" alone, like "steps:" in a plan: none */
    if (v != NULL) {
        if (expect_kind(v, JX__NODE_SEQ, name, "plugins", err) != 0)
            return JX_ECONFIG;
        cfg->plugins = calloc(v->n_items ? v->n_items : 1, sizeof *cfg->plugins);
        if (cfg->plugins == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        for (size_t i = 0; i < v->n_items; i++) {
            cfg->n_plugins++;
            rc = jx__config_read_plugin(v->items[i], name, cfg->plugin_dir,
                                        default_plugin_dir, NULL,
                                        &cfg->plugins[i], err);
            if (rc != 0)
                return rc;
        }
    }
    rc = read_section(root, "health", "observer", name, &cfg->health_observer,
                      &cfg->health_line, &cfg->health_col, err);
    if (rc != 0)
        return rc;
    rc = read_section(root, "scopes", "db", name, &cfg->scopes_db,
                      &cfg->scopes_line, &cfg->scopes_col, err);
    if (rc != 0)
        return rc;
    if (cfg->scopes_db != NULL && cfg->scopes_db[0] != '/')
        return jx__fail(err, JX_ECONFIG, "%s:%u:%u: scopes.db '%s' must be "
                                         "an absolute path",
                        name, cfg->scopes_line, cfg->scopes_col,
                        cfg->scopes_db);
    /* queue.db: libpq's connection string (a URI or "key=value ..."). */
    rc = read_section(root, "queue", "db", name, &cfg->queue_db, NULL, NULL,
                      err);
    if (rc != 0)
        return rc;
    if ((rc = read_runner(jx__map_get(root, "runner"), cfg, err)) != 0)
        return rc;
    if ((rc = read_evidence(jx__map_get(root, "evidence"), cfg, err)) != 0)
        return rc;
    if ((rc = read_audit(jx__map_get(root, "audit"), cfg, err)) != 0)
        return rc;
    return read_retry(jx__map_get(root, "retry"), cfg, err);
}

int jx__config_yaml(const char *text, size_t len, const char *name,
                    jx__node **root, jx_error *err)
{
    return as_config_error(
        err, jx__yaml_parse(text, len, name, &config_limits, root, err));
}

jx_config *jx__config_new(const char *name)
{
    jx_config *cfg = calloc(1, sizeof *cfg);

    if (cfg == NULL || (cfg->name = strdup(name)) == NULL) {
        free(cfg);
        return NULL;
    }
    jx__runner_conf_defaults(&cfg->runner);
    jx__retry_conf_defaults(&cfg->retry);
    return cfg;
}

int jx_config_parse(const char *text, size_t len, const char *name,
                    const char *default_plugin_dir, jx_config **out,
                    jx_error *err)
{
    jx_config *cfg;
    jx__node *root;
    int rc;

    *out = NULL;
    if (default_plugin_dir == NULL)
        default_plugin_dir = jx_default_plugin_dir();
    if ((rc = jx__config_yaml(text, len, name, &root, err)) != 0)
        return rc;
    if ((cfg = jx__config_new(name)) == NULL) {
        jx__node_free(root);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    rc = read_root(root, cfg, default_plugin_dir, err);
    jx__node_free(root);
    if (rc != 0) {
        jx_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int jx_config_load(const char *path, const char *default_plugin_dir,
                   jx_config **out, jx_error *err)
{
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = jx__read_file(path, config_limits.max_bytes, &text, &len, err);
    /* Unreadable is a config error; too big and out of memory keep
     * their codes, as jx_config_parse gives them. */
    if (rc != 0)
        return as_config_error(err, rc == JX_ENOMEM || rc == JX_ELIMIT
                                        ? rc
                                        : JX_EPLAN);
    rc = jx_config_parse(text, len, path, default_plugin_dir, out, err);
    free(text);
    return rc;
}

void jx_config_free(jx_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        jx__plugin_conf *pc = &cfg->plugins[i];
        free(pc->path_written);
        free(pc->path);
        for (size_t k = 0; k < pc->n_step_types; k++)
            free(pc->step_types[k]);
        free(pc->step_types);
        json_decref(pc->config);
    }
    free(cfg->plugins);
    free(cfg->name);
    free(cfg->plugin_dir);
    free(cfg->health_observer);
    free(cfg->evidence_log);
    free(cfg->signing_key);
    free(cfg->scopes_db);
    free(cfg->queue_db);
    free(cfg->audit_log);
    free(cfg->audit_handler);
    jx__runner_conf_clear(&cfg->runner);
    jx__retry_conf_clear(&cfg->retry);
    free(cfg);
}

void jx__runner_conf_defaults(jx__runner_conf *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->max_output_bytes = 1024 * 1024;
    rc->max_stderr_bytes = 4096;
    rc->max_address_space_mb = 2048;
    rc->max_cpu_seconds = 3600;
    rc->max_open_files = 1024;
    rc->kill_grace_ms = 500;
    rc->max_per_plugin = 1;
}

void jx__runner_conf_clear(jx__runner_conf *rc)
{
    free(rc->path);
    free(rc->user);
    free(rc->group);
    memset(rc, 0, sizeof *rc);
}

void jx__retry_conf_defaults(jx__retry_conf *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->strategy = JX__RETRY_EXPONENTIAL;
    rc->base_delay = JX__RETRY_DEFAULT_BASE;
    rc->max_delay = JX__RETRY_DEFAULT_MAX;
    rc->jitter = 0;
    rc->max_retries = JX__RETRY_DEFAULT_RETRIES;
}

void jx__retry_conf_clear(jx__retry_conf *rc)
{
    for (size_t i = 0; i < rc->n_patterns; i++) {
        regfree(&rc->patterns[i]);
        free(rc->pattern_texts[i]);
    }
    free(rc->patterns);
    free(rc->pattern_texts);
    memset(rc, 0, sizeof *rc);
}
