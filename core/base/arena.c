/*
 * arena.c - chunks of strings freed together (arena.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/huge.h"

/* The first chunk is small, so that a one-step plan does not take much;
 * each next one as large as all before it together, up to a huge page,
 * so that a long plan takes few chunks, and those on huge pages. */
#define FIRST_CHUNK ((size_t)64 * 1024)
#define LAST_CHUNK JX__HUGE_PAGE

struct jx__arena_chunk {
    jx__arena_chunk *next;
    size_t size, used; /* of data */
    max_align_t data[];
};

int jx__budget_charge(jx__budget *b, size_t bytes)
{
    if (b == NULL)
        return 0;
    if (b->limit != 0 && bytes > b->limit - b->used)
        return -1;
    b->used += bytes;
    return 0;
}

void jx__budget_release(jx__budget *b, size_t bytes)
{
    if (b != NULL)
        b->used -= bytes < b->used ? bytes : b->used;
}

int jx__budget_refusal(const jx__budget *b, jx_error *err, const char *name,
                       unsigned line, unsigned col)
{
    size_t mib = b->limit / (1024 * 1024) + (b->limit % (1024 * 1024) != 0);

    return jx__fail(err, JX_ELIMIT,
                    "%s:%u:%u: reading it would take more than %zu MiB of "
                    "memory (%s)",
                    name, line, col, mib, b->rule != NULL ? b->rule : "");
}

/* whole bytes, header included: from a huge page's worth up (whole is
 * then a multiple of it), huge pages of their own. */
static jx__arena_chunk *take_chunk(size_t whole)
{
    return whole < JX__HUGE_PAGE ? malloc(whole) : jx__huge_alloc(whole);
}

static void give_chunk(jx__arena_chunk *c)
{
    size_t whole = sizeof *c + c->size;

    if (whole < JX__HUGE_PAGE)
        free(c);
    else
        jx__huge_free(c, whole);
}

static jx__arena_chunk *new_chunk(jx__arena *a, size_t len)
{
    size_t regular = a->bytes < FIRST_CHUNK  ? FIRST_CHUNK
                     : a->bytes > LAST_CHUNK ? LAST_CHUNK
                                             : a->bytes;
    size_t whole = regular;
    int own = len > regular - sizeof(jx__arena_chunk);
    jx__arena_chunk *c;

    if (len > SIZE_MAX - sizeof(jx__arena_chunk) - JX__HUGE_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    if (own)
        whole = sizeof(jx__arena_chunk) + len;
    if (whole >= JX__HUGE_PAGE)
        whole = (whole + JX__HUGE_PAGE - 1) & ~(JX__HUGE_PAGE - 1);
    if (jx__budget_charge(a->budget, whole) != 0) {
        errno = E2BIG;
        return NULL;
    }
    if ((c = take_chunk(whole)) == NULL) {
        jx__budget_release(a->budget, whole);
        errno = ENOMEM;
        return NULL;
    }
    c->size = whole - sizeof *c;
    c->used = 0;
    /* A piece larger than a chunk gets a chunk of its own behind the one
     * being filled, which keeps its free room. */
    if (a->head != NULL && own) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    a->bytes += whole;
    return c;
}

/* len bytes at a multiple of align (a power of two) in the chunk being
 * filled, or in a new one. */
static void *take(jx__arena *a, size_t len, size_t align)
{
    jx__arena_chunk *c = a->head;
    size_t at;

    if (len > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    at = c != NULL ? (c->used + align - 1) & ~(align - 1) : 0;
    if (c == NULL || at > c->size || c->size - at < len) {
        if ((c = new_chunk(a, len)) == NULL)
            return NULL;
        at = 0;
    }
    c->used = at + len;
    return (char *)c->data + at;
}

void *jx__arena_alloc(jx__arena *a, size_t len)
{
    return take(a, len, sizeof(max_align_t));
}

char *jx__arena_alloc_text(jx__arena *a, size_t len)
{
    return take(a, len, 1);
}

char *jx__arena_strndup(jx__arena *a, const char *s, size_t len)
{
    /* Text needs no alignment: strings pack end to end. */
    char *copy = len < SIZE_MAX ? jx__arena_alloc_text(a, len + 1) : NULL;

    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

void jx__arena_reset(jx__arena *a)
{
    jx__arena_chunk *keep = a->head;

    if (keep == NULL)
        return;
    a->head = keep->next;
    keep->next = NULL;
    a->bytes -= sizeof *keep + keep->size;
    jx__arena_free(a); /* the others, and what they were charged */
    a->head = keep;
    a->bytes = sizeof *keep + keep->size;
    keep->used = 0;
}

void jx__arena_free(jx__arena *a)
{
    while (a->head != NULL) {
        jx__arena_chunk *next = a->head->next;
        give_chunk(a->head);
        a->head = next;
    }
    jx__budget_release(a->budget, a->bytes);
    a->bytes = 0;
}
