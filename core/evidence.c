/*
 * evidence.c - the per-step evidence trail.  A record reaches every sink
 * before the run loop goes on, so a record of each started step exists
 * before the next one starts (EXEC-002).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence.h"
#include "sha256.h"

struct jx__evlog {
    int fd;
    char *path;
    pthread_mutex_t lock; /* one record is one uninterrupted append */
};

int jx__evlog_open(const char *path, jx__evlog **out, jx_error *err)
{
    jx__evlog *log;
    int fd;

    *out = NULL;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return jx__fail(err, JX_EIO, "evidence log '%s': cannot open: %s",
                        path, strerror(errno));
    log = calloc(1, sizeof *log);
    if (log == NULL || (log->path = strdup(path)) == NULL) {
        free(log);
        close(fd);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    log->fd = fd;
    pthread_mutex_init(&log->lock, NULL);
    *out = log;
    return 0;
}

void jx__evlog_close(jx__evlog *log)
{
    if (log == NULL)
        return;
    close(log->fd);
    pthread_mutex_destroy(&log->lock);
    free(log->path);
    free(log);
}

/* Appends the bytes whole, carrying on after short writes; the lock keeps
 * records of concurrent jobs from interleaving. */
static int evlog_append(jx__evlog *log, const char *data, size_t len,
                        char *why, size_t why_len)
{
    int rc = 0;

    pthread_mutex_lock(&log->lock);
    while (len > 0) {
        ssize_t n = write(log->fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, why_len, "%s: %s", log->path, strerror(errno));
            rc = -1;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

const char *jx__record_kind_name(jx_record_kind kind)
{
    static const char *const names[] = {"job_started", "step_started",
                                        "step_finished", "job_finished"};
    return (unsigned)kind < 4 ? names[kind] : "unknown";
}

void jx__chain_init(jx__chain *c, const char *job_id, jx__evlog *log,
                    jx_record_cb on_record, void *user)
{
    static const char domain[] = "jobexec:chain:v1:";

    memset(c, 0, sizeof *c);
    c->job_id = job_id;
    c->log = log;
    c->on_record = on_record;
    c->user = user;
    jx__sha256_2(domain, sizeof domain - 1, job_id, strlen(job_id), c->prev);
}

void jx__chain_fini(jx__chain *c)
{
    jx__buf_free(&c->line);
    jx__buf_free(&c->pending);
}

/* The header holds only numbers, hex, a fixed event name and the job_id,
 * which the plan reader has already checked to be a canonical UUID. */
static int build_line(jx__chain *c, jx_record_kind kind, const char *members,
                      size_t members_len)
{
    char prev_hex[65];

    jx__hex(c->prev, sizeof c->prev, prev_hex);
    c->line.len = 0;
    if (jx__buf_puts(&c->line, "{\"seq\":") != 0 ||
        jx__buf_put_i64(&c->line, (int64_t)c->seq) != 0 ||
        jx__buf_puts(&c->line, ",\"prev\":\"") != 0 ||
        jx__buf_append(&c->line, prev_hex, 64) != 0 ||
        jx__buf_puts(&c->line, "\",\"event\":\"") != 0 ||
        jx__buf_puts(&c->line, jx__record_kind_name(kind)) != 0 ||
        jx__buf_puts(&c->line, "\",\"job_id\":\"") != 0 ||
        jx__buf_puts(&c->line, c->job_id) != 0 ||
        jx__buf_append(&c->line, "\"", 1) != 0 ||
        jx__buf_append(&c->line, members, members_len) != 0 ||
        jx__buf_append(&c->line, "}", 1) != 0)
        return -1;
    return 0;
}

int jx__chain_has_sinks(const jx__chain *c)
{
    return c->log != NULL || c->on_record != NULL;
}

int jx__chain_emit(jx__chain *c, jx_record_kind kind, int64_t step_index,
                   const char *members, size_t members_len)
{
    jx_record rec;

    if (!jx__chain_has_sinks(c))
        return 0; /* nobody listens: skip the hashing */
    if (build_line(c, kind, members, members_len) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        return -1;
    }
    rec.kind = kind;
    rec.step_index = step_index;
    rec.seq = c->seq;
    rec.json = c->line.data;
    rec.json_len = c->line.len;
    if (c->on_record != NULL && c->on_record(&rec, c->user) != 0) {
        snprintf(c->why, sizeof c->why, "the record sink refused %s #%" PRIu64,
                 jx__record_kind_name(kind), c->seq);
        return -1;
    }
    /* Queued only once every sink has it: a refused record never reaches
     * the log, so seq and prev stay continuous there. */
    if (c->log != NULL &&
        (jx__buf_append(&c->pending, c->line.data, c->line.len) != 0 ||
         jx__buf_append(&c->pending, "\n", 1) != 0)) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        return -1;
    }
    if (jx__sha256(c->line.data, c->line.len, c->prev) != 0) {
        snprintf(c->why, sizeof c->why, "SHA-256 failed");
        return -1;
    }
    c->seq++;
    return 0;
}

int jx__chain_flush(jx__chain *c)
{
    int rc;

    if (c->log == NULL || c->pending.len == 0)
        return 0;
    rc = evlog_append(c->log, c->pending.data, c->pending.len, c->why,
                      sizeof c->why);
    c->pending.len = 0;
    return rc;
}
