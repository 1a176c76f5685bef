/*
 * torture.c - fault injection for the torture build (configure
 * --enable-torture) only: never part of an ordinary build.
 *
 * libjobexec and the jobexec CLI are linked with -Wl,--wrap=SYMBOL for
 * every allocation, write and sync call their own objects make, so that
 * each such call reaches a __wrap_SYMBOL below.  Each call counts in its
 * class, and the Nth call of one class fails as the system would fail it:
 *
 *   JX_TORTURE=alloc:N   malloc, calloc, realloc, strdup, strndup,
 *                        asprintf, vasprintf, open_memstream and
 *                        jansson's allocations fail with ENOMEM;
 *   JX_TORTURE=write:N   write, pwrite, writev, ftruncate, fallocate,
 *                        posix_fallocate and mmap fail (ENOSPC; ENOMEM
 *                        for mmap); write:N:eio makes writes fail with EIO;
 *   JX_TORTURE=sync:N    fsync, fdatasync and msync fail with EIO.
 *
 * jansson's decoder is spared (see json_loads below).
 * JX_TORTURE_STACK=1 prints the failing call's stack (sanitizer builds).
 * JX_TORTURE_COUNT=FILE writes "alloc A\nwrite W\nsync S\n" to FILE at
 * exit: how many calls of each class the process made, so that a driver
 * (tests/torture.sh) knows the range of N to sweep.  Only the project's
 * own calls count, as in curl's torture tests: libyaml, SQLite and libc's
 * internal allocations are not seen.  Calls from several threads count in
 * the order they happen, so a run with threads is repeatable only as far
 * as their order is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

/* The real functions: --wrap makes __real_SYMBOL name the original. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
FILE *__real_open_memstream(char **buf, size_t *size);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_writev(int fd, const struct iovec *iov, int n);
int __real_ftruncate(int fd, off_t len);
int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __real_posix_fallocate(int fd, off_t off, off_t len);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_msync(void *addr, size_t len, int flags);

/* Declared here for -Wmissing-prototypes: nothing calls them by name but
 * the linker, through --wrap. */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap_asprintf(char **out, const char *fmt, ...);
FILE *__wrap_open_memstream(char **buf, size_t *size);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int n);
int __wrap_ftruncate(int fd, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_posix_fallocate(int fd, off_t off, off_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_msync(void *addr, size_t len, int flags);

enum { CLASS_ALLOC, CLASS_WRITE, CLASS_SYNC, N_CLASSES };

static const char *const class_names[N_CLASSES] = {"alloc", "write", "sync"};

/* Calls seen per class, and the call (from 1) to fail; 0: none.  Set
 * once by the constructor, before any thread of ours exists. */
static atomic_ulong calls[N_CLASSES];
static unsigned long fail_at[N_CLASSES];
static int write_errno = ENOSPC;
static const char *count_file;

/* The sanitizers' runtime, when the build has one (weak: absent, NULL). */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

static int print_stack;

/* Counts a call of class c; true when this is the one to fail.
 * jansson's decoder is spared (see json_loads below).
 * JX_TORTURE_STACK=1 prints where that call was made, which is what a
 * report of a failing N needs. */
static int should_fail(int c)
{
    unsigned long n = atomic_fetch_add(&calls[c], 1) + 1;

    if (fail_at[c] == 0 || n != fail_at[c])
        return 0;
    if (print_stack && __sanitizer_print_stack_trace != NULL) {
        fprintf(stderr, "torture: failing %s call %lu here:\n",
                class_names[c], n);
        __sanitizer_print_stack_trace();
    }
    return 1;
}

/* ---- allocations ------------------------------------------------------- */

void *__wrap_malloc(size_t size)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(s, n);
}

/* asprintf leaves *out undefined on failure; callers test the -1. */
int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return -1;
    }
    return __real_vasprintf(out, fmt, ap);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = __wrap_vasprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

FILE *__wrap_open_memstream(char **buf, size_t *size)
{
    if (should_fail(CLASS_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_open_memstream(buf, size);
}

/* ---- putting bytes on disk -------------------------------------------- */

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (should_fail(CLASS_WRITE)) {
        errno = write_errno;
        return -1;
    }
    return __real_write(fd, buf, n);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (should_fail(CLASS_WRITE)) {
        errno = write_errno;
        return -1;
    }
    return __real_pwrite(fd, buf, n, off);
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
    if (should_fail(CLASS_WRITE)) {
        errno = write_errno;
        return -1;
    }
    return __real_writev(fd, iov, n);
}

int __wrap_ftruncate(int fd, off_t len)
{
    if (should_fail(CLASS_WRITE)) {
        errno = write_errno;
        return -1;
    }
    return __real_ftruncate(fd, len);
}

int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
    if (should_fail(CLASS_WRITE)) {
        errno = ENOSPC;
        return -1;
    }
    return __real_fallocate(fd, mode, off, len);
}

