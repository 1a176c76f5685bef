/*
 * test_verify.c - checking an evidence log: jx_evidence_verify() and
 * `jobexec evidence verify|show`.
 *
 * The logs are written by running real jobs (the noop plugin, a signing
 * key from jx_keygen) and then damaged the ways an intruder or a crash
 * would: bytes changed, lines dropped, swapped, duplicated, spliced from
 * another job, the tail cut, garbage added.  Every case asserts the
 * verdict, the first bad line and the reason through the API, and the exit
 * status and printed line through the CLI.
 */
#include "config.h"

#include <pthread.h>
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

#include "testutil.h"

#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define UNKNOWN_JOB "00000000-0000-4000-8000-000000000000"
#define ALL_DONE "All steps completed successfully"
#define ID_LEN 36
#define MAX_REPORTS 32

/* A job of n steps writes job_started, step_started and step_finished per
 * step, and job_finished. */
#define LINES_OF(n) (2 * (n) + 2)

typedef struct fixture {
    char *dir;
    char *key;  /* secret key, for evidence.signing_key */
    char *pub;  /* its public key */
    char key_id[17];
    char *log;  /* dir/log.jsonl */
    char *copy; /* dir/copy.jsonl: the damaged log */
} fixture;

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    jx_error err = {0, ""};

    assert_non_null(f);
    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->key = path_in(f->dir, "seal.key");
    f->pub = path_in(f->dir, "seal.key.pub");
    f->log = path_in(f->dir, "log.jsonl");
    f->copy = path_in(f->dir, "copy.jsonl");
    if (jx_keygen(f->key, f->key_id, &err) != 0)
        fail_msg("keygen: %s", err.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->key);
    free(f->pub);
    free(f->log);
    free(f->copy);
    free(f);
    return 0;
}

/* ---- writing logs by running jobs -------------------------------------- */

/* An executor logging to log, sealing with key (NULL: unsigned seals). */
static jx_executor *make_executor(const char *log, const char *key)
{
    char *text = NULL, *sign = NULL;
    jx_config *cfg = NULL;
    jx_executor *ex = NULL;
    jx_error err = {0, ""};

    if (key != NULL)
        assert_true(asprintf(&sign, ", signing_key: \"%s\"", key) > 0);
    assert_true(asprintf(&text,
                         "plugins:\n"
                         "  - path: noop\n"
                         "    step_types: [capability_enable, "
                         "configuration_change]\n"
                         "evidence: {log: \"%s\", fsync: none%s}\n",
                         log, sign != NULL ? sign : "") > 0);
    free(sign);
    if (jx_config_parse(text, strlen(text), "verify.yaml", TU_PLUGINS, &cfg,
                        &err) != 0) {
        free(text);
        fail_msg("config: %s", err.message);
    }
    free(text);
    if (jx_executor_new(cfg, &ex, &err) != 0) {
        jx_config_free(cfg);
        fail_msg("executor: %s", err.message);
    }
    jx_config_free(cfg);
    return ex;
}

/* Runs a plan of n_steps without a job_id (each run gets a fresh one) and
 * copies the job's id to id. */
/* Runs a job of n_steps (as job_id, or a new one when NULL); id gets the
 * job_id it ran as. */
static void run_job_as(jx_executor *ex, size_t n_steps, const char *job_id,
                       char id[ID_LEN + 1])
{
    char text[2048];
    size_t len;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    len = (size_t)snprintf(text, sizeof text,
                           "%s%s%scontract_id: " CONTRACT "\nsteps:\n",
                           job_id ? "job_id: " : "", job_id ? job_id : "",
                           job_id ? "\n" : "");
    for (size_t i = 0; i < n_steps; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "  - {step_index: %zu, step_type: %s, "
                                "target: CAP_%zu}\n",
                                i,
                                i % 2 ? "configuration_change"
                                      : "capability_enable",
                                i);
    if (jx_plan_parse(text, len, "plan.yaml", &plan, &err) != 0)
        fail_msg("plan: %s", err.message);
    if (jx_executor_run(ex, plan, NULL, &res, &err) != 0) {
        jx_plan_free(plan);
        fail_msg("run: %s", err.message);
    }
    assert_int_equal(jx_result_status(res), JX_JOB_COMPLETED);
    assert_int_equal(strlen(jx_result_job_id(res)), ID_LEN);
    memcpy(id, jx_result_job_id(res), ID_LEN + 1);
    jx_result_free(res);
    jx_plan_free(plan);
}

static void run_job(jx_executor *ex, size_t n_steps, char id[ID_LEN + 1])
{
    run_job_as(ex, n_steps, NULL, id);
}

/* Writes n_jobs jobs of n_steps each, one after the other, to log. */
static void make_log(const char *log, const char *key, size_t n_jobs,
                     size_t n_steps, char ids[][ID_LEN + 1])
{
    jx_executor *ex = make_executor(log, key);

    for (size_t i = 0; i < n_jobs; i++)
        run_job(ex, n_steps, ids[i]);
    jx_executor_free(ex);
    assert_int_equal(tu_count_lines(log), n_jobs * LINES_OF(n_steps));
}

/* ---- lines of a file ---------------------------------------------------- */

typedef struct lines {
    char *text;  /* the whole file */
    char **v;    /* v[i] points into text: line i + 1, with its newline */
    size_t *len; /* its length, newline included */
    size_t n;
} lines;

static void read_lines(const char *path, lines *l)
{
    char *p;

    memset(l, 0, sizeof *l);
    l->text = tu_read(path);
    assert_non_null(l->text);
    for (p = l->text; *p != '\0'; p = strchr(p, '\n') + 1) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl); /* the logs written here end with a newline */
        l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
        l->len = realloc(l->len, (l->n + 1) * sizeof *l->len);
        assert_non_null(l->v);
        assert_non_null(l->len);
        l->v[l->n] = p;
        l->len[l->n] = (size_t)(nl - p) + 1;
        l->n++;
    }
}

static void free_lines(lines *l)
{
    free(l->text);
    free(l->v);
    free(l->len);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Writes the lines of l named by order (1-based line numbers; 0 ends the
 * list) to path. */
static void write_order(const char *path, const lines *l, const size_t *order)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    for (size_t i = 0; order[i] != 0; i++) {
        assert_true(order[i] <= l->n);
        assert_int_equal(fwrite(l->v[order[i] - 1], 1, l->len[order[i] - 1],
                                fp),
                         l->len[order[i] - 1]);
    }
    assert_int_equal(fclose(fp), 0);
}

