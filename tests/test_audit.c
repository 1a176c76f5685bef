/*
 * test_audit.c - the audit trail: its events for completed, failed,
 * cancelled and scope-refused runs, their fields (payload_hash the plan's,
 * a secret in tenant_id redacted,
 * result_hash the document's SHA-256), the file and the callback getting
 * the same lines, chains verified and sealed with the evidence key, every
 * kind of tampering caught by the evidence verifier, a refusing sink
 * stopping the job before its steps, and the config's refusals.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define MAX_SEEN 16

typedef struct fix {
    char *dir, *audit, *key;
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
    char *doc;
    size_t doc_len;
    char *seen[MAX_SEEN]; /* lines the callback got */
    size_t n_seen;
    int refuse;           /* the callback refuses the first event */
} fix;

static int on_audit(const char *json, size_t len, void *user)
{
    fix *f = user;

    if (f->refuse)
        return -1;
    if (f->n_seen < MAX_SEEN)
        f->seen[f->n_seen++] = strndup(json, len);
    return 0;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL || sodium_init() < 0)
        return -1;
    if (asprintf(&f->audit, "%s/audit.jsonl", f->dir) < 0 ||
        asprintf(&f->key, "%s/evidence.key", f->dir) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;

    for (size_t i = 0; i < f->n_seen; i++)
        free(f->seen[i]);
    free(f->doc);
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    free(f->audit);
    free(f->key);
    tu_temp_free(f->dir);
    free(f);
    return 0;
}

/* An executor with the rec handler, the audit log (and, signed, the key
 * and an evidence log, which a key needs), and maybe a scope store. */
static void open_executor(fix *f, int signed_, int scopes)
{
    char extra[1024] = "";
    char key_id[17];

    if (signed_) {
        if (jx_keygen(f->key, key_id, &f->err) != 0)
            fail_msg("keygen: %s", f->err.message);
        snprintf(extra, sizeof extra,
                 "evidence: {log: %s/evidence.jsonl, signing_key: %s}\n",
                 f->dir, f->key);
    }
    if (scopes)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "scopes: {db: %s/scopes.db}\n", f->dir);
    tu_configf(&f->cfg, &f->err, "jobexec.yaml", NULL,
               "audit: {log: %s, handler: worker-7}\n%s", f->audit, extra);
    tu_executor(f->cfg, &tu_rec_handler, &f->ex, &f->err);
}

static jx_job_status run(fix *f, const char *types, const char *scope)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    char text[1024];
    FILE *fp;

    snprintf(text, sizeof text,
             "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT
             "\ntenant_id: acme\nsteps:\n");
    for (size_t i = 0; types[i] != '\0'; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "  - {step_index: %zu, step_type: %s}\n", i,
                 types[i] == 'f' ? "fail" : "rec");
    tu_plan(text, &f->plan, &f->err);
    free(f->doc);
    fp = open_memstream(&f->doc, &f->doc_len);
    opts.document = fp;
    opts.on_audit = on_audit;
    opts.user = f;
    if (scope != NULL) {
        opts.scope_id = scope;
        opts.incident_id = "INC-1";
        opts.action = "restart";
    }
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    fclose(fp);
    return jx_result_status(f->res);
}

/* The audit file's lines (kept: free with free_lines). */
static size_t read_lines(fix *f, char **lines, size_t max)
{
    char *text = tu_read(f->audit), *save = NULL, *line;
    size_t n = 0;

    if (text == NULL)
        return 0;
    for (line = strtok_r(text, "\n", &save); line != NULL && n < max;
         line = strtok_r(NULL, "\n", &save))
        lines[n++] = strdup(line);
    free(text);
    return n;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
}

static json_t *field(json_t *ev, const char *key)
{
    return json_object_get(ev, key);
}

