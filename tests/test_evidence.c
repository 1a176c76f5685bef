/*
 * test_evidence.c - the evidence trail (EXEC-002): the JSON Lines log named
 * by the config and the record callback of jx_run_options.  Records come in
 * order (job_started, then step_started and step_finished per step, then
 * job_finished), carry seq from 0 and prev, the SHA-256 of the previous
 * line's exact bytes (of "jobexec:chain:v1:" + job_id for the first), and
 * reach the log before the step's handler runs.  A sink that refuses a
 * record stops the job: evidence is never lost silently.
 *
 * The chain is checked with libsodium, independently of the core's own
 * SHA-256.
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

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "testutil.h"

#define JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define JOB2 "3d5c8e1a-9f2b-4c7d-8e6f-1a2b3c4d5e6f"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"

#define MAX_RECORDS 64

/* ---- what the sinks and handlers saw ----------------------------------- */

typedef struct seen_record {
    jx_record_kind kind;
    int64_t step_index;
    uint64_t seq;
    char *json; /* a copy of the record's bytes */
    size_t json_len;
    int accepted; /* what the callback returned: 1 when kept */
} seen_record;

/* One test runs at a time: the callbacks and handlers report here. */
static struct {
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
} seen;

static int on_record(const jx_record *rec, void *user)
{
    seen_record *r;

    (void)user;
    if (seen.n_records >= MAX_RECORDS)
        return 0;
    r = &seen.records[seen.n_records++];
    r->kind = rec->kind;
    r->step_index = rec->step_index;
    r->seq = rec->seq;
    r->json_len = rec->json_len;
    r->json = malloc(rec->json_len + 1);
    if (r->json != NULL) {
        memcpy(r->json, rec->json, rec->json_len);
        r->json[rec->json_len] = '\0';
    }
    r->accepted = 1;
    if (rec->kind == JX_RECORD_JOB_STARTED && seen.refuse_job_started) {
        r->accepted = 0;
        return -1;
    }
    if (rec->kind == JX_RECORD_STEP_STARTED &&
        ++seen.n_step_started == (size_t)seen.refuse_at_step_started) {
        r->accepted = 0;
        return -1;
    }
    return 0;
}

/* Non-zero when the last line of the log is the step_started record of
 * step index (checked from inside the step's handler). */
static int last_line_is_step_started(const char *path, int64_t index)
{
    char *text = tu_read(path);
    char *end, *start;
    json_t *rec;
    int ok;

    if (text == NULL)
        return 0;
    end = text + strlen(text);
    if (end == text || end[-1] != '\n') {
        free(text);
        return 0;
    }
    end[-1] = '\0';
    start = strrchr(text, '\n');
    start = start != NULL ? start + 1 : text;
    rec = json_loads(start, 0, NULL);
    ok = rec != NULL &&
         json_is_string(json_object_get(rec, "event")) &&
         strcmp(json_string_value(json_object_get(rec, "event")),
                "step_started") == 0 &&
         json_integer_value(json_object_get(rec, "step_index")) == index;
    json_decref(rec);
    free(text);
    return ok;
}

