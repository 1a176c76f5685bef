/*
 * sha256.c - SHA-256 through libsodium, or OpenSSL's low-level SHA256_*
 * functions once much hashing is ahead.
 *
 * Both give the same digest; they differ in cost.  OpenSSL's assembly
 * uses the CPU's SHA extensions: on the chain's records (two of about 420
 * bytes per step) it takes 0.55 us a step against libsodium's 3.2 us.
 * But libcrypto is large: loading it costs a process about 4 ms, more
 * than a small job spends hashing in all.  So libsodium, linked anyway
 * for the seals, hashes until a caller expects much data
 * (jx__sha256_expect()); then libcrypto is loaded (dlopen, once per
 * process) and OpenSSL hashes from there on.  A digest built in pieces
 * finishes with the implementation it started with.
 *
 * Of OpenSSL's interfaces the low-level calls are the fastest: EVP with a
 * reused context costs about 20% more (EVP_DigestInit_ex looks the
 * provider's implementation up again on every digest), and they need no
 * provider loaded first.  OpenSSL 3 marks them deprecated; for this file
 * only the warning is silenced.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <openssl/opensslv.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "base/dl_table.h"
#include "base/sha256.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
/* The soname of the libcrypto the build was made against. */
#define LIBCRYPTO_SONAME "libcrypto.so." STRINGIFY(OPENSSL_VERSION_MAJOR)

/* Below this many bytes ahead, libcrypto's load costs more than its
 * speed saves (4 ms at 2.6 us saved per 840 bytes: about 1.3 MB). */
#define EXPECT_LOAD_AT ((size_t)1 << 20)

static struct {
    __typeof__(SHA256_Init) *init;
    __typeof__(SHA256_Update) *update;
    __typeof__(SHA256_Final) *final;
} ossl;
static atomic_int have_ossl; /* set once ossl is filled */
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

static void load_ossl(void)
{
    static const jx__dl_symbol symbols[] = {
        {"SHA256_Init", (void **)&ossl.init},
        {"SHA256_Update", (void **)&ossl.update},
        {"SHA256_Final", (void **)&ossl.final},
    };
    const char *missing;

    /* When it cannot be loaded, libsodium goes on hashing: same digests. */
    if (jx__dl_table(LIBCRYPTO_SONAME, symbols,
                     sizeof symbols / sizeof *symbols, &missing) == 0)
        atomic_store(&have_ossl, 1);
}

void jx__sha256_expect(size_t bytes)
{
    if (bytes >= EXPECT_LOAD_AT)
        pthread_once(&ossl_once, load_ossl);
}

const char *jx__sha256_implementation(void)
{
    return atomic_load(&have_ossl) ? "openssl" : "libsodium";
}

struct jx__sha256_ctx {
    int ossl; /* which implementation this digest started with */
    union {
        SHA256_CTX ossl;
        crypto_hash_sha256_state sodium;
    } s;
};

int jx__sha256_start(jx__sha256_ctx *ctx)
{
    ctx->ossl = atomic_load(&have_ossl);
    if (ctx->ossl)
        return ossl.init(&ctx->s.ossl) == 1 ? 0 : -1;
    return crypto_hash_sha256_init(&ctx->s.sodium) == 0 ? 0 : -1;
}

int jx__sha256_update(jx__sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx->ossl)
        return ossl.update(&ctx->s.ossl, data, len) == 1 ? 0 : -1;
    return crypto_hash_sha256_update(&ctx->s.sodium, data, len) == 0 ? 0
                                                                      : -1;
}

int jx__sha256_finish(jx__sha256_ctx *ctx, unsigned char out[JX__SHA256_LEN])
{
    if (ctx->ossl)
        return ossl.final(out, &ctx->s.ossl) == 1 ? 0 : -1;
    return crypto_hash_sha256_final(&ctx->s.sodium, out) == 0 ? 0 : -1;
}

int jx__sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                 unsigned char out[JX__SHA256_LEN])
{
    jx__sha256_ctx c;

    return jx__sha256_start(&c) == 0 && jx__sha256_update(&c, a, a_len) == 0 &&
                   jx__sha256_update(&c, b, b_len) == 0 &&
                   jx__sha256_finish(&c, out) == 0
               ? 0
               : -1;
}

int jx__sha256(const void *data, size_t len, unsigned char out[JX__SHA256_LEN])
{
    jx__sha256_ctx c;

    return jx__sha256_start(&c) == 0 && jx__sha256_update(&c, data, len) == 0 &&
                   jx__sha256_finish(&c, out) == 0
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

/* The context is no longer needed for speed (the state lives on the
 * stack as well as anywhere), but callers keep one for the digests they
 * build in pieces. */
int jx__sha256_with(jx__sha256_ctx *ctx, const void *data, size_t len,
                    unsigned char out[JX__SHA256_LEN])
{
    (void)ctx;
    return jx__sha256(data, len, out);
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
