/*
 * chain.h - evidence records: each job's hash chain.
 */
#ifndef JX__EVIDENCE_CHAIN_H
#define JX__EVIDENCE_CHAIN_H

#include <stdint.h>

#include <jansson.h>

#include "base/common.h"
#include "base/jsonbuf.h"
#include "base/sha256.h"
#include "evidence/log.h"
#include "evidence/seal.h"
#include "input/config_file.h"

/*
 * One job's chain.  Every record carries seq (from 0) and prev, the SHA-256
 * of the previous record's exact bytes; the first record's prev is derived
 * from the job_id, so a line from another job cannot be spliced in.
 */
typedef struct jx__chain {
    const char *job_id;
    uint64_t seq;
    unsigned char prev[32];
    jx__evlog *log;      /* may be NULL */
    const jx__signer *signer; /* may be NULL: seals are unsigned */
    jx_record_cb on_record;
    void *user;
    jx__sha256_ctx *hash; /* NULL (on OOM) falls back to one-shot hashing */
    jx__buf line;        /* the record being built, when there is no log */
    jx__buf pending;     /* lines not yet written to the log, the record
                            being built last */
    size_t start;        /* where the record being built starts */
    /* The step result inside the step_finished being built (see
     * jx__chain_mark_result()); result_len 0: none. */
    size_t result_at, result_len;
    int result_completed;
    char why[256];       /* why the last emit or flush failed */
    /* Set when records could not be written: the chain's state then runs
     * ahead of the file, so nothing more of this job may go there. */
    int broken;
} jx__chain;

void jx__chain_init(jx__chain *c, const char *job_id, jx__evlog *log,
                    const jx__signer *signer, jx_record_cb on_record,
                    void *user);
void jx__chain_fini(jx__chain *c);

/*
 * Builds the record {seq, prev, event, job_id<members>} - members is the
 * rest of the object, each member preceded by a comma - hands it to the
 * callback and queues it for the log.  Returns 0, or -1 with c->why saying
 * what failed: the caller must then stop the job.
 */
int jx__chain_emit(jx__chain *c, jx_record_kind kind, int64_t step_index,
                   const char *members, size_t members_len);

/*
 * jx__chain_emit in two halves, for a caller that builds the members in
 * place (no copy): jx__chain_open writes the record's head and returns the
 * buffer to append the members to (NULL on OOM; the buffer and what it
 * holds stay the chain's; valid until jx__chain_close);
 * jx__chain_close(built_ok: whether appending them succeeded) closes the
 * record and delivers it like jx__chain_emit.  Call only when
 * jx__chain_has_sinks.
 */
jx__buf *jx__chain_open(jx__chain *c, jx_record_kind kind);
/* Between open and close of a step_finished: its step result is the len
 * bytes at offset at of the open buffer, and completed says how the step
 * ended.  The record's sink gets them as jx_record.step_result. */
void jx__chain_mark_result(jx__chain *c, size_t at, size_t len,
                           int completed);
int jx__chain_close(jx__chain *c, jx_record_kind kind, int64_t step_index,
                    int built_ok);

/*
 * Emits job_finished like jx__chain_emit, ended by its seal:
 * ,"seal":{"head":HEX[,"key_id":ID,"sig":BASE64]} where head is the SHA-256
 * of the record as it reads without the seal, and sig, when a signer is
 * set, signs jx__seal_message(job_id, seq, head).
 */
int jx__chain_emit_sealed(jx__chain *c, const char *members,
                          size_t members_len);

/* Whether any sink (log or callback) receives this chain's records; when
 * none does, callers may skip building them. */
int jx__chain_has_sinks(const jx__chain *c);

/*
 * Writes the queued records to the log in one append.  The run loop calls
 * it before every handler call and at the end of the job, so a step's
 * step_started is in the file before its handler runs, and the previous
 * step's step_finished before the next step starts, at one write per step.
 * Returns 0, or -1 with c->why set.
 */
int jx__chain_flush(jx__chain *c);

/* Flushes, then, under fsync: job, syncs the log.  Called once at job
 * end.  Returns 0, or -1 with c->why set. */
int jx__chain_finish(jx__chain *c);


#endif