static int rec_execute(void *state, const jx_host_v1 *host,
                       const jx_context *ctx, const jx_step *step,
                       jx_output *out)
{
    size_t i = seen.n_calls++;
    int64_t index = host->step_index(step);

    (void)state;
    (void)ctx;
    if (i < MAX_RECORDS) {
        seen.calls[i] = index;
        if (seen.log_path != NULL)
            seen.own_record_on_disk[i] =
                last_line_is_step_started(seen.log_path, index);
    }
    host->out_int(out, "index", index);
    if (strcmp(host->step_type(step), "fail") == 0) {
        host->out_error(out, "refused by the target");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static const char *const rec_types[] = {"rec", "fail", NULL};

static const step_handler_v1 rec_handler = {
    JX_STEP_HANDLER_HEADER, "rec", "1.0.0", rec_types, 0, NULL, NULL,
    rec_execute, NULL,
};

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

static int fx_setup(void **state)
{
    fixture *f;

    memset(&seen, 0, sizeof seen);
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL ||
        asprintf(&f->log_path, "%s/evidence.jsonl", f->dir) < 0) {
        if (f != NULL)
            free(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < seen.n_records && i < MAX_RECORDS; i++)
        free(seen.records[i].json);
    jx_result_free(f->res);
    jx_plan_free(f->plan);
    jx_executor_free(f->ex);
    jx_config_free(f->cfg);
    free(f->log_text);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->log_path);
    free(f);
    return 0;
}

/* f->cfg: a config that logs to log_path. */
static void parse_log_config(fixture *f, const char *log_path)
{
    char *text = NULL;

    assert_true(asprintf(&text, "evidence: {log: \"%s\"}\n", log_path) > 0);
    if (jx_config_parse(text, strlen(text), "test.yaml", TU_PLUGINS, &f->cfg,
                        &f->err) != 0) {
        free(text);
        fail_msg("config: %s", f->err.message);
    }
    free(text);
}

/* An executor logging to log_path (NULL: no log) with the in-process
 * handler. */
static void make_executor(fixture *f, const char *log_path)
{
    if (log_path != NULL)
        parse_log_config(f, log_path);
    if (jx_executor_new(f->cfg, &f->ex, &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
    if (jx_executor_add_handler(f->ex, &rec_handler, NULL, NULL, &f->err) !=
        0)
        fail_msg("add_handler: %s", f->err.message);
}

/* A plan of job_id with steps 0..n-1 of type "rec", except fail_at (-1:
 * none) which is of type "fail". */
static void parse_plan(fixture *f, const char *job_id, size_t n,
                       int64_t fail_at)
{
    char text[4096];
    size_t len;

    jx_plan_free(f->plan);
    f->plan = NULL;
    len = (size_t)snprintf(text, sizeof text,
                           "job_id: %s\ncontract_id: " CONTRACT "\nsteps:\n",
                           job_id);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "  - {step_index: %zu, step_type: %s}\n", i,
                                (int64_t)i == fail_at ? "fail" : "rec");
    if (jx_plan_parse(text, len, "plan.yaml", &f->plan, &f->err) != 0)
        fail_msg("plan: %s", f->err.message);
}

static void run(fixture *f, int with_callback)
{
    jx_run_options opts = {.on_record = with_callback ? on_record : NULL};

    jx_result_free(f->res);
    f->res = NULL;
    if (jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err) != 0)
        fail_msg("run: %s", f->err.message);
}

/* ---- checking a chain --------------------------------------------------- */

static void hex(const unsigned char digest[crypto_hash_sha256_BYTES],
                char out[2 * crypto_hash_sha256_BYTES + 1])
{
    sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, digest,
                   crypto_hash_sha256_BYTES);
}

/* The prev of a job's first record. */
static void genesis(const char *job_id,
                    char out[2 * crypto_hash_sha256_BYTES + 1])
{
    static const char domain[] = "jobexec:chain:v1:";
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)domain,
                              sizeof domain - 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)job_id,
                              strlen(job_id));
    crypto_hash_sha256_final(&st, digest);
    hex(digest, out);
}

static const char *const event_names[] = {"job_started", "step_started",
                                          "step_finished", "job_finished"};

/* Checks that lines[0..n) are one job's whole chain: seq 0..n-1, each
 * prev the hash of the line before, every line JSON with event and job_id,
 * events in the order job_started (step_started step_finished)*
 * job_finished.  Returns the number of steps the chain records. */
static size_t verify_chain(char *const *lines, size_t n, const char *job_id)
{
    char prev[2 * crypto_hash_sha256_BYTES + 1];
    unsigned char digest[crypto_hash_sha256_BYTES];

    assert_true(n >= 2);
    assert_true((n - 2) % 2 == 0);
    genesis(job_id, prev);
    for (size_t i = 0; i < n; i++) {
        json_error_t jerr;
        json_t *rec = json_loads(lines[i], 0, &jerr);
        const char *expected_event =
            i == 0 ? event_names[0]
                   : i == n - 1 ? event_names[3]
                                : event_names[(i - 1) % 2 == 0 ? 1 : 2];

        if (rec == NULL)
            fail_msg("record %zu is not JSON (%s): %s", i, jerr.text,
                     lines[i]);
        assert_int_equal(json_integer_value(json_object_get(rec, "seq")), i);
        assert_true(json_is_integer(json_object_get(rec, "seq")));
        assert_non_null(json_string_value(json_object_get(rec, "prev")));
        assert_string_equal(json_string_value(json_object_get(rec, "prev")),
                            prev);
        assert_non_null(json_string_value(json_object_get(rec, "event")));
        assert_string_equal(json_string_value(json_object_get(rec, "event")),
                            expected_event);
        assert_non_null(json_string_value(json_object_get(rec, "job_id")));
        assert_string_equal(json_string_value(json_object_get(rec, "job_id")),
                            job_id);
        json_decref(rec);
        crypto_hash_sha256(digest, (const unsigned char *)lines[i],
                           strlen(lines[i]));
        hex(digest, prev);
    }
    return (n - 2) / 2;
}

