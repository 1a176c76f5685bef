/*
 * test_plan.c - reading plans: defaults, typed parameters, YAML and JSON,
 * and every refusal with its exact "NAME:LINE:COL: reason" message
 * (JOB-001: a contract UUID; EXEC-001: strictly increasing step_index).
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
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "input/plan.h"
#include "testutil.h"

#define NAME "plan.yaml"
#define CONTRACT_UPPER "0F8C2A8D-5B7E-4F3A-8C2D-9E1F0A3B4C5D"
#define JOB_UPPER "6B0B1B3E-4C1D-4F8E-9A51-2F0F6A7E9C11"

/* A plan with one step, for the tests that change one thing. */
#define HEAD "contract_id: " TU_CONTRACT "\nsteps:\n"
#define STEP0 "  - step_index: 0\n    step_type: noop\n"

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    jx_plan *plan;
    jx_plan *plan2;
    jx_error err;
    char *dir;
    char *path;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_plan_free(f->plan);
    jx_plan_free(f->plan2);
    tu_temp_free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static jx_plan *parse_ok(fixture *f, const char *text)
{
    int rc;

    jx_plan_free(f->plan);
    f->plan = NULL;
    rc = jx_plan_parse(text, strlen(text), NAME, &f->plan, &f->err);
    if (rc != 0)
        fail_msg("unexpected failure: %s", f->err.message);
    assert_non_null(f->plan);
    return f->plan;
}

/* Asserts that text is refused as a plan with exactly message. */
static void parse_fails(fixture *f, const char *text, int code,
                        const char *message)
{
    jx_plan *plan = (jx_plan *)&plan; /* must be reset to NULL */
    int rc;

    memset(&f->err, 0, sizeof f->err);
    rc = jx_plan_parse(text, strlen(text), NAME, &plan, &f->err);
    if (rc == 0)
        f->plan2 = plan; /* freed by the teardown */
    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
    assert_string_equal(f->err.message, message);
    assert_null(plan);
}

#define PLAN_FAILS(f, text, message) parse_fails(f, text, JX_EPLAN, message)

