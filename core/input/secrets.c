/*
 * secrets.c - the set of a plan's secret values and the search for them.
 *
 * Each secret sits in a bucket keyed by its first JX__SECRET_KEY bytes
 * (by all of them when it is shorter), longer secrets first.  A search
 * looks, at each byte that starts some secret, in the bucket of each key
 * length in use, from the longest: the first secret found there is the
 * longest starting at that byte, and the first byte with one is the
 * leftmost.  That is what comparing every secret with strstr found, for
 * about one hash probe a byte.  A bit per key in a filter (eight times
 * as many bits as buckets, so about 1 in 16 places that start no key pass
 * it) spares most of those probes, and a text shorter than every secret is
 * not looked at.
 *
 * The buckets' hash is multiply-shift with a random odd multiplier, so
 * that a plan cannot choose secrets that all fall in one bucket.  Secrets
 * that share their first JX__SECRET_KEY bytes do share one, and are
 * compared one by one.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "input/secrets.h"

static size_t key_len(size_t len)
{
    return len < JX__SECRET_KEY ? len : JX__SECRET_KEY;
}

/* Filter bits per bucket: the filter has n_buckets * FILTER_BITS bits
 * (JX__SECRET_OVERHEAD counts them). */
#define FILTER_BITS 8

static uint64_t key_hash(const jx__secrets *set, const char *key, size_t k)
{
    uint64_t v = 0;

    memcpy(&v, key, k);
    v ^= (uint64_t)k * 0x9e3779b97f4a7c15u;
    return v * set->seed;
}

/* The filter's bit for a key hash: from the top bits, the bucket from
 * the middle ones. */
static uint64_t filter_bit(const jx__secrets *set, uint64_t h)
{
    return h >> (64 - __builtin_ctzll((uint64_t)set->n_buckets * FILTER_BITS));
}

static int may_hold(const jx__secrets *set, uint64_t h)
{
    uint64_t bit = filter_bit(set, h);

    return (set->filter[bit >> 6] >> (bit & 63)) & 1;
}

/* A bucket's entry: its first secret's index, under the low 32 bits of
 * its key's hash (the middle ones chose the bucket). */
static uint64_t entry(uint32_t index, uint64_t h)
{
    return h << 32 | index;
}

/* The slot of the bucket keyed by key[0, k), whose hash is h: in use, or
 * the empty slot where it would go. */
static uint64_t *slot_at(const jx__secrets *set, const char *key, size_t k,
                         uint64_t h)
{
    size_t mask = set->n_buckets - 1, i = (size_t)(h >> 32) & mask;

    for (;; i = (i + 1) & mask) {
        uint64_t e = set->buckets[i];
        const jx__secret *head;

        if (e == 0)
            return &set->buckets[i];
        if (e >> 32 != (h & 0xffffffffu))
            continue;
        head = &set->items[(uint32_t)e];
        if (key_len(head->len) == k && memcmp(head->text, key, k) == 0)
            return &set->buckets[i];
    }
}

static uint64_t *slot_of(const jx__secrets *set, const char *key, size_t k)
{
    return slot_at(set, key, k, key_hash(set, key, k));
}

/* Sets the filter's bit for the key of the secret at index i. */
static void mark(jx__secrets *set, uint32_t i)
{
    const jx__secret *e = &set->items[i];
    uint64_t bit = filter_bit(set, key_hash(set, e->text, key_len(e->len)));

    set->filter[bit >> 6] |= (uint64_t)1 << (bit & 63);
}

static uint64_t random_odd(void)
{
    uint64_t seed = 0;
    size_t got = 0;

    while (got < sizeof seed) {
        ssize_t n = getrandom((char *)&seed + got, sizeof seed - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* no getrandom: a seed no plan can know ahead */
            seed ^= (uint64_t)time(NULL) * 0xbf58476d1ce4e5b9u ^
                    (uint64_t)(uintptr_t)&seed;
            break;
        }
        got += (size_t)n;
    }
    return seed | 1;
}

/* Makes room for one more bucket, the table at most half full; the
 * filter grows with it. */
static int reserve_bucket(jx__secrets *set)
{
    uint32_t n = set->n_buckets ? set->n_buckets * 2 : 16;
    uint32_t old_n = set->n_buckets;
    uint64_t *old = set->buckets, *buckets, *filter;

    if ((set->used + 1) * 2 <= set->n_buckets)
        return 0;
    if (n == 0 || (buckets = calloc(n, sizeof *buckets)) == NULL)
        return -1;
    if ((filter = calloc((size_t)n * FILTER_BITS / 64, sizeof *filter)) ==
        NULL) {
        free(buckets);
        return -1;
    }
    if (old_n == 0)
        set->seed = random_odd();
    free(set->filter);
    set->filter = filter;
    set->buckets = buckets;
    set->n_buckets = n;
    for (uint32_t i = 0; i < old_n; i++)
        if (old[i] != 0) {
            const jx__secret *head = &set->items[(uint32_t)old[i]];
            *slot_of(set, head->text, key_len(head->len)) = old[i];
            mark(set, (uint32_t)old[i]);
        }
    free(old);
    return 0;
}