/* Splits the log into lines (in place); every line ends with '\n'. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    char *p = text;

    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            fail_msg("the log ends in the middle of a line: '%s'", p);
        assert_true(n < max);
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

static size_t read_log(fixture *f, char **lines, size_t max)
{
    free(f->log_text);
    f->log_text = tu_read(f->log_path);
    assert_non_null(f->log_text);
    return split_lines(f->log_text, lines, max);
}

static json_t *parse_record(const char *line)
{
    json_t *rec = json_loads(line, 0, NULL);
    assert_non_null(rec);
    return rec;
}

/* ---- the record callback ------------------------------------------------ */

static void test_callback_records_in_order(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    static const jx_record_kind kinds[] = {
        JX_RECORD_JOB_STARTED,  JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_STEP_STARTED,
        JX_RECORD_STEP_FINISHED, JX_RECORD_JOB_FINISHED};
    static const int64_t indexes[] = {-1, 0, 0, 1, 1, 2, 2, -1};

    make_executor(f, NULL);
    parse_plan(f, JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_records, 8);
    for (size_t i = 0; i < 8; i++) {
        const seen_record *r = &seen.records[i];
        assert_int_equal(r->kind, kinds[i]);
        assert_int_equal(r->step_index, indexes[i]);
        assert_int_equal(r->seq, i);
        assert_non_null(r->json);
        assert_int_equal(strlen(r->json), r->json_len);
        assert_null(strchr(r->json, '\n'));
        lines[i] = r->json;
    }
    assert_int_equal(verify_chain(lines, 8, JOB), 3);
}

static void test_record_contents(void **state)
{
    fixture *f = *state;
    json_t *rec, *v;

    make_executor(f, NULL);
    parse_plan(f, JOB, 2, 1);
    run(f, 1);
    assert_int_equal(seen.n_records, 6);

    rec = parse_record(seen.records[0].json);
    assert_string_equal(json_string_value(json_object_get(rec, "contract_id")),
                        CONTRACT);
    assert_string_equal(
        json_string_value(json_object_get(rec, "executor_version")),
        jx_version());
    json_decref(rec);

    rec = parse_record(seen.records[1].json);
    assert_int_equal(json_integer_value(json_object_get(rec, "step_index")),
                     0);
    assert_string_equal(json_string_value(json_object_get(rec, "step_type")),
                        "rec");
    json_decref(rec);

    /* The failed step has its step_finished record too (EXEC-002). */
    rec = parse_record(seen.records[4].json);
    v = json_object_get(rec, "step");
    assert_true(json_is_object(v));
    assert_int_equal(json_integer_value(json_object_get(v, "step_index")), 1);
    assert_string_equal(json_string_value(json_object_get(v, "status")),
                        "FAILED");
    assert_string_equal(json_string_value(json_object_get(v, "error")),
                        "refused by the target");
    json_decref(rec);

    rec = parse_record(seen.records[5].json);
    assert_string_equal(json_string_value(json_object_get(rec, "final_status")),
                        "FAILED");
    assert_string_equal(json_string_value(json_object_get(rec, "final_reason")),
                        "Step 1 failed: refused by the target");
    v = json_object_get(rec, "execution_summary");
    assert_int_equal(json_integer_value(json_object_get(v, "steps_executed")),
                     2);
    assert_int_equal(json_integer_value(json_object_get(v, "steps_failed")),
                     1);
    json_decref(rec);
}