/* ---- verifying ---------------------------------------------------------- */

typedef struct report {
    char job_id[ID_LEN + 1];
    jx_verdict verdict;
    uint64_t records;
    unsigned long first_line, bad_line;
    char reason[512];
    int torn, signed_seal, signature_checked;
    int has_final;
    char final_status[32];
    unsigned run, runs;
} report;

typedef struct reports {
    report r[MAX_REPORTS];
    size_t n;
} reports;

static int collect(const jx_job_report *r, void *user)
{
    reports *g = user;
    report *o;

    assert_true(g->n < MAX_REPORTS);
    o = &g->r[g->n++];
    snprintf(o->job_id, sizeof o->job_id, "%s", r->job_id);
    o->verdict = r->verdict;
    o->records = r->records;
    o->first_line = r->first_line;
    o->bad_line = r->bad_line;
    assert_non_null(r->reason);
    snprintf(o->reason, sizeof o->reason, "%s", r->reason);
    o->torn = r->torn;
    o->signed_seal = r->signed_seal;
    o->signature_checked = r->signature_checked;
    o->has_final = r->final_status != NULL;
    snprintf(o->final_status, sizeof o->final_status, "%s",
             r->final_status != NULL ? r->final_status : "");
    o->run = r->run;
    o->runs = r->runs;
    return 0;
}

/* Verifies path (with pub, for job when not NULL) and expects it read. */
static void verify(const char *path, const char *pub, const char *job,
                   reports *g, jx_verify_summary *sum)
{
    jx_verify_options o = {pub, job, collect, g};
    jx_error err = {0, ""};

    memset(g, 0, sizeof *g);
    if (jx_evidence_verify(path, &o, sum, &err) != 0)
        fail_msg("verify %s: %s", path, err.message);
    assert_int_equal(g->n, sum->jobs);
}

static void assert_valid(const report *r, const char *id, uint64_t records,
                         unsigned long first_line, int checked)
{
    assert_string_equal(r->job_id, id);
    assert_int_equal(r->verdict, JX_VERDICT_VALID);
    assert_int_equal(r->records, records);
    assert_int_equal(r->first_line, first_line);
    assert_int_equal(r->bad_line, 0);
    assert_string_equal(r->reason, "");
    assert_int_equal(r->torn, 0);
    assert_int_equal(r->signed_seal, 1);
    assert_int_equal(r->signature_checked, checked);
    assert_true(r->has_final);
    assert_string_equal(r->final_status, "COMPLETED");
}

static void assert_tampered(const report *r, const char *id,
                            unsigned long bad_line, const char *reason)
{
    assert_string_equal(r->job_id, id);
    assert_int_equal(r->verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(r->bad_line, bad_line);
    assert_string_equal(r->reason, reason);
}

/* The summary's counts. */
static void assert_counts(const jx_verify_summary *s, size_t jobs,
                          size_t valid, size_t incomplete, size_t tampered)
{
    assert_int_equal(s->jobs, jobs);
    assert_int_equal(s->valid, valid);
    assert_int_equal(s->incomplete, incomplete);
    assert_int_equal(s->tampered, tampered);
}

static const char *const INTERRUPTED =
    "no seal: the job was interrupted, or the log's tail was cut";
static const char *const TORN =
    "no seal: the file ends in a torn record of this job (a write was "
    "interrupted)";

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, f);
    n = vasprintf(&s, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    return s;
}

/* "the SHA-256 of line k does not match the prev of line k + 1, ..." */
static char *hash_reason(unsigned long k)
{
    return fmt("the SHA-256 of line %lu does not match the prev of line %lu, "
               "the job's next record: one of them was changed",
               k, k + 1);
}

static char *seq_reason(unsigned long seq, unsigned long expected)
{
    return fmt("seq %lu where %lu was expected: a record is missing, "
               "duplicated or out of order",
               seq, expected);
}

/* ---- the CLI ------------------------------------------------------------ */

/* Runs `jobexec evidence CMD FILE [--pubkey KEY] [--job ID]`. */
static void cli(tu_proc *p, const char *cmd, const char *file,
                const char *pub, const char *job)
{
    const char *argv[9];
    size_t n = 0;

    argv[n++] = TU_JOBEXEC;
    argv[n++] = "evidence";
    argv[n++] = cmd;
    argv[n++] = file;
    if (pub != NULL) {
        argv[n++] = "--pubkey";
        argv[n++] = pub;
    }
    if (job != NULL) {
        argv[n++] = "--job";
        argv[n++] = job;
    }
    argv[n] = NULL;
    tu_run(p, NULL, argv);
    assert_non_null(p->out);
    assert_non_null(p->err);
}

/* Expects exit status and exactly stdout, with nothing on stderr. */
static void cli_expect(const char *cmd, const char *file, const char *pub,
                       const char *job, int status, const char *out)
{
    tu_proc p;

    cli(&p, cmd, file, pub, job);
    if (p.status != status || strcmp(p.out, out) != 0 || p.err[0] != '\0')
        print_message("exit %d\nstdout:\n%s\nstderr:\n%s\n", p.status, p.out,
                      p.err);
    assert_int_equal(p.status, status);
    assert_string_equal(p.out, out);
    assert_string_equal(p.err, "");
    tu_proc_free(&p);
}

/* ---- intact logs -------------------------------------------------------- */

static void test_sealed_jobs_valid(void **state)
{
    fixture *f = *state;
    char ids[3][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 3, 2, ids);

    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 3, 0, 0);
    assert_int_equal(sum.lines, 18);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(sum.torn_tail, 0);
    for (size_t i = 0; i < 3; i++)
        assert_valid(&g.r[i], ids[i], 6, 1 + 6 * i, 1);

    /* Without a key the seal is still checked, the signature is not. */
    verify(f->log, NULL, NULL, &g, &sum);
    assert_counts(&sum, 3, 3, 0, 0);
    for (size_t i = 0; i < 3; i++)
        assert_valid(&g.r[i], ids[i], 6, 1 + 6 * i, 0);

    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "3 jobs: 3 valid, 0 incomplete, 0 tampered\n",
              ids[0], ids[1], ids[2]);
    cli_expect("verify", f->log, f->pub, NULL, 0, out);
    free(out);
    out = fmt("%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "%s: valid (6 records, signed; signature not checked: no "
              "--pubkey)\n"
              "3 jobs: 3 valid, 0 incomplete, 0 tampered\n",
              ids[0], ids[1], ids[2]);
    cli_expect("verify", f->log, NULL, NULL, 0, out);
    free(out);
}

