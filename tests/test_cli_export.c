/*
 * test_cli_export.c - `jobexec evidence export`: the exact shape of the
 * in-toto link and SLSA provenance statements, DSSE signatures checked
 * independently (the PAE recomputed here from the spec and verified with
 * crypto_sign_verify_detached against the public key file), digests that
 * match the log's own bytes, and refusals: a tampered log (exit 4), an
 * unknown job, a missing key.
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

#include "cli_util.h"

#define UNKNOWN_JOB "00000000-0000-4000-8000-000000000000"

/* Runs plan.yaml (PLAN_JOB, 3 steps) into a log sealed with a new key;
 * *key receives the secret key's path (the public one is KEY.pub). */
static const char *make_log(fixture *f, const char **key)
{
    const char *dir = fx_dir(f);
    const char *log = fx_printf(f, "%s/ev.jsonl", dir);
    const char *cfg = fx_printf(f, "%s/cfg.yaml", dir);
    FILE *fp;

    *key = fx_printf(f, "%s/ek", dir);
    JOBEXEC(f, NULL, "keygen", *key);
    assert_int_equal(f->p.status, 0);
    fp = fopen(cfg, "w");
    assert_non_null(fp);
    fprintf(fp, "plugins:\n  - path: noop\n    step_types: %s\n"
                "evidence:\n  log: %s\n  signing_key: %s\n",
            NOOP_TYPES_YAML, log, *key);
    fclose(fp);
    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    return log;
}

/* The public key of a `jobexec keygen` .pub file. */
static void read_pubkey(const char *path, unsigned char pk[32])
{
    char line[256];
    FILE *fp = fopen(path, "r");
    const char *tag = "jobexec-ed25519-public-key ";

    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_true(starts_with(line, tag));
    assert_int_equal(sodium_hex2bin(pk, 32, line + strlen(tag), 64, NULL,
                                    NULL, NULL),
                     0);
}

static size_t b64_decode(const char *b64, unsigned char *out, size_t cap)
{
    size_t len = 0;

    assert_int_equal(sodium_base642bin(out, cap, b64, strlen(b64), NULL,
                                       &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    return len;
}

/* Checks one DSSE envelope line by the spec, independently of jobexec's
 * code: PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP
 * body, signed with Ed25519.  Returns the statement (a new reference). */
static json_t *open_envelope(const char *line, const unsigned char pk[32])
{
    json_error_t jerr;
    json_t *env = json_loads(line, 0, &jerr);
    json_t *sigs, *st;
    const char *type, *payload;
    unsigned char body[65536], sig[64], pae[65600];
    size_t body_len, pae_len;
    char key_id[17];
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];

    assert_non_null(env);
    assert_int_equal(json_object_size(env), 3);
    type = json_string_value(json_object_get(env, "payloadType"));
    payload = json_string_value(json_object_get(env, "payload"));
    sigs = json_object_get(env, "signatures");
    assert_string_equal(type, "application/vnd.in-toto+json");
    assert_non_null(payload);
    assert_int_equal(json_array_size(sigs), 1);
    body_len = b64_decode(payload, body, sizeof body);
    assert_int_equal(b64_decode(json_string_value(json_object_get(
                                    json_array_get(sigs, 0), "sig")),
                                sig, sizeof sig),
                     64);
    pae_len = (size_t)snprintf((char *)pae, sizeof pae, "DSSEv1 %zu %s %zu ",
                               strlen(type), type, body_len);
    memcpy(pae + pae_len, body, body_len);
    pae_len += body_len;
    assert_int_equal(crypto_sign_verify_detached(sig, pae, pae_len, pk), 0);
    /* One flipped byte of the payload: the signature no longer holds. */
    pae[pae_len - 2] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sig, pae, pae_len, pk),
                         0);
    /* keyid is the key id seals name: SHA-256 of the public key, 16 hex. */
    crypto_hash_sha256(digest, pk, 32);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    memcpy(key_id, hex, 16);
    key_id[16] = '\0';
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(sigs, 0), "keyid")),
                        key_id);
    st = json_loadb((const char *)body, body_len, 0, &jerr);
    assert_non_null(st);
    json_decref(env);
    return st;
}

/* Line n (from 1) of path (the caller's to free), and its SHA-256 in
 * hex. */
static char *log_line(const char *path, int n, char hex[65])
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = 0;
    unsigned char digest[crypto_hash_sha256_BYTES];

    assert_non_null(fp);
    for (int i = 0; i < n; i++)
        len = getline(&line, &cap, fp);
    fclose(fp);
    assert_true(len > 1);
    line[--len] = '\0';
    crypto_hash_sha256(digest, (const unsigned char *)line, (size_t)len);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return line;
}