static void test_step_without_handler_has_records(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    static const char plan[] = "job_id: " JOB "\ncontract_id: " CONTRACT "\n"
                               "steps:\n"
                               "  - {step_index: 0, step_type: rec}\n"
                               "  - {step_index: 1, step_type: unknown}\n"
                               "  - {step_index: 2, step_type: rec}\n";
    json_t *rec;

    make_executor(f, NULL);
    assert_int_equal(
        jx_plan_parse(plan, strlen(plan), "plan.yaml", &f->plan, &f->err), 0);
    run(f, 1);
    assert_int_equal(seen.n_records, 6);
    for (size_t i = 0; i < 6; i++)
        lines[i] = seen.records[i].json;
    assert_int_equal(verify_chain(lines, 6, JOB), 2);
    rec = parse_record(seen.records[4].json);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rec, "step"),
                                          "error")),
        "No handler registered for step type: unknown");
    json_decref(rec);
}

/* ---- the log ------------------------------------------------------------ */

static void test_log_chain_verifies(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, JOB, 4, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 10);
    assert_int_equal(verify_chain(lines, n, JOB), 4);
    /* The log holds exactly the bytes the callback was given. */
    assert_int_equal(seen.n_records, 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(lines[i], seen.records[i].json);
}

static void test_log_of_failed_job(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, JOB, 4, 1);
    run(f, 0);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    n = read_log(f, lines, MAX_RECORDS);
    /* Steps 0 and 1 started and finished; 2 and 3 never started. */
    assert_int_equal(n, 6);
    assert_int_equal(verify_chain(lines, n, JOB), 2);
}

static void test_step_started_on_disk_before_handler(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    make_executor(f, f->log_path);
    seen.log_path = f->log_path;
    parse_plan(f, JOB, 3, -1);
    run(f, 0);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_calls, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(seen.calls[i], (int64_t)i);
        if (!seen.own_record_on_disk[i])
            fail_msg("step %zu ran before its step_started reached the log",
                     i);
    }
    assert_int_equal(verify_chain(lines, read_log(f, lines, MAX_RECORDS), JOB),
                     3);
}

static void test_two_jobs_in_one_log(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    size_t n;

    make_executor(f, f->log_path);
    parse_plan(f, JOB, 2, -1);
    run(f, 0);
    parse_plan(f, JOB2, 3, -1);
    run(f, 0);
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 6 + 8);
    /* Jobs run one after the other: two whole chains, one after the other,
     * each starting from its own job_id. */
    assert_int_equal(verify_chain(lines, 6, JOB), 2);
    assert_int_equal(verify_chain(lines + 6, 8, JOB2), 3);
}

static void test_log_appends_across_executors(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    make_executor(f, f->log_path);
    parse_plan(f, JOB, 1, -1);
    run(f, 0);
    /* A new executor (a restarted worker) appends; it never truncates. */
    jx_executor_free(f->ex);
    f->ex = NULL;
    jx_config_free(f->cfg);
    f->cfg = NULL;
    make_executor(f, f->log_path);
    parse_plan(f, JOB2, 1, -1);
    run(f, 0);
    assert_int_equal(read_log(f, lines, MAX_RECORDS), 8);
    assert_int_equal(verify_chain(lines, 4, JOB), 1);
    assert_int_equal(verify_chain(lines + 4, 4, JOB2), 1);
}