static void test_unsigned_seal(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, NULL, 1, 1, ids);
    verify(f->log, NULL, NULL, &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_VALID);
    assert_int_equal(g.r[0].signed_seal, 0);
    assert_int_equal(g.r[0].signature_checked, 0);
    out = fmt("%s: valid (4 records, unsigned seal)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[0]);
    cli_expect("verify", f->log, NULL, NULL, 0, out);
    free(out);

    /* Whoever holds a public key expects every seal signed. */
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], ids[0], 4,
                    "the seal is not signed, but a public key was given");
    out = fmt("%s: tampered: line 4: the seal is not signed, but a public "
              "key was given\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", ids[0]);
    cli_expect("verify", f->log, f->pub, NULL, 4, out);
    free(out);
}

/* Jobs running side by side share the log: their lines interleave, and
 * each chain is followed through the others' lines. */
static void test_interleaved_jobs_valid(void **state)
{
    fixture *f = *state;
    char a[1][ID_LEN + 1], b[1][ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    lines la, lb;
    FILE *fp;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 1, 3, a); /* 8 lines */
    make_log(log_b, f->key, 1, 2, b);  /* 6 lines */
    read_lines(f->log, &la);
    read_lines(log_b, &lb);
    /* a1 b1 a2 b2 ... b6 a7 a8 */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n || i < lb.n; i++) {
        if (i < la.n)
            fwrite(la.v[i], 1, la.len[i], fp);
        if (i < lb.n)
            fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);

    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_int_equal(sum.lines, 14);
    assert_int_equal(sum.stray_lines, 0);
    assert_valid(&g.r[0], a[0], 8, 1, 1);
    assert_valid(&g.r[1], b[0], 6, 2, 1);
    out = fmt("%s: valid (8 records, signature checked)\n"
              "%s: valid (6 records, signature checked)\n"
              "2 jobs: 2 valid, 0 incomplete, 0 tampered\n", a[0], b[0]);
    cli_expect("verify", f->copy, f->pub, NULL, 0, out);
    free(out);

    /* The filter follows one chain through the other's lines. */
    verify(f->copy, f->pub, b[0], &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_valid(&g.r[0], b[0], 6, 2, 1);

    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

typedef struct worker {
    jx_executor *ex;
    char ids[4][ID_LEN + 1];
} worker;

static void *work(void *arg)
{
    worker *w = arg;

    for (size_t i = 0; i < 4; i++)
        run_job(w->ex, 3, w->ids[i]);
    return NULL;
}

/* Two threads running jobs on one executor into one log. */
static void test_concurrent_jobs_valid(void **state)
{
    fixture *f = *state;
    jx_executor *ex = make_executor(f->log, f->key);
    worker w[2] = {{ex, {{0}}}, {ex, {{0}}}};
    pthread_t t[2];
    reports g;
    jx_verify_summary sum;
    tu_proc p;

    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    jx_executor_free(ex);

    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 8, 8, 0, 0);
    assert_int_equal(sum.lines, 8 * LINES_OF(3));
    assert_int_equal(sum.stray_lines, 0);
    for (size_t i = 0; i < 8; i++) {
        int found = 0;
        for (size_t k = 0; k < 2; k++)
            for (size_t j = 0; j < 4; j++)
                found += strcmp(g.r[i].job_id, w[k].ids[j]) == 0;
        assert_int_equal(found, 1);
        assert_int_equal(g.r[i].verdict, JX_VERDICT_VALID);
        assert_int_equal(g.r[i].records, LINES_OF(3));
        assert_int_equal(g.r[i].signature_checked, 1);
    }
    cli(&p, "verify", f->log, f->pub, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    assert_non_null(strstr(p.out, "\n8 jobs: 8 valid, 0 incomplete, "
                                  "0 tampered\n"));
    tu_proc_free(&p);
}

/* ---- every byte --------------------------------------------------------- */

/* What a record names: a change that keeps these is caught by the hash of
 * the line (or, in job_finished, by the seal's head). */
static int same_header(const char *a, size_t alen, const char *b, size_t blen)
{
    static const char *const keys[] = {"job_id", "prev", "event", NULL};
    json_t *ra = json_loadb(a, alen, JSON_REJECT_DUPLICATES, NULL);
    json_t *rb = json_loadb(b, blen, JSON_REJECT_DUPLICATES, NULL);
    int same = ra != NULL && rb != NULL &&
               json_is_integer(json_object_get(rb, "seq")) &&
               json_integer_value(json_object_get(ra, "seq")) ==
                   json_integer_value(json_object_get(rb, "seq"));

    for (size_t i = 0; same && keys[i] != NULL; i++) {
        const char *va = json_string_value(json_object_get(ra, keys[i]));
        const char *vb = json_string_value(json_object_get(rb, keys[i]));
        same = va != NULL && vb != NULL && strcmp(va, vb) == 0;
    }
    json_decref(ra);
    json_decref(rb);
    return same;
}

enum damage { XOR_BIT0, PRINTABLE };

static char damaged(char c, size_t off, enum damage how)
{
    char r;

    if (how == XOR_BIT0)
        return (char)(c ^ 0x01);
    /* Another printable character, varying with the offset. */
    r = (char)('!' + ((unsigned char)c + 7 + off) % 94);
    return r != c ? r : (char)(r == '~' ? '!' : r + 1);
}

/* One damaged copy of the log, and what its verification found. */
typedef struct probe {
    const lines *l;
    const char *id;
    size_t size, seal_at;
    size_t off, line, line_start; /* the changed byte: line from 0 */
    char was, now;
    const char *buf; /* the damaged copy */
    reports g;
    jx_verify_summary sum;
} probe;

static void describe(const probe *p, const char *what)
{
    print_message("offset %zu (line %zu, column %zu): '%c' -> '%c': %zu "
                  "valid, %zu incomplete, %zu tampered, %lu stray; bad line "
                  "%lu: %s: %s\n",
                  p->off, p->line + 1, p->off - p->line_start + 1, p->was,
                  p->now, p->sum.valid, p->sum.incomplete, p->sum.tampered,
                  p->sum.stray_lines, p->g.n > 0 ? p->g.r[0].bad_line : 0,
                  p->g.n > 0 ? p->g.r[0].reason : "", what);
}

/* The final newline changed: job_finished is a torn last line. */
static int judge_torn(const probe *p)
{
    const report *r = &p->g.r[0];
    int ok = p->sum.jobs == 1 && p->sum.incomplete == 1 && r->torn == 1 &&
             strcmp(r->reason, TORN) == 0 && r->records == 5 &&
             p->sum.torn_tail == 1 && p->sum.stray_lines == 0;

    if (!ok)
        describe(p, "expected INCOMPLETE (torn)");
    return ok;
}

/* Where the changed line still names the same record (job_id, seq, prev,
 * event), the first bad line is the changed one: the next line's prev
 * catches it, or, in job_finished, the seal's head. */
static int judge_precise(const probe *p)
{
    const lines *l = p->l;
    char *why;
    int ok;

    if (p->off >= p->seal_at || p->was == '\n' ||
        !same_header(l->v[p->line], l->len[p->line] - 1,
                     p->buf + p->line_start, l->len[p->line] - 1))
        return -1; /* judged elsewhere */
    why = p->line + 1 < l->n
              ? hash_reason(p->line + 1)
              : strdup("the seal does not match its record: job_finished "
                       "was changed after sealing");
    assert_non_null(why);
    ok = p->sum.jobs == 1 && p->sum.tampered == 1 &&
         strcmp(p->g.r[0].job_id, p->id) == 0 &&
         p->g.r[0].bad_line == p->line + 1 &&
         strcmp(p->g.r[0].reason, why) == 0;
    if (!ok)
        describe(p, why);
    free(why);
    return ok;
}

enum { N_VALID, N_TAMPERED, N_PRECISE, N_WRONG, N_COUNTS };

/*
 * Changes each byte of a signed one-job log in turn and verifies the copy
 * with the public key.  No copy may verify VALID.  Every change is
 * tampering (a tampered job, or a line that belongs to no job) except the
 * one to the final newline, which leaves a torn last record: INCOMPLETE.
 * Every offset is judged before the test fails, so that a failure lists
 * them all.
 */
static void every_byte(fixture *f, enum damage how)
{
    char ids[1][ID_LEN + 1];
    lines l;
    size_t n[N_COUNTS] = {0};
    probe *p = calloc(1, sizeof *p);
    char *buf;

    assert_non_null(p);
    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    assert_int_equal(l.n, 6);
    p->l = &l;
    p->id = ids[0];
    p->size = strlen(l.text);
    p->seal_at = (size_t)(strstr(l.v[5], ",\"seal\":{") - l.text);
    buf = malloc(p->size);
    assert_non_null(buf);
    p->buf = buf;

    for (p->off = 0; p->off < p->size; p->off++) {
        int file_tampered, precise;

        if (p->off == p->line_start + l.len[p->line] && p->line + 1 < l.n)
            p->line_start += l.len[p->line++];
        memcpy(buf, l.text, p->size);
        p->was = buf[p->off];
        p->now = buf[p->off] = damaged(p->was, p->off, how);
        write_bytes(f->copy, buf, p->size);
        verify(f->copy, f->pub, NULL, &p->g, &p->sum);

        if (p->sum.valid != 0) {
            describe(p, "a job verifies VALID");
            n[N_VALID]++;
        }
        if (p->off + 1 == p->size) {
            n[N_WRONG] += !judge_torn(p);
            continue;
        }
        file_tampered = p->sum.tampered > 0 || p->sum.stray_lines > 0;
        n[N_TAMPERED] += file_tampered;
        if (!file_tampered && p->sum.valid == 0)
            describe(p, "not reported as tampered");
        precise = judge_precise(p);
        n[N_PRECISE] += precise == 1;
        n[N_WRONG] += precise == 0;
    }
    print_message("%zu bytes: %zu tampered, %zu with the changed line named "
                  "by the hash or head rule\n",
                  p->size, n[N_TAMPERED], n[N_PRECISE]);
    assert_int_equal(n[N_VALID], 0);
    /* Each byte but the final newline. */
    assert_int_equal(n[N_TAMPERED], p->size - 1);
    assert_int_equal(n[N_WRONG], 0);
    /* Many changes keep the record's header (the rest hit a prev, a
     * job_id, a seq, the JSON's syntax or the seal): the precise rule was
     * exercised, not skipped. */
    assert_true(n[N_PRECISE] > p->size / 3);
    free(buf);
    free(p);
    free_lines(&l);
}

static void test_every_byte_flipped(void **state)
{
    every_byte(*state, XOR_BIT0);
}

static void test_every_byte_replaced(void **state)
{
    every_byte(*state, PRINTABLE);
}

/* ---- lines dropped, moved, copied --------------------------------------- */

static void test_changed_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    char *at, *why, *out;
    reports g;
    jx_verify_summary sum;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    /* Line 3, step 0's result: its target CAP_0 becomes CAP_9. */
    at = strstr(l.v[2], "\"CAP_0\"");
    assert_non_null(at);
    assert_true(at < l.v[3]);
    at[5] = '9';
    write_bytes(f->copy, l.text, strlen(l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = hash_reason(3);
    assert_tampered(&g.r[0], ids[0], 3, why);
    out = fmt("%s: tampered: line 3: %s\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", ids[0], why);
    cli_expect("verify", f->copy, f->pub, NULL, 4, out);
    free(out);
    free(why);
    at[5] = '0';

    /* job_finished's reason rewritten: the seal's head no longer fits. */
    at = strstr(l.v[5], ALL_DONE);
    assert_non_null(at);
    at[0] = 'a';
    write_bytes(f->copy, l.text, strlen(l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], ids[0], 6,
                    "the seal does not match its record: job_finished was "
                    "changed after sealing");
    free_lines(&l);
}

static void test_deleted_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k <= l.n; k++) {
        size_t order[8], n = 0;
        reports g;
        jx_verify_summary sum;
        char *why, *out;

        for (size_t i = 1; i <= l.n; i++)
            if (i != k)
                order[n++] = i;
        order[n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        if (k == l.n) {
            /* Without job_finished the log reads as cut short. */
            assert_counts(&sum, 1, 0, 1, 0);
            assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
            assert_string_equal(g.r[0].reason, INTERRUPTED);
            assert_int_equal(g.r[0].records, 5);
            assert_int_equal(g.r[0].bad_line, 0);
            continue;
        }
        /* Line k now holds seq k where k - 1 was expected. */
        why = seq_reason(k, k - 1);
        assert_counts(&sum, 1, 0, 0, 1);
        assert_tampered(&g.r[0], ids[0], k, why);
        out = fmt("%s: tampered: line %zu: %s\n"
                  "1 job: 0 valid, 0 incomplete, 1 tampered\n",
                  ids[0], k, why);
        cli_expect("verify", f->copy, f->pub, NULL, 4, out);
        free(out);
        free(why);
    }
    free_lines(&l);
}

static void test_swapped_lines(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k < l.n; k++) {
        size_t order[8];
        reports g;
        jx_verify_summary sum;
        char *why;

        for (size_t i = 1; i <= l.n; i++)
            order[i - 1] = i;
        order[k - 1] = k + 1;
        order[k] = k;
        order[l.n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        why = seq_reason(k, k - 1);
        assert_counts(&sum, 1, 0, 0, 1);
        assert_tampered(&g.r[0], ids[0], k, why);
        free(why);
    }
    free_lines(&l);
}

static void test_duplicated_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    for (size_t k = 1; k <= l.n; k++) {
        size_t order[9], n = 0;
        reports g;
        jx_verify_summary sum;
        char *why;

        for (size_t i = 1; i <= l.n; i++) {
            order[n++] = i;
            if (i == k)
                order[n++] = i;
        }
        order[n] = 0;
        write_order(f->copy, &l, order);
        verify(f->copy, f->pub, NULL, &g, &sum);
        assert_counts(&sum, 1, 0, 0, 1);
        /* The copy, line k + 1, repeats seq k - 1; a copied job_started
         * would open another run, and is named for what it is. */
        why = k == 1 ? fmt("a copy of line 1, the job_started of run 1 of "
                           "this job: the line was copied")
              : k == l.n ? fmt("a record after the job's seal (line %zu)", k)
                         : seq_reason(k - 1, k);
        assert_tampered(&g.r[0], ids[0], k + 1, why);
        free(why);
    }
    free_lines(&l);
}

