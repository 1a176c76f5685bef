/*
 * test_cli_scope.c - `jobexec scope` and `jobexec run --scope`: creating,
 * listing, showing and revoking scopes; each refusal of the gate with its
 * exact reason and exit status 5; usage errors; and two processes racing
 * for a single-use scope, RACE_TRIALS times: exactly one runs each time.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

extern char **environ;

static const char *config(fixture *f)
{
    return fx_keep(f, tu_write(fx_dir(f), "jobexec.yaml",
                               fx_printf(f,
                                         "plugins:\n"
                                         "  - path: noop\n"
                                         "    step_types: [capability_enable]"
                                         "\n"
                                         "scopes: {db: %s/scopes.db}\n",
                                         fx_dir(f))));
}

static const char *plan(fixture *f)
{
    return fx_keep(f, tu_write(fx_dir(f), "plan.yaml",
                               "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT
                               "\nsteps:\n  - {step_index: 0, step_type: "
                               "capability_enable}\n"));
}

/* Creates a scope, returns its id (kept by f). */
static const char *create(fixture *f, const char *cfg, const char *max)
{
    JOBEXEC(f, NULL, "scope", "create", "-c", cfg, "--incident", "INC-1",
            "--action", "restart", "--action", "drain", "--max-attempts", max,
            "--intent", "fix it", "--created-by", "alice");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_int_equal(strlen(f->p.out), 37); /* a UUID and a newline */
    return fx_keep(f, strndup(f->p.out, 36));
}

static void assert_refused(fixture *f, const char *reason)
{
    char want[128];

    assert_int_equal(f->p.status, 5);
    assert_string_equal(fx_cut_summary(f, TU_JOB, "FAILED"), "");
    snprintf(want, sizeof want, "Scope gate rejected: %s", reason);
    assert_doc(fx_doc(f), TU_JOB, "FAILED", want, 0, 0);
}

static void test_create_run_exhaust(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f), *id = create(f, cfg, "1");

    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-1",
            "--action", "drain", plan(f));
    assert_completed(f, TU_JOB, 1);
    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-1",
            "--action", "drain", plan(f));
    assert_refused(f, "exhausted");
    JOBEXEC(f, NULL, "scope", "show", id, "-c", cfg);
    assert_int_equal(f->p.status, 0);
    assert_true(starts_with(f->p.out,
                            fx_printf(f, "%s  exhausted  incident INC-1  "
                                         "actions [\"restart\",\"drain\"]  "
                                         "attempts 1/1  expires ",
                                      id)));
    assert_true(ends_with(f->p.out, "  intent: fix it\n"));
}

static void test_each_refusal(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f), *id = create(f, cfg, "3");

    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", TU_NIL_JOB, "--incident",
            "INC-1", "--action", "restart", plan(f));
    assert_refused(f, "not found");
    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-2",
            "--action", "restart", plan(f));
    assert_refused(f, "incident mismatch");
    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-1",
            "--action", "reboot", plan(f));
    assert_refused(f, "action not allowed");
    JOBEXEC(f, NULL, "scope", "revoke", id, "-c", cfg);
    assert_int_equal(f->p.status, 0);
    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-1",
            "--action", "restart", plan(f));
    assert_refused(f, "revoked");

    JOBEXEC(f, NULL, "scope", "create", "-c", cfg, "--incident", "INC-9",
            "--action", "a", "--ttl", "1");
    assert_int_equal(f->p.status, 0);
    id = fx_keep(f, strndup(f->p.out, 36));
    usleep(1100 * 1000);
    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", id, "--incident", "INC-9",
            "--action", "a", plan(f));
    assert_refused(f, "expired");
}

static void test_list_json(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f), *a = create(f, cfg, "2");
    json_t *v;

    create(f, cfg, "1");
    JOBEXEC(f, NULL, "scope", "list", "--json", "-c", cfg);
    assert_int_equal(f->p.status, 0);
    v = json_loads(f->p.out, 0, NULL);
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0),
                                                          "id")),
                        a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0),
                                                          "created_by")),
                        "alice");
    json_decref(v);
    JOBEXEC(f, NULL, "scope", "list", "-c", cfg);
    assert_int_equal(count_lines(f->p.out), 2);
}

