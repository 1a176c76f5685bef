/*
 * test_plan_json.c - a plan built from parsed JSON (jx__plan_from_json) is
 * the plan jx_plan_parse() makes of the same text, field by field; and
 * every document it leaves to the parser is one the parser refuses or
 * reads in a way only it may decide (secrets, real numbers, depth).
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
#include "input/plan_json.h"

#define NAME "job x"
#define IDS                                                                  \
    "\"job_id\":\"6B0B1B3E-4C1D-4F8E-9A51-2F0F6A7E9C11\","                   \
    "\"contract_id\":\"0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d\""

/* src as a worker has it: a document, and its text as jansson writes
 * it (the caller's to free()). */
static json_t *doc_of(const char *src, char **text)
{
    json_t *doc = json_loads(src, 0, NULL);

    assert_non_null(doc);
    *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(*text);
    return doc;
}

/* The fast path's plan of doc and text, or NULL when it left them to the
 * parser (*left set). */
static jx_plan *from_json(json_t *doc, const char *text, int *left)
{
    jx_plan *plan = NULL;
    jx_error err = {0, ""};
    int rc = jx__plan_from_json(doc, text, strlen(text), NAME, &plan, &err);

    json_decref(doc); /* the plan keeps what it needs */
    *left = rc == JX__PLAN_PARSE_TEXT;
    if (!*left && rc != 0)
        fail_msg("unexpected failure: %s", err.message);
    return plan;
}

static void assert_same_step(const jx__step *a, const jx__step *b)
{
    assert_int_equal(a->index, b->index);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->target, b->target);
    assert_string_equal(a->type_json, b->type_json);
    assert_string_equal(a->target_json, b->target_json);
    assert_int_equal(a->timeout_seconds, b->timeout_seconds);
    assert_true(json_equal(a->params, b->params));
    assert_string_equal(a->params_json, b->params_json);
    assert_int_equal(a->n_params, b->n_params);
    for (size_t i = 0; i <= a->n_params; i++)
        if (a->param_keys[i] == NULL)
            assert_null(b->param_keys[i]);
        else
            assert_string_equal(a->param_keys[i], b->param_keys[i]);
}

/* src is built without the parser, into what the parser makes of it. */
static void assert_same_plan(const char *src)
{
    jx_plan *parsed = NULL, *built;
    jx_error err = {0, ""};
    char *text;
    json_t *doc = doc_of(src, &text);
    int left;

    if (jx_plan_parse(text, strlen(text), NAME, &parsed, &err) != 0)
        fail_msg("the parser refused %s: %s", text, err.message);
    built = from_json(doc, text, &left);
    if (left)
        fail_msg("left to the parser: %s", text);
    free(text);
    assert_string_equal(built->name, parsed->name);
    assert_string_equal(built->job_id, parsed->job_id);
    assert_int_equal(built->job_id_generated, parsed->job_id_generated);
    assert_string_equal(built->contract_id, parsed->contract_id);
    assert_string_equal(built->tenant_id, parsed->tenant_id);
    assert_string_equal(built->executed_by, parsed->executed_by);
    assert_string_equal(built->sha256, parsed->sha256);
    assert_int_equal(built->n_secrets, 0);
    assert_int_equal(built->n_steps, parsed->n_steps);
    for (size_t i = 0; i < built->n_steps; i++)
        assert_same_step(&built->steps[i], &parsed->steps[i]);
    jx_plan_free(built);
    jx_plan_free(parsed);
}

static void assert_left(const char *src)
{
    int left;
    char *text;
    json_t *doc = doc_of(src, &text);
    jx_plan *plan = from_json(doc, text, &left);

    free(text);
    jx_plan_free(plan);
    if (!left)
        fail_msg("built without the parser: %s", src);
}

static void test_same_plans(void **state)
{
    (void)state;
    /* As a worker writes it: one no-op step. */
    assert_same_plan("{" IDS ",\"executed_by\":\"host:1\",\"steps\":"
                     "[{\"step_type\":\"noop\",\"step_index\":0}]}");
    assert_same_plan("{" IDS ",\"steps\":[]}");
    assert_same_plan("{" IDS ",\"tenant_id\":\"\",\"executed_by\":\"w\","
                     "\"steps\":[{\"step_index\":0,\"step_type\":\"a\"},"
                     "{\"step_index\":7,\"step_type\":\"b\\u00e9\","
                     "\"target\":\"h\\\"1\",\"timeout_seconds\":604800,"
                     "\"parameters\":{}},"
                     "{\"step_index\":9007199254740991,\"step_type\":\"c\","
                     "\"target\":\"\",\"timeout_seconds\":1,"
                     "\"parameters\":{\"z\":1,\"a\":[true,false,null,\"s\","
                     "-9223372036854775807],\"m\":{\"k\":{\"j\":\"v\"}},"
                     "\"e\":\"\"}}]}");
    assert_same_plan("{" IDS ",\"tenant_id\":\"acme\",\"steps\":"
                     "[{\"step_index\":3,\"step_type\":\"x\","
                     "\"parameters\":{\"s\":\"true\",\"n\":\"12\","
                     "\"q\":\"null\",\"y\":\"a: b\"}}]}");
}

static void test_left_to_the_parser(void **state)
{
    char deep[512] = "{" IDS ",\"steps\":[{\"step_index\":0,"
                     "\"step_type\":\"x\",\"parameters\":{\"a\":";

    (void)state;
    /* Refusals, which the parser words. */
    assert_left("[]");
    assert_left("{" IDS "}");
    assert_left("{" IDS ",\"steps\":{}}");
    assert_left("{" IDS ",\"steps\":[],\"other\":1}");
    assert_left("{\"contract_id\":\"nope\",\"job_id\":"
                "\"6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11\",\"steps\":[]}");
    assert_left("{" IDS ",\"executed_by\":\"\",\"steps\":[]}");
    assert_left("{" IDS ",\"steps\":[1]}");
    assert_left("{" IDS ",\"steps\":[{\"step_type\":\"x\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":-1,\"step_type\":"
                "\"x\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":9007199254740992,"
                "\"step_type\":\"x\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":1,\"step_type\":\"x\"},"
                "{\"step_index\":1,\"step_type\":\"x\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"timeout_seconds\":0}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"timeout_seconds\":604801}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"parameters\":[]}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"colour\":1}]}");
    /* Read differently, or only by the parser. */
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":5}]}");
    assert_left("{" IDS ",\"tenant_id\":null,\"steps\":[]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"parameters\":null}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0.0,\"step_type\":"
                "\"x\"}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"parameters\":{\"r\":[1.5]}}]}");
    assert_left("{" IDS ",\"steps\":[{\"step_index\":0,\"step_type\":\"x\","
                "\"parameters\":{\"p\":\"s\"},"
                "\"secret_parameters\":[\"p\"]}]}");
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}}]}");
    assert_left(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_plans),
        cmocka_unit_test(test_left_to_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