/* A canonical lower-case random (version 4) UUID. */
static void assert_random_uuid(const char *s)
{
    assert_int_equal(strlen(s), 36);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(s[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", s[i]));
    }
    assert_int_equal(s[14], '4');
    assert_non_null(strchr("89ab", s[19]));
}

/* ---- valid plans -------------------------------------------------------- */

static const char minimal_plan[] = "contract_id: " CONTRACT_UPPER "\n"
                                   "steps:\n"
                                   "  - step_index: 0\n"
                                   "    step_type: noop\n";

static void test_minimal_plan(void **state)
{
    fixture *f = *state;
    jx_plan *plan = parse_ok(f, minimal_plan);
    const jx__step *st;

    assert_string_equal(plan->name, NAME);
    /* Stored canonical: lower case. */
    assert_string_equal(plan->contract_id, TU_CONTRACT);
    assert_string_equal(jx_plan_contract_id(plan), TU_CONTRACT);
    assert_int_equal(jx_plan_step_count(plan), 1);
    assert_int_equal(plan->n_steps, 1);
    /* SHA-256 of the bytes as received. */
    assert_string_equal(plan->sha256, "74f90c483d22b3608a850fc550c18f7d"
                                      "700a3d9ab1c34a5c60a243d329d84e24");
    st = &plan->steps[0];
    assert_int_equal(st->index, 0);
    assert_string_equal(st->type, "noop");
    assert_string_equal(st->type_json, "\"noop\"");
    assert_int_equal(st->line, 3);
    assert_int_equal(st->col, 5);
}

static void test_defaults(void **state)
{
    fixture *f = *state;
    jx_plan *plan = parse_ok(f, minimal_plan);
    const jx__step *st = &plan->steps[0];

    assert_string_equal(plan->executed_by, "executor");
    assert_string_equal(plan->tenant_id, "");
    assert_string_equal(st->target, "");
    assert_string_equal(st->target_json, "\"\"");
    assert_int_equal(st->timeout_seconds, 300);
    assert_string_equal(st->params_json, "{}");
    assert_int_equal(st->n_params, 0);
}

static void test_job_id_generated(void **state)
{
    fixture *f = *state;
    int rc;

    parse_ok(f, minimal_plan);
    assert_random_uuid(jx_plan_job_id(f->plan));
    assert_ptr_equal(jx_plan_job_id(f->plan), f->plan->job_id);
    assert_int_equal(jx_plan_job_id_generated(f->plan), 1);
    /* A new one for every plan read. */
    rc = jx_plan_parse(minimal_plan, strlen(minimal_plan), NAME, &f->plan2,
                       &f->err);
    assert_int_equal(rc, 0);
    assert_random_uuid(jx_plan_job_id(f->plan2));
    assert_string_not_equal(jx_plan_job_id(f->plan), jx_plan_job_id(f->plan2));
}

static void test_job_id_kept(void **state)
{
    fixture *f = *state;

    parse_ok(f, "job_id: " TU_JOB "\n" HEAD STEP0);
    assert_int_equal(jx_plan_job_id_generated(f->plan), 0);
    assert_string_equal(jx_plan_job_id(f->plan), TU_JOB);
    parse_ok(f, "job_id: \"" JOB_UPPER "\"\n" HEAD STEP0);
    assert_string_equal(jx_plan_job_id(f->plan), TU_JOB);
}

static void test_all_fields(void **state)
{
    fixture *f = *state;
    jx_plan *plan = parse_ok(
        f, "job_id: " TU_JOB "\n"
           "contract_id: " TU_CONTRACT "\n"
           "tenant_id: acme\n"
           "executed_by: ops-cli\n"
           "steps:\n"
           "  - step_index: 1\n"
           "    step_type: capability_enable\n"
           "    target: \"CAP \\\"A\\\"\"\n"
           "    timeout_seconds: 60\n"
           "  - step_index: 5\n"
           "    step_type: capability_disable\n"
           "    timeout_seconds: 604800\n"
           "  - {step_index: 6, step_type: x, target: '',\n"
           "     timeout_seconds: 1}\n");

    assert_string_equal(plan->tenant_id, "acme");
    assert_string_equal(plan->executed_by, "ops-cli");
    assert_int_equal(plan->n_steps, 3);
    assert_int_equal(plan->steps[0].index, 1);
    assert_string_equal(plan->steps[0].type, "capability_enable");
    assert_string_equal(plan->steps[0].target, "CAP \"A\"");
    assert_string_equal(plan->steps[0].target_json, "\"CAP \\\"A\\\"\"");
    assert_int_equal(plan->steps[0].timeout_seconds, 60);
    assert_int_equal(plan->steps[0].line, 6);
    assert_int_equal(plan->steps[1].index, 5);
    assert_int_equal(plan->steps[1].timeout_seconds, 604800);
    assert_int_equal(plan->steps[1].line, 10);
    assert_int_equal(plan->steps[2].index, 6);
    assert_string_equal(plan->steps[2].target, "");
    assert_int_equal(plan->steps[2].timeout_seconds, 1);
    assert_int_equal(plan->steps[2].line, 13);
    assert_int_equal(plan->steps[2].col, 5);
}

static void test_parameters_in_order_typed(void **state)
{
    fixture *f = *state;
    const jx__step *st;
    static const char *const keys[] = {"zeta", "alpha", "mid", "list",
                                       "nested", "none", "ratio"};
    json_t *params;
    void *it;

    parse_ok(f, HEAD "  - step_index: 0\n"
                     "    step_type: noop\n"
                     "    parameters:\n"
                     "      zeta: 1\n"
                     "      alpha: \"2\"\n"
                     "      mid: true\n"
                     "      list: [1, x]\n"
                     "      nested: {k: null}\n"
                     "      none:\n"
                     "      ratio: 0.5\n");
    st = &f->plan->steps[0];
    assert_int_equal(st->n_params, 7);
    assert_string_equal(st->params_json,
                        "{\"zeta\":1,\"alpha\":\"2\",\"mid\":true,"
                        "\"list\":[1,\"x\"],\"nested\":{\"k\":null},"
                        "\"none\":null,\"ratio\":0.5}");
    /* The text decodes to the same object, keys in plan order. */
    params = json_loads(st->params_json, 0, NULL);
    assert_non_null(params);
    it = json_object_iter(params);
    for (size_t i = 0; i < 7; i++, it = json_object_iter_next(params, it))
        assert_string_equal(json_object_iter_key(it), keys[i]);
    assert_null(it);
    assert_true(json_is_integer(json_object_get(params, "zeta")));
    assert_true(json_is_string(json_object_get(params, "alpha")));
    json_decref(params);
}

static void test_parameters_empty(void **state)
{
    fixture *f = *state;

    parse_ok(f, HEAD STEP0 "    parameters:\n");
    assert_string_equal(f->plan->steps[0].params_json, "{}");
    parse_ok(f, HEAD STEP0 "    parameters: {}\n");
    assert_string_equal(f->plan->steps[0].params_json, "{}");
    assert_int_equal(f->plan->steps[0].n_params, 0);
}

static void test_json_plan(void **state)
{
    fixture *f = *state;
    jx_plan *plan = parse_ok(
        f, "{\"job_id\": \"" TU_JOB "\", \"contract_id\": \"" TU_CONTRACT "\",\n"
           " \"tenant_id\": \"acme\", \"executed_by\": \"api\",\n"
           " \"steps\": [\n"
           "  {\"step_index\": 0, \"step_type\": \"a\", \"target\": \"T\",\n"
           "   \"timeout_seconds\": 30,\n"
           "   \"parameters\": {\"n\": 2, \"s\": \"2\"}},\n"
           "  {\"step_index\": 2, \"step_type\": \"b\"}]}");

    assert_string_equal(jx_plan_job_id(plan), TU_JOB);
    assert_string_equal(jx_plan_contract_id(plan), TU_CONTRACT);
    assert_string_equal(plan->tenant_id, "acme");
    assert_string_equal(plan->executed_by, "api");
    assert_int_equal(jx_plan_step_count(plan), 2);
    assert_string_equal(plan->steps[0].target, "T");
    assert_int_equal(plan->steps[0].timeout_seconds, 30);
    assert_string_equal(plan->steps[0].params_json, "{\"n\":2,\"s\":\"2\"}");
    assert_int_equal(plan->steps[0].line, 4);
    assert_int_equal(plan->steps[0].col, 3);
    assert_int_equal(plan->steps[1].index, 2);
    assert_string_equal(plan->steps[1].type, "b");
}

static void test_empty_steps(void **state)
{
    fixture *f = *state;

    parse_ok(f, "contract_id: " TU_CONTRACT "\nsteps: []\n");
    assert_int_equal(jx_plan_step_count(f->plan), 0);
    /* "steps:" with nothing after it is an empty list too. */
    parse_ok(f, "contract_id: " TU_CONTRACT "\nsteps:\n");
    assert_int_equal(jx_plan_step_count(f->plan), 0);
    parse_ok(f, "steps:\ncontract_id: " TU_CONTRACT "\n");
    assert_int_equal(jx_plan_step_count(f->plan), 0);
}

static void test_load_file(void **state)
{
    fixture *f = *state;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->path = tu_write(f->dir, "p.yaml", minimal_plan);
    assert_non_null(f->path);
    rc = jx_plan_load(f->path, &f->plan, &f->err);
    assert_int_equal(rc, 0);
    assert_string_equal(f->plan->name, f->path);
    assert_string_equal(f->plan->contract_id, TU_CONTRACT);
    assert_string_equal(f->plan->sha256, "74f90c483d22b3608a850fc550c18f7d"
                                         "700a3d9ab1c34a5c60a243d329d84e24");
}

/* ---- refusals: the contract and the job --------------------------------- */

static void test_missing_contract_id(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "steps: []\n",
               NAME ":1:1: missing 'contract_id': every job needs the UUID "
                    "of its approved contract");
    /* The position is the plan's own, after any leading comment. */
    PLAN_FAILS(f, "# no contract\njob_id: " TU_JOB "\nsteps: []\n",
               NAME ":2:1: missing 'contract_id': every job needs the UUID "
                    "of its approved contract");
}

