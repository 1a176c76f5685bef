/*
 * secrets_util.h - what the test_secrets_* suites share: plans with a
 * secret parameter, what the record, log and progress callbacks saw, a
 * fixture for either isolation mode (echo's sink file in a folder an
 * isolated runner can reach), executors with the echo fixture plugin,
 * runs with every sink, and asserting where a secret shows and where not.
 */
#ifndef JX_TEST_SECRETS_UTIL_H
#define JX_TEST_SECRETS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define NAME "plan.yaml"

#define SECRET "hunter2-S3cr3t"
#define PLAIN "visible-Value-42"
#define REDACTED "[REDACTED]"

#define ECHO_SO TU_FIXTURES "/echo.so"

/* The head of every plan here; its first step starts on line 4, column 5. */
#define HEAD "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\nsteps:\n"
#define HEAD2 "job_id: " TU_JOB2 "\ncontract_id: " TU_CONTRACT "\nsteps:\n"

/* One echo step with a secret and a plain parameter (and extra ones). */
#define SECRET_STEP(extra)                                                    \
    "  - step_index: 0\n"                                                     \
    "    step_type: echo\n"                                                   \
    "    parameters: {password: \"" SECRET "\", note: \"" PLAIN "\"" extra    \
    "}\n"                                                                     \
    "    secret_parameters: [password]\n"

/* ---- what the callbacks saw -------------------------------------------- */

#define MAX_SEEN 32

typedef struct seen_log {
    int level;
    char *job_id; /* NULL when none was given */
    int64_t step_index;
    char *message;
} seen_log;

typedef struct seen_progress {
    int64_t step_index;
    double fraction;
    char *message; /* NULL when none was given */
} seen_progress;

/* One test runs at a time; the log handler is process-wide. */
typedef struct secrets_seen {
    char *records[MAX_SEEN];
    size_t n_records;
    seen_log logs[MAX_SEEN];
    size_t n_logs;
    seen_progress progress[MAX_SEEN];
    size_t n_progress;
} secrets_seen;

/* Filled by run() and the log handler fx_setup() installs. */
extern secrets_seen seen;

/* Frees and forgets what seen holds. */
void seen_clear(void);

/* ---- per-test state ----------------------------------------------------- */

enum { INPROC = 0, ISOLATED = 1 };
/* The prestates of the two modes. */
extern const int inproc_mode;
extern const int isolated_mode;

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    int isolated;
    char *dir;
    char *log_path;  /* the evidence log */
    char *sink_path; /* what echo really received */
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    FILE *doc_fp; /* the evidence document, in memory */
    char *doc;
    size_t doc_len;
    char *text; /* a file read back */
    size_t text_len;
    json_t *json; /* a document or record parsed */
    tu_proc p;
    jx_error err;
} fixture;

/* The fixture of every test; the prestate (&inproc_mode, &isolated_mode
 * or NULL) sets f->isolated. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* ---- helpers ------------------------------------------------------------ */

/* An executor on the config of the library tests: an evidence log, echo
 * with a sink (and, isolated, copying its parameters to stderr), and
 * runner_extra appended to the runner section. */
void make_executor_with(fixture *f, const char *runner_extra);
void make_executor(fixture *f);
/* Parses text as the plan f->plan. */
void parse_plan(fixture *f, const char *text);
/* Runs the plan with every sink: records, progress, the document. */
void run(fixture *f);
/* Reads a whole file into f->text (bytes, NUL-terminated for convenience). */
void read_file(fixture *f, const char *path);
/* Asserts that the bytes hold no copy of secret. */
void assert_lacks(const char *what, const char *bytes, size_t len,
                  const char *secret);
/* Asserts that the bytes hold needle. */
void assert_has(const char *what, const char *bytes, size_t len,
                const char *needle);
/* Counts the non-overlapping copies of needle in s. */
size_t count_of(const char *s, const char *needle);
/* Asserts that got equals the JSON text expected. */
void assert_json_equal(const json_t *got, const char *expected);
/* The record of the given event among the captured ones, parsed into
 * f->json. */
json_t *record(fixture *f, const char *event);
/* The evidence document, parsed into f->json. */
json_t *document(fixture *f);
/* Asserts that no captured record, log or progress message, the document
 * or the evidence log shows secret. */
void assert_nowhere(fixture *f, const char *secret);
/* Log message i: a warning of JOB's step 0 saying message. */
void assert_log(size_t i, const char *message);
/* Progress report i: step 0 saying message. */
void assert_progress(size_t i, const char *message);

/* ---- entries of the tests[] of main() ----------------------------------- */

/* Each run test twice: in process, and in a jobexec-runner process. */
#define BOTH(t)                                                               \
    {#t, t, fx_setup, fx_teardown, (void *)&inproc_mode},                     \
        {#t "_isolated", t, fx_setup, fx_teardown, (void *)&isolated_mode}
#define ONE(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

#endif