static int reserve_item(jx__secrets *set)
{
    uint32_t cap = set->cap ? set->cap * 2 : 16;
    jx__secret *grown;

    if (set->n < set->cap)
        return 0;
    if (cap <= set->cap ||
        (grown = realloc(set->items, ((size_t)cap + 1) * sizeof *grown)) ==
            NULL)
        return -1;
    set->items = grown;
    set->cap = cap;
    return 0;
}

/* Whether JSON text escapes a byte of s. */
static int json_escapes(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            return 1;
    return 0;
}

int jx__secrets_add(jx__secrets *set, const char *text)
{
    size_t len = strlen(text), k = key_len(len);
    uint64_t h, *slot;
    uint32_t prev = 0, next, at;
    char *copy;

    if (len == 0)
        return 0;
    if (reserve_bucket(set) != 0 || reserve_item(set) != 0)
        return -1;
    h = key_hash(set, text, k);
    slot = slot_at(set, text, k, h);
    /* The bucket's list, longer first: where this one goes. */
    for (next = (uint32_t)*slot; next != 0 && set->items[next].len >= len;
         prev = next, next = set->items[next].next)
        if (set->items[next].len == len &&
            memcmp(set->items[next].text, text, len) == 0)
            return 0;
    if ((copy = malloc(len + 1)) == NULL)
        return -1;
    memcpy(copy, text, len + 1);
    at = ++set->n;
    set->items[at] = (jx__secret){.text = copy, .len = len, .next = next};
    if (*slot == 0)
        set->used++;
    if (prev == 0)
        *slot = entry(at, h);
    else
        set->items[prev].next = at;
    mark(set, at);
    set->first[(unsigned char)text[0] >> 3] |=
        (unsigned char)(1u << (text[0] & 7));
    set->key_lens |= 1u << (k - 1);
    if (len > set->max_len)
        set->max_len = len;
    if (len < set->min_len || set->min_len == 0)
        set->min_len = len;
    if (json_escapes(copy))
        set->json_escaped++;
    return 1;
}

/* The longest secret that s[0, room) starts with, or NULL. */
static const jx__secret *longest_at(const jx__secrets *set, const char *s,
                                    size_t room)
{
    for (size_t k = JX__SECRET_KEY; k > 0; k--) {
        uint64_t h;
        uint32_t i;

        if (!(set->key_lens & (1u << (k - 1))) || k > room ||
            !may_hold(set, h = key_hash(set, s, k)))
            continue;
        for (i = (uint32_t)*slot_at(set, s, k, h); i != 0;
             i = set->items[i].next) {
            const jx__secret *e = &set->items[i];
            if (e->len <= room && memcmp(s, e->text, e->len) == 0)
                return e;
        }
    }
    return NULL;
}

const char *jx__secrets_find(const jx__secrets *set, const char *s,
                             size_t len, size_t *found_len)
{
    if (set->n == 0 || len < set->min_len)
        return NULL;
    for (size_t i = 0; i + set->min_len <= len; i++) {
        unsigned char c = (unsigned char)s[i];
        const jx__secret *e;

        if (!(set->first[c >> 3] & (1u << (c & 7))))
            continue;
        if ((e = longest_at(set, s + i, len - i)) != NULL) {
            *found_len = e->len;
            return s + i;
        }
    }
    return NULL;
}

size_t jx__secrets_start_at_end(const jx__secrets *set, const char *s,
                                size_t len)
{
    size_t k, best = 0;

    if (set->n == 0)
        return 0;
    /* An ending as long as a key: only its bucket can hold the secret. */
    for (k = set->max_len - 1 < len ? set->max_len - 1 : len;
         k >= JX__SECRET_KEY; k--) {
        const char *end = s + len - k;
        for (uint32_t i = (uint32_t)*slot_of(set, end, JX__SECRET_KEY); i != 0;
             i = set->items[i].next)
            if (set->items[i].len > k &&
                memcmp(set->items[i].text, end, k) == 0)
                return k;
    }
    /* A shorter one may begin a secret of any bucket. */
    for (uint32_t i = 1; i <= set->n; i++) {
        const jx__secret *e = &set->items[i];

        k = e->len - 1 < len ? e->len - 1 : len;
        if (k >= JX__SECRET_KEY)
            k = JX__SECRET_KEY - 1;
        for (; k > best; k--)
            if (memcmp(s + len - k, e->text, k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

void jx__secrets_free(jx__secrets *set)
{
    for (uint32_t i = 1; i <= set->n; i++)
        free(set->items[i].text);
    free(set->items);
    free(set->buckets);
    free(set->filter);
    memset(set, 0, sizeof *set);
}
