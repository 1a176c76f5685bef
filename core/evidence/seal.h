/*
 * seal.h - Ed25519 keys and the seal that ends each job's chain.
 *
 * Key files are one line of text: "jobexec-ed25519-secret-key HEX\n" (the
 * 32-byte seed) or "jobexec-ed25519-public-key HEX\n".  The secret key must
 * be private to the executor's user.
 */
#ifndef JX__EVIDENCE_SEAL_H
#define JX__EVIDENCE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/common.h"

#define JX__SEAL_PUBLIC_LEN 32
#define JX__SEAL_SIG_LEN 64
#define JX__SEAL_KEY_ID_HEX 16 /* hex digits of the key id */

/* A secret key, held in libsodium's guarded memory. */
typedef struct jx__signer jx__signer;

/* Loads the secret key at path, refusing a file that is not a regular
 * file owned by the running user with no group or other permissions.
 * Messages start with "signing key 'PATH': ". */
int jx__signer_load(const char *path, jx__signer **out, jx_error *err);
void jx__signer_free(jx__signer *s);

/* The key id written in seals: the first bytes of SHA-256(public key), in
 * hex, so that ops can tell which key sealed a job. */
const char *jx__signer_key_id(const jx__signer *s);

/* Loads a public key file.  Messages start with "public key 'PATH': ". */
int jx__pubkey_load(const char *path, unsigned char pk[JX__SEAL_PUBLIC_LEN],
                    jx_error *err);

/* Computes the key id of a public key into out (JX__SEAL_KEY_ID_HEX + 1). */
void jx__key_id(const unsigned char pk[JX__SEAL_PUBLIC_LEN], char *out);

/*
 * The bytes a seal signs: a domain string, the job_id, the seq of the
 * job_finished record and the chain head (hex SHA-256 of job_finished as
 * it reads without its seal), each ended by a newline.  Returns the length
 * written into out (at most JX__SEAL_MESSAGE_SIZE).
 */
#define JX__SEAL_MESSAGE_SIZE 192
size_t jx__seal_message(const char *job_id, uint64_t seq,
                        const char *head_hex, char *out);

/* Signs msg; sig_b64 receives the base64 signature (at least
 * JX__SEAL_SIG_B64_SIZE bytes). */
#define JX__SEAL_SIG_B64_SIZE 89
int jx__sign(const jx__signer *s, const char *msg, size_t len,
             char *sig_b64);

/* 1 when sig_b64 is a valid signature of msg by pk, 0 otherwise. */
int jx__sig_ok(const unsigned char pk[JX__SEAL_PUBLIC_LEN], const char *msg,
               size_t len, const char *sig_b64);

/* Writes a new key pair: secret_path (mode 0600, never overwriting) and
 * secret_path + ".pub" (0644).  On success the key id goes to key_id. */
int jx__keygen(const char *secret_path, char key_id[JX__SEAL_KEY_ID_HEX + 1],
               jx_error *err);

#endif
