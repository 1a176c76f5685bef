/*
 * test_scope.c - bound execution scopes through the library: the gate's
 * every refusal with its exact reason (no step run, a FAILED document, a
 * sealed log), attempts consumed and exhausted, TTL expiry, revocation,
 * the store's listing, and runs that name a scope the executor cannot
 * check.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

typedef struct fix {
    char *dir, *log;
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_scope_store *store;
    jx_error err;
    size_t records;
} fix;

static size_t handler_calls;

static void count_calls(const jx_host_v1 *host, const jx_step *step)
{
    (void)host;
    (void)step;
    handler_calls++;
}

static int on_record(const jx_record *rec, void *user)
{
    (void)rec;
    ((fix *)user)->records++;
    return 0;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    char *db;

    if (f == NULL || tu_temp_log(&f->dir, &f->log) != 0)
        return -1;
    if (asprintf(&db, "%s/scopes.db", f->dir) < 0)
        return -1;
    tu_configf(&f->cfg, &f->err, "jobexec.yaml", NULL,
               "scopes: {db: %s}\nevidence: {log: %s, fsync: none}\n", db,
               f->log);
    tu_executor(f->cfg, &tu_rec_handler, &f->ex, &f->err);
    if (jx_scope_store_open(db, &f->store, &f->err) != 0)
        fail_msg("store: %s", f->err.message);
    free(db);
    tu_plan("contract_id: " TU_CONTRACT "\nsteps:\n"
            "  - {step_index: 0, step_type: rec}\n"
            "  - {step_index: 1, step_type: rec}\n",
            &f->plan, &f->err);
    tu_rec_hook = count_calls;
    handler_calls = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;

    tu_rec_hook = NULL;
    jx_scope_store_close(f->store);
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    free(f->log);
    tu_temp_free(f->dir);
    free(f);
    return 0;
}

/* A scope for INC-7 allowing restart and drain. */
static void make_scope(fix *f, unsigned max_attempts, unsigned ttl,
                       char id[37])
{
    static const char *const actions[] = {"restart", "drain", NULL};
    jx_scope_spec spec = {"INC-7", actions, max_attempts, ttl, -1,
                          "restart the broker", "ops"};

    if (jx_scope_create(f->store, &spec, id, &f->err) != 0)
        fail_msg("create: %s", f->err.message);
}

static jx_job_status run(fix *f, const char *scope, const char *incident,
                         const char *action)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;

    opts.scope_id = scope;
    opts.incident_id = incident;
    opts.action = action;
    opts.on_record = on_record;
    opts.user = f;
    f->records = 0;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    return jx_result_status(f->res);
}

static void assert_rejected(fix *f, const char *reason)
{
    char want[128];

    snprintf(want, sizeof want, "Scope gate rejected: %s", reason);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), want);
    assert_true(jx_result_scope_rejected(f->res));
    assert_int_equal(jx_result_steps_executed(f->res), 0);
    assert_int_equal(handler_calls, 0);
    /* job_started and a sealed job_finished: the refusal is evidence. */
    assert_int_equal(f->records, 2);
}

static void test_allowed_run_consumes_attempts(void **state)
{
    fix *f = *state;
    char id[37];

    make_scope(f, 2, 0, id);
    assert_int_equal(run(f, id, "INC-7", "restart"), JX_JOB_COMPLETED);
    assert_false(jx_result_scope_rejected(f->res));
    assert_int_equal(handler_calls, 2);
    assert_int_equal(run(f, id, "INC-7", "drain"), JX_JOB_COMPLETED);
    handler_calls = 0;
    run(f, id, "INC-7", "restart");
    assert_rejected(f, "exhausted");
}

static void test_not_found(void **state)
{
    fix *f = *state;

    run(f, TU_NIL_JOB, "INC-7", "restart");
    assert_rejected(f, "not found");
}

static void test_revoked(void **state)
{
    fix *f = *state;
    char id[37];

    make_scope(f, 5, 0, id);
    assert_int_equal(jx_scope_revoke(f->store, id, &f->err), 0);
    run(f, id, "INC-7", "restart");
    assert_rejected(f, "revoked");
    assert_int_equal(jx_scope_revoke(f->store, TU_NIL_JOB, &f->err),
                     JX_EINVAL);
    assert_string_equal(f->err.message, "no scope " TU_NIL_JOB);
}

