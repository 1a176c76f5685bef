/*
 * health_static - a health observer that reports, as every snapshot, the
 * `snapshot` mapping of its config.  Useful for tests and for hosts whose
 * health is checked elsewhere.
 */
#include <stdlib.h>
#include <string.h>

#include <jobexec/step_handler_v1.h>

typedef struct static_state {
    char *snapshot_json; /* the snapshot mapping, as JSON text */
} static_state;

static void set_error(char *errbuf, size_t len, const char *why)
{
    strncpy(errbuf, why, len - 1);
    errbuf[len - 1] = '\0';
}

static int health_init(const jx_host_v1 *host, const jx_plugin_config *config,
                       void **state, char *errbuf, size_t errbuf_len)
{
    const char *json = host->config_json(config, "snapshot");
    static_state *st;

    if (json == NULL)
        json = "{}";
    if (json[0] != '{') {
        set_error(errbuf, errbuf_len, "snapshot must be a mapping");
        return -1;
    }
    st = malloc(sizeof *st);
    if (st == NULL || (st->snapshot_json = strdup(json)) == NULL) {
        free(st);
        set_error(errbuf, errbuf_len, "out of memory");
        return -1;
    }
    *state = st;
    return 0;
}

static int health_observe(void *state, const jx_host_v1 *host,
                          jx_output *snapshot, char *errbuf, size_t errbuf_len)
{
    const static_state *st = state;
    int rc = host->out_merge_json(snapshot, st->snapshot_json);

    if (rc != 0) {
        set_error(errbuf, errbuf_len, "snapshot could not be recorded");
        return -1;
    }
    return 0;
}

static void health_fini(void *state)
{
    static_state *st = state;
    if (st != NULL)
        free(st->snapshot_json);
    free(st);
}

JX_HEALTH_OBSERVER(health_static) = {
    JX_HEALTH_OBSERVER_HEADER,
    "health_static",
    "1.0.0",
    JX_HANDLER_THREAD_SAFE,
    health_init,
    health_observe,
    health_fini,
};
