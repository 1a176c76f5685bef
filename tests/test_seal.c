/*
 * test_seal.c - Ed25519 keys and the signed seal of each job's chain:
 * the key file formats (checked against the RFC 8032 section 7.1 test
 * vectors), the refusals of evidence.signing_key, jx_keygen and
 * `jobexec keygen`, and jx_evidence_verify with a public key.
 *
 * Signatures and hashes are recomputed with libsodium, independently of
 * the core, from the bytes the log holds.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "testutil.h"

#define JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define JOB2 "3d5c8e1a-9f2b-4c7d-8e6f-1a2b3c4d5e6f"
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define CONFIG_NAME "keys.yaml"

#define SECRET_TAG "jobexec-ed25519-secret-key "
#define PUBLIC_TAG "jobexec-ed25519-public-key "
#define SEED_HEX_LEN 64
#define HEX_SHA256_SIZE (2 * crypto_hash_sha256_BYTES + 1)

/* The log line of job_finished for a job of n steps (1-based). */
#define FINISHED_LINE(n) (2 * (n) + 2)

/* ---- RFC 8032 section 7.1 ---------------------------------------------- */

typedef struct rfc_vector {
    const char *name;
    const char *seed; /* SECRET KEY */
    const char *pk;   /* PUBLIC KEY */
    const char *msg;  /* MESSAGE, hex */
    const char *sig;  /* SIGNATURE */
} rfc_vector;

