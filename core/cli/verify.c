/*
 * verify.c - `jobexec evidence verify FILE`: a verdict per job of an
 * evidence log (per run, for a job that ran more than once) and a summary.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

typedef struct tally {
    size_t distinct_jobs;
    int lost; /* a verdict could not be printed: the summary would lie */
    json_t *reports; /* --json: the reports so far; NULL otherwise */
} tally;

static const char *verdict_name(jx_verdict v)
{
    switch (v) {
    case JX_VERDICT_VALID:
        return "valid";
    case JX_VERDICT_INCOMPLETE:
        return "incomplete";
    default:
        return "tampered";
    }
}

/* One report as an object of --json's "jobs": every member of
 * jx_job_report, under its own name. */
static json_t *report_json(const jx_job_report *r)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:b, s:b, s:b, s:s?, "
                     "s:I, s:I}",
                     "job_id", r->job_id, "verdict", verdict_name(r->verdict),
                     "records", (json_int_t)r->records, "first_line",
                     (json_int_t)r->first_line, "bad_line",
                     (json_int_t)r->bad_line, "reason", r->reason, "torn",
                     r->torn, "signed_seal", r->signed_seal,
                     "signature_checked", r->signature_checked,
                     "final_status", r->final_status, "run",
                     (json_int_t)r->run, "runs", (json_int_t)r->runs);
}

static int keep_report(const jx_job_report *r, void *user)
{
    tally *t = user;

    if (r->run == 1)
        t->distinct_jobs++;
    if (json_array_append_new(t->reports, report_json(r)) != 0) {
        t->lost = 1;
        return -1;
    }
    return 0;
}

static int print_report(const jx_job_report *r, void *user)
{
    tally *t = user;
    char who[96];
    int rc = 0;

    if (r->run == 1)
        t->distinct_jobs++;
    /* A job that ran more than once into the log: each run is named. */
    if (r->runs > 1)
        snprintf(who, sizeof who, "%s (run %u of %u)", r->job_id, r->run,
                 r->runs);
    else
        snprintf(who, sizeof who, "%s", r->job_id);
    /* The reasons may quote the log's bytes (a JSON parser's complaint). */
    switch (r->verdict) {
    case JX_VERDICT_VALID:
        printf("%s: valid (%llu records, %s)\n", who,
               (unsigned long long)r->records,
               r->signature_checked ? "signature checked"
               : r->signed_seal     ? "signed; signature not checked: no "
                                      "--pubkey"
                                    : "unsigned seal");
        break;
    case JX_VERDICT_INCOMPLETE:
        rc = jx__cli_print_line(stdout, "%s: incomplete%s: %s (%llu records "
                                       "from line %lu)",
                               who, r->torn ? " (torn)" : "", r->reason,
                               (unsigned long long)r->records, r->first_line);
        break;
    default:
        rc = jx__cli_print_line(stdout, "%s: tampered: line %lu: %s", who,
                               r->bad_line, r->reason);
        break;
    }
    t->lost = rc != 0;
    return rc;
}

/* The exit status for what was found: stray lines count only when the
 * whole file was checked. */
static int verdict_status(const jx_verify_summary *sum, int whole_file)
{
    if (sum->tampered > 0 || (sum->stray_lines > 0 && whole_file))
        return EXIT_TAMPERED;
    /* A torn tail that names no job is still an interrupted write. */
    return sum->incomplete > 0 || sum->torn_tail ? EXIT_JOB_FAILED
                                                 : EXIT_COMPLETED;
}

static json_t *summary_json(const jx_verify_summary *sum,
                            size_t distinct_jobs)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b}",
                     "jobs", (json_int_t)sum->jobs, "distinct_jobs",
                     (json_int_t)distinct_jobs, "valid",
                     (json_int_t)sum->valid, "incomplete",
                     (json_int_t)sum->incomplete, "tampered",
                     (json_int_t)sum->tampered, "lines",
                     (json_int_t)sum->lines, "stray_lines",
                     (json_int_t)sum->stray_lines, "first_stray_line",
                     (json_int_t)sum->first_stray_line, "stray_reason",
                     sum->stray_reason, "torn_tail", sum->torn_tail);
}

/* --json: one document, {file, job, pubkey_checked, jobs: [...], summary,
 * exit_status}; the exit status is the one the text would have had. */
static int verify_json(const options *o)
{
    tally t = {0, 0, json_array()};
    jx_verify_options vo = {o->pubkey, o->job, keep_report, &t};
    jx_verify_summary sum;
    jx_error err = {0, ""};
    json_t *doc = NULL;
    char *text = NULL;
    int status;

    if (t.reports == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    if (jx_evidence_verify(o->operand2, &vo, &sum, &err) != 0) {
        json_decref(t.reports);
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return err.code == JX_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
    }
    status = verdict_status(&sum, o->job == NULL);
    if (!t.lost)
        doc = json_pack("{s:s, s:s?, s:s?, s:o, s:o, s:i}", "file",
                        o->operand2, "job", o->job, "pubkey", o->pubkey,
                        "jobs", t.reports, "summary",
                        summary_json(&sum, t.distinct_jobs), "exit_status",
                        status);
    else
        json_decref(t.reports);
    if (doc != NULL)
        text = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (text == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    printf("%s\n", text);
    free(text);
    return status;
}

int jx__cli_evidence_verify(const options *o)
{
    tally t = {0, 0, NULL};
    jx_verify_options vo = {o->pubkey, o->job, print_report, &t};
    jx_verify_summary sum;
    jx_error err = {0, ""};

    if (o->json)
        return verify_json(o);
    if (jx_evidence_verify(o->operand2, &vo, &sum, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return err.code == JX_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
    }
    if (!t.lost && sum.stray_lines > 0 && o->job == NULL)
        t.lost = jx__cli_print_line(stdout, "%s: tampered: line %lu: %s (%lu "
                                           "%s to no job)",
                                   o->operand2, sum.first_stray_line,
                                   sum.stray_reason, sum.stray_lines,
                                   sum.stray_lines == 1 ? "line belongs"
                                                        : "lines belong") != 0;
    if (t.lost) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    if (sum.torn_tail)
        printf("%s: ends in a torn line: a write was interrupted\n",
               o->operand2);
    if (sum.jobs == t.distinct_jobs)
        printf("%zu job%s: ", sum.jobs, sum.jobs == 1 ? "" : "s");
    else
        printf("%zu runs of %zu job%s: ", sum.jobs, t.distinct_jobs,
               t.distinct_jobs == 1 ? "" : "s");
    printf("%zu valid, %zu incomplete, %zu tampered", sum.valid,
           sum.incomplete, sum.tampered);
    /* Counted where the eye ends: such lines make the file tampered even
     * when every job is valid. */
    if (sum.stray_lines > 0 && o->job == NULL)
        printf(", %lu stray line%s", sum.stray_lines,
               sum.stray_lines == 1 ? "" : "s");
    putchar('\n');
    return verdict_status(&sum, o->job == NULL);
}
