/*
 * format.h - the evidence log's record format, written once for the
 * writer (chain.c), the verifier (verify.c) and any later trail that
 * chains records the same way.
 *
 * A record is one JSON object on one line:
 *   {"seq":N,"prev":HEX,"event":KIND,"job_id":UUID<members>}
 * prev is the SHA-256 of the previous record's exact bytes; a job's first
 * record has prev = SHA-256(JX__CHAIN_DOMAIN || job_id).  job_finished
 * ends with the seal (jx__seal_put), the record's last member.
 */
#ifndef JX__EVIDENCE_FORMAT_H
#define JX__EVIDENCE_FORMAT_H

#include <stddef.h>

#include "base/common.h"
#include "base/jsonbuf.h"
#include "base/sha256.h"

/* What every seal member starts with, as it reads inside the record. */
#define JX__SEAL_MEMBER ",\"seal\":"

/* What a writer appends, before the newline, to a record that another
 * writer left torn when it died mid-write: the line then ends with it and
 * the verifier reads the line as that job's torn record.  No record ends
 * with it (a record ends with '}'). */
#define JX__TORN_MARK "#torn"

/* "job_started", ... for a kind; "unknown" for another value. */
const char *jx__record_kind_name(jx_record_kind kind);
/* The kind a name stands for, or -1. */
int jx__record_kind_of(const char *name);

/* The prev of a job's first record (job_id: id_len bytes).  0, or -1
 * when hashing failed. */
int jx__chain_genesis(const char *job_id, size_t id_len,
                      unsigned char out[JX__SHA256_LEN]);

/*
 * The audit trail (coord/audit.c) writes its events in the same envelope,
 * one chain per run of a job from its own domain
 * (SHA-256("jobexec:audit:v1:" || job_id)): job_created opens a run,
 * job_started follows, and job_completed, job_failed, job_cancelled or
 * scope_rejected ends it, sealed.  Every audit record also carries
 * previous_event_hash (its prev) and, last before any seal,
 * integrity_hash: the SHA-256 of the record as it reads without it.
 */
#define JX__INTEGRITY_MEMBER ",\"integrity_hash\":\""

/* An audit event's place in its chain, as the verifier reads it: 0 opens
 * a run (job_created), 1 continues it (job_started), 3 ends it, sealed;
 * -1 for a name that is no audit event. */
int jx__audit_kind_of(const char *name);

/* The prev of a run's first audit event.  0, or -1. */
int jx__audit_genesis(const char *job_id, size_t id_len,
                      unsigned char out[JX__SHA256_LEN]);

/* Appends the seal object: {"head":H} or, signed,
 * {"head":H,"key_id":K,"sig":S}.  key_id and sig are both given or both
 * NULL. */
int jx__seal_put(jx__buf *b, const char *head_hex, const char *key_id,
                 const char *sig);

#endif
