/*
 * fixture_chain.c - the hashes of an evidence chain, recomputed with
 * libsodium (see fixture.h).  A file of its own: only the suites that call
 * these link libsodium.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "fixture.h"

void tu_sha256_hex(const void *data, size_t len,
                   char out[TU_SHA256_HEX_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(out, TU_SHA256_HEX_SIZE, digest, sizeof digest);
}

void tu_chain_genesis(const char *job_id, char out[TU_SHA256_HEX_SIZE])
{
    static const char domain[] = "jobexec:chain:v1:";
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)domain,
                              sizeof domain - 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)job_id,
                              strlen(job_id));
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out, TU_SHA256_HEX_SIZE, digest, sizeof digest);
}
