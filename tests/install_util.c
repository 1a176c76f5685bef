/*
 * install_util.c - see install_util.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "install_util.h"

extern char **environ;

installed inst;

char *configured_prefix(void)
{
    char *pc = tu_read(TU_BUILDDIR "/jobexec.pc");
    char *prefix = NULL, *line;

    if (pc == NULL)
        return NULL;
    line = starts_with(pc, "prefix=") ? pc : strstr(pc, "\nprefix=");
    if (line != NULL) {
        line += line == pc ? 7 : 8;
        prefix = strndup(line, strcspn(line, "\n"));
    }
    free(pc);
    return prefix;
}

static int stage_paths(const char *prefix)
{
    if (asprintf(&inst.prefix, "%s%s", inst.root, prefix) < 0 ||
        asprintf(&inst.bin, "%s/bin/jobexec", inst.prefix) < 0 ||
        asprintf(&inst.libdir, "%s/lib", inst.prefix) < 0 ||
        asprintf(&inst.include, "%s/include", inst.prefix) < 0 ||
        asprintf(&inst.plugins, "%s/lib/jobexec/plugins", inst.prefix) < 0 ||
        asprintf(&inst.runner, "%s/libexec/jobexec/jobexec-runner",
                 inst.prefix) < 0 ||
        asprintf(&inst.pkgconfig, "%s/lib/pkgconfig", inst.prefix) < 0)
        return -1;
    /* The runner drops to an unprivileged user under root, who must reach
     * the staged plugins and whatever a test builds beside them. */
    return chmod(inst.root, 0755) == 0 ? 0 : -1;
}

int install_stage(void)
{
    char *prefix, *destdir = NULL;
    tu_proc p;

    if (inst.tried)
        return inst.ok ? 0 : -1;
    inst.tried = 1;
    prefix = configured_prefix();
    inst.root = tu_mkdtemp();
    if (prefix != NULL && inst.root != NULL &&
        asprintf(&destdir, "DESTDIR=%s", inst.root) > 0) {
        tu_run(&p, NULL,
               (const char *const[]){"/usr/bin/make", "-s", "-C",
                                     TU_BUILDDIR, "install", destdir, NULL});
        if (p.status != 0)
            fprintf(stderr, "make install failed (%d):\n%s%s", p.status,
                    p.out, p.err);
        inst.ok = p.status == 0 && stage_paths(prefix) == 0;
        tu_proc_free(&p);
    }
    free(destdir);
    free(prefix);
    return inst.ok ? 0 : -1;
}

int install_teardown(void **state)
{
    (void)state;
    if (inst.root != NULL)
        tu_rm_rf(inst.root);
    free(inst.root);
    free(inst.prefix);
    free(inst.bin);
    free(inst.libdir);
    free(inst.include);
    free(inst.plugins);
    free(inst.runner);
    free(inst.pkgconfig);
    memset(&inst, 0, sizeof inst);
    return 0;
}

/* Whether entry ("NAME=...") sets the variable var names ("NAME" or
 * "NAME=..."). */
static int same_name(const char *entry, const char *var)
{
    size_t len = strcspn(var, "=");

    return strncmp(entry, var, len) == 0 && entry[len] == '=';
}

char **env_with(const char *const *vars)
{
    size_t n = 0, n_vars = 0, k = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    while (vars[n_vars] != NULL)
        n_vars++;
    env = calloc(n + n_vars + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n_vars && !same_name(environ[i], vars[j]))
            j++;
        if (j == n_vars && (env[k++] = strdup(environ[i])) == NULL)
            goto fail;
    }
    for (size_t j = 0; j < n_vars; j++)
        if (strchr(vars[j], '=') != NULL &&
            (env[k++] = strdup(vars[j])) == NULL)
            goto fail;
    return env;
fail:
    free_env(env);
    return NULL;
}

void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

void run_installed(fixture *f, const char *const *args)
{
    const char *argv[16] = {inst.bin};
    char *libpath = fx_printf(f, "LD_LIBRARY_PATH=%s", inst.libdir);
    char **env = env_with((const char *const[]){libpath, NULL});
    size_t n = 0;

    assert_non_null(env);
    while (n < 14 && args[n] != NULL) {
        argv[n + 1] = args[n];
        n++;
    }
    argv[n + 1] = NULL;
    tu_proc_free(&f->p);
    spawn_ex(&f->p, argv, env, OUT_PIPE);
    free_env(env);
    assert_non_null(f->p.out);
}
