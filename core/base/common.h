/*
 * common.h - what every file of libjobexec shares: the error helper and
 * a few constants.  Not installed.
 */
#ifndef JX__BASE_COMMON_H
#define JX__BASE_COMMON_H

#include <stddef.h>

#include <jobexec/jobexec.h>

#if defined(__GNUC__)
#define JX__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JX__PRINTF(f, a)
#endif

/* A UUID as text, "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11": job and
 * contract ids in plans, records and results. */
#define JX__UUID_LEN 36

/* Fills err (when not NULL) and returns code, so that callers can write
 * `return jx__fail(err, JX_EPLAN, "...")`. */
int jx__fail(jx_error *err, int code, const char *fmt, ...) JX__PRINTF(3, 4);
#ifdef __clang_analyzer__
/* The analyzer reads one file at a time: without this it cannot see that
 * jx__fail() returns code, and explores every `return jx__fail(...)` as
 * a success too.  Only the analyzer sees it (error.c defines the function
 * as (jx__fail) so that the definition is not expanded). */
#define jx__fail(err, code, ...) (jx__fail((err), (code), __VA_ARGS__), (code))
#endif

/* Copies in to out (size bytes, NUL included) with control characters,
 * Unicode bidi controls and bytes that are not UTF-8 escaped (\n, \x1b,
 * \u202e, \xff): what jx__fail() does to every message.  Cut short at a
 * character boundary when out is too small. */
void jx__escape_text(const char *in, char *out, size_t size);

/* strdup that tolerates NULL (returns NULL) - callers check for OOM only
 * when s was not NULL. */
char *jx__strdup(const char *s);

#endif