/* ---- a job that ran more than once --------------------------------------- */

#define RERUN "2d7e9c41-5a3b-4f6e-8d1c-7b9a0e3f5c28"

/* A queue that delivers a job twice: two runs of one job_id, each a
 * chain of its own, each valid. */
static void test_job_run_twice(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    reports g;
    jx_verify_summary sum;
    char *out;

    run_job_as(ex, 2, RERUN, id);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_valid(&g.r[1], RERUN, 6, 7, 1);
    assert_int_equal(g.r[0].run, 1);
    assert_int_equal(g.r[1].run, 2);
    assert_int_equal(g.r[0].runs, 2);
    assert_int_equal(g.r[1].runs, 2);
    out = fmt(RERUN " (run 1 of 2): valid (6 records, signature checked)\n"
              RERUN " (run 2 of 2): valid (6 records, signature checked)\n"
              "2 runs of 1 job: 2 valid, 0 incomplete, 0 tampered\n");
    cli_expect("verify", f->log, f->pub, NULL, 0, out);
    cli_expect("verify", f->log, f->pub, RERUN, 0, out);
    free(out);
}

/* Many runs of one job, among other jobs: more runs than the verifier
 * first makes room for. */
static void test_many_runs(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    reports g;
    jx_verify_summary sum;

    for (int i = 0; i < 12; i++) {
        run_job_as(ex, 1, RERUN, id);
        run_job(ex, 1, id);
    }
    jx_executor_free(ex);
    verify(f->log, f->pub, RERUN, &g, &sum);
    assert_counts(&sum, 12, 12, 0, 0);
    for (unsigned i = 0; i < 12; i++) {
        assert_valid(&g.r[i], RERUN, 4, 1 + 8 * i, 1);
        assert_int_equal(g.r[i].run, i + 1);
        assert_int_equal(g.r[i].runs, 12);
    }
    verify(f->log, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 24, 24, 0, 0);
}

