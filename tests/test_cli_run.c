/*
 * test_cli_run.c - end-to-end runs of the jobexec command: the real binary
 * on real config and plan files (tests/data/e2e), the way ops run it.
 * `run` (files and standard input, YAML and JSON, failing steps, the
 * evidence log, health, plugins that fail to load), standard output full
 * or closed, `check` and `plugins`, each by exit status, standard output
 * and standard error.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

/* ---- run ---------------------------------------------------------------- */

static void test_run_options_before_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--config", NOOP_CONFIG, "run", E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);

    JOBEXEC(f, NULL, "run", "-c", NOOP_CONFIG, E2E "/plan.json");
    assert_completed(f, JSON_JOB, 2);
}

static void test_run_stdin_yaml(void **state)
{
    fixture *f = *state;
    const char *text = fx_keep(f, tu_read(E2E "/plan.yaml"));

    JOBEXEC(f, text, "run", "-c", NOOP_CONFIG, "-");
    assert_completed(f, PLAN_JOB, 3);
}

static void test_run_stdin_json(void **state)
{
    fixture *f = *state;
    const char *text = fx_keep(f, tu_read(E2E "/plan.json"));
    json_t *doc;

    JOBEXEC(f, text, "run", "-c", NOOP_CONFIG, "-");
    doc = assert_completed(f, JSON_JOB, 2);
    /* executed_by was left out of the plan: the documented default. */
    assert_string_equal(doc_string(doc, "executed_by"), "executor");
    assert_string_equal(doc_string(doc, "contract_id"), E2E_CONTRACT);
}

static void test_run_empty_stdin(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, "", "run", "-");
    assert_usage_error(&f->p, "jobexec: <stdin>:1:1: the document is empty\n");
}

static void test_run_step_fails(void **state)
{
    fixture *f = *state;
    json_t *doc, *failed;

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-fail.yaml",
            E2E "/plan-fails.yaml");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(fx_cut_summary(f, FAILS_JOB, "FAILED"), "");
    doc = fx_doc(f);
    /* Step 2 never started: two results, the second FAILED with Boom. */
    assert_doc(doc, FAILS_JOB, "FAILED", "Step 1 failed: Boom", 2, 1);
    failed = json_array_get(json_object_get(doc, "step_results"), 1);
    assert_string_equal(doc_string(failed, "error"), "Boom");
    assert_string_equal(doc_string(failed, "step_type"), "bad");
    assert_true(json_is_null(json_object_get(failed, "output")));
}

/* run refuses what check refuses, before step 0: step 1 (which has a
 * handler) does not run either, and the log holds the job, finished. */
static void test_run_no_handler(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log);
    char *text;
    json_t *doc, *last;

    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan-unhandled.yaml");
    assert_int_equal(f->p.status, 1);
    doc = fx_doc(f);
    assert_doc(doc, UNHANDLED_JOB, "FAILED",
               "Plan refused: step 0: No handler registered for step type: "
               "nothing_handles_this",
               0, 0);
    text = fx_keep(f, tu_read(log));
    assert_int_equal(count_lines(text), 2);
    assert_true(strstr(text, "\"event\":\"job_started\"") != NULL);
    last = json_loads(strchr(text, '\n') + 1, 0, NULL); /* line 2 */
    assert_non_null(last);
    assert_string_equal(doc_string(last, "event"), "job_finished");
    json_decref(last);
    JOBEXEC(f, NULL, "evidence", "verify", log);
    assert_int_equal(f->p.status, 0);
}

static void test_run_evidence_log(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log);

    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    assert_log_records(f, log, PLAN_JOB, 1);

    /* A second run appends its own eight records. */
    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    assert_log_records(f, log, PLAN_JOB, 2);
}

static void test_run_health_observer(void **state)
{
    fixture *f = *state;
    json_t *doc, *health;

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-health.yaml",
            E2E "/plan.yaml");
    doc = assert_completed(f, PLAN_JOB, 3);
    health = json_object_get(doc, "health_observations");
    /* Keep the expected snapshot in f->rec so that it is freed whatever
     * happens. */
    f->rec = json_pack("{s:s, s:i}", "cpu", "ok", "disk", 42);
    assert_non_null(f->rec);
    assert_true(json_equal(json_object_get(health, "before"), f->rec));
    assert_true(json_equal(json_object_get(health, "after"), f->rec));
}

