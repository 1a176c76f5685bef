/*
 * fuzz_plan.c - the plan parser: a plan file's bytes as received, through
 * jx_plan_parse() and, for a plan it accepts, the copy of its steps that a
 * queued job keeps.  The same bytes are also read as one step alone, as
 * `jobexec plugin check --step` takes it.  And the two plan readers are
 * held to one answer: what the fast JSON reader takes, the positioned
 * reader takes the same way (or refuses for memory alone, which the fast
 * one needs less of).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/common.h"
#include "fuzz.h"
#include "input/plan.h"
#include "input/plan_read.h"
#include "plan_util.h"

static void readers_agree(const char *text, size_t size)
{
    jx_error err = {0, ""};
    jx_plan *fast = NULL, *positioned = NULL;
    int rc;

    if (jx__plan_parse_fast(text, size, "fuzz", &fast, &err) != 0)
        return;
    rc = jx__plan_parse_positioned(text, size, "fuzz", &positioned, &err);
    if (rc != 0 && !(rc == JX_ELIMIT && strstr(err.message, "of memory (")))
        abort();
    if (rc == 0 && plan_difference(fast, positioned) != NULL)
        abort();
    jx_plan_free(fast);
    jx_plan_free(positioned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    jx_error err = {0, ""};
    jx_plan *plan = NULL;

    if (jx_plan_parse(text, size, "fuzz", &plan, &err) == 0) {
        json_t *steps = NULL;

        /* Whatever the parser accepts, the queue must be able to keep. */
        if (jx__plan_steps_json(text, size, "fuzz", &steps, &err) != 0)
            abort();
        json_decref(steps);
        jx_plan_free(plan);
    }
    readers_agree(text, size);
    plan = NULL;
    if (jx_plan_parse_step(text, size, "fuzz", &plan, &err) == 0)
        jx_plan_free(plan);
    return 0;
}
