/*
 * chain.c - one job's hash chain of evidence records: each record
 * numbered, linked to the previous one, handed to the callback and queued
 * for the log (log.c), job_finished sealed.  A record reaches every sink
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
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "evidence/chain.h"
#include "evidence/format.h"

void jx__chain_init(jx__chain *c, const char *job_id, jx__evlog *log,
                    const jx__signer *signer, jx_record_cb on_record,
                    void *user)
{
    memset(c, 0, sizeof *c);
    c->job_id = job_id;
    c->log = log;
    c->signer = signer;
    c->on_record = on_record;
    c->user = user;
    if (jx__chain_has_sinks(c))
        c->hash = jx__sha256_ctx_new();
    if (log != NULL)
        jx__evlog_job_begin(log);
    jx__chain_genesis(job_id, strlen(job_id), c->prev);
}

void jx__chain_fini(jx__chain *c)
{
    if (c->log != NULL)
        jx__evlog_job_end(c->log);
    jx__sha256_ctx_free(c->hash);
    jx__buf_free(&c->line);
    jx__buf_free(&c->pending);
}

/*
 * Where a record is built: at the end of the lines queued for the log,
 * so that it is queued without being copied, or in c->line when no log
 * takes it.  The record is [c->start, len) of that buffer, NUL-terminated
 * as jx_record promises, until its newline is added.
 */
static jx__buf *target(jx__chain *c)
{
    return c->log != NULL ? &c->pending : &c->line;
}

/* Drops the record being built: the buffer is as it was before it. */
static void drop_record(jx__chain *c)
{
    jx__buf *b = target(c);

    b->len = c->start;
    if (b->data != NULL)
        b->data[b->len] = '\0';
}

/* The record up to its members, without the closing brace.  The header
 * holds only numbers, hex, a fixed event name and the job_id, which the
 * plan reader has already checked to be a canonical UUID. */
static int build_head(jx__chain *c, jx_record_kind kind)
{
    jx__buf *b = target(c);
    char prev_hex[65];

    jx__hex(c->prev, sizeof c->prev, prev_hex);
    if (b == &c->line)
        b->len = 0;
    c->start = b->len;
    return jx__buf_puts(b, "{\"seq\":") != 0 ||
                   jx__buf_put_i64(b, (int64_t)c->seq) != 0 ||
                   jx__buf_puts(b, ",\"prev\":\"") != 0 ||
                   jx__buf_append(b, prev_hex, 64) != 0 ||
                   jx__buf_puts(b, "\",\"event\":\"") != 0 ||
                   jx__buf_puts(b, jx__record_kind_name(kind)) != 0 ||
                   jx__buf_puts(b, "\",\"job_id\":\"") != 0 ||
                   jx__buf_puts(b, c->job_id) != 0 ||
                   jx__buf_append(b, "\"", 1) != 0
               ? -1
               : 0;
}

/* Appends the seal to the open record and closes it. */
static int add_seal(jx__chain *c)
{
    jx__buf *b = target(c);
    unsigned char head[JX__SHA256_LEN];
    char head_hex[2 * JX__SHA256_LEN + 1];

    if (jx__buf_append(b, "}", 1) != 0)
        return -1;
    if (jx__sha256_with(c->hash, b->data + c->start, b->len - c->start,
                        head) != 0)
        return -1;
    b->len--; /* reopen: the seal goes inside */
    jx__hex(head, sizeof head, head_hex);
    if (jx__buf_puts(b, JX__SEAL_MEMBER) != 0)
        return -1;
    if (c->signer != NULL) {
        char msg[JX__SEAL_MESSAGE_SIZE], sig[JX__SEAL_SIG_B64_SIZE];
        size_t msg_len = jx__seal_message(c->job_id, c->seq, head_hex, msg);

        if (jx__sign(c->signer, msg, msg_len, sig) != 0 ||
            jx__seal_put(b, head_hex, jx__signer_key_id(c->signer), sig) !=
                0)
            return -1;
    } else if (jx__seal_put(b, head_hex, NULL, NULL) != 0) {
        return -1;
    }
    return jx__buf_append(b, "}", 1);
}