static void test_run_plugin_fails_to_load(void **state)
{
    static const char *const cmds[] = {"run", "check", "plugins"};
    static const char prefix[] =
        "jobexec: " E2E "/config-missing-plugin.yaml:5:11: plugin '"
        TU_PLUGINS "/no_such_plugin.so': ";
    fixture *f = *state;

    for (size_t i = 0; i < 3; i++) {
        if (i == 2)
            JOBEXEC(f, NULL, cmds[i], "-c",
                    E2E "/config-missing-plugin.yaml");
        else
            JOBEXEC(f, NULL, cmds[i], "-c", E2E "/config-missing-plugin.yaml",
                    E2E "/plan.yaml");
        assert_int_equal(f->p.status, 2);
        assert_string_equal(f->p.out, "");
        if (!starts_with(f->p.err, prefix))
            fail_msg("%s: stderr: %s", cmds[i], f->p.err);
        assert_true(ends_with(f->p.err, "No such file or directory\n"));
        assert_int_equal(count_lines(f->p.err), 1);
    }
}

static void test_run_plugin_init_fails(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "-c", E2E "/config-bad-init.yaml",
            E2E "/plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/config-bad-init.yaml:5:11: "
                              "plugin '" TU_PLUGINS "/fail.so': init failed: "
                              "error_message must be a string\n");
}

static void test_run_missing_files(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", E2E "/no-such-plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/no-such-plan.yaml: cannot "
                              "open: No such file or directory\n");

    JOBEXEC(f, NULL, "run", "-c", E2E "/no-such-config.yaml",
            E2E "/plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/no-such-config.yaml: cannot "
                              "open: No such file or directory\n");
}

/* ---- writing to standard output ----------------------------------------- */

static void test_run_stdout_full(void **state)
{
    const char *const argv[] = {TU_JOBEXEC, "run", "-c", NOOP_CONFIG,
                                E2E "/plan.yaml", NULL};
    fixture *f = *state;

    fx_spawn(f, argv, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    /* Every step ran: the message says how the job ended. */
    assert_string_equal(f->p.err, "jobexec: job " PLAN_JOB " COMPLETED, but "
                                  "the evidence document could not be "
                                  "written to standard output\n");
}

/* With standard output closed, a file the job opens (the evidence log)
 * could take descriptor 1 and receive the document: the log must hold only
 * its own records, and the run must say the document was lost. */
static void test_run_stdout_closed(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log);
    const char *const argv[] = {TU_JOBEXEC, "run", "--config", cfg,
                                E2E "/plan.yaml", NULL};
    char *text;

    fx_spawn(f, argv, NULL, OUT_CLOSED);
    assert_int_equal(f->p.status, 3);
    assert_non_null(strstr(f->p.err, "the evidence document could not be "
                                     "written to standard output"));
    /* Whether or not the job ran, no document in the log. */
    text = tu_read(log);
    if (text != NULL && fx_keep(f, text)[0] != '\0')
        assert_log_records(f, log, PLAN_JOB, 1);
}

/* `check` and `plugins` print what scripts rely on: losing it is an
 * error, not "OK". */