static const rfc_vector rfc_test1 = {
    "TEST 1",
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb882"
    "1590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

static const rfc_vector rfc_test2 = {
    "TEST 2",
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1"
    "e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
};

static const rfc_vector rfc_test3 = {
    "TEST 3",
    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    "af82",
    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b"
    "538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
};

/* The message is 1023 bytes: 21 rows of 48 and one of 15. */
static const rfc_vector rfc_test1024 = {
    "TEST 1024",
    "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264b"
    "f09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996"
    "d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432"
    "826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da9"
    "03401aa62100ab5d1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628"
    "c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206b"
    "e6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70e"
    "b6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6"
    "079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c6"
    "5adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80"
    "c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22"
    "f04d83d1255dc51addd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2"
    "af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30"
    "c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb"
    "3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1d"
    "c54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276c"
    "d419c17a3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d"
    "5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504cc"
    "c493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba7"
    "7c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45"
    "a96768d40fd9d03412c091c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcd"
    "d306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
    "c60c905c15fc910840b94c00a0b9d0",
    "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371"
    "b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
};

/* The message is SHA-512("abc"); the test checks that too. */
static const rfc_vector rfc_test_sha_abc = {
    "TEST SHA(abc)",
    "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a219299"
    "2a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351f"
    "c9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
};

/* Decodes hex that the test itself typed; a typo fails loudly. */
static size_t unhex(const char *hex, unsigned char *bin, size_t max)
{
    size_t len = 0;
    const char *end = NULL;

    if (sodium_hex2bin(bin, max, hex, strlen(hex), NULL, &len, &end) != 0 ||
        *end != '\0')
        fail_msg("bad hex in the test: '%.40s...'", hex);
    return len;
}

static void sha256_hex(const void *data, size_t len, char out[HEX_SHA256_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(out, HEX_SHA256_SIZE, digest, sizeof digest);
}

/* The key id the seal must name: 16 hex digits of SHA-256(public key). */
static void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                      char out[17])
{
    char hex[HEX_SHA256_SIZE];

    sha256_hex(pk, crypto_sign_PUBLICKEYBYTES, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* ---- an in-process handler ---------------------------------------------- */

static int ok_execute(void *state, const jx_host_v1 *host,
                      const jx_context *ctx, const jx_step *step,
                      jx_output *out)
{
    (void)state;
    (void)ctx;
    host->out_int(out, "index", host->step_index(step));
    if (strcmp(host->step_type(step), "fail") == 0) {
        host->out_error(out, "refused by the target");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static const char *const ok_types[] = {"rec", "fail", NULL};

static const step_handler_v1 ok_handler = {
    JX_STEP_HANDLER_HEADER, "rec", "1.0.0", ok_types, 0, NULL, NULL,
    ok_execute, NULL,
};

/* ---- what jx_evidence_verify reported ----------------------------------- */

#define MAX_REPORTS 4

typedef struct seen_report {
    char job_id[40];
    jx_verdict verdict;
    uint64_t records;
    unsigned long bad_line;
    char reason[512];
    int torn, signed_seal, signature_checked;
} seen_report;

static struct {
    seen_report r[MAX_REPORTS];
    size_t n;
} reports;

static int on_job(const jx_job_report *r, void *user)
{
    seen_report *s;

    (void)user;
    if (reports.n >= MAX_REPORTS)
        return 0;
    s = &reports.r[reports.n++];
    snprintf(s->job_id, sizeof s->job_id, "%s", r->job_id);
    s->verdict = r->verdict;
    s->records = r->records;
    s->bad_line = r->bad_line;
    snprintf(s->reason, sizeof s->reason, "%s", r->reason);
    s->torn = r->torn;
    s->signed_seal = r->signed_seal;
    s->signature_checked = r->signature_checked;
    return 0;
}

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    const rfc_vector *vec; /* the vector of a vector test, else NULL */
    char *dir;
    char *log_path;
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    jx_error err;
    mode_t old_umask;
    char **kept; /* strings freed at teardown, even after a failure */
    size_t n_kept;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    f->vec = *state; /* the prestate of a vector test; NULL otherwise */
    memset(&reports, 0, sizeof reports);
    f->old_umask = umask(022);
    umask(f->old_umask);
    if ((f->dir = tu_mkdtemp()) == NULL ||
        asprintf(&f->log_path, "%s/evidence.jsonl", f->dir) < 0) {
        free(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Drops the executor and the config (an executor may be rebuilt within a
 * test with another key). */
static void drop_executor(fixture *f)
{
    jx_result_free(f->res);
    f->res = NULL;
    jx_plan_free(f->plan);
    f->plan = NULL;
    jx_executor_free(f->ex);
    f->ex = NULL;
    jx_config_free(f->cfg);
    f->cfg = NULL;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    umask(f->old_umask);
    drop_executor(f);
    for (size_t i = 0; i < f->n_kept; i++)
        free(f->kept[i]);
    free(f->kept);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->log_path);
    free(f);
    return 0;
}

/* ---- files -------------------------------------------------------------- */

/* Hands p to the fixture, which frees it at teardown. */
static char *keep(fixture *f, char *p)
{
    char **kept = realloc(f->kept, (f->n_kept + 1) * sizeof *kept);

    if (kept != NULL)
        f->kept = kept;
    if (p == NULL || kept == NULL) {
        free(p);
        fail_msg("out of memory");
    }
    f->kept[f->n_kept++] = p;
    return p;
}

static char *fmt(fixture *f, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* A formatted string that the fixture frees. */
static char *fmt(fixture *f, const char *format, ...)
{
    va_list ap;
    char *p = NULL;
    int n;

    va_start(ap, format);
    n = vasprintf(&p, format, ap);
    va_end(ap);
    return keep(f, n < 0 ? NULL : p);
}

static char *path_in(fixture *f, const char *name)
{
    return fmt(f, "%s/%s", f->dir, name);
}

static char *write_file(fixture *f, const char *name, const char *text,
                        mode_t mode)
{
    char *path = keep(f, tu_write(f->dir, name, text));

    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static char *write_key(fixture *f, const char *name, const char *tag,
                       const char *hex, mode_t mode)
{
    char *text = NULL, *path;

    assert_true(asprintf(&text, "%s%s\n", tag, hex) > 0);
    path = write_file(f, name, text, mode);
    free(text);
    return path;
}

static void overwrite(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* Line n (from 1) of a file without its newline; malloc'd. */
static char *line_of(const char *path, size_t n)
{
    char *text = tu_read(path), *p, *nl, *line;

    assert_non_null(text);
    p = text;
    for (size_t i = 1; i < n; i++) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            free(text);
            fail_msg("%s has fewer than %zu lines", path, n);
        }
        p = nl + 1;
    }
    nl = strchr(p, '\n');
    if (nl == NULL) {
        free(text);
        fail_msg("line %zu of %s has no newline", n, path);
    }
    line = strndup(p, (size_t)(nl - p));
    free(text);
    assert_non_null(line);
    return line;
}

/* Replaces the one occurrence of old in the file with new. */
static void replace_in_file(const char *path, const char *old,
                            const char *new)
{
    char *text = tu_read(path), *at, *out = NULL;

    assert_non_null(text);
    at = strstr(text, old);
    assert_non_null(at);
    assert_null(strstr(at + 1, old));
    assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, new,
                         at + strlen(old)) > 0);
    overwrite(path, out);
    free(out);
    free(text);
}

/* Reads the seed of a secret key file and the key of a public key file,
 * checking that each is exactly one line "TAG HEX\n". */
static void read_key_file(const char *path, const char *tag,
                          unsigned char out[32])
{
    char *text = tu_read(path);
    size_t tag_len = strlen(tag);

    assert_non_null(text);
    assert_int_equal(strlen(text), tag_len + SEED_HEX_LEN + 1);
    assert_memory_equal(text, tag, tag_len);
    assert_int_equal(text[tag_len + SEED_HEX_LEN], '\n');
    for (size_t i = tag_len; i < tag_len + SEED_HEX_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", text[i]));
    text[tag_len + SEED_HEX_LEN] = '\0';
    assert_int_equal(unhex(text + tag_len, out, 32), 32);
    free(text);
}

/* ---- config, executor, jobs --------------------------------------------- */

/* Parses an evidence section: line 1 "evidence:", line 2 the log (when
 * with_log), then signing_key (when given), its value at column 16. */
static int parse_config(fixture *f, const char *signing_key, int with_log)
{
    char *text = NULL;
    int rc;

    assert_true(asprintf(&text, "evidence:\n%s%s%s%s%s%s",
                         with_log ? "  log: \"" : "",
                         with_log ? f->log_path : "", with_log ? "\"\n" : "",
                         signing_key ? "  signing_key: \"" : "",
                         signing_key ? signing_key : "",
                         signing_key ? "\"\n" : "") > 0);
    rc = jx_config_parse(text, strlen(text), CONFIG_NAME, TU_PLUGINS,
                         &f->cfg, &f->err);
    free(text);
    return rc;
}

/* An executor logging to f->log_path, sealing with signing_key (NULL: an
 * unsigned seal), with the in-process handler. */
static void make_executor(fixture *f, const char *signing_key)
{
    drop_executor(f);
    if (parse_config(f, signing_key, 1) != 0)
        fail_msg("config: %s", f->err.message);
    if (jx_executor_new(f->cfg, &f->ex, &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
    if (jx_executor_add_handler(f->ex, &ok_handler, NULL, NULL, &f->err) !=
        0)
        fail_msg("add_handler: %s", f->err.message);
}

/* Runs job_id with n steps of type "rec" (the last "fail" when failing). */
static void run_job(fixture *f, const char *job_id, size_t n, int failing)
{
    char text[2048];
    size_t len;

    jx_plan_free(f->plan);
    f->plan = NULL;
    jx_result_free(f->res);
    f->res = NULL;
    len = (size_t)snprintf(text, sizeof text,
                           "job_id: %s\ncontract_id: " CONTRACT "\nsteps:\n",
                           job_id);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "  - {step_index: %zu, step_type: %s}\n", i,
                                failing && i == n - 1 ? "fail" : "rec");
    if (jx_plan_parse(text, len, "plan.yaml", &f->plan, &f->err) != 0)
        fail_msg("plan: %s", f->err.message);
    if (jx_executor_run(f->ex, f->plan, NULL, &f->res, &f->err) != 0)
        fail_msg("run: %s", f->err.message);
    assert_int_equal(jx_result_status(f->res),
                     failing ? JX_JOB_FAILED : JX_JOB_COMPLETED);
}

/* ---- the seal, recomputed ----------------------------------------------- */

typedef struct seal {
    int64_t seq;
    char head[HEX_SHA256_SIZE];
    char key_id[17];
    char sig_b64[128];
    unsigned char sig[crypto_sign_BYTES];
    char msg[256]; /* what the signature covers */
    size_t msg_len;
} seal;

/* Reads job_finished's seal from line and checks what needs no key: the
 * seal is the record's last member, head is SHA-256 of the record without
 * it, and the signed message is built as documented. */
static void read_seal(const char *line, const char *job_id, seal *s)
{
    static const char member[] = ",\"seal\":";
    json_error_t jerr;
    json_t *rec = json_loads(line, 0, &jerr), *js;
    const char *at, *sig, *kid;
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char head[HEX_SHA256_SIZE];
    size_t sig_len = 0;
    const char *end = NULL;

    if (rec == NULL)
        fail_msg("job_finished is not JSON (%s): %s", jerr.text, line);
    memset(s, 0, sizeof *s);
    assert_string_equal(json_string_value(json_object_get(rec, "event")),
                        "job_finished");
    assert_string_equal(json_string_value(json_object_get(rec, "job_id")),
                        job_id);
    assert_true(json_is_integer(json_object_get(rec, "seq")));
    s->seq = json_integer_value(json_object_get(rec, "seq"));
    js = json_object_get(rec, "seal");
    assert_true(json_is_object(js));
    assert_non_null(json_string_value(json_object_get(js, "head")));
    snprintf(s->head, sizeof s->head, "%s",
             json_string_value(json_object_get(js, "head")));
    sig = json_string_value(json_object_get(js, "sig"));
    kid = json_string_value(json_object_get(js, "key_id"));
    assert_true((sig == NULL) == (kid == NULL));
    assert_int_equal(json_object_size(js), sig != NULL ? 3 : 1);
    if (sig != NULL) {
        snprintf(s->key_id, sizeof s->key_id, "%s", kid);
        assert_int_equal(strlen(kid), 16);
        snprintf(s->sig_b64, sizeof s->sig_b64, "%s", sig);
        assert_int_equal(sodium_base642bin(s->sig, sizeof s->sig, sig,
                                           strlen(sig), NULL, &sig_len, &end,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(sig_len, crypto_sign_BYTES);
        assert_int_equal(*end, '\0');
    }
    json_decref(rec);

    /* One seal member, the last: the line ends with its closing braces. */
    at = strstr(line, member);
    assert_non_null(at);
    assert_null(strstr(at + 1, member));
    assert_int_equal(line[strlen(line) - 1], '}');
    assert_int_equal(line[strlen(line) - 2], '}');
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)line,
                              (size_t)(at - line));
    crypto_hash_sha256_update(&st, (const unsigned char *)"}", 1);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(head, sizeof head, digest, sizeof digest);
    assert_string_equal(s->head, head);

    s->msg_len = (size_t)snprintf(s->msg, sizeof s->msg,
                                  "jobexec:seal:v1\n%s\n%lld\n%s\n", job_id,
                                  (long long)s->seq, s->head);
}

/* Checks line n of the log as the signed seal of job_id by pk; when sk is
 * given, the signature must be exactly the one sk makes (Ed25519 is
 * deterministic). */
static void check_signed_seal(const char *log_path, size_t n,
                              const char *job_id, const unsigned char pk[32],
                              const unsigned char *sk, int64_t want_seq)
{
    char *line = line_of(log_path, n);
    char kid[17];
    seal s;

    read_seal(line, job_id, &s);
    free(line);
    assert_int_equal(s.seq, want_seq);
    key_id_of(pk, kid);
    assert_string_equal(s.key_id, kid);
    assert_int_equal(crypto_sign_verify_detached(
                         s.sig, (const unsigned char *)s.msg, s.msg_len, pk),
                     0);
    if (sk != NULL) {
        unsigned char mine[crypto_sign_BYTES];

        crypto_sign_detached(mine, NULL, (const unsigned char *)s.msg,
                             s.msg_len, sk);
        assert_memory_equal(mine, s.sig, sizeof mine);
    }
}

static int verify_log(const char *log_path, const char *pubkey,
                      jx_verify_summary *sum, jx_error *err)
{
    jx_verify_options vo = {pubkey, NULL, on_job, NULL};

    memset(&reports, 0, sizeof reports);
    return jx_evidence_verify(log_path, &vo, sum, err);
}

/* Asserts that the log verifies with pubkey: every one of n_jobs jobs
 * valid with its signature checked. */
static void assert_all_valid(fixture *f, const char *pubkey, size_t n_jobs)
{
    jx_verify_summary sum;

    if (verify_log(f->log_path, pubkey, &sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
    assert_int_equal(sum.jobs, n_jobs);
    assert_int_equal(sum.valid, n_jobs);
    assert_int_equal(sum.tampered, 0);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(reports.n, n_jobs);
    for (size_t i = 0; i < n_jobs; i++) {
        assert_int_equal(reports.r[i].verdict, JX_VERDICT_VALID);
        assert_string_equal(reports.r[i].reason, "");
        assert_int_equal(reports.r[i].signed_seal, 1);
        assert_int_equal(reports.r[i].signature_checked, pubkey != NULL);
    }
}

/* ---- 1. RFC 8032 vectors ------------------------------------------------ */

/* libsodium itself against the RFC: the seed maps to the public key and
 * signs the message into the RFC's signature. */
static void check_libsodium_on(const rfc_vector *v)
{
    unsigned char seed[32], pk[32], want_pk[32];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES], want_sig[crypto_sign_BYTES];
    unsigned char *msg = malloc(strlen(v->msg) / 2 + 1);
    size_t msg_len;

    assert_non_null(msg);
    assert_int_equal(unhex(v->seed, seed, sizeof seed), 32);
    assert_int_equal(unhex(v->pk, want_pk, sizeof want_pk), 32);
    assert_int_equal(unhex(v->sig, want_sig, sizeof want_sig), 64);
    msg_len = unhex(v->msg, msg, strlen(v->msg) / 2 + 1);
    assert_int_equal(msg_len, strlen(v->msg) / 2);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_memory_equal(pk, want_pk, 32);
    assert_int_equal(crypto_sign_detached(sig, NULL, msg, msg_len, sk), 0);
    assert_memory_equal(sig, want_sig, sizeof sig);
    assert_int_equal(crypto_sign_verify_detached(want_sig, msg, msg_len,
                                                 want_pk),
                     0);
    free(msg);
}

static void test_rfc8032_vectors_in_libsodium(void **state)
{
    unsigned char abc[crypto_hash_sha512_BYTES], msg[64];

    (void)state;
    check_libsodium_on(&rfc_test1);
    check_libsodium_on(&rfc_test2);
    check_libsodium_on(&rfc_test3);
    check_libsodium_on(&rfc_test1024);
    assert_int_equal(strlen(rfc_test1024.msg), 2 * 1023);
    check_libsodium_on(&rfc_test_sha_abc);
    crypto_hash_sha512(abc, (const unsigned char *)"abc", 3);
    unhex(rfc_test_sha_abc.msg, msg, sizeof msg);
    assert_memory_equal(abc, msg, sizeof abc);
}

/* A secret key file holding the RFC's seed seals jobs that verify with a
 * public key file holding the RFC's public key: the file formats are the
 * RFC's keys in hex.  Two jobs (one failing) share the log. */
static void test_rfc8032_key_files_seal_jobs(void **state)
{
    fixture *f = *state;
    const rfc_vector *v = f->vec;
    unsigned char seed[32], pk[32], sk[crypto_sign_SECRETKEYBYTES];
    char *secret = write_key(f, "rfc.key", SECRET_TAG, v->seed, 0600);
    char *public = write_key(f, "rfc.key.pub", PUBLIC_TAG, v->pk, 0644);

    print_message("%s\n", v->name);
    unhex(v->seed, seed, sizeof seed);
    unhex(v->pk, pk, sizeof pk);
    crypto_sign_seed_keypair(pk, sk, seed);

    make_executor(f, secret);
    run_job(f, JOB, 2, 0);
    run_job(f, JOB2, 3, 1);
    assert_int_equal(tu_count_lines(f->log_path),
                     FINISHED_LINE(2) + FINISHED_LINE(3));
    check_signed_seal(f->log_path, FINISHED_LINE(2), JOB, pk, sk,
                      FINISHED_LINE(2) - 1);
    check_signed_seal(f->log_path, FINISHED_LINE(2) + FINISHED_LINE(3), JOB2,
                      pk, sk, FINISHED_LINE(3) - 1);
    assert_all_valid(f, public, 2);
    assert_string_equal(reports.r[0].job_id, JOB);
    assert_int_equal(reports.r[0].records, FINISHED_LINE(2));
    assert_string_equal(reports.r[1].job_id, JOB2);
    assert_int_equal(reports.r[1].records, FINISHED_LINE(3));
    sodium_memzero(sk, sizeof sk);
}

/* A job without steps is sealed at seq 1. */
static void test_seal_of_empty_job(void **state)
{
    fixture *f = *state;
    unsigned char pk[32];
    char *secret = write_key(f, "k", SECRET_TAG, rfc_test2.seed, 0600);
    char *public = write_key(f, "k.pub", PUBLIC_TAG, rfc_test2.pk, 0644);

    unhex(rfc_test2.pk, pk, sizeof pk);
    make_executor(f, secret);
    run_job(f, JOB, 0, 0);
    assert_int_equal(tu_count_lines(f->log_path), 2);
    check_signed_seal(f->log_path, 2, JOB, pk, NULL, 1);
    assert_all_valid(f, public, 1);
}

/* ---- 2. refusals of evidence.signing_key -------------------------------- */

/* The executor refuses the key with JX_ECONFIG, naming the config line of
 * signing_key, and never touches the log. */
static void expect_key_refused(fixture *f, const char *key_path,
                               const char *reason)
{
    char *want;

    assert_int_equal(parse_config(f, key_path, 1), 0);
    assert_int_equal(jx_executor_new(f->cfg, &f->ex, &f->err), JX_ECONFIG);
    assert_null(f->ex);
    assert_int_equal(f->err.code, JX_ECONFIG);
    want = fmt(f, CONFIG_NAME ":3:16: signing key '%s': %s",
               key_path, reason);
    assert_string_equal(f->err.message, want);
    assert_int_equal(access(f->log_path, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    jx_config_free(f->cfg);
    f->cfg = NULL;
}

static void test_key_mode_0644_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0644);

    expect_key_refused(f, key, "mode 0644 lets group or others access it; "
                               "it must be 0600 or stricter");
}

static void test_key_mode_0640_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0640);

    expect_key_refused(f, key, "mode 0640 lets group or others access it; "
                               "it must be 0600 or stricter");
}

/* Any one group or other bit is enough to refuse. */
static void test_key_any_group_or_other_bit_refused(void **state)
{
    static const mode_t modes[] = {0601, 0602, 0604, 0610, 0620, 0660, 0707,
                                   0777};
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char reason[128];

        assert_int_equal(chmod(key, modes[i]), 0);
        snprintf(reason, sizeof reason,
                 "mode %04o lets group or others access it; it must be "
                 "0600 or stricter",
                 (unsigned)modes[i]);
        expect_key_refused(f, key, reason);
    }
}

/* Stricter than 0600 is fine, and so is the owner's execute bit. */
static void test_key_mode_0400_accepted(void **state)
{
    static const mode_t modes[] = {0400, 0600, 0700};
    fixture *f = *state;
    unsigned char pk[32];
    char *key = write_key(f, "k", SECRET_TAG, rfc_test3.seed, 0600);

    unhex(rfc_test3.pk, pk, sizeof pk);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(key, modes[i]), 0);
        make_executor(f, key);
        run_job(f, JOB, 1, 0);
        drop_executor(f);
        if (i == 0)
            check_signed_seal(f->log_path, FINISHED_LINE(1), JOB, pk, NULL,
                              FINISHED_LINE(1) - 1);
        assert_int_equal(unlink(f->log_path), 0);
    }
}

static void test_key_owned_by_another_user_refused(void **state)
{
    fixture *f = *state;
    char *key;

    if (geteuid() != 0) {
        print_message("skipped: changing a file's owner needs root\n");
        skip();
    }
    key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);
    assert_int_equal(chown(key, 65534, (gid_t)-1), 0);
    expect_key_refused(f, key, "owned by uid 65534, not by the executor's "
                               "user (uid 0)");
}

static void test_key_symlink_refused(void **state)
{
    fixture *f = *state;
    char *target = write_key(f, "real.key", SECRET_TAG, rfc_test1.seed, 0600);
    char *link = path_in(f, "link.key");

    assert_int_equal(symlink(target, link), 0);
    expect_key_refused(f, link, "cannot open: it is a symbolic link");
}

/* A public key file, even private to the user, is no signing key. */
static void test_key_public_key_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k.pub", PUBLIC_TAG, rfc_test1.pk, 0600);

    expect_key_refused(f, key, "holds a public key, not a secret key");
}

static void test_key_bad_hex_refused(void **state)
{
    static const char *const texts[] = {
        /* a letter that is not hex */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6g\n",
        /* 63 digits */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6\n",
        /* 62 digits: 31 bytes */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f\n",
        /* 66 digits: 33 bytes */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6000\n",
        /* nothing after the tag */
        SECRET_TAG "\n",
        /* a trailing space */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60 \n",
        /* a CRLF line end */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60\r\n",
        /* a second line */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60\n\n",
        /* two spaces after the tag */
        SECRET_TAG " 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac03"
                   "1cae7f60\n",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *key = write_file(f, "k", texts[i], 0600);

        print_message("key file %zu\n", i);
        expect_key_refused(f, key, "the key is not 64 hex digits");
    }
}

static void test_key_empty_file_refused(void **state)
{
    fixture *f = *state;
    char *key = write_file(f, "k", "", 0600);

    expect_key_refused(f, key, "not a key file written by `jobexec keygen` "
                               "(expected a line starting "
                               "'jobexec-ed25519-secret-key')");
}

static void test_key_missing_file_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "no-such.key");

    expect_key_refused(f, key, "cannot open: No such file or directory");
}

