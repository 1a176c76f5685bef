/*
 * test_cli_progress.c - `jobexec run --progress`: JSON Lines for programs,
 * a line redrawn in place on a terminal (a pseudo-terminal here) and
 * cleared before the summary, nothing by default when standard error is
 * not a terminal; the evidence document untouched by any of them.
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

#include "cli_util.h"

static const char *two_steps(fixture *f)
{
    return fx_keep(f, tu_write(fx_dir(f), "plan.yaml",
                               "job_id: " TU_JOB "\ncontract_id: " TU_CONTRACT
                               "\nsteps:\n"
                               "  - {step_index: 0, step_type: "
                               "capability_enable}\n"
                               "  - {step_index: 1, step_type: "
                               "capability_disable}\n"));
}

static void test_progress_json(void **state)
{
    static const char *const stages[] = {"started", "step_finished",
                                         "step_finished", "finished"};
    static const double percent[] = {0, 50, 100, 100};
    fixture *f = *state;
    char *line, *save = NULL;
    size_t n = 0;

    JOBEXEC(f, NULL, "run", "-c", NOOP_CONFIG, "--progress", "json",
            "--quiet", two_steps(f));
    /* stdout: the document alone */
    assert_int_equal(f->p.status, 0);
    assert_doc(fx_doc(f), TU_JOB, "COMPLETED", TU_ALL_DONE, 2, 0);
    assert_int_equal(count_lines(f->p.err), 4);
    for (line = strtok_r(f->p.err, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        json_t *ev = json_loads(line, 0, NULL);
        assert_non_null(ev);
        assert_string_equal(doc_string(ev, "job_id"), TU_JOB);
        assert_string_equal(doc_string(ev, "stage"), stages[n]);
        assert_true(json_real_value(json_object_get(ev, "percentage")) ==
                    percent[n]);
        assert_int_equal(doc_int(ev, "total_steps"), 2);
        assert_int_equal(doc_int(ev, "steps_done"), n == 0 ? 0 : n > 2 ? 2
                                                                       : n);
        assert_int_equal(doc_int(ev, "step_index"), n == 1 ? 0 : n == 2 ? 1
                                                                       : -1);
        assert_true(json_is_null(json_object_get(ev, "message")));
        if (n == 3)
            assert_string_equal(doc_string(ev, "status"), "COMPLETED");
        else
            assert_true(json_is_null(json_object_get(ev, "status")));
        json_decref(ev);
    }
    assert_int_equal(n, 4);
}

static void test_progress_line_on_terminal(void **state)
{
    fixture *f = *state;
    const char *argv[] = {TU_JOBEXEC, "run", "-c", NOOP_CONFIG,
                          two_steps(f), NULL};
    const char *summary;

    fx_spawn_tty(f, argv);
    assert_int_equal(f->p.status, 0);
    /* Drawn at the start, in place ... */
    assert_true(starts_with(f->p.err, "\r[  0%] 0/2 steps"));
    /* ... and cleared before the summary, which is the last line. */
    summary = strstr(f->p.err, "\r\033[Kjobexec: job " TU_JOB
                               " COMPLETED: 2/2 steps succeeded in ");
    assert_non_null(summary);
    assert_null(strstr(summary + 4, "\033[K"));
    assert_int_equal(count_lines(f->p.err), 1);
}

static void test_progress_none(void **state)
{
    fixture *f = *state;
    const char *argv[] = {TU_JOBEXEC, "run", "-c", NOOP_CONFIG, "--progress",
                          "none", two_steps(f), NULL};

    fx_spawn_tty(f, argv);
    assert_int_equal(f->p.status, 0);
    assert_true(starts_with(f->p.err, "jobexec: job " TU_JOB " COMPLETED"));
    assert_null(strstr(f->p.err, "\033[K"));

    /* Standard error not a terminal, no --progress: the summary alone,
     * and with --quiet not even that. */
    JOBEXEC(f, NULL, "run", "-c", NOOP_CONFIG, two_steps(f));
    assert_completed(f, TU_JOB, 2);
    JOBEXEC(f, NULL, "run", "--quiet", "-c", NOOP_CONFIG, two_steps(f));
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
}

static void test_progress_bad_mode(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--progress", "fancy", two_steps(f));
    assert_usage_error(&f->p, "jobexec: --progress 'fancy' is not one of "
                              "line, json, none\nTry 'jobexec run --help' for "
                              "more information.\n");
    JOBEXEC(f, NULL, "check", "--progress", "json");
    assert_usage_error(&f->p, "jobexec: option '--progress' does not apply "
                              "to 'check'\nTry 'jobexec check --help' for "
                              "more information.\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_progress_json),
        TEST(test_progress_line_on_terminal),
        TEST(test_progress_none),
        TEST(test_progress_bad_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
