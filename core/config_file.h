/*
 * config.h - the ops config, read and checked; nothing is loaded here.
 */
#ifndef JX_CONFIG_FILE_H
#define JX_CONFIG_FILE_H

#include <jansson.h>

#include "internal.h"

/* When the evidence log is synced to disk (evidence.fsync). */
typedef enum jx__fsync_policy {
    JX_FSYNC_STEP = 0, /* before every handler call and at job end */
    JX_FSYNC_JOB,      /* at job end */
    JX_FSYNC_NONE      /* left to the kernel */
} jx__fsync_policy;

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
    jx__fsync_policy evidence_fsync;
    char *signing_key;     /* NULL: jobs are sealed unsigned */
    unsigned signing_key_line, signing_key_col;
};

#endif
