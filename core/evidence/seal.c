/*
 * seal.c - Ed25519 through libsodium: key files, signing a job's seal and
 * checking one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/file.h"
#include "base/sha256.h"
#include "evidence/seal.h"

#define SECRET_TAG "jobexec-ed25519-secret-key "
#define PUBLIC_TAG "jobexec-ed25519-public-key "
#define KEY_FILE_MAX 256
#define WHAT_SIZE (PATH_MAX + 32) /* a file name and what it holds */

struct jx__signer {
    unsigned char *sk; /* sodium_malloc'd: crypto_sign_SECRETKEYBYTES */
    char key_id[JX__SEAL_KEY_ID_HEX + 1];
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ready;

static void start_sodium(void) { sodium_ready = sodium_init() >= 0; }

static int need_sodium(jx_error *err)
{
    pthread_once(&sodium_once, start_sodium);
    return sodium_ready ? 0
                        : jx__fail(err, JX_EINTERNAL, "libsodium failed to "
                                                      "initialise");
}

void jx__key_id(const unsigned char pk[JX__SEAL_PUBLIC_LEN], char *out)
{
    unsigned char digest[JX__SHA256_LEN];
    char hex[2 * JX__SHA256_LEN + 1];

    if (jx__sha256(pk, JX__SEAL_PUBLIC_LEN, digest) != 0)
        memset(digest, 0, sizeof digest);
    jx__hex(digest, sizeof digest, hex);
    memcpy(out, hex, JX__SEAL_KEY_ID_HEX);
    out[JX__SEAL_KEY_ID_HEX] = '\0';
}

/* Reads "TAG HEX\n" from an open key file into bin (32 bytes).  what names
 * the file in messages ("signing key 'x'"). */
static int read_key_line(int fd, const char *tag, const char *other_tag,
                         const char *what, unsigned char bin[32],
                         jx_error *err)
{
    char text[KEY_FILE_MAX + 1];
    size_t len = 0, tag_len = strlen(tag), bin_len = 0;
    const char *end = NULL;
    ssize_t n;

    while (len < KEY_FILE_MAX &&
           (n = read(fd, text + len, KEY_FILE_MAX - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return jx__fail(err, JX_EKEY, "%s: cannot read: %s", what,
                            strerror(errno));
        len += (size_t)n;
    }
    text[len] = '\0';
    if (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    if (strncmp(text, other_tag, strlen(other_tag)) == 0)
        return jx__fail(err, JX_EKEY, "%s: holds a %s key, not a %s key",
                        what, strstr(other_tag, "secret") ? "secret" : "public",
                        strstr(tag, "secret") ? "secret" : "public");
    if (strncmp(text, tag, tag_len) != 0)
        return jx__fail(err, JX_EKEY, "%s: not a key file written by "
                                      "`jobexec keygen` (expected a line "
                                      "starting '%.*s')",
                        what, (int)tag_len - 1, tag);
    if (sodium_hex2bin(bin, 32, text + tag_len, len - tag_len, NULL, &bin_len,
                       &end) != 0 ||
        bin_len != 32 || end != text + len) {
        sodium_memzero(text, sizeof text);
        return jx__fail(err, JX_EKEY, "%s: the key is not 64 hex digits",
                        what);
    }
    sodium_memzero(text, sizeof text);
    return 0;
}

static int check_regular(int fd, const char *what, jx_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return jx__fail(err, JX_EKEY, "%s: %s", what, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return jx__fail(err, JX_EKEY, "%s: not a regular file", what);
    return 0;
}

/* A secret key readable by anyone else is as good as published. */
static int check_private(int fd, const char *what, jx_error *err)
{
    struct stat st;
    int rc;

    if ((rc = check_regular(fd, what, err)) != 0)
        return rc;
    if (fstat(fd, &st) != 0)
        return jx__fail(err, JX_EKEY, "%s: %s", what, strerror(errno));
    if (st.st_uid != geteuid())
        return jx__fail(err, JX_EKEY, "%s: owned by uid %u, not by the "
                                      "executor's user (uid %u)",
                        what, (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & 077) != 0)
        return jx__fail(err, JX_EKEY, "%s: mode %04o lets group or others "
                                      "access it; it must be 0600 or "
                                      "stricter",
                        what, (unsigned)(st.st_mode & 07777));
    return 0;
}

int jx__signer_load(const char *path, jx__signer **out, jx_error *err)
{
    char what[WHAT_SIZE];
    unsigned char seed[32], pk[JX__SEAL_PUBLIC_LEN];
    jx__signer *s;
    int fd, rc;

    *out = NULL;
    snprintf(what, sizeof what, "signing key '%s'", path);
    if ((rc = need_sodium(err)) != 0)
        return rc;
    /* O_NONBLOCK: a FIFO planted there must not hang start-up. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return jx__fail(err, JX_EKEY, "%s: cannot open: %s", what,
                        errno == ELOOP ? "it is a symbolic link"
                                       : strerror(errno));
    rc = check_private(fd, what, err);
    if (rc == 0)
        rc = read_key_line(fd, SECRET_TAG, PUBLIC_TAG, what, seed, err);
    close(fd);
    if (rc != 0)
        return rc;
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) ==
                         NULL) {
        free(s);
        sodium_memzero(seed, sizeof seed);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    crypto_sign_seed_keypair(pk, s->sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_mprotect_readonly(s->sk);
    jx__key_id(pk, s->key_id);
    *out = s;
    return 0;
}

void jx__signer_free(jx__signer *s)
{
    if (s == NULL)
        return;
    sodium_free(s->sk); /* zeroes the key */
    free(s);
}

const char *jx__signer_key_id(const jx__signer *s) { return s->key_id; }

int jx__pubkey_load(const char *path, unsigned char pk[JX__SEAL_PUBLIC_LEN],
                    jx_error *err)
{
    char what[WHAT_SIZE];
    int fd, rc;

    snprintf(what, sizeof what, "public key '%s'", path);
    if ((rc = need_sodium(err)) != 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return jx__fail(err, JX_EKEY, "%s: cannot open: %s", what,
                        strerror(errno));
    rc = check_regular(fd, what, err);
    if (rc == 0)
        rc = read_key_line(fd, PUBLIC_TAG, SECRET_TAG, what, pk, err);
    close(fd);
    return rc;
}

size_t jx__seal_message(const char *job_id, uint64_t seq,
                        const char *head_hex, char *out)
{
    int n = snprintf(out, JX__SEAL_MESSAGE_SIZE,
                     "jobexec:seal:v1\n%s\n%llu\n%s\n", job_id,
                     (unsigned long long)seq, head_hex);
    return n < 0 ? 0 : (size_t)n;
}

int jx__sign(const jx__signer *s, const char *msg, size_t len, char *sig_b64)
{
    unsigned char sig[JX__SEAL_SIG_LEN];

    if (crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len,
                             s->sk) != 0)
        return -1;
    sodium_bin2base64(sig_b64, JX__SEAL_SIG_B64_SIZE, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int jx__sig_ok(const unsigned char pk[JX__SEAL_PUBLIC_LEN], const char *msg,
               size_t len, const char *sig_b64)
{
    unsigned char sig[JX__SEAL_SIG_LEN];
    size_t sig_len = 0;
    const char *end = NULL;

    if (need_sodium(NULL) != 0 ||
        sodium_base642bin(sig, sizeof sig, sig_b64, strlen(sig_b64), NULL,
                          &sig_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof sig || *end != '\0')
        return 0;
    return crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
                                       pk) == 0;
}

/* Creates path exclusively with mode and writes text to it whole. */
static int write_new_file(const char *path, mode_t mode, const char *text,
                          jx_error *err)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (fd < 0)
        return jx__fail(err, JX_EIO, "%s: cannot create: %s%s", path,
                        strerror(errno),
                        errno == EEXIST ? " (keys are never overwritten)"
                                        : "");
    /* The umask may have widened nothing but may have narrowed: set the
     * mode we promised exactly. */
    if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len ||
        fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return jx__fail(err, JX_EIO, "%s: cannot write: %s", path,
                        strerror(e));
    }
    close(fd);
    return 0;
}

int jx__keygen(const char *secret_path, char key_id[JX__SEAL_KEY_ID_HEX + 1],
               jx_error *err)
{
    unsigned char pk[JX__SEAL_PUBLIC_LEN], seed[32];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char hex[2 * 32 + 1], line[sizeof SECRET_TAG + sizeof hex + 1];
    char pub_path[WHAT_SIZE];
    int rc;

    if ((rc = need_sodium(err)) != 0)
        return rc;
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", secret_path) >=
        (int)sizeof pub_path)
        return jx__fail(err, JX_EINVAL, "%s: path too long", secret_path);
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
    snprintf(line, sizeof line, "%s%s\n", SECRET_TAG, hex);
    rc = write_new_file(secret_path, 0600, line, err);
    sodium_memzero(line, sizeof line);
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (rc != 0)
        return rc;
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    snprintf(line, sizeof line, "%s%s\n", PUBLIC_TAG, hex);
    rc = write_new_file(pub_path, 0644, line, err);
    if (rc != 0) {
        unlink(secret_path); /* half a pair is no use */
        return rc;
    }
    if ((rc = jx__sync_folder_of(secret_path, err)) != 0) {
        unlink(secret_path);
        unlink(pub_path);
        return rc;
    }
    jx__key_id(pk, key_id);
    return 0;
}
