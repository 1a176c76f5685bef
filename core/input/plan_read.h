/*
 * plan_read.h - what the two plan readers share: the positioned reader
 * (plan.c, YAML and any JSON) and the fast one (plan_json.c, JSON alone).
 */
#ifndef JX__INPUT_PLAN_READ_H
#define JX__INPUT_PLAN_READ_H

#include <stddef.h>

#include "input/plan.h"

/* A plan may take 8 times its size plus this many MiB while it is read
 * (its text included); a plan that would take more is refused where the
 * reader stands when it runs out. */
#define JX__PLAN_MEMORY_MIB 16
#define JX__PLAN_MEMORY_RULE \
    "a plan may take 8 times its size plus 16 MiB, its text included"

/* The fast reader's answer for a text it does not take whole: read it the
 * positioned way, which refuses it with its position or accepts it. */
#define JX__PLAN_DECLINED 1

/* jx_plan_parse() is the fast reader, then the positioned one when the
 * fast one declines (JX__PLAN_DECLINED, *out NULL); each alone, for the
 * tests that hold them to the same answers. */
int jx__plan_parse_fast(const char *text, size_t len, const char *name,
                        jx_plan **out, jx_error *err);
int jx__plan_parse_positioned(const char *text, size_t len, const char *name,
                              jx_plan **out, jx_error *err);

/* An empty plan named name, its budget set for a text of text_len bytes;
 * NULL when out of memory.  The caller jx_plan_free()s it. */
jx_plan *jx__plan_new(const char *name, size_t text_len);
void jx__plan_generate_job_id(jx_plan *plan);

/* A copy of len bytes of text in the plan's arena as *out (NUL added);
 * JX_ENOMEM, or JX_ELIMIT past the budget, with err filled. */
int jx__plan_keep(jx_plan *plan, const char *text, size_t len,
                  const char **out, jx_error *err);
/* Why the arena gave nothing: the budget's refusal at read_line:read_col
 * (errno E2BIG), or out of memory.  Returns the code. */
int jx__plan_oom(const jx_plan *plan, jx_error *err);
/* Adds a secret value (a copy) to the plan's list, longest first. */
int jx__plan_add_secret(jx_plan *plan, const char *value, jx_error *err);
/* Room in plan->steps (*cap long) for one more step, charged to the
 * budget; a refusal at line:col when it is spent. */
int jx__plan_grow_steps(jx_plan *plan, size_t *cap, unsigned line,
                        unsigned col, jx_error *err);
/* The fewest bytes a step of a JSON plan commonly takes: a plan of len
 * bytes has its array reserved for len / JX__PLAN_MIN_STEP_BYTES steps
 * before it is read, so that a long plan's array is not moved (and each of
 * its pages touched again) as it grows.  Charged to the budget; a plan of
 * smaller steps grows past it. */
#define JX__PLAN_MIN_STEP_BYTES 64

/* What a step without parameters points at. */
extern const char jx__no_params_json[];

/* Told by the fast reader, between steps, that it reads no byte before
 * upto again (NULL: the text stays whole). */
typedef void jx__plan_release_fn(void *user, const char *upto);

/*
 * Reads a JSON plan straight into plan, without a tree: 0 (steps' array
 * *cap long; on entry, the room it already has), JX__PLAN_DECLINED for
 * anything it does not take whole (not JSON, a schema error, a limit, an
 * unusual shape; plan is then to be thrown away), or JX_ENOMEM.  It never refuses: what it takes, the
 * positioned reader would take the same way.  With release, the text
 * behind each finished step may be given back as it goes: a plan it
 * declines is then to be read again from its source.
 */
int jx__plan_read_json(jx_plan *plan, const char *text, size_t len,
                       jx__plan_release_fn *release, void *release_user,
                       size_t *cap, jx_error *err);

#endif
