/*
 * arena.h - many small strings that live and die together.
 *
 * A plan holds a handful of short strings per step; one malloc each
 * costs more in headers and rounding than the strings themselves, and a
 * 100,000-step plan is mostly such strings.  An arena hands out pieces of
 * large chunks and frees them all at once.
 */
#ifndef JX__BASE_ARENA_H
#define JX__BASE_ARENA_H

#include <stddef.h>

#include "base/common.h"

typedef struct jx__arena_chunk jx__arena_chunk;

/* What a reader may spend while it parses: every chunk an arena takes is
 * charged to it, and a charge past limit is refused before the memory is
 * taken.  limit 0: no limit. */
typedef struct jx__budget {
    size_t used, limit;
    const char *rule; /* how limit was set, for the refusal */
} jx__budget;

typedef struct jx__arena {
    jx__arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t bytes;          /* all chunks taken, headers included */
    jx__budget *budget;    /* may be NULL; not owned */
} jx__arena;

/* What malloc(n) takes of the heap on glibc (a word of header, 16-byte
 * steps, 32 bytes at least), so that a budget tracks what the process
 * really holds: a 2-byte value costs 32 bytes, not 2. */
static inline size_t jx__heap_cost(size_t n)
{
    size_t chunk = (n + sizeof(size_t) + 15) & ~(size_t)15;
    return chunk < 32 ? 32 : chunk;
}

/* 0 when `bytes` more fit in the budget (and charges them), -1 when not. */
int jx__budget_charge(jx__budget *b, size_t bytes);
void jx__budget_release(jx__budget *b, size_t bytes);
/* Fails with JX_ELIMIT: "NAME:LINE:COL: reading it would take more than
 * N MiB of memory (RULE)"; returns JX_ELIMIT. */
int jx__budget_refusal(const jx__budget *b, jx_error *err, const char *name,
                       unsigned line, unsigned col);

/* len bytes, aligned for any pointer, that live until jx__arena_free();
 * NULL when out of memory or over the budget (errno ENOMEM or E2BIG). */
void *jx__arena_alloc(jx__arena *a, size_t len);
/* len bytes with no alignment (for text); NULL as jx__arena_alloc. */
char *jx__arena_alloc_text(jx__arena *a, size_t len);
/* A NUL-terminated copy of len bytes of s; NULL as jx__arena_alloc. */
char *jx__arena_strndup(jx__arena *a, const char *s, size_t len);
/* Forgets every piece but keeps the newest chunk for the next ones, so
 * that an arena emptied again and again (one per streamed item) stops
 * calling malloc; the other chunks are freed and given back. */
void jx__arena_reset(jx__arena *a);
/* Frees every chunk (and gives the budget back); the arena is empty and
 * reusable. */
void jx__arena_free(jx__arena *a);

#endif
