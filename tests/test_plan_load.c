/*
 * test_plan_load.c - jx_plan_load() on plan files long enough for the
 * fast reader to give their text back as it goes (a MiB at a time): the
 * plan is the one jx_plan_parse() makes of the same text, positions and
 * digest included; and a plan it declines after giving text back is read
 * again from the file, so the positioned reader answers as it would have.
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

#include <jobexec/jobexec.h>

#include "base/jsonbuf.h"
#include "plan_util.h"
#include "fixture.h"
#include "testutil.h"

#define N_STEPS 12000 /* about 2.4 MB of text: the reader gives back twice */

typedef struct fixture {
    char *dir, *path;
    jx__buf text;
    jx_plan *loaded, *parsed;
    jx_error err, err2;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_plan_free(f->loaded);
    jx_plan_free(f->parsed);
    jx__buf_free(&f->text);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static void put(fixture *f, const char *fmt, ...)
{
    char piece[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof piece);
    assert_int_equal(jx__buf_append(&f->text, piece, (size_t)n), 0);
}

/*
 * A long plan: steps of a few types, multi-byte targets, parameters and a
 * secret one, on one line each (pretty) or all on one line (compact, so
 * that columns run into the millions across the text given back).
 * last_step, when not NULL, is written as the last step, verbatim.
 */
static void write_plan(fixture *f, int compact, const char *last_step)
{
    const char *nl = compact ? "" : "\n  ";
    static const char *const types[] = {"capability_enable",
                                        "capability_enable",
                                        "config_change", "capability_enable"};

    f->text.len = 0;
    put(f, "{\"contract_id\": \"%s\", \"steps\": [%s", TU_CONTRACT, nl);
    for (int i = 0; i < N_STEPS; i++)
        put(f,
            "{\"step_index\": %d, \"step_type\": \"%s\", \"target\": "
            "\"caf\\u00e9-%d-\xc3\xbcn\xc3\xaf" "code\", \"parameters\": "
            "{\"reason\": \"r\xc3\xa9sum\xc3\xa9 %d\", \"token\": \"s3cr3t-%d\", "
            "\"n\": %d}, \"secret_parameters\": [\"token\"]}%s%s",
            i, types[i % 4], i % 97, i, i % 5, i,
            i + 1 < N_STEPS || last_step != NULL ? ", " : "",
            i + 1 < N_STEPS || last_step != NULL ? nl : "");
    if (last_step != NULL)
        put(f, "%s", last_step);
    put(f, "]}\n");
    /* Long enough for the reader to give text back (a MiB at a time). */
    assert_true(f->text.len > 2 * 1024 * 1024);
    free(f->path);
    f->path = tu_write(f->dir, compact ? "compact.json" : "pretty.json",
                       f->text.data);
    assert_non_null(f->path);
}

/* Loads the file and parses its text; both succeed, with one plan. */
static void assert_loaded_as_parsed(fixture *f)
{
    const char *why;

    jx_plan_free(f->loaded);
    jx_plan_free(f->parsed);
    f->loaded = f->parsed = NULL;
    if (jx_plan_load(f->path, &f->loaded, &f->err) != 0)
        fail_msg("jx_plan_load: %s", f->err.message);
    if (jx_plan_parse(f->text.data, f->text.len, f->path, &f->parsed,
                      &f->err2) != 0)
        fail_msg("jx_plan_parse: %s", f->err2.message);
    why = plan_difference(f->loaded, f->parsed);
    if (why != NULL)
        fail_msg("loaded and parsed plans differ in %s", why);
    assert_int_equal(jx_plan_step_count(f->loaded), N_STEPS + (
        jx_plan_step_count(f->parsed) > N_STEPS));
}

static void test_long_plans_load_as_they_parse(void **state)
{
    fixture *f = *state;

    write_plan(f, 0, NULL);
    assert_loaded_as_parsed(f);
    write_plan(f, 1, NULL);
    assert_loaded_as_parsed(f);
    assert_string_equal(jx_plan_contract_id(f->loaded), TU_CONTRACT);
}

/* A last step the fast reader declines but the positioned reader takes
 * (a lone CR, a line break to YAML alone): the file is read again, and
 * taken. */
static void test_declined_after_giving_back_is_read_again(void **state)
{
    fixture *f = *state;
    const char *last = "{\"step_index\": 1000000,\r\"step_type\": \"noop\"}";

    write_plan(f, 1, last);
    assert_loaded_as_parsed(f);
    assert_int_equal(jx_plan_step_count(f->loaded), N_STEPS + 1);
    write_plan(f, 0, last);
    assert_loaded_as_parsed(f);
}

/* A last step that is wrong: refused with the positioned reader's text,
 * position included, and no secret in it. */
static void test_refusal_after_giving_back(void **state)
{
    fixture *f = *state;
    char expected[512];

    write_plan(f, 0, "{\"step_index\": 1000000, \"step_type\": \"noop\", "
                     "\"bogus\": \"s3cr3t-1\"}");
    assert_int_equal(jx_plan_load(f->path, &f->loaded, &f->err), JX_EPLAN);
    assert_null(f->loaded);
    assert_int_equal(jx_plan_parse(f->text.data, f->text.len, f->path,
                                   &f->parsed, &f->err2),
                     JX_EPLAN);
    assert_string_equal(f->err.message, f->err2.message);
    snprintf(expected, sizeof expected, "%s:%d:", f->path, N_STEPS + 2);
    if (strncmp(f->err.message, expected, strlen(expected)) != 0)
        fail_msg("'%s' does not start with '%s'", f->err.message, expected);
    assert_null(strstr(f->err.message, "s3cr3t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_long_plans_load_as_they_parse,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_declined_after_giving_back_is_read_again, fx_setup,
            fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_after_giving_back,
                                        fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
