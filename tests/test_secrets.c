/*
 * test_secrets.c - secret parameters: the plan syntax and its refusals, and
 * redaction.  A handler receives the real value of a secret parameter;
 * everything the executor writes carries "[REDACTED]" in its place: step
 * output (values and keys), step errors and so final_reason, evidence
 * records, the evidence log and document, plugin log and progress messages,
 * check refusals, and an isolated plugin's stderr.  A chain of redacted
 * records still verifies.
 *
 * The fixture plugin tests/plugins/echo.so hands every parameter back
 * through every host service; its "sink" file shows what it really got.
 * Library tests run in both isolation modes (in process, and in a
 * jobexec-runner process).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "input/plan.h"
#include "testutil.h"

#define JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define JOB2 "3d5c8e1a-9f2b-4c7d-8e6f-1a2b3c4d5e6f"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define NAME "plan.yaml"

#define SECRET "hunter2-S3cr3t"
#define PLAIN "visible-Value-42"
#define REDACTED "[REDACTED]"

#define ECHO_SO TU_FIXTURES "/echo.so"
#define RUNNER TU_BUILDDIR "/jobexec-runner"

/* The head of every plan here; its first step starts on line 4, column 5. */
#define HEAD "job_id: " JOB "\ncontract_id: " CONTRACT "\nsteps:\n"
#define HEAD2 "job_id: " JOB2 "\ncontract_id: " CONTRACT "\nsteps:\n"

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
static struct {
    char *records[MAX_SEEN];
    size_t n_records;
    seen_log logs[MAX_SEEN];
    size_t n_logs;
    seen_progress progress[MAX_SEEN];
    size_t n_progress;
} seen;

static char *copy_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int on_record(const jx_record *rec, void *user)
{
    char *copy;

    (void)user;
    if (seen.n_records >= MAX_SEEN || (copy = malloc(rec->json_len + 1)) ==
                                          NULL)
        return -1;
    memcpy(copy, rec->json, rec->json_len);
    copy[rec->json_len] = '\0';
    seen.records[seen.n_records++] = copy;
    return 0;
}

static void on_log(int level, const char *job_id, int64_t step_index,
                   const char *message, void *user)
{
    seen_log *l;

    (void)user;
    if (seen.n_logs >= MAX_SEEN)
        return;
    l = &seen.logs[seen.n_logs++];
    l->level = level;
    l->job_id = copy_or_null(job_id);
    l->step_index = step_index;
    l->message = copy_or_null(message);
}

static void on_progress(const char *job_id, int64_t step_index,
                        double fraction, const char *message, void *user)
{
    seen_progress *p;

    (void)job_id;
    (void)user;
    if (seen.n_progress >= MAX_SEEN)
        return;
    p = &seen.progress[seen.n_progress++];
    p->step_index = step_index;
    p->fraction = fraction;
    p->message = copy_or_null(message);
}

static void seen_clear(void)
{
    for (size_t i = 0; i < seen.n_records; i++)
        free(seen.records[i]);
    for (size_t i = 0; i < seen.n_logs; i++) {
        free(seen.logs[i].job_id);
        free(seen.logs[i].message);
    }
    for (size_t i = 0; i < seen.n_progress; i++)
        free(seen.progress[i].message);
    memset(&seen, 0, sizeof seen);
}

/* ---- per-test state ----------------------------------------------------- */

enum { INPROC = 0, ISOLATED = 1 };
static const int inproc_mode = INPROC;
static const int isolated_mode = ISOLATED;

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

static int fx_teardown(void **state);

