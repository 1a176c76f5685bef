/*
 * test_plan_json.c - the fast JSON reader against the positioned one.
 *
 * What the fast reader takes, it must take exactly as the positioned
 * reader does (the same strings, parameters text, positions and secrets);
 * what it declines, jx_plan_parse() must answer as the positioned reader
 * does, refusal text included.  And reading a plan stays within its memory
 * budget: a plan that would need more is refused where the reader stands.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

#include "base/jsonbuf.h"
#include "input/plan.h"
#include "input/plan_read.h"
#include "plan_util.h"
#include "fixture.h"
#include "testutil.h"

#define NAME "plan.json"
#define C "\"contract_id\": \"" TU_CONTRACT "\""

typedef struct fixture {
    jx_plan *fast, *positioned, *either;
    jx_error err, err2;
    jx__buf text;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static void drop_plans(fixture *f)
{
    jx_plan_free(f->fast);
    jx_plan_free(f->positioned);
    jx_plan_free(f->either);
    f->fast = f->positioned = f->either = NULL;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    drop_plans(f);
    jx__buf_free(&f->text);
    free(f);
    return 0;
}

/* The fast reader takes text, and the positioned one gives the same plan. */
static void takes_same(fixture *f, const char *text, size_t len)
{
    const char *why;
    int rc;

    drop_plans(f);
    rc = jx__plan_parse_fast(text, len, NAME, &f->fast, &f->err);
    if (rc != 0)
        fail_msg("the fast reader did not take: %s\n(rc %d: %s)", text, rc,
                 f->err.message);
    rc = jx__plan_parse_positioned(text, len, NAME, &f->positioned, &f->err);
    if (rc != 0)
        fail_msg("the positioned reader refused: %s\n%s", text,
                 f->err.message);
    why = plan_difference(f->fast, f->positioned);
    if (why != NULL)
        fail_msg("the readers differ in %s: %s", why, text);
}

/* The fast reader declines text, and jx_plan_parse() answers as the
 * positioned reader does; returns that answer's code. */
static int declines(fixture *f, const char *text)
{
    size_t len = strlen(text);
    int rc, rc2;

    drop_plans(f);
    rc = jx__plan_parse_fast(text, len, NAME, &f->fast, &f->err);
    if (rc != JX__PLAN_DECLINED)
        fail_msg("the fast reader did not decline (rc %d): %s", rc, text);
    assert_null(f->fast);
    rc = jx_plan_parse(text, len, NAME, &f->either, &f->err);
    rc2 = jx__plan_parse_positioned(text, len, NAME, &f->positioned,
                                    &f->err2);
    assert_int_equal(rc, rc2);
    if (rc != 0)
        assert_string_equal(f->err.message, f->err2.message);
    else
        assert_null(plan_difference(f->either, f->positioned));
    return rc;
}

#define TAKES(f, text) takes_same((f), (text), strlen(text))

/* ---- what the fast reader takes ----------------------------------------- */

static void test_takes_compact(void **state)
{
    fixture *f = *state;

    TAKES(f, "{\"contract_id\":\"" TU_CONTRACT "\",\"steps\":[{\"step_index\":"
             "0,\"step_type\":\"noop\"}]}");
    assert_int_equal(f->fast->n_steps, 1);
    assert_string_equal(f->fast->steps[0].params_json, "{}");
    assert_int_equal(f->fast->steps[0].line, 1);
    assert_int_equal(f->fast->steps[0].col, 64);
    assert_int_equal(f->fast->job_id_generated, 1);
    TAKES(f, "{" C ", \"steps\": []}");
    assert_int_equal(f->fast->n_steps, 0);
}