static void test_log_file_mode(void **state)
{
    fixture *f = *state;
    struct stat st;
    mode_t old = umask(0); /* the mode must not depend on the umask */

    make_executor(f, f->log_path);
    umask(old);
    assert_int_equal(stat(f->log_path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    /* Created at start-up, empty until a job runs. */
    assert_int_equal(st.st_size, 0);
}

static void test_log_path_is_folder(void **state)
{
    fixture *f = *state;
    char *text = NULL, *expected = NULL;
    int rc;

    assert_true(asprintf(&text, "evidence: {log: \"%s\"}\n", f->dir) > 0);
    rc = jx_config_parse(text, strlen(text), "test.yaml", TU_PLUGINS, &f->cfg,
                         &f->err);
    free(text);
    assert_int_equal(rc, 0);
    f->ex = (jx_executor *)&rc; /* must be reset to NULL */
    rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    assert_int_equal(rc, JX_ECONFIG);
    assert_null(f->ex);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_true(asprintf(&expected,
                         "test.yaml:1:17: evidence log '%s': cannot open: Is "
                         "a directory",
                         f->dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
}

static void test_unwritable_log_stops_job(void **state)
{
    fixture *f = *state;
    struct stat st;

    /* A log that opens but cannot take a byte (a full disk). */
    if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode))
        skip();
    make_executor(f, "/dev/full");
    parse_plan(f, JOB, 2, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: /dev/full: No space left on "
                        "device");
    /* The first handler never ran: its step_started is not on disk. */
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(jx_result_steps_executed(f->res), 0);
}

/* ---- a sink that refuses ------------------------------------------------ */

static void test_refusing_callback_stops_job(void **state)
{
    fixture *f = *state;

    seen.refuse_at_step_started = 2; /* step 1's */
    make_executor(f, NULL);
    parse_plan(f, JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_status_name(f->res), "FAILED");
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "step_started #3");
    /* Step 1's handler never ran, nor anything after it. */
    assert_int_equal(seen.n_calls, 1);
    assert_int_equal(seen.calls[0], 0);
    assert_int_equal(jx_result_steps_executed(f->res), 1);
    assert_int_equal(jx_result_steps_succeeded(f->res), 1);
    assert_int_equal(jx_result_steps_failed(f->res), 0);
    /* job_started, step 0, the refused step_started, job_finished. */
    assert_int_equal(seen.n_records, 5);
    assert_int_equal(seen.records[3].kind, JX_RECORD_STEP_STARTED);
    assert_false(seen.records[3].accepted);
    assert_int_equal(seen.records[4].kind, JX_RECORD_JOB_FINISHED);
}

static void test_refused_record_keeps_log_chain(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];
    char *kept[MAX_RECORDS];
    size_t n, n_kept = 0;
    json_t *last;

    seen.refuse_at_step_started = 2;
    make_executor(f, f->log_path);
    parse_plan(f, JOB, 3, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_int_equal(seen.n_calls, 1);
    /* The records the sink kept form a chain of their own. */
    for (size_t i = 0; i < seen.n_records; i++)
        if (seen.records[i].accepted)
            kept[n_kept++] = seen.records[i].json;
    assert_int_equal(n_kept, 4);
    assert_int_equal(verify_chain(kept, n_kept, JOB), 1);
    /* The log holds the same chain: no record of a step that never
     * started, no seq twice. */
    n = read_log(f, lines, MAX_RECORDS);
    assert_int_equal(n, 4);
    assert_int_equal(verify_chain(lines, n, JOB), 1);
    last = parse_record(lines[n - 1]);
    assert_string_equal(json_string_value(json_object_get(last, "final_reason")),
                        "evidence write failed: the record sink refused "
                        "step_started #3");
    json_decref(last);
}

static void test_refusing_first_step_started_runs_nothing(void **state)
{
    fixture *f = *state;

    seen.refuse_at_step_started = 1; /* the first step's */
    make_executor(f, NULL);
    parse_plan(f, JOB, 2, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(jx_result_steps_executed(f->res), 0);
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "step_started #1");
}

/* Nothing of the job was kept, so there is nothing to seal: a lone
 * job_finished would be a job that verify must call tampered. */
static void test_refused_job_started_leaves_no_record(void **state)
{
    fixture *f = *state;
    char *lines[MAX_RECORDS];

    seen.refuse_job_started = 1;
    make_executor(f, f->log_path);
    parse_plan(f, JOB, 2, -1);
    run(f, 1);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "evidence write failed: the record sink refused "
                        "job_started #0");
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(seen.n_records, 1);
    assert_int_equal(seen.records[0].kind, JX_RECORD_JOB_STARTED);
    assert_int_equal(read_log(f, lines, MAX_RECORDS), 0);
}

/* ---- sharing the file; checking without touching it --------------------- */

/* The head of a record whose append is still going on. */
static const char half_record[] = "{\"seq\":4,\"prev\":\"9f86d0";

