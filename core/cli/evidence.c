/*
 * evidence.c - `jobexec evidence verify|show FILE`: what an auditor runs
 * against an evidence log (verify.c, show.c).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_evidence(FILE *fp)
{
    fprintf(fp,
            "Usage: %s evidence verify FILE [--pubkey KEY] [--job ID]\n"
            "       %s evidence show FILE [--job ID]\n"
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
            "Options:\n"
            "  -k, --pubkey KEY   check seal signatures with this public key\n"
            "  -j, --job ID       only this job\n"
            "\n"
            "Exit status of verify: 0 every job valid, 1 some job incomplete "
            "or a torn\nlast line (nothing tampered), 4 some job or line "
            "tampered, 2 bad usage or\nunreadable file or key, 3 internal "
            "error or output that could not be written.\n",
            prog, prog, prog);
}

/* Job ids are stored as libuuid writes them, in lower case; an id copied
 * from elsewhere may be upper case.  Anything but a 36-character id is
 * left as given, to be reported as not found. */
static const char *normalise_job(const char *id, char buf[37])
{
    if (id == NULL || strlen(id) != 36)
        return id;
    for (size_t i = 0; i < 36; i++)
        buf[i] = (char)tolower((unsigned char)id[i]);
    buf[36] = '\0';
    return buf;
}

static int cmd_evidence(const options *o)
{
    options oj = *o;
    char job[37];

    oj.job = normalise_job(o->job, job);
    if (strcmp(o->operand, "verify") == 0)
        return jx__cli_evidence_verify(&oj);
    if (strcmp(o->operand, "show") == 0) {
        if (o->pubkey != NULL) {
            fprintf(stderr, "%s: evidence show takes no --pubkey (use "
                            "evidence verify)\n", prog);
            return EXIT_USAGE;
        }
        return jx__cli_evidence_show(&oj);
    }
    fprintf(stderr, "%s: unknown evidence command '%s' (verify, show)\n"
                    "Try '%s evidence --help' for more information.\n",
            prog, o->operand, prog);
    return EXIT_USAGE;
}

static const struct option evidence_options[] = {
    {"pubkey", required_argument, NULL, 'k'},
    {"job", required_argument, NULL, 'j'},
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_evidence = {
    "evidence", cmd_evidence, usage_evidence, 2, 2,
    "missing what to do and the log: evidence verify|show FILE", ":k:j:hV",
    evidence_options,
};
