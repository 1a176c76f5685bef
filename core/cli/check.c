/*
 * check.c - `jobexec check [PLAN]`: loads the config and its plugins, and
 * asks each handler's validate about a plan; runs nothing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_check(FILE *fp)
{
    fprintf(fp,
            "Usage: %s check [--config FILE] [--json] [PLAN|-]\n"
            "Load the config and every plugin it names, and, given a plan, "
            "check that\nevery step has a handler and that each handler's "
            "validate accepts it.\nNothing runs, and the evidence log is "
            "only checked, never created or changed.\nWith --json, one JSON "
            "document on standard output: {ok: true, config,\nplugins, "
            "plan} or {ok: false, file, line, column, reason, error, "
            "message}.\nExit status: 0 valid, 2 invalid (an evidence log "
            "that cannot be opened or\ncreated among them), 3 internal "
            "error.\n",
            prog);
}

/* The config in effect, as the executor was loaded from it. */
static const char *config_path(const options *o)
{
    return o->config != NULL ? o->config : jx__cli_default_config();
}

/* Splits a message "FILE:LINE:COLUMN: REASON" (or "FILE: REASON") whose
 * FILE is one of the names the check read, so that a script need not
 * parse it.  Anything else is all reason. */
static json_t *where_json(const char *message, const char *const names[2])
{
    for (int i = 0; i < 2; i++) {
        size_t n = names[i] != NULL ? strlen(names[i]) : 0;
        unsigned line, col;
        int used = 0;

        if (n == 0 || strncmp(message, names[i], n) != 0 ||
            message[n] != ':')
            continue;
        if (sscanf(message + n, ":%u:%u: %n", &line, &col, &used) == 2 &&
            used > 0)
            return json_pack("{s:s, s:i, s:i, s:s}", "file", names[i],
                             "line", (int)line, "column", (int)col, "reason",
                             message + n + used);
        if (message[n + 1] == ' ')
            return json_pack("{s:s, s:n, s:n, s:s}", "file", names[i],
                             "line", "column", "reason", message + n + 2);
    }
    return json_pack("{s:n, s:n, s:n, s:s}", "file", "line", "column",
                     "reason", message);
}

/* Prints doc, indented; the exit status to return (status, or 3 when it
 * could not be printed). */
static int print_doc(json_t *doc, int status)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;

    json_decref(doc);
    if (text == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    printf("%s\n", text);
    free(text);
    return status;
}

/* --json's answer to a refusal: where and why, and the exit status it
 * has without --json (which prints the message on stderr instead). */
static int refusal_json(const options *o, const jx_error *err)
{
    const char *names[2] = {o->operand, config_path(o)};
    json_t *where = where_json(err->message, names);
    json_t *doc = json_pack("{s:b}", "ok", 0);

    /* "ok" first, for the eye; then where, then the code and the line. */
    if (doc != NULL &&
        (where == NULL || json_object_update(doc, where) != 0 ||
         json_object_set_new(doc, "error", json_string(jx_err_name(
                                               err->code))) != 0 ||
         json_object_set_new(doc, "message", json_string(err->message)) !=
             0)) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(where);
    return print_doc(doc, jx__cli_status_for(err));
}

static int accepted_json(const options *o, const jx_executor *ex,
                         const jx_plan *plan)
{
    json_t *p = json_null();

    if (plan != NULL)
        p = json_pack("{s:s, s:s?, s:b, s:s, s:I}", "file", o->operand,
                      "job_id", jx_plan_job_id_generated(plan)
                                    ? NULL
                                    : jx_plan_job_id(plan),
                      "job_id_generated", jx_plan_job_id_generated(plan),
                      "contract_id", jx_plan_contract_id(plan), "steps",
                      (json_int_t)jx_plan_step_count(plan));
    return print_doc(json_pack("{s:b, s:s, s:I, s:o?}", "ok", 1, "config",
                               config_path(o), "plugins",
                               (json_int_t)jx_executor_plugin_count(ex),
                               "plan", p),
                     EXIT_COMPLETED);
}

static void accepted_text(const jx_executor *ex, const jx_plan *plan)
{
    if (plan != NULL)
        printf("plan OK: %zu step%s, job %s, contract %s\n",
               jx_plan_step_count(plan),
               jx_plan_step_count(plan) == 1 ? "" : "s",
               jx_plan_job_id_generated(plan) ? "(generated at run time)"
                                              : jx_plan_job_id(plan),
               jx_plan_contract_id(plan));
    else
        printf("config OK: %zu plugin%s loaded\n",
               jx_executor_plugin_count(ex),
               jx_executor_plugin_count(ex) == 1 ? "" : "s");
}

static int cmd_check(const options *o)
{
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};
    int rc = 0;

    if ((o->operand == NULL || jx_plan_load(o->operand, &plan, &err) == 0) &&
        jx__cli_load_executor(o, JX_EXECUTOR_CHECK_ONLY, &ex, &err) == 0 &&
        plan != NULL)
        rc = jx_executor_check(ex, plan, &err);
    else if (ex == NULL)
        rc = -1; /* the plan or the config was refused: err says why */
    if (rc != 0)
        rc = o->json ? refusal_json(o, &err) : jx__cli_report(&err);
    else if (o->json)
        rc = accepted_json(o, ex, plan);
    else
        accepted_text(ex, plan);
    jx_plan_free(plan);
    jx_executor_free(ex);
    return rc;
}

static const struct option check_options[] = {
    JX__CLI_OPT_CONFIG,  JX__CLI_OPT_VERBOSE, {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_HELP,    JX__CLI_OPT_VERSION, JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_check = {
    "check", cmd_check, usage_check, 0, 1, NULL, ":c:vJhV", check_options,
};
