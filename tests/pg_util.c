/*
 * pg_util.c - the worker suites' PostgreSQL server, databases and worker
 * processes (see pg_util.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg_util.h"
#include "testutil.h"

#define PG_SERVER TU_SRCDIR "/scripts/pg-server.sh"

/* The suite's server: its folder and its connection string. */
static char server_dir[64];
static char server_conninfo[512];
static unsigned databases;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int pgu_server_start(void **state)
{
    char cmd[256];
    FILE *fp;
    size_t n;

    (void)state;
    /* Under /tmp, not $TMPDIR: the server's user must reach it. */
    snprintf(server_dir, sizeof server_dir, "/tmp/jxpg.XXXXXX");
    if (mkdtemp(server_dir) == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "%s start %s", PG_SERVER, server_dir);
    if ((fp = popen(cmd, "r")) == NULL)
        return -1;
    n = fread(server_conninfo, 1, sizeof server_conninfo - 1, fp);
    server_conninfo[n] = '\0';
    server_conninfo[strcspn(server_conninfo, "\n")] = '\0';
    if (pclose(fp) != 0 || n == 0) {
        fprintf(stderr, "pg_util: the PostgreSQL server did not start\n");
        return -1;
    }
    return 0;
}

int pgu_server_stop(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof cmd, "%s stop %s", PG_SERVER, server_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* server_conninfo with its dbname replaced. */
static void conninfo_for(const char *db, char *out, size_t size)
{
    char *at;

    snprintf(out, size, "%s", server_conninfo);
    if ((at = strstr(out, " dbname=")) != NULL)
        *at = '\0';
    snprintf(out + strlen(out), size - strlen(out), " dbname=%s", db);
}

static int write_config(pgu_test *t)
{
    char text[1024];

    snprintf(text, sizeof text,
             "plugins:\n"
             "  - path: %s/counting.so\n"
             "    isolation: inproc\n"
             "    config: {ledger: %s/ledger}\n",
             TU_FIXTURES, t->dir);
    t->config = tu_write(t->dir, "config.yaml", text);
    return t->config != NULL ? 0 : -1;
}

int pgu_setup(void **state)
{
    pgu_test *t = calloc(1, sizeof *t);
    char db[32], sql[64];
    PGconn *admin;
    PGresult *res;

    if (t == NULL)
        return -1;
    *state = t; /* the tear-down frees what was made, if this fails */
    if ((t->dir = tu_mkdtemp()) == NULL)
        return -1;
    snprintf(db, sizeof db, "jx_test_%u_%ld", ++databases, (long)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    admin = PQconnectdb(server_conninfo);
    res = PQexec(admin, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "pg_util: %s", PQerrorMessage(admin));
        PQclear(res);
        PQfinish(admin);
        return -1;
    }
    PQclear(res);
    PQfinish(admin);
    conninfo_for(db, t->conninfo, sizeof t->conninfo);
    t->conn = PQconnectdb(t->conninfo);
    if (PQstatus(t->conn) != CONNECTION_OK || write_config(t) != 0 ||
        asprintf(&t->ledger, "%s/ledger", t->dir) < 0)
        return -1;
    return 0;
}

int pgu_teardown(void **state)
{
    pgu_test *t = *state;

    for (size_t i = 0; i < t->n_workers; i++)
        if (kill(t->workers[i], SIGKILL) == 0 || errno != ESRCH)
            waitpid(t->workers[i], NULL, 0);
    PQfinish(t->conn);
    if (t->dir != NULL)
        tu_rm_rf(t->dir);
    free(t->dir);
    free(t->config);
    free(t->ledger);
    free(t);
    return 0;
}

void pgu_migrate(pgu_test *t)
{
    tu_proc p;

    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "worker", "--db", t->conninfo,
                                 "--migrate", NULL});
    if (p.status != 0)
        print_error("worker --migrate: %s", p.err);
    assert_int_equal(p.status, 0);
    tu_proc_free(&p);
}

char *pgu_try(pgu_test *t, const char *sql)
{
    PGresult *res = PQexec(t->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    char *why = NULL;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        why = strdup(m != NULL ? m : PQerrorMessage(t->conn));
    }
    PQclear(res);
    return why;
}

