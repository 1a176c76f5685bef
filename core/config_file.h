/*
 * config.h - the ops config, read and checked; nothing is loaded here.
 */
#ifndef JX_CONFIG_FILE_H
#define JX_CONFIG_FILE_H

#include <jansson.h>

#include "internal.h"

typedef struct jx__plugin_conf {
    char *path_written;  /* as in the file, for messages and health.observer */
    char *path;          /* resolved: absolute, extension added */
    char **step_types;   /* extra bindings from the config */
    size_t n_step_types;
    json_t *config;      /* the plugin's own section, always an object */
    unsigned line, col;  /* where the entry stands */
} jx__plugin_conf;

struct jx_config {
    char *name;          /* the file, for messages */
    char *plugin_dir;
    jx__plugin_conf *plugins;
    size_t n_plugins;
    char *health_observer; /* NULL: no observer */
    unsigned health_line, health_col;
    char *evidence_log;    /* NULL: no log */
};

#endif