/* Two workers running the same job at once: their runs interleave in the
 * file, and each record is placed by the chain it extends. */
static void test_runs_interleaved(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    jx_executor *ex = make_executor(f->log, f->key);
    lines la, lb;
    reports g;
    jx_verify_summary sum;
    FILE *fp;

    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    ex = make_executor(log_b, f->key);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &la);
    read_lines(log_b, &lb);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        fwrite(la.v[i], 1, la.len[i], fp);
        fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 2, 0, 0);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_valid(&g.r[1], RERUN, 6, 2, 1);

    /* One record of the second run dropped: only that run is broken. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        fwrite(la.v[i], 1, la.len[i], fp);
        if (i != 2)
            fwrite(lb.v[i], 1, lb.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 0, 1);
    assert_valid(&g.r[0], RERUN, 6, 1, 1);
    assert_int_equal(g.r[1].verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(g.r[1].run, 2);
    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

/* A run cut short (a crash), then the job delivered again: the first run
 * is incomplete, the second valid. */
static void test_interrupted_run_then_another(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    size_t order[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 0};
    reports g;
    jx_verify_summary sum;
    lines l;

    run_job_as(ex, 2, RERUN, id);
    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &l);
    write_order(f->copy, &l, order); /* without run 1's job_finished */
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
    assert_string_equal(g.r[0].reason, INTERRUPTED);
    assert_int_equal(g.r[0].records, 5);
    assert_valid(&g.r[1], RERUN, 6, 6, 1);
    free_lines(&l);
}

/* A whole sealed run copied to the end of the file is not a second run:
 * its job_started is byte for byte the first one's. */
static void test_whole_run_copied(void **state)
{
    fixture *f = *state;
    char id[ID_LEN + 1];
    jx_executor *ex = make_executor(f->log, f->key);
    size_t order[] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 0};
    reports g;
    jx_verify_summary sum;
    lines l;

    run_job_as(ex, 2, RERUN, id);
    jx_executor_free(ex);
    read_lines(f->log, &l);
    write_order(f->copy, &l, order);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], RERUN, 7,
                    "a copy of line 1, the job_started of run 1 of this "
                    "job: the line was copied");
    free_lines(&l);
}

