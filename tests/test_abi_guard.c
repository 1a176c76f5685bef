/*
 * test_abi_guard.c - the ABI compatibility guard: a plugin built against
 * the 1.0 header (tests/abi-1.0) loads, validates and runs, in-process
 * and isolated, whatever the current headers have grown.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugin_util.h"

static void guard(pfix *f, const char *isolation)
{
    pf_executor(f,
                "plugins:\n"
                "  - path: " TU_FIXTURES "/abi_1_0.so\n"
                "    isolation: %s\n"
                "    config: {greeting: hej}\n"
                "runner: {path: " TU_RUNNER "}\n",
                isolation);
}

static void check_runs(pfix *f)
{
    json_t *out;

    assert_int_equal(pf_run(f, "  - {step_index: 4, step_type: abi_1_0, "
                               "parameters: {name: ada}}\n"),
                     JX_JOB_COMPLETED);
    out = pf_output(f, 0);
    assert_string_equal(pf_str(out, "greeting"), "hej");
    assert_string_equal(pf_str(out, "name"), "ada");
    assert_string_equal(pf_str(out, "job"), jx_result_job_id(f->res));
    assert_int_equal(json_integer_value(json_object_get(out, "index")), 4);
    /* The host's table is at least as large as the 1.0 one. */
    assert_true(json_integer_value(json_object_get(out,
                                                   "struct_size_host")) >=
                (json_int_t)sizeof(jx_host_v1));
    /* Its progress report reached the evidence. */
    pf_assert_json(json_object_get(pf_step(f, 0), "progress"),
                   "{\"fraction\":0.5,\"message\":\"half way\"}");
}

static void check_validate(pfix *f)
{
    tu_plan("contract_id: " TU_CONTRACT "\nsteps:\n"
            "  - {step_index: 0, step_type: abi_1_0}\n",
            &f->plan, &f->err);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), JX_EREFUSED);
    assert_string_equal(f->err.message, "plan.yaml:3:5: step 0 refused by "
                                        "'abi_1_0': parameter 'name' is "
                                        "required");
}

static void test_guard_inproc(void **state)
{
    pfix *f = *state;

    guard(f, "inproc");
    check_runs(f);
    check_validate(f);
}

static void test_guard_isolated(void **state)
{
    pfix *f = *state;

    guard(f, "process");
    check_runs(f);
    check_validate(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PTEST(test_guard_inproc),
        PTEST(test_guard_isolated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