static void test_listing_stdout_full(void **state)
{
    const char *const check[] = {TU_JOBEXEC, "check", E2E "/plan.yaml", NULL};
    const char *const plugins[] = {TU_JOBEXEC, "plugins", NULL};
    fixture *f = *state;

    fx_spawn(f, check, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_true(starts_with(f->p.err, "jobexec: "));

    fx_spawn(f, plugins, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_true(starts_with(f->p.err, "jobexec: "));
}

/* ---- check -------------------------------------------------------------- */

static void test_check_config_only(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "check");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "config OK: 3 plugins loaded\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", "--config", E2E "/config-fail.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "config OK: 2 plugins loaded\n");
    assert_string_equal(f->p.err, "");
}

/* check and plugins run nothing: the evidence log is checked, never
 * created, and a torn last line in it is no business of theirs. */
/* The build tree's binary uses the tree's runner only when the config
 * names none. */
static void test_config_runner_path_honoured(void **state)
{
    fixture *f = *state;
    const char *cfg = fx_keep(f, tu_write(fx_dir(f), "runner.yaml",
                                          "plugins:\n"
                                          "  - path: noop\n"
                                          "    isolation: process\n"
                                          "runner:\n"
                                          "  path: /nonexistent/runner\n"));
    const char *want = fx_printf(f, "jobexec: %s:2:11: plugin '%s/noop.so': "
                                    "cannot start the runner "
                                    "'/nonexistent/runner': No such file or "
                                    "directory\n",
                                 cfg, TU_PLUGINS);

    JOBEXEC(f, NULL, "plugins", "--config", cfg);
    assert_string_equal(f->p.err, want);
    assert_int_equal(f->p.status, 2);
}

static void test_check_and_plugins_leave_log_alone(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log), *want;
    struct stat st;

    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    JOBEXEC(f, NULL, "plugins", "--config", cfg);
    assert_int_equal(f->p.status, 0);
    assert_int_equal(stat(log, &st), -1);

    fx_keep(f, tu_write(fx_dir(f), "evidence.jsonl", "{\"seq\":0,\"pre"));
    JOBEXEC(f, NULL, "check", "--config", cfg);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(fx_keep(f, tu_read(log)), "{\"seq\":0,\"pre");

    /* A log that could not be opened fails the check as it would the run. */
    cfg = fx_keep(f, tu_write(fx_dir(f), "nolog.yaml",
                              "evidence: {log: /no-such-folder/ev.jsonl}\n"));
    /* A config error (exit 2) at the key that names the log. */
    JOBEXEC(f, NULL, "check", "--config", cfg);
    assert_int_equal(f->p.status, 2);
    want = fx_printf(f, "jobexec: %s:1:17: evidence log "
                        "'/no-such-folder/ev.jsonl': cannot be created in "
                        "'/no-such-folder': No such file or directory\n",
                     cfg);
    assert_string_equal(f->p.err, want);
    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 2);
    want = fx_printf(f, "jobexec: %s:1:17: evidence log "
                        "'/no-such-folder/ev.jsonl': cannot open: No such "
                        "file or directory\n",
                     cfg);
    assert_string_equal(f->p.err, want);
}

static void test_check_good_plan(void **state)
{
    fixture *f = *state;
    const char *json = fx_keep(f, tu_read(E2E "/plan.json"));

    JOBEXEC(f, NULL, "check", E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 3 steps, job " PLAN_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 8 steps, job " EXAMPLE_JOB
                                  ", contract " EXAMPLE_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, json, "check", "-");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 2 steps, job " JSON_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    /* No job_id: the one made up here is not the one a run would use. */
    JOBEXEC(f, "contract_id: " E2E_CONTRACT "\nsteps:\n  - {step_index: 0, "
               "step_type: capability_enable}\n",
            "check", "-c", NOOP_CONFIG, "-");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 1 step, job (generated at run "
                                  "time), contract " E2E_CONTRACT "\n");
}

/* The evidence log, if check made it at all, holds nothing. */
static void assert_log_empty(fixture *f, const char *log)
{
    char *text = tu_read(log);

    if (text != NULL)
        fx_keep(f, text);
    assert_true(text == NULL || text[0] == '\0');
}

static void test_check_unhandled_step(void **state)
{
    fixture *f = *state;
    const char *log, *cfg;

    JOBEXEC(f, NULL, "check", E2E "/plan-unhandled.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/plan-unhandled.yaml:5:5: "
                              "step 0: No handler registered for step type: "
                              "nothing_handles_this\n");

    /* Nothing runs: the evidence log gets no record. */
    cfg = write_log_config(f, &log);
    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan-unhandled.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/plan-unhandled.yaml:5:5: "
                              "step 0: No handler registered for step type: "
                              "nothing_handles_this\n");
    assert_log_empty(f, log);

    /* Nor does a good plan's check. */
    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    assert_log_empty(f, log);
}

/* ---- plugins ------------------------------------------------------------ */

static void test_plugins_default(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "registry 1.0.0 (abi 1, in-process, health observer)\n"
                        "  file: " TU_PLUGINS "/registry.so\n"
                        "  step types: capability_add capability_remove "
                        "capability_enable capability_disable "
                        "configuration_change\n"
                        "exec 1.0.0 (abi 1, in-process, thread-safe)\n"
                        "  file: " TU_PLUGINS "/exec.so\n"
                        "  step types: command\n"
                        "noop 1.0.0 (abi 1, in-process, thread-safe)\n"
                        "  file: " TU_PLUGINS "/noop.so\n"
                        "  step types: unknown\n");
    assert_string_equal(f->p.err, "");
}

