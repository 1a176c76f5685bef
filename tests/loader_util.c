/*
 * loader_util.c - see loader_util.h.
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
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "loader_util.h"

int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char *made;

    if (f == NULL || (made = tu_mkdtemp()) == NULL) {
        free(f);
        return -1;
    }
    /* Messages name the real path: resolve $TMPDIR's symbolic links. */
    f->dir = realpath(made, NULL);
    if (f->dir == NULL) {
        tu_rm_rf(made);
        free(made);
        free(f);
        return -1;
    }
    free(made);
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    json_decref(f->doc);
    tu_temp_free(f->dir);
    free(f->want);
    free(f->path);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

const char *in_dir(fixture *f, const char *rel)
{
    free(f->path);
    f->path = NULL;
    assert_true(asprintf(&f->path, "%s/%s", f->dir, rel) > 0);
    return f->path;
}

void copy_so(fixture *f, const char *from_dir, const char *name,
             const char *to_rel, unsigned mode)
{
    char from[PATH_MAX], to[PATH_MAX];

    snprintf(from, sizeof from, "%s/%s.so", from_dir, name);
    snprintf(to, sizeof to, "%s/%s", f->dir, to_rel);
    if (tu_copy(from, to, mode) != 0)
        fail_msg("cannot copy %s to %s: %s", from, to, strerror(errno));
}

void put_fixture(fixture *f, const char *name, unsigned mode)
{
    char rel[128];

    snprintf(rel, sizeof rel, "%s.so", name);
    copy_so(f, TU_FIXTURES, name, rel, mode);
}

void put_shipped(fixture *f, const char *name)
{
    char rel[128];

    snprintf(rel, sizeof rel, "%s.so", name);
    copy_so(f, TU_PLUGINS, name, rel, 0644);
}

void make_folder(fixture *f, const char *rel, unsigned mode)
{
    const char *path = in_dir(f, rel);

    assert_int_equal(mkdir(path, 0700), 0);
    /* chmod, not mkdir's mode: the umask must not mask the bits tested. */
    assert_int_equal(chmod(path, mode), 0);
}

int load_from(fixture *f, const char *plugin_dir, const char *body)
{
    jx_executor *ex;
    char *text;
    int rc;

    assert_true(asprintf(&text, "plugin_dir: %s\n%s", plugin_dir, body) > 0);
    rc = jx_config_parse(text, strlen(text), CONFIG_NAME, plugin_dir, &f->cfg,
                         &f->err);
    free(text);
    if (rc != 0)
        fail_msg("config refused: %s", f->err.message);
    memset(&f->err, 0, sizeof f->err);
    ex = (jx_executor *)&ex; /* must be reset to NULL on failure */
    rc = jx_executor_new(f->cfg, &ex, &f->err);
    if (rc != 0) {
        assert_null(ex);
        return rc;
    }
    assert_non_null(ex);
    f->ex = ex;
    return 0;
}

int load(fixture *f, const char *body)
{
    return load_from(f, f->dir, body);
}

void load_ok(fixture *f, const char *body)
{
    if (load(f, body) != 0)
        fail_msg("executor refused: %s", f->err.message);
}

void expect_error(fixture *f, int rc, int code, const char *fmt, ...)
{
    va_list ap;

    free(f->want);
    va_start(ap, fmt);
    assert_true(vasprintf(&f->want, fmt, ap) > 0);
    va_end(ap);
    assert_string_equal(f->err.message, f->want);
    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
}

void get_info(const fixture *f, size_t i, jx_plugin_info *info)
{
    memset(info, 0, sizeof *info);
    assert_int_equal(jx_executor_plugin_info(f->ex, i, info), 0);
}