static void test_key_folder_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "keys.d");

    assert_int_equal(mkdir(key, 0700), 0);
    expect_key_refused(f, key, "not a regular file");
}

/* A NUL after the 64 digits hides whatever follows it from a string
 * comparison; the file is still not the one line keygen writes. */
static void test_key_nul_after_hex_refused(void **state)
{
    static const char text[] = SECRET_TAG
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
        "\0junk\n";
    fixture *f = *state;
    char *key = path_in(f, "k");
    FILE *fp = fopen(key, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(key, 0600), 0);
    expect_key_refused(f, key, "the key is not 64 hex digits");
}

/* Runs fn(f, path) in a child killed after 5 seconds, so that a call
 * that blocks fails the test instead of hanging the suite.  fn writes its
 * verdict to dir/child.out, which is returned (malloc'd). */
static char *in_child_with_deadline(fixture *f, const char *path,
                                    void (*fn)(fixture *, const char *,
                                               FILE *),
                                    const char *what)
{
    char *out_path = path_in(f, "child.out"), *text;
    pid_t pid;
    int status;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *out = fopen(out_path, "w");

        alarm(5);
        if (out == NULL)
            _exit(3);
        fn(f, path, out);
        _exit(fclose(out) == 0 ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        fail_msg("%s blocked for 5 seconds on a FIFO", what);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    text = tu_read(out_path);
    assert_non_null(text);
    return text;
}

static void new_executor_in_child(fixture *f, const char *key, FILE *out)
{
    int rc = parse_config(f, key, 1);

    if (rc == 0)
        rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    fprintf(out, "%d %s", rc, rc != 0 ? f->err.message : "");
}

/* Opening a FIFO for reading waits for a writer: the key must be refused
 * without waiting. */
static void test_key_fifo_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "k.fifo"), *text, *want;

    assert_int_equal(mkfifo(key, 0600), 0);
    text = in_child_with_deadline(f, key, new_executor_in_child,
                                  "jx_executor_new");
    want = fmt(f, "%d " CONFIG_NAME ":3:16: signing key '%s': ",
               JX_ECONFIG, key);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    assert_non_null(strstr(text + strlen(want), "regular file"));
    free(text);
}

