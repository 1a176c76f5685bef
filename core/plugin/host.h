/*
 * host.h - the views lent to plugins and the host services table behind
 * them.  A view wraps core data read-only; anything a plugin asks to be
 * formatted (JSON of one parameter, say) lives in the view's scratch list
 * and is freed when the call returns.
 */
#ifndef JX__PLUGIN_HOST_H
#define JX__PLUGIN_HOST_H

#include <jansson.h>
#include <stdatomic.h>

#include "base/common.h"
#include "base/jsonbuf.h"
#include "input/plan.h"

typedef struct jx__scratch {
    struct jx__scratch *next;
    char text[];
} jx__scratch;

struct jx_step {
    const jx__step *step;
    jx__scratch *scratch;
    const jx_plan *plan; /* the step's plan */
};

struct jx_context {
    const jx_plan *plan;
    const char *started_at;  /* the job's start, ISO 8601 */
    int64_t step_index;      /* the running step */
    double deadline;         /* monotonic seconds */
    const atomic_int *cancelled;
    int cancel_fd;           /* readable once the job is cancelled; -1 */
    jx_progress_cb on_progress; /* from the run's options, may be NULL */
    void *user;
};

/* Keys an output keeps as text before it turns into a jansson object. */
#define JX__OUTPUT_TEXT_KEYS 16

/*
 * What a handler hands back.  Strings, integers and booleans under new
 * keys, which is what most handlers set, are kept as the JSON text they
 * will be written as; anything else (a real, JSON, a merge, a key set
 * twice) turns the output into a jansson object first.  Either way the
 * result reads exactly as jansson's compact dump of the object would.
 * Zero-initialised is empty.
 */
struct jx_output {
    json_t *object;  /* NULL while the output is text */
    jx__buf members; /* while text: ",\"key\":value" per member, in order */
    struct {
        size_t at, len; /* a key's JSON literal in members */
    } keys[JX__OUTPUT_TEXT_KEYS];
    size_t n_keys;
    char *error;
    char *stderr_text;  /* an isolated plugin's captured stderr, or NULL */
    size_t stderr_dropped; /* bytes of it beyond the limit */
    int failed_alloc; /* an out_* call ran out of memory */
    int not_utf8;     /* an out_* call was given a string that is not UTF-8 */
};

struct jx_plugin_config {
    const json_t *object;
    jx__scratch *scratch;
};

extern const jx_host_v1 jx__host;

/* Frees what a view's calls formatted. */
void jx__scratch_free(jx__scratch **list);

/* Frees what the output holds and leaves it empty (zero-initialised). */
void jx__output_clear(jx_output *out);
/* Appends the output as a JSON object; 0, or -1 when out of memory. */
int jx__output_put(jx__buf *b, const jx_output *out);
/* Takes the output as a jansson object (the caller owns it), leaving out
 * empty; NULL when out of memory. */
json_t *jx__output_take(jx_output *out);
/* Makes object (whose reference is taken; NULL: none) the output. */
void jx__output_set(jx_output *out, json_t *object);

/* Routes host->log() calls; see jx_set_log_handler().  Secrets of the
 * job are redacted; cut says the message was cut short. */
void jx__log(const jx_context *ctx, int level, const char *message);
void jx__log_cut(const jx_context *ctx, int level, const char *message,
                 int cut);
/* Reports progress as ctx_progress does; cut: message was cut short (its
 * ending is redacted as a possible start of a secret). */
void jx__progress_cut(const jx_context *ctx, double fraction,
                      const char *message, int cut);

#endif