char *pgu_value(pgu_test *t, const char *sql)
{
    PGresult *res = PQexec(t->conn, sql);
    char *v = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    else
        print_error("pg_util: %s: %s\n", sql, PQerrorMessage(t->conn));
    PQclear(res);
    assert_non_null(v);
    return v;
}

long pgu_number(pgu_test *t, const char *sql)
{
    char *v = pgu_value(t, sql);
    long n = strtol(v, NULL, 10);

    free(v);
    return n;
}

void pgu_submit(pgu_test *t, size_t n_steps, long sleep_ms, long fail_at,
                char *job_id)
{
    char *plan;
    size_t used, size = 256 + n_steps * 128;

    plan = malloc(size);
    assert_non_null(plan);
    used = (size_t)snprintf(plan, size,
                            "contract_id: 0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d\n"
                            "steps:\n");
    for (size_t i = 0; i < n_steps; i++)
        used += (size_t)snprintf(plan + used, size - used,
                                 "  - {step_index: %zu, step_type: count, "
                                 "parameters: {sleep_ms: %ld, fail: %s}}\n",
                                 i, sleep_ms,
                                 (long)i == fail_at ? "true" : "false");
    pgu_submit_text(t, plan, job_id);
    free(plan);
}

void pgu_submit_text(pgu_test *t, const char *yaml, char *job_id)
{
    char *path = tu_write(t->dir, "plan.yaml", yaml);
    tu_proc p;

    tu_run(&p, NULL,
           (const char *const[]){TU_JOBEXEC, "submit", "--db", t->conninfo,
                                 path, NULL});
    free(path);
    if (p.status != 0)
        print_error("submit: %s", p.err);
    assert_int_equal(p.status, 0);
    assert_int_equal(strlen(p.out), 37);
    memcpy(job_id, p.out, 36);
    job_id[36] = '\0';
    tu_proc_free(&p);
}

pid_t pgu_worker(pgu_test *t, const char *name, ...)
{
    const char *argv[32] = {TU_JOBEXEC, "worker", "--db", t->conninfo,
                            "--config", t->config, "--name", name};
    size_t n = 8;
    char log[512];
    va_list ap;
    pid_t pid;

    va_start(ap, name);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    snprintf(log, sizeof log, "%s/%s.log", t->dir, name);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (t->n_workers < sizeof t->workers / sizeof t->workers[0])
        t->workers[t->n_workers++] = pid;
    return pid;
}

int pgu_wait_exit(pid_t pid, double seconds)
{
    double until = now() + seconds;
    int status;

    while (now() < until) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status)
                                     : 128 + WTERMSIG(status);
        nap_ms(10);
    }
    return -1;
}

void pgu_wait_for(pgu_test *t, const char *sql, const char *expected,
                  double seconds)
{
    double until = now() + seconds;
    char *v = NULL;

    for (;;) {
        free(v);
        v = pgu_value(t, sql);
        if (strcmp(v, expected) == 0 || now() > until)
            break;
        nap_ms(20);
    }
    if (strcmp(v, expected) != 0)
        print_error("waited %.0f s for '%s' from %s, last '%s'\n", seconds,
                    expected, sql, v);
    assert_string_equal(v, expected);
    free(v);
}

void pgu_wait_ledger(pgu_test *t, size_t n, double seconds)
{
    double until = now() + seconds;

    while (tu_count_lines(t->ledger) < n && now() < until)
        nap_ms(10);
    assert_true(tu_count_lines(t->ledger) >= n);
}

size_t pgu_calls(pgu_test *t, const char *job_id, long step)
{
    char *text = tu_read(t->ledger), want[64];
    size_t n = 0, len;

    if (text == NULL)
        return 0;
    len = (size_t)snprintf(want, sizeof want, "%s %ld\n", job_id, step);
    for (const char *p = text; (p = strstr(p, want)) != NULL; p += len)
        if (p == text || p[-1] == '\n')
            n++;
    free(text);
    return n;
}
