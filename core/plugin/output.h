/*
 * output.h - a handler's output: struct jx_output behind the ABI's opaque
 * type, and the calls the host table and the core make on it.
 */
#ifndef JX__PLUGIN_OUTPUT_H
#define JX__PLUGIN_OUTPUT_H

#include <stdint.h>

#include <jansson.h>
#include <jobexec/step_handler_v1.h>

#include "base/common.h"
#include "base/jsonbuf.h"

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
    unsigned leftover_processes; /* an isolated step's, killed after it */
    int failed_alloc; /* an out_* call ran out of memory */
    int not_utf8;     /* an out_* call was given a string that is not UTF-8 */
};

/* Frees what the output holds and leaves it empty (zero-initialised). */
void jx__output_clear(jx_output *out);
/* Appends the output as a JSON object; 0, or -1 when out of memory. */
int jx__output_put(jx__buf *b, const jx_output *out);
/* Takes the output as a jansson object (the caller owns it), leaving out
 * empty; NULL when out of memory. */
json_t *jx__output_take(jx_output *out);
/* Makes object (whose reference is taken; NULL: none) the output. */
void jx__output_set(jx_output *out, json_t *object);
/* While the output is still text: its members as jx__output_put writes
 * them (len bytes, not NUL-terminated), every string escaped only where
 * JSON must be (a control character, the quote, the backslash).  NULL
 * once it is a jansson object. */
const char *jx__output_text(const jx_output *out, size_t *len);

/* The host table's out_* entries (step_handler_v1.h says what each does). */
int jx__out_string(jx_output *out, const char *key, const char *value);
int jx__out_int(jx_output *out, const char *key, int64_t value);
int jx__out_bool(jx_output *out, const char *key, int value);
int jx__out_double(jx_output *out, const char *key, double value);
int jx__out_json(jx_output *out, const char *key, const char *json);
int jx__out_merge_json(jx_output *out, const char *json_object);
void jx__out_error(jx_output *out, const char *message);

#endif
