/*
 * binding.h - which plugin handles which step type: the table the run
 * loop and check look step types up in.
 */
#ifndef JX__PLUGIN_BINDING_H
#define JX__PLUGIN_BINDING_H

#include <stddef.h>

#include "plugin/loader.h"

typedef struct jx__binding {
    const char *step_type; /* owned by the plugin's bound list */
    jx__plugin *plugin;
    size_t order;          /* the plugin's position, to break ties */
} jx__binding;

/* Sorted by step type; zero-initialised is empty. */
typedef struct jx__bindings {
    jx__binding *table;
    size_t n;
} jx__bindings;

/*
 * Records in p->bound the step types p handles: its own and those extra
 * (the config's step_types, NULL-terminated, may be NULL) adds, each once.
 * A plugin that exports no step_handler_v1 takes none.
 */
int jx__binding_collect(jx__plugin *p, const char *const *extra,
                        const jx__origin *o, jx_error *err);

/*
 * Rebuilds the table from every plugin's bound types.  A step type bound
 * twice is refused, naming both plugins and, when o names a config file,
 * where the later one stands; the table is then left as it was.
 */
int jx__binding_rebuild(jx__bindings *b, jx__plugin *const *plugins,
                        size_t n_plugins, const jx__origin *o, jx_error *err);

/* Drops p's entries in place: it never allocates, so taking a plugin back
 * out cannot fail and leave entries pointing at a freed plugin. */
void jx__binding_drop(jx__bindings *b, const jx__plugin *p);

/* The plugin bound to type, or NULL. */
jx__plugin *jx__binding_find(const jx__bindings *b, const char *type);

void jx__binding_free(jx__bindings *b);

#endif
