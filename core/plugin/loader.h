/*
 * loader.h - opens plugin modules safely and checks their descriptors.
 */
#ifndef JX__PLUGIN_LOADER_H
#define JX__PLUGIN_LOADER_H

#include <pthread.h>

#include <jansson.h>

#include "base/common.h"
#include "input/config_file.h"
#include "plugin/host.h"

typedef struct jx__plugin {
    char *path;          /* the file opened, "(in-process)" or "(preloaded)" */
    char *written;       /* the config's path value, for health.observer */
    void *module;        /* lt_dlhandle; NULL for in-process handlers */
    int module_fd;       /* the checked file it was loaded from, or -1 */
    const step_handler_v1 *handler;    /* NULL when not exported */
    const health_observer_v1 *observer; /* NULL when not exported */
    void *handler_state;
    void *observer_state;
    int handler_ready;   /* init succeeded; fini is owed */
    int isolated;        /* handler is a proxy to a runner process */
    int observer_ready;
    json_t *config;      /* the plugin's config section (owned) */
    /* Serialises calls into plugins that are not thread-safe. */
    pthread_mutex_t lock;
    /* Bound step types, NULL-terminated (pointers owned here). */
    char **bound;
    size_t n_bound;
    /* Isolated: how many runners at most, and who they run as
     * ("nobody:nogroup"; owned).  0 and NULL in-process. */
    unsigned runners;
    char *runner_user;
} jx__plugin;

/* Where a plugin came from, for messages: "FILE:LINE:COL: plugin 'P'". */
typedef struct jx__origin {
    const char *file;
    unsigned line, col;
    const char *path;
} jx__origin;

/*
 * Opens the module of a config entry after checking the file and every
 * folder above it, finds its descriptors and checks them.  Nothing of the
 * plugin runs yet (no init).  *out is freed with jx__plugin_free().
 */
int jx__plugin_open(const jx__plugin_conf *pc, const char *config_name,
                    jx__plugin **out, jx_error *err);

/* Whether a module of that name was linked in with -dlpreopen: part of the
 * trusted binary, it runs in-process unless the config says otherwise. */
int jx__plugin_is_preloaded(const char *name);

/* The file checks of jx__plugin_open alone, for a plugin that another
 * process will open. */
int jx__plugin_check_path(const jx__plugin_conf *pc, const char *config_name,
                          jx_error *err);

/* A plugin whose handler is a proxy (desc, state); desc->fini(state)
 * releases it when the plugin is freed. */
int jx__plugin_proxy(const jx__plugin_conf *pc, const step_handler_v1 *desc,
                     void *state, jx__plugin **out, jx_error *err);

/* Wraps descriptors that live in the embedding program. */
int jx__plugin_wrap(const step_handler_v1 *handler,
                    const health_observer_v1 *observer,
                    const char *config_json, jx__plugin **out, jx_error *err);

/* Checks magic, abi_version and struct_size, then required members. */
int jx__check_handler(const step_handler_v1 *d, const jx__origin *o,
                      jx_error *err);
int jx__check_observer(const health_observer_v1 *d, const jx__origin *o,
                       jx_error *err);

/* Calls the handler's (or observer's) init with the plugin's config. */
int jx__plugin_init_handler(jx__plugin *p, const jx__origin *o, jx_error *err);
int jx__plugin_init_observer(jx__plugin *p, const jx__origin *o,
                             jx_error *err);

/*
 * Calls into a plugin that is not thread-safe are serialised on its lock.
 * An isolated plugin's proxy queues its own calls: each runner process
 * serves one step at a time.  Returns whether the lock was taken, for
 * jx__plugin_leave().
 */
/* The plugin's name as its descriptor gives it. */
static inline const char *jx__plugin_name(const jx__plugin *p)
{
    if (p->handler != NULL)
        return p->handler->name;
    return p->observer != NULL ? p->observer->name : NULL;
}

static inline int jx__plugin_enter(jx__plugin *p, uint32_t flags)
{
    int locked = !p->isolated && (flags & JX_HANDLER_THREAD_SAFE) == 0;
    if (locked)
        pthread_mutex_lock(&p->lock);
    jx__log_plugin = jx__plugin_name(p);
    return locked;
}

static inline void jx__plugin_leave(jx__plugin *p, int locked)
{
    jx__log_plugin = NULL;
    if (locked)
        pthread_mutex_unlock(&p->lock);
}

/* Calls fini for what was initialised, closes the module, frees p. */
void jx__plugin_free(jx__plugin *p);

/* NULL but in tests: called between the checks of a module file and its
 * load, with the path checked, so that a test can swap the file at the
 * worst moment and prove that what is loaded is what was checked. */
extern void (*jx__loader_checked_hook)(const char *path);

/* libltdl keeps global state: every lt_ call goes through here. */
int jx__ltdl_acquire(jx_error *err);
void jx__ltdl_release(void);

#endif
