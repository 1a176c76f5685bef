/*
 * fuzz_verify.c - the evidence and audit verifier: a log's bytes, read
 * from memory as jx_evidence_verify() reads a file, once without a key
 * and once with a public key (made once per process), so that the seals'
 * signatures are parsed and checked too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "evidence/verify.h"
#include "fuzz.h"

static char key_dir[] = "/tmp/jx-fuzz-verify-XXXXXX";
static char key_path[sizeof key_dir + 8];
static char pub_path[sizeof key_path + 4];

static void remove_key(void)
{
    unlink(key_path);
    unlink(pub_path);
    rmdir(key_dir);
}

/* The public key's path, or NULL when it could not be made. */
static const char *public_key(void)
{
    static int made = -1;
    char key_id[17];
    jx_error err = {0, ""};

    if (made < 0) {
        made = 0;
        if (mkdtemp(key_dir) == NULL)
            return NULL;
        snprintf(key_path, sizeof key_path, "%s/key", key_dir);
        snprintf(pub_path, sizeof pub_path, "%s.pub", key_path);
        atexit(remove_key);
        made = jx_keygen(key_path, key_id, &err) == 0;
    }
    return made ? pub_path : NULL;
}

/* Every string a report lends must be readable to its end. */
static int on_job(const jx_job_report *r, void *user)
{
    size_t *sum = user;

    *sum += strlen(r->job_id) + strlen(r->reason) +
            (r->final_status != NULL ? strlen(r->final_status) : 0);
    return 0;
}

static void verify(const uint8_t *data, size_t size, const char *pubkey)
{
    size_t seen = 0;
    jx_verify_options opts = {pubkey, NULL, on_job, &seen};
    jx_verify_summary sum;
    jx_error err = {0, ""};
    FILE *fp = fmemopen((void *)data, size, "r");
    int rc;

    if (fp == NULL)
        abort();
    rc = jx__evidence_verify_stream(fp, "fuzz", &opts, &sum, &err);
    fclose(fp);
    /* A log that was read adds up, whatever its verdicts. */
    if (rc == 0 && sum.valid + sum.incomplete + sum.tampered != sum.jobs)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pubkey = public_key();

    /* fmemopen() refuses an empty buffer; an empty log holds nothing. */
    if (size == 0)
        return 0;
    if (pubkey == NULL)
        return 1;
    verify(data, size, NULL);
    verify(data, size, pubkey);
    return 0;
}