static void verify(fix *f, const char *pubkey, jx_verify_summary *sum)
{
    jx_verify_options vo = {pubkey, NULL, NULL, NULL};

    if (jx_evidence_verify(f->audit, &vo, sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
}

static void test_completed_run(void **state)
{
    static const char *const types[] = {"job_created", "job_started",
                                        "job_completed"};
    fix *f = *state;
    char *lines[8], hex[65];
    size_t n;
    jx_verify_summary sum;
    json_t *doc;

    open_executor(f, 0, 0);
    assert_int_equal(run(f, "rr", NULL), JX_JOB_COMPLETED);
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 3);
    doc = json_loads(f->doc, 0, NULL);
    tu_sha256_hex(f->doc, f->doc_len, hex);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_loads(lines[i], 0, NULL);
        assert_non_null(ev);
        assert_string_equal(json_string_value(field(ev, "event_type")),
                            types[i]);
        assert_string_equal(json_string_value(field(ev, "job_id")), TU_JOB);
        assert_string_equal(json_string_value(field(ev, "tenant_id")),
                            "acme");
        assert_string_equal(json_string_value(field(ev, "handler")),
                            "worker-7");
        assert_int_equal(json_integer_value(field(ev, "attempt_number")), 1);
        assert_int_equal(strlen(json_string_value(field(ev, "event_id"))), 36);
        assert_int_equal(strlen(json_string_value(field(ev,
                                                        "integrity_hash"))),
                         64);
        assert_string_equal(json_string_value(field(ev, "previous_event_hash")),
                            json_string_value(field(ev, "prev")));
        /* The plan as received, never the plan itself. */
        assert_string_equal(json_string_value(field(ev, "payload_hash")),
                            json_string_value(field(doc, "plan_sha256")));
        assert_true(json_is_null(field(ev, "error")));
        if (i < 2) {
            assert_true(json_is_null(field(ev, "result_hash")));
            assert_true(json_is_null(field(ev, "duration_ms")));
        } else {
            assert_string_equal(json_string_value(field(ev, "result_hash")),
                                hex);
            assert_true(json_real_value(field(ev, "duration_ms")) >= 0);
            assert_non_null(field(ev, "seal"));
        }
        /* The callback got the very same line. */
        assert_string_equal(f->seen[i], lines[i]);
        json_decref(ev);
    }
    json_decref(doc);
    free_lines(lines, n);
    verify(f, NULL, &sum);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(sum.valid, 1);
}

/* A secret the tenant_id holds is redacted in every event, as in the
 * evidence. */
static void test_tenant_secret_redacted(void **state)
{
    fix *f = *state;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    char *lines[8], *text;
    size_t n;

    open_executor(f, 0, 0);
    tu_plan("job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT
            "\ntenant_id: acme-S3cr3t-eu\nsteps:\n"
            "  - {step_index: 0, step_type: rec, parameters: {token: S3cr3t},"
            " secret_parameters: [token]}\n",
            &f->plan, &f->err);
    opts.on_audit = on_audit;
    opts.user = f;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_loads(lines[i], 0, NULL);
        assert_string_equal(json_string_value(field(ev, "tenant_id")),
                            "acme-[REDACTED]-eu");
        json_decref(ev);
    }
    free_lines(lines, n);
    text = tu_read(f->audit);
    assert_null(strstr(text, "S3cr3t"));
    free(text);
}

static void test_failed_and_cancelled(void **state)
{
    fix *f = *state;
    char *lines[8];
    size_t n;
    json_t *ev;
    jx_verify_summary sum;

    open_executor(f, 0, 0);
    assert_int_equal(run(f, "rfr", NULL), JX_JOB_FAILED);
    jx_executor_cancel(f->ex, NULL); /* no job running: nothing happens */
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 3);
    ev = json_loads(lines[2], 0, NULL);
    assert_string_equal(json_string_value(field(ev, "event_type")),
                        "job_failed");
    assert_string_equal(json_string_value(field(ev, "error")),
                        "Step 1 failed: refused by the target");
    json_decref(ev);
    free_lines(lines, n);
    verify(f, NULL, &sum);
    assert_int_equal(sum.valid, 1);
}

static void test_scope_rejected(void **state)
{
    fix *f = *state;
    char *lines[8];
    size_t n;
    json_t *ev;
    jx_verify_summary sum;

    open_executor(f, 1, 1);
    assert_int_equal(run(f, "r", TU_NIL_JOB), JX_JOB_FAILED);
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 2);
    ev = json_loads(lines[1], 0, NULL);
    assert_string_equal(json_string_value(field(ev, "event_type")),
                        "scope_rejected");
    assert_string_equal(json_string_value(field(ev, "error")),
                        "Scope gate rejected: not found");
    assert_non_null(json_object_get(field(ev, "seal"), "sig"));
    json_decref(ev);
    free_lines(lines, n);
    verify(f, NULL, &sum);
    assert_int_equal(sum.valid, 1);
}

static int cancel_on_started(const char *json, size_t len, void *user)
{
    fix *f = user;

    if (strstr(json, "\"event_type\":\"job_started\"") != NULL)
        jx_executor_cancel(f->ex, NULL);
    return on_audit(json, len, user);
}

static void test_cancelled_run(void **state)
{
    fix *f = *state;
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    char *lines[8];
    size_t n;

    open_executor(f, 0, 0);
    tu_plan("job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT "\nsteps:\n"
            "  - {step_index: 0, step_type: rec}\n",
            &f->plan, &f->err);
    opts.on_audit = cancel_on_started;
    opts.user = f;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res), JX_JOB_CANCELLED);
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 3);
    assert_non_null(strstr(lines[2], "\"event_type\":\"job_cancelled\""));
    assert_non_null(strstr(lines[2], "\"error\":\"Cancelled before step "
                                     "0\""));
    /* No document was asked for: nothing to hash. */
    assert_non_null(strstr(lines[2], "\"result_hash\":null"));
    free_lines(lines, n);
}

