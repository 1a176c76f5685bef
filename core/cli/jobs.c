/*
 * jobs.c - `jobexec submit PLAN` and `jobexec jobs list|show`: adding
 * governance jobs to the PostgreSQL store and looking at them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jobexec/queue.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_submit(FILE *fp)
{
    fprintf(fp,
            "Usage: %s submit [--config FILE] [--db URL] [--created-by NAME] "
            "PLAN|-\n"
            "Add the plan in PLAN (YAML or JSON; - reads standard input) to "
            "the governance\nstore as a PENDING job for `%s worker`, and "
            "print its job id.  The plan is\nchecked as `%s run` checks it; "
            "its job_id, when it has one, must be new.\n"
            "\n"
            "  -d, --db URL         the store (default: the config's "
            "queue.db, else the\n"
            "                       PG* environment)\n"
            "      --created-by NAME  who asks (default: the database "
            "user)\n"
            "\n"
            "Exit status: 0 added, 2 bad usage, plan or a job_id already "
            "there, 3 the store\ncould not be reached.\n",
            prog, prog, prog);
}

static void usage_jobs(FILE *fp)
{
    fprintf(fp,
            "Usage: %s jobs list [--config FILE] [--db URL] [--status S] "
            "[--limit N] [--json]\n"
            "       %s jobs show [--config FILE] [--db URL] ID [--json]\n"
            "The governance store's jobs: list, newest first; show, one job "
            "with its steps,\nstep results and evidence document.  ID is a "
            "job id or a prefix of at least 8\nhex digits.\n"
            "\n"
            "  -d, --db URL     the store (default: the config's queue.db, "
            "else the PG*\n"
            "                   environment)\n"
            "      --status S   only jobs in status S: PENDING, RUNNING, "
            "COMPLETED, FAILED\n"
            "                   or CANCELLED\n"
            "      --limit N    at most N jobs (1-100000, default 100)\n"
            "      --json       JSON instead of lines\n"
            "\n"
            "Exit status: 0 done, 2 bad usage or no such job, 3 the store "
            "could not be\nreached.\n",
            prog, prog);
}

/* Connects to the store the options and config name: -1 with *q set, or
 * the exit status, reported, when it cannot (2 for a bad config, 3 for a
 * store out of reach). */
static int open_queue(const options *o, jx_queue **q)
{
    jx_config *cfg = NULL;
    jx_error err = {0, ""};
    const char *conninfo = jx__cli_queue_conninfo(o, &cfg, &err);
    int status = -1;

    if ((conninfo == NULL && err.code != 0) ||
        jx_queue_open(conninfo, q, &err) != 0)
        status = jx__cli_report(&err);
    jx_config_free(cfg);
    return status;
}

static int cmd_submit(const options *o)
{
    jx_queue *q = NULL;
    jx_error err = {0, ""};
    char job_id[37];
    int rc;

    if ((rc = open_queue(o, &q)) >= 0)
        return rc;
    rc = jx_queue_submit_file(q, o->operand, o->created_by, job_id, &err);
    jx_queue_close(q);
    if (rc != 0)
        return rc == JX_EINVAL ? (jx__cli_report(&err), EXIT_USAGE)
                               : jx__cli_report(&err);
    printf("%s\n", job_id);
    return EXIT_COMPLETED;
}

static const char *text_of(const json_t *job, const char *key)
{
    const char *s = json_string_value(json_object_get(job, key));
    return s != NULL ? s : "-";
}

static void print_list(const json_t *jobs)
{
    size_t i;
    json_t *job;

    printf("%-36s  %-9s  %5s  %-32s  %s\n", "JOB_ID", "STATUS", "STEPS",
           "CREATED", "REASON");
    json_array_foreach(jobs, i, job) {
        char steps[48];
        snprintf(steps, sizeof steps, "%lld/%lld",
                 (long long)json_integer_value(
                     json_object_get(job, "current_step_index")),
                 (long long)json_integer_value(
                     json_object_get(job, "total_steps")));
        jx__cli_print_line(stdout, "%-36s  %-9s  %5s  %-32s  %s",
                           text_of(job, "job_id"), text_of(job, "status"),
                           steps, text_of(job, "created_at"),
                           text_of(job, "status_reason"));
    }
}

