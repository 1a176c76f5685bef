/*
 * plugin_util.c - see plugin_util.h.
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

#include "plugin_util.h"

int pf_setup(void **state)
{
    pfix *f = calloc(1, sizeof *f);

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static char *last_path;

int pf_teardown(void **state)
{
    pfix *f = *state;

    json_decref(f->doc);
    free(f->doc_text);
    tu_drop_job(&f->res, &f->plan, &f->ex, &f->cfg);
    tu_temp_free(f->dir);
    free(last_path);
    last_path = NULL;
    free(f);
    return 0;
}

const char *pf_path(pfix *f, const char *name)
{
    free(last_path);
    if (asprintf(&last_path, "%s/%s", f->dir, name) < 0)
        fail_msg("out of memory");
    return last_path;
}

static int open_executor(pfix *f, const char *fmt, va_list ap)
{
    char *text;
    int rc;

    if (vasprintf(&text, fmt, ap) < 0)
        fail_msg("out of memory");
    jx_executor_free(f->ex);
    jx_config_free(f->cfg);
    f->ex = NULL;
    f->cfg = NULL;
    rc = jx_config_parse(text, strlen(text), "jobexec.yaml", TU_PLUGINS,
                         &f->cfg, &f->err);
    free(text);
    if (rc == 0)
        rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    return rc;
}

int pf_executor_rc(pfix *f, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = open_executor(f, fmt, ap);
    va_end(ap);
    return rc;
}

void pf_executor(pfix *f, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = open_executor(f, fmt, ap);
    va_end(ap);
    if (rc != 0)
        fail_msg("executor: %s", f->err.message);
}

jx_job_status pf_run(pfix *f, const char *steps_yaml)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    char *text;
    FILE *fp;

    if (asprintf(&text, "contract_id: " TU_CONTRACT "\nsteps:\n%s",
                 steps_yaml) < 0)
        fail_msg("out of memory");
    tu_plan(text, &f->plan, &f->err);
    free(text);
    json_decref(f->doc);
    free(f->doc_text);
    f->doc = NULL;
    f->doc_text = NULL;
    if ((fp = open_memstream(&f->doc_text, &f->doc_len)) == NULL)
        fail_msg("open_memstream failed");
    opts.document = fp;
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    fclose(fp);
    if ((f->doc = json_loads(f->doc_text, 0, NULL)) == NULL)
        fail_msg("document is not JSON: %s", f->doc_text);
    return jx_result_status(f->res);
}

json_t *pf_step(pfix *f, size_t i)
{
    json_t *s = json_array_get(json_object_get(f->doc, "step_results"), i);

    if (s == NULL)
        fail_msg("no step_results[%zu] in %s", i, f->doc_text);
    return s;
}

json_t *pf_output(pfix *f, size_t i)
{
    json_t *out = json_object_get(pf_step(f, i), "output");
    return json_is_null(out) ? NULL : out;
}

const char *pf_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    if (s == NULL)
        fail_msg("member '%s' is not a string", key);
    return s;
}

void pf_assert_json(json_t *obj, const char *want)
{
    char *got = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS |
                                    JSON_ENCODE_ANY);

    if (got == NULL || strcmp(got, want) != 0) {
        fail_msg("JSON %s, expected %s", got ? got : "(none)", want);
    }
    free(got);
}
