/*
 * document.c - streams the evidence document.  Write errors are left in
 * the FILE's error flag for the caller to check: the durable trail is the
 * evidence log, this is the report.
 */
#include "config.h"

#include "base/jsonbuf.h"
#include "evidence/document.h"
#include "input/redact.h"

/* Writes the members of object without its braces. */
static void put_members(FILE *fp, const json_t *object)
{
    jx__buf b = {NULL, 0, 0};

    /* jx__buf_put_members leads with a comma; the caller places its own. */
    if (jx__buf_put_members(&b, object) == 0 && b.len > 0)
        fwrite(b.data + 1, 1, b.len - 1, fp);
    jx__buf_free(&b);
}

void jx__doc_begin(jx__document *d, FILE *fp, const jx_plan *plan)
{
    json_t *head;

    d->fp = fp;
    d->n_results = 0;
    if (fp == NULL)
        return;
    head = json_pack("{s:s, s:s, s:s, s:s}", "job_id", plan->job_id,
                     "contract_id", plan->contract_id, "tenant_id",
                     plan->tenant_id, "executed_by", plan->executed_by);
    head = jx__redact_json_take(plan, head);
    fputc('{', fp);
    if (head != NULL)
        put_members(fp, head);
    json_decref(head);
    fputs(",\"step_results\":[", fp);
}

void jx__doc_step(jx__document *d, const char *json, size_t len)
{
    if (d->fp == NULL)
        return;
    if (d->n_results++ > 0)
        fputc(',', d->fp);
    fwrite(json, 1, len, d->fp);
}

void jx__doc_end(jx__document *d, const json_t *tail)
{
    if (d->fp == NULL)
        return;
    fputs("],", d->fp);
    put_members(d->fp, tail);
    fputs("}\n", d->fp);
    fflush(d->fp);
}
