/*
 * verify.c - `jobexec evidence verify FILE`: a verdict per job of an
 * evidence log (per run, for a job that ran more than once) and a summary.
 */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"

#define prog jx__cli_prog

typedef struct tally {
    size_t distinct_jobs;
    int lost; /* a verdict could not be printed: the summary would lie */
} tally;

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

int jx__cli_evidence_verify(const options *o)
{
    tally t = {0, 0};
    jx_verify_options vo = {o->pubkey, o->job, print_report, &t};
    jx_verify_summary sum;
    jx_error err = {0, ""};

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
    if (sum.tampered > 0 || (sum.stray_lines > 0 && o->job == NULL))
        return EXIT_TAMPERED;
    /* A torn tail that names no job is still an interrupted write. */
    return sum.incomplete > 0 || sum.torn_tail ? EXIT_JOB_FAILED
                                               : EXIT_COMPLETED;
}
