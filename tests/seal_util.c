/*
 * seal_util.c - see seal_util.h.
 */
#include "config.h"

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

#include "seal_util.h"

const rfc_vector rfc_test1 = {
    "TEST 1",
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb882"
    "1590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

const rfc_vector rfc_test2 = {
    "TEST 2",
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1"
    "e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
};

const rfc_vector rfc_test3 = {
    "TEST 3",
    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    "af82",
    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b"
    "538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
};

/* The message is 1023 bytes: 21 rows of 48 and one of 15. */
const rfc_vector rfc_test1024 = {
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
const rfc_vector rfc_test_sha_abc = {
    "TEST SHA(abc)",
    "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a219299"
    "2a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351f"
    "c9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
};

size_t unhex(const char *hex, unsigned char *bin, size_t max)
{
    size_t len = 0;
    const char *end = NULL;

    if (sodium_hex2bin(bin, max, hex, strlen(hex), NULL, &len, &end) != 0 ||
        *end != '\0')
        fail_msg("bad hex in the test: '%.40s...'", hex);
    return len;
}

void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
               char out[17])
{
    char hex[TU_SHA256_HEX_SIZE];

    tu_sha256_hex(pk, crypto_sign_PUBLICKEYBYTES, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* ---- what jx_evidence_verify reported ----------------------------------- */

seen_reports reports;

int on_job(const jx_job_report *r, void *user)
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

int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    f->vec = *state; /* the prestate of a vector test; NULL otherwise */
    memset(&reports, 0, sizeof reports);
    f->old_umask = umask(022);
    umask(f->old_umask);
    if (tu_temp_log(&f->dir, &f->log_path) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

void drop_executor(fixture *f)
{
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    umask(f->old_umask);
    drop_executor(f);
    for (size_t i = 0; i < f->n_kept; i++)
        free(f->kept[i]);
    free(f->kept);
    tu_temp_free(f->dir);
    free(f->log_path);
    free(f);
    return 0;
}

/* ---- files -------------------------------------------------------------- */

char *keep(fixture *f, char *p)
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

char *fmt(fixture *f, const char *format, ...)
{
    va_list ap;
    char *p = NULL;
    int n;

    va_start(ap, format);
    n = vasprintf(&p, format, ap);
    va_end(ap);
    return keep(f, n < 0 ? NULL : p);
}

char *path_in(fixture *f, const char *name)
{
    return fmt(f, "%s/%s", f->dir, name);
}

char *write_file(fixture *f, const char *name, const char *text,
                 mode_t mode)
{
    char *path = keep(f, tu_write(f->dir, name, text));

    assert_int_equal(chmod(path, mode), 0);
    return path;
}

char *write_key(fixture *f, const char *name, const char *tag,
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

char *line_of(const char *path, size_t n)
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

void replace_in_file(const char *path, const char *old,
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

void read_key_file(const char *path, const char *tag,
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

int parse_config(fixture *f, const char *signing_key, int with_log)
{
    return tu_config_parsef(&f->cfg, &f->err, CONFIG_NAME, TU_PLUGINS,
                            "evidence:\n%s%s%s%s%s%s",
                            with_log ? "  log: \"" : "",
                            with_log ? f->log_path : "",
                            with_log ? "\"\n" : "",
                            signing_key ? "  signing_key: \"" : "",
                            signing_key ? signing_key : "",
                            signing_key ? "\"\n" : "");
}

void make_executor(fixture *f, const char *signing_key)
{
    drop_executor(f);
    if (parse_config(f, signing_key, 1) != 0)
        fail_msg("config: %s", f->err.message);
    tu_executor(f->cfg, &tu_rec_handler, &f->ex, &f->err);
}

void run_job(fixture *f, const char *job_id, size_t n, int failing)
{
    tu_drop_job(&f->res, &f->plan, NULL, NULL);
    tu_plan_steps(&f->plan, &f->err, job_id, n, "rec",
                  failing && n > 0 ? (int64_t)n - 1 : -1, "fail");
    tu_run_job(f->ex, f->plan, NULL, &f->res, &f->err);
    assert_int_equal(jx_result_status(f->res),
                     failing ? JX_JOB_FAILED : JX_JOB_COMPLETED);
}

void read_seal(const char *line, const char *job_id, seal *s)
{
    static const char member[] = ",\"seal\":";
    json_error_t jerr;
    json_t *rec = json_loads(line, 0, &jerr), *js;
    const char *at, *sig, *kid;
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char head[TU_SHA256_HEX_SIZE];
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

void check_signed_seal(const char *log_path, size_t n,
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

int verify_log(const char *log_path, const char *pubkey,
               jx_verify_summary *sum, jx_error *err)
{
    jx_verify_options vo = {pubkey, NULL, on_job, NULL};

    memset(&reports, 0, sizeof reports);
    return jx_evidence_verify(log_path, &vo, sum, err);
}

void assert_all_valid(fixture *f, const char *pubkey, size_t n_jobs)
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

char *in_child_with_deadline(fixture *f, const char *path,
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