static const char *str_at(const json_t *obj, const char *path)
{
    json_t *v = (json_t *)obj;
    char buf[128], *save = NULL;

    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k != NULL;
         k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k))
                             : json_object_get(v, k);
    assert_non_null(json_string_value(v));
    return json_string_value(v);
}

static void test_export_in_toto(void **state)
{
    fixture *f = *state;
    const char *key, *log = make_log(f, &key);
    unsigned char pk[32];
    char hex[65], *save = NULL;
    char *out, *line;
    size_t n = 0;

    read_pubkey(fx_printf(f, "%s.pub", key), pk);
    JOBEXEC(f, NULL, "evidence", "export", log, "--job", PLAN_JOB,
            "--format", "in-toto", "--key", key);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_int_equal(count_lines(f->p.out), 3); /* one envelope per step */
    out = fx_keep(f, strdup(f->p.out));
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        json_t *st = open_envelope(line, pk);
        json_t *pred = json_object_get(st, "predicate");
        /* Records of step n: step_started on line 2n+2, step_finished on
         * line 2n+3 (line 1 is job_started). */
        char *fin = log_line(log, (int)(2 * n + 3), hex);
        json_t *rec = json_loads(fin, 0, NULL);
        char want[160];

        free(fin);

        assert_int_equal(json_object_size(st), 4);
        assert_string_equal(str_at(st, "_type"),
                            "https://in-toto.io/Statement/v1");
        assert_string_equal(str_at(st, "predicateType"),
                            "https://in-toto.io/attestation/link/v0.3");
        assert_int_equal(json_array_size(json_object_get(st, "subject")), 1);
        snprintf(want, sizeof want, "jobexec-evidence:%s/%zu/step_finished",
                 PLAN_JOB, 2 * n + 2);
        assert_string_equal(str_at(st, "subject.0.name"), want);
        assert_string_equal(str_at(st, "subject.0.digest.sha256"), hex);
        snprintf(want, sizeof want, "step-%zu", n);
        assert_string_equal(str_at(pred, "name"), want);
        assert_string_equal(str_at(pred, "command.0"),
                            str_at(rec, "step.step_type"));
        assert_string_equal(str_at(pred, "command.1"),
                            str_at(rec, "step.target"));
        assert_int_equal(json_array_size(json_object_get(pred, "materials")),
                         2);
        assert_string_equal(str_at(pred, "materials.0.name"),
                            "jobexec-plan:" PLAN_JOB);
        free(log_line(log, (int)(2 * n + 2), hex));
        snprintf(want, sizeof want, "jobexec-evidence:%s/%zu/step_started",
                 PLAN_JOB, 2 * n + 1);
        assert_string_equal(str_at(pred, "materials.1.name"), want);
        assert_string_equal(str_at(pred, "materials.1.digest.sha256"), hex);
        assert_string_equal(str_at(pred, "byproducts.status"), "COMPLETED");
        assert_string_equal(str_at(pred, "byproducts.output.handler"),
                            "noop");
        assert_string_equal(str_at(pred, "environment.job_id"), PLAN_JOB);
        assert_string_equal(str_at(pred, "environment.contract_id"),
                            E2E_CONTRACT);
        json_decref(rec);
        json_decref(st);
    }
    assert_int_equal(n, 3);
}

