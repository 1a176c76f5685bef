/*
 * cli_evidence.c - `jobexec evidence verify|show` and `jobexec keygen`:
 * what an auditor runs against an evidence log.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <jobexec/jobexec.h>

#include "cli/cli.h"

void jx_cli_usage_evidence(FILE *fp)
{
    fprintf(fp,
            "Usage: %s evidence verify FILE [--pubkey KEY] [--job ID]\n"
            "       %s evidence show FILE [--job ID]\n"
            "\n"
            "verify checks every job's hash chain in the evidence log FILE "
            "and its seal,\nand prints one verdict per job (per run, for a "
            "job that ran more than once):\n"
            "  valid       sealed, and no record changed, dropped, reordered "
            "or spliced\n"
            "  incomplete  no seal: the job was interrupted, or the log's "
            "tail was cut\n"
            "              (a torn last line left by a crash is named as "
            "such)\n"
            "  tampered    the first bad line and why\n"
            "With --pubkey (a file written by `%s keygen`), every seal must "
            "carry a\nsignature by that key.\n"
            "\n"
            "show prints the log as a readable timeline.\n"
            "\n"
            "Options:\n"
            "  -k, --pubkey KEY   check seal signatures with this public key\n"
            "  -j, --job ID       only this job\n"
            "\n"
            "Exit status of verify: 0 every job valid, 1 some job incomplete "
            "or a torn\nlast line (nothing tampered), 4 some job or line "
            "tampered, 2 bad usage or\nunreadable file or key, 3 internal "
            "error or output that could not be written.\n",
            jx_cli_prog, jx_cli_prog, jx_cli_prog);
}

void jx_cli_usage_keygen(FILE *fp)
{
    fprintf(fp,
            "Usage: %s keygen FILE\n"
            "Write a new Ed25519 key pair for sealing evidence: FILE holds "
            "the secret key\n(mode 0600; set evidence.signing_key to it) and "
            "FILE.pub the public key\n(give it to `%s evidence verify "
            "--pubkey`).  Existing files are never\noverwritten.\n",
            jx_cli_prog, jx_cli_prog);
}

int jx_cli_keygen(const options *o)
{
    const char *path = o->operand;
    size_t len = strlen(path);
    char key_id[17];
    jx_error err = {0, ""};
    struct stat st;

    /* jx_keygen would only see that the name exists. */
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: is a directory; name a file in it for the "
                        "secret key, e.g. %s%sevidence.key\n",
                jx_cli_prog, path, path,
                len > 0 && path[len - 1] == '/' ? "" : "/");
        return EXIT_USAGE;
    }
    if (jx_keygen(o->operand, key_id, &err) != 0) {
        fprintf(stderr, "%s: %s\n", jx_cli_prog, err.message);
        return err.code == JX_EINTERNAL ? EXIT_INTERNAL : EXIT_USAGE;
    }
    printf("secret key: %s\npublic key: %s.pub\nkey id: %s\n", o->operand,
           o->operand, key_id);
    return EXIT_COMPLETED;
}

/* ---- verify ------------------------------------------------------------ */

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
        rc = jx_cli_print_line(stdout, "%s: incomplete%s: %s (%llu records "
                                       "from line %lu)",
                               who, r->torn ? " (torn)" : "", r->reason,
                               (unsigned long long)r->records, r->first_line);
        break;
    default:
        rc = jx_cli_print_line(stdout, "%s: tampered: line %lu: %s", who,
                               r->bad_line, r->reason);
        break;
    }
    t->lost = rc != 0;
    return rc;
}

