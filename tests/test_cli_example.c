/*
 * test_cli_example.c - the quick start's job: the example plan on the
 * default config (made from conf/jobexec.yaml.in, its state in the test's
 * folder), run twice; `jobexec registry list|history` on what it left;
 * and registry refusals through `jobexec check`.
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

#include "cli_util.h"

/* The default config with its state folder in the test's folder. */
static const char *default_config(fixture *f)
{
    const char *p = fx_keep(f, tu_read(CONFIG_TEMPLATE)), *at;
    char *text;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    assert_non_null(p);
    while ((at = strstr(p, "@statedir@")) != NULL) {
        fwrite(p, 1, (size_t)(at - p), fp);
        fputs(fx_dir(f), fp);
        p = at + strlen("@statedir@");
    }
    fputs(p, fp);
    fclose(fp);
    fx_keep(f, text);
    return fx_keep(f, tu_write(fx_dir(f), "jobexec.yaml", text));
}

/* The last run's stdout, which must be one JSON array (owned by f). */
static json_t *fx_array(fixture *f)
{
    json_decref(f->doc);
    f->doc = json_loads(f->p.out, 0, NULL);
    if (!json_is_array(f->doc))
        fail_msg("not a JSON array: %s", f->p.out);
    return f->doc;
}

static json_t *output_of(json_t *doc, size_t i)
{
    return json_object_get(
        json_array_get(json_object_get(doc, "step_results"), i), "output");
}

static void assert_output(json_t *doc, size_t i, const char *want)
{
    char *got = json_dumps(output_of(doc, i), JSON_COMPACT | JSON_SORT_KEYS);
    char line[1024] = "";

    assert_non_null(got);
    if (strcmp(got, want) != 0)
        snprintf(line, sizeof line, "step %zu output %s, expected %s", i, got,
                 want);
    free(got);
    if (line[0] != '\0')
        fail_msg("%s", line);
}

static void assert_first_run(json_t *doc, int first)
{
    json_t *health = json_object_get(doc, "health_observations");
    json_t *before = json_object_get(health, "before");
    json_t *after = json_object_get(health, "after");
    json_t *cmd = output_of(doc, 4);

    assert_output(doc, 0, "{\"changed\":true,\"new_state\":\"disabled\","
                          "\"previous_state\":null}");
    assert_output(doc, 1, "{\"changed\":true,\"new_state\":\"enabled\","
                          "\"previous_state\":null}");
    assert_output(doc, 2, "{\"changed\":true,\"new_state\":\"enabled\","
                          "\"previous_state\":\"disabled\"}");
    assert_output(doc, 3, first ? "{\"changed\":true,\"new_value\":20,"
                                  "\"previous_value\":null}"
                                : "{\"changed\":false,\"new_value\":20,"
                                  "\"previous_value\":20}");
    assert_int_equal(doc_int(cmd, "exit_status"), 0);
    assert_true(ends_with(doc_string(cmd, "stdout"), "\n"));
    assert_string_equal(doc_string(cmd, "stderr"), "");
    assert_output(doc, 5, "{\"changed\":true,\"new_state\":\"disabled\","
                          "\"previous_state\":\"enabled\"}");
    assert_output(doc, 6, "{\"changed\":true,\"new_state\":null,"
                          "\"previous_state\":\"disabled\"}");
    assert_output(doc, 7, "{\"changed\":true,\"new_state\":null,"
                          "\"previous_state\":\"enabled\"}");
    /* Real health: the registry before the job and after its last step. */
    assert_int_equal(json_object_size(json_object_get(before,
                                                      "capabilities")),
                     0);
    assert_int_equal(json_object_size(json_object_get(after,
                                                      "capabilities")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(after, "configuration"),
                         "max_sessions")),
                     20);
    assert_non_null(json_object_get(json_object_get(after, "system"),
                                    "mem_available_kb"));
}

static void test_example_plan_runs_twice(void **state)
{
    fixture *f = *state;
    const char *config = default_config(f);

    JOBEXEC(f, NULL, "run", "-c", config, EXAMPLE_PLAN);
    assert_first_run(assert_completed(f, EXAMPLE_JOB, 8), 1);
    JOBEXEC(f, NULL, "run", "-c", config, EXAMPLE_PLAN);
    assert_first_run(assert_completed(f, EXAMPLE_JOB, 8), 0);

    /* What it left: no capability, and the history of both runs (the
     * second changed max_sessions no more). */
    JOBEXEC(f, NULL, "registry", "list", "-c", config);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "");
    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--json");
    assert_int_equal(f->p.status, 0);
    assert_int_equal(json_array_size(fx_array(f)), 13);
    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--capability",
            "max_sessions");
    assert_int_equal(f->p.status, 0);
    assert_int_equal(count_lines(f->p.out), 1);
    assert_non_null(strstr(f->p.out, "  job 6b0b1b3e  step 3  "
                                     "configuration_change  max_sessions: "
                                     "(none) -> 20  by ops-cli\n"));
}

