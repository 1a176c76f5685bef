/*
 * export.c - `jobexec evidence export FILE --job ID --format in-toto|slsa`:
 * a verified job as signed in-toto statements (DSSE envelopes, one per
 * line), for tools that take attestations rather than jobexec's log.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define prog jx__cli_prog

/* The evidence key: --key, else the default config's
 * evidence.signing_key (evidence takes no --config: o->config is NULL).
 * *cfg (may stay NULL) owns what is returned. */
static int find_key(const options *o, jx_config **cfg, const char **key)
{
    jx_error err = {0, ""};

    *key = o->key;
    if (*key != NULL)
        return 0;
    if (jx__cli_load_config(o, cfg, &err) != 0)
        return jx__cli_report(&err);
    if ((*key = jx_config_signing_key(*cfg)) == NULL)
        return jx__cli_usage_error("evidence", "no key to sign with: give "
                                               "--key KEYFILE or set "
                                               "evidence.signing_key in the "
                                               "config");
    return 0;
}

static int fail_oom(jx_error *err)
{
    err->code = JX_ENOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return JX_ENOMEM;
}

static int exit_for(int code)
{
    switch (code) {
    case JX_EEVIDENCE:
        return EXIT_TAMPERED;
    case JX_ENOMEM:
    case JX_EINTERNAL:
        return EXIT_INTERNAL;
    default:
        return EXIT_USAGE;
    }
}

/* Writes the export to --output, or stdout. */
static int write_out(const char *path, const char *text, size_t len)
{
    FILE *fp = path != NULL ? fopen(path, "w") : stdout;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: cannot create: %s\n", prog, path,
                strerror(errno));
        return EXIT_USAGE;
    }
    if ((fwrite(text, 1, len, fp) != len) | (fp != stdout && fclose(fp))) {
        fprintf(stderr, "%s: %s: cannot write: %s\n", prog,
                path != NULL ? path : "standard output", strerror(errno));
        return EXIT_INTERNAL;
    }
    return EXIT_COMPLETED;
}

int jx__cli_evidence_export(const options *o)
{
    jx_export_format format;
    jx_config *cfg = NULL;
    jx_error err = {0, ""};
    const char *key;
    char *text = NULL;
    size_t len = 0;
    FILE *mem;
    int rc;

    if (o->job == NULL || o->format == NULL)
        return jx__cli_usage_error("evidence", "export needs --job ID and "
                                               "--format in-toto|slsa");
    if (strcmp(o->format, "in-toto") == 0)
        format = JX_EXPORT_IN_TOTO;
    else if (strcmp(o->format, "slsa") == 0)
        format = JX_EXPORT_SLSA;
    else
        return jx__cli_usage_error("evidence", "unknown --format '%s' "
                                               "(in-toto, slsa)", o->format);
    if ((rc = find_key(o, &cfg, &key)) != 0) {
        jx_config_free(cfg);
        return rc;
    }
    /* Held until the whole job is exported: a refused export leaves no
     * half-written file, nor a clobbered one. */
    if ((mem = open_memstream(&text, &len)) == NULL) {
        jx_config_free(cfg);
        return EXIT_INTERNAL;
    }
    rc = jx_evidence_export(o->operand2, o->job, format, key, o->pubkey, mem,
                            &err);
    jx_config_free(cfg);
    if (fclose(mem) != 0 && rc == 0)
        rc = fail_oom(&err);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", prog, err.message);
    rc = rc != 0 ? exit_for(err.code) : write_out(o->output, text, len);
    free(text);
    return rc;
}
