/*
 * fixture.c - see fixture.h.  The chain hashes are in fixture_chain.c, so
 * that only the suites that use them need libsodium.
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

#include "fixture.h"
#include "testutil.h"

/* ---- set-up and teardown ------------------------------------------------ */

int tu_temp_log(char **dir, char **log_path)
{
    *dir = tu_mkdtemp();
    if (log_path != NULL)
        *log_path = NULL;
    if (*dir == NULL)
        return -1;
    if (log_path != NULL &&
        asprintf(log_path, "%s/evidence.jsonl", *dir) < 0) {
        *log_path = NULL;
        tu_temp_free(*dir);
        *dir = NULL;
        return -1;
    }
    return 0;
}

void tu_temp_free(char *dir)
{
    if (dir != NULL)
        tu_rm_rf(dir);
    free(dir);
}

void tu_drop_job(jx_result **res, jx_plan **plan, jx_executor **ex,
                 jx_config **cfg)
{
    if (res != NULL) {
        jx_result_free(*res);
        *res = NULL;
    }
    if (plan != NULL) {
        jx_plan_free(*plan);
        *plan = NULL;
    }
    if (ex != NULL) {
        jx_executor_free(*ex);
        *ex = NULL;
    }
    if (cfg != NULL) {
        jx_config_free(*cfg);
        *cfg = NULL;
    }
}

/* ---- configs and executors ---------------------------------------------- */

static int config_parse_va(jx_config **cfg, jx_error *err, const char *name,
                           const char *plugin_dir, const char *fmt,
                           va_list ap) __attribute__((format(printf, 5, 0)));

static int config_parse_va(jx_config **cfg, jx_error *err, const char *name,
                           const char *plugin_dir, const char *fmt,
                           va_list ap)
{
    char *text = NULL;
    int rc;

    if (vasprintf(&text, fmt, ap) < 0)
        fail_msg("out of memory");
    rc = jx_config_parse(text, strlen(text), name, plugin_dir, cfg, err);
    free(text);
    return rc;
}

int tu_config_parsef(jx_config **cfg, jx_error *err, const char *name,
                     const char *plugin_dir, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = config_parse_va(cfg, err, name, plugin_dir, fmt, ap);
    va_end(ap);
    return rc;
}

void tu_configf(jx_config **cfg, jx_error *err, const char *name,
                const char *plugin_dir, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = config_parse_va(cfg, err, name, plugin_dir, fmt, ap);
    va_end(ap);
    if (rc != 0)
        fail_msg("config: %s", err->message);
}

void tu_executor(const jx_config *cfg, const step_handler_v1 *handler,
                 jx_executor **ex, jx_error *err)
{
    if (jx_executor_new(cfg, ex, err) != 0)
        fail_msg("executor: %s", err->message);
    if (handler != NULL &&
        jx_executor_add_handler(*ex, handler, NULL, NULL, err) != 0)
        fail_msg("add_handler: %s", err->message);
}

/* ---- plans and runs ----------------------------------------------------- */

char *tu_plan_text(const char *job_id, size_t n, const char *type,
                   int64_t odd_index, const char *odd_type)
{
    size_t type_len = strlen(type), odd_len = odd_type ? strlen(odd_type) : 0;
    size_t cap = 128 + (job_id != NULL ? strlen(job_id) : 0) +
                 n * (48 + (type_len > odd_len ? type_len : odd_len));
    char *text = malloc(cap);
    size_t len;

    if (text == NULL)
        return NULL;
    len = (size_t)snprintf(text, cap, "%s%s%scontract_id: " TU_CONTRACT
                                      "\nsteps:\n",
                           job_id != NULL ? "job_id: " : "",
                           job_id != NULL ? job_id : "",
                           job_id != NULL ? "\n" : "");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "  - {step_index: %zu, step_type: %s}\n", i,
                                (int64_t)i == odd_index ? odd_type : type);
    return text;
}

void tu_plan(const char *text, jx_plan **plan, jx_error *err)
{
    jx_plan_free(*plan);
    *plan = NULL;
    if (jx_plan_parse(text, strlen(text), "plan.yaml", plan, err) != 0)
        fail_msg("plan: %s", err->message);
}

void tu_plan_steps(jx_plan **plan, jx_error *err, const char *job_id,
                   size_t n, const char *type, int64_t odd_index,
                   const char *odd_type)
{
    char *text = tu_plan_text(job_id, n, type, odd_index, odd_type);
    int rc;

    if (text == NULL)
        fail_msg("out of memory");
    jx_plan_free(*plan);
    *plan = NULL;
    rc = jx_plan_parse(text, strlen(text), "plan.yaml", plan, err);
    free(text);
    if (rc != 0)
        fail_msg("plan: %s", err->message);
}

void tu_run_job(jx_executor *ex, const jx_plan *plan,
                const jx_run_options *opts, jx_result **res, jx_error *err)
{
    jx_result_free(*res);
    *res = NULL;
    if (jx_executor_run(ex, plan, opts, res, err) != 0)
        fail_msg("run: %s", err->message);
}

char *tu_record_copy(const jx_record *rec)
{
    char *copy = malloc(rec->json_len + 1);

    if (copy != NULL) {
        memcpy(copy, rec->json, rec->json_len);
        copy[rec->json_len] = '\0';
    }
    return copy;
}

/* ---- the "rec" handler -------------------------------------------------- */

void (*tu_rec_hook)(const jx_host_v1 *host, const jx_step *step);

static int rec_execute(void *state, const jx_host_v1 *host,
                       const jx_context *ctx, const jx_step *step,
                       jx_output *out)
{
    (void)state;
    (void)ctx;
    if (tu_rec_hook != NULL)
        tu_rec_hook(host, step);
    host->out_int(out, "index", host->step_index(step));
    if (strcmp(host->step_type(step), "fail") == 0) {
        host->out_error(out, "refused by the target");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

static const char *const rec_types[] = {"rec", "fail", NULL};

const step_handler_v1 tu_rec_handler = {
    JX_STEP_HANDLER_HEADER, "rec", "1.0.0", rec_types, 0, NULL, NULL,
    rec_execute, NULL,
};