/* A refusal that quotes the plan is one line a terminal only shows:
 * controls and bidirectional overrides are escaped, never printed. */
static void test_refusal_quoting_input_is_one_safe_line(void **state)
{
    fixture *f = *state;

    /* ESC [2J clears the screen; a double-quoted YAML escape puts it in. */
    PLAN_FAILS(f, "contract_id: \"\\e[2J\\e]0;owned\\a\"\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found "
                    "'\\x1b[2J\\x1b]0;owned\\x07'");
    /* A folded scalar keeps its line breaks: the message does not. */
    PLAN_FAILS(f, "contract_id: >\n  first\n\n  second\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found "
                    "'first\\nsecond\\n'");
    PLAN_FAILS(f, "contract_id: \"a\\tb\\rc\\x7f\\x85d\"\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found "
                    "'a\\tb\\rc\\x7f\\u0085d'");
    /* RIGHT-TO-LEFT OVERRIDE and the isolates reorder what is shown. */
    PLAN_FAILS(f, "contract_id: \"abc\\u202Efed\\u2066x\\u2069\"\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found "
                    "'abc\\u202efed\\u2066x\\u2069'");
    /* Other text outside ASCII is shown as it is. */
    PLAN_FAILS(f, "contract_id: caf\xc3\xa9\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found 'caf\xc3\xa9'");
}

