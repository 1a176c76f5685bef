/*
 * worker.c - the worker: one thread per job it may run at once, each with
 * its own connection, claiming jobs and waiting for more (LISTEN, with a
 * poll as the fallback), and a keeper thread that renews the leases of
 * the jobs held and runs the rescuer.  No transaction is held open while
 * a handler runs: every statement commits on its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "worker/worker.h"

#define DEFAULT_LEASE_SECONDS 30
#define DEFAULT_POLL_MS 1000
#define DEFAULT_RESCUE_SECONDS 10
/* How long a thread waits before it connects again after losing its
 * connection. */
#define RECONNECT_MS 1000

/* ---- the log ------------------------------------------------------------ */

/* Appends " key=value", quoting value when it has a space, a quote, an
 * equals sign or a control character (escaped as \n, \t, \uXXXX...). */
static void put_pair(char *line, size_t size, size_t *used, const char *key,
                     const char *value)
{
    int quote = value[0] == '\0' || strpbrk(value, " \"=\\") != NULL;

    for (const char *p = value; !quote && *p; p++)
        quote = (unsigned char)*p < 0x20 || *p == 0x7f;
    *used += (size_t)snprintf(line + *used, size - *used, " %s=%s", key,
                              quote ? "\"" : "");
    for (const char *p = value; *p && *used + 8 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            *used += (size_t)snprintf(line + *used, size - *used, "\\%c", c);
        else if (c == '\n')
            *used += (size_t)snprintf(line + *used, size - *used, "\\n");
        else if (c < 0x20 || c == 0x7f)
            *used += (size_t)snprintf(line + *used, size - *used, "\\u%04x",
                                      c);
        else
            line[(*used)++] = (char)c;
    }
    if (quote && *used + 1 < size)
        line[(*used)++] = '"';
    line[*used < size ? *used : size - 1] = '\0';
}

void jx__worker_log(jx_worker *w, const char *level, ...)
{
    char line[2048], ts[JX__ISO_TIME_SIZE];
    size_t used = 0;
    const char *key;
    va_list ap;

    if (w->on_log == NULL)
        return;
    jx__iso_now(ts);
    put_pair(line, sizeof line, &used, "ts", ts);
    put_pair(line, sizeof line, &used, "level", level);
    put_pair(line, sizeof line, &used, "worker", w->name);
    va_start(ap, level);
    while ((key = va_arg(ap, const char *)) != NULL)
        put_pair(line, sizeof line, &used, key, va_arg(ap, const char *));
    va_end(ap);
    pthread_mutex_lock(&w->lock);
    w->on_log(line + 1, w->user); /* without the first pair's space */
    pthread_mutex_unlock(&w->lock);
}

/* ---- slots -------------------------------------------------------------- */

void jx__slot_set(jx_worker *w, size_t i, const char *job_id, double t)
{
    pthread_mutex_lock(&w->lock);
    snprintf(w->slots[i].job_id, sizeof w->slots[i].job_id, "%s", job_id);
    w->slots[i].renewed = t;
    pthread_mutex_unlock(&w->lock);
}

void jx__slot_renewed(jx_worker *w, size_t i, double t)
{
    pthread_mutex_lock(&w->lock);
    if (t > w->slots[i].renewed)
        w->slots[i].renewed = t;
    pthread_mutex_unlock(&w->lock);
}

int jx__slot_fresh(jx_worker *w, size_t i)
{
    double age;

    pthread_mutex_lock(&w->lock);
    age = jx__monotonic() - w->slots[i].renewed;
    pthread_mutex_unlock(&w->lock);
    return age < w->lease_seconds * 2.0 / 3.0;
}

/* ---- the keeper: leases and the rescuer ----------------------------------- */

/* Renews the lease of every job held; each renewed slot learns when.  A
 * lease that has expired is not renewed: its job's thread finds out at
 * its next write. */