static void test_signing_key_relative_path(void **state)
{
    fixture *f = *state;

    assert_int_equal(parse_config(f, "keys/evidence.key", 1), JX_ECONFIG);
    assert_null(f->cfg);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message,
                        CONFIG_NAME ":3:16: evidence.signing_key "
                                    "'keys/evidence.key' must be an "
                                    "absolute path");
}

static void test_signing_key_without_log(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);

    assert_int_equal(parse_config(f, key, 0), JX_ECONFIG);
    assert_null(f->cfg);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message,
                        CONFIG_NAME ":2:3: evidence.signing_key needs "
                                    "evidence.log: only the log is sealed");
}

/* ---- 3. jx_keygen and `jobexec keygen` ---------------------------------- */

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    return st.st_mode & 07777;
}

/* Checks a key pair written by keygen: both files one line in their format,
 * the public key derived from the seed, key_id its id, and the pair signs
 * and verifies. */
static void check_pair(const char *secret, const char *key_id)
{
    char *public = NULL, kid[17];
    unsigned char seed[32], pk[32], derived[32];
    unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    static const unsigned char msg[] = "jobexec:seal:v1\n";

    assert_true(asprintf(&public, "%s.pub", secret) > 0);
    read_key_file(secret, SECRET_TAG, seed);
    read_key_file(public, PUBLIC_TAG, pk);
    crypto_sign_seed_keypair(derived, sk, seed);
    assert_memory_equal(derived, pk, sizeof pk);
    key_id_of(pk, kid);
    assert_string_equal(key_id, kid);
    crypto_sign_detached(sig, NULL, msg, sizeof msg - 1, sk);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1,
                                                 pk),
                     0);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    free(public);
}

