/*
 * test_verify_bytes.c - a signed log with bytes changed: every byte of a
 * one-job log flipped and replaced in turn, a target and a reason
 * rewritten, and the members of the seal edited.  No change may verify
 * VALID; where the changed line still names its record, it is the first
 * bad line.
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
    at = strstr(l.v[5], TU_ALL_DONE);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_members, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
