/*
 * worker.c - `jobexec worker`: runs governance jobs from the PostgreSQL
 * store, with --migrate and --rescue-once for the store's upkeep.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <jobexec/queue.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_worker(FILE *fp)
{
    fprintf(fp,
            "Usage: %s worker [--config FILE] [--db URL] [--concurrency N] "
            "[--name NAME]\n"
            "           [--lease SECONDS] [--poll MS] [--rescue SECONDS] "
            "[--once]\n"
            "       %s worker [--db URL] --migrate\n"
            "       %s worker [--db URL] --rescue-once\n"
            "Run governance jobs from the PostgreSQL table governance_jobs "
            "(see `%s submit`).\n"
            "\n"
            "The worker claims PENDING jobs (FOR UPDATE SKIP LOCKED) under a "
            "lease it\nrenews, runs each through the config's plugins, "
            "writes every step's result\nas it finishes and the job's "
            "status with its evidence document.  A job whose\nworker lost "
            "its lease (killed, stopped, cut off) is marked FAILED by the\n"
            "rescuer every worker runs; no job ever runs twice.  Log lines "
            "(logfmt) go to\nstandard error.  SIGINT or SIGTERM: each "
            "running job finishes its current\nstep and ends CANCELLED, then "
            "the worker exits 0; a second one cancels the\nrunning steps "
            "too.\n"
            "\n"
            "  -d, --db URL         the store (libpq: a URI or \"key=value "
            "...\"); default:\n"
            "                       the config's queue.db, else the PG* "
            "environment\n"
            "      --concurrency N  jobs run at once, one thread each "
            "(1-256, default 1)\n"
            "      --name NAME      the lease owner and the jobs' "
            "executed_by (default\n"
            "                       HOST:PID)\n"
            "      --lease SECONDS  a lease's length (2-3600, default 30)\n"
            "      --poll MS        how often to look for jobs when no "
            "notification comes\n"
            "                       (10-60000, default 1000)\n"
            "      --rescue SECONDS how often the rescuer runs (1-3600, "
            "default 10)\n"
            "      --once           run at most one job, then exit\n"
            "      --migrate        apply the schema's migrations, then "
            "exit\n"
            "      --rescue-once    fail the jobs whose lease expired, then "
            "exit\n"
            "\n"
            "Exit status: 0 stopped (or done), 2 bad usage, config or "
            "schema, 3 the store\ncould not be reached or another internal "
            "error.\n",
            prog, prog, prog, prog);
}

/* A whole number in [min, max] from an option's text, or -1 with the
 * usage error printed. */
static long bounded(const char *text, const char *option, long min, long max)
{
    char *end;
    long v;

    if (text == NULL)
        return 0;
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < min || v > max) {
        jx__cli_usage_error("worker", "%s must be a whole number from %ld "
                                      "to %ld, found '%s'",
                            option, min, max, text);
        return -1;
    }
    return v;
}

/* The store's connection string: --db, else the config's queue.db, else
 * NULL (libpq reads PG*).  *cfg, when loaded, is the caller's. */
const char *jx__cli_queue_conninfo(const options *o, jx_config **cfg,
                                   jx_error *err)
{
    if (o->db != NULL)
        return o->db;
    if (*cfg == NULL && jx__cli_load_config(o, cfg, err) != 0)
        return NULL;
    return jx_config_queue_db(*cfg);
}

static void log_line(const char *line, void *user)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

/* SIGINT and SIGTERM, taken by sigwait() in a thread of their own, since
 * jx_worker_stop() is not async-signal-safe.  SIGUSR2 ends the thread. */
typedef struct stopper {
    pthread_t thread;
    sigset_t set;
    jx_worker *w;
    int started;
} stopper;

static void *stop_on_signal(void *arg)
{
    stopper *s = arg;
    int sig, n = 0;

    while (sigwait(&s->set, &sig) == 0 && sig != SIGUSR2) {
        fprintf(stderr, "%s: %s: %s\n", prog,
                sig == SIGINT ? "interrupted" : "terminated",
                ++n == 1 ? "finishing the running steps, then stopping"
                         : "cancelling the running steps");
        jx_worker_stop(s->w, n > 1);
    }
    return NULL;
}

