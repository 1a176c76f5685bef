/*
 * redact.h - keeps a plan's secret parameter values out of everything the
 * executor writes: evidence records, the evidence document, log messages.
 * Replacement happens before hashing, so a chain verifies without them.
 */
#ifndef JX__INPUT_REDACT_H
#define JX__INPUT_REDACT_H

#include <jansson.h>

#include "input/plan.h"

#define JX__REDACTED "[REDACTED]"

/* Whether the plan declares any secret; when not, nothing needs a scan. */
int jx__has_secrets(const jx_plan *plan);

/*
 * Returns a malloc'd copy of s with every secret value replaced by
 * JX__REDACTED, or NULL when s holds none, or on OOM (then *oom is set).
 */
char *jx__redact_text(const jx_plan *plan, const char *s, int *oom);

/*
 * Like jx__redact_text, for text that was cut short: an ending that is the
 * start of a secret is redacted too, since the cut hid the rest of it.
 */
char *jx__redact_cut(const jx_plan *plan, const char *s, int *oom);

/*
 * Replaces in err's message every secret the plan knows (as jx__fail
 * escaped it), for a refusal of that plan: no refusal shows a secret.
 */
void jx__redact_message(const jx_plan *plan, jx_error *err);

/*
 * Redacts the displayed copies of step types and targets (type_json,
 * target_json) once every secret of the plan is known.  0 or JX_ENOMEM.
 */
int jx__redact_plan(jx_plan *plan);

/*
 * Returns a new reference to a value without secrets: v itself when it
 * holds none, else a deep copy with strings and keys redacted.  NULL on
 * OOM.
 */
json_t *jx__redact_json(const jx_plan *plan, json_t *v);

/* The same, consuming the caller's reference to v (NULL passes through). */
json_t *jx__redact_json_take(const jx_plan *plan, json_t *v);

#endif