static void renew_leases(jx_worker *w, jx_queue *q)
{
    /* "{id,id,...}": a uuid[] literal of every job held. */
    size_t size = 3 + w->concurrency * (JX__UUID_LEN + 1), used = 1, n = 0;
    char *ids = malloc(size), lease[16];
    const char *params[] = {ids, w->name, lease};
    jx_error err = {0, ""};
    double t = jx__monotonic();
    PGresult *res;

    if (ids == NULL)
        return; /* renewed next time; the leases outlast a few misses */
    ids[0] = '{';
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->concurrency; i++)
        if (w->slots[i].job_id[0] != '\0')
            used += (size_t)snprintf(ids + used, size - used, "%s%s",
                                     n++ > 0 ? "," : "", w->slots[i].job_id);
    pthread_mutex_unlock(&w->lock);
    snprintf(ids + used, size - used, "}");
    snprintf(lease, sizeof lease, "%u", w->lease_seconds);
    res = n > 0 ? jx__pg_prepared(q, JX__STMT_RENEW, 3, params, &err) : NULL;
    free(ids);
    if (n == 0)
        return;
    if (res == NULL) {
        jx__worker_log(w, "warn", "event", "renew_failed", "why",
                       err.message, JX__LOG_END);
        return;
    }
    pthread_mutex_lock(&w->lock);
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < w->concurrency; i++)
            if (strcmp(w->slots[i].job_id, PQgetvalue(res, r, 0)) == 0 &&
                t > w->slots[i].renewed)
                w->slots[i].renewed = t;
    pthread_mutex_unlock(&w->lock);
    PQclear(res);
}

static void rescue(jx_worker *w, jx_queue *q)
{
    unsigned n;
    char count[16];
    jx_error err = {0, ""};

    if (jx_queue_rescue(q, &n, &err) != 0) {
        jx__worker_log(w, "warn", "event", "rescue_failed", "why",
                       err.message, JX__LOG_END);
        return;
    }
    if (n == 0)
        return;
    snprintf(count, sizeof count, "%u", n);
    jx__worker_log(w, "info", "event", "rescued", "jobs", count, JX__LOG_END);
}

/* Waits on the keeper's condition until t (monotonic) or the end;
 * returns non-zero at the end. */
static int keeper_wait(jx_worker *w, double until)
{
    struct timespec ts;
    double left = until - jx__monotonic();
    int done;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (left > 0) {
        ts.tv_sec += (time_t)left;
        ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&w->lock);
    if (!w->keeper_done && left > 0)
        pthread_cond_timedwait(&w->keeper_wake, &w->lock, &ts);
    done = w->keeper_done;
    pthread_mutex_unlock(&w->lock);
    return done;
}

static void *keep(void *arg)
{
    jx_worker *w = arg;
    jx_queue *q = NULL;
    double next_rescue = 0, period = w->lease_seconds / 3.0;
    jx_error err = {0, ""};

    if (period > w->rescue_seconds)
        period = w->rescue_seconds;
    do {
        if (q == NULL && jx_queue_open(w->conninfo, &q, &err) != 0) {
            jx__worker_log(w, "warn", "event", "keeper_disconnected", "why",
                           err.message, JX__LOG_END);
            continue;
        }
        renew_leases(w, q);
        if (jx__monotonic() >= next_rescue) {
            rescue(w, q);
            next_rescue = jx__monotonic() + w->rescue_seconds;
        }
        if (PQstatus(q->conn) != CONNECTION_OK) {
            jx_queue_close(q);
            q = NULL;
        }
    } while (!keeper_wait(w, jx__monotonic() + period));
    jx_queue_close(q);
    return NULL;
}

/* ---- the job threads ---------------------------------------------------- */

/* Sleeps ms, or until the worker stops. */
static void nap(jx_worker *w, int ms)
{
    struct pollfd p = {w->stop_pipe[0], POLLIN, 0};

    while (poll(&p, 1, ms) < 0 && errno == EINTR)
        ;
}