static void test_contract_id_not_uuid(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "contract_id: not-a-uuid\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found 'not-a-uuid'");
    /* Right length, one character off. */
    PLAN_FAILS(f, "steps: []\n"
                  "contract_id: 0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5g\n",
               NAME ":2:14: contract_id must be a UUID, found "
                    "'0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5g'");
    PLAN_FAILS(f, "contract_id:\nsteps: []\n",
               NAME ":1:13: contract_id must be a UUID, found ''");
    PLAN_FAILS(f, "contract_id: [" TU_CONTRACT "]\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found a sequence");
    PLAN_FAILS(f, "contract_id: {" TU_CONTRACT ": 1}\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found a mapping");
    /* Braces or surrounding text make it something else. */
    PLAN_FAILS(f, "contract_id: \" " TU_CONTRACT "\"\nsteps: []\n",
               NAME ":1:14: contract_id must be a UUID, found ' " TU_CONTRACT
                    "'");
}

static void test_job_id_not_uuid(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "job_id: 42\n" HEAD STEP0,
               NAME ":1:9: job_id must be a UUID, found '42'");
    PLAN_FAILS(f, "contract_id: " TU_CONTRACT "\njob_id: {}\nsteps: []\n",
               NAME ":2:9: job_id must be a UUID, found a mapping");
}

static void test_tenant_and_executed_by(void **state)
{
    fixture *f = *state;

    parse_ok(f, "tenant_id: \"\"\n" HEAD STEP0);
    assert_string_equal(f->plan->tenant_id, "");
    PLAN_FAILS(f, "executed_by: \"\"\n" HEAD STEP0,
               NAME ":1:14: executed_by must not be empty");
    PLAN_FAILS(f, "tenant_id: [a]\n" HEAD STEP0,
               NAME ":1:12: tenant_id must be a text value");
}

/* ---- refusals: the steps ------------------------------------------------ */

static void test_step_index_equal(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_index: 1\n    step_type: a\n"
                       "  - step_index: 1\n    step_type: b\n",
               NAME ":5:17: step_index 1 does not follow 1: indexes must "
                    "strictly increase");
}

static void test_step_index_decreasing(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_index: 0\n    step_type: a\n"
                       "  - step_index: 7\n    step_type: b\n"
                       "  - step_index: 3\n    step_type: c\n",
               NAME ":7:17: step_index 3 does not follow 7: indexes must "
                    "strictly increase");
}

static void test_step_index_negative(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_index: -1\n    step_type: a\n",
               NAME ":3:17: step_index must not be negative, found -1");
}

static void test_step_index_not_integer(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_index: one\n    step_type: a\n",
               NAME ":3:17: step_index must be an integer");
    PLAN_FAILS(f, HEAD "  - step_index: 1.5\n    step_type: a\n",
               NAME ":3:17: step_index must be an integer");
    /* A quoted number is text. */
    PLAN_FAILS(f, HEAD "  - step_index: \"1\"\n    step_type: a\n",
               NAME ":3:17: step_index must be an integer");
    PLAN_FAILS(f, HEAD "  - step_index: [1]\n    step_type: a\n",
               NAME ":3:17: step_index must be an integer");
}

static void test_step_index_missing(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_type: a\n",
               NAME ":3:5: step has no 'step_index'");
}

static void test_step_type_missing(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "  - step_index: 1\n    target: x\n",
               NAME ":5:5: step has no 'step_type'");
}

static void test_step_type_empty(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD "  - step_index: 0\n    step_type: \"\"\n",
               NAME ":4:16: step_type must not be empty");
    PLAN_FAILS(f, HEAD "  - step_index: 0\n    step_type:\n",
               NAME ":4:15: step_type must not be empty");
    PLAN_FAILS(f, HEAD "  - step_index: 0\n    step_type: [a]\n",
               NAME ":4:16: step_type must be a text value");
}