static int fx_setup(void **state)
{
    const int *mode = *state;
    fixture *f = calloc(1, sizeof *f);
    int fd = -1;

    seen_clear();
    if (f == NULL)
        return -1;
    *state = f;
    f->isolated = mode != NULL && *mode == ISOLATED;
    jx_set_log_handler(on_log, NULL);
    /* Run as root, an isolated plugin runs as runner.user (nobody): let it
     * reach its sink, and nothing else, in the private folder. */
    if ((f->dir = tu_mkdtemp()) == NULL ||
        asprintf(&f->log_path, "%s/evidence.jsonl", f->dir) < 0 ||
        asprintf(&f->sink_path, "%s/sink.txt", f->dir) < 0 ||
        chmod(f->dir, 0711) != 0 ||
        (fd = open(f->sink_path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        fchmod(fd, 0666) != 0) {
        if (fd >= 0)
            close(fd);
        fx_teardown(state);
        return -1;
    }
    return close(fd) == 0 ? 0 : -1;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_set_log_handler(NULL, NULL);
    seen_clear();
    if (f->doc_fp != NULL)
        fclose(f->doc_fp);
    free(f->doc);
    free(f->text);
    json_decref(f->json);
    tu_proc_free(&f->p);
    jx_result_free(f->res);
    jx_plan_free(f->plan);
    jx_executor_free(f->ex);
    jx_config_free(f->cfg);
    if (f->dir != NULL)
        tu_rm_rf(f->dir);
    free(f->dir);
    free(f->log_path);
    free(f->sink_path);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* The config of the library tests: an evidence log, echo with a sink (and,
 * isolated, copying its parameters to stderr), and extra text appended to
 * the runner section. */
static char *config_text(const fixture *f, const char *runner_extra)
{
    char *text;

    if (asprintf(&text,
                 "evidence: {log: \"%s\"}\n"
                 "plugins:\n"
                 "  - path: " ECHO_SO "\n"
                 "    isolation: %s\n"
                 "    config: {sink: \"%s\", stderr: %s}\n"
                 "runner: {path: \"" RUNNER "\"%s}\n",
                 f->log_path, f->isolated ? "process" : "inproc",
                 f->sink_path, f->isolated ? "true" : "false",
                 runner_extra != NULL ? runner_extra : "") < 0)
        return NULL;
    return text;
}

static void make_executor_with(fixture *f, const char *runner_extra)
{
    char *text = config_text(f, runner_extra);
    int rc;

    assert_non_null(text);
    rc = jx_config_parse(text, strlen(text), "test.yaml", TU_PLUGINS, &f->cfg,
                         &f->err);
    free(text);
    if (rc != 0)
        fail_msg("config: %s", f->err.message);
    if (jx_executor_new(f->cfg, &f->ex, &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
}

static void make_executor(fixture *f)
{
    make_executor_with(f, NULL);
}

static void parse_plan(fixture *f, const char *text)
{
    jx_plan_free(f->plan);
    f->plan = NULL;
    if (jx_plan_parse(text, strlen(text), NAME, &f->plan, &f->err) != 0)
        fail_msg("plan: %s", f->err.message);
}

/* Runs the plan with every sink: records, progress, the document. */
static void run(fixture *f)
{
    jx_run_options opts = {on_record, on_progress, NULL, NULL};

    assert_null(f->doc_fp);
    free(f->doc); /* a previous run's */
    f->doc = NULL;
    f->doc_fp = open_memstream(&f->doc, &f->doc_len);
    assert_non_null(f->doc_fp);
    opts.document = f->doc_fp;
    jx_result_free(f->res);
    f->res = NULL;
    if (jx_executor_run(f->ex, f->plan, &opts, &f->res, &f->err) != 0)
        fail_msg("run: %s", f->err.message);
    assert_int_equal(fclose(f->doc_fp), 0);
    f->doc_fp = NULL;
}

/* Reads a whole file into f->text (bytes, NUL-terminated for convenience). */
static void read_file(fixture *f, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    FILE *mem;

    if (fp == NULL)
        fail_msg("cannot read %s", path);
    free(f->text);
    f->text = NULL;
    mem = open_memstream(&f->text, &f->text_len);
    assert_non_null(mem);
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(fp);
    assert_int_equal(fclose(mem), 0);
}

/* Asserts that the bytes hold no copy of secret. */
static void assert_lacks(const char *what, const char *bytes, size_t len,
                         const char *secret)
{
    const char *at = memmem(bytes, len, secret, strlen(secret));

    if (at != NULL)
        fail_msg("%s shows the secret '%s' at byte %zu: ...%.60s", what,
                 secret, (size_t)(at - bytes),
                 at - bytes > 20 ? at - 20 : bytes);
}

static void assert_has(const char *what, const char *bytes, size_t len,
                       const char *needle)
{
    if (memmem(bytes, len, needle, strlen(needle)) == NULL)
        fail_msg("%s lacks '%s': %.*s", what, needle, (int)len, bytes);
}

/* Counts the non-overlapping copies of needle in s. */
static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL;
         p += strlen(needle))
        n++;
    return n;
}

/* Asserts that got equals the JSON text expected. */
static void assert_json_equal(const json_t *got, const char *expected)
{
    json_t *want = json_loads(expected, JSON_DECODE_ANY, NULL);
    char *got_text = got != NULL ? json_dumps(got, JSON_COMPACT |
                                                       JSON_SORT_KEYS |
                                                       JSON_ENCODE_ANY)
                                 : NULL;
    int equal;

    assert_non_null(want);
    equal = got != NULL && json_equal(got, want);
    json_decref(want);
    if (!equal) {
        char message[2048];
        snprintf(message, sizeof message, "got %s, expected %s",
                 got_text != NULL ? got_text : "(nothing)", expected);
        free(got_text);
        fail_msg("%s", message);
    }
    free(got_text);
}

/* The record of the given event among the captured ones, parsed into
 * f->json. */
static json_t *record(fixture *f, const char *event)
{
    json_decref(f->json);
    f->json = NULL;
    for (size_t i = 0; i < seen.n_records; i++) {
        json_t *r = json_loads(seen.records[i], 0, NULL);
        const char *e = json_string_value(json_object_get(r, "event"));
        if (e != NULL && strcmp(e, event) == 0) {
            f->json = r;
            return r;
        }
        json_decref(r);
    }
    fail_msg("no %s record", event);
    return NULL;
}

/* The evidence document, parsed into f->json. */
static json_t *document(fixture *f)
{
    json_error_t jerr;

    json_decref(f->json);
    f->json = json_loadb(f->doc, f->doc_len, 0, &jerr);
    if (f->json == NULL)
        fail_msg("document is not JSON: %s: %.*s", jerr.text,
                 (int)f->doc_len, f->doc);
    return f->json;
}

/* Asserts that no captured record, log or progress message, the document
 * or the evidence log shows secret. */
static void assert_nowhere(fixture *f, const char *secret)
{
    for (size_t i = 0; i < seen.n_records; i++)
        assert_lacks("a record", seen.records[i], strlen(seen.records[i]),
                     secret);
    for (size_t i = 0; i < seen.n_logs; i++)
        if (seen.logs[i].message != NULL)
            assert_lacks("a log message", seen.logs[i].message,
                         strlen(seen.logs[i].message), secret);
    for (size_t i = 0; i < seen.n_progress; i++)
        if (seen.progress[i].message != NULL)
            assert_lacks("a progress message", seen.progress[i].message,
                         strlen(seen.progress[i].message), secret);
    assert_lacks("the document", f->doc, f->doc_len, secret);
    read_file(f, f->log_path);
    assert_lacks("the evidence log", f->text, f->text_len, secret);
}

static void assert_log(size_t i, const char *message)
{
    assert_true(i < seen.n_logs);
    assert_int_equal(seen.logs[i].level, JX_LOG_WARNING);
    assert_non_null(seen.logs[i].job_id);
    assert_string_equal(seen.logs[i].job_id, JOB);
    assert_int_equal(seen.logs[i].step_index, 0);
    assert_string_equal(seen.logs[i].message, message);
}

static void assert_progress(size_t i, const char *message)
{
    assert_true(i < seen.n_progress);
    assert_int_equal(seen.progress[i].step_index, 0);
    assert_non_null(seen.progress[i].message);
    assert_string_equal(seen.progress[i].message, message);
}

/* ---- plan syntax -------------------------------------------------------- */

static void test_plan_accepts_secret_parameters(void **state)
{
    fixture *f = *state;
    static const char text[] =
        HEAD SECRET_STEP("") "  - step_index: 1\n"
                             "    step_type: echo\n"
                             "    parameters: {token: \"tok-1\", k: 3}\n"
                             "    secret_parameters: [token]\n"
                             "  - step_index: 2\n"
                             "    step_type: echo\n"
                             "    parameters: {password: \"" SECRET "\"}\n"
                             "    secret_parameters: []\n";

    parse_plan(f, text);
    assert_int_equal(jx_plan_step_count(f->plan), 3);
    /* One value per secret, longest first; the repeat is kept once. */
    assert_int_equal(f->plan->n_secrets, 2);
    assert_string_equal(f->plan->secrets[0], SECRET);
    assert_string_equal(f->plan->secrets[1], "tok-1");
}

static void test_plan_without_secrets_has_none(void **state)
{
    fixture *f = *state;

    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {password: \"" SECRET "\"}\n");
    assert_int_equal(f->plan->n_secrets, 0);
}

/* Secrets are kept longest first whatever order the plan names them in,
 * so that one containing another is replaced whole. */
static void test_plan_orders_secrets_longest_first(void **state)
{
    fixture *f = *state;

    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {a: abc, b: xxabcxx, c: abcd}\n"
                       "    secret_parameters: [a, b, c]\n");
    assert_int_equal(f->plan->n_secrets, 3);
    assert_string_equal(f->plan->secrets[0], "xxabcxx");
    assert_string_equal(f->plan->secrets[1], "abcd");
    assert_string_equal(f->plan->secrets[2], "abc");
}

/* Asserts that the plan is refused with exactly message. */
static void plan_fails(const char *text, const char *message)
{
    jx_plan *plan = (jx_plan *)&plan; /* must be reset to NULL */
    jx_error err = {0, ""};
    int rc = jx_plan_parse(text, strlen(text), NAME, &plan, &err);

    if (rc == 0) {
        jx_plan_free(plan);
        fail_msg("plan accepted; expected: %s", message);
    }
    assert_int_equal(rc, JX_EPLAN);
    assert_int_equal(err.code, JX_EPLAN);
    assert_string_equal(err.message, message);
    assert_null(plan);
}

/* A step whose parameters hold every kind of value, then its
 * secret_parameters line (line 7: the value at column 24, a flow
 * sequence's first item at column 25). */
#define TYPED_STEP(secrets)                                                   \
    HEAD "  - step_index: 0\n"                                                \
         "    step_type: echo\n"                                              \
         "    parameters: {password: pw, n: 3, m: {a: 1}, l: [1], e: \"\","   \
         " b: true, z: null, q: \"3\"}\n"                                     \
         "    secret_parameters: " secrets "\n"

static void test_plan_refuses_unknown_secret(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("[nope]"),
               NAME ":7:25: secret_parameters names 'nope', which is not a "
                    "parameter of this step");
    /* The second item is the one named. */
    plan_fails(TYPED_STEP("[password, passwd]"),
               NAME ":7:35: secret_parameters names 'passwd', which is not "
                    "a parameter of this step");
    /* A number names nothing either (parameter names are text). */
    plan_fails(TYPED_STEP("[7]"),
               NAME ":7:25: secret_parameters names '7', which is not a "
                    "parameter of this step");
    /* Case matters. */
    plan_fails(TYPED_STEP("[Password]"),
               NAME ":7:25: secret_parameters names 'Password', which is "
                    "not a parameter of this step");
}

static void test_plan_refuses_secret_without_parameters(void **state)
{
    (void)state;
    plan_fails(HEAD "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    secret_parameters:\n"
                    "      - password\n",
               NAME ":7:9: secret_parameters names 'password', which is not "
                    "a parameter of this step");
}

static void test_plan_refuses_non_string_secret(void **state)
{
    static const struct {
        const char *secrets, *message;
    } cases[] = {
        {"[n]", NAME ":7:25: secret parameter 'n' must be a non-empty "
                "string"},
        {"[m]", NAME ":7:25: secret parameter 'm' must be a non-empty "
                "string"},
        {"[l]", NAME ":7:25: secret parameter 'l' must be a non-empty "
                "string"},
        {"[b]", NAME ":7:25: secret parameter 'b' must be a non-empty "
                "string"},
        {"[z]", NAME ":7:25: secret parameter 'z' must be a non-empty "
                "string"},
        {"[e]", NAME ":7:25: secret parameter 'e' must be a non-empty "
                "string"},
        {"[q, password, n]", NAME ":7:38: secret parameter 'n' must be a "
                             "non-empty string"},
    };
    char text[1024];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, TYPED_STEP("%s"), cases[i].secrets);
        plan_fails(text, cases[i].message);
    }
}