static void print_job(const json_t *job)
{
    static const char *const keys[] = {
        "job_id", "contract_id", "tenant_id", "status", "status_reason",
        "created_by", "created_at", "started_at", "completed_at",
        "timeout_at", "lease_owner", "lease_expires_at"};
    size_t i;
    json_t *r;

    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        jx__cli_print_line(stdout, "%-17s %s", keys[k],
                           text_of(job, keys[k]));
    printf("%-17s %lld/%lld\n", "steps",
           (long long)json_integer_value(
               json_object_get(job, "current_step_index")),
           (long long)json_integer_value(json_object_get(job, "total_steps")));
    json_array_foreach(json_object_get(job, "step_results"), i, r) {
        const char *error = json_string_value(json_object_get(r, "error"));
        jx__cli_print_line(stdout, "  step %lld %s %s: %s%s%s",
                           (long long)json_integer_value(
                               json_object_get(r, "step_index")),
                           text_of(r, "step_type"), text_of(r, "target"),
                           text_of(r, "status"), error ? " - " : "",
                           error ? error : "");
    }
}

/* Prints json (the store's JSON text) as it is, or through print. */
static int print_json_text(const options *o, const char *text,
                           void (*print)(const json_t *))
{
    json_error_t jerr;
    json_t *v;

    if (o->json) {
        printf("%s\n", text);
        return EXIT_COMPLETED;
    }
    if ((v = json_loads(text, 0, &jerr)) == NULL) {
        fprintf(stderr, "%s: the store's answer is not JSON: %s\n", prog,
                jerr.text);
        return EXIT_INTERNAL;
    }
    print(v);
    json_decref(v);
    return EXIT_COMPLETED;
}

static int cmd_jobs(const options *o)
{
    int list = strcmp(o->operand, "list") == 0;
    jx_error err = {0, ""};
    char *json = NULL, *end;
    long limit = 0;
    jx_queue *q = NULL;
    int rc;

    if (!list && strcmp(o->operand, "show") != 0)
        return jx__cli_usage_error("jobs", "unknown jobs command '%s' (list, "
                                           "show)",
                                   o->operand);
    if (list != (o->operand2 == NULL))
        return jx__cli_usage_error("jobs", "jobs %s %s", o->operand,
                                   list ? "takes no ID" : "needs a job ID");
    if (o->limit != NULL &&
        ((limit = strtol(o->limit, &end, 10)) < 1 || limit > 100000 ||
         *end != '\0'))
        return jx__cli_usage_error("jobs", "--limit must be a whole number "
                                           "from 1 to 100000, found '%s'",
                                   o->limit);
    if ((rc = open_queue(o, &q)) >= 0)
        return rc;
    rc = list ? jx_queue_list_json(q, o->status, (unsigned)limit, &json, &err)
              : jx_queue_show_json(q, o->operand2, &json, &err);
    jx_queue_close(q);
    if (rc != 0)
        return rc == JX_EINVAL ? (jx__cli_report(&err), EXIT_USAGE)
                               : jx__cli_report(&err);
    rc = print_json_text(o, json, list ? print_list : print_job);
    free(json);
    return rc;
}

static const struct option submit_options[] = {
    JX__CLI_OPT_CONFIG,
    {"db", required_argument, NULL, 'd'},
    {"created-by", required_argument, NULL, JX__OPT_CREATED_BY},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

static const struct option jobs_options[] = {
    JX__CLI_OPT_CONFIG,
    {"db", required_argument, NULL, 'd'},
    {"status", required_argument, NULL, JX__OPT_STATUS},
    {"limit", required_argument, NULL, JX__OPT_LIMIT},
    {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_submit = {
    "submit", cmd_submit, usage_submit, 1, 1,
    "missing PLAN (a file, or - for standard input)", ":c:d:hV",
    submit_options,
};

const jx__cli_command jx__cli_jobs = {
    "jobs", cmd_jobs, usage_jobs, 1, 2, "missing what to do: jobs list|show",
    ":c:d:hV", jobs_options,
};
