/*
 * sha256.c - SHA-256 through OpenSSL's low-level SHA256_* functions.
 *
 * Measured on the chain's records (two of about 420 bytes per step), the
 * low-level calls beat every other way in: EVP with a reused context
 * costs about 20% more (EVP_DigestInit_ex looks the provider's
 * implementation up again on every digest), EVP_MD_CTX_copy_ex from an
 * initialised template about 10% more, libsodium's crypto_hash_sha256
 * four to five times as much (it has no code for the CPU's SHA
 * extensions; OpenSSL's assembly, behind both interfaces, has).  They
 * also need no provider to be loaded or fetched first.
 *
 * OpenSSL 3 marks them deprecated, for this file only the warning is
 * silenced: they are kept for exactly this use, and the EVP interface
 * gives the same digest at a higher price.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "config.h"

#include <stdlib.h>

#include <openssl/sha.h>

#include "base/sha256.h"

struct jx__sha256_ctx {
    SHA256_CTX c;
};

int jx__sha256(const void *data, size_t len, unsigned char out[JX__SHA256_LEN])
{
    SHA256_CTX c;

    return SHA256_Init(&c) == 1 && SHA256_Update(&c, data, len) == 1 &&
                   SHA256_Final(out, &c) == 1
               ? 0
               : -1;
}

jx__sha256_ctx *jx__sha256_ctx_new(void)
{
    return malloc(sizeof(jx__sha256_ctx));
}

void jx__sha256_ctx_free(jx__sha256_ctx *ctx)
{
    free(ctx);
}

/* The context is no longer needed for speed (the low-level state lives
 * on the stack as well as anywhere), but callers keep one for the
 * digests they build in pieces. */
int jx__sha256_with(jx__sha256_ctx *ctx, const void *data, size_t len,
                    unsigned char out[JX__SHA256_LEN])
{
    (void)ctx;
    return jx__sha256(data, len, out);
}

int jx__sha256_start(jx__sha256_ctx *ctx)
{
    return SHA256_Init(&ctx->c) == 1 ? 0 : -1;
}

int jx__sha256_update(jx__sha256_ctx *ctx, const void *data, size_t len)
{
    return SHA256_Update(&ctx->c, data, len) == 1 ? 0 : -1;
}

int jx__sha256_finish(jx__sha256_ctx *ctx, unsigned char out[JX__SHA256_LEN])
{
    return SHA256_Final(out, &ctx->c) == 1 ? 0 : -1;
}

int jx__sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                 unsigned char out[JX__SHA256_LEN])
{
    SHA256_CTX c;

    return SHA256_Init(&c) == 1 && SHA256_Update(&c, a, a_len) == 1 &&
                   SHA256_Update(&c, b, b_len) == 1 &&
                   SHA256_Final(out, &c) == 1
               ? 0
               : -1;
}

void jx__hex(const unsigned char *digest, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[2 * len] = '\0';
}
