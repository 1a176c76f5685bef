/*
 * audit.c - writing the audit trail: each event one line in the evidence
 * records' envelope ({"seq","prev","event","job_id",...}), its own hashes
 * (previous_event_hash, integrity_hash) and, on a run's last event, the
 * seal, so that `jobexec evidence verify` checks an audit file as it
 * checks an evidence log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <uuid/uuid.h>

#include "base/clock.h"
#include "coord/audit.h"
#include "evidence/format.h"

int jx__audit_wanted(const jx__audit *a, jx__audit_cb cb)
{
    return a->log != NULL || a->syslog || cb != NULL;
}

void jx__audit_run_init(jx__audit_run *r, const char *job_id)
{
    memset(r, 0, sizeof *r);
    r->job_id = job_id;
    jx__audit_genesis(job_id, strlen(job_id), r->prev);
}

void jx__audit_run_fini(jx__audit_run *r)
{
    jx__buf_free(&r->line);
}

static int put_text(jx__buf *b, const char *key, const char *text)
{
    return jx__buf_puts(b, key) ||
           (text != NULL ? jx__buf_put_json_string(b, text)
                         : jx__buf_puts(b, "null"));
}

/* The event up to its integrity_hash. */
static int build(const jx__audit *a, jx__audit_run *r,
                 const jx__audit_event *e)
{
    jx__buf *b = &r->line;
    char prev[2 * JX__SHA256_LEN + 1], now[JX__ISO_TIME_SIZE], id[37];
    char duration[32];
    uuid_t u;

    jx__hex(r->prev, sizeof r->prev, prev);
    jx__iso_now(now);
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    if (e->duration_ms >= 0)
        snprintf(duration, sizeof duration, "%.3f", e->duration_ms);
    b->len = 0;
    return jx__buf_puts(b, "{\"seq\":") ||
           jx__buf_put_i64(b, (int64_t)r->seq) ||
           jx__buf_puts(b, ",\"prev\":\"") || jx__buf_puts(b, prev) ||
           jx__buf_puts(b, "\",\"event\":\"") || jx__buf_puts(b, e->type) ||
           jx__buf_puts(b, "\",\"job_id\":\"") ||
           jx__buf_puts(b, r->job_id) ||
           jx__buf_puts(b, "\",\"event_id\":\"") || jx__buf_puts(b, id) ||
           jx__buf_puts(b, "\",\"event_type\":\"") ||
           jx__buf_puts(b, e->type) || jx__buf_puts(b, "\"") ||
           put_text(b, ",\"tenant_id\":", e->tenant_id) ||
           jx__buf_puts(b, ",\"timestamp\":\"") || jx__buf_puts(b, now) ||
           jx__buf_puts(b, "\"") ||
           put_text(b, ",\"handler\":", a->handler) ||
           jx__buf_puts(b, ",\"attempt_number\":1,\"duration_ms\":") ||
           jx__buf_puts(b, e->duration_ms >= 0 ? duration : "null") ||
           put_text(b, ",\"error\":", e->error) ||
           put_text(b, ",\"payload_hash\":", e->payload_hash) ||
           put_text(b, ",\"result_hash\":", e->result_hash) ||
           jx__buf_puts(b, ",\"previous_event_hash\":\"") ||
           jx__buf_puts(b, prev) || jx__buf_puts(b, "\"");
}

/* Appends integrity_hash, then (last) the seal, and closes the record. */
static int close_record(const jx__audit *a, jx__audit_run *r, int last)
{
    jx__buf *b = &r->line;
    unsigned char digest[JX__SHA256_LEN];
    char hex[2 * JX__SHA256_LEN + 1];

    if (jx__sha256_2(b->data, b->len, "}", 1, digest) != 0)
        return -1;
    jx__hex(digest, sizeof digest, hex);
    if (jx__buf_puts(b, JX__INTEGRITY_MEMBER) || jx__buf_puts(b, hex) ||
        jx__buf_puts(b, "\""))
        return -1;
    if (last) {
        if (jx__sha256_2(b->data, b->len, "}", 1, digest) != 0)
            return -1;
        jx__hex(digest, sizeof digest, hex);
        if (jx__buf_puts(b, JX__SEAL_MEMBER) != 0)
            return -1;
        if (a->signer != NULL) {
            char msg[JX__SEAL_MESSAGE_SIZE], sig[JX__SEAL_SIG_B64_SIZE];
            size_t msg_len = jx__seal_message(r->job_id, r->seq, hex, msg);
            if (jx__sign(a->signer, msg, msg_len, sig) != 0 ||
                jx__seal_put(b, hex, jx__signer_key_id(a->signer), sig) != 0)
                return -1;
        } else if (jx__seal_put(b, hex, NULL, NULL) != 0) {
            return -1;
        }
    }
    return jx__buf_append(b, "}", 1);
}

int jx__audit_emit(const jx__audit *a, jx__audit_run *r,
                   const jx__audit_event *e, int last, jx__audit_cb cb,
                   void *user, char *why, size_t why_len)
{
    jx__buf *b = &r->line;

    if (!jx__audit_wanted(a, cb))
        return 0;
    if (build(a, r, e) != 0 || close_record(a, r, last) != 0) {
        snprintf(why, why_len, "out of memory building an audit event");
        return -1;
    }
    if (cb != NULL && cb(b->data, b->len, user) != 0) {
        snprintf(why, why_len, "the audit callback refused an event");
        return -1;
    }
    if (a->syslog)
        syslog(LOG_AUTHPRIV | LOG_NOTICE, "jobexec audit: %s", b->data);
    if (a->log != NULL) {
        if (jx__buf_append(b, "\n", 1) != 0 ||
            jx__evlog_append(a->log, b->data, b->len, why, why_len) != 0)
            return -1;
        b->len--;
    }
    if (jx__sha256(b->data, b->len, r->prev) != 0) {
        snprintf(why, why_len, "SHA-256 failed");
        return -1;
    }
    r->seq++;
    return 0;
}

void jx__audit_close(jx__audit *a)
{
    jx__evlog_close(a->log);
    free(a->handler);
    memset(a, 0, sizeof *a);
}
