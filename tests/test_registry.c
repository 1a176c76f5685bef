/*
 * test_registry.c - the registry plugin's step types on a real SQLite
 * file: each success with its output, each failure with its exact reason,
 * the history rows a change leaves, validate's refusals, and the health
 * observer's snapshot.
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
#include <sqlite3.h>

#include "plugin_util.h"

/* The registry on DIR/reg.db, and as the health observer when observe;
 * extra adds to its config section, types binds more step types. */
static void registry_with(pfix *f, int observe, const char *extra,
                          const char *types)
{
    pf_executor(f,
                "plugins:\n"
                "  - path: registry\n"
                "    config: {db: %s%s}\n"
                "    step_types: [%s]\n"
                "%s",
                pf_path(f, "reg.db"), extra != NULL ? extra : "",
                types != NULL ? types : "",
                observe ? "health: {observer: registry}\n" : "");
}

static void registry(pfix *f, int observe, const char *extra)
{
    registry_with(f, observe, extra, NULL);
}

/* One value from the database: the first column of the first row, as
 * text ("(null)" for NULL, "" when there is no row).  Kept until the next
 * call. */
static const char *query(pfix *f, const char *sql)
{
    static char value[4096];
    sqlite3 *db;
    sqlite3_stmt *st;

    value[0] = '\0';
    if (sqlite3_open_v2(pf_path(f, "reg.db"), &db, SQLITE_OPEN_READONLY,
                        NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("query %s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(value, sizeof value, "%s",
                 sqlite3_column_type(st, 0) == SQLITE_NULL
                     ? "(null)"
                     : (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
}

static void assert_failed(pfix *f, const char *reason)
{
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), reason);
}

/* ---- capabilities -------------------------------------------------------- */

static void test_capability_lifecycle(void **state)
{
    pfix *f = *state;
    char who[128];

    registry(f, 0, NULL);
    assert_int_equal(
        pf_run(f, "  - {step_index: 0, step_type: capability_add, target: "
                  "CAP_A, parameters: {description: Sessions}}\n"
                  "  - {step_index: 1, step_type: capability_enable, "
                  "target: CAP_A}\n"
                  "  - {step_index: 2, step_type: capability_disable, "
                  "target: CAP_A}\n"
                  "  - {step_index: 3, step_type: capability_add, target: "
                  "CAP_B, parameters: {state: enabled}}\n"
                  "  - {step_index: 4, step_type: capability_remove, "
                  "target: CAP_A}\n"),
        JX_JOB_COMPLETED);
    pf_assert_json(pf_output(f, 0), "{\"changed\":true,\"new_state\":"
                                    "\"disabled\",\"previous_state\":null}");
    pf_assert_json(pf_output(f, 1), "{\"changed\":true,\"new_state\":"
                                    "\"enabled\",\"previous_state\":"
                                    "\"disabled\"}");
    pf_assert_json(pf_output(f, 2), "{\"changed\":true,\"new_state\":"
                                    "\"disabled\",\"previous_state\":"
                                    "\"enabled\"}");
    pf_assert_json(pf_output(f, 3), "{\"changed\":true,\"new_state\":"
                                    "\"enabled\",\"previous_state\":null}");
    pf_assert_json(pf_output(f, 4), "{\"changed\":true,\"new_state\":null,"
                                    "\"previous_state\":\"disabled\"}");
    assert_string_equal(query(f, "SELECT group_concat(name || '=' || state "
                                 "|| '/' || description) FROM capabilities"),
                        "CAP_B=enabled/");
    /* A history row per change, in order, with the job around it. */
    assert_string_equal(query(f, "SELECT count(*) FROM history"), "5");
    assert_string_equal(
        query(f, "SELECT group_concat(step_index || ':' || step_type || ':' "
                 "|| target || ':' || coalesce(previous_value, '-') || '>' "
                 "|| coalesce(new_value, '-'), ' ') FROM (SELECT * FROM "
                 "history ORDER BY id)"),
        "0:capability_add:CAP_A:->disabled "
        "1:capability_enable:CAP_A:disabled>enabled "
        "2:capability_disable:CAP_A:enabled>disabled "
        "3:capability_add:CAP_B:->enabled "
        "4:capability_remove:CAP_A:disabled>-");
    snprintf(who, sizeof who, "%s " TU_CONTRACT " executor",
             jx_result_job_id(f->res));
    assert_string_equal(query(f, "SELECT job_id || ' ' || contract_id || ' "
                                 "' || executed_by FROM history WHERE id = "
                                 "1"),
                        who);
}

static void test_enable_enabled_is_no_change(void **state)
{
    pfix *f = *state;

    registry(f, 0, NULL);
    pf_run(f, "  - {step_index: 0, step_type: capability_add, target: C, "
              "parameters: {state: enabled}}\n"
              "  - {step_index: 1, step_type: capability_enable, target: "
              "C}\n"
              "  - {step_index: 2, step_type: capability_disable, target: "
              "C}\n"
              "  - {step_index: 3, step_type: capability_disable, target: "
              "C}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    pf_assert_json(pf_output(f, 1), "{\"changed\":false,\"new_state\":"
                                    "\"enabled\",\"previous_state\":"
                                    "\"enabled\"}");
    pf_assert_json(pf_output(f, 3), "{\"changed\":false,\"new_state\":"
                                    "\"disabled\",\"previous_state\":"
                                    "\"disabled\"}");
    /* History records changes: the add and the one disable. */
    assert_string_equal(query(f, "SELECT count(*) FROM history"), "2");
}

static void test_add_existing_fails(void **state)
{
    pfix *f = *state;

    registry(f, 0, NULL);
    pf_run(f, "  - {step_index: 0, step_type: capability_add, target: A}\n"
              "  - {step_index: 1, step_type: capability_add, target: A}\n"
              "  - {step_index: 2, step_type: capability_enable, target: "
              "A}\n");
    assert_failed(f, "Step 1 failed: capability 'A' already exists");
    assert_int_equal(jx_result_steps_executed(f->res), 2);
    /* The failed step changed nothing and left no history. */
    assert_string_equal(query(f, "SELECT count(*) FROM history"), "1");
    assert_string_equal(query(f, "SELECT state FROM capabilities"),
                        "disabled");
}

static void test_missing_capability_fails(void **state)
{
    static const char *const types[] = {"capability_remove",
                                        "capability_enable",
                                        "capability_disable"};
    pfix *f = *state;
    char steps[256];

    registry(f, 0, NULL);
    for (size_t i = 0; i < 3; i++) {
        snprintf(steps, sizeof steps,
                 "  - {step_index: 7, step_type: %s, target: NOPE}\n",
                 types[i]);
        pf_run(f, steps);
        assert_failed(f, "Step 7 failed: capability 'NOPE' does not exist");
    }
    assert_string_equal(query(f, "SELECT count(*) FROM history"), "0");
}

/* ---- configuration -------------------------------------------------------- */

static void test_configuration_change(void **state)
{
    pfix *f = *state;

    registry(f, 0, NULL);
    pf_run(f, "  - {step_index: 0, step_type: configuration_change, "
              "target: max_sessions, parameters: {value: 20}}\n"
              "  - {step_index: 1, step_type: configuration_change, "
              "target: max_sessions, parameters: {value: {per_user: 2, "
              "hosts: [a, b]}}}\n"
              "  - {step_index: 2, step_type: configuration_change, "
              "target: max_sessions, parameters: {value: {per_user: 2, "
              "hosts: [a, b]}}}\n"
              "  - {step_index: 3, step_type: configuration_change, "
              "target: banner, parameters: {value: null}}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    pf_assert_json(pf_output(f, 0), "{\"changed\":true,\"new_value\":20,"
                                    "\"previous_value\":null}");
    pf_assert_json(pf_output(f, 1),
                   "{\"changed\":true,\"new_value\":{\"hosts\":[\"a\","
                   "\"b\"],\"per_user\":2},\"previous_value\":20}");
    pf_assert_json(pf_output(f, 2),
                   "{\"changed\":false,\"new_value\":{\"hosts\":[\"a\","
                   "\"b\"],\"per_user\":2},\"previous_value\":{\"hosts\":"
                   "[\"a\",\"b\"],\"per_user\":2}}");
    pf_assert_json(pf_output(f, 3), "{\"changed\":true,\"new_value\":null,"
                                    "\"previous_value\":null}");
    assert_string_equal(query(f, "SELECT value FROM configuration WHERE key "
                                 "= 'max_sessions'"),
                        "{\"per_user\":2,\"hosts\":[\"a\",\"b\"]}");
    assert_string_equal(
        query(f, "SELECT group_concat(coalesce(previous_value, '-') || '>' "
                 "|| new_value, ' ') FROM (SELECT * FROM history ORDER BY "
                 "id)"),
        "->20 20>{\"per_user\":2,\"hosts\":[\"a\",\"b\"]} ->null");
}

/* run checks the plan first: execute never sees the step. */
static void test_configuration_without_value_refused(void **state)
{
    pfix *f = *state;

    registry(f, 0, NULL);
    pf_run(f, "  - {step_index: 0, step_type: configuration_change, "
              "target: max_sessions, parameters: {setting: x}}\n");
    assert_failed(f, "Plan refused: step 0: refused by 'registry': "
                     "parameter 'value' is required: the new value (any "
                     "JSON value)");
}

/* ---- validate ----------------------------------------------------------- */

static void assert_refused(pfix *f, const char *steps, const char *why)
{
    char *text, want[1024];

    if (asprintf(&text, "contract_id: " TU_CONTRACT "\nsteps:\n%s", steps) <
        0)
        fail_msg("out of memory");
    tu_plan(text, &f->plan, &f->err);
    free(text);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), JX_EREFUSED);
    snprintf(want, sizeof want,
             "plan.yaml:3:5: step 0 refused by 'registry': %s", why);
    assert_string_equal(f->err.message, want);
}

static void test_validate_refusals(void **state)
{
    pfix *f = *state;
    char steps[1024], *long_name = malloc(258);

    registry_with(f, 0, NULL, "frobnicate");
    assert_refused(f, "  - {step_index: 0, step_type: capability_add}\n",
                   "target is empty: name the capability");
    assert_refused(f, "  - {step_index: 0, step_type: configuration_change, "
                      "parameters: {value: 1}}\n",
                   "target is empty: name the configuration key");
    memset(long_name, 'x', 257);
    long_name[257] = '\0';
    snprintf(steps, sizeof steps,
             "  - {step_index: 0, step_type: capability_enable, target: "
             "%s}\n",
             long_name);
    free(long_name);
    assert_refused(f, steps, "target is 257 bytes long, more than 256");
    assert_refused(f, "  - {step_index: 0, step_type: capability_enable, "
                      "target: \"CAP\\tA\"}\n",
                   "target has a control character (byte 0x09 at offset "
                   "3)");
    assert_refused(f, "  - {step_index: 0, step_type: capability_add, "
                      "target: A, parameters: {description: 5}}\n",
                   "parameter 'description' must be a string");
    assert_refused(f, "  - {step_index: 0, step_type: capability_add, "
                      "target: A, parameters: {state: on}}\n",
                   "parameter 'state' must be \"enabled\" or \"disabled\"");
    assert_refused(f, "  - {step_index: 0, step_type: configuration_change, "
                      "target: k}\n",
                   "parameter 'value' is required: the new value (any JSON "
                   "value)");
    assert_refused(f, "  - {step_index: 0, step_type: frobnicate, target: "
                      "A}\n",
                   "registry handles capability_add, capability_remove, "
                   "capability_enable, capability_disable and "
                   "configuration_change, not 'frobnicate'");
    /* validate never touches the database: nothing was written. */
    assert_string_equal(query(f, "SELECT count(*) FROM history"), "0");
}

/* ---- health -------------------------------------------------------------- */

static void test_observer_snapshot(void **state)
{
    pfix *f = *state;
    json_t *before, *after, *sys;

    registry(f, 1, NULL);
    pf_run(f, "  - {step_index: 0, step_type: capability_add, target: A, "
              "parameters: {state: enabled}}\n"
              "  - {step_index: 1, step_type: configuration_change, "
              "target: k, parameters: {value: [1, 2]}}\n");
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    before = json_object_get(json_object_get(f->doc, "health_observations"),
                             "before");
    after = json_object_get(json_object_get(f->doc, "health_observations"),
                            "after");
    pf_assert_json(json_object_get(before, "capabilities"), "{}");
    pf_assert_json(json_object_get(before, "configuration"), "{}");
    pf_assert_json(json_object_get(after, "configuration"), "{\"k\":[1,2]}");
    assert_string_equal(
        pf_str(json_object_get(json_object_get(after, "capabilities"), "A"),
               "state"),
        "enabled");
    assert_string_equal(
        pf_str(json_object_get(json_object_get(after, "capabilities"), "A"),
               "updated_at"),
        query(f, "SELECT updated_at FROM capabilities WHERE name = 'A'"));
    assert_non_null(strstr(pf_str(after, "captured_at"), "+00:00"));
    sys = json_object_get(after, "system");
    assert_true(json_is_real(json_object_get(sys, "load_1m")));
    assert_true(json_is_real(json_object_get(sys, "load_5m")));
    assert_true(json_is_real(json_object_get(sys, "load_15m")));
    assert_true(json_integer_value(json_object_get(sys,
                                                   "mem_available_kb")) > 0);
    assert_null(json_object_get(after, "capabilities_truncated"));
}

static void test_observer_bounded(void **state)
{
    pfix *f = *state;
    json_t *after;

    registry(f, 1, ", max_capabilities: 2, max_configuration: 1");
    pf_run(f, "  - {step_index: 0, step_type: capability_add, target: C}\n"
              "  - {step_index: 1, step_type: capability_add, target: A}\n"
              "  - {step_index: 2, step_type: capability_add, target: B}\n"
              "  - {step_index: 3, step_type: configuration_change, "
              "target: y, parameters: {value: 1}}\n"
              "  - {step_index: 4, step_type: configuration_change, "
              "target: x, parameters: {value: 2}}\n");
    after = json_object_get(json_object_get(f->doc, "health_observations"),
                            "after");
    /* The first by name, and the snapshot says it was cut. */
    assert_int_equal(json_object_size(json_object_get(after,
                                                      "capabilities")),
                     2);
    assert_non_null(json_object_get(json_object_get(after, "capabilities"),
                                    "A"));
    assert_non_null(json_object_get(json_object_get(after, "capabilities"),
                                    "B"));
    assert_true(json_is_true(json_object_get(after,
                                             "capabilities_truncated")));
    assert_int_equal(json_integer_value(json_object_get(
                         after, "capabilities_total")),
                     3);
    pf_assert_json(json_object_get(after, "configuration"), "{\"x\":2}");
    assert_true(json_is_true(json_object_get(after,
                                             "configuration_truncated")));
    assert_int_equal(json_integer_value(json_object_get(
                         after, "configuration_total")),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PTEST(test_capability_lifecycle),
        PTEST(test_enable_enabled_is_no_change),
        PTEST(test_add_existing_fails),
        PTEST(test_missing_capability_fails),
        PTEST(test_configuration_change),
        PTEST(test_configuration_without_value_refused),
        PTEST(test_validate_refusals),
        PTEST(test_observer_snapshot),
        PTEST(test_observer_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
