/*
 * verify_util.c - see verify_util.h.
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

#include <jobexec/jobexec.h>

#include "verify_util.h"

char *path_in(const char *dir, const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

int setup(void **state)
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

int teardown(void **state)
{
    fixture *f = *state;

    tu_temp_free(f->dir);
    free(f->key);
    free(f->pub);
    free(f->log);
    free(f->copy);
    free(f);
    return 0;
}

/* ---- writing logs by running jobs -------------------------------------- */

jx_executor *make_executor(const char *log, const char *key)
{
    jx_config *cfg = NULL;
    jx_executor *ex = NULL;
    jx_error err = {0, ""};

    tu_configf(&cfg, &err, "verify.yaml", TU_PLUGINS,
               "plugins:\n"
               "  - path: noop\n"
               "    step_types: [capability_enable, "
               "configuration_change]\n"
               "evidence: {log: \"%s\", fsync: none%s%s%s}\n",
               log, key != NULL ? ", signing_key: \"" : "",
               key != NULL ? key : "", key != NULL ? "\"" : "");
    if (jx_executor_new(cfg, &ex, &err) != 0) {
        jx_config_free(cfg);
        fail_msg("executor: %s", err.message);
    }
    jx_config_free(cfg);
    return ex;
}

void run_job_as(jx_executor *ex, size_t n_steps, const char *job_id,
                char id[ID_LEN + 1])
{
    char text[2048];
    size_t len;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};

    len = (size_t)snprintf(text, sizeof text,
                           "%s%s%scontract_id: " TU_CONTRACT "\nsteps:\n",
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
    tu_plan(text, &plan, &err);
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

void run_job(jx_executor *ex, size_t n_steps, char id[ID_LEN + 1])
{
    run_job_as(ex, n_steps, NULL, id);
}

void make_log(const char *log, const char *key, size_t n_jobs,
              size_t n_steps, char ids[][ID_LEN + 1])
{
    jx_executor *ex = make_executor(log, key);

    for (size_t i = 0; i < n_jobs; i++)
        run_job(ex, n_steps, ids[i]);
    jx_executor_free(ex);
    assert_int_equal(tu_count_lines(log), n_jobs * LINES_OF(n_steps));
}

void read_lines(const char *path, lines *l)
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

void free_lines(lines *l)
{
    free(l->text);
    free(l->v);
    free(l->len);
}

void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

void write_order(const char *path, const lines *l, const size_t *order)
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

int collect(const jx_job_report *r, void *user)
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

void verify(const char *path, const char *pub, const char *job,
            reports *g, jx_verify_summary *sum)
{
    jx_verify_options o = {pub, job, collect, g};
    jx_error err = {0, ""};

    memset(g, 0, sizeof *g);
    if (jx_evidence_verify(path, &o, sum, &err) != 0)
        fail_msg("verify %s: %s", path, err.message);
    assert_int_equal(g->n, sum->jobs);
}

void assert_valid(const report *r, const char *id, uint64_t records,
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

void assert_tampered(const report *r, const char *id,
                     unsigned long bad_line, const char *reason)
{
    assert_string_equal(r->job_id, id);
    assert_int_equal(r->verdict, JX_VERDICT_TAMPERED);
    assert_int_equal(r->bad_line, bad_line);
    assert_string_equal(r->reason, reason);
}

void assert_counts(const jx_verify_summary *s, size_t jobs,
                   size_t valid, size_t incomplete, size_t tampered)
{
    assert_int_equal(s->jobs, jobs);
    assert_int_equal(s->valid, valid);
    assert_int_equal(s->incomplete, incomplete);
    assert_int_equal(s->tampered, tampered);
}

const char *const INTERRUPTED =
    "no seal: the job was interrupted, or the log's tail was cut";
const char *const TORN =
    "no seal: the file ends in a torn record of this job (a write was "
    "interrupted)";

char *fmt(const char *f, ...)
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

char *hash_reason(unsigned long k)
{
    return fmt("the SHA-256 of line %lu does not match the prev of line %lu, "
               "the job's next record: one of them was changed",
               k, k + 1);
}

char *seq_reason(unsigned long seq, unsigned long expected)
{
    return fmt("seq %lu where %lu was expected: a record is missing, "
               "duplicated or out of order",
               seq, expected);
}

/* ---- the CLI ------------------------------------------------------------ */

void cli(tu_proc *p, const char *cmd, const char *file,
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

void cli_expect(const char *cmd, const char *file, const char *pub,
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