static void test_plan_refuses_secret_parameters_not_a_sequence(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("password"),
               NAME ":7:24: secret_parameters must be a sequence of "
                    "parameter names, found a scalar");
    plan_fails(TYPED_STEP("{password: true}"),
               NAME ":7:24: secret_parameters must be a sequence of "
                    "parameter names, found a mapping");
}

static void test_plan_refuses_secret_item_not_a_name(void **state)
{
    (void)state;
    plan_fails(TYPED_STEP("[{password: 1}]"),
               NAME ":7:25: secret_parameters must list parameter names, "
                    "found a mapping");
    plan_fails(TYPED_STEP("[password, [n]]"),
               NAME ":7:35: secret_parameters must list parameter names, "
                    "found a sequence");
}

/* The refusal names the step it is in: here the second one. */
static void test_plan_refusal_names_its_step(void **state)
{
    (void)state;
    plan_fails(HEAD SECRET_STEP("") "  - step_index: 1\n"
                                    "    step_type: echo\n"
                                    "    parameters: {token: 12345}\n"
                                    "    secret_parameters:\n"
                                    "      - token\n",
               NAME ":12:9: secret parameter 'token' must be a non-empty "
                    "string");
}

/* ---- the handler gets the real value ------------------------------------ */

static void test_handler_receives_real_secret(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    read_file(f, f->sink_path);
    assert_string_equal(f->text,
                        "password=" SECRET "\nnote=" PLAIN "\n");
}

