/*
 * fuzz_plan.c - the plan parser: a plan file's bytes as received, through
 * jx_plan_parse() and, for a plan it accepts, the copy of its steps that a
 * queued job keeps.  The same bytes are also read as one step alone, as
 * `jobexec plugin check --step` takes it.
 */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "base/common.h"
#include "fuzz.h"
#include "input/plan.h"

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
    plan = NULL;
    if (jx_plan_parse_step(text, size, "fuzz", &plan, &err) == 0)
        jx_plan_free(plan);
    return 0;
}
