/*
 * secrets.h - a plan's secret values, and the search for them in text that
 * redaction (redact.h) does.
 *
 * A search costs about one hash probe per byte of the text, however many
 * secrets the plan holds: a plan with a secret in each of 100,000 steps
 * must not make every record of its job a scan of 100,000 strings.
 */
#ifndef JX__INPUT_SECRETS_H
#define JX__INPUT_SECRETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct jx__secret {
    char *text;    /* NUL-terminated, never empty; the set's */
    size_t len;
    uint32_t next; /* the next secret of its bucket (longer ones first);
                      0: none */
} jx__secret;

/*
 * Secrets are bucketed by their first JX__SECRET_KEY bytes (all of them,
 * for a shorter one).  Zeroed, the set is empty; it owns its copies until
 * jx__secrets_free.  Adding is not thread-safe; searching a set nobody
 * adds to is.
 */
typedef struct jx__secrets {
    jx__secret *items;  /* items[1..n]: index 0 ends a bucket's list */
    uint32_t n, cap;
    /* Open addressing: the index of a bucket's first (longest) secret,
     * with 32 bits of its key's hash above it, so that a probe reads no
     * secret whose key it is not; or 0. */
    uint64_t *buckets;
    uint32_t n_buckets; /* a power of two, at most half used; or 0 */
    uint32_t used;      /* buckets in use */
    /* One bit per key hash, FILTER_BITS a bucket: most places in a text
     * start no secret's key, and the bit says so without a look at the
     * buckets. */
    uint64_t *filter;
    uint64_t seed;      /* odd: the multiplier of the keys' hash */
    size_t min_len, max_len;
    /* Secrets JSON text escapes a byte of (a control character, the
     * quote, the backslash): the others stand in it as they are. */
    uint32_t json_escaped;
    unsigned char first[32]; /* bitmap: the bytes a secret starts with */
    unsigned key_lens;       /* bit k-1: some bucket is keyed by k bytes */
} jx__secrets;

#define JX__SECRET_KEY 8

/* What a secret costs beyond its text and NUL: its entry, two buckets
 * (the table is at most half full) and their 16 bits of filter, and
 * malloc's overhead for its copy. */
#define JX__SECRET_OVERHEAD \
    (sizeof(jx__secret) + 2 * sizeof(uint64_t) + 2 + 16)

/* Adds a copy of text (not empty) unless the set has it: 1 when added, 0
 * when it was there already, -1 when out of memory (the set unchanged). */
int jx__secrets_add(jx__secrets *set, const char *text);

/*
 * The leftmost secret in s[0, len), the longest of those starting there:
 * where it starts, its length in *found_len.  NULL when there is none.
 */
const char *jx__secrets_find(const jx__secrets *set, const char *s,
                             size_t len, size_t *found_len);

/* The length of the longest ending of s[0, len) that is the start, and
 * not the whole, of some secret; 0 when none is. */
size_t jx__secrets_start_at_end(const jx__secrets *set, const char *s,
                                size_t len);

void jx__secrets_free(jx__secrets *set);

#endif
