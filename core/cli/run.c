/*
 * run.c - `jobexec run PLAN`: runs a plan and prints its evidence
 * document; SIGINT and SIGTERM cancel the job.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_run(FILE *fp)
{
    fprintf(fp,
            "Usage: %s run [--config FILE] [--verbose] [--quiet] "
            "[--progress MODE] PLAN|-\n"
            "Run the plan in PLAN (YAML or JSON; - reads standard input).\n"
            "\n"
            "Steps run in order; the job stops at the first step that fails.\n"
            "The evidence document (JSON) is written to standard output as "
            "the job\nruns; the config's evidence.log, when set, receives one "
            "record per event.\nA one-line summary of how the job ended "
            "goes to standard error.\n"
            "SIGINT or SIGTERM cancels the job: the running step is asked "
            "to stop, no\nfurther step starts, and the job ends CANCELLED.  "
            "A second one says which\nstep the job waits for; a third ends "
            "jobexec at once (exit 3), the job's\nevidence incomplete.\n"
            "\n"
            "  -P, --progress MODE  progress on standard error: line (a "
            "line redrawn in\n"
            "                       place; the default when standard error "
            "is a terminal),\n"
            "                       json (one JSON object per event), or "
            "none\n"
            "  -q, --quiet          no summary line on standard error\n"
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
 * step starts, and the evidence is completed.  An in-process step may not
 * listen: a second signal says which step the job waits for, and a third
 * ends the process at once, exit 3, with the document flushed as far as
 * it got and the log (written ahead, record by record) ending at that
 * step's step_started, so that verify calls the job incomplete.
 *
 * The signals are blocked in every thread and taken by sigwait() in a
 * thread of their own, because jx_executor_cancel() is not
 * async-signal-safe.  SIGUSR2 tells that thread the job is over.
 */
typedef struct canceller {
    pthread_t thread;
    sigset_t set;
    jx_executor *ex;
    const jx_plan *plan;
    atomic_size_t steps_done; /* from progress events, the run's thread */
    jx__cli_progress *progress;
    int started;
} canceller;

/* The run's on_job_progress: counts finished steps for the canceller,
 * then draws as --progress asks. */
static void watch_progress(const jx_progress_event *ev, void *user)
{
    canceller *c = user;

    atomic_store(&c->steps_done, ev->steps_done);
    jx__cli_progress_cb(ev, c->progress);
}

static void interrupted(canceller *c, int sig, int n)
{
    const char *what = sig == SIGINT ? "interrupted" : "terminated";
    int64_t step = jx_plan_step_index(c->plan, atomic_load(&c->steps_done));

    jx__cli_progress_clear();
    if (n == 1) {
        fprintf(stderr, "%s: %s: cancelling the job\n", prog, what);
        jx_executor_cancel(c->ex, NULL);
    } else if (n == 2) {
        fprintf(stderr, "%s: %s again: waiting for step %" PRId64 " to "
                        "return; a third time ends jobexec without it\n",
                prog, what, step);
    } else {
        fprintf(stderr, "%s: %s a third time: exiting without waiting for "
                        "step %" PRId64 "; its evidence ends at its "
                        "step_started (the job is incomplete)\n",
                prog, what, step);
        fflush(stdout);
        _exit(EXIT_INTERNAL);
    }
}

static void *cancel_on_signal(void *arg)
{
    canceller *c = arg;
    int sig, n = 0;

    while (sigwait(&c->set, &sig) == 0 && sig != SIGUSR2)
        interrupted(c, sig, ++n);
    return NULL;
}

static void canceller_start(canceller *c, jx_executor *ex,
                            const jx_plan *plan, jx__cli_progress *progress)
{
    sigemptyset(&c->set);
    sigaddset(&c->set, SIGINT);
    sigaddset(&c->set, SIGTERM);
    sigaddset(&c->set, SIGUSR2);
    c->ex = ex;
    c->plan = plan;
    c->progress = progress;
    atomic_init(&c->steps_done, 0);
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

/* stdout's buffer while it carries a document (cmd_run). */
static char document_buffer[64 * 1024];

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
    canceller_start(&cancel, ex, plan, &progress);
    /* A long job's document is megabytes: stdio's 4 KiB buffer would make
     * a write(2) of every 4 KiB of it.  The buffer is given, as glibc
     * ignores the size when it is not (and keeps st_blksize); static, as
     * stdout is flushed at exit.  A terminal stays line-buffered. */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, document_buffer, _IOFBF, sizeof document_buffer);
    ro.document = stdout;
    ro.on_job_progress = watch_progress;
    ro.user = &cancel;
    ro.scope_id = o->scope_id;
    ro.incident_id = o->incident;
    ro.action = o->n_actions > 0 ? o->actions[0] : NULL;
    rc = jx_executor_run(ex, plan, &ro, &res, &err);
    canceller_stop(&cancel);
    if (rc != 0)
        status = jx__cli_report(&err);
    else
        status = jx_result_status(res) == JX_JOB_COMPLETED ? EXIT_COMPLETED
                 : jx_result_scope_rejected(res)          ? EXIT_SCOPE_REJECTED
                                                           : EXIT_JOB_FAILED;
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
    } else if (res != NULL && !o->quiet &&
               jx__cli_print_line(stderr, "%s: job %s %s: %zu/%zu steps "
                                          "succeeded in %.3f s - %s",
                                  prog, jx_result_job_id(res),
                                  jx_result_status_name(res),
                                  jx_result_steps_succeeded(res),
                                  jx_plan_step_count(plan),
                                  jx_result_duration_seconds(res),
                                  jx_result_reason(res)) != 0) {
        /* Out of memory escaping the reason: how the job ended is still
         * said, in words that need no allocation (an id and a name). */
        fprintf(stderr, "%s: job %s %s (out of memory printing its "
                        "reason)\n",
                prog, jx_result_job_id(res), jx_result_status_name(res));
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
    {"quiet", no_argument, NULL, 'q'},
    {"scope", required_argument, NULL, JX__OPT_SCOPE},
    {"incident", required_argument, NULL, JX__OPT_INCIDENT},
    {"action", required_argument, NULL, JX__OPT_ACTION},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_run = {
    "run", cmd_run, usage_run, 1, 1,
    "missing PLAN (a file, or - for standard input)", ":c:vqP:hV",
    run_options,
};