/* A line of another job put into the middle of the victim's. */
static void test_spliced_line(void **state)
{
    fixture *f = *state;
    char a[1][ID_LEN + 1], b[1][ID_LEN + 1];
    char *log_b = path_in(f->dir, "b.jsonl");
    char *why, *out, *id;
    lines la, lb;
    FILE *fp;
    reports g;
    jx_verify_summary sum;

    make_log(f->log, f->key, 1, 2, a);
    make_log(log_b, f->key, 1, 2, b);
    read_lines(f->log, &la);
    read_lines(log_b, &lb);

    /* As it is: a stray piece of job b, which starts at seq 2. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        fwrite(la.v[i], 1, la.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 0, 1);
    assert_valid(&g.r[0], a[0], 6, 1, 1);
    why = seq_reason(2, 0);
    assert_tampered(&g.r[1], b[0], 3, why);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: tampered: line 3: %s\n"
              "2 jobs: 1 valid, 0 incomplete, 1 tampered\n", a[0], b[0], why);
    cli_expect("verify", f->copy, f->pub, NULL, 4, out);
    free(out);
    free(why);

    /* Passed off as the victim's: b's seq 2 with a's job_id, where a's seq
     * 2 belongs.  seq fits; prev is from b's chain. */
    id = strstr(lb.v[2], b[0]);
    assert_non_null(id);
    memcpy(id, a[0], ID_LEN);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++) {
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        fwrite(la.v[i], 1, la.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = hash_reason(2);
    assert_tampered(&g.r[0], a[0], 2, why);
    out = fmt("%s: tampered: line 2: %s\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", a[0], why);
    cli_expect("verify", f->copy, f->pub, NULL, 4, out);
    free(out);
    free(why);

    /* ... and in place of the victim's own line 3. */
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < la.n; i++)
        if (i == 2)
            fwrite(lb.v[2], 1, lb.len[2], fp);
        else
            fwrite(la.v[i], 1, la.len[i], fp);
    assert_int_equal(fclose(fp), 0);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = hash_reason(2);
    assert_tampered(&g.r[0], a[0], 2, why);
    free(why);

    free_lines(&la);
    free_lines(&lb);
    free(log_b);
}

/* ---- cut short ----------------------------------------------------------- */

static void test_truncated_sealed_job(void **state)
{
    fixture *f = *state;
    char ids[2][ID_LEN + 1];
    lines l;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 2, 2, ids);
    read_lines(f->log, &l);
    /* The second job loses job_finished (the last line). */
    write_bytes(f->copy, l.text, (size_t)(l.v[11] - l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(sum.torn_tail, 0);
    assert_valid(&g.r[0], ids[0], 6, 1, 1);
    assert_string_equal(g.r[1].job_id, ids[1]);
    assert_int_equal(g.r[1].verdict, JX_VERDICT_INCOMPLETE);
    assert_string_equal(g.r[1].reason, INTERRUPTED);
    assert_int_equal(g.r[1].records, 5);
    assert_int_equal(g.r[1].first_line, 7);
    assert_int_equal(g.r[1].bad_line, 0);
    assert_int_equal(g.r[1].torn, 0);
    assert_false(g.r[1].has_final);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: incomplete: %s (5 records from line 7)\n"
              "2 jobs: 1 valid, 1 incomplete, 0 tampered\n",
              ids[0], ids[1], INTERRUPTED);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);

    /* ... and its last step's result as well. */
    write_bytes(f->copy, l.text, (size_t)(l.v[10] - l.text));
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 2, 1, 1, 0);
    assert_int_equal(g.r[1].records, 4);
    assert_string_equal(g.r[1].reason, INTERRUPTED);
    free_lines(&l);
}

/* Writes the whole log of l and then the first n bytes of its line 2,
 * without a newline. */
static void append_torn(const char *path, const lines *l, size_t n)
{
    size_t len = strlen(l->text);
    char *t = malloc(len + n);

    assert_non_null(t);
    assert_true(n < l->len[1]);
    memcpy(t, l->text, len);
    memcpy(t + len, l->v[1], n);
    write_bytes(path, t, len + n);
    free(t);
}

static void test_torn_tail(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    reports g;
    jx_verify_summary sum;
    char *out;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    /* Cut in the middle of job_finished. */
    write_bytes(f->copy, l.text, (size_t)(l.v[5] - l.text) + l.len[5] / 2);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 1, 0);
    assert_int_equal(sum.torn_tail, 1);
    assert_int_equal(sum.lines, 6);
    assert_int_equal(sum.stray_lines, 0);
    assert_int_equal(g.r[0].verdict, JX_VERDICT_INCOMPLETE);
    assert_int_equal(g.r[0].torn, 1);
    assert_string_equal(g.r[0].reason, TORN);
    assert_int_equal(g.r[0].records, 5);
    assert_int_equal(g.r[0].bad_line, 0);
    out = fmt("%s: incomplete (torn): %s (5 records from line 1)\n"
              "%s: ends in a torn line: a write was interrupted\n"
              "1 job: 0 valid, 1 incomplete, 0 tampered\n",
              ids[0], TORN, f->copy);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);

    /* Cut near the end of line 4 (step 1 started), past its job_id. */
    write_bytes(f->copy, l.text, (size_t)(l.v[3] - l.text) + l.len[3] - 10);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 1, 0);
    assert_int_equal(g.r[0].torn, 1);
    assert_int_equal(g.r[0].records, 3);

    /* A torn copy of line 2 after the seal: it names the sealed job, and
     * nothing of a job may follow its job_finished. */
    append_torn(f->copy, &l, l.len[1] - 10);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_int_equal(sum.torn_tail, 1);
    assert_tampered(&g.r[0], ids[0], 7,
                    "a torn record after the job's seal");

    /* Torn before its job_id is complete: the start of the next job's
     * first record, cut by a crash.  It names no job, so the sealed job
     * stays valid; the torn line is reported, and as something was
     * interrupted the exit status is incomplete's. */
    append_torn(f->copy, &l, 100);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(sum.torn_tail, 1);
    assert_int_equal(sum.lines, 7);
    assert_int_equal(sum.stray_lines, 0);
    out = fmt("%s: valid (6 records, signature checked)\n"
              "%s: ends in a torn line: a write was interrupted\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n",
              ids[0], f->copy);
    cli_expect("verify", f->copy, f->pub, NULL, 1, out);
    free(out);
    free_lines(&l);
}