static void keygen_under_umask(fixture *f, mode_t mask)
{
    char *secret = path_in(f, mask == 0 ? "open.key" : "closed.key");
    char *public = fmt(f, "%s.pub", secret), key_id[17];

    umask(mask);
    if (jx_keygen(secret, key_id, &f->err) != 0)
        fail_msg("keygen: %s", f->err.message);
    umask(f->old_umask);
    assert_int_equal(mode_of(secret), 0600);
    assert_int_equal(mode_of(public), 0644);
    check_pair(secret, key_id);
}

static void test_keygen_modes_umask_0(void **state)
{
    keygen_under_umask(*state, 0);
}

static void test_keygen_modes_umask_077(void **state)
{
    keygen_under_umask(*state, 077);
}

static void test_keygen_pairs_differ(void **state)
{
    fixture *f = *state;
    char *a = path_in(f, "a.key"), *b = path_in(f, "b.key");
    char id_a[17], id_b[17];
    unsigned char seed_a[32], seed_b[32];

    assert_int_equal(jx_keygen(a, id_a, &f->err), 0);
    assert_int_equal(jx_keygen(b, id_b, &f->err), 0);
    check_pair(a, id_a);
    check_pair(b, id_b);
    read_key_file(a, SECRET_TAG, seed_a);
    read_key_file(b, SECRET_TAG, seed_b);
    assert_memory_not_equal(seed_a, seed_b, sizeof seed_a);
    assert_string_not_equal(id_a, id_b);
}

static void test_keygen_never_overwrites_secret(void **state)
{
    fixture *f = *state;
    char *secret = write_file(f, "k", "precious\n", 0600);
    char *public = path_in(f, "k.pub"), *want, *text;
    char key_id[17] = "unchanged";

    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    assert_int_equal(f->err.code, JX_EIO);
    want = fmt(f, "%s: cannot create: File exists (keys are "
               "never overwritten)",
               secret);
    assert_string_equal(f->err.message, want);
    text = tu_read(secret);
    assert_string_equal(text, "precious\n");
    assert_int_equal(access(public, F_OK), -1);
    free(text);
}

/* A .pub in the way: nothing is written and the secret half is not left
 * behind. */
static void test_keygen_never_overwrites_public(void **state)
{
    fixture *f = *state;
    char *public = write_file(f, "k.pub", "precious\n", 0644);
    char *secret = path_in(f, "k"), *want, *text;
    char key_id[17];

    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    want = fmt(f, "%s: cannot create: File exists (keys are "
               "never overwritten)",
               public);
    assert_string_equal(f->err.message, want);
    assert_int_equal(access(secret, F_OK), -1);
    text = tu_read(public);
    assert_string_equal(text, "precious\n");
    free(text);
}

/* A symbolic link where the key goes is not followed: the key would land
 * wherever the link points. */
