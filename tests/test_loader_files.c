/*
 * test_loader_files.c - the loader's refusals of the file and of its
 * descriptor, each with its exact code and "CONFIG:LINE:COL: plugin
 * 'PATH': reason" message: a missing file, a folder or FIFO, a file or
 * folder others may write to or another user owns, a path leaving
 * plugin_dir; a bad magic, ABI version or struct size, no descriptor
 * symbol, a failing init.  (A sticky world-writable folder is accepted.)
 *
 * Each test copies the .so files it needs into a private temp folder, so
 * that modes and owners can be changed without touching the build tree.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "loader_util.h"

/* The size of a version 1.0 descriptor: the least a loader accepts, fixed
 * for good whatever members later minor versions append. */
#define HANDLER_V1_0_SIZE                                                     \
    (offsetof(step_handler_v1, fini) + sizeof(void (*)(void *)))

/* ---- the file and its folders ------------------------------------------- */

static void test_missing_file(void **state)
{
    fixture *f = *state;
    int rc = load(f, "plugins:\n  - path: absent\n");

    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/absent.so': cannot open: %s",
                 f->dir, strerror(ENOENT));
}

static void test_folder_is_not_a_plugin(void **state)
{
    fixture *f = *state;
    int rc;

    make_folder(f, "x.so", 0755);
    rc = load(f, "plugins:\n  - path: x.so\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/x.so': a folder, expected a "
                 "regular file",
                 f->dir);
}

static void test_fifo_is_not_a_plugin(void **state)
{
    fixture *f = *state;
    int rc;

    /* Opening a FIFO would block: the loader must refuse it from stat. */
    assert_int_equal(mkfifo(in_dir(f, "pipe.so"), 0644), 0);
    rc = load(f, "plugins:\n  - path: pipe\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/pipe.so': a FIFO, expected a "
                 "regular file",
                 f->dir);
}

static void test_group_writable_file(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "counting", 0664);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': writable by "
                 "group or others (mode 0664), expected it writable by its "
                 "owner only",
                 f->dir);
}

static void test_other_writable_file(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "counting", 0646);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': writable by "
                 "group or others (mode 0646), expected it writable by its "
                 "owner only",
                 f->dir);
}

static void test_group_writable_folder(void **state)
{
    fixture *f = *state;
    int rc;

    make_folder(f, "sub", 0775);
    copy_so(f, TU_FIXTURES, "counting", "sub/counting.so", 0644);
    rc = load(f, "plugins:\n  - path: sub/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/sub/counting.so': folder "
                 "'%s/sub' is writable by group or others (mode 0775), "
                 "expected it writable by its owner only",
                 f->dir, f->dir);
}

static void test_other_writable_folder(void **state)
{
    fixture *f = *state;
    int rc;

    /* Two levels: the unsafe folder is above the plugin's own. */
    make_folder(f, "open", 0757);
    make_folder(f, "open/deep", 0755);
    copy_so(f, TU_FIXTURES, "counting", "open/deep/counting.so", 0644);
    rc = load(f, "plugins:\n  - path: open/deep/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/open/deep/counting.so': "
                 "folder '%s/open' is writable by group or others (mode "
                 "0757), expected it writable by its owner only",
                 f->dir, f->dir);
}

static void test_sticky_world_writable_folder_accepted(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    /* Like /tmp: nobody can replace what another user owns in it. */
    make_folder(f, "shared", 01777);
    copy_so(f, TU_FIXTURES, "counting", "shared/counting.so", 0644);
    load_ok(f, "plugins:\n  - path: shared/counting\n"
               "    isolation: inproc\n");
    assert_int_equal(jx_executor_plugin_count(f->ex), 1);
    get_info(f, 0, &info);
    assert_string_equal(info.path, in_dir(f, "shared/counting.so"));
}

static void test_owned_by_another_user(void **state)
{
    fixture *f = *state;
    int rc;

    if (geteuid() != 0) {
        print_message("skipped: only root can give a file to another user\n");
        skip();
    }
    put_fixture(f, "counting", 0644);
    assert_int_equal(chown(in_dir(f, "counting.so"), 65534, 65534), 0);
    rc = load(f, "plugins:\n  - path: counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': owned by uid "
                 "65534, expected root or the running user (uid 0)",
                 f->dir);
}

