/*
 * record.c - a job's evidence records (job_started, step_started,
 * step_finished, job_finished) and its evidence document, built from what
 * the run loop hands over.  The chain (evidence/chain.c) numbers, hashes,
 * seals and delivers them; this file only says what they contain.
 */
#include "config.h"

#include <stdio.h>

#include "input/redact.h"
#include "run/job.h"

/* Evidence that cannot be delivered stops the job: a step never runs
 * without its record (fail closed). */
static void evidence_failed(jx__job *j)
{
    if (j->stopped)
        return; /* the first reason the job stopped is the one reported */
    j->res->status = JX_JOB_FAILED;
    jx__result_set_reason(j->res, "evidence write failed: %s", j->chain.why);
    j->stopped = 1;
}

/* Emits the record whose members are in j->text (built_ok: whether
 * building them succeeded). */
static int emit(jx__job *j, jx_record_kind kind, int64_t step_index,
                int built_ok)
{
    int rc;

    if (!built_ok) {
        snprintf(j->chain.why, sizeof j->chain.why,
                 "out of memory building a record");
        rc = -1;
    } else {
        rc = jx__chain_emit(&j->chain, kind, step_index, j->text.data,
                            j->text.len);
    }
    if (rc != 0)
        evidence_failed(j);
    return rc;
}

/* The evidence document, evidence too, lost a part: it cannot be
 * delivered whole, which stops the job as a record would. */
static void document_failed(jx__job *j)
{
    snprintf(j->chain.why, sizeof j->chain.why,
             "out of memory writing the evidence document");
    evidence_failed(j);
}

void jx__record_document_begin(jx__job *j)
{
    if (jx__doc_begin(&j->doc, j->opts->document, j->plan, j->audited) != 0)
        document_failed(j);
}

int jx__record_flush(jx__job *j)
{
    if (jx__chain_flush(&j->chain) != 0) {
        evidence_failed(j);
        return -1;
    }
    return 0;
}

void jx__record_job_started(jx__job *j)
{
    const jx_plan *plan = j->plan;
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}", "contract_id",
        plan->contract_id, "tenant_id", plan->tenant_id, "executed_by",
        plan->executed_by, "plan_sha256", plan->sha256, "executor_version",
        PACKAGE_VERSION, "steps", (json_int_t)plan->n_steps, "started_at",
        j->started_at, "health_before", j->health_before);

    body = jx__redact_json_take(plan, body);

    j->text.len = 0;
    emit(j, JX_RECORD_JOB_STARTED, -1,
         body != NULL && jx__buf_put_members(&j->text, body) == 0);
    json_decref(body);
}

/* The members shared by step_started and the step result. */
static int put_step_head(jx__buf *b, const jx__step *st)
{
    return jx__buf_puts(b, "\"step_index\":") ||
           jx__buf_put_i64(b, st->index) ||
           jx__buf_puts(b, ",\"step_type\":") ||
           jx__buf_puts(b, st->type_json) ||
           jx__buf_puts(b, ",\"target\":") ||
           jx__buf_puts(b, st->target_json) ||
           jx__buf_puts(b, ",\"timeout_seconds\":") ||
           jx__buf_put_i64(b, st->timeout_seconds);
}

static int put_time(jx__buf *b, const char *key, const char *iso)
{
    return jx__buf_puts(b, key) || jx__buf_append(b, "\"", 1) ||
           jx__buf_puts(b, iso) || jx__buf_append(b, "\"", 1);
}

/* Closes the record opened in the chain (built_ok: whether its members
 * went in); a failure stops the job. */
static int close_record(jx__job *j, jx_record_kind kind, int64_t step_index,
                        int built_ok)
{
    int rc = jx__chain_close(&j->chain, kind, step_index, built_ok);

    if (rc != 0)
        evidence_failed(j);
    return rc;
}

/* Per step, records are built in place in the chain's buffer: no copy of
 * their members on the run loop's hot path. */
int jx__record_step_started(jx__job *j, const jx__step *st,
                            const char *started_at)
{
    jx__buf *b;
    int ok;

    if (!jx__chain_has_sinks(&j->chain))
        return 0; /* per step: build nothing nobody reads */
    b = jx__chain_open(&j->chain, JX_RECORD_STEP_STARTED);
    ok = b != NULL && !(jx__buf_append(b, ",", 1) ||
                        put_step_head(b, st) ||
                        put_time(b, ",\"started_at\":", started_at));
    return close_record(j, JX_RECORD_STEP_STARTED, st->index, ok);
}

/* "stderr": the captured text, and what was dropped beyond the limit. */
static int put_stderr(jx__buf *b, const jx__outcome *oc)
{
    char note[64] = "";

    if (oc->stderr_dropped > 0)
        snprintf(note, sizeof note, "... (%zu more bytes dropped)",
                 oc->stderr_dropped);
    return jx__buf_puts(b, ",\"stderr\":") ||
           jx__buf_put_json_string2(b, oc->stderr_text, note);
}

