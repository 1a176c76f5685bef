/*
 * plan_json.h - a plan built from JSON already parsed, without reading its
 * text again: how a worker makes the plan of a job it claimed.
 */
#ifndef JX__INPUT_PLAN_JSON_H
#define JX__INPUT_PLAN_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "base/common.h"

/* jx__plan_from_json()'s answer for a document it leaves to the parser. */
#define JX__PLAN_PARSE_TEXT 1

/*
 * The plan jx_plan_parse(text, len, name) gives, where text is doc as
 * json_dumps() writes it (so that it holds no key twice, which jansson
 * would read and YAML refuse): the same steps, ids, parameters and
 * sha256, with the same checks.  Only documents every
 * check accepts and whose values read the same in YAML and in jansson
 * are built here; for any other (a refusal to word, secret_parameters, a
 * real number, deep nesting, a large text) it returns
 * JX__PLAN_PARSE_TEXT, and the caller calls jx_plan_parse(), which says
 * the same thing about it as ever.  Returns 0 with *out, the caller's to
 * jx_plan_free(); JX__PLAN_PARSE_TEXT; or a negative code (out of
 * memory, err says).  doc is not changed; the plan may hold references
 * to its parameters.
 */
int jx__plan_from_json(json_t *doc, const char *text, size_t len,
                       const char *name, jx_plan **out, jx_error *err);

#endif
