/*
 * huge.c - large buffers on huge pages (huge.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/huge.h"

static void advise(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void jx__huge_advise(void *p, size_t len)
{
    uintptr_t page, from, to;

    if (len < 2 * JX__HUGE_PAGE)
        return; /* it could not hold a whole huge page, or barely */
    page = (uintptr_t)sysconf(_SC_PAGESIZE);
    /* Whole pages: a buffer malloc maps alone is then advised as one
     * mapping, which realloc can still grow with mremap(2).  The pages it
     * shares at its ends with other memory are only advised too. */
    from = (uintptr_t)p & ~(page - 1);
    to = ((uintptr_t)p + len + page - 1) & ~(page - 1);
    advise((void *)from, to - from);
}

void *jx__huge_alloc(size_t len)
{
    /* A length that is a multiple of the huge page is placed on a huge
     * page's boundary by the kernel (Linux 6.7 and later). */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    advise(p, len);
    return p;
}

void jx__huge_free(void *p, size_t len)
{
    if (p != NULL)
        munmap(p, len);
}
