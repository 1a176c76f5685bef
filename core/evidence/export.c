/*
 * export.c - jx_evidence_export(): a verified job of an evidence log as
 * in-toto statements in DSSE envelopes, signed with the evidence key:
 * one link statement per step (https://in-toto.io/attestation/link/v0.3)
 * or one SLSA provenance statement for the job
 * (https://slsa.dev/provenance/v1).  Only a job whose chain and seal
 * verify is exported: an attestation of a tampered log would vouch for it.
 *
 * Subjects and materials name records of the log by their SHA-256 over
 * the record's exact bytes: the hash the next record's prev carries, so a
 * digest can be found in (and checked against) the log itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/sha256.h"
#include "evidence/dsse.h"
#include "evidence/seal.h"

#define STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define LINK_TYPE "https://in-toto.io/attestation/link/v0.3"
#define SLSA_TYPE "https://slsa.dev/provenance/v1"
#define BUILD_TYPE "urn:jobexec:buildType:job:v1"
#define BUILDER_ID "urn:jobexec:executor"

/* One record of the job, as read from the log. */
typedef struct record {
    char digest[2 * JX__SHA256_LEN + 1]; /* of the line's exact bytes */
    json_t *json;
    uint64_t seq;
} record;

typedef struct job {
    const char *id;
    record *recs;
    size_t n;
} job;

/* What the verifier said of the job: each run's verdict. */
typedef struct verdicts {
    unsigned runs;
    int bad;        /* some run is not valid */
    char why[768];  /* the first bad run's verdict, as verify prints it */
} verdicts;

static int on_report(const jx_job_report *r, void *user)
{
    verdicts *v = user;

    v->runs = r->runs;
    if (r->verdict == JX_VERDICT_VALID || v->bad)
        return 0;
    v->bad = 1;
    if (r->verdict == JX_VERDICT_INCOMPLETE)
        snprintf(v->why, sizeof v->why, "%s: incomplete: %s", r->job_id,
                 r->reason);
    else
        snprintf(v->why, sizeof v->why, "%s: tampered: line %lu: %s",
                 r->job_id, r->bad_line, r->reason);
    return 0;
}

static int verified(const char *path, const char *job_id,
                    const char *pubkey, jx_error *err)
{
    verdicts v = {0, 0, ""};
    jx_verify_options vo = {pubkey, job_id, on_report, &v};
    jx_verify_summary sum;
    int rc = jx_evidence_verify(path, &vo, &sum, err);

    if (rc != 0)
        return rc;
    if (v.bad)
        return jx__fail(err, JX_EEVIDENCE, "%s: not exported: %s", path,
                        v.why);
    /* Two runs are two stories: which one would the statement tell? */
    if (v.runs > 1)
        return jx__fail(err, JX_EINVAL, "%s: job %s ran %u times into the "
                                        "log; export takes a job that ran "
                                        "once",
                        path, job_id, v.runs);
    return 0;
}

static void job_free(job *j)
{
    for (size_t i = 0; i < j->n; i++)
        json_decref(j->recs[i].json);
    free(j->recs);
}

static int add_record(job *j, const char *line, size_t len, json_t *rec)
{
    unsigned char digest[JX__SHA256_LEN];
    record *grown = realloc(j->recs, (j->n + 1) * sizeof *grown);

    if (grown == NULL)
        return JX_ENOMEM;
    j->recs = grown;
    if (jx__sha256(line, len, digest) != 0)
        return JX_EINTERNAL;
    jx__hex(digest, sizeof digest, grown[j->n].digest);
    grown[j->n].json = rec;
    grown[j->n].seq = (uint64_t)json_integer_value(json_object_get(rec,
                                                                   "seq"));
    j->n++;
    return 0;
}

/* The job's records, in file order (the verifier has checked that they
 * form one intact chain). */
