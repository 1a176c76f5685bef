/*
 * format.c - the names, the chain's start and the seal's layout that the
 * evidence writer and verifier share.
 */
#include "config.h"

#include <string.h>

#include "evidence/format.h"

/* Bound into every job's first prev, so that a line from another job (or
 * another kind of trail) cannot be spliced in. */
static const char chain_domain[] = "jobexec:chain:v1:";

static const char audit_domain[] = "jobexec:audit:v1:";

static const char *const kind_names[] = {"job_started", "step_started",
                                         "step_finished", "job_finished"};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

const char *jx__record_kind_name(jx_record_kind kind)
{
    return (unsigned)kind < N_KINDS ? kind_names[kind] : "unknown";
}

int jx__record_kind_of(const char *name)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (name != NULL && strcmp(name, kind_names[i]) == 0)
            return (int)i;
    return -1;
}

int jx__chain_genesis(const char *job_id, size_t id_len,
                      unsigned char out[JX__SHA256_LEN])
{
    return jx__sha256_2(chain_domain, sizeof chain_domain - 1, job_id, id_len,
                        out);
}

int jx__audit_kind_of(const char *name)
{
    static const char *const ends[] = {"job_completed", "job_failed",
                                       "job_cancelled", "scope_rejected"};

    if (name == NULL)
        return -1;
    if (strcmp(name, "job_created") == 0)
        return 0;
    if (strcmp(name, "job_started") == 0)
        return 1;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (strcmp(name, ends[i]) == 0)
            return 3;
    return -1;
}

int jx__audit_genesis(const char *job_id, size_t id_len,
                      unsigned char out[JX__SHA256_LEN])
{
    return jx__sha256_2(audit_domain, sizeof audit_domain - 1, job_id, id_len,
                        out);
}

int jx__seal_put(jx__buf *b, const char *head_hex, const char *key_id,
                 const char *sig)
{
    if (jx__buf_puts(b, "{\"head\":\"") != 0 ||
        jx__buf_puts(b, head_hex) != 0)
        return -1;
    if (key_id != NULL &&
        (jx__buf_puts(b, "\",\"key_id\":\"") != 0 ||
         jx__buf_puts(b, key_id) != 0 ||
         jx__buf_puts(b, "\",\"sig\":\"") != 0 || jx__buf_puts(b, sig) != 0))
        return -1;
    return jx__buf_puts(b, "\"}");
}
