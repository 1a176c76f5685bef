/*
 * plan.h - a job's plan, read and checked before anything runs.
 */
#ifndef JX__INPUT_PLAN_H
#define JX__INPUT_PLAN_H

#include <stdint.h>

#include <jansson.h>

#include "base/common.h"

#define JX__DEFAULT_TIMEOUT_SECONDS 300
#define JX__DEFAULT_EXECUTED_BY "executor"
#define JX__PLAN_MAX_BYTES (128 * 1024 * 1024)

typedef struct jx__step {
    int64_t index;
    char *type;
    char *target;       /* "" when absent */
    /* type and target as JSON string literals, encoded once at load so
     * that evidence records are assembled without re-escaping per run. */
    char *type_json;
    char *target_json;
    int64_t timeout_seconds;
    json_t *params;     /* always an object */
    char *params_json;  /* compact text of params */
    const char **param_keys; /* keys of params in plan order (point into params) */
    size_t n_params;
    unsigned line, col; /* where the step stands in the plan */
} jx__step;

struct jx_plan {
    char *name; /* file name, or "<stdin>" */
    char job_id[JX__UUID_LEN + 1];
    int job_id_generated; /* the plan had none: each parse makes a new one */
    char contract_id[JX__UUID_LEN + 1];
    char *tenant_id;   /* "" when absent */
    char *executed_by;
    char sha256[65];   /* of the plan's bytes as received, hex */
    jx__step *steps;
    size_t n_steps;
    /* Values of every secret parameter, longest first: redacted from all
     * the executor writes (redact.h). */
    char **secrets;
    size_t n_secrets;
    /* The parameters of every step that has none: one shared empty
     * object, so that a long plan does not hold one per step. */
    json_t *no_params;
};

/* What the runner receives of a step the core has already checked. */
typedef struct jx__single_step {
    const char *job_id, *contract_id, *tenant_id, *executed_by;
    int64_t index;
    const char *type, *target;
    int64_t timeout_seconds;
    json_t *params; /* an object; the plan takes a reference */
} jx__single_step;

/* A one-step plan from such a step, without parsing any text. */
int jx__plan_single(const jx__single_step *in, jx_plan **out, jx_error *err);

/* The steps of a plan's text (one jx_plan_parse() accepted) as a JSON
 * array, each step as written: what a queued job keeps of its plan.
 * *steps is the caller's to json_decref(). */
int jx__plan_steps_json(const char *text, size_t len, const char *name,
                        json_t **steps, jx_error *err);

#endif