static int cmd_verify(const options *o)
{
    tally t = {0, 0};
    jx_verify_options vo = {o->pubkey, o->job, print_report, &t};
    jx_verify_summary sum;
    jx_error err = {0, ""};

    if (jx_evidence_verify(o->operand2, &vo, &sum, &err) != 0) {
        fprintf(stderr, "%s: %s\n", jx_cli_prog, err.message);
        return err.code == JX_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
    }
    if (!t.lost && sum.stray_lines > 0 && o->job == NULL)
        t.lost = jx_cli_print_line(stdout, "%s: tampered: line %lu: %s (%lu "
                                           "%s to no job)",
                                   o->operand2, sum.first_stray_line,
                                   sum.stray_reason, sum.stray_lines,
                                   sum.stray_lines == 1 ? "line belongs"
                                                        : "lines belong") != 0;
    if (t.lost) {
        fprintf(stderr, "%s: out of memory\n", jx_cli_prog);
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
    printf("%zu valid, %zu incomplete, %zu tampered\n", sum.valid,
           sum.incomplete, sum.tampered);
    if (sum.tampered > 0 || (sum.stray_lines > 0 && o->job == NULL))
        return EXIT_TAMPERED;
    /* A torn tail that names no job is still an interrupted write. */
    return sum.incomplete > 0 || sum.torn_tail ? EXIT_JOB_FAILED
                                               : EXIT_COMPLETED;
}

/* ---- show -------------------------------------------------------------- */

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

/* One timeline line, escaped: every string in it is the log's, and a log
 * is what an attacker may have written.  -1 when out of memory. */
static int show_record(json_t *rec)
{
    const char *event = str(rec, "event");
    const char *when = json_object_get(rec, "started_at")
                           ? str(rec, "started_at")
                           : str(rec, "completed_at");
    char *text;
    int rc;

    if (strcmp(event, "step_finished") == 0)
        when = str(json_object_get(rec, "step"), "completed_at");
    if (strcmp(event, "job_started") == 0)
        text = job_started_text(rec);
    else if (strcmp(event, "step_started") == 0)
        text = step_started_text(rec);
    else if (strcmp(event, "step_finished") == 0)
        text = step_finished_text(rec);
    else if (strcmp(event, "job_finished") == 0)
        text = job_finished_text(rec);
    else
        text = unknown_text(rec);
    if (text == NULL)
        return -1;
    rc = jx_cli_print_line(stdout, "%s  %.8s  %s", when, str(rec, "job_id"),
                           text);
    free(text);
    return rc;
}

static int cmd_show(const options *o)
{
    FILE *fp = fopen(o->operand2, "re");
    char *line = NULL;
    size_t cap = 0;
    unsigned long n = 0, shown = 0;
    ssize_t len;
    int failed = 0, read_errno;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: cannot open: %m\n", jx_cli_prog,
                o->operand2);
        return EXIT_USAGE;
    }
    while (!failed && (len = getline(&line, &cap, fp)) > 0) {
        json_t *rec = json_loadb(line, (size_t)len, 0, NULL);

        n++;
        if (!json_is_object(rec)) {
            if (o->job == NULL)
                printf("line %lu: not a record%s\n", n,
                       line[len - 1] != '\n' ? " (torn last line)" : "");
        } else if (o->job == NULL || strcmp(str(rec, "job_id"), o->job) == 0) {
            failed = show_record(rec) != 0;
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
        fprintf(stderr, "%s: out of memory\n", jx_cli_prog);
        return EXIT_INTERNAL;
    }
    if (read_errno != 0) {
        fprintf(stderr, "%s: %s: cannot read: %s\n", jx_cli_prog,
                o->operand2, strerror(read_errno));
        return EXIT_USAGE;
    }
    if (o->job != NULL && shown == 0) {
        fprintf(stderr, "%s: %s: no record of job %s\n", jx_cli_prog,
                o->operand2, o->job);
        return EXIT_USAGE;
    }
    return EXIT_COMPLETED;
}

/* Job ids are stored as libuuid writes them, in lower case; an id copied
 * from elsewhere may be upper case.  Anything but a 36-character id is
 * left as given, to be reported as not found. */
static const char *normalise_job(const char *id, char buf[37])
{
    if (id == NULL || strlen(id) != 36)
        return id;
    for (size_t i = 0; i < 36; i++)
        buf[i] = (char)tolower((unsigned char)id[i]);
    buf[36] = '\0';
    return buf;
}

int jx_cli_evidence(const options *o)
{
    options oj = *o;
    char job[37];

    oj.job = normalise_job(o->job, job);
    if (strcmp(o->operand, "verify") == 0)
        return cmd_verify(&oj);
    if (strcmp(o->operand, "show") == 0) {
        if (o->pubkey != NULL) {
            fprintf(stderr, "%s: evidence show takes no --pubkey (use "
                            "evidence verify)\n", jx_cli_prog);
            return EXIT_USAGE;
        }
        return cmd_show(&oj);
    }
    fprintf(stderr, "%s: unknown evidence command '%s' (verify, show)\n"
                    "Try '%s evidence --help' for more information.\n",
            jx_cli_prog, o->operand, jx_cli_prog);
    return EXIT_USAGE;
}
