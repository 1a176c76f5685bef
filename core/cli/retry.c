/*
 * retry.c - `jobexec retry-advice --attempt N --error TEXT`: whether and
 * when to retry work whose attempt failed, by the retry section of the
 * config in effect (jx_retry_advise, core/coord/retry.c).  This command
 * supplies the clock and the randomness the pure function is given.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog
#define NAME "retry-advice"

/* delay_seconds is printed to 15 significant digits, which shows 0.1 as
 * 0.1; the digits beyond are below what next_attempt_at can show. */
#define DELAY_FLAGS (JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static void usage_retry(FILE *fp)
{
    fprintf(fp,
            "Usage: %s retry-advice --attempt N --error TEXT [--config FILE] "
            "[--json]\n"
            "Advise whether to retry work whose attempt N failed with the "
            "error TEXT (a\nstep's error, or a job's final_reason), and "
            "when, by the config's retry\nsection.  jobexec itself never "
            "retries: a worker that takes the advice\ncreates a new job.\n"
            "\n"
            "Options:\n"
            "  -a, --attempt N     the attempt that failed, from 1 "
            "(required)\n"
            "  -e, --error TEXT    its error text (required)\n"
            "  -c, --config FILE   the config to take the policy from\n"
            "      --json          one JSON object instead of lines\n"
            "\n"
            "The policy (config section retry:, every key optional):\n"
            "  strategy            fixed | linear | exponential (default) | "
            "fibonacci:\n"
            "                      a delay of base, base*N, base*2^(N-1) or "
            "base*F(N)\n"
            "  base_delay_seconds  base, more than 0 (default 1)\n"
            "  max_delay_seconds   the cap, at least base, at most 604800 "
            "(default 300)\n"
            "  jitter              0 to 1 (default 0): the delay times "
            "1-jitter to 1+jitter\n"
            "  max_retries         0 to 1000 (default 3): attempts up to it "
            "are retried\n"
            "  retryable_errors    POSIX extended regular expressions; the "
            "error must\n"
            "                      match one (none: every error is "
            "retryable)\n"
            "\n"
            "Prints should_retry, delay_seconds, attempt, next_attempt_at "
            "(UTC; none when\nnot retrying), strategy and reason.\n"
            "\n"
            "Exit status: 0 advice given, whether to retry or not (read "
            "should_retry),\n2 bad usage or config, 3 internal error.\n",
            prog);
}

/* --attempt: decimal digits, 1 to UINT_MAX; 0 when it is not that. */
static unsigned parse_attempt(const char *s)
{
    unsigned long long v;
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return 0; /* strtoull would take a sign and white space */
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT_MAX)
        return 0;
    return (unsigned)v;
}

/* A number in [0, 1) from the kernel's generator: 53 random bits. */
static int draw_random01(double *out)
{
    uint64_t bits;
    size_t got = 0;

    while (got < sizeof bits) {
        ssize_t n = getrandom((char *)&bits + got, sizeof bits - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    *out = (double)(bits >> 11) * 0x1p-53;
    return 0;
}

static json_t *advice_json(const jx_retry_advice *a)
{
    return json_pack("{s:b, s:f, s:I, s:s?, s:s, s:s}", "should_retry",
                     a->should_retry, "delay_seconds", a->delay_seconds,
                     "attempt", (json_int_t)a->attempt, "next_attempt_at",
                     a->should_retry ? a->next_attempt_at : NULL, "strategy",
                     a->strategy, "reason", a->reason);
}

/* The printers return -1 when out of memory; a failed write is found
 * by main, which checks standard output before exiting. */
static int print_json(const jx_retry_advice *a)
{
    json_t *doc = advice_json(a);
    char *text = doc != NULL
                     ? json_dumps(doc, JSON_INDENT(2) | DELAY_FLAGS)
                     : NULL;

    json_decref(doc);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

/* One line per field; the reason may quote the config's patterns, so it
 * is escaped as plugin text is. */
static int print_lines(const jx_retry_advice *a)
{
    json_t *d = json_real(a->delay_seconds);
    char *delay = d != NULL ? json_dumps(d, DELAY_FLAGS) : NULL;

    json_decref(d);
    if (delay == NULL)
        return -1;
    printf("should_retry: %s\ndelay_seconds: %s\nattempt: %u\n"
           "next_attempt_at: %s\nstrategy: %s\n",
           a->should_retry ? "true" : "false", delay, a->attempt,
           a->should_retry ? a->next_attempt_at : "(none)", a->strategy);
    free(delay);
    return jx__cli_print_line(stdout, "reason: %s", a->reason);
}

static int cmd_retry(const options *o)
{
    jx_config *cfg = NULL;
    jx_error err = {0, ""};
    jx_retry_advice advice;
    struct timespec ts;
    unsigned attempt;
    double random01;
    int rc;

    if (o->attempt == NULL)
        return jx__cli_usage_error(NAME, "missing --attempt N (the attempt "
                                         "that failed, from 1)");
    if ((attempt = parse_attempt(o->attempt)) == 0)
        return jx__cli_usage_error(NAME, "--attempt must be an integer from "
                                         "1 to %u, found '%s'",
                                   UINT_MAX, o->attempt);
    if (o->error == NULL)
        return jx__cli_usage_error(NAME, "missing --error TEXT (the failed "
                                         "attempt's error)");
    if (jx__cli_load_config(o, &cfg, &err) != 0)
        return jx__cli_report(&err);
    if (draw_random01(&random01) != 0) {
        fprintf(stderr, "%s: cannot draw a random number: %s\n", prog,
                strerror(errno));
        jx_config_free(cfg);
        return EXIT_INTERNAL;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    rc = jx_retry_advise(cfg, attempt, o->error,
                         (double)ts.tv_sec + (double)ts.tv_nsec / 1e9,
                         random01, &advice, &err);
    jx_config_free(cfg);
    if (rc != 0)
        return jx__cli_report(&err);
    if ((o->json ? print_json(&advice) : print_lines(&advice)) != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_INTERNAL;
    }
    return EXIT_COMPLETED;
}

static const struct option retry_options[] = {
    {"attempt", required_argument, NULL, 'a'},
    {"error", required_argument, NULL, 'e'},
    {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_CONFIG,
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_retry = {
    NAME, cmd_retry, usage_retry, 0, 0, NULL, ":a:e:Jc:hV", retry_options,
};
