/*
 * config_access.c - what callers read of a config once it is read, and the
 * one thing they may set on it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "input/config_file.h"

char *jx_config_plugin_section(const jx_config *cfg, const char *name)
{
    for (size_t i = 0; cfg != NULL && name != NULL && i < cfg->n_plugins; i++)
        if (strcmp(cfg->plugins[i].path_written, name) == 0)
            return json_dumps(cfg->plugins[i].config, JSON_COMPACT);
    return NULL;
}

const char *jx_config_scopes_db(const jx_config *cfg)
{
    return cfg != NULL ? cfg->scopes_db : NULL;
}

const char *jx_config_queue_db(const jx_config *cfg)
{
    return cfg != NULL ? cfg->queue_db : NULL;
}

const char *jx_config_signing_key(const jx_config *cfg)
{
    return cfg != NULL ? cfg->signing_key : NULL;
}

const char *jx_config_runner_path(const jx_config *cfg)
{
    return cfg != NULL ? cfg->runner.path : NULL;
}

int jx_config_set_runner_path(jx_config *cfg, const char *path)
{
    char *copy;

    if (cfg == NULL || path == NULL || path[0] != '/')
        return jx__fail(NULL, JX_EINVAL, "runner path must be absolute");
    if ((copy = strdup(path)) == NULL)
        return JX_ENOMEM;
    free(cfg->runner.path);
    cfg->runner.path = copy;
    return 0;
}