static int upkeep(const options *o, const char *conninfo)
{
    jx_queue *q;
    jx_error err = {0, ""};
    unsigned n, version;

    if (jx_queue_open(conninfo, &q, &err) != 0)
        return jx__cli_report(&err);
    if (o->migrate) {
        if (jx_queue_migrate(q, &n, &err) == 0 &&
            jx_queue_schema_version(q, &version, &err) == 0)
            printf("governance store at schema version %u (%u migration%s "
                   "applied)\n", version, n, n == 1 ? "" : "s");
    } else if (jx_queue_rescue(q, &n, &err) == 0) {
        printf("%u job%s rescued\n", n, n == 1 ? "" : "s");
    }
    jx_queue_close(q);
    return err.code != 0 ? jx__cli_report(&err) : EXIT_COMPLETED;
}

static int work(const options *o, jx_worker_options *wo)
{
    jx_executor *ex = NULL;
    jx_worker *w = NULL;
    jx_error err = {0, ""};
    stopper s = {0};
    int rc;

    if (jx__cli_load_executor(o, 0, &ex, &err) != 0)
        return jx__cli_report(&err);
    wo->on_log = log_line;
    if (jx_worker_new(ex, wo, &w, &err) != 0) {
        jx_executor_free(ex);
        return jx__cli_report(&err);
    }
    sigemptyset(&s.set);
    sigaddset(&s.set, SIGINT);
    sigaddset(&s.set, SIGTERM);
    sigaddset(&s.set, SIGUSR2);
    s.w = w;
    s.started = pthread_sigmask(SIG_BLOCK, &s.set, NULL) == 0 &&
                pthread_create(&s.thread, NULL, stop_on_signal, &s) == 0;
    rc = jx_worker_run(w, &err);
    if (s.started) {
        pthread_kill(s.thread, SIGUSR2);
        pthread_join(s.thread, NULL);
    }
    jx_worker_free(w);
    jx_executor_free(ex);
    return rc == 0 ? EXIT_COMPLETED : jx__cli_report(&err);
}

static int cmd_worker(const options *o)
{
    jx_worker_options wo = JX_WORKER_OPTIONS_INIT;
    jx_config *cfg = NULL;
    jx_error err = {0, ""};
    const char *conninfo;
    long concurrency, lease, poll, rescue;
    int rc;

    if (o->migrate && o->rescue_once)
        return jx__cli_usage_error("worker", "--migrate and --rescue-once "
                                             "go one at a time");
    if ((concurrency = bounded(o->concurrency, "--concurrency", 1, 256)) < 0 ||
        (lease = bounded(o->lease, "--lease", 2, 3600)) < 0 ||
        (poll = bounded(o->poll, "--poll", 10, 60000)) < 0 ||
        (rescue = bounded(o->rescue, "--rescue", 1, 3600)) < 0)
        return EXIT_USAGE;
    conninfo = jx__cli_queue_conninfo(o, &cfg, &err);
    if (conninfo == NULL && err.code != 0)
        return jx__cli_report(&err);
    if (o->migrate || o->rescue_once) {
        rc = upkeep(o, conninfo);
    } else {
        wo.conninfo = conninfo;
        wo.name = o->name;
        wo.concurrency = (unsigned)concurrency;
        wo.lease_seconds = (unsigned)lease;
        wo.poll_ms = (unsigned)poll;
        wo.rescue_seconds = (unsigned)rescue;
        wo.once = o->once;
        rc = work(o, &wo);
    }
    jx_config_free(cfg);
    return rc;
}

static const struct option worker_options[] = {
    JX__CLI_OPT_CONFIG,
    JX__CLI_OPT_VERBOSE,
    {"db", required_argument, NULL, 'd'},
    {"concurrency", required_argument, NULL, JX__OPT_CONCURRENCY},
    {"name", required_argument, NULL, JX__OPT_NAME},
    {"lease", required_argument, NULL, JX__OPT_LEASE},
    {"poll", required_argument, NULL, JX__OPT_POLL},
    {"rescue", required_argument, NULL, JX__OPT_RESCUE},
    {"once", no_argument, NULL, JX__OPT_ONCE},
    {"migrate", no_argument, NULL, JX__OPT_MIGRATE},
    {"rescue-once", no_argument, NULL, JX__OPT_RESCUE_ONCE},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_worker = {
    "worker", cmd_worker, usage_worker, 0, 0, "", ":c:vd:hV",
    worker_options,
};