static void test_usage_errors(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f);

    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", TU_NIL_JOB, plan(f));
    assert_usage_error(&f->p, "jobexec: --scope, --incident and one --action "
                              "go together\nTry 'jobexec run --help' for "
                              "more information.\n");
    JOBEXEC(f, NULL, "run", "-c", NOOP_CONFIG, "--scope", TU_NIL_JOB,
            "--incident", "I", "--action", "a", plan(f));
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.err, "jobexec: jx_executor_run: the run names "
                                  "scope " TU_NIL_JOB ", but the config sets "
                                  "no scopes.db\n");
    JOBEXEC(f, NULL, "scope", "create", "-c", cfg, "--incident", "I");
    assert_usage_error(&f->p, "jobexec: scope create needs --incident ID and "
                              "at least one --action A\n");
    JOBEXEC(f, NULL, "scope", "create", "-c", cfg, "--incident", "I",
            "--action", "a", "--max-attempts", "0");
    assert_usage_error(&f->p, "jobexec: --max-attempts '0' must be a whole "
                              "number from 1 to 1000000\n");
    JOBEXEC(f, NULL, "scope", "show", "-c", cfg);
    assert_usage_error(&f->p, "jobexec: scope show needs the scope's ID\nTry "
                              "'jobexec scope --help' for more "
                              "information.\n");
    JOBEXEC(f, NULL, "scope", "show", TU_NIL_JOB, "-c", cfg);
    assert_usage_error(&f->p, "jobexec: no scope " TU_NIL_JOB "\n");
    JOBEXEC(f, NULL, "scope", "list", "-c", NOOP_CONFIG);
    assert_usage_error(&f->p, "jobexec: the config in effect sets no "
                              "scopes.db (give --db FILE)\n");
    JOBEXEC(f, NULL, "scope", "frob", "-c", cfg);
    assert_usage_error(&f->p, "jobexec: unknown scope command 'frob' "
                              "(create, list, show, revoke)\nTry 'jobexec "
                              "scope --help' for more information.\n");
}

/* Each trial starts two processes at once; under ASan a run costs about
 * 100 ms, so 30 trials keep the suite near ten seconds there. */
#define RACE_TRIALS 30

static pid_t start_run(const char *cfg, const char *id, const char *plan_path)
{
    const char *const argv[] = {TU_JOBEXEC, "run", "-c", cfg, "--scope", id,
                                "--incident", "INC-1", "--action", "restart",
                                plan_path, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                    environ) != 0)
        fail_msg("cannot start jobexec");
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int exit_of(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_single_use_race(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f), *path = plan(f);

    for (int trial = 0; trial < RACE_TRIALS; trial++) {
        const char *id = create(f, cfg, "1");
        pid_t a = start_run(cfg, id, path), b = start_run(cfg, id, path);
        int ea = exit_of(a), eb = exit_of(b);

        if (!((ea == 0 && eb == 5) || (ea == 5 && eb == 0)))
            fail_msg("trial %d: exits %d and %d, expected one 0 and one 5",
                     trial, ea, eb);
        /* The ids are kept by f: let it hold a few only. */
        free(f->keep[--f->n_keep]);
    }
}

/* SQLite is loaded when the scope store is first opened: when it cannot
 * be, the command says why, and how to install it. */
static void test_sqlite_cannot_load(void **state)
{
    fixture *f = *state;
    const char *cfg = config(f);
    const char *const argv[] = {TU_JOBEXEC, "scope", "list", "-c", cfg, NULL};
    const char *libs = getenv("LD_LIBRARY_PATH"); /* set by TU_JOBEXEC */
    char *env[] = {fx_printf(f, "LD_LIBRARY_PATH=%s:%s", fx_dir(f),
                             libs != NULL ? libs : ""),
                   NULL};

    /* An empty file where the dynamic loader looks first. */
    fx_keep(f, tu_write(fx_dir(f), "libsqlite3.so.0", ""));
    fx_spawn(f, argv, env, OUT_PIPE);
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.out, "");
    assert_string_equal(f->p.err,
                        fx_printf(f, "jobexec: scope store '%s/scopes.db': "
                                     "SQLite cannot be loaded "
                                     "(%s/libsqlite3.so.0: file too short; "
                                     "Debian: apt-get install libsqlite3-0)\n",
                                  fx_dir(f), fx_dir(f)));
}

/* A refused run is in the audit trail, which `evidence verify` checks as
 * it checks an evidence log: the same verdicts and exit statuses. */
static void test_refusal_audited(void **state)
{
    fixture *f = *state;
    const char *audit = fx_printf(f, "%s/audit.jsonl", fx_dir(f));
    const char *cfg = fx_keep(
        f, tu_write(fx_dir(f), "audited.yaml",
                    fx_printf(f,
                              "plugins:\n"
                              "  - path: noop\n"
                              "    step_types: [capability_enable]\n"
                              "scopes: {db: %s/scopes.db}\n"
                              "audit: {log: %s}\n",
                              fx_dir(f), audit)));
    char *text;

    JOBEXEC(f, NULL, "run", "-c", cfg, "--scope", TU_NIL_JOB, "--incident",
            "INC-1", "--action", "restart", plan(f));
    assert_refused(f, "not found");
    JOBEXEC(f, NULL, "evidence", "verify", audit);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, TU_JOB ": valid (2 records, unsigned "
                                  "seal)\n1 job: 1 valid, 0 incomplete, 0 "
                                  "tampered\n");
    text = fx_keep(f, tu_read(audit));
    assert_non_null(strstr(text, "\"event_type\":\"scope_rejected\""));
    *strstr(text, "not found") = 'N';
    fx_keep(f, tu_write(fx_dir(f), "audit.jsonl", text));
    JOBEXEC(f, NULL, "evidence", "verify", audit);
    assert_int_equal(f->p.status, 4);
    assert_non_null(strstr(f->p.out, ": tampered: line 2: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_create_run_exhaust),
        TEST(test_each_refusal),
        TEST(test_list_json),
        TEST(test_usage_errors),
        TEST(test_single_use_race),
        TEST(test_refusal_audited),
        TEST(test_sqlite_cannot_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
