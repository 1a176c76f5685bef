/*
 * bench_worker.c - `make bench-worker`: jobs per second through `jobexec
 * worker` processes against a local PostgreSQL server, next to the raw
 * claim+complete ceiling pgbench measures on the same server in the same
 * run, and the claim's latency with 100,000 finished rows in the table.
 *
 * Each figure is the median of ROUNDS rounds.  A round inserts N_JOBS
 * no-op jobs at once into a table whose workers are already waiting, and
 * times from the insert's commit until the last one is terminal.  Per
 * job, it also counts the CPU the worker processes and their server
 * backends spent, and the server's transactions (each statement of the
 * worker is one, and a round trip).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "worker/pg.h"

#define PG_SERVER JX_BENCH_SRCDIR "/scripts/pg-server.sh"
#define JOBEXEC JX_BENCH_BUILDDIR "/jobexec"
#define N_JOBS 2000
/* Rounds per figure: on two shared cores a median of 5 moves less from
 * run to run than one of 3. */
#define ROUNDS 5
#define N_FINISHED 100000
/* The shorter of the long jobs; the other has 4 times as many steps. */
#define LONG_JOB_STEPS 1000
#define N_CLAIMS 2000

static char server_dir[] = "/tmp/jxbench.XXXXXX";
static char conninfo[512];
static char config_path[] = "/tmp/jxbench-config.XXXXXX";
static PGconn *db;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench-worker: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void sql(const char *text)
{
    PGresult *res = PQexec(db, text);

    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK)
        die("%s: %s", text, PQerrorMessage(db));
    PQclear(res);
}

