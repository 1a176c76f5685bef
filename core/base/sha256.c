/*
 * sha256.c - SHA-256 through OpenSSL's EVP interface.
 */
#include "config.h"

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/sha256.h"

/* Fetched once: an implicit fetch on every call costs as much as hashing
 * a whole record. */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
    /* The default provider's SHA-256 is all we use: reading openssl.cnf
     * and registering every cipher would cost more than a whole 1-step
     * job. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
                            OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                            OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                        NULL);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md(void)
{
    pthread_once(&fetch_once, fetch_sha256);
    return sha256_md;
}

int jx__sha256(const void *data, size_t len, unsigned char out[JX__SHA256_LEN])
{
    const EVP_MD *m = md();
    return m != NULL && EVP_Digest(data, len, out, NULL, m, NULL) == 1 ? 0
                                                                      : -1;
}

jx__sha256_ctx *jx__sha256_ctx_new(void)
{
    return (jx__sha256_ctx *)EVP_MD_CTX_new();
}

void jx__sha256_ctx_free(jx__sha256_ctx *ctx)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
}

int jx__sha256_with(jx__sha256_ctx *ctx, const void *data, size_t len,
                    unsigned char out[JX__SHA256_LEN])
{
    EVP_MD_CTX *c = (EVP_MD_CTX *)ctx;
    const EVP_MD *m = md();

    if (c == NULL)
        return jx__sha256(data, len, out);
    return m != NULL && EVP_DigestInit_ex(c, m, NULL) == 1 &&
                   EVP_DigestUpdate(c, data, len) == 1 &&
                   EVP_DigestFinal_ex(c, out, NULL) == 1
               ? 0
               : -1;
}

int jx__sha256_start(jx__sha256_ctx *ctx)
{
    const EVP_MD *m = md();
    return m != NULL && EVP_DigestInit_ex((EVP_MD_CTX *)ctx, m, NULL) == 1
               ? 0
               : -1;
}

int jx__sha256_update(jx__sha256_ctx *ctx, const void *data, size_t len)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len) == 1 ? 0 : -1;
}

int jx__sha256_finish(jx__sha256_ctx *ctx, unsigned char out[JX__SHA256_LEN])
{
    return EVP_DigestFinal_ex((EVP_MD_CTX *)ctx, out, NULL) == 1 ? 0 : -1;
}

int jx__sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                 unsigned char out[JX__SHA256_LEN])
{
    const EVP_MD *m = md();
    EVP_MD_CTX *ctx = m != NULL ? EVP_MD_CTX_new() : NULL;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, m, NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, a_len) == 1 &&
             EVP_DigestUpdate(ctx, b, b_len) == 1 &&
             EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
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
