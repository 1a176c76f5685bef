/*
 * evidence.c - `jobexec evidence verify|show FILE`: what an auditor runs
 * against an evidence log (verify.c, show.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_evidence(FILE *fp)
{
    fprintf(fp,
            "Usage: %s evidence verify FILE [--pubkey KEY] [--job ID] "
            "[--json]\n"
            "       %s evidence show FILE [--job ID] [--json]\n"
            "       %s evidence export FILE --job ID --format in-toto|slsa "
            "[--key KEYFILE]\n"
            "                [--pubkey KEY] [--output OUT]\n"
            "\n"
            "verify checks every job's hash chain in the evidence log FILE "
            "and its seal,\nand prints one verdict per job (per run, for a "
            "job that ran more than once):\n"
            "  valid       sealed, and no record changed, dropped, reordered "
            "or spliced\n"
            "  incomplete  no seal: the job was interrupted, or the log's "
            "tail was cut\n"
            "              (a torn last line left by a crash is named as "
            "such)\n"
            "  tampered    the first bad line and why\n"
            "With --pubkey (a file written by `%s keygen`), every seal must "
            "carry a\nsignature by that key.\n"
            "\n"
            "show prints the log as a readable timeline.\n"
            "\n"
            "export writes a job that verifies as in-toto statements, one "
            "DSSE envelope\nper line signed with the evidence key: with "
            "--format in-toto a link\nstatement per step, with --format "
            "slsa a SLSA provenance statement for\nthe job.  A job that "
            "does not verify is refused (exit 4).\n"
            "\n"
            "Options:\n"
            "  -k, --pubkey KEY   check seal signatures with this public key\n"
            "  -j, --job ID       only this job (export: the job, "
            "required); the id,\n"
            "                     or a prefix of at least 8 hex digits "
            "that one job has\n"
            "  --json             verify: one JSON document; show: JSON "
            "Lines, one\n"
            "                     object per line of the log\n"
            "  --format FORMAT    export: in-toto or slsa\n"
            "  --key KEYFILE      export: the secret key to sign with "
            "(default: the\n"
            "                     default config's evidence.signing_key)\n"
            "  -o, --output OUT   export: write to OUT instead of standard "
            "output\n"
            "\n"
            "Exit status of verify: 0 every job valid, 1 some job incomplete "
            "or a torn\nlast line (nothing tampered), 4 some job or line "
            "tampered, 2 bad usage or\nunreadable file or key, 3 internal "
            "error or output that could not be written.\n",
            prog, prog, prog, prog);
}

static int unknown_verb(const char *verb)
{
    fprintf(stderr, "%s: unknown evidence command '%s' (verify, show, "
                    "export)\n"
                    "Try '%s evidence --help' for more information.\n",
            prog, verb, prog);
    return EXIT_USAGE;
}

/* Options that only some of verify, show and export take: the usage
 * error for one given to another, or 0. */
static int misplaced_option(const options *o)
{
    int export = strcmp(o->operand, "export") == 0;

    if (!export && (o->key != NULL || o->format != NULL || o->output != NULL))
        return jx__cli_usage_error("evidence", "option '--%s' applies only "
                                               "to 'evidence export'",
                                   o->key      ? "key"
                                   : o->format ? "format"
                                               : "output");
    if (export && o->json)
        return jx__cli_usage_error("evidence", "option '--json' applies only "
                                               "to 'evidence verify' and "
                                               "'evidence show'");
    if (strcmp(o->operand, "show") == 0 && o->pubkey != NULL) {
        fprintf(stderr, "%s: evidence show takes no --pubkey (use "
                        "evidence verify)\n", prog);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_evidence(const options *o)
{
    options oj = *o;
    char job[37];
    int rc;

    if (strcmp(o->operand, "export") != 0 &&
        strcmp(o->operand, "verify") != 0 && strcmp(o->operand, "show") != 0)
        return unknown_verb(o->operand);
    if ((rc = misplaced_option(o)) != 0)
        return rc;
    /* A prefix of the id selects the job it starts (jobid.c). */
    if (o->job != NULL &&
        (rc = jx__cli_resolve_job("evidence", o->operand2, o->job, job)) != 0)
        return rc;
    oj.job = o->job != NULL ? job : NULL;
    if (strcmp(o->operand, "export") == 0)
        return jx__cli_evidence_export(&oj);
    if (strcmp(o->operand, "verify") == 0)
        return jx__cli_evidence_verify(&oj);
    return jx__cli_evidence_show(&oj);
}

static const struct option evidence_options[] = {
    {"pubkey", required_argument, NULL, 'k'},
    {"job", required_argument, NULL, 'j'},
    {"format", required_argument, NULL, JX__OPT_FORMAT},
    {"key", required_argument, NULL, JX__OPT_KEY},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_evidence = {
    "evidence", cmd_evidence, usage_evidence, 2, 2,
    "missing what to do and the log: evidence verify|show|export FILE",
    ":k:j:o:JhV",
    evidence_options,
};
