/*
 * seal_util.h - what the test_seal_* suites share: the RFC 8032 test
 * vectors, key files written and read back, a fixture with a log and
 * strings freed at teardown, executors that seal with a key and the "rec"
 * handler, the seal of a job read back and checked with libsodium, and
 * jx_evidence_verify()'s reports.
 */
#ifndef JX_TEST_SEAL_UTIL_H
#define JX_TEST_SEAL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <sodium.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define CONFIG_NAME "keys.yaml"

#define SECRET_TAG "jobexec-ed25519-secret-key "
#define PUBLIC_TAG "jobexec-ed25519-public-key "
#define SEED_HEX_LEN 64

/* The log line of job_finished for a job of n steps (1-based). */
#define FINISHED_LINE(n) (2 * (n) + 2)

/* ---- RFC 8032 section 7.1 ---------------------------------------------- */

typedef struct rfc_vector {
    const char *name;
    const char *seed; /* SECRET KEY */
    const char *pk;   /* PUBLIC KEY */
    const char *msg;  /* MESSAGE, hex */
    const char *sig;  /* SIGNATURE */
} rfc_vector;

/* Its test vectors 1, 2, 3, 1024 and SHA(abc). */
extern const rfc_vector rfc_test1;
extern const rfc_vector rfc_test2;
extern const rfc_vector rfc_test3;
extern const rfc_vector rfc_test1024;
extern const rfc_vector rfc_test_sha_abc;

/* Decodes hex that the test itself typed; a typo fails loudly. */
size_t unhex(const char *hex, unsigned char *bin, size_t max);
/* The key id the seal must name: 16 hex digits of SHA-256(public key). */
void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
               char out[17]);

/* ---- what jx_evidence_verify reported ----------------------------------- */

#define MAX_REPORTS 4

typedef struct seen_report {
    char job_id[40];
    jx_verdict verdict;
    uint64_t records;
    unsigned long bad_line;
    char reason[512];
    int torn, signed_seal, signature_checked;
} seen_report;

typedef struct seen_reports {
    seen_report r[MAX_REPORTS];
    size_t n;
} seen_reports;

/* What on_job collected: verify_log() clears it, fx_setup() too. */
extern seen_reports reports;

/* The on_job callback of jx_verify_options: adds to reports. */
int on_job(const jx_job_report *r, void *user);

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    const rfc_vector *vec; /* the vector of a vector test, else NULL */
    char *dir;
    char *log_path;
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
    mode_t old_umask;
    char **kept; /* strings freed at teardown, even after a failure */
    size_t n_kept;
} fixture;

/* The fixture of every test (the prestate: the vector of a vector
 * test): a temp folder, its log path, the umask. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Drops the executor and the config (an executor may be rebuilt within a
 * test with another key). */
void drop_executor(fixture *f);

/* ---- files -------------------------------------------------------------- */

/* Hands p to the fixture, which frees it at teardown. */
char *keep(fixture *f, char *p);
char *fmt(fixture *f, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* dir/name, freed by the fixture. */
char *path_in(fixture *f, const char *name);
/* Writes text to dir/name with mode; the path is freed by the fixture. */
char *write_file(fixture *f, const char *name, const char *text,
                 mode_t mode);
/* Writes a key file: "TAG HEX\n". */
char *write_key(fixture *f, const char *name, const char *tag,
                const char *hex, mode_t mode);
/* Line n (from 1) of a file without its newline; malloc'd. */
char *line_of(const char *path, size_t n);
/* Replaces the one occurrence of old in the file with new. */
void replace_in_file(const char *path, const char *old,
                     const char *new);
/* Reads the seed of a secret key file and the key of a public key file,
 * checking that each is exactly one line "TAG HEX\n". */
void read_key_file(const char *path, const char *tag,
                   unsigned char out[32]);

/* ---- config, executor, jobs --------------------------------------------- */

/* Parses an evidence section: line 1 "evidence:", line 2 the log (when
 * with_log), then signing_key (when given), its value at column 16. */
int parse_config(fixture *f, const char *signing_key, int with_log);
/* An executor logging to f->log_path, sealing with signing_key (NULL: an
 * unsigned seal), with the in-process handler. */
void make_executor(fixture *f, const char *signing_key);
/* Runs job_id with n steps of type "rec" (the last "fail" when failing). */
void run_job(fixture *f, const char *job_id, size_t n, int failing);

/* ---- the seal, recomputed ----------------------------------------------- */

typedef struct seal {
    int64_t seq;
    char head[TU_SHA256_HEX_SIZE];
    char key_id[17];
    char sig_b64[128];
    unsigned char sig[crypto_sign_BYTES];
    char msg[256]; /* what the signature covers */
    size_t msg_len;
} seal;

/* Reads job_finished's seal from line and checks what needs no key: the
 * seal is the record's last member, head is SHA-256 of the record without
 * it, and the signed message is built as documented. */
void read_seal(const char *line, const char *job_id, seal *s);
/* Checks line n of the log as the signed seal of job_id by pk; when sk is
 * given, the signature must be exactly the one sk makes (Ed25519 is
 * deterministic). */
void check_signed_seal(const char *log_path, size_t n,
                       const char *job_id, const unsigned char pk[32],
                       const unsigned char *sk, int64_t want_seq);
/* Verifies the log with pubkey (NULL: none) into reports. */
int verify_log(const char *log_path, const char *pubkey,
               jx_verify_summary *sum, jx_error *err);
/* Asserts that the log verifies with pubkey: every one of n_jobs jobs
 * valid with its signature checked. */
void assert_all_valid(fixture *f, const char *pubkey, size_t n_jobs);

/* Runs fn(f, path) in a child killed after 5 seconds, so that a call
 * that blocks fails the test instead of hanging the suite.  fn writes its
 * verdict to dir/child.out, which is returned (malloc'd). */
char *in_child_with_deadline(fixture *f, const char *path,
                             void (*fn)(fixture *, const char *,
                                        FILE *),
                             const char *what);

#endif
