/*
 * regex_bound.h - whether glibc's regcomp compiles an extended regular
 * expression in little time and memory, judged from its text before
 * regcomp sees it.  The config's retryable_errors are the only outside
 * patterns; they come from ops, but a config is read by every run.
 */
#ifndef JX__INPUT_REGEX_BOUND_H
#define JX__INPUT_REGEX_BOUND_H

#include <stddef.h>

/* Bounds on a pattern: its text, and the parts regcomp makes of it.
 * Messages are matched by short patterns (an IPv4 address is some 25
 * parts); these leave them every use. */
#define JX__REGEX_MAX_BYTES 1024
#define JX__REGEX_MAX_PARTS 1000

typedef enum {
    JX__REGEX_BOUNDED,
    JX__REGEX_TOO_LARGE,  /* over JX__REGEX_MAX_BYTES or _MAX_PARTS */
    JX__REGEX_EMPTY_LOOP, /* '*', '+' or {m,} repeats what can match
                           * nothing, as "(a*)+" or "a**" */
} jx__regex_verdict;

/*
 * Judges pattern, len bytes long and NUL-terminated (the config reader
 * refuses NUL inside scalars).  For JX__REGEX_EMPTY_LOOP, *offset is the
 * byte offset of the first such repetition operator.
 */
jx__regex_verdict jx__regex_bound(const char *pattern, size_t len,
                                  size_t *offset);

#endif
