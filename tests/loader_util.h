/*
 * loader_util.h - what the test_loader_* suites share: a fixture with a
 * private folder (symbolic links resolved, since messages name the real
 * path) into which a test copies the .so files it needs, executors loaded
 * from a config body, and expecting an exact error.
 */
#ifndef JX_TEST_LOADER_UTIL_H
#define JX_TEST_LOADER_UTIL_H

#include <stddef.h>

#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define CONFIG_NAME "loader.yaml"
#define PLAN_HEAD "contract_id: " TU_CONTRACT "\nsteps:\n"

/* What the loader prints for a descriptor whose magic is 0xdeadbeef. */
#define BAD_MAGIC_TEXT                                                        \
    "step_handler_v1 has magic 0x00000000deadbeef, expected "                 \
    "0x4a58535445500001"

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    char *dir; /* private temp folder, symbolic links resolved */
    jx_config *cfg;
    jx_executor *ex;
    jx_plan *plan;
    jx_result *res;
    json_t *doc;  /* the evidence document of the last run */
    char *want;   /* the expected message being compared */
    char *path;   /* a scratch path */
    jx_error err;
} fixture;

int fx_setup(void **state);
int fx_teardown(void **state);
/* An entry of main()'s tests[] with that fixture. */
#define TEST(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

/* ---- helpers ------------------------------------------------------------ */

/* f->path = f->dir + "/" + rel. */
const char *in_dir(fixture *f, const char *rel);
/* Copies FROM_DIR/NAME.so to the temp folder as to_rel, with mode. */
void copy_so(fixture *f, const char *from_dir, const char *name,
             const char *to_rel, unsigned mode);
/* Copies tests/plugins/NAME.so to the temp folder as NAME.so. */
void put_fixture(fixture *f, const char *name, unsigned mode);
/* The same for a shipped plugin (noop, fail, health_static). */
void put_shipped(fixture *f, const char *name);
/* Makes the folder rel in the temp folder, with exactly mode. */
void make_folder(fixture *f, const char *rel, unsigned mode);
/* Parses "plugin_dir: DIR\n" + body (which must be accepted) and builds an
 * executor from it; returns jx_executor_new's code. */
int load_from(fixture *f, const char *plugin_dir, const char *body);
/* load_from() the temp folder. */
int load(fixture *f, const char *body);
/* load(), which must succeed. */
void load_ok(fixture *f, const char *body);

/* Asserts rc and f->err are code and exactly the formatted message. */
void expect_error(fixture *f, int rc, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The info of plugin i, which must exist. */
void get_info(const fixture *f, size_t i, jx_plugin_info *info);

#endif
