/*
 * cli.h - what the files of the jobexec command share.
 */
#ifndef JX__CLI_CLI_H
#define JX__CLI_CLI_H

/* Exit codes.  EXIT_TAMPERED is `evidence verify`'s alone. */
enum { EXIT_COMPLETED = 0, EXIT_JOB_FAILED = 1, EXIT_USAGE = 2,
       EXIT_INTERNAL = 3, EXIT_TAMPERED = 4 };

typedef struct options {
    const char *config;
    int verbose;
    const char *operand;  /* PLAN, or evidence's verify|show, or keygen's FILE */
    const char *operand2; /* evidence's FILE */
    const char *pubkey;   /* evidence verify --pubkey */
    const char *job;      /* evidence --job */
} options;

extern const char *const jx_cli_prog;

/* Prints what fmt makes, then a newline, with every control character in
 * it escaped (\n, \t, \u001b...): for lines that carry text from plugins
 * or from an evidence log, which must not start lines of their own or
 * drive the terminal.  Returns -1, having written nothing, when out of
 * memory. */
int jx_cli_print_line(FILE *fp, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* jobexec evidence verify|show FILE, and jobexec keygen FILE. */
int jx_cli_evidence(const options *o);
int jx_cli_keygen(const options *o);

void jx_cli_usage_evidence(FILE *fp);
void jx_cli_usage_keygen(FILE *fp);

#endif