static void test_target_not_text(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    target: {a: 1}\n",
               NAME ":5:13: target must be a text value");
}

static void test_unknown_key_top(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "stepz: []\n",
               NAME ":5:1: unknown key 'stepz' in the plan");
    PLAN_FAILS(f, "Contract_id: " TU_CONTRACT "\nsteps: []\n",
               NAME ":1:1: unknown key 'Contract_id' in the plan");
}

static void test_unknown_key_step(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    params: {a: 1}\n",
               NAME ":5:5: unknown key 'params' in a step");
    PLAN_FAILS(f, HEAD "  - {step_index: 0, step_type: a, timeout: 5}\n",
               NAME ":3:35: unknown key 'timeout' in a step");
}

static void test_step_not_mapping(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "  - noop\n",
               NAME ":5:5: a step must be a mapping, found a scalar");
    PLAN_FAILS(f, HEAD "  - [0, noop]\n",
               NAME ":3:5: a step must be a mapping, found a sequence");
}

static void test_parameters_not_mapping(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    parameters: [a, b]\n",
               NAME ":5:17: parameters must be a mapping");
    PLAN_FAILS(f, HEAD STEP0 "    parameters: reason\n",
               NAME ":5:17: parameters must be a mapping");
    PLAN_FAILS(f, HEAD STEP0 "    parameters: \"\"\n",
               NAME ":5:17: parameters must be a mapping");
}

static void test_parameters_out_of_range(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    parameters: {n: 99999999999999999999}\n",
               NAME ":5:21: integer out of range: 99999999999999999999");
}

static void test_timeout_zero(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: 0\n",
               NAME ":5:22: timeout_seconds must be between 1 and 604800, "
                    "found 0");
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: -5\n",
               NAME ":5:22: timeout_seconds must be between 1 and 604800, "
                    "found -5");
}

static void test_timeout_too_large(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: 604801\n",
               NAME ":5:22: timeout_seconds must be between 1 and 604800, "
                    "found 604801");
}

/* A number too large for any integer type is still a number: the reason is
 * the range, not the type. */
static void test_timeout_beyond_int64(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: 99999999999999999999\n",
               NAME ":5:22: timeout_seconds must be between 1 and 604800, "
                    "found 99999999999999999999");
}

static void test_timeout_not_integer(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: 1m\n",
               NAME ":5:22: timeout_seconds must be an integer");
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: \"60\"\n",
               NAME ":5:22: timeout_seconds must be an integer");
    PLAN_FAILS(f, HEAD STEP0 "    timeout_seconds: 2.5\n",
               NAME ":5:22: timeout_seconds must be an integer");
}

/* ---- refusals: the plan's shape ----------------------------------------- */

static void test_steps_not_sequence(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "contract_id: " TU_CONTRACT "\nsteps: {step_index: 0}\n",
               NAME ":2:8: steps must be a sequence, found a mapping");
    PLAN_FAILS(f, "contract_id: " TU_CONTRACT "\nsteps: 3\n",
               NAME ":2:8: steps must be a sequence, found a scalar");
    /* Quoted, "" is a value, not an empty list. */
    PLAN_FAILS(f, "contract_id: " TU_CONTRACT "\nsteps: \"\"\n",
               NAME ":2:8: steps must be a sequence, found a scalar");
}

static void test_plan_not_mapping(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "- step_index: 0\n",
               NAME ":1:1: a plan must be a mapping, found a sequence");
    PLAN_FAILS(f, "\n\n  just words\n",
               NAME ":3:3: a plan must be a mapping, found a scalar");
    PLAN_FAILS(f, "[]",
               NAME ":1:1: a plan must be a mapping, found a sequence");
}

static void test_missing_steps(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "contract_id: " TU_CONTRACT "\n", NAME ":1:1: missing 'steps'");
    PLAN_FAILS(f, "{\"contract_id\": \"" TU_CONTRACT "\"}",
               NAME ":1:1: missing 'steps'");
}