static void test_registry_list_and_history(void **state)
{
    fixture *f = *state;
    const char *config = default_config(f);
    const char *plan = fx_keep(
        f, tu_write(fx_dir(f), "plan.yaml",
                    "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\n"
                    "steps:\n"
                    "  - {step_index: 0, step_type: capability_add, target: "
                    "LONG_NAME, parameters: {description: \"a b\"}}\n"
                    "  - {step_index: 1, step_type: capability_add, target: "
                    "B, parameters: {state: enabled}}\n"
                    "  - {step_index: 2, step_type: capability_enable, "
                    "target: LONG_NAME}\n"));
    json_t *rows;

    JOBEXEC(f, NULL, "run", "-c", config, plan);
    assert_completed(f, TU_JOB, 3);
    JOBEXEC(f, NULL, "registry", "list", "-c", config);
    assert_int_equal(f->p.status, 0);
    assert_int_equal(count_lines(f->p.out), 2);
    assert_true(starts_with(f->p.out, "B          enabled   20"));
    assert_non_null(strstr(f->p.out, "\nLONG_NAME  enabled   20"));

    JOBEXEC(f, NULL, "registry", "list", "--json", "--db",
            fx_printf(f, "%s/registry.db", fx_dir(f)));
    assert_int_equal(f->p.status, 0);
    rows = fx_array(f);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(doc_string(json_array_get(rows, 1), "name"),
                        "LONG_NAME");
    assert_string_equal(doc_string(json_array_get(rows, 1), "description"),
                        "a b");

    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--job", TU_JOB,
            "--capability", "LONG_NAME", "--json");
    assert_int_equal(f->p.status, 0);
    rows = fx_array(f);
    assert_int_equal(json_array_size(rows), 2);
    assert_true(json_is_null(json_object_get(json_array_get(rows, 0),
                                             "previous_value")));
    assert_string_equal(doc_string(json_array_get(rows, 1),
                                   "previous_value"),
                        "disabled");
    assert_string_equal(doc_string(json_array_get(rows, 1), "new_value"),
                        "enabled");
    assert_int_equal(doc_int(json_array_get(rows, 1), "step_index"), 2);

    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--job", TU_JOB2);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "");

    /* A prefix of the id, as the history prints it. */
    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--job",
            "6B0B1B3E", "--json");
    assert_int_equal(f->p.status, 0);
    assert_int_equal(json_array_size(fx_array(f)), 3);
    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--job",
            "3d5c8e1a");
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s/registry.db: no job id "
                                    "starts with '3d5c8e1a'\n",
                                 fx_dir(f)));
    JOBEXEC(f, NULL, "registry", "history", "-c", config, "--job", "6b0b");
    assert_usage_error(&f->p, "jobexec: job id prefix '6b0b' is too short: "
                              "give at least 8 hex digits\n"
                              "Try 'jobexec registry --help' for more "
                              "information.\n");
}

static void test_registry_refusals(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "registry", "list", "--db", "/nonexistent/r.db");
    assert_usage_error(&f->p, "jobexec: cannot open the registry database "
                              "'/nonexistent/r.db': unable to open database "
                              "file\n");
    JOBEXEC(f, NULL, "registry", "list", "-c", NOOP_CONFIG);
    assert_usage_error(&f->p, "jobexec: the config in effect has no "
                              "registry plugin with a db (give --db FILE)\n");
    JOBEXEC(f, NULL, "registry", "show", "--db", "x");
    assert_usage_error(&f->p, "jobexec: unknown registry command 'show' "
                              "(list, history)\nTry 'jobexec registry "
                              "--help' for more information.\n");
    JOBEXEC(f, NULL, "registry", "list", "--job", TU_JOB, "--db", "x");
    assert_usage_error(&f->p, "jobexec: registry list takes no --job (use "
                              "registry history)\n");
    JOBEXEC(f, NULL, "registry");
    assert_usage_error(&f->p, "jobexec: missing what to show: registry "
                              "list|history\nTry 'jobexec registry --help' "
                              "for more information.\n");
}

/* `check` asks the registry's validate, which opens no database for
 * writing: the refusal names the plan's position. */
static void test_check_refused_by_registry(void **state)
{
    fixture *f = *state;
    const char *config = default_config(f);
    const char *plan = fx_keep(
        f, tu_write(fx_dir(f), "bad.yaml",
                    "contract_id: " TU_CONTRACT "\n"
                    "steps:\n"
                    "  - {step_index: 0, step_type: capability_enable, "
                    "target: A}\n"
                    "  - {step_index: 1, step_type: capability_add, target: "
                    "B, parameters: {state: maybe}}\n"));

    JOBEXEC(f, NULL, "check", "-c", config, plan);
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s:4:5: step 1 refused by "
                                    "'registry': parameter 'state' must be "
                                    "\"enabled\" or \"disabled\"\n",
                                 plan));
    JOBEXEC(f, NULL, "check", "-c", config, EXAMPLE_PLAN);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 8 steps, job " EXAMPLE_JOB
                                  ", contract " EXAMPLE_CONTRACT "\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_example_plan_runs_twice),
        TEST(test_registry_list_and_history),
        TEST(test_registry_refusals),
        TEST(test_check_refused_by_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