static int read_job(const char *path, job *j, jx_error *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    if (fp == NULL)
        return jx__fail(err, JX_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    while (rc == 0 && (n = getline(&line, &cap, fp)) > 0) {
        size_t len = (size_t)n - (line[n - 1] == '\n');
        json_t *rec = json_loadb(line, len, 0, NULL);
        const char *id = json_string_value(json_object_get(rec, "job_id"));

        if (id == NULL || strcmp(id, j->id) != 0) {
            json_decref(rec);
            continue;
        }
        if ((rc = add_record(j, line, len, rec)) != 0)
            json_decref(rec);
    }
    free(line);
    fclose(fp);
    if (rc != 0)
        return jx__fail(err, rc, "%s", jx_strerror(rc));
    return 0;
}

static const char *event_of(const record *r)
{
    const char *e = json_string_value(json_object_get(r->json, "event"));
    return e != NULL ? e : "";
}

/* A ResourceDescriptor naming record r of the job. */
static json_t *descriptor(const job *j, const record *r)
{
    char name[160];

    snprintf(name, sizeof name, "jobexec-evidence:%s/%llu/%s", j->id,
             (unsigned long long)r->seq, event_of(r));
    return json_pack("{s:s, s:{s:s}}", "name", name, "digest", "sha256",
                     r->digest);
}

static json_t *plan_descriptor(const job *j, const json_t *started)
{
    char name[96];

    snprintf(name, sizeof name, "jobexec-plan:%s", j->id);
    return json_pack("{s:s, s:{s:O}}", "name", name, "digest", "sha256",
                     json_object_get(started, "plan_sha256"));
}

static json_t *statement(json_t *subject, const char *type, json_t *pred)
{
    return json_pack("{s:s, s:o, s:s, s:o}", "_type", STATEMENT_TYPE,
                     "subject", subject, "predicateType", type, "predicate",
                     pred);
}

/* The link of one step: its step_finished is the product (the subject),
 * the plan and its step_started the materials. */
static json_t *link_statement(const job *j, const record *start,
                              const record *fin)
{
    const json_t *js = j->recs[0].json;
    json_t *step = json_object_get(fin->json, "step");
    const char *target = json_string_value(json_object_get(step, "target"));
    char name[64];
    json_t *command = json_pack("[O]", json_object_get(step, "step_type"));
    json_t *by = json_deep_copy(step);

    snprintf(name, sizeof name, "step-%lld",
             (long long)json_integer_value(json_object_get(step,
                                                           "step_index")));
    if (target != NULL && target[0] != '\0')
        json_array_append_new(command, json_string(target));
    json_t *materials = json_pack("[o]", plan_descriptor(j, js));

    if (start != NULL)
        json_array_append_new(materials, descriptor(j, start));
    json_object_del(by, "step_type");
    json_object_del(by, "target");
    return statement(
        json_pack("[o]", descriptor(j, fin)), LINK_TYPE,
        json_pack("{s:s, s:o, s:o, s:o, s:{s:s, s:O, s:O, s:O, s:O}}",
                  "name", name, "command", command, "materials", materials,
                  "byproducts",
                  by, "environment", "job_id", j->id, "contract_id",
                  json_object_get(js, "contract_id"), "tenant_id",
                  json_object_get(js, "tenant_id"), "executed_by",
                  json_object_get(js, "executed_by"), "executor_version",
                  json_object_get(js, "executor_version")));
}

/* The steps as the plan asked for them: what the job was given. */
static json_t *planned_steps(const job *j)
{
    json_t *steps = json_array();

    for (size_t i = 0; i < j->n; i++)
        if (strcmp(event_of(&j->recs[i]), "step_started") == 0)
            json_array_append_new(
                steps,
                json_pack("{s:O, s:O, s:O}", "step_index",
                          json_object_get(j->recs[i].json, "step_index"),
                          "step_type",
                          json_object_get(j->recs[i].json, "step_type"),
                          "target",
                          json_object_get(j->recs[i].json, "target")));
    return steps;
}

static json_t *slsa_statement(const job *j)
{
    const json_t *js = j->recs[0].json;
    const record *fin = &j->recs[j->n - 1];
    const char *by = json_string_value(json_object_get(js, "executed_by"));
    char builder[256];

    snprintf(builder, sizeof builder, BUILDER_ID ":%s",
             by != NULL ? by : "unknown");
    return statement(
        json_pack("[o]", descriptor(j, fin)), SLSA_TYPE,
        json_pack("{s:{s:s, s:{s:O, s:O, s:o}, s:{s:O, s:O}, s:[o]}, "
                  "s:{s:{s:s, s:{s:O}}, s:{s:s, s:O, s:O}, s:[o]}}",
                  "buildDefinition", "buildType", BUILD_TYPE,
                  "externalParameters", "contract_id",
                  json_object_get(js, "contract_id"), "plan_sha256",
                  json_object_get(js, "plan_sha256"), "steps",
                  planned_steps(j), "internalParameters", "executed_by",
                  json_object_get(js, "executed_by"), "tenant_id",
                  json_object_get(js, "tenant_id"), "resolvedDependencies",
                  plan_descriptor(j, js), "runDetails", "builder", "id",
                  builder, "version", "jobexec",
                  json_object_get(js, "executor_version"), "metadata",
                  "invocationId", j->id, "startedOn",
                  json_object_get(js, "started_at"), "finishedOn",
                  json_object_get(fin->json, "completed_at"), "byproducts",
                  json_pack("{s:s, s:{s:s}, s:{s:O, s:O}}", "name",
                            "jobexec-evidence:seal", "digest", "sha256",
                            json_string_value(json_object_get(
                                json_object_get(fin->json, "seal"), "head")),
                            "annotations", "final_status",
                            json_object_get(fin->json, "final_status"),
                            "final_reason",
                            json_object_get(fin->json, "final_reason"))));
}

/* Signs st (taken) and writes its envelope as one line. */
static int put_envelope(const jx__signer *s, json_t *st, FILE *out,
                        jx_error *err)
{
    char *body = st != NULL ? json_dumps(st, JSON_COMPACT) : NULL;
    char *line = NULL;
    json_t *env = NULL;
    int rc = body != NULL ? 0 : jx__fail(err, JX_ENOMEM, "out of memory");

    json_decref(st);
    if (rc == 0)
        rc = jx__dsse_envelope(s, JX__DSSE_INTOTO_TYPE, body, strlen(body),
                               &env, err);
    if (rc == 0 && (line = json_dumps(env, JSON_COMPACT)) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    if (rc == 0 && fprintf(out, "%s\n", line) < 0)
        rc = jx__fail(err, JX_EIO, "cannot write the export: %s",
                      strerror(errno));
    free(line);
    json_decref(env);
    free(body);
    return rc;
}

static int export_job(const job *j, jx_export_format format,
                      const jx__signer *s, FILE *out, jx_error *err)
{
    const record *start = NULL;
    int rc = 0;

    if (format == JX_EXPORT_SLSA)
        return put_envelope(s, slsa_statement(j), out, err);
    for (size_t i = 0; rc == 0 && i < j->n; i++) {
        const char *event = event_of(&j->recs[i]);
        if (strcmp(event, "step_started") == 0)
            start = &j->recs[i];
        else if (strcmp(event, "step_finished") == 0) {
            rc = put_envelope(s, link_statement(j, start, &j->recs[i]), out,
                              err);
            start = NULL;
        }
    }
    return rc;
}

int jx_evidence_export(const char *path, const char *job_id,
                       jx_export_format format, const char *key_path,
                       const char *pubkey_path, FILE *out, jx_error *err)
{
    jx__signer *s = NULL;
    job j = {job_id, NULL, 0};
    int rc;

    if (path == NULL || job_id == NULL || key_path == NULL || out == NULL ||
        (format != JX_EXPORT_IN_TOTO && format != JX_EXPORT_SLSA))
        return jx__fail(err, JX_EINVAL, "jx_evidence_export: invalid "
                                        "argument");
    /* The key first: a refusal costs no reading of a large log. */
    if ((rc = jx__signer_load(key_path, &s, err)) != 0)
        return rc;
    rc = verified(path, job_id, pubkey_path, err);
    if (rc == 0)
        rc = read_job(path, &j, err);
    /* The verifier saw a sealed chain; a file changed since is not it. */
    if (rc == 0 && (j.n < 2 || strcmp(event_of(&j.recs[0]), "job_started") ||
                    strcmp(event_of(&j.recs[j.n - 1]), "job_finished")))
        rc = jx__fail(err, JX_EEVIDENCE, "%s: job %s changed while it was "
                                         "read", path, job_id);
    if (rc == 0)
        rc = export_job(&j, format, s, out, err);
    job_free(&j);
    jx__signer_free(s);
    return rc;
}