static long number(const char *text)
{
    PGresult *res = PQexec(db, text);
    long n;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        die("%s: %s", text, PQerrorMessage(db));
    n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static double real_number(const char *text)
{
    PGresult *res = PQexec(db, text);
    double v;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        die("%s: %s", text, PQerrorMessage(db));
    v = strtod(PQgetvalue(res, 0, 0), NULL);
    PQclear(res);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void server_start(void)
{
    char cmd[256];
    FILE *fp;
    size_t n;

    if (mkdtemp(server_dir) == NULL)
        die("mkdtemp: %s", strerror(errno));
    snprintf(cmd, sizeof cmd, "%s start %s", PG_SERVER, server_dir);
    if ((fp = popen(cmd, "r")) == NULL)
        die("cannot run %s", PG_SERVER);
    n = fread(conninfo, 1, sizeof conninfo - 1, fp);
    conninfo[n] = '\0';
    conninfo[strcspn(conninfo, "\n")] = '\0';
    if (pclose(fp) != 0 || n == 0)
        die("the PostgreSQL server did not start");
    db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK)
        die("%s", PQerrorMessage(db));
}

static void server_stop(void)
{
    char cmd[256];

    PQfinish(db);
    snprintf(cmd, sizeof cmd, "%s stop %s", PG_SERVER, server_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-worker: could not stop the server\n");
    unlink(config_path);
}

static void migrate(void)
{
    jx_queue *q;
    jx_error err = {0, ""};

    if (jx_queue_open(conninfo, &q, &err) != 0 ||
        jx_queue_migrate(q, NULL, &err) != 0)
        die("%s", err.message);
    jx_queue_close(q);
}

static void write_config(void)
{
    int fd = mkstemp(config_path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (fp == NULL)
        die("cannot write the config");
    fprintf(fp, "plugin_dir: %s/plugins/.libs\n"
                "plugins:\n  - path: noop\n    step_types: [noop]\n",
            JX_BENCH_BUILDDIR);
    fclose(fp);
}

/* Empties the store; fires no row trigger.  governance_job_steps refers
 * to governance_jobs: the two go together. */
#define TRUNCATE_JOBS "TRUNCATE governance_jobs, governance_job_steps"

/* n PENDING no-op jobs of steps steps each, in one statement. */
static void insert_jobs(int n, int steps, const char *status)
{
    char text[1024], plan[512] = "[";

    for (int i = 0; i < steps; i++)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan),
                 "%s{\"step_index\": %d, \"step_type\": \"noop\"}",
                 i > 0 ? ", " : "", i);
    strcat(plan, "]");
    snprintf(text, sizeof text,
             "INSERT INTO governance_jobs (job_id, contract_id, steps, "
             "total_steps, status) SELECT gen_random_uuid(), "
             "gen_random_uuid(), '%s', %d, '%s' FROM generate_series(1, %d)",
             plan, steps, status, n);
    sql(text);
}

/* Transactions the server has committed or rolled back in this
 * database: with every statement of the worker in its own transaction,
 * its round trips to the server.  The bench's own session flushes its
 * counts first (pg_stat_force_next_flush), so that a difference between
 * two calls holds the bench's own statements exactly. */
static long server_xacts(void)
{
    sql("SELECT pg_stat_force_next_flush()");
    return number("SELECT xact_commit + xact_rollback FROM "
                  "pg_stat_database WHERE datname = current_database()");
}

static pid_t start_worker(void)
{
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        /* BENCH_JOBEXEC: another build's jobexec, for A/B runs. */
        const char *jobexec = getenv("BENCH_JOBEXEC");

        dup2(null, 2); /* the workers' log lines are not the figures */
        if (jobexec == NULL || *jobexec == '\0')
            jobexec = JOBEXEC;
        execl(jobexec, jobexec, "worker", "--db", conninfo, "--config",
              config_path, "--poll", "20", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        die("fork: %s", strerror(errno));
    return pid;
}

/* User + system seconds of a rusage. */
static double cpu_of(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

/* What a round measured: its seconds, the CPU (user + system) of the
 * worker processes (or pgbench) and all they ran and of the server
 * processes serving them, and the server's transactions, per job. */
typedef struct round_cost {
    double seconds, cpu_ms, server_ms, xacts;
    double insert_ms; /* a round's insert of its jobs, not in seconds */
} round_cost;

/* CPU seconds the server's processes that have ended spent: the
 * postmaster's reaped children (fields 16 and 17 of its /proc stat), so
 * that the backends of a round's workers or of pgbench's clients count
 * once they have exited. */
static double server_cpu(void)
{
    char path[600];
    long pid = 0;
    unsigned long long cut = 0, cst = 0;
    FILE *fp;

    snprintf(path, sizeof path, "%s/data/postmaster.pid", server_dir);
    if ((fp = fopen(path, "r")) == NULL || fscanf(fp, "%ld", &pid) != 1)
        die("cannot read %s", path);
    fclose(fp);
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    /* The command (field 2) is "(postgres)": no space in it. */
    if ((fp = fopen(path, "r")) == NULL ||
        fscanf(fp, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u "
                   "%*u %llu %llu", &cut, &cst) != 2)
        die("cannot read %s", path);
    fclose(fp);
    return (double)(cut + cst) / (double)sysconf(_SC_CLK_TCK);
}

/* N_JOBS jobs of steps steps through workers processes. */
static round_cost round_of(int workers, int steps)
{
    pid_t pids[8];
    double t0, t, insert, cpu = 0, server = server_cpu();
    long polls = 0, xacts;

    sql(TRUNCATE_JOBS);
    xacts = server_xacts();
    for (int i = 0; i < workers; i++)
        pids[i] = start_worker();
    usleep(300 * 1000); /* the workers are up and listening */
    /* The clock starts when the insert has committed: no worker can see a
     * job before, and pgbench's ceiling starts with its jobs in the table
     * too.  It stops at the last job's completed_at, on the server's clock
     * as the start is: so the bench looks for the end only every 100 ms,
     * and its polls take little from the workers and the server. */
    t0 = now();
    insert_jobs(N_JOBS, steps, "PENDING");
    insert = now() - t0;
    t0 = real_number("SELECT extract(epoch FROM clock_timestamp())");
    while (number("SELECT count(*) FROM governance_jobs WHERE status IN "
                  "('PENDING', 'RUNNING')") > 0 && ++polls)
        usleep(100 * 1000);
    t = real_number("SELECT extract(epoch FROM max(completed_at)) FROM "
                    "governance_jobs") - t0;
    for (int i = 0; i < workers; i++) {
        struct rusage ru;
        kill(pids[i], SIGTERM);
        if (wait4(pids[i], NULL, 0, &ru) == pids[i])
            cpu += cpu_of(&ru);
    }
    if (number("SELECT count(*) FROM governance_jobs WHERE status <> "
               "'COMPLETED'") != 0)
        die("jobs did not complete: see `jobexec jobs list`");
    usleep(200 * 1000); /* the workers' backends flush their counts as
                           they exit, and are reaped */
    server = server_cpu() - server;
    /* Less the bench's own: the first count, the insert, the clock, each
     * poll, the last completed_at, the check above and the flush of the
     * second count. */
    xacts = server_xacts() - xacts - (1 + 1 + 1 + (polls + 1) + 1 + 1 + 1);
    return (round_cost){t, cpu * 1000 / N_JOBS, server * 1000 / N_JOBS,
                        (double)xacts / N_JOBS, insert * 1000};
}

/* One job of steps no-op steps through one worker: seconds from its
 * claim to its completed_at.  A job's cost should grow with its steps,
 * no faster. */
static double long_job(int steps)
{
    char text[512];
    pid_t pid;
    double t;

    sql(TRUNCATE_JOBS);
    pid = start_worker();
    snprintf(text, sizeof text,
             "INSERT INTO governance_jobs (job_id, contract_id, steps, "
             "total_steps) SELECT gen_random_uuid(), gen_random_uuid(), "
             "jsonb_agg(jsonb_build_object('step_index', i, 'step_type', "
             "'noop') ORDER BY i), %d FROM generate_series(0, %d) i",
             steps, steps - 1);
    sql(text);
    while (number("SELECT count(*) FROM governance_jobs WHERE status IN "
                  "('PENDING', 'RUNNING')") > 0)
        usleep(100 * 1000);
    t = real_number("SELECT extract(epoch FROM completed_at - started_at) "
                    "FROM governance_jobs");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (number("SELECT count(*) FROM governance_jobs WHERE status <> "
               "'COMPLETED'") != 0)
        die("the %d-step job did not complete: see `jobexec jobs list`",
            steps);
    return t;
}

/* pgbench, clients at once: claim one PENDING job as the worker does,
 * then complete it, each its own transaction, N_JOBS times in all on a
 * table of N_JOBS PENDING jobs, as a round of the workers has. */
static round_cost ceiling(int clients)
{
    char script[] = "/tmp/jxbench-pgbench.XXXXXX", cmd[1024];
    int fd = mkstemp(script);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL, *out;
    double tps = 0, server;
    char line[256];
    struct rusage before, after;

    if (fp == NULL)
        die("cannot write the pgbench script");
    fputs("UPDATE governance_jobs g SET status = 'RUNNING', lease_owner = "
          "'pgbench', lease_expires_at = now() + interval '30 s', attempt = "
          "g.attempt + 1, started_at = now() FROM (SELECT job_id FROM "
          "governance_jobs WHERE status = 'PENDING' ORDER BY created_at LIMIT "
          "1 FOR UPDATE SKIP LOCKED) c WHERE g.job_id = c.job_id RETURNING "
          "g.job_id AS claimed \\gset\n"
          "UPDATE governance_jobs SET status = 'COMPLETED', completed_at = "
          "now(), step_results = '[{\"status\": \"COMPLETED\"}]', "
          "lease_expires_at = NULL WHERE job_id = :claimed AND lease_owner "
          "= 'pgbench';\n",
          fp);
    fclose(fp);
    sql(TRUNCATE_JOBS);
    insert_jobs(N_JOBS, 1, "PENDING");
    server = server_cpu();
    getrusage(RUSAGE_CHILDREN, &before);
    snprintf(cmd, sizeof cmd,
             "PGBENCH=$(ls -d /usr/lib/postgresql/*/bin/pgbench | sort -V | "
             "tail -n 1); \"$PGBENCH\" -M prepared -n -c %d -j %d -t %d "
             "-f %s \"%s\" 2>/dev/null",
             clients, clients, N_JOBS / clients, script, conninfo);
    if ((out = popen(cmd, "r")) == NULL)
        die("cannot run pgbench");
    while (fgets(line, sizeof line, out) != NULL)
        if (strncmp(line, "tps = ", 6) == 0)
            tps = strtod(line + 6, NULL);
    pclose(out);
    getrusage(RUSAGE_CHILDREN, &after);
    usleep(200 * 1000); /* pgbench's backends are reaped */
    server = server_cpu() - server;
    unlink(script);
    if (tps == 0)
        die("pgbench printed no tps");
    return (round_cost){N_JOBS / tps, (cpu_of(&after) - cpu_of(&before)) *
                                          1000 / N_JOBS,
                        server * 1000 / N_JOBS, 2, 0};
}

/* The claim's latency (p50, p99 in ms) with N_FINISHED finished rows. */
static void claim_latency(double *p50, double *p99)
{
    static double ms[N_CLAIMS];
    const char *params[] = {"bench", "30"};
    jx_queue *q;
    jx_error err = {0, ""};

    sql(TRUNCATE_JOBS);
    insert_jobs(N_FINISHED, 1, "COMPLETED");
    insert_jobs(N_CLAIMS, 1, "PENDING");
    sql("VACUUM ANALYZE governance_jobs");
    if (jx_queue_open(conninfo, &q, &err) != 0)
        die("%s", err.message);
    for (int i = 0; i < N_CLAIMS; i++) {
        double t = now();
        PGresult *res = jx__pg_prepared(q, JX__STMT_CLAIM, 2, params, &err);
        if (res == NULL || PQntuples(res) != 1)
            die("claim: %s", err.message);
        PQclear(res);
        ms[i] = (now() - t) * 1000;
    }
    jx_queue_close(q);
    qsort(ms, N_CLAIMS, sizeof *ms, cmp_double);
    *p50 = ms[N_CLAIMS / 2];
    *p99 = ms[N_CLAIMS * 99 / 100];
}

int main(void)
{
    static const int workers[] = {1, 2, 4};
    double rate[2][3], cpu[2][3], server[2][3], xacts[2][3], ceil_tps[3];
    double ceil_cpu[3], ceil_server[3], p50, p99, inserts[2 * 3 * ROUNDS];
    size_t n_inserts = 0;
    jx_error err = {0, ""};

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* worker/pg.h routes libpq's names through the table the core loads
     * on first use; this program calls them before the core does. */
    if (jx__pq_load(&err) != 0)
        die("%s", err.message);
    server_start();
    atexit(server_stop);
    migrate();
    write_config();
    printf("bench-worker: %d no-op jobs per round, median of %d rounds; "
           "the ceiling is pgbench's claim+complete, %d of them, median of "
           "%d runs\n\n",
           N_JOBS, ROUNDS, N_JOBS, ROUNDS);
    for (int w = 0; w < 3; w++) {
        double tps[ROUNDS], c[ROUNDS], b[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            round_cost rc = ceiling(workers[w]);
            tps[r] = N_JOBS / rc.seconds;
            c[r] = rc.cpu_ms;
            b[r] = rc.server_ms;
        }
        ceil_tps[w] = median(tps, ROUNDS);
        ceil_cpu[w] = median(c, ROUNDS);
        ceil_server[w] = median(b, ROUNDS);
    }
    for (int s = 0; s < 2; s++)
        for (int w = 0; w < 3; w++) {
            double t[ROUNDS], c[ROUNDS], b[ROUNDS], x[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                round_cost rc = round_of(workers[w], s == 0 ? 1 : 3);
                inserts[n_inserts++] = rc.insert_ms;
                t[r] = rc.seconds;
                c[r] = rc.cpu_ms;
                b[r] = rc.server_ms;
                x[r] = rc.xacts;
            }
            rate[s][w] = N_JOBS / median(t, ROUNDS);
            cpu[s][w] = median(c, ROUNDS);
            server[s][w] = median(b, ROUNDS);
            xacts[s][w] = median(x, ROUNDS);
        }
    printf("%-9s  %14s  %14s  %14s  %9s\n", "workers", "ceiling jobs/s",
           "1-step jobs/s", "3-step jobs/s", "1-step %");
    for (int w = 0; w < 3; w++)
        printf("%-9d  %14.0f  %14.0f  %14.0f  %8.0f%%\n", workers[w],
               ceil_tps[w], rate[0][w], rate[1][w],
               100.0 * rate[0][w] / ceil_tps[w]);
    printf("\nper job    %17s  %26s  %26s\n", "ceiling", "1-step", "3-step");
    printf("%-9s  %8s %8s  %8s %8s %8s  %8s %8s %8s\n", "workers", "client",
           "server", "worker", "server", "xacts", "worker", "server",
           "xacts");
    for (int w = 0; w < 3; w++)
        printf("%-9d  %8.3f %8.3f  %8.3f %8.3f %8.2f  %8.3f %8.3f %8.2f\n",
               workers[w], ceil_cpu[w], ceil_server[w], cpu[0][w],
               server[0][w], xacts[0][w], cpu[1][w], server[1][w],
               xacts[1][w]);
    printf("(medians: CPU ms of pgbench or of the worker processes and what "
           "they ran, of the\nserver's processes serving them, and the "
           "server's transactions)\n");
    printf("\njobs/s count from the commit of a round's insert of its %d "
           "jobs to the last one's\ncompleted_at, both on the server's "
           "clock.  The insert took %.0f ms (median of the\nrounds) and is "
           "not counted, as pgbench's ceiling starts with its jobs in the\n"
           "table.\n",
           N_JOBS, median(inserts, n_inserts));
    printf("\none job through one worker, each step's result written as it "
           "finishes:\n");
    for (int i = 0; i < 2; i++) {
        int steps = i == 0 ? LONG_JOB_STEPS : 4 * LONG_JOB_STEPS;
        double t = long_job(steps);
        printf("  %5d steps: %6.2f s, %.3f ms a step\n", steps, t,
               t * 1e3 / steps);
    }
    claim_latency(&p50, &p99);
    printf("\nclaim with %d finished rows: p50 %.2f ms, p99 %.2f ms "
           "(%d claims)\n",
           N_FINISHED, p50, p99, N_CLAIMS);
    return 0;
}
