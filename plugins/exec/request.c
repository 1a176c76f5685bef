/*
 * request.c - the command a step describes:
 *
 *   argv: [program, arg, ...]     required; no shell is involved
 *   env: {NAME: value, ...}       the whole environment, besides PATH and
 *                                 LANG (which env may set too)
 *   cwd: /some/folder
 *   stdin: text
 *
 * A value in env, or stdin, may be {param: NAME}: the value of the step's
 * parameter NAME.  That is how a secret reaches a command: name it in
 * secret_parameters and reference it, and it is never on a command line
 * (where every user of the machine can read it) nor in the evidence.
 */
#define _GNU_SOURCE /* asprintf, sigabbrev_np, posix_spawn_*_np */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "exec.h"

void exec_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static json_t *param(const jx_host_v1 *host, const jx_step *step,
                     const char *key)
{
    const char *text = host->param_json(step, key);
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

/* A string value, or {param: NAME} naming a string parameter.  *out
 * points into v or into the step (valid during the call). */
static int text_value(const jx_host_v1 *host, const jx_step *step,
                      const json_t *v, const char *what, const char **out,
                      char *why, size_t why_len)
{
    const char *ref;

    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    ref = json_string_value(json_object_get(v, "param"));
    if (!json_is_object(v) || json_object_size(v) != 1 || ref == NULL) {
        exec_why(why, why_len, "%s must be a string or {param: NAME}", what);
        return -1;
    }
    if ((*out = host->param_string(step, ref)) == NULL) {
        exec_why(why, why_len, "%s refers to parameter '%s', which is not a "
                               "string parameter of the step",
                 what, ref);
        return -1;
    }
    return 0;
}

/* The program: argv[0] as given when it has a slash, else the first
 * executable of that name on path (the commands' PATH, not ours). */
static char *resolve(const char *name, const char *path, char *why,
                     size_t why_len)
{
    char *copy, *save = NULL;

    if (strchr(name, '/') != NULL)
        return strdup(name);
    if ((copy = strdup(path)) == NULL)
        return NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
         dir = strtok_r(NULL, ":", &save)) {
        char *full;
        if (asprintf(&full, "%s/%s", dir, name) < 0)
            break;
        if (access(full, X_OK) == 0) {
            free(copy);
            return full;
        }
        free(full);
    }
    free(copy);
    exec_why(why, why_len, "command '%s' not found in PATH %s", name, path);
    return NULL;
}

static int read_argv(const json_t *argv, exec_request *req,
                     const exec_config *cfg, char *why, size_t why_len)
{
    size_t n = json_array_size(argv), i;
    const json_t *a;

    if (!json_is_array(argv) || n == 0) {
        exec_why(why, why_len, "parameter 'argv' is required: a list of "
                               "strings, the program first (no shell)");
        return -1;
    }
    json_array_foreach(argv, i, a)
        if (!json_is_string(a) || (i == 0 && json_string_length(a) == 0)) {
            exec_why(why, why_len, "argv[%zu] must be a%s string", i,
                     i == 0 ? " non-empty" : "");
            return -1;
        }
    if (req == NULL)
        return 0;
    if ((req->argv = calloc(n + 1, sizeof *req->argv)) == NULL)
        return -1;
    json_array_foreach(argv, i, a) {
        const char *s = json_string_value(a);
        req->argv[i] = i == 0 ? resolve(s, cfg->path, why, why_len)
                              : strdup(s);
        if (req->argv[i] == NULL)
            return -1;
    }
    return 0;
}

/* NAME=VALUE, malloc'd, into envp[*n]. */
static int add_env(char **envp, size_t *n, const char *name,
                   const char *value)
{
    if (asprintf(&envp[*n], "%s=%s", name, value) < 0) {
        envp[*n] = NULL;
        return -1;
    }
    (*n)++;
    return 0;
}

static int read_env(const jx_host_v1 *host, const jx_step *step,
                    const json_t *env, exec_request *req,
                    const exec_config *cfg, char *why, size_t why_len)
{
    const char *name;
    const json_t *v;
    size_t n = 0;

    if (env != NULL && !json_is_object(env)) {
        exec_why(why, why_len, "parameter 'env' must be a mapping of "
                               "variable names to values");
        return -1;
    }
    if (req != NULL &&
        (req->envp = calloc(json_object_size(env) + 3,
                            sizeof *req->envp)) == NULL)
        return -1;
    json_object_foreach((json_t *)env, name, v) {
        const char *value;
        char what[300];

        if (name[0] == '\0' || strchr(name, '=') != NULL) {
            exec_why(why, why_len, "env: '%s' is not a variable name", name);
            return -1;
        }
        snprintf(what, sizeof what, "env %s", name);
        if (text_value(host, step, v, what, &value, why, why_len) != 0)
            return -1;
        if (req != NULL && add_env(req->envp, &n, name, value) != 0)
            return -1;
    }
    if (req == NULL)
        return 0;
    if ((json_object_get(env, "PATH") == NULL &&
         add_env(req->envp, &n, "PATH", cfg->path) != 0) ||
        (json_object_get(env, "LANG") == NULL &&
         add_env(req->envp, &n, "LANG", cfg->lang) != 0))
        return -1;
    return 0;
}

static int read_rest(const jx_host_v1 *host, const jx_step *step,
                     const json_t *cwd, const json_t *input,
                     exec_request *req, char *why, size_t why_len)
{
    const char *text = NULL;

    if (cwd != NULL && (!json_is_string(cwd) || json_string_length(cwd) == 0)) {
        exec_why(why, why_len, "parameter 'cwd' must be a folder's path");
        return -1;
    }
    if (input != NULL &&
        text_value(host, step, input, "parameter 'stdin'", &text, why,
                   why_len) != 0)
        return -1;
    if (req == NULL)
        return 0;
    if ((cwd != NULL && (req->cwd = strdup(json_string_value(cwd))) == NULL) ||
        (text != NULL && (req->input = strdup(text)) == NULL))
        return -1;
    req->input_len = text != NULL ? strlen(text) : 0;
    return 0;
}

int exec_request_read(const exec_config *cfg, const jx_host_v1 *host,
                      const jx_step *step, exec_request *req, char *why,
                      size_t why_len)
{
    json_t *argv = param(host, step, "argv"), *env = param(host, step, "env");
    json_t *cwd = param(host, step, "cwd"), *input = param(host, step, "stdin");
    int rc;

    if (req != NULL)
        memset(req, 0, sizeof *req);
    why[0] = '\0';
    rc = read_argv(argv, req, cfg, why, why_len) != 0 ||
                 read_env(host, step, env, req, cfg, why, why_len) != 0 ||
                 read_rest(host, step, cwd, input, req, why, why_len) != 0
             ? -1
             : 0;
    if (rc != 0 && why[0] == '\0')
        exec_why(why, why_len, "out of memory");
    json_decref(argv);
    json_decref(env);
    json_decref(cwd);
    json_decref(input);
    return rc;
}

void exec_request_free(exec_request *req)
{
    for (size_t i = 0; req->argv != NULL && req->argv[i] != NULL; i++)
        free(req->argv[i]);
    for (size_t i = 0; req->envp != NULL && req->envp[i] != NULL; i++)
        free(req->envp[i]);
    free(req->argv);
    free(req->envp);
    free(req->cwd);
    free(req->input);
    memset(req, 0, sizeof *req);
}
