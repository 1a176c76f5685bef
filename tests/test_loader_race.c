/*
 * test_loader_race.c - what the loader maps is the file it checked: a file
 * or symbolic link swapped between the checks and the load changes
 * nothing.  The swap happens in the loader's test hook, so the race that
 * would otherwise need luck happens every time.
 *
 * The suite calls the loader itself (jx__plugin_open), so it links the
 * core's convenience library.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin/loader.h"
#include "fixture.h"
#include "testutil.h"

typedef struct fixture {
    char *dir; /* private temp folder, symbolic links resolved */
    char path[PATH_MAX];
    jx__plugin *plugin;
    jx_error err;
} fixture;

/* What the hook does: rename `from` over `to`. */
static char swap_from[PATH_MAX], swap_to[PATH_MAX];
static int swapped;

static void swap_cb(const char *path)
{
    (void)path;
    swapped = rename(swap_from, swap_to) == 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char *made = tu_mkdtemp();
    jx_error err;

    if (f == NULL || made == NULL || (f->dir = realpath(made, NULL)) == NULL ||
        jx__ltdl_acquire(&err) != 0) {
        free(made);
        free(f);
        return -1;
    }
    free(made);
    swapped = 0;
    jx__loader_checked_hook = swap_cb;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    jx__loader_checked_hook = NULL;
    jx__plugin_free(f->plugin);
    jx__ltdl_release();
    tu_temp_free(f->dir);
    free(f);
    return 0;
}

static const char *in_dir(fixture *f, const char *rel)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, rel);
    return f->path;
}

static void put(fixture *f, const char *name, const char *rel, unsigned mode)
{
    char from[PATH_MAX];

    snprintf(from, sizeof from, "%s/%s.so", TU_FIXTURES, name);
    if (tu_copy(from, in_dir(f, rel), mode) != 0)
        fail_msg("cannot copy %s: %s", from, strerror(errno));
}

static int open_plugin(fixture *f, const char *rel)
{
    char path[PATH_MAX];
    jx__plugin_conf pc = {0};

    snprintf(path, sizeof path, "%s", in_dir(f, rel));
    pc.path = path;
    pc.path_written = (char *)rel;
    pc.line = 3;
    pc.col = 11;
    return jx__plugin_open(&pc, "race.yaml", &f->plugin, &f->err);
}

/* The checked file is replaced by another (a bad one) before the load: the
 * checked one is what is loaded. */
static void test_file_swapped_after_check(void **state)
{
    fixture *f = *state;

    put(f, "counting", "counting.so", 0644);
    put(f, "bad_magic", "other.so", 0644);
    snprintf(swap_from, sizeof swap_from, "%s", in_dir(f, "other.so"));
    snprintf(swap_to, sizeof swap_to, "%s", in_dir(f, "counting.so"));
    assert_int_equal(open_plugin(f, "counting.so"), 0);
    assert_true(swapped);
    assert_non_null(f->plugin->handler);
    assert_string_equal(f->plugin->handler->name, "counting");
}

/* A symbolic link is turned, after the check, to a file nobody checked in
 * a folder anybody may write to: the link's old target is loaded. */
static void test_link_swapped_after_check(void **state)
{
    fixture *f = *state;

    put(f, "counting", "counting.so", 0644);
    assert_int_equal(mkdir(in_dir(f, "open"), 0700), 0);
    assert_int_equal(chmod(f->path, 0777), 0);
    put(f, "bad_magic", "open/evil.so", 0666);
    assert_int_equal(symlink("counting.so", in_dir(f, "link.so")), 0);
    assert_int_equal(symlink("open/evil.so", in_dir(f, "next.so")), 0);
    snprintf(swap_from, sizeof swap_from, "%s", in_dir(f, "next.so"));
    snprintf(swap_to, sizeof swap_to, "%s", in_dir(f, "link.so"));
    assert_int_equal(open_plugin(f, "link.so"), 0);
    assert_true(swapped);
    assert_non_null(f->plugin->handler);
    assert_string_equal(f->plugin->handler->name, "counting");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_swapped_after_check, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_link_swapped_after_check, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
