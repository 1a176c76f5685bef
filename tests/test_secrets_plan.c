/*
 * test_secrets_plan.c - secret parameters in the plan: secret_parameters
 * accepted, the values kept once each, and every refusal (a name that is
 * no parameter, a value that is not a non-empty string, not a sequence of
 * names) with its exact "NAME:LINE:COL: reason".
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

#include "input/plan.h"
#include "secrets_util.h"

/* ---- plan syntax -------------------------------------------------------- */

static void test_plan_accepts_secret_parameters(void **state)
{
    fixture *f = *state;
    static const char text[] =
        HEAD SECRET_STEP("") "  - step_index: 1\n"
                             "    step_type: echo\n"
                             "    parameters: {token: \"tok-1\", k: 3}\n"
                             "    secret_parameters: [token]\n"
                             "  - step_index: 2\n"
                             "    step_type: echo\n"
                             "    parameters: {password: \"" SECRET "\"}\n"
                             "    secret_parameters: []\n";

    parse_plan(f, text);
    assert_int_equal(jx_plan_step_count(f->plan), 3);
    /* One value per secret, in the plan's order; the repeat is kept
     * once. */
    assert_int_equal(f->plan->secrets.n, 2);
    assert_string_equal(f->plan->secrets.items[1].text, SECRET);
    assert_string_equal(f->plan->secrets.items[2].text, "tok-1");
}

static void test_plan_without_secrets_has_none(void **state)
{
    fixture *f = *state;

    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {password: \"" SECRET "\"}\n");
    assert_int_equal(f->plan->secrets.n, 0);
}

/* Secrets that contain one another are each kept (redaction replaces the
 * longest whole: test_secrets_run, test_secrets_set). */
static void test_plan_keeps_nested_secrets(void **state)
{
    fixture *f = *state;

    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {a: abc, b: xxabcxx, c: abcd}\n"
                       "    secret_parameters: [a, b, c]\n");
    assert_int_equal(f->plan->secrets.n, 3);
    assert_string_equal(f->plan->secrets.items[1].text, "abc");
    assert_string_equal(f->plan->secrets.items[2].text, "xxabcxx");
    assert_string_equal(f->plan->secrets.items[3].text, "abcd");
}

/* Asserts that the plan is refused with exactly message. */
static void plan_fails(const char *text, const char *message)
{
    jx_plan *plan = (jx_plan *)&plan; /* must be reset to NULL */
    jx_error err = {0, ""};
    int rc = jx_plan_parse(text, strlen(text), NAME, &plan, &err);

    if (rc == 0) {
        jx_plan_free(plan);
        fail_msg("plan accepted; expected: %s", message);
    }
    assert_int_equal(rc, JX_EPLAN);
    assert_int_equal(err.code, JX_EPLAN);
    assert_string_equal(err.message, message);
    assert_null(plan);
}

/* A step whose parameters hold every kind of value, then its
 * secret_parameters line (line 7: the value at column 24, a flow
 * sequence's first item at column 25). */
#define TYPED_STEP(secrets)                                                   \
    HEAD "  - step_index: 0\n"                                                \
         "    step_type: echo\n"                                              \
         "    parameters: {password: pw, n: 3, m: {a: 1}, l: [1], e: \"\","   \
         " b: true, z: null, q: \"3\"}\n"                                     \
         "    secret_parameters: " secrets "\n"

static void test_plan_refuses_unknown_secret(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("[nope]"),
               NAME ":7:25: secret_parameters names 'nope', which is not a "
                    "parameter of this step");
    /* The second item is the one named. */
    plan_fails(TYPED_STEP("[password, passwd]"),
               NAME ":7:35: secret_parameters names 'passwd', which is not "
                    "a parameter of this step");
    /* A number names nothing either (parameter names are text). */
    plan_fails(TYPED_STEP("[7]"),
               NAME ":7:25: secret_parameters names '7', which is not a "
                    "parameter of this step");
    /* Case matters. */
    plan_fails(TYPED_STEP("[Password]"),
               NAME ":7:25: secret_parameters names 'Password', which is "
                    "not a parameter of this step");
}

static void test_plan_refuses_secret_without_parameters(void **state)
{
    (void)state;
    plan_fails(HEAD "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    secret_parameters:\n"
                    "      - password\n",
               NAME ":7:9: secret_parameters names 'password', which is not "
                    "a parameter of this step");
}

static void test_plan_refuses_non_string_secret(void **state)
{
    static const struct {
        const char *secrets, *message;
    } cases[] = {
        {"[n]", NAME ":7:25: secret parameter 'n' must be a non-empty "
                "string"},
        {"[m]", NAME ":7:25: secret parameter 'm' must be a non-empty "
                "string"},
        {"[l]", NAME ":7:25: secret parameter 'l' must be a non-empty "
                "string"},
        {"[b]", NAME ":7:25: secret parameter 'b' must be a non-empty "
                "string"},
        {"[z]", NAME ":7:25: secret parameter 'z' must be a non-empty "
                "string"},
        {"[e]", NAME ":7:25: secret parameter 'e' must be a non-empty "
                "string"},
        {"[q, password, n]", NAME ":7:38: secret parameter 'n' must be a "
                             "non-empty string"},
    };
    char text[1024];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, TYPED_STEP("%s"), cases[i].secrets);
        plan_fails(text, cases[i].message);
    }
}