/* A secret used as the target too: the handler gets it as it is, the
 * evidence shows it redacted. */
static void test_secret_as_target(void **state)
{
    fixture *f = *state;
    json_t *step;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    target: \"" SECRET "\"\n"
                       "    parameters: {password: \"" SECRET "\"}\n"
                       "    secret_parameters: [password]\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    read_file(f, f->sink_path);
    assert_string_equal(f->text,
                        "target=" SECRET "\npassword=" SECRET "\n");
    assert_nowhere(f, SECRET);
    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "target"), "\"" REDACTED "\"");
}

/* ---- redaction in a run ------------------------------------------------- */

static void test_run_redacts_everywhere(void **state)
{
    fixture *f = *state;
    json_t *step;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_string_equal(jx_result_reason(f->res),
                        "All steps completed successfully");
    assert_int_equal(seen.n_records, 4);
    assert_nowhere(f, SECRET);

    /* Output: the value and the key that were the secret are redacted;
     * the plain parameter is untouched. */
    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "status"), "\"COMPLETED\"");
    assert_json_equal(json_object_get(step, "output"),
                      "{\"password\":\"" REDACTED "\",\"" REDACTED
                      "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                      "\":\"note\"}");
    if (f->isolated) /* echo copied its parameters to stderr */
        assert_json_equal(json_object_get(step, "stderr"),
                          "\"echo: password=" REDACTED "\\necho: note=" PLAIN
                          "\\n\"");
    step = json_array_get(json_object_get(document(f), "step_results"), 0);
    assert_json_equal(json_object_get(step, "output"),
                      "{\"password\":\"" REDACTED "\",\"" REDACTED
                      "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                      "\":\"note\"}");

    /* The log holds the same records: the redacted output is in it. */
    read_file(f, f->log_path);
    assert_int_equal(tu_count_lines(f->log_path), 4);
    assert_int_equal(count_of(f->text, REDACTED), f->isolated ? 3 : 2);
    assert_has("the evidence log", f->text, f->text_len, PLAIN);

    /* Log and progress: one message per parameter, secret redacted. */
    assert_int_equal(seen.n_logs, 2);
    assert_log(0, "param password=" REDACTED);
    assert_log(1, "param note=" PLAIN);
    assert_int_equal(seen.n_progress, 2);
    assert_progress(0, "working with " REDACTED);
    assert_progress(1, "working with " PLAIN);
}

