/*
 * check.c - `jobexec check [PLAN]`: loads the config and its plugins, and
 * asks each handler's validate about a plan; runs nothing.
 */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_check(FILE *fp)
{
    fprintf(fp,
            "Usage: %s check [--config FILE] [PLAN|-]\n"
            "Load the config and every plugin it names, and, given a plan, "
            "check that\nevery step has a handler and that each handler's "
            "validate accepts it.\nNothing runs, and the evidence log is "
            "only checked, never created or changed.\nExit status: 0 valid, "
            "2 invalid (an evidence log that cannot be opened or\ncreated "
            "among them), 3 internal error.\n",
            prog);
}

static int cmd_check(const options *o)
{
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};
    int rc = 0;

    if (o->operand != NULL && jx_plan_load(o->operand, &plan, &err) != 0)
        return jx__cli_report(&err);
    if (jx__cli_load_executor(o, JX_EXECUTOR_CHECK_ONLY, &ex, &err) != 0) {
        jx_plan_free(plan);
        return jx__cli_report(&err);
    }
    if (plan != NULL)
        rc = jx_executor_check(ex, plan, &err);
    if (rc == 0 && plan != NULL)
        printf("plan OK: %zu step%s, job %s, contract %s\n",
               jx_plan_step_count(plan),
               jx_plan_step_count(plan) == 1 ? "" : "s",
               jx_plan_job_id_generated(plan) ? "(generated at run time)"
                                              : jx_plan_job_id(plan),
               jx_plan_contract_id(plan));
    else if (rc == 0)
        printf("config OK: %zu plugin%s loaded\n",
               jx_executor_plugin_count(ex),
               jx_executor_plugin_count(ex) == 1 ? "" : "s");
    jx_plan_free(plan);
    jx_executor_free(ex);
    return rc == 0 ? EXIT_COMPLETED : jx__cli_report(&err);
}

static const struct option check_options[] = {
    JX__CLI_OPT_CONFIG, JX__CLI_OPT_VERBOSE, JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION, JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_check = {
    "check", cmd_check, usage_check, 0, 1, NULL, ":c:vhV", check_options,
};