static void test_document_faults_are_plan_errors(void **state)
{
    fixture *f = *state;
    PLAN_FAILS(f, "", NAME ":1:1: the document is empty");
    PLAN_FAILS(f, HEAD "  - &s {step_index: 0, step_type: a}\n",
               NAME ":3:5: anchors and aliases are not allowed");
    PLAN_FAILS(f, HEAD STEP0 "contract_id: " TU_CONTRACT "\n",
               NAME ":5:1: duplicate key 'contract_id'");
}

static void test_too_deep_is_a_limit(void **state)
{
    fixture *f = *state;
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof text, "%s", HEAD STEP0
                                "    parameters: {a: ");

    /* Levels so far: plan, steps, step, parameters; 61 more fit. */
    for (int i = 0; i < 61; i++)
        text[n++] = '[';
    text[n] = '\0';
    parse_fails(f, text, JX_ELIMIT,
                NAME ":5:81: nesting deeper than 64 levels");
}

static void test_err_may_be_null(void **state)
{
    fixture *f = *state;
    static const char text[] = "steps: []\n";

    assert_int_equal(jx_plan_parse(text, strlen(text), NAME, &f->plan, NULL),
                     JX_EPLAN);
    assert_null(f->plan);
}

/* ---- files -------------------------------------------------------------- */

static void test_load_missing_file(void **state)
{
    fixture *f = *state;
    jx_plan *plan = (jx_plan *)&plan; /* must be reset to NULL */
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    assert_true(asprintf(&f->path, "%s/absent.yaml", f->dir) > 0);
    rc = jx_plan_load(f->path, &plan, &f->err);
    if (rc == 0)
        f->plan = plan; /* freed by the teardown */
    assert_int_equal(rc, JX_EPLAN);
    assert_int_equal(f->err.code, JX_EPLAN);
    assert_null(plan);
    assert_true(strncmp(f->err.message, f->path, strlen(f->path)) == 0);
    assert_string_equal(f->err.message + strlen(f->path),
                        ": cannot open: No such file or directory");
}

static void test_load_folder(void **state)
{
    fixture *f = *state;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    rc = jx_plan_load(f->dir, &f->plan, &f->err);
    assert_int_equal(rc, JX_EPLAN);
    assert_int_equal(f->err.code, JX_EPLAN);
    assert_null(f->plan);
    assert_true(strncmp(f->err.message, f->dir, strlen(f->dir)) == 0);
    assert_string_equal(f->err.message + strlen(f->dir),
                        ": cannot read: Is a directory");
}

/* Messages from a loaded file carry its path. */
static void test_load_bad_file_names_it(void **state)
{
    fixture *f = *state;
    char *want;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->path = tu_write(f->dir, "bad.yaml", HEAD "  - step_index: x\n");
    assert_non_null(f->path);
    rc = jx_plan_load(f->path, &f->plan, &f->err);
    assert_int_equal(rc, JX_EPLAN);
    assert_true(asprintf(&want, "%s:3:17: step_index must be an integer",
                         f->path) > 0);
    assert_string_equal(f->err.message, want);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_minimal_plan),
        T(test_defaults),
        T(test_job_id_generated),
        T(test_job_id_kept),
        T(test_all_fields),
        T(test_parameters_in_order_typed),
        T(test_parameters_empty),
        T(test_json_plan),
        T(test_empty_steps),
        T(test_load_file),
        T(test_missing_contract_id),
        T(test_contract_id_not_uuid),
        T(test_refusal_quoting_input_is_one_safe_line),
        T(test_job_id_not_uuid),
        T(test_tenant_and_executed_by),
        T(test_step_index_equal),
        T(test_step_index_decreasing),
        T(test_step_index_negative),
        T(test_step_index_not_integer),
        T(test_step_index_missing),
        T(test_step_type_missing),
        T(test_step_type_empty),
        T(test_target_not_text),
        T(test_unknown_key_top),
        T(test_unknown_key_step),
        T(test_step_not_mapping),
        T(test_parameters_not_mapping),
        T(test_parameters_out_of_range),
        T(test_timeout_zero),
        T(test_timeout_too_large),
        T(test_timeout_beyond_int64),
        T(test_timeout_not_integer),
        T(test_steps_not_sequence),
        T(test_plan_not_mapping),
        T(test_missing_steps),
        T(test_document_faults_are_plan_errors),
        T(test_too_deep_is_a_limit),
        T(test_err_may_be_null),
        T(test_load_missing_file),
        T(test_load_folder),
        T(test_load_bad_file_names_it),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