static void test_plugins_health_and_fail(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins", "--config", E2E "/config-health.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "noop 1.0.0 (abi 1, in-process, thread-safe)\n"
                        "  file: " TU_PLUGINS "/noop.so\n"
                        "  step types: capability_enable capability_disable "
                        "configuration_change\n"
                        "health_static 1.0.0 (abi 1, in-process, thread-safe, "
                        "health observer)\n"
                        "  file: " TU_PLUGINS "/health_static.so\n"
                        "  step types: (none)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "plugins", "-c", E2E "/config-fail.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "noop 1.0.0 (abi 1, in-process, thread-safe)\n"
                        "  file: " TU_PLUGINS "/noop.so\n"
                        "  step types: capability_enable "
                        "capability_disable\n"
                        "fail 1.0.0 (abi 1, in-process, thread-safe)\n"
                        "  file: " TU_PLUGINS "/fail.so\n"
                        "  step types: bad\n");
    assert_string_equal(f->p.err, "");
}

/* Under root, an isolated plugin is read by the runner's user, who may
 * be refused what root may read: the message says who. */
static void test_isolated_permission_names_user(void **state)
{
    fixture *f = *state;
    const char *so = fx_printf(f, "%s/counting.so", fx_dir(f));
    const char *cfg;

    if (geteuid() != 0)
        skip(); /* the runner runs as the test's user, who can read it */
    assert_int_equal(tu_copy(TU_FIXTURES "/counting.so", so, 0644), 0);
    cfg = fx_keep(f, tu_write(fx_dir(f), "c.yaml",
                              fx_printf(f, "plugins:\n  - path: %s\n"
                                           "    isolation: process\n"
                                           "runner: {path: " TU_RUNNER "}\n",
                                        so)));
    JOBEXEC(f, NULL, "check", "-c", cfg);
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s:2:11: plugin '%s': cannot "
                                    "open: Permission denied (the runner "
                                    "runs as nobody:nogroup, who must be "
                                    "able to read the module and search "
                                    "every folder above it)\n",
                                 cfg, so));
}

/* --json: one array, every field the lines show. */
static void test_plugins_json(void **state)
{
    fixture *f = *state;
    json_t *all, *p;

    JOBEXEC(f, NULL, "plugins", "--json", "-c", E2E "/config-fail.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    all = json_loads(f->p.out, 0, NULL);
    assert_true(json_is_array(all));
    assert_int_equal(json_array_size(all), 2);
    p = json_array_get(all, 1);
    assert_string_equal(doc_string(p, "name"), "fail");
    assert_string_equal(doc_string(p, "version"), "1.0.0");
    assert_int_equal(doc_int(p, "abi_version"), 1);
    assert_string_equal(doc_string(p, "file"), TU_PLUGINS "/fail.so");
    assert_true(json_is_false(json_object_get(p, "isolated")));
    assert_true(json_is_true(json_object_get(p, "thread_safe")));
    assert_true(json_is_false(json_object_get(p, "health_observer")));
    assert_int_equal(doc_int(p, "runners"), 0);
    assert_true(json_is_null(json_object_get(p, "runner_user")));
    assert_int_equal(json_array_size(json_object_get(p, "step_types")), 1);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(p, "step_types"), 0)),
                        "bad");
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_run_options_before_command),
        TEST(test_plugins_json),
        TEST(test_isolated_permission_names_user),
        TEST(test_run_stdin_yaml),
        TEST(test_run_stdin_json),
        TEST(test_run_empty_stdin),
        TEST(test_run_step_fails),
        TEST(test_run_no_handler),
        TEST(test_run_evidence_log),
        TEST(test_run_health_observer),
        TEST(test_run_plugin_fails_to_load),
        TEST(test_run_plugin_init_fails),
        TEST(test_run_missing_files),
        TEST(test_run_stdout_full),
        TEST(test_run_stdout_closed),
        TEST(test_listing_stdout_full),
        TEST(test_check_config_only),
        TEST(test_config_runner_path_honoured),
        TEST(test_check_and_plugins_leave_log_alone),
        TEST(test_check_good_plan),
        TEST(test_check_unhandled_step),
        TEST(test_plugins_default),
        TEST(test_plugins_health_and_fail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