static void test_takes_pretty_every_field(void **state)
{
    fixture *f = *state;

    TAKES(f, "{\n"
             "  \"job_id\": \"" "6B0B1B3E-4C1D-4F8E-9A51-2F0F6A7E9C11" "\",\n"
             "  " C ",\n"
             "  \"tenant_id\": \"\",\n"
             "  \"executed_by\": \"ops\",\n"
             "  \"steps\": [\n"
             "    {\n"
             "      \"step_index\": 3,\n"
             "      \"step_type\": \"capability_enable\",\n"
             "      \"target\": \"CAP_A\",\n"
             "      \"timeout_seconds\": 604800,\n"
             "      \"parameters\": {\"reason\": \"x\", \"n\": -0,\n"
             "                     \"big\": 9223372036854775807,\n"
             "                     \"small\": -9223372036854775808,\n"
             "                     \"f\": [0.5, 1e3, -2.5E-3, 1.0, 0.1],\n"
             "                     \"w\": [true, false, null, {}, []],\n"
             "                     \"deep\": {\"a\": {\"b\": [[{\"c\": 1}]]}}},\n"
             "      \"secret_parameters\": [\"reason\"]\n"
             "    },\n"
             "    {\"step_index\": 4, \"step_type\": \"noop\"}\n"
             "  ]\n"
             "}\n");
    assert_string_equal(f->fast->job_id, TU_JOB);
    assert_string_equal(f->fast->executed_by, "ops");
    assert_int_equal(f->fast->steps[0].line, 7);
    assert_int_equal(f->fast->steps[0].col, 5);
    assert_int_equal(f->fast->steps[1].line, 20);
    assert_int_equal(f->fast->steps[0].n_params, 7);
    assert_string_equal(f->fast->steps[0].params_json,
                        "{\"reason\":\"x\",\"n\":0,\"big\":9223372036854775807,"
                        "\"small\":-9223372036854775808,\"f\":[0.5,1000.0,"
                        "-0.0025000000000000001,1.0,0.10000000000000001],"
                        "\"w\":[true,false,null,{},[]],\"deep\":{\"a\":{\"b\":"
                        "[[{\"c\":1}]]}}}");
    assert_int_equal(f->fast->secrets.n, 1);
    assert_string_equal(f->fast->secrets.items[1].text, "x");
}

static void test_takes_escapes_and_unicode(void **state)
{
    fixture *f = *state;

    TAKES(f, "{" C ", \"steps\": [{\"step_index\": 0, \"step_type\": "
             "\"t\\u00e9\\/\\\"\", \"target\": \"\xc3\xa9\xf0\x9f\x98\x80\", "
             "\"parameters\": {\"e\": \"\\b\\f\\n\\r\\t\\\\\\u0001\\u007f"
             "\\u2028\\u0085\", \"k\\u00e9y\": 1}}, {\"step_index\": 1, "
             "\"step_type\": \"\xe2\x82\xac\"}]}");
    assert_string_equal(f->fast->steps[0].type, "t\xc3\xa9/\"");
    assert_string_equal(f->fast->steps[0].type_json, "\"t\xc3\xa9/\\\"\"");
    assert_string_equal(f->fast->steps[0].params_json,
                        "{\"e\":\"\\b\\f\\n\\r\\t\\\\\\u0001\x7f"
                        "\xe2\x80\xa8\xc2\x85\",\"k\xc3\xa9y\":1}");
    /* Columns count characters, not bytes. */
    assert_int_equal(f->fast->steps[1].col, 206);
}

static void test_takes_crlf(void **state)
{
    fixture *f = *state;

    TAKES(f, "{\r\n  " C ",\r\n  \"steps\": [\r\n    {\"step_index\": 0,\r\n"
             "     \"step_type\": \"noop\"}\r\n  ]\r\n}\r\n");
    assert_int_equal(f->fast->steps[0].line, 4);
    assert_int_equal(f->fast->steps[0].col, 5);
}

/* A long plan written the way tools write JSON: every step taken. */
static void test_takes_many_steps(void **state)
{
    fixture *f = *state;

    assert_int_equal(jx__buf_puts(&f->text, "{" C ", \"steps\": ["), 0);
    for (int i = 0; i < 2000; i++) {
        char step[160];
        snprintf(step, sizeof step,
                 "%s{\"step_index\": %d, \"step_type\": \"capability_enable\","
                 " \"target\": \"CAP_%d\", \"parameters\": {\"n\": %d}}",
                 i > 0 ? ", " : "", i * 2, i % 7, i);
        assert_int_equal(jx__buf_puts(&f->text, step), 0);
    }
    assert_int_equal(jx__buf_puts(&f->text, "]}"), 0);
    takes_same(f, f->text.data, f->text.len);
    assert_int_equal(f->fast->n_steps, 2000);
    assert_int_equal(f->fast->steps[1999].index, 3998);
}

/* Steps written tighter than the reader reserves room for (fewer bytes
 * each than JX__PLAN_MIN_STEP_BYTES): the array grows past what was
 * reserved, and every step is kept in order. */
static void test_takes_steps_smaller_than_reserved(void **state)
{
    fixture *f = *state;
    size_t per_step;

    assert_int_equal(jx__buf_puts(&f->text, "{" C ",\"steps\":["), 0);
    for (int i = 0; i < 20000; i++) {
        char step[64];
        snprintf(step, sizeof step, "%s{\"step_index\":%d,\"step_type\":\"a\"}",
                 i > 0 ? "," : "", i);
        assert_int_equal(jx__buf_puts(&f->text, step), 0);
    }
    assert_int_equal(jx__buf_puts(&f->text, "]}"), 0);
    per_step = f->text.len / 20000;
    assert_true(per_step < JX__PLAN_MIN_STEP_BYTES);
    takes_same(f, f->text.data, f->text.len);
    assert_int_equal(f->fast->n_steps, 20000);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(f->fast->steps[i].index, i);
}