static void test_export_slsa(void **state)
{
    fixture *f = *state;
    const char *key, *log = make_log(f, &key);
    const char *out = fx_printf(f, "%s/slsa.jsonl", fx_dir(f));
    unsigned char pk[32];
    char hex[65], *text, *line;
    json_t *st, *pred, *start, *fin;
    size_t len;

    read_pubkey(fx_printf(f, "%s.pub", key), pk);
    JOBEXEC(f, NULL, "evidence", "export", log, "--job", PLAN_JOB,
            "--format", "slsa", "--key", key, "--pubkey",
            fx_printf(f, "%s.pub", key), "--output", out);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "");
    assert_string_equal(f->p.err, "");
    text = fx_keep(f, tu_read(out));
    len = strlen(text);
    assert_int_equal(count_lines(text), 1);
    text[len - 1] = '\0';
    st = open_envelope(text, pk);
    line = log_line(log, 1, hex);
    start = json_loads(line, 0, NULL);
    free(line);
    line = log_line(log, 8, hex);
    fin = json_loads(line, 0, NULL);
    free(line);
    pred = json_object_get(st, "predicate");
    assert_string_equal(str_at(st, "predicateType"),
                        "https://slsa.dev/provenance/v1");
    assert_string_equal(str_at(st, "subject.0.name"),
                        "jobexec-evidence:" PLAN_JOB "/7/job_finished");
    assert_string_equal(str_at(st, "subject.0.digest.sha256"), hex);
    assert_string_equal(str_at(pred, "buildDefinition.buildType"),
                        "urn:jobexec:buildType:job:v1");
    assert_string_equal(
        str_at(pred, "buildDefinition.externalParameters.contract_id"),
        E2E_CONTRACT);
    assert_string_equal(
        str_at(pred, "buildDefinition.externalParameters.plan_sha256"),
        str_at(start, "plan_sha256"));
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(json_object_get(pred,
                                                         "buildDefinition"),
                                         "externalParameters"),
                         "steps")),
                     3);
    assert_string_equal(
        str_at(pred, "buildDefinition.resolvedDependencies.0.digest.sha256"),
        str_at(start, "plan_sha256"));
    assert_string_equal(str_at(pred, "runDetails.builder.id"),
                        "urn:jobexec:executor:e2e-test");
    assert_string_equal(str_at(pred, "runDetails.metadata.invocationId"),
                        PLAN_JOB);
    assert_string_equal(str_at(pred, "runDetails.metadata.startedOn"),
                        str_at(start, "started_at"));
    assert_string_equal(str_at(pred, "runDetails.metadata.finishedOn"),
                        str_at(fin, "completed_at"));
    assert_string_equal(
        str_at(pred, "runDetails.byproducts.0.annotations.final_status"),
        "COMPLETED");
    json_decref(start);
    json_decref(fin);
    json_decref(st);
}

/* A log changed after the run is refused with verify's reason, exit 4,
 * and --output is not written. */
static void test_export_tampered(void **state)
{
    fixture *f = *state;
    const char *key, *log = make_log(f, &key);
    const char *out = fx_printf(f, "%s/out.jsonl", fx_dir(f));
    char *cmd = fx_printf(f, "sed -i '3s/CAP_E2E/CAP_EVE/' '%s'", log);

    assert_int_equal(system(cmd), 0);
    JOBEXEC(f, NULL, "evidence", "export", log, "--job", PLAN_JOB,
            "--format", "in-toto", "--key", key, "--output", out);
    assert_int_equal(f->p.status, 4);
    assert_string_equal(f->p.out, "");
    assert_string_equal(
        f->p.err,
        fx_printf(f, "jobexec: %s: not exported: " PLAN_JOB ": tampered: "
                     "line 3: the SHA-256 of line 3 does not match the prev of "
                     "line 4, the job's next record: one of them was "
                     "changed\n",
                  log));
    assert_null(fopen(out, "r"));
}

static void test_export_refusals(void **state)
{
    fixture *f = *state;
    const char *key, *log = make_log(f, &key);

    JOBEXEC(f, NULL, "evidence", "export", log, "--job", UNKNOWN_JOB,
            "--format", "in-toto", "--key", key);
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.out, "");
    assert_string_equal(f->p.err,
                        fx_printf(f, "jobexec: %s: no record of job "
                                     UNKNOWN_JOB "\n",
                                  log));
    JOBEXEC(f, NULL, "evidence", "export", log, "--job", PLAN_JOB,
            "--format", "spdx", "--key", key);
    assert_usage_error(&f->p, "jobexec: unknown --format 'spdx' (in-toto, "
                              "slsa)\nTry 'jobexec evidence --help' for "
                              "more information.\n");
    JOBEXEC(f, NULL, "evidence", "export", log, "--format", "slsa");
    assert_usage_error(&f->p, "jobexec: export needs --job ID and --format "
                              "in-toto|slsa\nTry 'jobexec evidence --help' "
                              "for more information.\n");
    /* A public key is no key to sign with. */
    JOBEXEC(f, NULL, "evidence", "export", log, "--job", PLAN_JOB,
            "--format", "slsa", "--key", fx_printf(f, "%s.pub", key));
    assert_int_equal(f->p.status, 2);
    assert_string_equal(f->p.out, "");
    assert_true(starts_with(f->p.err, "jobexec: signing key '"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_export_in_toto),
        TEST(test_export_slsa),
        TEST(test_export_tampered),
        TEST(test_export_refusals),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