static void test_folder_owned_by_another_user(void **state)
{
    fixture *f = *state;
    int rc;

    if (geteuid() != 0) {
        print_message("skipped: only root can give a folder to another "
                      "user\n");
        skip();
    }
    make_folder(f, "theirs", 0755);
    copy_so(f, TU_FIXTURES, "counting", "theirs/counting.so", 0644);
    assert_int_equal(chown(in_dir(f, "theirs"), 65534, 65534), 0);
    rc = load(f, "plugins:\n  - path: theirs/counting\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/theirs/counting.so': folder "
                 "'%s/theirs' is owned by uid 65534, expected root or the "
                 "running user (uid 0)",
                 f->dir, f->dir);
}

static void test_dotdot_path_refused(void **state)
{
    fixture *f = *state;
    jx_config *cfg = (jx_config *)&cfg; /* must be reset to NULL */
    char *text;
    int rc;

    assert_true(asprintf(&text,
                         "plugin_dir: %s\nplugins:\n"
                         "  - path: counting\n"
                         "  - path: sub/../../counting\n",
                         f->dir) > 0);
    rc = jx_config_parse(text, strlen(text), CONFIG_NAME, f->dir, &cfg,
                         &f->err);
    free(text);
    if (rc == 0)
        f->cfg = cfg; /* freed by the teardown */
    assert_null(cfg);
    expect_error(f, rc, JX_ECONFIG,
                 CONFIG_NAME ":4:11: plugin path 'sub/../../counting' may not "
                 "leave plugin_dir with '..'");
}

/* A symbolic link in a folder anybody may write to can be turned to
 * another file at any time: the folder holding it is checked like the
 * folders above the file it points to. */
static void test_link_in_unsafe_folder(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "counting", 0644);
    make_folder(f, "open", 0777);
    assert_int_equal(symlink("../counting.so", in_dir(f, "open/link.so")), 0);
    rc = load(f, "plugins:\n  - path: open/link.so\n"
                 "    isolation: inproc\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/open/link.so': folder "
                 "'%s/open' is writable by group or others (mode 0777), "
                 "expected it writable by its owner only",
                 f->dir, f->dir);
}

/* Links through safe folders are followed, each folder on the way
 * checked; the plugin keeps the path the config gave. */
static void test_link_chain_in_safe_folders(void **state)
{
    fixture *f = *state;
    jx_plugin_info info;

    make_folder(f, "sub", 0755);
    copy_so(f, TU_FIXTURES, "counting", "sub/counting.so", 0644);
    assert_int_equal(symlink("sub/hop.so", in_dir(f, "counting.so")), 0);
    assert_int_equal(symlink("./../sub/counting.so", in_dir(f, "sub/hop.so")),
                     0);
    load_ok(f, "plugins:\n  - path: counting\n    isolation: inproc\n");
    get_info(f, 0, &info);
    assert_string_equal(info.path, in_dir(f, "counting.so"));
}

/* A libtool archive is a text file naming the module libltdl would map:
 * checking the .la would leave the mapped file unchecked. */
static void test_libtool_archive_refused(void **state)
{
    fixture *f = *state;
    char *la;
    int rc;

    make_folder(f, "open", 0777);
    copy_so(f, TU_FIXTURES, "counting", "open/counting.so", 0666);
    assert_true(asprintf(&la,
                         "dlname='counting.so'\nlibrary_names='counting.so'\n"
                         "old_library=''\ninstalled=yes\nlibdir='%s/open'\n",
                         f->dir) > 0);
    free(tu_write(f->dir, "counting.la", la));
    free(la);
    rc = load(f, "plugins:\n  - path: counting.la\n"
                 "    isolation: inproc\n");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.la': a libtool "
                 "archive names another file to load, which would not be "
                 "checked: name the module itself (the .so)",
                 f->dir);
}

/* A name looked up among the modules linked in (-dlpreopen) is never
 * looked for in libltdl's search path instead: only the checked file
 * under plugin_dir may be loaded. */