static void test_keygen_does_not_follow_symlink(void **state)
{
    fixture *f = *state;
    char *target = path_in(f, "elsewhere.key"), *link = path_in(f, "k");
    char key_id[17];

    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(jx_keygen(link, key_id, &f->err), JX_EIO);
    assert_non_null(strstr(f->err.message, "keys are never overwritten"));
    assert_int_equal(access(target, F_OK), -1);
}

static void test_keygen_bad_arguments(void **state)
{
    fixture *f = *state;
    char key_id[17];
    char *secret = path_in(f, "no-such-dir/k");

    assert_int_equal(jx_keygen(NULL, key_id, &f->err), JX_EINVAL);
    assert_string_equal(f->err.message, "jx_keygen: NULL argument");
    assert_int_equal(jx_keygen(secret, NULL, &f->err), JX_EINVAL);
    assert_int_equal(jx_keygen(secret, key_id, &f->err), JX_EIO);
    assert_non_null(strstr(f->err.message, "cannot create: No such file or "
                                           "directory"));
}

/* The key id keygen announces is the one seals name, and the pair seals
 * jobs that verify. */
static void test_keygen_key_id_in_seal(void **state)
{
    fixture *f = *state;
    char *secret = path_in(f, "ev.key"), *public = path_in(f, "ev.key.pub");
    char key_id[17];
    unsigned char pk[32];
    seal s;
    char *line;

    assert_int_equal(jx_keygen(secret, key_id, &f->err), 0);
    read_key_file(public, PUBLIC_TAG, pk);
    make_executor(f, secret);
    run_job(f, JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, JOB, &s);
    free(line);
    assert_string_equal(s.key_id, key_id);
    check_signed_seal(f->log_path, FINISHED_LINE(1), JOB, pk, NULL,
                      FINISHED_LINE(1) - 1);
    assert_all_valid(f, public, 1);
}

static void test_cli_keygen(void **state)
{
    fixture *f = *state;
    char *secret = path_in(f, "cli.key"), *want;
    char *public = path_in(f, "cli.key.pub");
    const char *argv[] = {TU_JOBEXEC, "keygen", secret, NULL};
    unsigned char pk[32];
    char key_id[17];
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    read_key_file(public, PUBLIC_TAG, pk);
    key_id_of(pk, key_id);
    want = fmt(f, "secret key: %s\npublic key: %s.pub\n"
               "key id: %s\n",
               secret, secret, key_id);
    assert_string_equal(p.out, want);
    assert_int_equal(mode_of(secret), 0600);
    assert_int_equal(mode_of(public), 0644);
    check_pair(secret, key_id);
    tu_proc_free(&p);
}

static void test_cli_keygen_missing_file(void **state)
{
    const char *argv[] = {TU_JOBEXEC, "keygen", NULL};
    tu_proc p;

    (void)state;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_string_equal(p.err, "jobexec: missing FILE (where to write the "
                               "secret key)\nTry 'jobexec keygen --help' "
                               "for more information.\n");
    tu_proc_free(&p);
}

static void test_cli_keygen_two_files(void **state)
{
    fixture *f = *state;
    char *a = path_in(f, "a.key"), *b = path_in(f, "b.key");
    const char *argv[] = {TU_JOBEXEC, "keygen", a, b, NULL};
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_string_equal(p.err, fmt(f, "jobexec: unexpected argument '%s'\n"
                                      "Try 'jobexec keygen --help' for "
                                      "more information.\n",
                                   b));
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(access(b, F_OK), -1);
    tu_proc_free(&p);
}

static void test_cli_keygen_existing_file(void **state)
{
    fixture *f = *state;
    char *secret = write_file(f, "k", "precious\n", 0600), *want;
    const char *argv[] = {TU_JOBEXEC, "keygen", secret, NULL};
    char *text;
    tu_proc p;

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt(f, "jobexec: %s: cannot create: File exists "
               "(keys are never overwritten)\n",
               secret);
    assert_string_equal(p.err, want);
    text = tu_read(secret);
    assert_string_equal(text, "precious\n");
    free(text);
    tu_proc_free(&p);
}

/* ---- 4. verifying with keys --------------------------------------------- */

/* A fresh pair under dir/name; the fixture frees both paths. */
static void new_pair(fixture *f, const char *name, char **secret,
                     char **public, char key_id[17])
{
    *secret = path_in(f, name);
    *public = fmt(f, "%s.pub", *secret);
    if (jx_keygen(*secret, key_id, &f->err) != 0)
        fail_msg("keygen: %s", f->err.message);
}

static void expect_one_verdict(fixture *f, const char *pubkey,
                               jx_verdict verdict, unsigned long bad_line,
                               const char *reason)
{
    jx_verify_summary sum;

    if (verify_log(f->log_path, pubkey, &sum, &f->err) != 0)
        fail_msg("verify: %s", f->err.message);
    assert_int_equal(sum.jobs, 1);
    assert_int_equal(reports.n, 1);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(reports.r[0].verdict, verdict);
    assert_int_equal(reports.r[0].bad_line, bad_line);
    assert_string_equal(reports.r[0].reason, reason);
    assert_int_equal(sum.tampered, verdict == JX_VERDICT_TAMPERED);
    assert_int_equal(sum.valid, verdict == JX_VERDICT_VALID);
}

static void test_verify_with_right_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, key_id[17], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, key_id);
    make_executor(f, secret);
    run_job(f, JOB, 2, 0);
    expect_one_verdict(f, public, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 1);
    assert_int_equal(reports.r[0].signature_checked, 1);
    assert_int_equal(reports.r[0].records, FINISHED_LINE(2));

    argv[5] = public;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    want = fmt(f, JOB ": valid (%d records, signature "
               "checked)\n1 job: 1 valid, 0 incomplete, "
               "0 tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

static void test_verify_with_wrong_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, *other, *other_pub, id[17], other_id[17];
    char reason[128], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    new_pair(f, "other", &other, &other_pub, other_id);
    make_executor(f, secret);
    run_job(f, JOB, 2, 0);
    snprintf(reason, sizeof reason,
             "sealed by key %s, not by the given key %s", id, other_id);
    expect_one_verdict(f, other_pub, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       reason);

    argv[5] = other_pub;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 4);
    want = fmt(f, JOB ": tampered: line %d: %s\n1 job: 0 "
               "valid, 0 incomplete, 1 tampered\n",
               FINISHED_LINE(2), reason);
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* Replaces the seal's sig in the log (the seal keeps its key_id). */
static void replace_sig(fixture *f, size_t line_no, const char *new_sig)
{
    char *line = line_of(f->log_path, line_no), *old = NULL, *repl = NULL;
    seal s;

    read_seal(line, JOB, &s);
    assert_true(asprintf(&old, "\"sig\":\"%s\"", s.sig_b64) > 0);
    assert_true(asprintf(&repl, "\"sig\":\"%s\"", new_sig) > 0);
    replace_in_file(f->log_path, old, repl);
    free(old);
    free(repl);
    free(line);
}

