/*
 * cli_util.h - what the test_cli_* suites share: the real config and plan
 * files of tests/data/e2e and their ids, a fixture holding the last
 * command run and what was parsed of it, running the jobexec binary (with
 * standard output a pipe, /dev/full or closed, or standard error a
 * terminal), and asserting its exit status, output and evidence.
 */
#ifndef JX_TEST_CLI_UTIL_H
#define JX_TEST_CLI_UTIL_H

#include <stddef.h>

#include <jansson.h>

#include "fixture.h"
#include "testutil.h"

/* The config and plan files run end to end, and the example plan. */
#define E2E TU_DATADIR "/e2e"
#define EXAMPLE_PLAN TU_SRCDIR "/conf/example-plan.yaml"
/* The old default: every step type of the e2e plans bound to noop. */
#define NOOP_CONFIG E2E "/config-noop.yaml"
/* The config the build tree's jobexec reads by default, and what it is
 * made from. */
#define BUILD_CONFIG TU_BUILDDIR "/conf/jobexec-build.yaml"
#define CONFIG_TEMPLATE TU_SRCDIR "/conf/jobexec.yaml.in"

/* The jobs and contracts of those files. */
#define EXAMPLE_JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define EXAMPLE_CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define PLAN_JOB "3f1c2b7a-9d4e-4a8b-8c6d-1e2f3a4b5c6d"
#define JSON_JOB "5d2e8f4a-1b3c-4d5e-8f6a-7b8c9d0e1f2a"
#define FAILS_JOB "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
#define UNHANDLED_JOB "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b7c"
#define E2E_CONTRACT "7a9e5c1d-2b3f-4c8a-9d0e-6f1a2b3c4d5e"

/* The default config's noop binding, as `jobexec plugins` lists it. */
#define NOOP_TYPES                                                           \
    "capability_enable capability_disable capability_add capability_remove " \
    "configuration_change unknown"

/* The same, as a YAML flow sequence for configs. */
#define NOOP_TYPES_YAML                                                      \
    "[capability_enable, capability_disable, capability_add, "               \
    "capability_remove, configuration_change, unknown]"

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    tu_proc p;      /* the last command run */
    json_t *doc;    /* the last document parsed */
    json_t *rec;    /* the last evidence record parsed */
    char *dir;      /* a temp folder, removed afterwards */
    char *keep[16]; /* strings freed afterwards */
    size_t n_keep;
} fixture;

int fx_setup(void **state);
int fx_teardown(void **state);
/* An entry of main()'s tests[] with that fixture. */
#define TEST(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

/* Takes ownership of s (which must not be NULL) until the teardown. */
char *fx_keep(fixture *f, char *s);
/* A formatted string, kept by the fixture. */
char *fx_printf(fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The test's temp folder, made on first use. */
const char *fx_dir(fixture *f);

/* ---- running the binary ------------------------------------------------- */

/* Runs argv with stdin_text (NULL: /dev/null); the result is in f->p. */
void fx_run(fixture *f, const char *stdin_text,
            const char *const *argv);

/* Runs the uninstalled jobexec with the given arguments; the result is in
 * f->p. */
#define JOBEXEC(f, stdin_text, ...)                                          \
    fx_run((f), (stdin_text),                                                \
           (const char *const[]){TU_JOBEXEC, __VA_ARGS__, NULL})

/* Where the child's standard output goes. */
typedef enum out_mode { OUT_PIPE, OUT_DEV_FULL, OUT_CLOSED } out_mode;

/*
 * tu_run with more control: standard input is /dev/null, standard output a
 * pipe, /dev/full or closed (mode), and envp (NULL: ours) the environment.
 * p->out is "" unless mode is OUT_PIPE.
 */
void spawn_ex(tu_proc *p, const char *const *argv, char *const *envp,
              out_mode mode);
/* spawn_ex() into f->p. */
void fx_spawn(fixture *f, const char *const *argv, char *const *envp,
              out_mode mode);
/* Runs argv with standard error a terminal (where `run` prints its
 * summary) and standard output /dev/null; p->err is what the terminal
 * received. */
void fx_spawn_tty(fixture *f, const char *const *argv);

/* ---- assertions --------------------------------------------------------- */

/* Usage errors: exit 2, nothing on stdout, exactly `err` on stderr. */
void assert_usage_error(const tu_proc *p, const char *err);
/* Whether s ends with suffix, starts with prefix; how many newlines it
 * holds. */
int ends_with(const char *s, const char *suffix);
int starts_with(const char *s, const char *prefix);
size_t count_lines(const char *s);
/* The main help text naming config as the default, or, with config NULL,
 * whatever the configured sysconfdir is. */
void assert_main_usage(const char *out, const char *config);
/* The last run's stdout must be exactly one JSON object (jansson refuses
 * trailing text).  Owned by f. */
json_t *fx_doc(fixture *f);
/* A member of obj, which must be a string, an integer. */
const char *doc_string(const json_t *obj, const char *key);
json_int_t doc_int(const json_t *obj, const char *key);
/* The evidence document's fixed shape: status, reason, summary, one result
 * per executed step (indexes from 0; only the last may have failed),
 * health, timing, version. */
void assert_doc(const json_t *doc, const char *job_id,
                const char *status, const char *reason,
                size_t n_results, size_t n_failed);
/* The last run's stderr ends with its summary line, "jobexec: job ID
 * STATUS: S/N steps succeeded in T s - REASON": checks that it is one
 * line naming job_id and status, cuts it off f->p.err, and returns what
 * came before it. */
const char *fx_cut_summary(fixture *f, const char *job_id,
                           const char *status);
/* The last run completed: exit 0, its summary alone on stderr, a COMPLETED
 * document.  Returns the document (owned by f). */
json_t *assert_completed(fixture *f, const char *job_id,
                         size_t n_steps);
/* A config binding the default step types to noop, with an evidence log
 * in the test's folder; *log receives the log's path. */
const char *write_log_config(fixture *f, const char **log);
/* Every line of the log is one record of job_id, seq counting from 0 per
 * job, events as a 3-step job produces them, jobs back to back. */
void assert_log_records(fixture *f, const char *path,
                        const char *job_id, size_t n_jobs);

#endif
