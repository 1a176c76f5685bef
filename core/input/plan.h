/*
 * plan.h - a job's plan, read and checked before anything runs.
 */
#ifndef JX__INPUT_PLAN_H
#define JX__INPUT_PLAN_H

#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/common.h"
#include "input/secrets.h"

#define JX__DEFAULT_TIMEOUT_SECONDS 300
#define JX__DEFAULT_EXECUTED_BY "executor"
#define JX__PLAN_MAX_BYTES (128 * 1024 * 1024)

typedef struct jx__step {
    int64_t index;
    /* Every string of a step lives in its plan's arena. */
    const char *type;
    const char *target; /* "" when absent */
    /* type and target as JSON string literals, encoded once at load so
     * that evidence records are assembled without re-escaping per run. */
    const char *type_json;
    const char *target_json;
    int64_t timeout_seconds;
    /* The parameters, an object, as compact JSON text exactly as
     * jansson's compact dump writes it; handlers that read them get the
     * object decoded at the step (plugin/host.c), so that a long plan
     * holds text, not trees. */
    const char *params_json;
    size_t n_params;
    unsigned line, col; /* where the step stands in the plan */
} jx__step;

struct jx_plan {
    char *name; /* file name, or "<stdin>" */
    char job_id[JX__UUID_LEN + 1];
    int job_id_generated; /* the plan had none: each parse makes a new one */
    char contract_id[JX__UUID_LEN + 1];
    const char *tenant_id;   /* "" when absent */
    const char *executed_by;
    char sha256[65];   /* of the plan's bytes as received, hex */
    jx__step *steps;
    size_t n_steps;
    /* Values of every secret parameter: redacted from all the executor
     * writes (redact.h). */
    jx__secrets secrets;
    jx__arena strings; /* the strings of the plan and its steps */
    /* While the plan is read: what it may still take, and where the
     * reader stands, for a refusal when that runs out. */
    jx__budget budget;
    unsigned read_line, read_col;
};

/* What the runner receives of a step the core has already checked. */
typedef struct jx__single_step {
    const char *job_id, *contract_id, *tenant_id, *executed_by;
    int64_t index;
    const char *type, *target;
    int64_t timeout_seconds;
    const json_t *params; /* an object; the plan keeps its text */
} jx__single_step;

/* A one-step plan from such a step, without parsing any text. */
int jx__plan_single(const jx__single_step *in, jx_plan **out, jx_error *err);

/* The steps of a plan's text (one jx_plan_parse() accepted) as a JSON
 * array, each step as written: what a queued job keeps of its plan.
 * *steps is the caller's to json_decref(). */
int jx__plan_steps_json(const char *text, size_t len, const char *name,
                        json_t **steps, jx_error *err);

#endif
