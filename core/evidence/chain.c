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

/* The record up to its members, without the closing brace.  The header
 * holds only numbers, hex, a fixed event name and the job_id, which the
 * plan reader has already checked to be a canonical UUID. */
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
        jx__buf_append(&c->line, members, members_len) != 0)
        return -1;
    return 0;
}

/* Appends the seal to the open record in c->line and closes it. */
static int add_seal(jx__chain *c)
{
    unsigned char head[JX__SHA256_LEN];
    char head_hex[2 * JX__SHA256_LEN + 1];

    if (jx__buf_append(&c->line, "}", 1) != 0)
        return -1;
    if (jx__sha256_with(c->hash, c->line.data, c->line.len, head) != 0)
        return -1;
    c->line.len--; /* reopen: the seal goes inside */
    jx__hex(head, sizeof head, head_hex);
    if (jx__buf_puts(&c->line, JX__SEAL_MEMBER) != 0)
        return -1;
    if (c->signer != NULL) {
        char msg[JX__SEAL_MESSAGE_SIZE], sig[JX__SEAL_SIG_B64_SIZE];
        size_t msg_len = jx__seal_message(c->job_id, c->seq, head_hex, msg);

        if (jx__sign(c->signer, msg, msg_len, sig) != 0 ||
            jx__seal_put(&c->line, head_hex, jx__signer_key_id(c->signer),
                         sig) != 0)
            return -1;
    } else if (jx__seal_put(&c->line, head_hex, NULL, NULL) != 0) {
        return -1;
    }
    return jx__buf_append(&c->line, "}", 1);
}

int jx__chain_has_sinks(const jx__chain *c)
{
    return c->log != NULL || c->on_record != NULL;
}

/* Hands the record in c->line to the callback, queues it for the log and
 * moves the chain on. */
static int deliver(jx__chain *c, jx_record_kind kind, int64_t step_index)
{
    jx_record rec;

    if (c->broken)
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
    /* Queued only once every sink has it: a refused record never reaches
     * the log, so seq and prev stay continuous there. */
    if (c->log != NULL &&
        (jx__buf_append(&c->pending, c->line.data, c->line.len) != 0 ||
         jx__buf_append(&c->pending, "\n", 1) != 0)) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        return -1;
    }
    if (jx__sha256_with(c->hash, c->line.data, c->line.len, c->prev) != 0) {
        snprintf(c->why, sizeof c->why, "SHA-256 failed");
        return -1;
    }
    c->seq++;
    return 0;
}

int jx__chain_emit(jx__chain *c, jx_record_kind kind, int64_t step_index,
                   const char *members, size_t members_len)
{
    if (!jx__chain_has_sinks(c))
        return 0; /* nobody listens: skip the hashing */
    if (build_line(c, kind, members, members_len) != 0 ||
        jx__buf_append(&c->line, "}", 1) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory building a record");
        return -1;
    }
    return deliver(c, kind, step_index);
}

int jx__chain_emit_sealed(jx__chain *c, const char *members,
                          size_t members_len)
{
    /* seq 0: no record of the job was kept (a sink refused job_started),
     * and a job_finished alone would not verify. */
    if (!jx__chain_has_sinks(c) || c->seq == 0)
        return 0;
    if (build_line(c, JX_RECORD_JOB_FINISHED, members, members_len) != 0 ||
        add_seal(c) != 0) {
        snprintf(c->why, sizeof c->why, "could not seal the job's record");
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
