/*
 * sha256.h - SHA-256 for the evidence chain and the plan digest.
 */
#ifndef JX__BASE_SHA256_H
#define JX__BASE_SHA256_H

#include <stddef.h>

#define JX__SHA256_LEN 32

/* libsodium hashes until jx__sha256_expect() loads OpenSSL's faster
 * implementation (sha256.c says why and when); the digests are the same. */
int jx__sha256(const void *data, size_t len, unsigned char out[JX__SHA256_LEN]);

/* The caller is about to hash about bytes more: from about 1 MiB ahead,
 * libcrypto is loaded (once per process; thread-safe) and hashes from
 * then on.  A failed load changes nothing but the speed. */
void jx__sha256_expect(size_t bytes);
/* "openssl" or "libsodium": which implementation a digest started now
 * would use. */
const char *jx__sha256_implementation(void);

/* A hashing context, for digests of data given in pieces (malloc'd by
 * jx__sha256_ctx_new, freed by jx__sha256_ctx_free). */
typedef struct jx__sha256_ctx jx__sha256_ctx;

jx__sha256_ctx *jx__sha256_ctx_new(void); /* NULL on OOM */
void jx__sha256_ctx_free(jx__sha256_ctx *ctx);
/* Like jx__sha256, through ctx; ctx NULL falls back to jx__sha256. */
int jx__sha256_with(jx__sha256_ctx *ctx, const void *data, size_t len,
                    unsigned char out[JX__SHA256_LEN]);

/* A digest of data given in pieces: start, update as often as needed,
 * finish.  Each returns 0, or -1 (then the digest is lost). */
int jx__sha256_start(jx__sha256_ctx *ctx);
int jx__sha256_update(jx__sha256_ctx *ctx, const void *data, size_t len);
int jx__sha256_finish(jx__sha256_ctx *ctx, unsigned char out[JX__SHA256_LEN]);

/* Hashes a then b, as if concatenated. */
int jx__sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                 unsigned char out[JX__SHA256_LEN]);

/* Lower-case hex of a digest into out (2 * JX__SHA256_LEN + 1 bytes). */
void jx__hex(const unsigned char *digest, size_t len, char *out);

#endif