/* Each kind of change is caught, as in an evidence log. */
static void test_tampering_detected(void **state)
{
    fix *f = *state;
    char *lines[8], *pub, *text, *changed;
    size_t n;
    jx_verify_summary sum;
    FILE *fp;

    open_executor(f, 1, 0);
    run(f, "r", NULL);
    if (asprintf(&pub, "%s.pub", f->key) < 0)
        fail();
    verify(f, pub, &sum);
    assert_int_equal(sum.valid, 1);
    n = read_lines(f, lines, 8);
    assert_int_equal(n, 3);
    /* A changed field of the middle event. */
    changed = strdup(lines[1]);
    text = strstr(changed, "worker-7");
    assert_non_null(text);
    text[0] = 'W';
    fp = fopen(f->audit, "w");
    fprintf(fp, "%s\n%s\n%s\n", lines[0], changed, lines[2]);
    fclose(fp);
    free(changed);
    verify(f, pub, &sum);
    assert_int_equal(sum.tampered, 1);
    /* A dropped event. */
    fp = fopen(f->audit, "w");
    fprintf(fp, "%s\n%s\n", lines[0], lines[2]);
    fclose(fp);
    verify(f, pub, &sum);
    assert_int_equal(sum.tampered, 1);
    /* The last event lost: the run reads as interrupted. */
    fp = fopen(f->audit, "w");
    fprintf(fp, "%s\n%s\n", lines[0], lines[1]);
    fclose(fp);
    verify(f, pub, &sum);
    assert_int_equal(sum.incomplete, 1);
    assert_int_equal(sum.tampered, 0);
    free_lines(lines, n);
    free(pub);
}

static void test_integrity_hash_checked(void **state)
{
    fix *f = *state;
    char *lines[8], *text;
    size_t n;
    jx_verify_summary sum;
    jx_verify_options vo = {NULL, NULL, NULL, NULL};
    FILE *fp;

    open_executor(f, 0, 0);
    run(f, "r", NULL);
    n = read_lines(f, lines, 8);
    /* The first event's integrity_hash, changed consistently with the
     * chain is impossible: change it alone. */
    text = strstr(lines[0], "\"integrity_hash\":\"");
    assert_non_null(text);
    text += strlen("\"integrity_hash\":\"");
    text[0] = text[0] == '0' ? '1' : '0';
    fp = fopen(f->audit, "w");
    fprintf(fp, "%s\n", lines[0]);
    fclose(fp);
    assert_int_equal(jx_evidence_verify(f->audit, &vo, &sum, &f->err), 0);
    assert_int_equal(sum.tampered, 1);
    free_lines(lines, n);
}

static void test_refusing_sink_stops_job(void **state)
{
    fix *f = *state;

    open_executor(f, 0, 0);
    f->refuse = 1;
    assert_int_equal(run(f, "rr", NULL), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res),
                        "audit write failed: the audit callback refused an "
                        "event");
    assert_int_equal(jx_result_steps_executed(f->res), 0);
}

static void test_config_refusals(void **state)
{
    fix *f = *state;

    assert_int_equal(tu_config_parsef(&f->cfg, &f->err, "c.yaml", NULL,
                                      "audit: {log: audit.jsonl}\n"),
                     JX_ECONFIG);
    assert_string_equal(f->err.message, "c.yaml:1:14: audit.log "
                                        "'audit.jsonl' must be an absolute "
                                        "path");
    assert_int_equal(tu_config_parsef(&f->cfg, &f->err, "c.yaml", NULL,
                                      "audit: {syslog: maybe}\n"),
                     JX_ECONFIG);
    assert_string_equal(f->err.message, "c.yaml:1:17: audit.syslog must be "
                                        "true or false");
    assert_int_equal(tu_config_parsef(&f->cfg, &f->err, "c.yaml", NULL,
                                      "audit: {file: x}\n"),
                     JX_ECONFIG);
    assert_non_null(strstr(f->err.message, "unknown key 'file' in audit"));
    /* syslog alone is a sink too. */
    assert_int_equal(tu_config_parsef(&f->cfg, &f->err, "c.yaml", NULL,
                                      "audit: {syslog: true}\n"),
                     0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_completed_run),
        T(test_tenant_secret_redacted),
        T(test_failed_and_cancelled),
        T(test_scope_rejected),
        T(test_cancelled_run),
        T(test_tampering_detected),
        T(test_integrity_hash_checked),
        T(test_refusing_sink_stops_job),
        T(test_config_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
