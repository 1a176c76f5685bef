/*
 * huge.h - large buffers on huge pages.
 *
 * Under some hypervisors the first store into each fresh 4 KiB page costs
 * several microseconds: more than filling the page, and a 100,000-step
 * plan touches thousands of them.  A 2 MiB huge page costs about as much
 * as one 4 KiB page.  Buffers of megabytes are therefore taken with the
 * kernel's huge-page advice (MADV_HUGEPAGE), which is honoured where
 * transparent huge pages are set to "madvise" or "always" and ignored
 * elsewhere.
 */
#ifndef JX__BASE_HUGE_H
#define JX__BASE_HUGE_H

#include <stddef.h>

#define JX__HUGE_PAGE ((size_t)2 << 20)

/* Advises huge pages for the buffer [p, p + len) of at least two huge
 * pages, which the caller owns and has not touched yet (touched pages
 * keep their size); the kernel uses them for the whole huge pages inside
 * it.  Advice only: nothing fails. */
void jx__huge_advise(void *p, size_t len);

/* len bytes (a multiple of JX__HUGE_PAGE), zero, private to this process,
 * with the advice; NULL with errno ENOMEM.  Freed with jx__huge_free(p,
 * len), never with free(). */
void *jx__huge_alloc(size_t len);
void jx__huge_free(void *p, size_t len);

#endif
