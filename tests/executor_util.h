/*
 * executor_util.h - what the test_executor_* suites share: the in-process
 * handler (whose step type says what it does) and what it saw, a fixture
 * holding a run's evidence document, executors from config text, plans of
 * (index, type) steps, reading the document, and the configs of the
 * shipped plugins.
 */
#ifndef JX_TEST_EXECUTOR_UTIL_H
#define JX_TEST_EXECUTOR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

/* What text_edges sets under one key: quotes, backslashes, control
 * characters, DEL and multi-byte UTF-8, each written as jansson would. */
#define ESC_KEY "esc\"\\\n"
#define ESC_VALUE "tab\t\x01\x7f \xc3\xa9 \xe2\x82\xac"

#define HEAD "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\n"

/* ---- what the in-process handlers saw ----------------------------------- */

#define MAX_CALLS 64

/* One test runs at a time: the handlers below report here. */
typedef struct executor_seen {
    int64_t order[MAX_CALLS]; /* step_index of each execute, in call order */
    size_t n_calls;
    size_t n_observe;
    int observe_fails;
    /* What the probe handler read through the host table. */
    char job_id[64], contract_id[64], tenant_id[64], executed_by[64];
    char started_at[64];
    int64_t index, timeout;
    char type[64], target[64], params_json[256];
    size_t n_params;
    char keys[8][16];
    int key_past_end_is_null;
    char s_value[64];
    int s_of_int_is_null;
    int64_t i_value;
    int i_rc, i_of_string_rc, i_missing_rc;
    int b_value, b_rc;
    double d_value, d_of_int;
    int d_rc, d_of_int_rc;
    char j_value[128];
    int j_missing_is_null;
    int64_t time_left_ms;
    int cancelled;
    int out_rc[8]; /* the typed handler's out_* return codes */
    /* What on_progress received. */
    size_t n_progress;
    double fractions[8];
    char messages[8][32];
    int64_t progress_index[8];
    char progress_job[8][64];
    void *progress_user;
} executor_seen;

/* Cleared by fx_setup(). */
extern executor_seen seen;

/* Copies src (NULL: "(null)") into dst, cut to len. */
void copy_text(char *dst, size_t len, const char *src);

/* The in-process handler's step types ("rec" and what each test needs):
 * make_executor() registers it. */
extern const char *const inproc_types[];

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    char *doc_text;
    size_t doc_len;
    json_t *doc;
    jx_error err;
} fixture;

int fx_setup(void **state);
int fx_teardown(void **state);
/* Frees the run: result, document, plan. */
void drop_run(fixture *f);

/* An executor from config text (NULL: none) plus the in-process handler. */
void make_executor(fixture *f, const char *config_text);
/* Parses plan_text into f->plan. */
void parse_plan(fixture *f, const char *plan_text);
/* Runs the plan already parsed, capturing the evidence document. */
void run_parsed(fixture *f, jx_run_options *opts);
/* parse_plan() and run_parsed() without options. */
void run_plan(fixture *f, const char *plan_text);

/* ---- reading the document ----------------------------------------------- */

/* A member of object; the test fails when there is none, or when it is
 * not of the type asked for. */
json_t *get(const json_t *object, const char *key);
const char *get_str(const json_t *object, const char *key);
json_int_t get_int(const json_t *object, const char *key);
/* The document's step_results, and result i of them. */
json_t *results(const fixture *f);
json_t *result_at(const fixture *f, size_t i);
/* ISO 8601, UTC, microseconds, Python's "+00:00" suffix. */
void assert_iso_utc(const char *s);
/* The summary's counts, in the document and the result. */
void assert_summary(const fixture *f, json_int_t executed,
                    json_int_t succeeded, json_int_t failed);
/* The final status and reason, in the result and the document. */
void assert_final(const fixture *f, jx_job_status status,
                  const char *status_name, const char *reason);
/* v equals the JSON text expected_text. */
void assert_json_text(const json_t *v, const char *expected_text);

/* ---- configs ------------------------------------------------------------ */

#define CONFIG_NOOP                                                           \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: noop\n"                                                        \
    "    step_types: [capability_enable, capability_disable]\n"

#define CONFIG_BOOM                                                           \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: fail\n"                                                        \
    "    step_types: [bad]\n"                                                 \
    "    config: {error_message: \"Boom\"}\n"

#define CONFIG_FAIL_DEFAULT                                                   \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: fail\n"                                                        \
    "    step_types: [bad]\n"

#define CONFIG_HEALTH                                                         \
    "plugin_dir: " TU_PLUGINS "\n"                                            \
    "plugins:\n"                                                              \
    "  - path: noop\n"                                                        \
    "    step_types: [capability_enable]\n"                                   \
    "  - path: health_static\n"                                               \
    "    config:\n"                                                           \
    "      snapshot: {status: healthy, nodes: 3, ratio: 0.5,\n"               \
    "                 zones: [a, b], degraded: false}\n"                      \
    "health:\n"                                                               \
    "  observer: health_static\n"

#define SNAPSHOT_JSON                                                         \
    "{\"status\":\"healthy\",\"nodes\":3,\"ratio\":0.5,"                      \
    "\"zones\":[\"a\",\"b\"],\"degraded\":false}"

/* A plan text of the given (index, type) pairs. */
char *plan_of(size_t n, const int64_t *indexes,
              const char *const *types);
/* plan_of(), parsed and run. */
void run_steps(fixture *f, size_t n, const int64_t *indexes,
               const char *const *types);

#endif