static void test_failing_step_is_redacted(void **state)
{
    fixture *f = *state;
    json_t *step, *fin;

#define FAIL_ERROR                                                            \
    "failed with password=" REDACTED ", note=" PLAIN ", fail=true"

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(", fail: true"));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);
    assert_string_equal(jx_result_reason(f->res), "Step 0 failed: " FAIL_ERROR);
    assert_int_equal(jx_result_steps_failed(f->res), 1);
    assert_nowhere(f, SECRET);

    step = json_object_get(record(f, "step_finished"), "step");
    assert_json_equal(json_object_get(step, "status"), "\"FAILED\"");
    assert_json_equal(json_object_get(step, "error"), "\"" FAIL_ERROR "\"");
    fin = record(f, "job_finished");
    assert_json_equal(json_object_get(fin, "final_reason"),
                      "\"Step 0 failed: " FAIL_ERROR "\"");
    fin = document(f);
    assert_json_equal(json_object_get(fin, "final_reason"),
                      "\"Step 0 failed: " FAIL_ERROR "\"");
    step = json_array_get(json_object_get(fin, "step_results"), 0);
    assert_json_equal(json_object_get(step, "error"), "\"" FAIL_ERROR "\"");
    /* The handler still got the secret. */
    read_file(f, f->sink_path);
    assert_string_equal(f->text, "password=" SECRET "\nnote=" PLAIN
                                 "\nfail=true\n");
#undef FAIL_ERROR
}

static void test_check_refusal_is_redacted(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(", refuse: yes"));
    memset(&f->err, 0, sizeof f->err);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_int_equal(f->err.code, JX_EREFUSED);
    assert_string_equal(f->err.message,
                        NAME ":4:5: step 0 refused by 'echo': refused with "
                             "password=" REDACTED ", note=" PLAIN
                             ", refuse=yes");
    /* Without the refusing parameter the same step passes. */
    parse_plan(f, HEAD SECRET_STEP(""));
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err), 0);
}

/* A step type that holds a secret's text is redacted in check's refusal
 * as it is in a run's reason. */
static void test_check_missing_handler_is_redacted(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: " SECRET "\n"
                       "    parameters: {password: \"" SECRET "\"}\n"
                       "    secret_parameters: [password]\n");
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_string_equal(f->err.message,
                        NAME ":4:5: step 0: No handler registered for step "
                             "type: " REDACTED);
}

/* A secret that contains another is replaced whole, not around the
 * shorter one ("ZZ[REDACTED]ZZ"), whatever order the plan names them in.
 * (Upper case and digits that no hash or key of a record can hold.) */