static int drain_notifications(jx_queue *q)
{
    PGnotify *n;
    int any = 0;

    while ((n = PQnotifies(q->conn)) != NULL) {
        PQfreemem(n);
        any = 1;
    }
    return any;
}

/* Waits for a notification of a new job, the poll interval, or a stop. */
static void wait_for_work(jx_worker *w, jx_queue *q)
{
    struct pollfd p[2] = {{PQsocket(q->conn), POLLIN, 0},
                          {w->stop_pipe[0], POLLIN, 0}};

    if (drain_notifications(q))
        return; /* one came with the last statement's answer */
    while (poll(p, 2, (int)w->poll_ms) < 0 && errno == EINTR)
        ;
    if (p[0].revents != 0 && PQconsumeInput(q->conn))
        drain_notifications(q);
}

static jx_queue *connect_listening(jx_worker *w)
{
    jx_queue *q = NULL;
    jx_error err = {0, ""};

    if (jx_queue_open(w->conninfo, &q, &err) != 0 ||
        jx__pg_command(q->conn, "listening", "LISTEN jobexec_jobs", 0, NULL,
                       &err) != 0) {
        jx__worker_log(w, "warn", "event", "disconnected", "why",
                       err.message, JX__LOG_END);
        jx_queue_close(q);
        return NULL;
    }
    return q;
}

typedef struct job_thread {
    jx_worker *w;
    size_t slot;
    pthread_t thread;
} job_thread;

static void *work(void *arg)
{
    job_thread *t = arg;
    jx_worker *w = t->w;
    jx_queue *q = NULL;
    jx__claim next = {NULL, 0};

    /* A job claimed already is run even when the worker stops meanwhile:
     * it then ends CANCELLED, as any job a stop finds claimed. */
    while (next.row != NULL || atomic_load(&w->stopping) == JX__RUNNING) {
        jx_error err = {0, ""};
        int rc;

        if (q == NULL && (q = connect_listening(w)) == NULL) {
            nap(w, RECONNECT_MS);
            continue;
        }
        rc = jx__worker_take_job(w, q, t->slot, &next, &err);
        if (rc < 0) {
            jx__worker_log(w, "warn", "event", "claim_failed", "why",
                           err.message, JX__LOG_END);
            jx_queue_close(q);
            q = NULL;
            nap(w, RECONNECT_MS);
        } else if (w->once) {
            break;
        } else if (rc == 0) {
            wait_for_work(w, q);
        }
    }
    jx_queue_close(q);
    return NULL;
}

/* ---- the worker ---------------------------------------------------------- */