static void test_plan_refuses_secret_parameters_not_a_sequence(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("password"),
               NAME ":7:24: secret_parameters must be a sequence of "
                    "parameter names, found a scalar");
    plan_fails(TYPED_STEP("{password: true}"),
               NAME ":7:24: secret_parameters must be a sequence of "
                    "parameter names, found a mapping");
}

static void test_plan_refuses_secret_item_not_a_name(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("[{password: 1}]"),
               NAME ":7:25: secret_parameters must list parameter names, "
                    "found a mapping");
    plan_fails(TYPED_STEP("[password, [n]]"),
               NAME ":7:35: secret_parameters must list parameter names, "
                    "found a sequence");
}

/* The refusal names the step it is in: here the second one. */
static void test_plan_refusal_names_its_step(void **state)
{
    (void)state;
    plan_fails(HEAD SECRET_STEP("") "  - step_index: 1\n"
                                    "    step_type: echo\n"
                                    "    parameters: {token: 12345}\n"
                                    "    secret_parameters:\n"
                                    "      - token\n",
               NAME ":12:9: secret parameter 'token' must be a non-empty "
                    "string");
}

/* ---- no refusal shows a secret ------------------------------------------ */

/* A value named secret that is refused for what it is (an integer beyond
 * 64 bits) is not quoted back. */
static void test_refusal_hides_refused_secret_value(void **state)
{
    (void)state;
    plan_fails(HEAD "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    parameters: {pin: 123456789012345678901234567890}\n"
                    "    secret_parameters: [pin]\n",
               NAME ":6:23: integer out of range: " REDACTED);
}

/* contract_id is checked after the steps are read: quoting it would show
 * a step's secret. */
static void test_refusal_hides_secret_elsewhere_in_plan(void **state)
{
    (void)state;
    plan_fails("job_id: " TU_JOB "\ncontract_id: \"" SECRET "\"\nsteps:\n"
                   SECRET_STEP(""),
               NAME ":2:14: contract_id must be a UUID, found '" REDACTED
                    "'");
}

/* A step refused before a later one declares the secret it quotes. */
static void test_refusal_hides_later_steps_secret(void **state)
{
    (void)state;
    plan_fails(HEAD "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    " SECRET ": 1\n"
                    "  - step_index: 1\n"
                    "    step_type: echo\n"
                    "    parameters: {password: \"" SECRET "\"}\n"
                    "    secret_parameters: [password]\n",
               NAME ":6:5: unknown key '" REDACTED "' in a step");
}

/* Messages escape control characters; a secret holding one is hidden in
 * its escaped form. */
static void test_refusal_hides_escaped_secret(void **state)
{
    (void)state;
    plan_fails("contract_id: \"tab\\tS3cr3t\\u202e\"\nsteps:\n"
               "  - step_index: 0\n"
               "    step_type: echo\n"
               "    parameters: {password: \"tab\\tS3cr3t\\u202e\"}\n"
               "    secret_parameters: [password]\n",
               NAME ":1:14: contract_id must be a UUID, found '" REDACTED
                    "'");
}

/* A step read alone (jobexec plugin check --step) is no different. */
static void test_step_refusal_hides_secret(void **state)
{
    static const char text[] = "step_type: echo\n"
                               "parameters: {pin: 99999999999999999999}\n"
                               "secret_parameters: [pin]\n";
    jx_plan *plan = NULL;
    jx_error err;

    (void)state;
    assert_int_equal(jx_plan_parse_step(text, strlen(text), "--step", &plan,
                                        &err),
                     JX_EPLAN);
    assert_null(plan);
    assert_string_equal(err.message,
                        "--step:2:19: integer out of range: " REDACTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ONE(test_plan_accepts_secret_parameters),
        ONE(test_plan_without_secrets_has_none),
        ONE(test_plan_keeps_nested_secrets),
        ONE(test_plan_refuses_unknown_secret),
        ONE(test_plan_refuses_secret_without_parameters),
        ONE(test_plan_refuses_non_string_secret),
        ONE(test_plan_refuses_secret_parameters_not_a_sequence),
        ONE(test_plan_refuses_secret_item_not_a_name),
        ONE(test_plan_refusal_names_its_step),
        ONE(test_refusal_hides_refused_secret_value),
        ONE(test_refusal_hides_secret_elsewhere_in_plan),
        ONE(test_refusal_hides_later_steps_secret),
        ONE(test_refusal_hides_escaped_secret),
        ONE(test_step_refusal_hides_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