static void test_secret_containing_secret_redacted_whole(void **state)
{
    fixture *f = *state;
    json_t *output;

    make_executor(f);
    parse_plan(f, HEAD "  - step_index: 0\n"
                       "    step_type: echo\n"
                       "    parameters: {a: Qq7, b: ZZQq7ZZ, note: "
                       "\"x-Qq7-ZZQq7ZZ-y\"}\n"
                       "    secret_parameters: [a, b]\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_nowhere(f, "Qq7");
    assert_nowhere(f, "ZZ" REDACTED);
    assert_nowhere(f, REDACTED "ZZ");

    assert_int_equal(seen.n_logs, 3);
    assert_log(0, "param a=" REDACTED);
    assert_log(1, "param b=" REDACTED);
    assert_log(2, "param note=x-" REDACTED "-" REDACTED "-y");
    assert_int_equal(seen.n_progress, 3);
    assert_progress(1, "working with " REDACTED);
    output = json_object_get(json_object_get(record(f, "step_finished"),
                                             "step"),
                             "output");
    assert_json_equal(json_object_get(output, "a"), "\"" REDACTED "\"");
    assert_json_equal(json_object_get(output, "b"), "\"" REDACTED "\"");
    assert_json_equal(json_object_get(output, "note"),
                      "\"x-" REDACTED "-" REDACTED "-y\"");
    read_file(f, f->sink_path);
    assert_string_equal(f->text, "a=Qq7\nb=ZZQq7ZZ\nnote=x-Qq7-ZZQq7ZZ-y\n");
}

/* A secret is redacted wherever it stands, also inside a longer text and
 * more than once, and also when another step's plain parameter repeats
 * it: the value is secret, not the parameter. */
static void test_secret_redacted_inside_text_and_other_steps(void **state)
{
    fixture *f = *state;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP("") "  - step_index: 1\n"
                                       "    step_type: echo\n"
                                       "    parameters: {url: \"db://u:"
                                       SECRET "@h/" SECRET "\"}\n");
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_nowhere(f, SECRET);
    assert_int_equal(seen.n_logs, 3);
    assert_string_equal(seen.logs[2].message,
                        "param url=db://u:" REDACTED "@h/" REDACTED);
    assert_int_equal(seen.logs[2].step_index, 1);
}

/* A chain of redacted records verifies: redaction happens before the
 * records are hashed. */
