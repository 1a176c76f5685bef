/*
 * dsse.h - DSSE envelopes (Dead Simple Signing Envelope, v1), the wrapper
 * in-toto attestations travel in: a payload, its type, and signatures
 * over the pre-authentication encoding (PAE) of both.
 */
#ifndef JX__EVIDENCE_DSSE_H
#define JX__EVIDENCE_DSSE_H

#include <stddef.h>

#include <jansson.h>

#include "base/common.h"
#include "evidence/seal.h"

/* The payload type of in-toto statements. */
#define JX__DSSE_INTOTO_TYPE "application/vnd.in-toto+json"

/*
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * LEN the length in bytes as ASCII decimal without leading zeros.  Returns
 * a malloc'd buffer of *out_len bytes (the caller's to free()), or NULL
 * when out of memory.
 */
unsigned char *jx__dsse_pae(const char *type, const char *body,
                            size_t body_len, size_t *out_len);

/*
 * The envelope {"payload": base64(body), "payloadType": type,
 * "signatures": [{"keyid": K, "sig": base64(sig)}]}, signed by s over
 * PAE(type, body); standard base64 with padding.  *out is a new reference,
 * the caller's.
 */
int jx__dsse_envelope(const jx__signer *s, const char *type,
                      const char *body, size_t body_len, json_t **out,
                      jx_error *err);

#endif
