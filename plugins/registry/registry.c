/*
 * registry - a capability registry on SQLite: the shipped handler of the
 * capability and configuration step types, and a health observer that
 * reads the same database read-only.
 *
 * Config (the plugin's section):
 *   db: /var/lib/jobexec/registry.db   required, absolute; its folder must
 *                                      exist; the file is created
 *   busy_timeout_ms: 10000             how long a step waits for another
 *                                      writer (another executor) to finish
 *   max_capabilities: 1000             entries in a health snapshot; the
 *   max_configuration: 1000            snapshot says when it was cut
 *
 * Not thread-safe: each instance holds one SQLite connection, and SQLite
 * runs one write at a time per database anyway.  Several executors, on one
 * host or in several processes, share a database safely: every step is one
 * BEGIN IMMEDIATE transaction.
 */
#include <stdlib.h>

#include "registry.h"

static const char *const registry_types[] = {
    "capability_add",     "capability_remove",    "capability_enable",
    "capability_disable", "configuration_change", NULL,
};

static void registry_fini(void *state)
{
    reg_state *s = state;

    if (s == NULL)
        return;
    reg_close(&s->db);
    reg_config_free(&s->cfg);
    free(s);
}

/* Reads the config and opens the database for writing (readonly: 0) or
 * for the observer (readonly: 1). */
static int open_state(const jx_host_v1 *host, const jx_plugin_config *config,
                      int readonly, void **state, char *why, size_t why_len)
{
    reg_state *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL) {
        reg_why(why, why_len, "out of memory");
        return -1;
    }
    rc = reg_config_read(host, config, &s->cfg, why, why_len);
    if (rc == 0)
        rc = readonly ? reg_open_readonly(s->cfg.db, s->cfg.busy_timeout_ms,
                                          &s->db, why, why_len)
                      : reg_open(s->cfg.db, s->cfg.busy_timeout_ms, &s->db,
                                 why, why_len);
    if (rc != 0) {
        registry_fini(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int registry_init(const jx_host_v1 *host,
                         const jx_plugin_config *config, void **state,
                         char *why, size_t why_len)
{
    return open_state(host, config, 0, state, why, why_len);
}

/* The handler's init runs first and creates the database. */
static int observer_init(const jx_host_v1 *host,
                         const jx_plugin_config *config, void **state,
                         char *why, size_t why_len)
{
    return open_state(host, config, 1, state, why, why_len);
}

JX_STEP_HANDLER(registry) = {
    JX_STEP_HANDLER_HEADER,
    "registry",
    "1.0.0",
    registry_types,
    0, /* one connection per instance: the core serialises calls */
    registry_init,
    reg_validate,
    reg_execute,
    registry_fini,
};

JX_HEALTH_OBSERVER(registry) = {
    JX_HEALTH_OBSERVER_HEADER,
    "registry",
    "1.0.0",
    0,
    observer_init,
    reg_observe,
    registry_fini,
};