static void test_expired(void **state)
{
    fix *f = *state;
    char id[37], *json;

    make_scope(f, 5, 1, id);
    usleep(1100 * 1000);
    run(f, id, "INC-7", "restart");
    assert_rejected(f, "expired");
    assert_int_equal(jx_scope_json(f->store, id, &json, &f->err), 0);
    assert_non_null(strstr(json, "\"status\": \"expired\""));
    free(json);
}

static void test_incident_mismatch(void **state)
{
    fix *f = *state;
    char id[37];

    make_scope(f, 1, 0, id);
    run(f, id, "INC-8", "restart");
    assert_rejected(f, "incident mismatch");
}

static void test_action_not_allowed(void **state)
{
    fix *f = *state;
    char id[37];

    make_scope(f, 1, 0, id);
    run(f, id, "INC-7", "reboot");
    assert_rejected(f, "action not allowed");
    /* A refusal uses no attempt: the scope still lets its action in. */
    handler_calls = 0;
    assert_int_equal(run(f, id, "INC-7", "drain"), JX_JOB_COMPLETED);
}

static void test_scope_json(void **state)
{
    fix *f = *state;
    char a[37], b[37], *text;
    json_t *v, *one;

    make_scope(f, 3, 60, a);
    make_scope(f, 1, 0, b);
    run(f, a, "INC-7", "restart");
    assert_int_equal(jx_scope_json(f->store, NULL, &text, &f->err), 0);
    v = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_int_equal(jx_scope_json(f->store, a, &text, &f->err), 0);
    one = json_loads(text, 0, NULL);
    free(text);
    assert_string_equal(json_string_value(json_object_get(one, "id")), a);
    assert_string_equal(json_string_value(json_object_get(one, "status")),
                        "active");
    assert_int_equal(json_integer_value(json_object_get(one,
                                                        "attempts_used")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(one,
                                                        "max_attempts")),
                     3);
    assert_string_equal(json_string_value(json_object_get(one, "intent")),
                        "restart the broker");
    assert_string_equal(json_string_value(json_object_get(one, "created_by")),
                        "ops");
    assert_true(json_is_null(json_object_get(one, "max_cost_usd")));
    json_decref(one);
    assert_int_equal(jx_scope_json(f->store, TU_NIL_JOB, &text, &f->err),
                     JX_EINVAL);
}

static void test_spec_refused(void **state)
{
    fix *f = *state;
    static const char *const none[] = {NULL};
    jx_scope_spec spec = {NULL, none, 0, 0, -1, NULL, NULL};
    char id[37];

    assert_int_equal(jx_scope_create(f->store, &spec, id, &f->err),
                     JX_EINVAL);
    assert_string_equal(f->err.message, "a scope needs an incident id");
    spec.incident_id = "INC-1";
    assert_int_equal(jx_scope_create(f->store, &spec, id, &f->err),
                     JX_EINVAL);
    assert_string_equal(f->err.message, "a scope needs at least one action");
}

static void test_run_without_store_or_parts(void **state)
{
    fix *f = *state;
    jx_executor *bare;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    jx_result *res = NULL;

    tu_executor(NULL, &tu_rec_handler, &bare, &f->err);
    opts.scope_id = TU_NIL_JOB;
    opts.incident_id = "INC-7";
    opts.action = "restart";
    assert_int_equal(jx_executor_run(bare, f->plan, &opts, &res, &f->err),
                     JX_ECONFIG);
    assert_string_equal(f->err.message,
                        "jx_executor_run: the run names scope " TU_NIL_JOB
                        ", but the config sets no scopes.db");
    opts.action = NULL;
    assert_int_equal(jx_executor_run(f->ex, f->plan, &opts, &res, &f->err),
                     JX_EINVAL);
    assert_string_equal(f->err.message,
                        "jx_executor_run: a scope needs scope_id, "
                        "incident_id and action together");
    assert_null(res);
    assert_int_equal(handler_calls, 0);
    jx_executor_free(bare);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_allowed_run_consumes_attempts),
        T(test_not_found),
        T(test_revoked),
        T(test_expired),
        T(test_incident_mismatch),
        T(test_action_not_allowed),
        T(test_scope_json),
        T(test_spec_refused),
        T(test_run_without_store_or_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