static void test_redacted_chain_verifies(void **state)
{
    fixture *f = *state;
    jx_verify_summary sum;

    make_executor(f);
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    /* A second job, failing with the secret in its error, in the same log. */
    seen_clear();
    parse_plan(f, HEAD2 SECRET_STEP(", fail: true"));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_FAILED);

    read_file(f, f->log_path);
    assert_lacks("the evidence log", f->text, f->text_len, SECRET);
    assert_int_equal(tu_count_lines(f->log_path), 8);
    assert_true(count_of(f->text, REDACTED) >= 4);

    memset(&sum, 0, sizeof sum);
    if (jx_evidence_verify(f->log_path, NULL, &sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
    assert_int_equal(sum.jobs, 2);
    assert_int_equal(sum.valid, 2);
    assert_int_equal(sum.incomplete, 0);
    assert_int_equal(sum.tampered, 0);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(sum.lines, 8);
}

/* ---- secrets longer than a message's room ------------------------------ */

/* A secret of len letters (upper case, which no hash or UUID of a record
 * holds); malloc'd. */
static char *long_secret(size_t len)
{
    static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    char *s = malloc(len + 1);

    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = letters[(i * 7 + i / 24) % (sizeof letters - 1)];
    s[len] = '\0';
    return s;
}

/* Parses a plan whose step has the secret parameter password = secret
 * (and extra parameters). */
static void parse_secret_plan(fixture *f, const char *secret,
                              const char *extra)
{
    char *text;

    assert_true(asprintf(&text,
                         HEAD "  - step_index: 0\n"
                              "    step_type: echo\n"
                              "    parameters: {password: \"%s\"%s}\n"
                              "    secret_parameters: [password]\n",
                         secret, extra) > 0);
    parse_plan(f, text);
    free(text);
}

/*
 * A secret too long for a log message (keys and certificates run to
 * kilobytes): the message is cut, but no part of the secret may show.
 * Redacting only after the cut misses the secret, which then shows whole
 * but for its tail.
 */
static void test_long_secret_in_log_is_redacted(void **state)
{
    fixture *f = *state;
    char *secret = long_secret(3000), head[17];

    snprintf(head, sizeof head, "%s", secret); /* its first 16 letters */
    make_executor(f);
    parse_secret_plan(f, secret, "");
    free(secret);
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    assert_int_equal(seen.n_logs, 1);
    assert_non_null(seen.logs[0].message);
    assert_memory_equal(seen.logs[0].message, "param password=", 15);
    assert_nowhere(f, head);
    assert_progress(0, "working with " REDACTED);
}

/* The same for a check refusal that quotes a long secret: the reason is
 * cut to its buffer before it is redacted. */
static void test_long_secret_in_refusal_is_redacted(void **state)
{
    fixture *f = *state;
    char *secret = long_secret(600), head[17];

    snprintf(head, sizeof head, "%s", secret);
    make_executor(f);
    parse_secret_plan(f, secret, ", refuse: yes");
    free(secret);
    memset(&f->err, 0, sizeof f->err);
    assert_int_equal(jx_executor_check(f->ex, f->plan, &f->err),
                     JX_EREFUSED);
    assert_memory_equal(f->err.message,
                        NAME ":4:5: step 0 refused by 'echo': refused with "
                             "password=",
                        sizeof(NAME ":4:5: step 0 refused by 'echo': "
                                    "refused with password=") - 1);
    assert_lacks("the refusal", f->err.message, strlen(f->err.message),
                 head);
}

/* An isolated plugin's stderr is kept up to runner.max_stderr_bytes: a
 * secret cut by that limit must not show its first part. */
static void test_secret_cut_by_stderr_limit_is_redacted(void **state)
{
    fixture *f = *state;
    const char *text;

    /* "echo: password=" is 15 bytes: the limit cuts the secret after
     * "hunter2-S3". */
    make_executor_with(f, ", max_stderr_bytes: 25");
    parse_plan(f, HEAD SECRET_STEP(""));
    run(f);
    assert_int_equal(jx_result_status(f->res), JX_JOB_COMPLETED);
    text = json_string_value(json_object_get(
        json_object_get(record(f, "step_finished"), "step"), "stderr"));
    assert_non_null(text);
    assert_memory_equal(text, "echo: password=", 15);
    assert_nowhere(f, "hunter2");
}

/* ---- the command line --------------------------------------------------- */

/* Writes the CLI's config (echo in the given isolation, copying its
 * parameters to stderr when isolated) and a plan; returns their paths. */
static void write_cli_files(fixture *f, const char *plan_text, char **cfg,
                            char **plan)
{
    char *text;

    assert_true(asprintf(&text,
                         "evidence: {log: \"%s\"}\n"
                         "plugins:\n"
                         "  - path: " ECHO_SO "\n"
                         "    isolation: %s\n"
                         "    config: {sink: \"%s\", stderr: %s}\n",
                         f->log_path, f->isolated ? "process" : "inproc",
                         f->sink_path, f->isolated ? "true" : "false") > 0);
    *cfg = tu_write(f->dir, "jobexec.yaml", text);
    free(text);
    *plan = tu_write(f->dir, "plan.yaml", plan_text);
    assert_non_null(*cfg);
    assert_non_null(*plan);
}

static void cli_run_checks(fixture *f, int expect_status,
                           const char *expect_reason)
{
    json_t *doc, *step;
    json_error_t jerr;

    if (f->p.status != expect_status)
        fail_msg("exit %d, expected %d; stderr: %s", f->p.status,
                 expect_status, f->p.err);
    assert_lacks("stdout", f->p.out, strlen(f->p.out), SECRET);
    assert_lacks("stderr", f->p.err, strlen(f->p.err), SECRET);
    read_file(f, f->log_path);
    assert_lacks("the evidence log", f->text, f->text_len, SECRET);
    assert_has("the evidence log", f->text, f->text_len, REDACTED);
    assert_int_equal(tu_count_lines(f->log_path), 4);
    assert_has("stdout", f->p.out, strlen(f->p.out), REDACTED);
    assert_has("stdout", f->p.out, strlen(f->p.out), PLAIN);

    /* --verbose shows the plugin's warnings, redacted. */
    assert_has("stderr", f->p.err, strlen(f->p.err),
               "jobexec: warning: job " JOB " step 0: param password="
               REDACTED "\n");
    assert_has("stderr", f->p.err, strlen(f->p.err),
               "jobexec: warning: job " JOB " step 0: param note=" PLAIN
               "\n");

    json_decref(f->json);
    f->json = doc = json_loads(f->p.out, 0, &jerr);
    if (doc == NULL)
        fail_msg("stdout is not JSON: %s", jerr.text);
    assert_json_equal(json_object_get(doc, "final_reason"), expect_reason);
    step = json_array_get(json_object_get(doc, "step_results"), 0);
    if (expect_status == 0) {
        assert_json_equal(json_object_get(step, "output"),
                          "{\"password\":\"" REDACTED "\",\"" REDACTED
                          "\":\"password\",\"note\":\"" PLAIN "\",\"" PLAIN
                          "\":\"note\"}");
        assert_json_equal(json_object_get(step, "error"), "null");
    } else { /* the error, as final_reason without "Step 0 failed: " */
        char *error = strstr(json_string_value(json_object_get(
                                 doc, "final_reason")),
                             ": ");
        assert_non_null(error);
        assert_string_equal(json_string_value(json_object_get(step, "error")),
                            error + 2);
    }
    if (f->isolated) { /* echo's copy of its parameters, from line one */
        const char *text = json_string_value(json_object_get(step, "stderr"));
        static const char first[] = "echo: password=" REDACTED "\n"
                                    "echo: note=" PLAIN "\n";
        assert_non_null(text);
        assert_memory_equal(text, first, sizeof first - 1);
    }

    /* ...while the handler had the real value. */
    read_file(f, f->sink_path);
    assert_has("the sink", f->text, f->text_len, "password=" SECRET "\n");
}

static void test_cli_run_redacts(void **state)
{
    fixture *f = *state;
    char *cfg, *plan;

    write_cli_files(f, HEAD SECRET_STEP(""), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "run", "--verbose", "--config",
                                 cfg, plan, NULL});
    free(cfg);
    free(plan);
    cli_run_checks(f, 0, "\"All steps completed successfully\"");
}