/* ---- what it declines ---------------------------------------------------- */

#define STEPS_WITH(step) "{" C ", \"steps\": [" step "]}"
#define NOOP "\"step_index\": 0, \"step_type\": \"noop\""

static void test_declines_what_yaml_reads_otherwise(void **state)
{
    fixture *f = *state;
    /* Each is JSON that libyaml refuses or reads differently. */
    static const char *const texts[] = {
        "\t{" C ", \"steps\": []}",
        "{" C ", \"steps\": []}\n\t\n",
        STEPS_WITH("{" NOOP ", \"target\": \"\\ud83d\\ude00\"}"),
        STEPS_WITH("{" NOOP ", \"target\": \"a\\u0000b\"}"),
        STEPS_WITH("{" NOOP ", \"target\": \"a\x7f\"}"),
        STEPS_WITH("{" NOOP ", \"target\": \"a\xc2\x85\"}"),
        STEPS_WITH("{" NOOP ", \"target\": \"a\xe2\x80\xa8\"}"),
        STEPS_WITH("{" NOOP ", \"target\": \"a\xc3\"}"),
        STEPS_WITH("{" NOOP "\n, \"target\"\n: \"x\"}"),
        "{" C ",\r \"steps\": []}",
        "\xef\xbb\xbf{" C ", \"steps\": []}",
    };

    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        declines(f, texts[i]);
}

static void test_declines_refusals_with_their_text(void **state)
{
    fixture *f = *state;

    assert_int_equal(declines(f, STEPS_WITH("{" NOOP ", \"step_type\": "
                                            "\"x\"}")),
                     JX_EPLAN);
    assert_string_equal(f->err.message,
                        "plan.json:1:106: duplicate key 'step_type'");
    assert_int_equal(declines(f, STEPS_WITH("{" NOOP ", \"parameters\": "
                                            "{\"a\": 9223372036854775808}}")),
                     JX_EPLAN);
    assert_string_equal(f->err.message,
                        "plan.json:1:126: integer out of range: "
                        "9223372036854775808");
    declines(f, STEPS_WITH("{" NOOP ", \"parameters\": {\"a\": 1e400}}"));
    assert_string_equal(f->err.message,
                        "plan.json:1:126: number out of range: 1e400");
    declines(f, STEPS_WITH("{" NOOP ", \"target\": 5}"));
    assert_string_equal(f->either->steps[0].target, "5");
    declines(f, STEPS_WITH("{" NOOP ", \"parameters\": null}"));
    assert_string_equal(f->err.message,
                        "plan.json:1:120: parameters must be a mapping");
    declines(f, STEPS_WITH("{" NOOP "}, {" NOOP "}"));
    assert_string_equal(f->err.message,
                        "plan.json:1:122: step_index 0 does not follow 0: "
                        "indexes must strictly increase");
    declines(f, "{\"contract_id\": \"nope\", \"steps\": []}");
    assert_string_equal(f->err.message,
                        "plan.json:1:17: contract_id must be a UUID, found "
                        "'nope'");
    declines(f, "{" C ", \"steps\": [], \"extra\": 1}");
    assert_string_equal(f->err.message,
                        "plan.json:1:70: unknown key 'extra' in the plan");
    declines(f, "{" C ", \"steps\": []} # a comment");
    declines(f, "{" C ", \"steps\": []} x");
    declines(f, "contract_id: " TU_CONTRACT "\nsteps: []\n");
}

static void test_declines_long_or_wide_keys(void **state)
{
    fixture *f = *state;
    char key[1100];

    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    /* A key longer than a YAML simple key may be: declined, refused. */
    assert_int_equal(jx__buf_puts(&f->text, "{" C ", \"steps\": [{" NOOP
                                            ", \"parameters\": {\""),
                     0);
    assert_int_equal(jx__buf_puts(&f->text, key), 0);
    assert_int_equal(jx__buf_puts(&f->text, "\": 1}}]}"), 0);
    assert_int_not_equal(declines(f, f->text.data), 0);
    /* 65 parameters: more than the fast reader checks in place. */
    f->text.len = 0;
    assert_int_equal(jx__buf_puts(&f->text, "{" C ", \"steps\": [{" NOOP
                                            ", \"parameters\": {"),
                     0);
    for (int i = 0; i < 65; i++) {
        char member[32];
        snprintf(member, sizeof member, "%s\"p%d\": %d", i ? ", " : "", i, i);
        assert_int_equal(jx__buf_puts(&f->text, member), 0);
    }
    assert_int_equal(jx__buf_puts(&f->text, "}}]}"), 0);
    assert_int_equal(declines(f, f->text.data), 0);
    assert_int_equal(f->either->steps[0].n_params, 65);
}