/* ---- keys --------------------------------------------------------------- */

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1], other_id[17];
    char *other = path_in(f->dir, "other.key");
    char *other_pub = path_in(f->dir, "other.key.pub");
    char *why, *out, *kid;
    jx_error err = {0, ""};
    lines l;
    reports g;
    jx_verify_summary sum;

    assert_int_equal(jx_keygen(other, other_id, &err), 0);
    assert_string_not_equal(other_id, f->key_id);
    make_log(f->log, f->key, 1, 1, ids);
    verify(f->log, other_pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    why = fmt("sealed by key %s, not by the given key %s", f->key_id,
              other_id);
    assert_tampered(&g.r[0], ids[0], 4, why);
    out = fmt("%s: tampered: line 4: %s\n"
              "1 job: 0 valid, 0 incomplete, 1 tampered\n", ids[0], why);
    cli_expect("verify", f->log, other_pub, NULL, 4, out);
    free(out);
    free(why);

    /* The seal claiming the other key's id: its signature then fails. */
    read_lines(f->log, &l);
    kid = strstr(l.v[3], f->key_id);
    assert_non_null(kid);
    memcpy(kid, other_id, 16);
    write_bytes(f->copy, l.text, strlen(l.text));
    verify(f->copy, other_pub, NULL, &g, &sum);
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], ids[0], 4,
                    "the seal's signature does not verify with the given "
                    "key");
    free_lines(&l);
    free(other);
    free(other_pub);
}

/* ---- the seal's own members --------------------------------------------- */

/* An edit of job_finished: the bytes [at, at + cut) become insert. */
typedef struct seal_edit {
    const char *what;
    const char *at;
    size_t cut;
    const char *insert;
    const char *pub; /* verified with this key (NULL: none) */
} seal_edit;

/* Writes the log of l with an edit of its last line (job_finished). */
static void write_with_seal_edit(const char *path, const lines *l,
                                 const char *at, size_t cut,
                                 const char *insert)
{
    FILE *fp = fopen(path, "wb");
    const char *end = l->text + strlen(l->text);

    assert_non_null(fp);
    assert_true(at >= l->v[l->n - 1] && at + cut < end);
    fwrite(l->text, 1, (size_t)(at - l->text), fp);
    fputs(insert, fp);
    fwrite(at + cut, 1, (size_t)(end - at - cut), fp);
    assert_int_equal(fclose(fp), 0);
}

/* Verifies the log with one edit of job_finished: 1 when job_finished is
 * the first bad line (API) and the CLI says so with exit 4. */
static int seal_edit_tampered(fixture *f, const lines *l, const char *id,
                              const seal_edit *e)
{
    reports g;
    jx_verify_summary sum;
    tu_proc p;
    char *line6;
    int ok;

    write_with_seal_edit(f->copy, l, e->at, e->cut, e->insert);
    verify(f->copy, e->pub, NULL, &g, &sum);
    assert_int_equal(sum.jobs, 1);
    if (g.r[0].verdict != JX_VERDICT_TAMPERED) {
        print_message("%s: verdict %d, not TAMPERED\n", e->what,
                      (int)g.r[0].verdict);
        return 0;
    }
    assert_counts(&sum, 1, 0, 0, 1);
    assert_tampered(&g.r[0], id, 6,
                    "the seal is not as jobexec writes it: members were "
                    "added, removed or moved after sealing");

    cli(&p, "verify", f->copy, e->pub, NULL);
    line6 = fmt("%s: tampered: line 6: %s\n"
                "1 job: 0 valid, 0 incomplete, 1 tampered\n", id,
                g.r[0].reason);
    ok = p.status == 4 && strcmp(p.out, line6) == 0;
    free(line6);
    tu_proc_free(&p);
    assert_true(ok);
    return 1;
}

/* The seal's head covers the record up to the seal and its signature the
 * head: everything else in job_finished must still be as the executor
 * wrote it, or the record was changed after sealing. */
static void test_seal_members(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    const char *last, *kid, *close;
    size_t n_valid = 0;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    last = l.v[5];
    kid = strstr(last, "\"key_id\":\"");
    close = strstr(last, "\"}}\n"); /* the end of sig's value */
    assert_non_null(kid);
    assert_non_null(close);
    {
        const seal_edit edits[] = {
            {"key_id renamed", kid + 5, 1, "x", f->pub},
            {"key_id dropped", kid - 1, strlen(",\"key_id\":\"\"") + 16, "",
             f->pub},
            {"a member added to the seal", close, 1, "\",\"note\":\"x\"",
             f->pub},
            {"a member after the seal", close + 2, 0, ",\"note\":\"x\"",
             f->pub},
            {"a member after the seal, no key", close + 2, 0,
             ",\"note\":\"x\"", NULL},
        };

        /* Every edit is judged before the test fails. */
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
            n_valid += !seal_edit_tampered(f, &l, ids[0], &edits[i]);
    }
    assert_int_equal(n_valid, 0);
    free_lines(&l);
}

/* ---- lines of no job ---------------------------------------------------- */

static void test_stray_line(void **state)
{
    fixture *f = *state;
    char ids[1][ID_LEN + 1];
    lines l;
    FILE *fp;
    reports g;
    jx_verify_summary sum;
    tu_proc p;
    char *head;

    make_log(f->log, f->key, 1, 2, ids);
    read_lines(f->log, &l);
    fp = fopen(f->copy, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < l.n; i++) {
        if (i == 2)
            fputs("garbage that is no record\n", fp);
        fwrite(l.v[i], 1, l.len[i], fp);
    }
    assert_int_equal(fclose(fp), 0);

    verify(f->copy, f->pub, NULL, &g, &sum);
    /* The job's own chain is intact; the file is not. */
    assert_counts(&sum, 1, 1, 0, 0);
    assert_int_equal(sum.lines, 7);
    assert_int_equal(sum.stray_lines, 1);
    assert_int_equal(sum.first_stray_line, 3);
    assert_true(sum.stray_reason[0] != '\0');

    cli(&p, "verify", f->copy, f->pub, NULL);
    assert_int_equal(p.status, 4);
    head = fmt("%s: valid (6 records, signature checked)\n"
               "%s: tampered: line 3: %s (1 line belongs to no job)\n"
               "1 job: 1 valid, 0 incomplete, 0 tampered\n",
               ids[0], f->copy, sum.stray_reason);
    assert_string_equal(p.out, head);
    assert_non_null(strstr(p.out, "belongs to no job"));
    free(head);
    tu_proc_free(&p);

    /* A JSON object that is not a record of any job. */
    write_bytes(f->copy, "{\"event\":\"job_started\"}\n", 24);
    verify(f->copy, NULL, NULL, &g, &sum);
    assert_counts(&sum, 0, 0, 0, 0);
    assert_int_equal(sum.stray_lines, 1);
    assert_int_equal(sum.first_stray_line, 1);
    assert_string_equal(sum.stray_reason, "not a record of any job");
    head = fmt("%s: tampered: line 1: not a record of any job (1 line "
               "belongs to no job)\n"
               "0 jobs: 0 valid, 0 incomplete, 0 tampered\n", f->copy);
    cli_expect("verify", f->copy, NULL, NULL, 4, head);
    free(head);
    free_lines(&l);
}