int jx__chain_has_sinks(const jx__chain *c)
{
    return c->log != NULL || c->on_record != NULL;
}

/* Hands the record just built to the callback, queues it for the log
 * (its newline added) and moves the chain on; a record that fails any of
 * it is dropped. */
static int deliver(jx__chain *c, jx_record_kind kind, int64_t step_index)
{
    jx__buf *b = target(c);
    jx_record rec;

    if (c->broken) {
        drop_record(c);
        return -1;
    }
    rec.kind = kind;
    rec.step_index = step_index;
    rec.seq = c->seq;
    rec.json = b->data + c->start;
    rec.json_len = b->len - c->start;
    rec.step_result = c->result_len > 0 ? b->data + c->result_at : NULL;
    rec.step_result_len = c->result_len;
    rec.step_completed = c->result_completed;
    c->result_len = 0;
    c->result_completed = 0;
    if (c->on_record != NULL && c->on_record(&rec, c->user) != 0) {
        snprintf(c->why, sizeof c->why, "the record sink refused %s #%" PRIu64,
                 jx__record_kind_name(kind), c->seq);
        drop_record(c); /* seq and prev stay continuous in the log */
        return -1;
    }
    if (jx__sha256_with(c->hash, rec.json, rec.json_len, c->prev) != 0) {
        snprintf(c->why, sizeof c->why, "SHA-256 failed");
        drop_record(c);
        return -1;
    }
    if (c->log != NULL && jx__buf_append(b, "\n", 1) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        drop_record(c);
        return -1;
    }
    c->seq++;
    return 0;
}

jx__buf *jx__chain_open(jx__chain *c, jx_record_kind kind)
{
    c->result_len = 0; /* a mark holds for the record it was made in */
    if (build_head(c, kind) == 0)
        return target(c);
    drop_record(c);
    return NULL;
}

void jx__chain_mark_result(jx__chain *c, size_t at, size_t len,
                           int completed)
{
    c->result_at = at;
    c->result_len = len;
    c->result_completed = completed;
}

int jx__chain_close(jx__chain *c, jx_record_kind kind, int64_t step_index,
                    int built_ok)
{
    if (!built_ok || jx__buf_append(target(c), "}", 1) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        drop_record(c);
        return -1;
    }
    return deliver(c, kind, step_index);
}

int jx__chain_emit(jx__chain *c, jx_record_kind kind, int64_t step_index,
                   const char *members, size_t members_len)
{
    jx__buf *b;

    if (!jx__chain_has_sinks(c))
        return 0; /* nobody listens: skip the hashing */
    b = jx__chain_open(c, kind);
    return jx__chain_close(c, kind, step_index,
                           b != NULL &&
                               jx__buf_append(b, members, members_len) == 0);
}

int jx__chain_emit_sealed(jx__chain *c, const char *members,
                          size_t members_len)
{
    jx__buf *b;

    /* seq 0: no record of the job was kept (a sink refused job_started),
     * and a job_finished alone would not verify. */
    if (!jx__chain_has_sinks(c) || c->seq == 0)
        return 0;
    b = jx__chain_open(c, JX_RECORD_JOB_FINISHED);
    if (b == NULL || jx__buf_append(b, members, members_len) != 0 ||
        add_seal(c) != 0) {
        snprintf(c->why, sizeof c->why, "could not seal the job's record");
        drop_record(c);
        return -1;
    }
    return deliver(c, JX_RECORD_JOB_FINISHED, -1);
}

int jx__chain_flush(jx__chain *c)
{
    if (c->broken)
        return -1; /* c->why still says why */
    if (c->log == NULL || c->pending.len == 0)
        return 0;
    if (jx__evlog_append(c->log, c->pending.data, c->pending.len, c->why,
                     sizeof c->why) != 0)
        c->broken = 1;
    c->pending.len = 0;
    return c->broken ? -1 : 0;
}

int jx__chain_finish(jx__chain *c)
{
    if (jx__chain_flush(c) != 0)
        return -1;
    return c->log != NULL ? jx__evlog_job_done(c->log, c->why, sizeof c->why)
                          : 0;
}
