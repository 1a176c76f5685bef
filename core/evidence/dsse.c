/*
 * dsse.c - DSSE v1 envelopes signed with the evidence key, as
 * https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
 * defines them.  The signature is over PAE(type, body), never over the
 * base64 text, so a verifier decodes the payload and recomputes the PAE.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "evidence/dsse.h"

unsigned char *jx__dsse_pae(const char *type, const char *body,
                            size_t body_len, size_t *out_len)
{
    size_t type_len = strlen(type);
    char head[64];
    int n = snprintf(head, sizeof head, "DSSEv1 %zu ", type_len);
    char mid[32];
    int m = snprintf(mid, sizeof mid, " %zu ", body_len);
    unsigned char *out;

    if (n < 0 || m < 0)
        return NULL;
    *out_len = (size_t)n + type_len + (size_t)m + body_len;
    if ((out = malloc(*out_len + 1)) == NULL)
        return NULL;
    memcpy(out, head, (size_t)n);
    memcpy(out + n, type, type_len);
    memcpy(out + n + type_len, mid, (size_t)m);
    memcpy(out + n + type_len + m, body, body_len);
    out[*out_len] = '\0';
    return out;
}

/* body as standard base64 with padding: what DSSE's examples and
 * in-toto's tools write (they read the URL-safe form too). */
static char *base64(const char *body, size_t len)
{
    size_t size = sodium_base64_ENCODED_LEN(len,
                                            sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(size);

    if (out != NULL)
        sodium_bin2base64(out, size, (const unsigned char *)body, len,
                          sodium_base64_VARIANT_ORIGINAL);
    return out;
}

int jx__dsse_envelope(const jx__signer *s, const char *type,
                      const char *body, size_t body_len, json_t **out,
                      jx_error *err)
{
    char sig[JX__SEAL_SIG_B64_SIZE];
    size_t pae_len = 0;
    unsigned char *pae = jx__dsse_pae(type, body, body_len, &pae_len);
    char *payload = base64(body, body_len);
    int rc = pae != NULL && payload != NULL ? 0 : JX_ENOMEM;

    *out = NULL;
    if (rc == 0 && jx__sign(s, (const char *)pae, pae_len, sig) != 0)
        rc = jx__fail(err, JX_EINTERNAL, "signing a DSSE envelope failed");
    if (rc == 0)
        *out = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payload", payload,
                         "payloadType", type, "signatures", "keyid",
                         jx__signer_key_id(s), "sig", sig);
    if (rc == 0 && *out == NULL)
        rc = JX_ENOMEM;
    free(pae);
    free(payload);
    return rc == JX_ENOMEM ? jx__fail(err, rc, "out of memory") : rc;
}
