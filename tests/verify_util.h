/*
 * verify_util.h - what the test_verify_* suites share: a fixture with a
 * signing key pair and a log, logs written by running real jobs (the noop
 * plugin), the lines of a log and copies of it put back together, the
 * reports of jx_evidence_verify() and `jobexec evidence verify|show`.
 */
#ifndef JX_TEST_VERIFY_UTIL_H
#define JX_TEST_VERIFY_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define ID_LEN 36
#define MAX_REPORTS 32

/* A job of n steps writes job_started, step_started and step_finished per
 * step, and job_finished. */
#define LINES_OF(n) (2 * (n) + 2)

typedef struct fixture {
    char *dir;
    char *key;  /* secret key, for evidence.signing_key */
    char *pub;  /* its public key */
    char key_id[17];
    char *log;  /* dir/log.jsonl */
    char *copy; /* dir/copy.jsonl: the damaged log */
} fixture;

/* The fixture of every test: setup() makes the folder and the key pair,
 * teardown() removes them. */
int setup(void **state);
int teardown(void **state);

/* dir/name, malloc'd: free() it. */
char *path_in(const char *dir, const char *name);

/* ---- writing logs by running jobs -------------------------------------- */

/* An executor logging to log, sealing with key (NULL: unsigned seals). */
jx_executor *make_executor(const char *log, const char *key);

/* Runs a job of n_steps (as job_id, or a new one when NULL); id gets the
 * job_id it ran as. */
void run_job_as(jx_executor *ex, size_t n_steps, const char *job_id,
                char id[ID_LEN + 1]);
void run_job(jx_executor *ex, size_t n_steps, char id[ID_LEN + 1]);

/* Writes n_jobs jobs of n_steps each, one after the other, to log. */
void make_log(const char *log, const char *key, size_t n_jobs,
              size_t n_steps, char ids[][ID_LEN + 1]);

/* ---- lines of a file ---------------------------------------------------- */

typedef struct lines {
    char *text;  /* the whole file */
    char **v;    /* v[i] points into text: line i + 1, with its newline */
    size_t *len; /* its length, newline included */
    size_t n;
} lines;

/* Reads path into l (free_lines() frees it). */
void read_lines(const char *path, lines *l);
void free_lines(lines *l);
/* Writes len bytes of data to path. */
void write_bytes(const char *path, const char *data, size_t len);
/* Writes the lines of l named by order (1-based line numbers; 0 ends the
 * list) to path. */
void write_order(const char *path, const lines *l, const size_t *order);

/* ---- verifying ---------------------------------------------------------- */

typedef struct report {
    char job_id[ID_LEN + 1];
    jx_verdict verdict;
    uint64_t records;
    unsigned long first_line, bad_line;
    char reason[512];
    int torn, signed_seal, signature_checked;
    int has_final;
    char final_status[32];
    unsigned run, runs;
} report;

typedef struct reports {
    report r[MAX_REPORTS];
    size_t n;
} reports;

/* The on_job callback of jx_verify_options: adds a report to user, a
 * reports. */
int collect(const jx_job_report *r, void *user);
/* Verifies path (with pub, for job when not NULL) and expects it read. */
void verify(const char *path, const char *pub, const char *job,
            reports *g, jx_verify_summary *sum);
/* A VALID job report, with its signature checked or not. */
void assert_valid(const report *r, const char *id, uint64_t records,
                  unsigned long first_line, int checked);
/* A TAMPERED job report, first bad at bad_line for reason. */
void assert_tampered(const report *r, const char *id,
                     unsigned long bad_line, const char *reason);
/* The summary's counts. */
void assert_counts(const jx_verify_summary *s, size_t jobs,
                   size_t valid, size_t incomplete, size_t tampered);

/* The reasons of an INCOMPLETE job. */
extern const char *const INTERRUPTED;
extern const char *const TORN;

/* A formatted string, malloc'd: free() it. */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* "the SHA-256 of line k does not match the prev of line k + 1, ..." */
char *hash_reason(unsigned long k);
/* "seq SEQ where EXPECTED was expected: ..." */
char *seq_reason(unsigned long seq, unsigned long expected);

/* ---- the CLI ------------------------------------------------------------ */

/* Runs `jobexec evidence CMD FILE [--pubkey KEY] [--job ID]`. */
void cli(tu_proc *p, const char *cmd, const char *file,
         const char *pub, const char *job);
/* Expects exit status and exactly stdout, with nothing on stderr. */
void cli_expect(const char *cmd, const char *file, const char *pub,
                const char *job, int status, const char *out);

#endif
