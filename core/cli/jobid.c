/*
 * jobid.c - the job ids the CLI takes (--job): a whole id in any case, or
 * a prefix of at least 8 hex digits, resolved against the ids a log
 * holds.  Ids are 36-character UUIDs as libuuid writes them, in lower
 * case; people copy them from a timeline, where show prints 8 digits.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

#define ID_LEN 36
/* Fewer digits than a timeline shows would match too much by accident. */
#define MIN_DIGITS 8
/* An ambiguous prefix names at most this many candidates. */
#define MAX_NAMED 8

/* Whether position i of a UUID holds a dash. */
static int dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

/* Lower-cases given into norm when it is the start of a UUID (hex digits,
 * dashes where a UUID has them); counts its digits.  -1 when it is not. */
static int parse_prefix(const char *given, char norm[ID_LEN + 1],
                        size_t *digits)
{
    size_t i;

    *digits = 0;
    for (i = 0; given[i] != '\0'; i++) {
        unsigned char c = (unsigned char)given[i];

        if (i == ID_LEN)
            return -1;
        if (dash_at(i) ? c != '-' : !isxdigit(c))
            return -1;
        norm[i] = (char)tolower(c);
        *digits += !dash_at(i);
    }
    norm[i] = '\0';
    return 0;
}

static int job_form(const char *command, const char *given,
                     char norm[ID_LEN + 1], int *is_prefix)
{
    size_t digits;

    /* Set on every path: callers read it only after a 0 return, which
     * the analyzer cannot see across files. */
    *is_prefix = 0;
    if (parse_prefix(given, norm, &digits) != 0)
        return jx__cli_usage_error(command, "'%s' is not a job id: give the "
                                            "id, or at least its first %d "
                                            "hex digits",
                                   given, MIN_DIGITS);
    if (digits < MIN_DIGITS)
        return jx__cli_usage_error(command, "job id prefix '%s' is too "
                                            "short: give at least %d hex "
                                            "digits",
                                   given, MIN_DIGITS);
    *is_prefix = strlen(norm) < ID_LEN;
    return 0;
}

/* The distinct ids that start with a prefix; the first MAX_NAMED are
 * kept, the rest only counted. */
typedef struct matches {
    const char *prefix;
    size_t prefix_len;
    char ids[MAX_NAMED][ID_LEN + 1];
    size_t n;
} matches;

static int match_id(void *m_, const char *id)
{
    matches *m = m_;

    if (id == NULL || strlen(id) != ID_LEN ||
        strncmp(id, m->prefix, m->prefix_len) != 0)
        return 0;
    for (size_t i = 0; i < m->n && i < MAX_NAMED; i++)
        if (strcmp(m->ids[i], id) == 0)
            return 0;
    /* Past MAX_NAMED an id is counted once per line, not once per job:
     * the message then says "more", not how many. */
    if (m->n < MAX_NAMED)
        memcpy(m->ids[m->n], id, ID_LEN + 1);
    m->n++;
    return 0;
}

/* What was found: one id into out (0), or a message (EXIT_USAGE). */
static int judge(const matches *m, const char *where, char out[ID_LEN + 1])
{
    if (m->n == 1) {
        memcpy(out, m->ids[0], ID_LEN + 1);
        return 0;
    }
    if (m->n == 0) {
        fprintf(stderr, "%s: %s: no job id starts with '%s'\n", prog, where,
                m->prefix);
        return EXIT_USAGE;
    }
    fprintf(stderr, "%s: %s: job id prefix '%s' is ambiguous:", prog, where,
            m->prefix);
    for (size_t i = 0; i < m->n && i < MAX_NAMED; i++)
        fprintf(stderr, "%s %s", i > 0 ? "," : "", m->ids[i]);
    if (m->n > MAX_NAMED)
        fprintf(stderr, " and more");
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* Feeds the job_id of every record of the log at path to m.  0, or the
 * exit status after a message (as show and verify word them). */
static int scan_log(const char *path, matches *m)
{
    FILE *fp = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int read_errno;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", prog, path,
                strerror(errno));
        return EXIT_USAGE;
    }
    while ((len = getline(&line, &cap, fp)) > 0) {
        json_t *rec = json_loadb(line, (size_t)len, 0, NULL);

        match_id(m, json_string_value(json_object_get(rec,
                                                               "job_id")));
        json_decref(rec);
    }
    read_errno = ferror(fp) ? errno : 0;
    free(line);
    fclose(fp);
    if (read_errno != 0) {
        fprintf(stderr, "%s: %s: cannot read: %s\n", prog, path,
                strerror(read_errno));
        return EXIT_USAGE;
    }
    return 0;
}

int jx__cli_resolve_job(const char *command, const char *log,
                        const char *given, char out[ID_LEN + 1])
{
    matches m = {0};
    char norm[ID_LEN + 1];
    int is_prefix, rc;

    if ((rc = job_form(command, given, norm, &is_prefix)) != 0)
        return rc;
    if (!is_prefix) { /* a whole id: the command says when it is absent */
        memcpy(out, norm, ID_LEN + 1);
        return 0;
    }
    m.prefix = norm;
    m.prefix_len = strlen(norm);
    if ((rc = scan_log(log, &m)) != 0)
        return rc;
    return judge(&m, log, out);
}

int jx__cli_resolve_job_in(const char *command, const char *where,
                           const char *given,
                           int (*each)(void *arg,
                                       int (*match)(void *m, const char *id),
                                       void *m),
                           void *arg, char out[ID_LEN + 1])
{
    matches m = {0};
    char norm[ID_LEN + 1];
    int is_prefix, rc;

    if ((rc = job_form(command, given, norm, &is_prefix)) != 0)
        return rc;
    if (!is_prefix) {
        memcpy(out, norm, ID_LEN + 1);
        return 0;
    }
    m.prefix = norm;
    m.prefix_len = strlen(norm);
    if ((rc = each(arg, match_id, &m)) != 0)
        return rc;
    return judge(&m, where, out);
}