static void test_preload_lookup_never_searches(void **state)
{
    fixture *f = *state;
    char *elsewhere;
    int rc;

    make_folder(f, "open", 0777);
    copy_so(f, TU_FIXTURES, "counting", "open/counting.so", 0666);
    make_folder(f, "plugins", 0755);
    assert_int_equal(setenv("LTDL_LIBRARY_PATH", in_dir(f, "open"), 1), 0);
    elsewhere = strdup(in_dir(f, "plugins"));
    assert_non_null(elsewhere);
    rc = load_from(f, elsewhere, "plugins:\n  - path: counting\n"
                                 "    isolation: inproc\n");
    unsetenv("LTDL_LIBRARY_PATH");
    expect_error(f, rc, JX_ELOAD,
                 CONFIG_NAME ":3:11: plugin '%s/counting.so': cannot open: %s",
                 elsewhere, strerror(ENOENT));
    free(elsewhere);
}

/* ---- the descriptor ----------------------------------------------------- */

static void test_bad_magic(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "bad_magic", 0644);
    rc = load(f, "plugins:\n  - path: bad_magic\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/bad_magic.so': "
                 BAD_MAGIC_TEXT,
                 f->dir);
}

static void test_wrong_abi_version(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "wrong_abi", 0644);
    rc = load(f, "plugins:\n  - path: wrong_abi\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/wrong_abi.so': "
                 "step_handler_v1 has abi_version 2, expected 1",
                 f->dir);
}

static void test_short_struct_size(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "short_size", 0644);
    rc = load(f, "plugins:\n  - path: short_size\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/short_size.so': "
                 "step_handler_v1 has struct_size 16, expected at least %zu",
                 f->dir, HANDLER_V1_0_SIZE);
}

static void test_missing_symbol(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "no_symbol", 0644);
    rc = load(f, "plugins:\n  - path: no_symbol\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/no_symbol.so': exports "
                 "neither step_handler_v1 nor health_observer_v1: looked for "
                 "no_symbol_LTX_step_handler_v1 and "
                 "no_symbol_LTX_health_observer_v1, as "
                 "JX_STEP_HANDLER(no_symbol) and "
                 "JX_HEALTH_OBSERVER(no_symbol) name them (the prefix comes "
                 "from the file's name: a module renamed after it was built "
                 "keeps its old one)",
                 f->dir);
}

/* A module renamed after it was built: the message names the symbol
 * looked for, which the module does not have under its new name. */
static void test_renamed_module(void **state)
{
    fixture *f = *state;
    int rc;

    copy_so(f, TU_FIXTURES, "counting", "counting-v2.so", 0644);
    rc = load(f, "plugins:\n  - path: counting-v2.so\n");
    expect_error(f, rc, JX_EABI,
                 CONFIG_NAME ":3:11: plugin '%s/counting-v2.so': exports "
                 "neither step_handler_v1 nor health_observer_v1: looked for "
                 "counting_v2_LTX_step_handler_v1 and "
                 "counting_v2_LTX_health_observer_v1, as "
                 "JX_STEP_HANDLER(counting_v2) and "
                 "JX_HEALTH_OBSERVER(counting_v2) name them (the prefix "
                 "comes from the file's name: a module renamed after it was "
                 "built keeps its old one)",
                 f->dir);
}

static void test_init_fails(void **state)
{
    fixture *f = *state;
    int rc;

    put_fixture(f, "init_fails", 0644);
    rc = load(f, "plugins:\n  - path: init_fails\n");
    expect_error(f, rc, JX_EINIT,
                 CONFIG_NAME ":3:11: plugin '%s/init_fails.so': init failed: "
                 "cannot reach the inventory service",
                 f->dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_missing_file),
        TEST(test_folder_is_not_a_plugin),
        TEST(test_fifo_is_not_a_plugin),
        TEST(test_group_writable_file),
        TEST(test_other_writable_file),
        TEST(test_group_writable_folder),
        TEST(test_other_writable_folder),
        TEST(test_sticky_world_writable_folder_accepted),
        TEST(test_owned_by_another_user),
        TEST(test_folder_owned_by_another_user),
        TEST(test_dotdot_path_refused),
        TEST(test_link_in_unsafe_folder),
        TEST(test_link_chain_in_safe_folders),
        TEST(test_libtool_archive_refused),
        TEST(test_preload_lookup_never_searches),
        TEST(test_bad_magic),
        TEST(test_wrong_abi_version),
        TEST(test_short_struct_size),
        TEST(test_missing_symbol),
        TEST(test_renamed_module),
        TEST(test_init_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
