/*
 * evidence_util.h - what the test_evidence_* suites share: the records a
 * callback saw and the calls of the "rec" handler, a fixture with a log,
 * executors logging there, plans of "rec" steps, and checking that lines
 * form one job's chain (with libsodium, independently of the core).
 */
#ifndef JX_TEST_EVIDENCE_UTIL_H
#define JX_TEST_EVIDENCE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define MAX_RECORDS 64

/* ---- what the sinks and handlers saw ----------------------------------- */

typedef struct seen_record {
    jx_record_kind kind;
    int64_t step_index;
    uint64_t seq;
    char *json; /* a copy of the record's bytes */
    size_t json_len;
    int accepted; /* what the callback returned: 1 when kept */
    /* step_result's offset in json (-1: NULL), its length, and
     * step_completed, as the record gave them. */
    long result_at;
    size_t result_len;
    int completed;
} seen_record;

/* One test runs at a time: the callbacks and handlers report here. */
typedef struct evidence_seen {
    seen_record records[MAX_RECORDS];
    size_t n_records;
    int refuse_at_step_started; /* refuse the Nth step_started (1-based) */
    int refuse_job_started;
    size_t n_step_started;
    int64_t calls[MAX_RECORDS]; /* step_index of each execute */
    size_t n_calls;
    /* The log as the handler found it when it was called. */
    const char *log_path;
    int own_record_on_disk[MAX_RECORDS];
} evidence_seen;

/* Cleared by fx_setup(); the record copies are freed by fx_teardown(). */
extern evidence_seen seen;

/* A record callback: copies each record into seen, refusing where seen
 * says. */
int on_record(const jx_record *rec, void *user);

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char *log_path;
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    char *log_text;
    jx_error err;
} fixture;

/* The fixture of every test: a temp folder with the log path, seen
 * cleared and tu_rec_handler's calls recorded into it. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* f->cfg: a config that logs to log_path. */
void parse_log_config(fixture *f, const char *log_path);
/* An executor logging to log_path (NULL: no log) with the in-process
 * handler. */
void make_executor(fixture *f, const char *log_path);
/* A plan of job_id with steps 0..n-1 of type "rec", except fail_at (-1:
 * none) which is of type "fail". */
void parse_plan(fixture *f, const char *job_id, size_t n,
                int64_t fail_at);
/* Runs f->plan into f->res, with on_record as the callback or none. */
void run(fixture *f, int with_callback);

/* ---- checking a chain --------------------------------------------------- */

/* Checks that lines[0..n) are one job's whole chain: seq 0..n-1, each
 * prev the hash of the line before, every line JSON with event and job_id,
 * events in the order job_started (step_started step_finished)*
 * job_finished.  Returns the number of steps the chain records. */
size_t verify_chain(char *const *lines, size_t n, const char *job_id);
/* Reads the log into f->log_text and splits it into lines (every line
 * ends with a newline); returns how many. */
size_t read_log(fixture *f, char **lines, size_t max);
/* A record's line, parsed; json_decref() it. */
json_t *parse_record(const char *line);

#endif
