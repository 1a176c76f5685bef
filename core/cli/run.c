/*
 * run.c - `jobexec run PLAN`: runs a plan and prints its evidence
 * document; SIGINT and SIGTERM cancel the job.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_run(FILE *fp)
{
    fprintf(fp,
            "Usage: %s run [--config FILE] [--verbose] [--progress MODE] "
            "PLAN|-\n"
            "Run the plan in PLAN (YAML or JSON; - reads standard input).\n"
            "\n"
            "Steps run in order; the job stops at the first step that fails.\n"
            "The evidence document (JSON) is written to standard output as "
            "the job\nruns; the config's evidence.log, when set, receives one "
            "record per event.\nA one-line summary goes to standard error "
            "when it is a terminal.\n"
            "SIGINT or SIGTERM cancels the job: the running step is asked "
            "to stop, no\nfurther step starts, and the job ends CANCELLED.\n"
            "\n"
            "  -P, --progress MODE  progress on standard error: line (a "
            "line redrawn in\n"
            "                       place; the default when standard error "
            "is a terminal),\n"
            "                       json (one JSON object per event), or "
            "none\n"
            "  --scope ID --incident ID --action A\n"
            "                       run only as the scope ID allows (see "
            "jobexec scope):\n"
            "                       refused, no step runs, and the exit "
            "status is 5\n"
            "\n"
            "Exit status: 0 completed, 1 failed or cancelled, 2 bad config "
            "or plan (nothing\nran), 3 internal error, 5 refused by the "
            "scope gate.\n",
            prog);
}

/*
 * SIGINT and SIGTERM cancel the job: the step is asked to stop, no further
 * step starts, and the evidence is completed.  The signals are blocked in
 * every thread and taken by sigwait() in a thread of their own, because
 * jx_executor_cancel() is not async-signal-safe.  SIGUSR2 tells that
 * thread the job is over.
 */
typedef struct canceller {
    pthread_t thread;
    sigset_t set;
    jx_executor *ex;
    int started;
} canceller;

static void *cancel_on_signal(void *arg)
{
    canceller *c = arg;
    int sig;

    while (sigwait(&c->set, &sig) == 0) {
        if (sig == SIGUSR2)
            break;
        fprintf(stderr, "%s: %s: cancelling the job\n", prog,
                sig == SIGINT ? "interrupted" : "terminated");
        jx_executor_cancel(c->ex, NULL);
    }
    return NULL;
}

static void canceller_start(canceller *c, jx_executor *ex)
{
    sigemptyset(&c->set);
    sigaddset(&c->set, SIGINT);
    sigaddset(&c->set, SIGTERM);
    sigaddset(&c->set, SIGUSR2);
    c->ex = ex;
    c->started = pthread_sigmask(SIG_BLOCK, &c->set, NULL) == 0 &&
                 pthread_create(&c->thread, NULL, cancel_on_signal, c) == 0;
}

static void canceller_stop(canceller *c)
{
    if (!c->started)
        return;
    pthread_kill(c->thread, SIGUSR2);
    pthread_join(c->thread, NULL);
}

static int cmd_run(const options *o)
{
    jx_run_options ro = JX_RUN_OPTIONS_INIT;
    canceller cancel;
    jx_executor *ex = NULL;
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};
    jx__cli_progress progress;
    int rc, status;

    if (jx__cli_progress_init(&progress, o->progress) != 0) {
        fprintf(stderr, "%s: --progress '%s' is not one of line, json, "
                        "none\nTry '%s run --help' for more information.\n",
                prog, o->progress, prog);
        return EXIT_USAGE;
    }
    if ((o->scope_id != NULL || o->incident != NULL || o->n_actions > 0) &&
        (o->scope_id == NULL || o->incident == NULL || o->n_actions != 1)) {
        fprintf(stderr, "%s: --scope, --incident and one --action go "
                        "together\nTry '%s run --help' for more "
                        "information.\n",
                prog, prog);
        return EXIT_USAGE;
    }
    if (jx_plan_load(o->operand, &plan, &err) != 0)
        return jx__cli_report(&err);
    if (jx__cli_load_executor(o, 0, &ex, &err) != 0) {
        jx_plan_free(plan);
        return jx__cli_report(&err);
    }
    canceller_start(&cancel, ex);
    ro.document = stdout;
    ro.on_job_progress = jx__cli_progress_cb;
    ro.user = &progress;
    ro.scope_id = o->scope_id;
    ro.incident_id = o->incident;
    ro.action = o->n_actions > 0 ? o->actions[0] : NULL;
    rc = jx_executor_run(ex, plan, &ro, &res, &err);
    canceller_stop(&cancel);
    if (rc != 0) {
        status = jx__cli_report(&err);
    } else {
        status = jx_result_status(res) == JX_JOB_COMPLETED ? EXIT_COMPLETED
                 : jx_result_scope_rejected(res)          ? EXIT_SCOPE_REJECTED
                                                           : EXIT_JOB_FAILED;
        if (isatty(STDERR_FILENO))
            jx__cli_print_line(stderr, "%s: job %s %s: %zu/%zu steps "
                                      "succeeded in %.3f s - %s",
                              prog, jx_result_job_id(res),
                              jx_result_status_name(res),
                              jx_result_steps_succeeded(res),
                              jx_plan_step_count(plan),
                              jx_result_duration_seconds(res),
                              jx_result_reason(res));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* The steps ran: say how the job ended, not only what was lost. */
        if (res != NULL)
            fprintf(stderr, "%s: job %s %s, but the evidence document could "
                            "not be written to standard output\n",
                    prog, jx_result_job_id(res), jx_result_status_name(res));
        else
            fprintf(stderr, "%s: cannot write the evidence document to "
                            "standard output\n", prog);
        status = EXIT_INTERNAL;
    }
    jx_result_free(res);
    jx_executor_free(ex);
    jx_plan_free(plan);
    return status;
}

static const struct option run_options[] = {
    JX__CLI_OPT_CONFIG,
    JX__CLI_OPT_VERBOSE,
    {"progress", required_argument, NULL, 'P'},
    {"scope", required_argument, NULL, JX__OPT_SCOPE},
    {"incident", required_argument, NULL, JX__OPT_INCIDENT},
    {"action", required_argument, NULL, JX__OPT_ACTION},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_run = {
    "run", cmd_run, usage_run, 1, 1,
    "missing PLAN (a file, or - for standard input)", ":c:vP:hV",
    run_options,
};