/* ---- one job ------------------------------------------------------------ */

static void test_job_filter(void **state)
{
    fixture *f = *state;
    char ids[3][ID_LEN + 1];
    reports g;
    jx_verify_summary sum;
    jx_verify_options o = {f->pub, UNKNOWN_JOB, collect, &g};
    jx_error err = {0, ""};
    char *out, *prev;
    tu_proc p;
    lines l;

    make_log(f->log, f->key, 3, 1, ids);
    verify(f->log, f->pub, ids[1], &g, &sum);
    assert_counts(&sum, 1, 1, 0, 0);
    assert_valid(&g.r[0], ids[1], 4, 5, 1);
    out = fmt("%s: valid (4 records, signature checked)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[1]);
    cli_expect("verify", f->log, f->pub, ids[1], 0, out);
    free(out);

    /* Another job's damage is not this job's. */
    read_lines(f->log, &l);
    prev = strstr(l.v[0], "\"prev\":\""); /* job 0's first record */
    assert_non_null(prev);
    prev[8] ^= 0x01;
    write_bytes(f->copy, l.text, strlen(l.text));
    free_lines(&l);
    out = fmt("%s: valid (4 records, signature checked)\n"
              "1 job: 1 valid, 0 incomplete, 0 tampered\n", ids[2]);
    cli_expect("verify", f->copy, f->pub, ids[2], 0, out);
    free(out);
    verify(f->copy, f->pub, NULL, &g, &sum);
    assert_counts(&sum, 3, 2, 0, 1);

    /* A job the log does not know. */
    memset(&g, 0, sizeof g);
    assert_int_equal(jx_evidence_verify(f->log, &o, &sum, &err), JX_EINVAL);
    assert_int_equal(err.code, JX_EINVAL);
    out = fmt("%s: no record of job " UNKNOWN_JOB, f->log);
    assert_string_equal(err.message, out);
    assert_int_equal(g.n, 0);
    free(out);
    cli(&p, "verify", f->log, f->pub, UNKNOWN_JOB);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    out = fmt("jobexec: %s: no record of job " UNKNOWN_JOB "\n", f->log);
    assert_string_equal(p.err, out);
    free(out);
    tu_proc_free(&p);
}

/* ---- files that cannot be read ------------------------------------------ */

static void test_missing_file(void **state)
{
    fixture *f = *state;
    char *missing = path_in(f->dir, "missing.jsonl");
    jx_verify_summary sum;
    jx_error err = {0, ""};
    char *want;
    tu_proc p;

    assert_int_equal(jx_evidence_verify(missing, NULL, &sum, &err), JX_EIO);
    assert_int_equal(err.code, JX_EIO);
    want = fmt("%s: cannot open: No such file or directory", missing);
    assert_string_equal(err.message, want);
    free(want);

    cli(&p, "verify", missing, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt("jobexec: %s: cannot open: No such file or directory\n",
               missing);
    assert_string_equal(p.err, want);
    free(want);
    tu_proc_free(&p);

    cli(&p, "show", missing, NULL, NULL);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    assert_non_null(strstr(p.err, "cannot open"));
    assert_non_null(strstr(p.err, missing));
    tu_proc_free(&p);
    free(missing);
}

/* ---- show --------------------------------------------------------------- */

/* Line i (from 0) of text, or NULL; free() it. */
static char *nth_line(const char *text, size_t i)
{
    const char *p = text, *nl;

    for (; i > 0 && p != NULL; i--)
        p = (nl = strchr(p, '\n')) != NULL ? nl + 1 : NULL;
    if (p == NULL || *p == '\0')
        return NULL;
    nl = strchr(p, '\n');
    return strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
}

static void expect_in(const char *line, const char *part)
{
    if (line == NULL || strstr(line, part) == NULL)
        fail_msg("'%s' not in '%s'", part, line != NULL ? line : "(none)");
}

/* The timeline of one 2-step job starting at line first of out. */
static void expect_timeline(const char *out, size_t first, const char *id,
                            const char *key_id)
{
    char prefix[16], *want;
    char *line[6];

    snprintf(prefix, sizeof prefix, "  %.8s  ", id);
    for (size_t i = 0; i < 6; i++) {
        line[i] = nth_line(out, first + i);
        expect_in(line[i], prefix);
    }
    expect_in(line[0], "job started: contract " CONTRACT ", 2 steps");
    expect_in(line[1], "step 0 started: capability_enable on 'CAP_0'");
    expect_in(line[2], "step 0 COMPLETED: {");
    expect_in(line[2], "\"target\":\"CAP_0\"");
    expect_in(line[3], "step 1 started: configuration_change on 'CAP_1'");
    expect_in(line[4], "step 1 COMPLETED: {");
    expect_in(line[5], "job finished COMPLETED: " ALL_DONE
                       " (2 executed, 2 succeeded, 0 failed; ");
    want = fmt("sealed and signed by key %s)", key_id);
    expect_in(line[5], want);
    free(want);
    for (size_t i = 0; i < 6; i++)
        free(line[i]);
}

static void test_show(void **state)
{
    fixture *f = *state;
    char ids[2][ID_LEN + 1];
    tu_proc p;
    char *want;

    make_log(f->log, f->key, 2, 2, ids);
    cli(&p, "show", f->log, NULL, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    expect_timeline(p.out, 0, ids[0], f->key_id);
    expect_timeline(p.out, 6, ids[1], f->key_id);
    assert_null(nth_line(p.out, 12));
    tu_proc_free(&p);

    cli(&p, "show", f->log, NULL, ids[1]);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.err, "");
    expect_timeline(p.out, 0, ids[1], f->key_id);
    assert_null(nth_line(p.out, 6));
    tu_proc_free(&p);

    cli(&p, "show", f->log, NULL, UNKNOWN_JOB);
    assert_int_equal(p.status, 2);
    assert_string_equal(p.out, "");
    want = fmt("jobexec: %s: no record of job " UNKNOWN_JOB "\n", f->log);
    assert_string_equal(p.err, want);
    free(want);
    tu_proc_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_seal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_jobs_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicated_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spliced_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_run_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_interleaved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_run_then_another,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_run_copied, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_sealed_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stray_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