int jx_worker_new(jx_executor *ex, const jx_worker_options *o,
                  jx_worker **out, jx_error *err)
{
    jx_worker *w;
    char host[256];

    *out = NULL;
    if (ex == NULL || o == NULL || o->struct_size < sizeof *o)
        return jx__fail(err, JX_EINVAL, "jx_worker_new: NULL executor or "
                                        "options (JX_WORKER_OPTIONS_INIT)");
    if ((w = calloc(1, sizeof *w)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    w->ex = ex;
    w->concurrency = o->once ? 1 : o->concurrency ? o->concurrency : 1;
    w->lease_seconds = o->lease_seconds ? o->lease_seconds
                                        : DEFAULT_LEASE_SECONDS;
    w->poll_ms = o->poll_ms ? o->poll_ms : DEFAULT_POLL_MS;
    w->rescue_seconds = o->rescue_seconds ? o->rescue_seconds
                                          : DEFAULT_RESCUE_SECONDS;
    w->once = o->once;
    w->on_log = o->on_log;
    w->user = o->user;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    if (o->name != NULL)
        w->name = strdup(o->name);
    else if (asprintf(&w->name, "%s:%ld", host, (long)getpid()) < 0)
        w->name = NULL;
    w->conninfo = jx__strdup(o->conninfo);
    w->slots = calloc(w->concurrency, sizeof *w->slots);
    if (w->name == NULL || (o->conninfo != NULL && w->conninfo == NULL) ||
        w->slots == NULL || pipe2(w->stop_pipe, O_CLOEXEC) != 0) {
        jx_worker_free(w);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->keeper_wake, NULL);
    atomic_init(&w->stopping, JX__RUNNING);
    *out = w;
    return 0;
}

/* The store must be reachable and at this library's schema before any
 * thread starts: a worker that cannot work says so at once. */
static int check_store(jx_worker *w, jx_error *err)
{
    jx_queue *q;
    unsigned have;
    int rc;

    if ((rc = jx_queue_open(w->conninfo, &q, err)) != 0)
        return rc;
    rc = jx_queue_schema_version(q, &have, err);
    jx_queue_close(q);
    if (rc != 0)
        return rc;
    if (have < jx_queue_schema_latest())
        return jx__fail(err, JX_ECONFIG, "governance store: the schema is at "
                                         "version %u, this jobexec needs %u: "
                                         "run jobexec worker --migrate",
                        have, jx_queue_schema_latest());
    if (have > jx_queue_schema_latest())
        return jx__fail(err, JX_ECONFIG, "governance store: the schema is at "
                                         "version %u, newer than this "
                                         "jobexec's %u: upgrade jobexec",
                        have, jx_queue_schema_latest());
    return 0;
}

int jx_worker_run(jx_worker *w, jx_error *err)
{
    job_thread *threads;
    pthread_t keeper;
    size_t started;
    char n[16];
    int rc;

    if ((rc = check_store(w, err)) != 0)
        return rc;
    if ((threads = calloc(w->concurrency, sizeof *threads)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (pthread_create(&keeper, NULL, keep, w) != 0) {
        free(threads);
        return jx__fail(err, JX_EINTERNAL, "cannot start the keeper thread");
    }
    snprintf(n, sizeof n, "%u", w->concurrency);
    jx__worker_log(w, "info", "event", "started", "concurrency", n, JX__LOG_END);
    for (started = 0; started < w->concurrency; started++) {
        threads[started] = (job_thread){.w = w, .slot = started};
        if (pthread_create(&threads[started].thread, NULL, work,
                           &threads[started]) != 0) {
            rc = jx__fail(err, JX_EINTERNAL, "cannot start a job thread");
            jx_worker_stop(w, 0);
            break;
        }
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i].thread, NULL);
    pthread_mutex_lock(&w->lock);
    w->keeper_done = 1;
    pthread_cond_signal(&w->keeper_wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(keeper, NULL);
    free(threads);
    jx__worker_log(w, "info", "event", "stopped", JX__LOG_END);
    return rc;
}

void jx_worker_stop(jx_worker *w, int now)
{
    int want = now ? JX__STOP_NOW : JX__STOP_AFTER_STEP;
    int was = atomic_load(&w->stopping);

    while (was < want && !atomic_compare_exchange_weak(&w->stopping, &was,
                                                        want))
        ;
    if (write(w->stop_pipe[1], "x", 1) < 0 && errno != EAGAIN) {
        /* The pipe holds a byte already, or is gone: either way the
         * threads see the flag when their wait ends. */
    }
    if (!now)
        return;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->concurrency; i++)
        if (w->slots[i].job_id[0] != '\0')
            jx_executor_cancel(w->ex, w->slots[i].job_id);
    pthread_mutex_unlock(&w->lock);
}

void jx_worker_free(jx_worker *w)
{
    if (w == NULL)
        return;
    if (w->stop_pipe[0] >= 0) {
        close(w->stop_pipe[0]);
        close(w->stop_pipe[1]);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->keeper_wake);
    }
    free(w->slots);
    free(w->name);
    free(w->conninfo);
    free(w);
}
