/*
 * document.c - streams the evidence document.  Write errors are left in
 * the FILE's error flag for the caller to check: the durable trail is the
 * evidence log, this is the report.
 */
#include "config.h"

#include <string.h>

#include "base/jsonbuf.h"
#include "evidence/document.h"
#include "input/redact.h"

/* Every byte of the document goes through here, hashed when asked. */
static void put(jx__document *d, const char *data, size_t len)
{
    fwrite(data, 1, len, d->fp);
    if (d->hash != NULL && jx__sha256_update(d->hash, data, len) != 0) {
        jx__sha256_ctx_free(d->hash);
        d->hash = NULL;
    }
}

static void puts_(jx__document *d, const char *s)
{
    put(d, s, strlen(s));
}

/* Writes the members of object, then a comma, without its braces; -1,
 * having written nothing, when out of memory. */
static int put_members(jx__document *d, const json_t *object)
{
    jx__buf b = {NULL, 0, 0};
    int rc = -1;

    /* jx__buf_put_members leads with a comma: moved to the end. */
    if (object != NULL && jx__buf_put_members(&b, object) == 0 &&
        b.len > 0) {
        put(d, b.data + 1, b.len - 1);
        put(d, ",", 1);
        rc = 0;
    }
    jx__buf_free(&b);
    return rc;
}

int jx__doc_begin(jx__document *d, FILE *fp, const jx_plan *plan, int hash)
{
    json_t *head;
    int rc;

    d->fp = fp;
    d->n_results = 0;
    d->hash = NULL;
    if (fp == NULL)
        return 0;
    if (hash && (d->hash = jx__sha256_ctx_new()) != NULL &&
        jx__sha256_start(d->hash) != 0) {
        jx__sha256_ctx_free(d->hash);
        d->hash = NULL;
    }
    head = json_pack("{s:s, s:s, s:s, s:s}", "job_id", plan->job_id,
                     "contract_id", plan->contract_id, "tenant_id",
                     plan->tenant_id, "executed_by", plan->executed_by);
    head = jx__redact_json_take(plan, head);
    puts_(d, "{");
    /* Without its head the document still parses, so that what follows
     * (the reason the job then failed) can be read. */
    rc = put_members(d, head);
    json_decref(head);
    puts_(d, "\"step_results\":[");
    return rc;
}

void jx__doc_step(jx__document *d, const char *json, size_t len)
{
    if (d->fp == NULL)
        return;
    if (d->n_results++ > 0)
        put(d, ",", 1);
    put(d, json, len);
}

void jx__doc_end(jx__document *d, const char *members, size_t len)
{
    if (d->fp == NULL)
        return;
    puts_(d, "],");
    put(d, members, len);
    puts_(d, "}\n");
    fflush(d->fp);
}

int jx__doc_digest(jx__document *d, char hex[2 * JX__SHA256_LEN + 1])
{
    unsigned char digest[JX__SHA256_LEN];
    int rc = d->hash != NULL && jx__sha256_finish(d->hash, digest) == 0
                 ? 0
                 : -1;

    jx__sha256_ctx_free(d->hash);
    d->hash = NULL;
    if (rc == 0)
        jx__hex(digest, sizeof digest, hex);
    return rc;
}
