/*
 * show.c - `jobexec evidence show FILE`: an evidence log as a timeline, one
 * escaped line per record.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static const char *str(json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s != NULL ? s : "?";
}

/* Compact JSON of a member, or "null"; the caller frees. */
static char *dump(json_t *v)
{
    return v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
                     : strdup("null");
}

/* The *_text functions describe one record, for show_record() to print
 * after its time and job; NULL when out of memory. */

static char *job_started_text(json_t *rec)
{
    char *health = dump(json_object_get(rec, "health_before"));
    char *text;

    /* The full job id once per job, for --job; the other lines carry its
     * first 8 characters. */
    if (asprintf(&text, "job started: contract %s, %lld steps, by %s%s%s; "
                        "job id %s; plan sha256 %.16s...; jobexec %s; health "
                        "before: %s",
                 str(rec, "contract_id"),
                 (long long)json_integer_value(json_object_get(rec, "steps")),
                 str(rec, "executed_by"),
                 *str(rec, "tenant_id") ? " for tenant " : "",
                 *str(rec, "tenant_id") ? str(rec, "tenant_id") : "",
                 str(rec, "job_id"), str(rec, "plan_sha256"),
                 str(rec, "executor_version"), health ? health : "?") < 0)
        text = NULL;
    free(health);
    return text;
}

static char *step_started_text(json_t *rec)
{
    char *text;

    if (asprintf(&text, "step %lld started: %s on '%s' (timeout %lld s)",
                 (long long)json_integer_value(
                     json_object_get(rec, "step_index")),
                 str(rec, "step_type"), str(rec, "target"),
                 (long long)json_integer_value(
                     json_object_get(rec, "timeout_seconds"))) < 0)
        text = NULL;
    return text;
}

static char *step_finished_text(json_t *rec)
{
    json_t *step = json_object_get(rec, "step");
    const char *status = str(step, "status");
    char *detail = strcmp(status, "COMPLETED") == 0
                       ? dump(json_object_get(step, "output"))
                       : strdup(str(step, "error"));
    char *text;

    if (detail == NULL ||
        asprintf(&text, "step %lld %s: %s",
                 (long long)json_integer_value(
                     json_object_get(step, "step_index")),
                 status, detail) < 0)
        text = NULL;
    free(detail);
    return text;
}

static char *job_finished_text(json_t *rec)
{
    json_t *sum = json_object_get(rec, "execution_summary");
    json_t *seal = json_object_get(rec, "seal");
    char *text;

    if (asprintf(&text, "job finished %s: %s (%lld executed, %lld "
                        "succeeded, %lld failed; %.6f s; %s%s)",
                 str(rec, "final_status"), str(rec, "final_reason"),
                 (long long)json_integer_value(
                     json_object_get(sum, "steps_executed")),
                 (long long)json_integer_value(
                     json_object_get(sum, "steps_succeeded")),
                 (long long)json_integer_value(
                     json_object_get(sum, "steps_failed")),
                 json_number_value(json_object_get(rec, "duration_seconds")),
                 json_object_get(seal, "sig") ? "sealed and signed by key "
                                              : "sealed, unsigned",
                 json_object_get(seal, "sig") ? str(seal, "key_id") : "") < 0)
        text = NULL;
    return text;
}

static char *unknown_text(json_t *rec)
{
    char *text;

    if (asprintf(&text, "unknown event '%s'", str(rec, "event")) < 0)
        text = NULL;
    return text;
}

/* What show says of a record: its time, and its text (NULL when out of
 * memory; the caller frees it). */
static char *describe(json_t *rec, const char **when)
{
    const char *event = str(rec, "event");

    *when = json_object_get(rec, "started_at") ? str(rec, "started_at")
                                               : str(rec, "completed_at");
    if (strcmp(event, "step_finished") == 0)
        *when = str(json_object_get(rec, "step"), "completed_at");
    if (strcmp(event, "job_started") == 0)
        return job_started_text(rec);
    if (strcmp(event, "step_started") == 0)
        return step_started_text(rec);
    if (strcmp(event, "step_finished") == 0)
        return step_finished_text(rec);
    if (strcmp(event, "job_finished") == 0)
        return job_finished_text(rec);
    return unknown_text(rec);
}

/* Prints one JSON Lines object.  Non-ASCII is escaped (\uXXXX), so that
 * the line itself cannot reorder or hide text on a terminal either.  15
 * digits give back the double of any number the log spells with 15 or
 * fewer (0.000083 reads 8.3e-05, not 8.2999999999999998e-05).  -1 when
 * out of memory. */
static int put_json_line(json_t *obj)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT |
                                                   JSON_ENSURE_ASCII |
                                                   JSON_REAL_PRECISION(15))
                             : NULL;

    json_decref(obj);
    if (text == NULL)
        return -1;
    puts(text);
    free(text);
    return 0;
}

/* One timeline line, escaped: every string in it is the log's, and a log
 * is what an attacker may have written.  With --json, the same as an
 * object with the record itself.  -1 when out of memory. */
static int show_record(json_t *rec, unsigned long line_no, int as_json)
{
    const char *when;
    char *text = describe(rec, &when);
    int rc;

    if (text == NULL)
        return -1;
    if (as_json)
        rc = put_json_line(json_pack(
            "{s:I, s:s, s:s, s:s, s:O?, s:s, s:O}", "line",
            (json_int_t)line_no, "time", when, "job_id", str(rec, "job_id"),
            "event", str(rec, "event"), "seq", json_object_get(rec, "seq"),
            "text", text, "record", rec));
    else
        rc = jx__cli_print_line(stdout, "%s  %.8s  %s", when,
                               str(rec, "job_id"), text);
    free(text);
    return rc;
}

/* A line that is no record (not JSON, or not an object). */
static int show_stray(unsigned long line_no, int torn, int as_json)
{
    if (as_json)
        return put_json_line(json_pack("{s:I, s:n, s:b}", "line",
                                       (json_int_t)line_no, "event", "torn",
                                       torn));
    printf("line %lu: not a record%s\n", line_no,
           torn ? " (torn last line)" : "");
    return 0;
}

int jx__cli_evidence_show(const options *o)
{
    FILE *fp = fopen(o->operand2, "re");
    char *line = NULL;
    size_t cap = 0;
    unsigned long n = 0, shown = 0;
    ssize_t len;
    int failed = 0, read_errno;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: cannot open: %m\n", prog,
                o->operand2);
        return EXIT_USAGE;
    }
    while (!failed && (len = getline(&line, &cap, fp)) > 0) {
        json_t *rec = json_loadb(line, (size_t)len, 0, NULL);

        n++;
        if (!json_is_object(rec)) {
            if (o->job == NULL)
                failed = show_stray(n, line[len - 1] != '\n', o->json) != 0;
        } else if (o->job == NULL || strcmp(str(rec, "job_id"), o->job) == 0) {
            failed = show_record(rec, n, o->json) != 0;
            shown++;
        }
        json_decref(rec);
    }
    /* A folder opens, then fails at the first read: say so, as verify
     * does, rather than show an empty log. */
    read_errno = ferror(fp) ? errno : 0;
    free(line);
    fclose(fp);
    if (failed) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    if (read_errno != 0) {
        fprintf(stderr, "%s: %s: cannot read: %s\n", prog,
                o->operand2, strerror(read_errno));
        return EXIT_USAGE;
    }
    if (o->job != NULL && shown == 0) {
        fprintf(stderr, "%s: %s: no record of job %s\n", prog,
                o->operand2, o->job);
        return EXIT_USAGE;
    }
    return EXIT_COMPLETED;
}
