/*
 * plugin_util.h - what the suites of the shipped plugins (registry, exec)
 * share: a temp folder, an executor on a config naming the built plugins,
 * runs whose evidence document is parsed, and reading it back.
 */
#ifndef JX_TEST_PLUGIN_UTIL_H
#define JX_TEST_PLUGIN_UTIL_H

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

typedef struct pfix {
    char *dir;         /* the test's temp folder */
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    json_t *doc;       /* the last run's evidence document */
    char *doc_text;
    size_t doc_len;
    jx_error err;
} pfix;

int pf_setup(void **state);
int pf_teardown(void **state);
#define PTEST(name) cmocka_unit_test_setup_teardown(name, pf_setup, pf_teardown)

/* A path in the test's folder; malloc'd, kept until the next call. */
const char *pf_path(pfix *f, const char *name);

/* Parses the config (printf-style; relative plugin paths under the built
 * plugins) and opens an executor on it, replacing f's; fails the test
 * when either is refused. */
void pf_executor(pfix *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, returning the code and leaving the message in f->err. */
int pf_executor_rc(pfix *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses the plan text (contract TU_CONTRACT prepended) and runs it; the
 * document is in f->doc.  Returns the job's status. */
jx_job_status pf_run(pfix *f, const char *steps_yaml);

/* step_results[i] of the last document, and its output (NULL when null). */
json_t *pf_step(pfix *f, size_t i);
json_t *pf_output(pfix *f, size_t i);
/* A member that must be a string. */
const char *pf_str(json_t *obj, const char *key);
/* Asserts that obj's compact JSON, keys sorted, is want. */
void pf_assert_json(json_t *obj, const char *want);

#endif