static void append_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "a");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void test_live_writers_last_line_is_left_alone(void **state)
{
    fixture *f = *state;
    jx_executor *other = NULL;
    char *before, *during, *after;

    make_executor(f, f->log_path);
    parse_plan(f, JOB, 1, -1);
    run(f, 0);
    /* While f->ex has the file open, a line without its newline may be
     * its record being appended right now: a second writer starting up
     * must not take it for a crash's torn line. */
    append_text(f->log_path, half_record);
    before = tu_read(f->log_path);
    assert_non_null(before);
    if (jx_executor_new(f->cfg, &other, &f->err) != 0)
        fail_msg("second executor: %s", f->err.message);
    during = tu_read(f->log_path);
    assert_non_null(during);
    assert_string_equal(during, before);
    jx_executor_free(other);
    /* Once nobody has the file open, the line is a crash's leftover: the
     * next writer cuts it and nothing else. */
    jx_executor_free(f->ex);
    f->ex = NULL;
    if (jx_executor_new(f->cfg, &other, &f->err) != 0)
        fail_msg("third executor: %s", f->err.message);
    after = tu_read(f->log_path);
    assert_non_null(after);
    assert_int_equal(strlen(after), strlen(before) - strlen(half_record));
    assert_memory_equal(after, before, strlen(after));
    jx_executor_free(other);
    free(before);
    free(during);
    free(after);
}

static void test_check_only_creates_no_log(void **state)
{
    fixture *f = *state;
    struct stat st;

    parse_log_config(f, f->log_path);
    if (jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex, &f->err) !=
        0)
        fail_msg("check-only executor: %s", f->err.message);
    assert_int_equal(stat(f->log_path, &st), -1);
    assert_int_equal(jx_executor_add_handler(f->ex, &rec_handler, NULL, NULL,
                                             &f->err),
                     0);
    parse_plan(f, JOB, 2, -1);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
    /* It checks; it never runs. */
    assert_int_equal(jx_executor_run(f->ex, f->plan, NULL, &f->res, &f->err),
                     JX_EINVAL);
    assert_null(f->res);
    assert_string_equal(f->err.message,
                        "jx_executor_run: the executor was opened with "
                        "JX_EXECUTOR_CHECK_ONLY and runs no job");
    assert_int_equal(seen.n_calls, 0);
    assert_int_equal(stat(f->log_path, &st), -1);
}

static void test_check_only_leaves_torn_line(void **state)
{
    fixture *f = *state;
    char *after;

    append_text(f->log_path, half_record);
    parse_log_config(f, f->log_path);
    if (jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex, &f->err) !=
        0)
        fail_msg("check-only executor: %s", f->err.message);
    after = tu_read(f->log_path);
    assert_non_null(after);
    assert_string_equal(after, half_record);
    free(after);
}

static void test_check_only_needs_the_logs_folder(void **state)
{
    fixture *f = *state;
    char *path = NULL, *expected = NULL;

    assert_true(asprintf(&path, "%s/no-such-folder/evidence.jsonl", f->dir) >
                0);
    parse_log_config(f, path);
    f->ex = (jx_executor *)&path; /* must be reset to NULL */
    assert_int_equal(jx_executor_open(f->cfg, JX_EXECUTOR_CHECK_ONLY, &f->ex,
                                      &f->err),
                     JX_ECONFIG);
    assert_null(f->ex);
    assert_true(asprintf(&expected,
                         "test.yaml:1:17: evidence log '%s': cannot be "
                         "created in "
                         "'%s/no-such-folder': No such file or directory",
                         path, f->dir) > 0);
    assert_string_equal(f->err.message, expected);
    free(expected);
    free(path);
}

static void test_unknown_open_flags_refused(void **state)
{
    fixture *f = *state;

    f->ex = (jx_executor *)f; /* must be reset to NULL */
    assert_int_equal(jx_executor_open(NULL, 1u << 5, &f->ex, &f->err),
                     JX_EINVAL);
    assert_null(f->ex);
    assert_string_equal(f->err.message,
                        "jx_executor_open: unknown flags 0x20");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_callback_records_in_order),
        T(test_record_contents),
        T(test_step_without_handler_has_records),
        T(test_log_chain_verifies),
        T(test_log_of_failed_job),
        T(test_step_started_on_disk_before_handler),
        T(test_two_jobs_in_one_log),
        T(test_log_appends_across_executors),
        T(test_log_file_mode),
        T(test_log_path_is_folder),
        T(test_unwritable_log_stops_job),
        T(test_refusing_callback_stops_job),
        T(test_refused_record_keeps_log_chain),
        T(test_refused_job_started_leaves_no_record),
        T(test_refusing_first_step_started_runs_nothing),
        T(test_live_writers_last_line_is_left_alone),
        T(test_check_only_creates_no_log),
        T(test_check_only_leaves_torn_line),
        T(test_check_only_needs_the_logs_folder),
        T(test_unknown_open_flags_refused),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