static void test_cli_run_failing_step_redacts(void **state)
{
    fixture *f = *state;
    char *cfg, *plan;

    write_cli_files(f, HEAD SECRET_STEP(", fail: true"), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "run", "--verbose", "--config",
                                 cfg, plan, NULL});
    free(cfg);
    free(plan);
    cli_run_checks(f, 1,
                   "\"Step 0 failed: failed with password=" REDACTED
                   ", note=" PLAIN ", fail=true\"");
}

static void test_cli_check_refusal_redacted(void **state)
{
    fixture *f = *state;
    char *cfg, *plan, *expected;

    write_cli_files(f, HEAD SECRET_STEP(", refuse: yes"), &cfg, &plan);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "check", "--config", cfg, plan,
                                 NULL});
    free(cfg);
    assert_true(asprintf(&expected,
                         "jobexec: %s:4:5: step 0 refused by 'echo': refused "
                         "with password=" REDACTED ", note=" PLAIN
                         ", refuse=yes\n",
                         plan) > 0);
    free(plan);
    if (f->p.status != 2)
        fail_msg("exit %d, expected 2; stderr: %s", f->p.status, f->p.err);
    assert_lacks("stderr", f->p.err, strlen(f->p.err), SECRET);
    assert_lacks("stdout", f->p.out, strlen(f->p.out), SECRET);
    assert_string_equal(f->p.err, expected);
    assert_string_equal(f->p.out, "");
    free(expected);
}

/* ---- main --------------------------------------------------------------- */

/* Each run test twice: in process, and in a jobexec-runner process. */
#define BOTH(t)                                                               \
    {#t, t, fx_setup, fx_teardown, (void *)&inproc_mode},                     \
        {#t "_isolated", t, fx_setup, fx_teardown, (void *)&isolated_mode}
#define ONE(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ONE(test_plan_accepts_secret_parameters),
        ONE(test_plan_without_secrets_has_none),
        ONE(test_plan_orders_secrets_longest_first),
        ONE(test_plan_refuses_unknown_secret),
        ONE(test_plan_refuses_secret_without_parameters),
        ONE(test_plan_refuses_non_string_secret),
        ONE(test_plan_refuses_secret_parameters_not_a_sequence),
        ONE(test_plan_refuses_secret_item_not_a_name),
        ONE(test_plan_refusal_names_its_step),
        BOTH(test_handler_receives_real_secret),
        BOTH(test_secret_as_target),
        BOTH(test_run_redacts_everywhere),
        BOTH(test_failing_step_is_redacted),
        BOTH(test_check_refusal_is_redacted),
        BOTH(test_check_missing_handler_is_redacted),
        BOTH(test_secret_containing_secret_redacted_whole),
        BOTH(test_secret_redacted_inside_text_and_other_steps),
        BOTH(test_redacted_chain_verifies),
        BOTH(test_long_secret_in_log_is_redacted),
        BOTH(test_long_secret_in_refusal_is_redacted),
        {"test_secret_cut_by_stderr_limit_is_redacted_isolated",
         test_secret_cut_by_stderr_limit_is_redacted, fx_setup, fx_teardown,
         (void *)&isolated_mode},
        BOTH(test_cli_run_redacts),
        BOTH(test_cli_run_failing_step_redacts),
        BOTH(test_cli_check_refusal_redacted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
