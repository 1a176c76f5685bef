/*
 * evidence_util.c - see evidence_util.h.
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

#include <jobexec/jobexec.h>

#include "evidence_util.h"

/* ---- what the sinks and handlers saw ----------------------------------- */

evidence_seen seen;

int on_record(const jx_record *rec, void *user)
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
    r->json = tu_record_copy(rec);
    r->result_at = rec->step_result != NULL ? rec->step_result - rec->json
                                            : -1;
    r->result_len = rec->step_result_len;
    r->completed = rec->step_completed;
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

/* tu_rec_hook: records each call of the "rec" handler, and whether the log
 * (when seen.log_path is set) then ended with the step's step_started. */
static void record_call(const jx_host_v1 *host, const jx_step *step)
{
    size_t i = seen.n_calls++;
    int64_t index = host->step_index(step);

    if (i < MAX_RECORDS) {
        seen.calls[i] = index;
        if (seen.log_path != NULL)
            seen.own_record_on_disk[i] =
                last_line_is_step_started(seen.log_path, index);
    }
}

int fx_setup(void **state)
{
    fixture *f;

    memset(&seen, 0, sizeof seen);
    tu_rec_hook = record_call;
    f = calloc(1, sizeof *f);
    if (f == NULL || tu_temp_log(&f->dir, &f->log_path) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < seen.n_records && i < MAX_RECORDS; i++)
        free(seen.records[i].json);
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    free(f->log_text);
    tu_temp_free(f->dir);
    free(f->log_path);
    free(f);
    return 0;
}

void parse_log_config(fixture *f, const char *log_path)
{
    tu_configf(&f->cfg, &f->err, "test.yaml", TU_PLUGINS,
               "evidence: {log: \"%s\"}\n", log_path);
}

void make_executor(fixture *f, const char *log_path)
{
    if (log_path != NULL)
        parse_log_config(f, log_path);
    tu_executor(f->cfg, &tu_rec_handler, &f->ex, &f->err);
}

void parse_plan(fixture *f, const char *job_id, size_t n,
                int64_t fail_at)
{
    tu_plan_steps(&f->plan, &f->err, job_id, n, "rec", fail_at, "fail");
}

void run(fixture *f, int with_callback)
{
    jx_run_options opts = {.on_record = with_callback ? on_record : NULL};

    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
}

/* ---- checking a chain --------------------------------------------------- */

static const char *const event_names[] = {"job_started", "step_started",
                                          "step_finished", "job_finished"};

size_t verify_chain(char *const *lines, size_t n, const char *job_id)
{
    char prev[TU_SHA256_HEX_SIZE];

    assert_true(n >= 2);
    assert_true((n - 2) % 2 == 0);
    tu_chain_genesis(job_id, prev);
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
        tu_sha256_hex(lines[i], strlen(lines[i]), prev);
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

size_t read_log(fixture *f, char **lines, size_t max)
{
    free(f->log_text);
    f->log_text = tu_read(f->log_path);
    assert_non_null(f->log_text);
    return split_lines(f->log_text, lines, max);
}

json_t *parse_record(const char *line)
{
    json_t *rec = json_loads(line, 0, NULL);
    assert_non_null(rec);
    return rec;
}
