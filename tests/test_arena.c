/*
 * test_arena.c - the arena that holds a plan's strings (core/base/arena.c):
 * its chunks start small and grow with what it holds, up to a huge page;
 * chunks of a huge page and more are whole huge pages, advised as such; a
 * piece larger than a chunk gets its own behind the one being filled; the
 * budget is charged every byte taken and refuses before memory is taken;
 * reset keeps the newest chunk.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/huge.h"
#include "testutil.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

static jx__arena arena;

static int teardown(void **state)
{
    (void)state;
    jx__arena_free(&arena);
    return 0;
}

/* A piece of len bytes, each set to its number's low byte. */
static char *piece(size_t len, unsigned n)
{
    char *p = jx__arena_alloc_text(&arena, len);

    assert_non_null(p);
    memset(p, (int)(n & 0xff), len);
    return p;
}

/* Whether the mapping holding p has the huge-page advice. */
static int advised_huge(const void *p)
{
    return tu_mapping_flag(p, NULL, "hg") == 1;
}

static void test_first_chunk_is_small(void **state)
{
    char *s;

    (void)state;
    s = jx__arena_strndup(&arena, "capability_enable!", 17);
    assert_string_equal(s, "capability_enable");
    assert_int_equal(arena.bytes, 64 * KIB);
}

/*
 * 10 MiB in pieces of 100 bytes: the chunks take 64 KiB, 64 KiB, then
 * double (128 KiB .. 1 MiB), then 2 MiB each; every piece keeps its
 * bytes; the chunks of 2 MiB carry the huge-page advice.
 */
static void test_chunks_grow_to_huge_pages(void **state)
{
    const size_t n = 10 * MIB / 100;
    const size_t small = (64 + 64 + 128 + 256 + 512 + 1024) * KIB;
    char **pieces = calloc(n, sizeof *pieces);

    (void)state;
    assert_non_null(pieces);
    for (size_t i = 0; i < n; i++)
        pieces[i] = piece(100, (unsigned)i);
    for (size_t i = 0; i < n; i++) {
        char want[100];

        memset(want, (int)(i & 0xff), sizeof want);
        assert_memory_equal(pieces[i], want, sizeof want);
    }
    assert_true(arena.bytes > small);
    assert_int_equal((arena.bytes - small) % JX__HUGE_PAGE, 0);
    /* Every byte held, and less than one chunk of 2 MiB more. */
    assert_true(arena.bytes - small >= n * 100 - small);
    assert_true(arena.bytes < n * 100 + small + JX__HUGE_PAGE + 64 * KIB);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0) {
        assert_true(advised_huge(pieces[n - 1]));
        assert_false(advised_huge(pieces[0]));
    }
    free(pieces);
}

/* A piece larger than the next chunk gets its own chunk, behind the one
 * being filled, whose room the next small piece still uses. */
static void test_large_piece_gets_its_own_chunk(void **state)
{
    char *a, *big, *b;

    (void)state;
    a = piece(10, 1);
    big = piece(3 * MIB, 2);
    b = piece(10, 3);
    assert_ptr_equal(b, a + 10);
    /* 64 KiB, then 3 MiB and a header rounded up to whole huge pages. */
    assert_int_equal(arena.bytes, 64 * KIB + 2 * JX__HUGE_PAGE);
    assert_int_equal(big[0], 2);
    assert_int_equal(big[3 * MIB - 1], 2);
}

/* The budget is charged each chunk whole, refuses the chunk that would
 * pass its limit (E2BIG) before taking it, and is given everything back. */
static void test_budget_charged_and_refused(void **state)
{
    jx__budget budget = {.limit = 300 * KIB};
    size_t taken = 0;

    (void)state;
    arena.budget = &budget;
    for (;;) {
        errno = 0;
        if (jx__arena_alloc_text(&arena, 1000) == NULL)
            break;
        taken += 1000;
    }
    assert_int_equal(errno, E2BIG);
    /* 64 + 64 + 128 KiB fit; the next chunk (256 KiB) would not. */
    assert_int_equal(budget.used, 256 * KIB);
    assert_int_equal(budget.used, arena.bytes);
    assert_true(taken > 200 * KIB && taken <= 256 * KIB);
    jx__arena_free(&arena);
    assert_int_equal(budget.used, 0);
    assert_int_equal(arena.bytes, 0);
    arena.budget = NULL;
}

/* Reset keeps the newest chunk, and gives the budget back the others. */
static void test_reset_keeps_newest_chunk(void **state)
{
    jx__budget budget = {0};
    char *first, *again;

    (void)state;
    arena.budget = &budget;
    for (int i = 0; i < 2000; i++) /* about 200 KiB: three chunks */
        piece(100, (unsigned)i);
    first = piece(100, 7);
    assert_int_equal(arena.bytes, (64 + 64 + 128) * KIB);
    jx__arena_reset(&arena);
    assert_int_equal(arena.bytes, 128 * KIB);
    assert_int_equal(budget.used, 128 * KIB);
    again = piece(100, 8);
    assert_true(again < first);
    jx__arena_free(&arena);
    assert_int_equal(budget.used, 0);
    arena.budget = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_first_chunk_is_small, teardown),
        cmocka_unit_test_teardown(test_chunks_grow_to_huge_pages, teardown),
        cmocka_unit_test_teardown(test_large_piece_gets_its_own_chunk,
                                  teardown),
        cmocka_unit_test_teardown(test_budget_charged_and_refused, teardown),
        cmocka_unit_test_teardown(test_reset_keeps_newest_chunk, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
