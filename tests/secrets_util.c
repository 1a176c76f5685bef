/*
 * secrets_util.c - see secrets_util.h.
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

#include "secrets_util.h"

/* ---- what the callbacks saw -------------------------------------------- */

secrets_seen seen;

static char *copy_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int on_record(const jx_record *rec, void *user)
{
    char *copy;

    (void)user;
    if (seen.n_records >= MAX_SEEN || (copy = tu_record_copy(rec)) == NULL)
        return -1;
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

void seen_clear(void)
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

const int inproc_mode = INPROC;
const int isolated_mode = ISOLATED;

int fx_setup(void **state)
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
    if (tu_temp_log(&f->dir, &f->log_path) != 0 ||
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

int fx_teardown(void **state)
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
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    tu_temp_free(f->dir);
    free(f->log_path);
    free(f->sink_path);
    free(f);
    return 0;
}

void make_executor_with(fixture *f, const char *runner_extra)
{
    tu_configf(&f->cfg, &f->err, "test.yaml", TU_PLUGINS,
               "evidence: {log: \"%s\"}\n"
               "plugins:\n"
               "  - path: " ECHO_SO "\n"
               "    isolation: %s\n"
               "    config: {sink: \"%s\", stderr: %s}\n"
               "runner: {path: \"" TU_RUNNER "\"%s}\n",
               f->log_path, f->isolated ? "process" : "inproc",
               f->sink_path, f->isolated ? "true" : "false",
               runner_extra != NULL ? runner_extra : "");
    tu_executor(f->cfg, NULL, &f->ex, &f->err);
}

void make_executor(fixture *f)
{
    make_executor_with(f, NULL);
}

void parse_plan(fixture *f, const char *text)
{
    tu_plan(text, &f->plan, &f->err);
}

void run(fixture *f)
{
    jx_run_options opts = {.on_record = on_record, .on_progress = on_progress};

    assert_null(f->doc_fp);
    free(f->doc); /* a previous run's */
    f->doc = NULL;
    f->doc_fp = open_memstream(&f->doc, &f->doc_len);
    assert_non_null(f->doc_fp);
    opts.document = f->doc_fp;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_int_equal(fclose(f->doc_fp), 0);
    f->doc_fp = NULL;
}

void read_file(fixture *f, const char *path)
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

void assert_lacks(const char *what, const char *bytes, size_t len,
                  const char *secret)
{
    const char *at = memmem(bytes, len, secret, strlen(secret));

    if (at != NULL)
        fail_msg("%s shows the secret '%s' at byte %zu: ...%.60s", what,
                 secret, (size_t)(at - bytes),
                 at - bytes > 20 ? at - 20 : bytes);
}

void assert_has(const char *what, const char *bytes, size_t len,
                const char *needle)
{
    if (memmem(bytes, len, needle, strlen(needle)) == NULL)
        fail_msg("%s lacks '%s': %.*s", what, needle, (int)len, bytes);
}

size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL;
         p += strlen(needle))
        n++;
    return n;
}

void assert_json_equal(const json_t *got, const char *expected)
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

json_t *record(fixture *f, const char *event)
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

json_t *document(fixture *f)
{
    json_error_t jerr;

    json_decref(f->json);
    f->json = json_loadb(f->doc, f->doc_len, 0, &jerr);
    if (f->json == NULL)
        fail_msg("document is not JSON: %s: %.*s", jerr.text,
                 (int)f->doc_len, f->doc);
    return f->json;
}

void assert_nowhere(fixture *f, const char *secret)
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

void assert_log(size_t i, const char *message)
{
    assert_true(i < seen.n_logs);
    assert_int_equal(seen.logs[i].level, JX_LOG_WARNING);
    assert_non_null(seen.logs[i].job_id);
    assert_string_equal(seen.logs[i].job_id, TU_JOB);
    assert_int_equal(seen.logs[i].step_index, 0);
    assert_string_equal(seen.logs[i].message, message);
}

void assert_progress(size_t i, const char *message)
{
    assert_true(i < seen.n_progress);
    assert_int_equal(seen.progress[i].step_index, 0);
    assert_non_null(seen.progress[i].message);
    assert_string_equal(seen.progress[i].message, message);
}