/* posix_fallocate returns its error instead of setting errno. */
int __wrap_posix_fallocate(int fd, off_t off, off_t len)
{
    if (should_fail(CLASS_WRITE))
        return ENOSPC;
    return __real_posix_fallocate(fd, off, len);
}

/* A mapping of the evidence log is how its bytes reach the disk, hence
 * the write class; the system refuses one with ENOMEM. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    if (should_fail(CLASS_WRITE)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

/* ---- syncs ------------------------------------------------------------- */

int __wrap_fsync(int fd)
{
    if (should_fail(CLASS_SYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
    if (should_fail(CLASS_SYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

int __wrap_msync(void *addr, size_t len, int flags)
{
    if (should_fail(CLASS_SYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_msync(addr, len, flags);
}

/* ---- jansson's decoder ------------------------------------------------ */

/*
 * jansson 2.14's decoder does not survive a failed allocation: lex_save()
 * drops the byte it could not save, so a value is silently cut ("13:08"
 * decodes as "13:8") or the lexer's buffer underflows and writes out of
 * bounds (akheron/jansson#362; fixes proposed, not released).  That is
 * jansson's bug, not ours, and no caller can work around it: allocations
 * made while decoding are spared (not counted, never failed) so that the
 * sweep tests our code.  JX_TORTURE_DECODER=1 counts them too, to see it.
 * The plugins are linked with the same wraps for json_loads and
 * json_loadb: their decoding reaches these through libjobexec.
 */
json_t *__real_json_loads(const char *input, size_t flags, json_error_t *e);
json_t *__real_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *e);
json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *e);
json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *e);

static _Thread_local int decoding;
static int count_decoder;

json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *e)
{
    json_t *v;

    decoding++;
    v = __real_json_loads(input, flags, e);
    decoding--;
    return v;
}

json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *e)
{
    json_t *v;

    decoding++;
    v = __real_json_loadb(buf, len, flags, e);
    decoding--;
    return v;
}

/* ---- set-up and the count at exit ------------------------------------- */

/* jansson allocates through these once the constructor has set them, so
 * that its allocations count as the core's own (it frees with free()). */
static void *json_alloc(size_t size)
{
    if (decoding > 0 && !count_decoder)
        return __real_malloc(size);
    return __wrap_malloc(size);
}

static void json_free(void *p)
{
    free(p);
}

/* Reads JX_TORTURE=CLASS:N[:eio]; anything else is ignored with a word on
 * standard error, so that a mistyped sweep does not pass unnoticed. */
static void read_setting(const char *s)
{
    char name[8], extra[8] = "";
    unsigned long n;
    int c;

    if (sscanf(s, "%7[a-z]:%lu:%7s", name, &n, extra) < 2) {
        fprintf(stderr, "torture: JX_TORTURE='%s' is not CLASS:N\n", s);
        return;
    }
    for (c = 0; c < N_CLASSES; c++)
        if (strcmp(name, class_names[c]) == 0)
            fail_at[c] = n;
    if (strcmp(extra, "eio") == 0)
        write_errno = EIO;
}

/* Written with the real calls, so that the count does not count itself. */
static void write_count(void)
{
    char text[128];
    int len, fd;

    len = snprintf(text, sizeof text, "alloc %lu\nwrite %lu\nsync %lu\n",
                   atomic_load(&calls[CLASS_ALLOC]),
                   atomic_load(&calls[CLASS_WRITE]),
                   atomic_load(&calls[CLASS_SYNC]));
    fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (len > 0 && __real_write(fd, text, (size_t)len) != len)
        fprintf(stderr, "torture: cannot write %s\n", count_file);
    close(fd);
}

__attribute__((constructor)) static void torture_init(void)
{
    const char *s = getenv("JX_TORTURE");

    if (s != NULL && *s != '\0')
        read_setting(s);
    print_stack = getenv("JX_TORTURE_STACK") != NULL;
    count_decoder = getenv("JX_TORTURE_DECODER") != NULL;
    count_file = getenv("JX_TORTURE_COUNT");
    if (count_file != NULL && *count_file != '\0')
        atexit(write_count);
    json_set_alloc_funcs(json_alloc, json_free);
}