/* The seal names the right key, but its signature was made by another key
 * over the very same message: the head still matches, the signature does
 * not. */
static void test_verify_forged_signature(void **state)
{
    fixture *f = *state;
    char *secret, *public, *forger, *forger_pub, id[17], forger_id[17];
    unsigned char seed[32], pk[32], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    char *line;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    new_pair(f, "forger", &forger, &forger_pub, forger_id);
    make_executor(f, secret);
    run_job(f, JOB, 2, 0);
    assert_all_valid(f, public, 1);

    /* The forger signs exactly the seal's message with his own key. */
    line = line_of(f->log_path, FINISHED_LINE(2));
    read_seal(line, JOB, &s);
    free(line);
    read_key_file(forger, SECRET_TAG, seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(sig, NULL, (const unsigned char *)s.msg, s.msg_len,
                         sk);
    sodium_memzero(sk, sizeof sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    replace_sig(f, FINISHED_LINE(2), b64);
    line = line_of(f->log_path, FINISHED_LINE(2));
    read_seal(line, JOB, &s);
    free(line);
    assert_string_equal(s.key_id, id);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       "the seal's signature does not verify with the "
                       "given key");
    assert_int_equal(reports.r[0].signature_checked, 1);
    /* Without a key, the forged seal still reads as signed. */
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
}

/* A changed character, a truncated signature, one that is not base64 and
 * one with padding added: none verifies. */
static void test_verify_damaged_signature(void **state)
{
    static const char *const kinds[] = {"flipped", "short", "not base64",
                                        "padded"};
    fixture *f = *state;
    char *secret, *public, id[17];

    new_pair(f, "k", &secret, &public, id);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *line, bad[160];
        seal s;

        assert_int_equal(unlink(f->log_path) == 0 || errno == ENOENT, 1);
        make_executor(f, secret);
        run_job(f, JOB, 1, 0);
        line = line_of(f->log_path, FINISHED_LINE(1));
        read_seal(line, JOB, &s);
        free(line);
        snprintf(bad, sizeof bad, "%s", s.sig_b64);
        if (k == 0)
            bad[10] = bad[10] == 'A' ? 'B' : 'A';
        else if (k == 1)
            bad[40] = '\0';
        else if (k == 2)
            memcpy(bad, "!!!!", 4);
        else
            snprintf(bad, sizeof bad, "%s==", s.sig_b64);
        print_message("signature %s: %s\n", kinds[k], bad);
        replace_sig(f, FINISHED_LINE(1), bad);
        expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                           "the seal's signature does not verify with the "
                           "given key");
    }
}

/* A seal stripped of its key_id but keeping a damaged sig is still checked
 * against the given key. */
static void test_verify_damaged_signature_without_key_id(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, JOB, &s);
    free(line);
    s.sig_b64[10] = s.sig_b64[10] == 'A' ? 'B' : 'A';
    replace_sig(f, FINISHED_LINE(1), s.sig_b64);
    assert_true(asprintf(&old, ",\"key_id\":\"%s\"", id) > 0);
    replace_in_file(f->log_path, old, "");
    free(old);
    /* A signature without its key_id is no seal jobexec writes. */
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                       "the seal is not as jobexec writes it: members were "
                       "added, removed or moved after sealing");
}

static void test_verify_unsigned_log_with_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17];
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", NULL, NULL};
    char *want;
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, NULL);
    run_job(f, JOB, 2, 0);
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 0);
    assert_int_equal(reports.r[0].signature_checked, 0);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(2),
                       "the seal is not signed, but a public key was given");

    argv[5] = public;
    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 4);
    want = fmt(f, JOB ": tampered: line %d: the seal is not "
               "signed, but a public key was given\n"
               "1 job: 0 valid, 0 incomplete, 1 "
               "tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* A signed seal whose sig and key_id were cut off reads as unsigned, which
 * only a key reveals. */
static void test_verify_stripped_signature(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, JOB, &s);
    free(line);
    assert_true(asprintf(&old, ",\"key_id\":\"%s\",\"sig\":\"%s\"", id,
                         s.sig_b64) > 0);
    replace_in_file(f->log_path, old, "");
    free(old);
    expect_one_verdict(f, public, JX_VERDICT_TAMPERED, FINISHED_LINE(1),
                       "the seal is not signed, but a public key was given");
}

static void test_verify_signed_log_without_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          NULL};
    tu_proc p;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, JOB, 2, 0);
    expect_one_verdict(f, NULL, JX_VERDICT_VALID, 0, "");
    assert_int_equal(reports.r[0].signed_seal, 1);
    assert_int_equal(reports.r[0].signature_checked, 0);

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 0);
    want = fmt(f, JOB ": valid (%d records, signed; signature "
               "not checked: no --pubkey)\n1 job: 1 "
               "valid, 0 incomplete, 0 tampered\n",
               FINISHED_LINE(2));
    assert_string_equal(p.out, want);
    tu_proc_free(&p);
}