/* ---- the corpora ---------------------------------------------------------- */

static int read_whole(const char *path, char **text, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    long n;

    *text = NULL;
    *len = 0;
    if (fp == NULL)
        return -1;
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0 || (*text = malloc((size_t)n + 1)) == NULL) {
        fclose(fp);
        return -1;
    }
    *len = fread(*text, 1, (size_t)n, fp);
    fclose(fp);
    return 0;
}

/* Every file under dir: what the fast reader takes, the positioned one
 * takes the same way.  Returns how many it took. */
static int check_tree(fixture *f, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int taken = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;
        char *text;
        size_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            taken += check_tree(f, path);
            continue;
        }
        assert_int_equal(read_whole(path, &text, &len), 0);
        drop_plans(f);
        if (jx__plan_parse_fast(text, len, NAME, &f->fast, &f->err) == 0) {
            if (jx__plan_parse_positioned(text, len, NAME, &f->positioned,
                                          &f->err) != 0)
                fail_msg("%s: only the fast reader takes it: %s", path,
                         f->err.message);
            if (plan_difference(f->fast, f->positioned) != NULL)
                fail_msg("%s: the readers differ in %s", path,
                         plan_difference(f->fast, f->positioned));
            taken++;
        }
        free(text);
    }
    closedir(d);
    return taken;
}

static void test_corpora_agree(void **state)
{
    fixture *f = *state;

    /* Some files of each are JSON plans the fast reader takes. */
    assert_true(check_tree(f, TU_DATADIR) > 0);
    check_tree(f, TU_SRCDIR "/tests/fuzz/corpus/plan");
}

/* ---- memory --------------------------------------------------------------- */

/* One step whose parameters hold n tiny values, as YAML or JSON. */
static void tiny_values(fixture *f, int json, size_t n)
{
    f->text.len = 0;
    assert_int_equal(
        jx__buf_puts(&f->text,
                     json ? "{" C ", \"steps\": [{" NOOP
                            ", \"parameters\": {\"a\": ["
                          : "contract_id: " TU_CONTRACT "\nsteps:\n"
                            "  - step_index: 0\n    step_type: noop\n"
                            "    parameters: {a: ["),
        0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(jx__buf_append(&f->text, i ? ",0" : "0", i ? 2 : 1),
                         0);
    assert_int_equal(jx__buf_puts(&f->text, json ? "]}}]}" : "]}\n"), 0);
}

static void test_memory_budget_refuses_where_it_runs_out(void **state)
{
    fixture *f = *state;
    char expected[256];
    size_t limit;
    int rc;

    /* 1 MB of YAML holding 500,000 values: a tree of them would take some
     * 60 times the text, past 8 times plus 16 MiB. */
    tiny_values(f, 0, 500000);
    limit = 7 * f->text.len + ((size_t)JX__PLAN_MEMORY_MIB << 20);
    rc = jx_plan_parse(f->text.data, f->text.len, "plan.yaml", &f->either,
                       &f->err);
    assert_int_equal(rc, JX_ELIMIT);
    assert_null(f->either);
    snprintf(expected, sizeof expected,
             ": reading it would take more than %zu MiB of memory (a plan "
             "may take 8 times its size plus 16 MiB, its text included)",
             (limit + (1 << 20) - 1) >> 20);
    assert_memory_equal(f->err.message, "plan.yaml:5:", 12);
    assert_non_null(strstr(f->err.message, expected));
    /* The same values as JSON: the fast reader keeps text, not a tree,
     * and takes them. */
    tiny_values(f, 1, 500000);
    rc = jx_plan_parse(f->text.data, f->text.len, NAME, &f->either, &f->err);
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(f->either->steps[0].params_json),
                     strlen("{\"a\":[]}") + 2 * 500000 - 1);
}

static void test_memory_budget_small_plans_unaffected(void **state)
{
    fixture *f = *state;

    /* Below the constant, any shape is read. */
    tiny_values(f, 0, 20000);
    assert_int_equal(jx_plan_parse(f->text.data, f->text.len, "plan.yaml",
                                   &f->either, &f->err),
                     0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_takes_compact),
        T(test_takes_pretty_every_field),
        T(test_takes_escapes_and_unicode),
        T(test_takes_crlf),
        T(test_takes_many_steps),
        T(test_takes_steps_smaller_than_reserved),
        T(test_declines_what_yaml_reads_otherwise),
        T(test_declines_refusals_with_their_text),
        T(test_declines_long_or_wide_keys),
        T(test_corpora_agree),
        T(test_memory_budget_refuses_where_it_runs_out),
        T(test_memory_budget_small_plans_unaffected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
