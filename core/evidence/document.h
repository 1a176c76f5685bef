/*
 * document.h - the evidence document (the job's final record) streamed to a
 * FILE as the job runs.  Field names are those of the reference executor's
 * execution_result_to_evidence; step_results come before the summary so
 * that no step result is ever held back in memory.
 */
#ifndef JX__EVIDENCE_DOCUMENT_H
#define JX__EVIDENCE_DOCUMENT_H

#include <stdio.h>

#include <jansson.h>

#include "base/sha256.h"
#include "input/plan.h"

typedef struct jx__document {
    FILE *fp;           /* NULL: no document wanted */
    size_t n_results;
    jx__sha256_ctx *hash; /* NULL: not hashed (or the hash was lost) */
} jx__document;

/* hash: also compute the SHA-256 of every byte written (the audit trail's
 * result_hash).  0, or -1 when out of memory: the document is begun
 * without job_id, contract_id, tenant_id and executed_by, and the caller
 * must fail the job (evidence lost). */
int jx__doc_begin(jx__document *d, FILE *fp, const jx_plan *plan, int hash);
/* One entry of step_results, already JSON text. */
void jx__doc_step(jx__document *d, const char *json, size_t len);
/* tail holds final_status ... executor_version; written after the steps. */
void jx__doc_end(jx__document *d, const char *members, size_t len);
/* The document's SHA-256 in hex, after jx__doc_end; -1 when it was not
 * hashed.  Frees the hashing state either way. */
int jx__doc_digest(jx__document *d, char hex[2 * JX__SHA256_LEN + 1]);

#endif