/* Jobs sealed by two keys in one log: each is judged on its own. */
static void test_verify_two_keys_in_one_log(void **state)
{
    fixture *f = *state;
    char *a, *a_pub, *b, *b_pub, id_a[17], id_b[17], reason[128];
    jx_verify_summary sum;

    new_pair(f, "a", &a, &a_pub, id_a);
    new_pair(f, "b", &b, &b_pub, id_b);
    make_executor(f, a);
    run_job(f, JOB, 1, 0);
    make_executor(f, b);
    run_job(f, JOB2, 1, 0);
    assert_int_equal(verify_log(f->log_path, a_pub, &sum, &f->err), 0);
    assert_int_equal(sum.jobs, 2);
    assert_int_equal(sum.valid, 1);
    assert_int_equal(sum.tampered, 1);
    assert_string_equal(reports.r[0].job_id, JOB);
    assert_int_equal(reports.r[0].verdict, JX_VERDICT_VALID);
    assert_int_equal(reports.r[0].signature_checked, 1);
    assert_string_equal(reports.r[1].job_id, JOB2);
    assert_int_equal(reports.r[1].verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(reports.r[1].bad_line, 2 * FINISHED_LINE(1));
    snprintf(reason, sizeof reason,
             "sealed by key %s, not by the given key %s", id_b, id_a);
    assert_string_equal(reports.r[1].reason, reason);
}

/* jx_evidence_verify refuses a public key it cannot use, whatever the log
 * holds. */
static void expect_pubkey_refused(fixture *f, const char *pubkey,
                                  const char *reason)
{
    jx_verify_summary sum;
    char *want;
    const char *argv[] = {TU_JOBEXEC, "evidence", "verify", f->log_path,
                          "--pubkey", pubkey, NULL};
    tu_proc p;

    reports.n = 0;
    assert_int_equal(verify_log(f->log_path, pubkey, &sum, &f->err),
                     JX_EKEY);
    assert_int_equal(f->err.code, JX_EKEY);
    assert_int_equal(reports.n, 0);
    want = fmt(f, "public key '%s': %s", pubkey, reason);
    assert_string_equal(f->err.message, want);

    tu_run(&p, NULL, argv);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt(f, "jobexec: public key '%s': %s\n", pubkey,
               reason);
    assert_string_equal(p.err, want);
    tu_proc_free(&p);
}

static void verify_in_child(fixture *f, const char *pubkey, FILE *out)
{
    jx_verify_options vo = {pubkey, NULL, NULL, NULL};
    jx_verify_summary sum;
    int rc = jx_evidence_verify(f->log_path, &vo, &sum, &f->err);

    fprintf(out, "%d %s", rc, rc != 0 ? f->err.message : "");
}

static void test_verify_public_key_fifo_refused(void **state)
{
    fixture *f = *state;
    char *pubkey = path_in(f, "k.pub"), *text, *want;

    make_executor(f, NULL);
    run_job(f, JOB, 1, 0);
    assert_int_equal(mkfifo(pubkey, 0644), 0);
    text = in_child_with_deadline(f, pubkey, verify_in_child,
                                  "jx_evidence_verify");
    want = fmt(f, "%d public key '%s': ", JX_EKEY, pubkey);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    free(text);
}

/* A member appended after the seal is covered neither by the head nor by
 * the signature: the record was changed after sealing. */
static void test_verify_member_after_seal(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *line, *old = NULL, *new = NULL;
    seal s;

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, JOB, 1, 0);
    line = line_of(f->log_path, FINISHED_LINE(1));
    read_seal(line, JOB, &s);
    free(line);
    assert_true(asprintf(&old, "\"sig\":\"%s\"}}", s.sig_b64) > 0);
    assert_true(asprintf(&new, "\"sig\":\"%s\"},\"approved_by\":"
                               "\"mallory\"}",
                         s.sig_b64) > 0);
    replace_in_file(f->log_path, old, new);
    free(old);
    free(new);
    for (int with_key = 1; with_key >= 0; with_key--) {
        jx_verify_summary sum;

        assert_int_equal(verify_log(f->log_path, with_key ? public : NULL,
                                    &sum, &f->err),
                         0);
        assert_int_equal(reports.n, 1);
        assert_int_equal(sum.valid, 0);
        assert_int_equal(reports.r[0].verdict, JX_VERDICT_TAMPERED);
        assert_int_equal(reports.r[0].bad_line, FINISHED_LINE(1));
        assert_true(reports.r[0].reason[0] != '\0');
    }
}

static void test_verify_malformed_public_key(void **state)
{
    fixture *f = *state;
    char *secret, *public, id[17], *bad, *missing = path_in(f, "none.pub");

    new_pair(f, "k", &secret, &public, id);
    make_executor(f, secret);
    run_job(f, JOB, 1, 0);

    bad = write_key(f, "bad.pub", PUBLIC_TAG,
                    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68"
                    "f70751",
                    0644);
    expect_pubkey_refused(f, bad, "the key is not 64 hex digits");
    bad = write_key(f, "bad.pub", PUBLIC_TAG,
                    "x75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68"
                    "f707511a",
                    0644);
    expect_pubkey_refused(f, bad, "the key is not 64 hex digits");
    bad = write_file(f, "bad.pub", "", 0644);
    expect_pubkey_refused(f, bad, "not a key file written by `jobexec "
                                  "keygen` (expected a line starting "
                                  "'jobexec-ed25519-public-key')");
    bad = write_file(f, "bad.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n",
                     0644);
    expect_pubkey_refused(f, bad, "not a key file written by `jobexec "
                                  "keygen` (expected a line starting "
                                  "'jobexec-ed25519-public-key')");
    /* The secret half given where the public one belongs. */
    expect_pubkey_refused(f, secret, "holds a secret key, not a public key");
    expect_pubkey_refused(f, missing, "cannot open: No such file or "
                                      "directory");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
#define V(vec)                                                                \
    cmocka_unit_test_prestate_setup_teardown(                                 \
        test_rfc8032_key_files_seal_jobs, fx_setup, fx_teardown,              \
        (void *)&(vec))
    const struct CMUnitTest tests[] = {
        T(test_rfc8032_vectors_in_libsodium),
        V(rfc_test1),
        V(rfc_test2),
        V(rfc_test3),
        V(rfc_test1024),
        V(rfc_test_sha_abc),
        T(test_seal_of_empty_job),
        T(test_key_mode_0644_refused),
        T(test_key_mode_0640_refused),
        T(test_key_any_group_or_other_bit_refused),
        T(test_key_mode_0400_accepted),
        T(test_key_owned_by_another_user_refused),
        T(test_key_symlink_refused),
        T(test_key_public_key_refused),
        T(test_key_bad_hex_refused),
        T(test_key_empty_file_refused),
        T(test_key_missing_file_refused),
        T(test_key_folder_refused),
        T(test_key_nul_after_hex_refused),
        T(test_key_fifo_refused),
        T(test_signing_key_relative_path),
        T(test_signing_key_without_log),
        T(test_keygen_modes_umask_0),
        T(test_keygen_modes_umask_077),
        T(test_keygen_pairs_differ),
        T(test_keygen_never_overwrites_secret),
        T(test_keygen_never_overwrites_public),
        T(test_keygen_does_not_follow_symlink),
        T(test_keygen_bad_arguments),
        T(test_keygen_key_id_in_seal),
        T(test_cli_keygen),
        T(test_cli_keygen_missing_file),
        T(test_cli_keygen_two_files),
        T(test_cli_keygen_existing_file),
        T(test_verify_with_right_key),
        T(test_verify_with_wrong_key),
        T(test_verify_forged_signature),
        T(test_verify_damaged_signature),
        T(test_verify_damaged_signature_without_key_id),
        T(test_verify_unsigned_log_with_key),
        T(test_verify_stripped_signature),
        T(test_verify_signed_log_without_key),
        T(test_verify_two_keys_in_one_log),
        T(test_verify_public_key_fifo_refused),
        T(test_verify_member_after_seal),
        T(test_verify_malformed_public_key),
    };
#undef V
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
