/*
 * config_plugin.c - a config of one plugin, from the YAML of one entry of
 * plugins: alone: what `jobexec plugin check --config-section` reads, so
 * that the module is loaded from exactly what a config would say.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "input/config_file.h"
#include "input/yamldoc.h"

/* Whether text holds nothing but white space (and comments would need a
 * parser: an entry of only a comment is rare enough to be refused). */
static int blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr(" \t\r\n", text[i]) == NULL)
            return 0;
    return 1;
}

int jx_config_parse_plugin(const char *section, size_t len, const char *name,
                           const char *file, const char *default_plugin_dir,
                           unsigned flags, jx_config **out, jx_error *err)
{
    jx_config *cfg;
    jx__node *root = NULL;
    int rc;

    *out = NULL;
    if ((flags & ~(unsigned)JX_CONFIG_PLUGIN_ISOLATED) != 0 || file == NULL ||
        name == NULL)
        return jx__fail(err, JX_EINVAL, "jx_config_parse_plugin: invalid "
                                        "argument");
    if (default_plugin_dir == NULL)
        default_plugin_dir = jx_default_plugin_dir();
    /* No section: the entry as a config with only the path would have. */
    if (section == NULL || blank(section, len)) {
        section = "{}";
        len = 2;
    }
    if ((rc = jx__config_yaml(section, len, name, &root, err)) != 0)
        return rc;
    if ((cfg = jx__config_new(name)) == NULL ||
        (cfg->plugin_dir = strdup(default_plugin_dir)) == NULL ||
        (cfg->plugins = calloc(1, sizeof *cfg->plugins)) == NULL) {
        jx__node_free(root);
        jx_config_free(cfg);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    cfg->n_plugins = 1; /* counted first: jx_config_free frees a partial one */
    rc = jx__config_read_plugin(root, name, cfg->plugin_dir,
                                default_plugin_dir, file, &cfg->plugins[0],
                                err);
    jx__node_free(root);
    if (rc != 0) {
        jx_config_free(cfg);
        return rc;
    }
    if (flags & JX_CONFIG_PLUGIN_ISOLATED) {
        cfg->plugins[0].isolation = JX__ISOLATION_PROCESS;
        cfg->plugins[0].isolation_set = 1;
    }
    *out = cfg;
    return 0;
}
