/*
 * fixture.h - what the suites set up the same way: the ids their plans
 * use, configs and executors made from text, plans of numbered steps and
 * their runs, the in-process "rec" handler, a job's objects and a temp
 * folder to tear down, and the hashes an evidence chain is checked with.
 * Built into tests/libtestutil.la with testutil.c.
 *
 * The functions that can fail the test do so with cmocka's fail_msg(),
 * naming what failed ("config: ...", "plan: ...").  Whatever they hand
 * out is the caller's; each says how it is freed.
 */
#ifndef JX_TEST_FIXTURE_H
#define JX_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <jobexec/jobexec.h>

/* ---- ids ---------------------------------------------------------------- */

#define TU_CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define TU_JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define TU_JOB2 "3d5c8e1a-9f2b-4c7d-8e6f-1a2b3c4d5e6f"
/* A well-formed job_id that no plan here uses: nothing runs or logs it. */
#define TU_NIL_JOB "00000000-0000-4000-8000-000000000000"
/* The final_reason of a job whose steps all completed. */
#define TU_ALL_DONE "All steps completed successfully"

/* ---- set-up and teardown ------------------------------------------------ */

/* A fresh temp folder in *dir and, when log_path is not NULL, the path
 * DIR/evidence.jsonl (not created) in *log_path.  0, or -1 with both left
 * NULL.  Free them with tu_temp_free(*dir) and free(*log_path). */
int tu_temp_log(char **dir, char **log_path);

/* Removes the folder dir and everything in it, then frees dir (a string
 * from tu_mkdtemp() or tu_temp_log()).  NULL is allowed. */
void tu_temp_free(char *dir);

/* Frees what a job left, in this order, each pointer set to NULL: the
 * result, the plan, the executor, the config.  Any argument may be NULL
 * (nothing of that kind to free), and so may what it points to. */
void tu_drop_job(jx_result **res, jx_plan **plan, jx_executor **ex,
                 jx_config **cfg);

/* ---- configs and executors ---------------------------------------------- */

/* Formats a config text and parses it as the file `name`, relative plugin
 * paths under plugin_dir when the text sets no plugin_dir (NULL: the
 * installed default).  The text is freed before returning; *cfg is the
 * caller's (jx_config_free()).  Returns jx_config_parse's code. */
int tu_config_parsef(jx_config **cfg, jx_error *err, const char *name,
                     const char *plugin_dir, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same, failing the test with "config: MESSAGE" when the text is
 * refused. */
void tu_configf(jx_config **cfg, jx_error *err, const char *name,
                const char *plugin_dir, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* jx_executor_new(cfg) into *ex (cfg may be NULL and stays the caller's),
 * then handler (NULL: none) registered in process.  Fails the test with
 * "executor: MESSAGE" or "add_handler: MESSAGE"; *ex is set before the
 * handler is added, so that the caller's teardown frees it either way
 * (jx_executor_free()). */
void tu_executor(const jx_config *cfg, const step_handler_v1 *handler,
                 jx_executor **ex, jx_error *err);

/* ---- plans and runs ----------------------------------------------------- */

/* The text of a plan: "job_id: JOB_ID" (none when job_id is NULL: each
 * parse makes one up), contract TU_CONTRACT, and n steps
 * "  - {step_index: I, step_type: TYPE}" for I from 0, of type odd_type for
 * I == odd_index (-1: none) and of type `type` otherwise.  malloc'd: free()
 * it; NULL when out of memory.  Asserts nothing: children use it too. */
char *tu_plan_text(const char *job_id, size_t n, const char *type,
                   int64_t odd_index, const char *odd_type);

/* Frees *plan, then parses text as "plan.yaml" into it (the caller's,
 * jx_plan_free()); fails the test with "plan: MESSAGE". */
void tu_plan(const char *text, jx_plan **plan, jx_error *err);

/* tu_plan() of tu_plan_text(job_id, n, type, odd_index, odd_type). */
void tu_plan_steps(jx_plan **plan, jx_error *err, const char *job_id,
                   size_t n, const char *type, int64_t odd_index,
                   const char *odd_type);

/* Frees *res, then runs plan on ex into it (the caller's,
 * jx_result_free()); fails the test with "run: MESSAGE" when the job
 * could not run.  opts may be NULL. */
void tu_run_job(jx_executor *ex, const jx_plan *plan,
                const jx_run_options *opts, jx_result **res, jx_error *err);

/* A NUL-terminated copy of the record's JSON, for a record callback to
 * keep.  malloc'd: free() it; NULL when out of memory. */
char *tu_record_copy(const jx_record *rec);

/* ---- the "rec" handler -------------------------------------------------- */

/* An in-process handler named "rec" (version 1.0.0, not thread-safe) for
 * the step types rec and fail.  Every step outputs {"index": STEP_INDEX};
 * a "fail" step then fails with the error "refused by the target".  Static
 * data: register it with tu_executor() or jx_executor_add_handler(). */
extern const step_handler_v1 tu_rec_handler;

/* Called by tu_rec_handler first, for each step, when not NULL: a suite's
 * own bookkeeping.  NULL until a suite sets it; a suite that does sets it
 * in its setup. */
extern void (*tu_rec_hook)(const jx_host_v1 *host, const jx_step *step);

/* ---- evidence chains (libsodium; fixture_chain.c) ----------------------- */

/* The size of a SHA-256 in lower-case hex, with its NUL. */
#define TU_SHA256_HEX_SIZE 65

/* The SHA-256 of len bytes of data, in hex, computed with libsodium
 * (independently of the core's own).  The program must link libsodium and
 * have called sodium_init(). */
void tu_sha256_hex(const void *data, size_t len,
                   char out[TU_SHA256_HEX_SIZE]);

/* The prev of a job's first record: the SHA-256 of "jobexec:chain:v1:"
 * followed by the job_id, in hex. */
void tu_chain_genesis(const char *job_id, char out[TU_SHA256_HEX_SIZE]);

#endif
