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
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "evidence.h"

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

/* Writes the line and its newline, carrying on after short writes. */
static int evlog_append(jx__evlog *log, const char *line, size_t len,
                        char *why, size_t why_len)
{
    struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};
    int iovcnt = 2, rc = 0;

    pthread_mutex_lock(&log->lock);
    while (iovcnt > 0) {
        ssize_t n = writev(log->fd, &iov[2 - iovcnt], iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, why_len, "%s: %s", log->path, strerror(errno));
            rc = -1;
            break;
        }
        while (iovcnt > 0 && (size_t)n >= iov[2 - iovcnt].iov_len) {
            n -= (ssize_t)iov[2 - iovcnt].iov_len;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[2 - iovcnt].iov_base = (char *)iov[2 - iovcnt].iov_base + n;
            iov[2 - iovcnt].iov_len -= (size_t)n;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

int jx__buf_append(jx__buf *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        char *grown;
        while (cap < b->len + len + 1)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

void jx__buf_free(jx__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int dump_cb(const char *data, size_t len, void *user)
{
    return jx__buf_append(user, data, len);
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
    crypto_hash_sha256_state st;

    memset(c, 0, sizeof *c);
    c->job_id = job_id;
    c->log = log;
    c->on_record = on_record;
    c->user = user;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)domain,
                              sizeof domain - 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)job_id,
                              strlen(job_id));
    crypto_hash_sha256_final(&st, c->prev);
}

void jx__chain_fini(jx__chain *c) { jx__buf_free(&c->line); }

/* The header holds only numbers, hex, a fixed event name and the job_id,
 * which the plan reader has already checked to be a canonical UUID. */
static int build_line(jx__chain *c, jx_record_kind kind, const json_t *body)
{
    char prev_hex[65];
    char head[256];
    int n;
    size_t body_start;

    sodium_bin2hex(prev_hex, sizeof prev_hex, c->prev, sizeof c->prev);
    n = snprintf(head, sizeof head,
                 "{\"seq\":%" PRIu64 ",\"prev\":\"%s\",\"event\":\"%s\","
                 "\"job_id\":\"%s\"",
                 c->seq, prev_hex, jx__record_kind_name(kind), c->job_id);
    c->line.len = 0;
    if (jx__buf_append(&c->line, head, (size_t)n) != 0)
        return -1;
    body_start = c->line.len;
    if (json_dump_callback(body, dump_cb, &c->line, JSON_COMPACT) != 0)
        return -1;
    /* Splice the body's members in after the header: "{...}" -> ",...}". */
    if (c->line.len - body_start == 2) { /* "{}" */
        c->line.len = body_start;
        return jx__buf_append(&c->line, "}", 1);
    }
    c->line.data[body_start] = ',';
    return 0;
}

int jx__chain_emit(jx__chain *c, jx_record_kind kind, int64_t step_index,
                   const json_t *body)
{
    jx_record rec;

    if (build_line(c, kind, body) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        return -1;
    }
    if (c->log != NULL &&
        evlog_append(c->log, c->line.data, c->line.len, c->why,
                     sizeof c->why) != 0)
        return -1;
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
    crypto_hash_sha256(c->prev, (const unsigned char *)c->line.data,
                       c->line.len);
    c->seq++;
    return 0;
}
