/*
 * protocol.h - the messages between the core and jobexec-runner, defined
 * once for both sides: their frame codes, limits and payloads.  PROTOCOL.md
 * beside this file describes the exchange; frame.h carries the frames.
 *
 * Every payload is one JSON object.  Encoders append to a jx__buf and
 * return 0, or -1 when out of memory (or, for HELO, when the plugin's
 * strings are not UTF-8).  Decoders never trust their input: they return
 * 0, or -1 when the payload is not the message it should be, and leave
 * in *keep the parsed object whose strings the message points into (the
 * caller json_decref()s it, also after a failure).
 */
#ifndef JX__ISOLATE_PROTOCOL_H
#define JX__ISOLATE_PROTOCOL_H

#include <stdint.h>

#include <jansson.h>

#include "base/jsonbuf.h"
#include "input/plan.h"
#include "plugin/host.h"

#define JX__MSG_CODE(a, b, c, d)                                              \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |               \
     (uint32_t)(d) << 24)

/* core -> runner */
#define JX__MSG_LOAD JX__MSG_CODE('L', 'O', 'A', 'D') /* open + init */
#define JX__MSG_EXEC JX__MSG_CODE('E', 'X', 'E', 'C') /* run one step */
#define JX__MSG_VALI JX__MSG_CODE('V', 'A', 'L', 'I') /* validate one */
#define JX__MSG_QUIT JX__MSG_CODE('Q', 'U', 'I', 'T') /* fini, exit */
/* runner -> core */
#define JX__MSG_HELO JX__MSG_CODE('H', 'E', 'L', 'O') /* loaded */
#define JX__MSG_FAIL JX__MSG_CODE('F', 'A', 'I', 'L') /* could not load */
#define JX__MSG_LOG JX__MSG_CODE('L', 'O', 'G', '_')  /* host->log */
#define JX__MSG_PROG JX__MSG_CODE('P', 'R', 'O', 'G') /* progress */
#define JX__MSG_DONE JX__MSG_CODE('D', 'O', 'N', 'E') /* step result */
#define JX__MSG_VRES JX__MSG_CODE('V', 'R', 'E', 'S') /* validate result */

/* The largest HELO, FAIL, LOG, PROG or VRES the core accepts.  DONE is
 * bounded by runner.max_output_bytes instead. */
#define JX__MSG_SMALL_MAX (64 * 1024)
/* The largest request the runner accepts: a step as big as a plan. */
#define JX__MSG_REQUEST_MAX (256u * 1024 * 1024)
/* Bytes of a LOG or PROG message's text.  Escaping can make text six
 * times longer ("\u0001" per control byte): this keeps the frame under
 * JX__MSG_SMALL_MAX.  Longer text is cut and flagged. */
#define JX__MSG_TEXT_MAX (10 * 1024)

/* LOAD: the plugin to open and how to confine the runner first. */
typedef struct jx__msg_load {
    const char *path;        /* the file to open */
    const char *written;     /* the config's path value */
    const json_t *config;    /* the plugin's config section (an object) */
    const char *config_name; /* the config file, for messages */
    unsigned line, col;      /* the plugin entry's place in it */
    int64_t address_space_mb, cpu_seconds, open_files;
    int drop;                /* switch to uid/gid */
    int64_t uid, gid;
} jx__msg_load;

/* Returns the payload (malloc'd, NUL-terminated) or NULL. */
char *jx__msg_load_encode(const jx__msg_load *m);
int jx__msg_load_decode(const char *data, size_t len, jx__msg_load *m,
                        json_t **keep);

/* HELO: what the plugin says about itself. */
typedef struct jx__msg_hello {
    const char *name, *version;
    const json_t *step_types; /* an array; each element checked a string */
    int has_validate;
} jx__msg_hello;

int jx__msg_hello_encode(jx__buf *b, const step_handler_v1 *d);
int jx__msg_hello_decode(const char *data, jx__msg_hello *m, json_t **keep);

/* FAIL: the runner's own refusal, with its loader's code and message. */
int jx__msg_fail_encode(jx__buf *b, int code, const char *message);
/* *code is a JX_E... code (JX_ELOAD when the runner's is not one). */
void jx__msg_fail_decode(const char *data, int *code, const char **message,
                         json_t **keep);

/* EXEC and VALI: one step and the context around it. */
typedef struct jx__msg_request {
    jx__single_step step;
    const char *started_at;
    int64_t time_left_ms;
    int cancelled; /* the job was cancelled before the step was sent */
} jx__msg_request;

/* Type and target go raw: the displayed copies (type_json, target_json)
 * may be redacted, the handler's may not. */
int jx__msg_request_encode(jx__buf *b, const jx_context *ctx,
                           const jx__step *st, int cancelled);
int jx__msg_request_decode(const char *data, size_t len, jx__msg_request *m,
                           json_t **keep);

/* LOG and PROG: a message from the plugin (text cut to JX__MSG_TEXT_MAX,
 * then cut is set). */
typedef struct jx__msg_note {
    int level;       /* LOG: JX_LOG_..., clamped to the known levels */
    double fraction; /* PROG */
    const char *message;
    int cut;
} jx__msg_note;

int jx__msg_log_encode(jx__buf *b, int level, const char *message);
int jx__msg_progress_encode(jx__buf *b, double fraction, const char *message);
void jx__msg_note_decode(const char *data, size_t len, jx__msg_note *m,
                         json_t **keep);

/* DONE: execute's return value and output, or (done_error) a request the
 * runner could not read. */
int jx__msg_done_encode(jx__buf *b, int rc, const jx_output *out);
int jx__msg_done_error_encode(jx__buf *b, const char *error);
/* Mirrors the handler's output into out, as if it had run in the core;
 * *rc gets execute's return value. */
int jx__msg_done_decode(const char *data, jx_output *out, int *rc);

/* VRES: validate's verdict. */
int jx__msg_vres_encode(jx__buf *b, int ok, const char *why);
/* Returns 0 when the step was accepted, else -1 with the reason (maybe
 * "") in why. */
int jx__msg_vres_decode(const char *data, char *why, size_t why_len);

#endif