/* Appends the step's entry of step_results, one JSON object, to b. */
static int build_step_result(jx__job *j, jx__buf *b, const jx__step *st,
                             const jx__outcome *oc, const char *started_at,
                             const char *completed_at)
{
    return jx__buf_append(b, "{", 1) || put_step_head(b, st) ||
           jx__buf_puts(b, oc->completed ? ",\"status\":\"COMPLETED\""
                                         : ",\"status\":\"FAILED\"") ||
           put_time(b, ",\"started_at\":", started_at) ||
           put_time(b, ",\"completed_at\":", completed_at) ||
           jx__buf_puts(b, ",\"output\":") ||
           (oc->completed ? jx__output_put(b, &oc->out)
                          : jx__buf_puts(b, "null")) ||
           jx__buf_puts(b, ",\"error\":") ||
           (oc->completed ? jx__buf_puts(b, "null")
                          : jx__buf_put_json_string(b, oc->error)) ||
           jx__progress_put(j, b) ||
           (oc->stderr_text != NULL && put_stderr(b, oc)) ||
           (oc->leftover_processes > 0 &&
            (jx__buf_puts(b, ",\"leftover_processes\":") ||
             jx__buf_put_i64(b, oc->leftover_processes))) ||
           jx__buf_append(b, "}", 1);
}

/*
 * The step result is built once: in place in step_finished's record when
 * there is one, and handed to the document from there; in j->step when
 * only the document takes it.
 */
void jx__record_step_finished(jx__job *j, const jx__step *st,
                              const jx__outcome *oc, const char *started_at,
                              const char *completed_at)
{
    jx__buf *b;
    size_t at;
    int ok;

    if (!jx__chain_has_sinks(&j->chain)) {
        /* Without the document either, the counts and the reason are the
         * whole result. */
        if (j->doc.fp == NULL)
            return;
        j->step.len = 0;
        if (build_step_result(j, &j->step, st, oc, started_at,
                              completed_at) == 0)
            jx__doc_step(&j->doc, j->step.data, j->step.len);
        else
            document_failed(j); /* a result left out of step_results */
        return;
    }
    b = jx__chain_open(&j->chain, JX_RECORD_STEP_FINISHED);
    ok = b != NULL && jx__buf_puts(b, ",\"step\":") == 0;
    at = ok ? b->len : 0;
    ok = ok && build_step_result(j, b, st, oc, started_at,
                                 completed_at) == 0;
    /* Before anything more is appended: the buffer may move. */
    if (ok) {
        jx__doc_step(&j->doc, b->data + at, b->len - at);
        jx__chain_mark_result(&j->chain, at, b->len - at, oc->completed);
    } else if (j->doc.fp != NULL) {
        document_failed(j); /* a result left out of step_results */
    }
    ok = ok && !(jx__buf_puts(b, ",\"health_after\":") ||
                 (oc->handler_returned ? jx__buf_put_json(b, j->health_after)
                                       : jx__buf_puts(b, "null")));
    close_record(j, JX_RECORD_STEP_FINISHED, st->index, ok); /* EXEC-002 */
}

static json_t *summary(const jx_result *res)
{
    return json_pack("{s:I, s:I, s:I}", "steps_executed",
                     (json_int_t)res->executed, "steps_succeeded",
                     (json_int_t)res->succeeded, "steps_failed",
                     (json_int_t)res->failed);
}

/* The document's members after step_results.  timing is written by hand
 * for its duration's plain decimal. */
static void end_document(jx__job *j, const char *completed_at)
{
    json_t *head = json_pack(
        "{s:s, s:s?, s:o, s:{s:O, s:O}}", "final_status",
        jx__status_name(j->res->status), "final_reason", j->res->reason,
        "execution_summary", summary(j->res), "health_observations",
        "before", j->health_before, "after", j->health_after);
    json_t *tail = json_pack("{s:s, s:s}", "executor_version",
                             PACKAGE_VERSION, "plan_sha256", j->plan->sha256);
    jx__buf *b = &j->text;

    b->len = 0;
    if (head != NULL && tail != NULL && jx__buf_put_members(b, head) == 0 &&
        jx__buf_puts(b, ",\"timing\":{\"started_at\":") == 0 &&
        jx__buf_put_json_string(b, j->started_at) == 0 &&
        jx__buf_puts(b, ",\"completed_at\":") == 0 &&
        jx__buf_put_json_string(b, completed_at) == 0 &&
        jx__buf_puts(b, ",\"duration_seconds\":") == 0 &&
        jx__buf_put_seconds(b, j->res->duration) == 0 &&
        jx__buf_append(b, "}", 1) == 0 && jx__buf_put_members(b, tail) == 0)
        jx__doc_end(&j->doc, b->data + 1, b->len - 1); /* no lead comma */
    else if (j->doc.fp != NULL)
        /* The document stays unterminated: no reader takes it for whole.
         * The result, not the document, then says the job FAILED. */
        document_failed(j);
    json_decref(head);
    json_decref(tail);
}

void jx__record_job_finished(jx__job *j, const char *completed_at)
{
    json_t *body = json_pack(
        "{s:s, s:s?, s:o, s:s}", "final_status",
        jx__status_name(j->res->status), "final_reason", j->res->reason,
        "execution_summary", summary(j->res), "completed_at", completed_at);

    j->text.len = 0;
    if (body == NULL || jx__buf_put_members(&j->text, body) != 0 ||
        jx__buf_puts(&j->text, ",\"duration_seconds\":") != 0 ||
        jx__buf_put_seconds(&j->text, j->res->duration) != 0) {
        snprintf(j->chain.why, sizeof j->chain.why,
                 "out of memory building a record");
        evidence_failed(j);
    } else if (jx__chain_emit_sealed(&j->chain, j->text.data,
                                     j->text.len) != 0 ||
               jx__chain_finish(&j->chain) != 0) {
        evidence_failed(j);
    }
    json_decref(body);
    /* After the seal: a failure to deliver it changes the final status
     * the document reports. */
    end_document(j, completed_at);
}
