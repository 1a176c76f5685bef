/*
 * retry.c - retry advice: whether the work of a failed attempt should be
 * tried again, and when, under the config's retry policy.  A pure
 * function, for a worker deciding whether to create a new job; the
 * executor never calls it (it never retries).
 */
#include "config.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/common.h"
#include "input/config_file.h"

/* The last second of year 9999: now is refused beyond it, so that
 * next_attempt_at, at most a week later, always fits its field. */
#define LATEST_NOW 253402300799.0

static const char *const strategy_names[] = {"fixed", "linear", "exponential",
                                             "fibonacci"};

/* The delay after failed attempt n (from 1), capped at max_delay.  Growth
 * stops at the cap, so no huge number is ever computed: the loops run at
 * most log2(max_delay / base_delay) times or so, whatever n is. */
static double capped_delay(const jx__retry_conf *r, unsigned n)
{
    double d = r->base_delay;

    switch (r->strategy) {
    case JX__RETRY_FIXED:
        break;
    case JX__RETRY_LINEAR:
        d = r->base_delay * n; /* at most a week times 2^32: finite */
        break;
    case JX__RETRY_EXPONENTIAL:
        for (unsigned i = 1; i < n && d < r->max_delay; i++)
            d *= 2;
        break;
    case JX__RETRY_FIBONACCI: {
        double f = 1, next = 1; /* F(i), F(i + 1) */
        for (unsigned i = 1; i < n && f * r->base_delay < r->max_delay; i++) {
            double sum = f + next;
            f = next;
            next = sum;
        }
        d = r->base_delay * f;
        break;
    }
    }
    return d < r->max_delay ? d : r->max_delay;
}

/* t, seconds since the epoch (not negative), as
 * "2026-11-28T14:11:20.765299+00:00" (the evidence's form), to the nearest
 * microsecond.  Casts round towards 0, which for t >= 0 is down: no
 * libm. */
static void format_utc(double t, char *out, size_t size)
{
    double whole = (double)(long long)t;
    unsigned usec = (unsigned)((t - whole) * 1e6 + 0.5);
    time_t sec;
    struct tm tm;
    size_t n;

    if (usec >= 1000000) {
        whole += 1;
        usec = 0;
    }
    sec = (time_t)whole;
    gmtime_r(&sec, &tm);
    n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%06u+00:00", usec);
}

/* Fills out->reason; a reason too long for it (a long pattern) is cut at
 * a character boundary, so that it stays UTF-8 as the config was. */
static void set_reason(jx_retry_advice *out, const char *fmt, ...)
    JX__PRINTF(2, 3);

static void set_reason(jx_retry_advice *out, const char *fmt, ...)
{
    unsigned char *r = (unsigned char *)out->reason;
    size_t end = sizeof out->reason - 1, lead;
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len <= end)
        return;
    /* Back over continuation bytes to the cut character's first byte, and
     * drop the character unless all of it fits. */
    for (lead = end; lead > 0 && (r[lead - 1] & 0xc0) == 0x80; lead--)
        ;
    if (lead > 0 && r[lead - 1] >= 0xc0) {
        unsigned char c = r[lead - 1];
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (end - (lead - 1) < need)
            r[lead - 1] = '\0';
    }
}

/* The first retryable_errors pattern error matches, in the config's order:
 * 1 and *which, 0 when none does, or JX_ENOMEM. */
static int match_pattern(const jx__retry_conf *r, const char *error,
                         size_t *which)
{
    for (size_t i = 0; i < r->n_patterns; i++) {
        int rc = regexec(&r->patterns[i], error, 0, NULL, 0);
        if (rc == 0) {
            *which = i;
            return 1;
        }
        if (rc != REG_NOMATCH)
            return JX_ENOMEM; /* REG_ESPACE: the only other outcome */
    }
    return 0;
}

int jx_retry_advise(const jx_config *cfg, unsigned attempt, const char *error,
                    double now, double random01, jx_retry_advice *out,
                    jx_error *err)
{
    jx__retry_conf defaults;
    const jx__retry_conf *r = &defaults;
    size_t which = 0;
    int matched;
    double d;

    if (out == NULL || error == NULL)
        return jx__fail(err, JX_EINVAL, "retry advice: out and error must "
                                        "not be NULL");
    memset(out, 0, sizeof *out);
    if (attempt == 0)
        return jx__fail(err, JX_EINVAL, "retry advice: attempt must be 1 or "
                                        "more (the attempt that failed)");
    if (!(now >= 0 && now <= LATEST_NOW))
        return jx__fail(err, JX_EINVAL, "retry advice: now must be seconds "
                                        "since the epoch, from 0 to %.0f, "
                                        "found %g", LATEST_NOW, now);
    if (!(random01 >= 0 && random01 < 1))
        return jx__fail(err, JX_EINVAL, "retry advice: random01 must be at "
                                        "least 0 and less than 1, found %g",
                        random01);
    if (cfg != NULL)
        r = &cfg->retry;
    else
        jx__retry_conf_defaults(&defaults);
    out->attempt = attempt;
    out->strategy = strategy_names[r->strategy];

    if ((matched = match_pattern(r, error, &which)) < 0)
        return jx__fail(err, matched, "out of memory");
    if (r->n_patterns > 0 && !matched) {
        set_reason(out, "attempt %u failed: the error matches no "
                        "retryable_errors pattern", attempt);
        return 0;
    }
    if (attempt > r->max_retries) {
        set_reason(out, "attempt %u failed: max_retries (%u) reached",
                   attempt, r->max_retries);
        return 0;
    }

    d = capped_delay(r, attempt);
    /* Spread over [d (1 - jitter), d (1 + jitter)), never past the cap. */
    d *= 1 - r->jitter + 2 * r->jitter * random01;
    if (d > r->max_delay)
        d = r->max_delay;
    out->should_retry = 1;
    out->delay_seconds = d;
    format_utc(now + d, out->next_attempt_at, sizeof out->next_attempt_at);
    if (matched)
        set_reason(out, "attempt %u failed: retry %u of up to %u; the error "
                        "matches '%s'", attempt, attempt, r->max_retries,
                   r->pattern_texts[which]);
    else
        set_reason(out, "attempt %u failed: retry %u of up to %u; every "
                        "error is retryable (no retryable_errors)", attempt,
                   attempt, r->max_retries);
    return 0;
}
