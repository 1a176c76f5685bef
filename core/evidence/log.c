/*
 * log.c - the evidence log file: JSON Lines appended by every job of an
 * executor (and by other executors), each append whole, synced as
 * evidence.fsync says, a torn tail cut only by a writer alone, and a
 * torn record of a writer that died ended before anything is appended.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "base/file.h"
#include "evidence/format.h"
#include "evidence/log.h"
#include "plugin/host.h"

/*
 * Several executors, in one process or in many, may append to one file.
 * Each holds a shared flock(2) lock on it while it has it open.  Cutting
 * bytes off the end is safe only when no other writer can be in the
 * middle of an append, so it is done under the exclusive lock, taken
 * without waiting: while another writer holds the file, its last line may
 * be a record still being written, and it is left alone.
 */
struct jx__evlog {
    int fd;
    int shared; /* holds the shared lock (flock works on this file) */
    char *path;
    jx__fsync_policy fsync;
    pthread_mutex_t lock; /* one record is one uninterrupted append */
    /* Where this writer's last append ended (the file's size then), or -1.
     * While the file still has this size, no other writer has appended,
     * and it ends with this writer's newline. */
    off_t end;
    int no_append_lock; /* the file system refused the append lock */
    /* Set when a sync failed: the kernel may have dropped the data and a
     * later fsync could report success anyway, so nothing more is
     * written to this file. */
    char broken[256];
    /* Mapped mode (see "Holding the log alone" below). */
    int jobs;           /* jobs under way: jx__evlog_job_begin/end */
    int try_map;        /* the job may still take the log alone */
    unsigned job_appends; /* appends of the job under way, up to MAP_AFTER */
    int never_map;      /* no OFD locks or no fallocate: write(2) only */
    char *map;          /* NULL: appends are write(2)s */
    off_t map_off;      /* the file offset of map[0], a page boundary */
    int held;           /* holds the log alone (the append lock) */
    off_t alloc;        /* the file's size while held: records, zeros */
    off_t extent;       /* what the file grows by next */
    off_t populated;    /* the mapping is writable in the page tables up
                           to here */
    off_t ahead;        /* what is populated ahead next */
    off_t dropped;      /* pages before this are out of the page tables */
    unsigned since_check; /* appends since others were last looked for */
    struct timespec last_append; /* coarse clock, for the same */
};

/* Where the last line of a file of size bytes starts; size when the file
 * is empty or ends with a newline. */
static int last_line_start(int fd, off_t size, off_t *start)
{
    char buf[4096];

    *start = 0;
    for (off_t pos = size; pos > 0;) {
        size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
        const char *nl;

        pos -= (off_t)n;
        if (pread(fd, buf, n, pos) != (ssize_t)n)
            return -1;
        nl = memrchr(buf, '\n', n);
        if (nl != NULL) {
            *start = pos + (nl - buf) + 1;
            return 0;
        }
    }
    return 0;
}

/* Where the first NUL byte in [start, size) is, or size; -1 when the
 * file cannot be read. */
static off_t first_nul(int fd, off_t start, off_t size)
{
    char buf[4096];

    for (off_t pos = start; pos < size;) {
        size_t n = size - pos < (off_t)sizeof buf ? (size_t)(size - pos)
                                                  : sizeof buf;
        const char *nul;

        if (pread(fd, buf, n, pos) != (ssize_t)n)
            return -1;
        nul = memchr(buf, '\0', n);
        if (nul != NULL)
            return pos + (nul - buf);
        pos += (off_t)n;
    }
    return size;
}

/*
 * A crash in the middle of an append can leave a last line without its
 * newline.  Appending after it would glue the next record to it, so the
 * torn bytes, which never formed a record, are cut off first.
 */
static int cut_torn_tail(int fd, const char *path, jx_error *err)
{
    off_t size = lseek(fd, 0, SEEK_END), keep, nul;

    if (last_line_start(fd, size, &keep) != 0 ||
        (nul = first_nul(fd, keep, size)) < 0)
        return jx__fail(err, JX_EIO, "evidence log '%s': cannot read: %s",
                        path, strerror(errno));
    if (keep == size)
        return 0; /* empty, or ends with a whole line */
    if (ftruncate(fd, keep) != 0)
        return jx__fail(err, JX_EIO, "evidence log '%s': cannot cut the torn "
                                     "last line: %s", path, strerror(errno));
    /* A zero tail is what a writer that died with the log mapped leaves
     * (see cut_zero_tail); it is cut like a torn line. */
    jx__log(NULL, JX_LOG_WARNING,
            nul < size ? "evidence log: cut the zero tail left by a writer "
                         "that died while it held the log mapped"
                       : "evidence log: cut a torn last line left by an "
                         "interrupted write");
    return 0;
}

/* Takes the shared lock, waiting a little for a writer that is cutting
 * its tail: never for ever, as a program that holds the file locked
 * would otherwise hang the executor. */
static int lock_shared(int fd, const char *path, jx_error *err)
{
    for (int tries = 0; flock(fd, LOCK_SH | LOCK_NB) != 0; tries++) {
        struct timespec pause = {0, 10 * 1000 * 1000};

        if (errno != EWOULDBLOCK && errno != EINTR)
            return jx__fail(err, JX_EIO, "evidence log '%s': cannot lock: %s",
                            path, strerror(errno));
        if (tries == 300)
            return jx__fail(err, JX_EIO, "evidence log '%s': another program "
                                         "has held it locked for 3 s", path);
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* Whether this process's writers are alone on the file; if so the
 * exclusive lock is held, to be turned back into a shared one. */
static int lock_alone(int fd)
{
    return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/*
 * A writer killed in the middle of a large write(2) leaves the part it
 * wrote, without its newline, at the end of the file.  Another writer
 * appending after it would glue its own record onto that fragment, and
 * its job would no longer verify.  So every append is made under an
 * exclusive lock on the file, held only for the append, and checks the
 * end of the file first: under the lock no live writer is in the middle
 * of a write, so a last line without its newline is a dead writer's, and
 * it is marked as torn and ended with a newline before this writer's
 * records (see end_torn_record).
 *
 * The lock is an open file description lock (fcntl F_OFD_SETLKW): it
 * excludes two executors of one process as well as two processes, is
 * released by the kernel when its holder dies, and is not dropped when
 * some other descriptor of the file is closed, as a POSIX record lock
 * would be.  It is independent of the shared flock(2) lock that says a
 * writer has the file open.  The check costs no read in the common case:
 * while the file's size is where this writer's last append ended, nobody
 * else appended and the file ends with this writer's newline.
 *
 * Simpler designs fall short: a newline written before every record
 * would put empty lines in every log; a check of the tail without the
 * lock could pass just before another writer's torn write lands.
 */
#ifdef F_OFD_SETLKW
#define APPEND_LOCK F_OFD_SETLKW
#else
/* Without OFD locks: a process's lock, which closing any descriptor of
 * the file drops; enough between processes, and only a process's death
 * leaves a torn record. */
#define APPEND_LOCK F_SETLKW
#endif

/*
 * The append lock covers the file's bytes up to PRESENCE_AT, far beyond
 * any log; the byte at PRESENCE_AT is the presence lock, read-locked by
 * every writer while it has the log open, which a writer holding the log
 * alone looks for (see "Holding the log alone").  Lock ranges need no
 * bytes in the file.
 */
#define PRESENCE_AT ((off_t)1 << 62)

/* Takes (F_WRLCK) or drops (F_UNLCK) the append lock. */
static int append_lock(jx__evlog *log, short type)
{
    struct flock fl;

    if (log->no_append_lock)
        return 0;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_len = PRESENCE_AT;
    while (fcntl(log->fd, APPEND_LOCK, &fl) != 0) {
        if (errno == EINTR)
            continue;
        /* A file system without these locks: as where flock(2) fails,
         * this writer can only assume it is alone. */
        if (errno == EINVAL || errno == ENOLCK || errno == EOPNOTSUPP) {
            log->no_append_lock = 1;
            return 0;
        }
        return -1;
    }
    return 0;
}

/* Whether the torn line [start, size) names its job: the record's header
 * up to its whole job_id, as the verifier reads it. */
static int torn_names_job(int fd, off_t start, off_t size)
{
    static const char key[] = "\"job_id\":\"";
    char head[256];
    size_t n = size - start < (off_t)sizeof head ? (size_t)(size - start)
                                                 : sizeof head;
    const char *p;

    if (pread(fd, head, n, start) != (ssize_t)n)
        return -1;
    p = memmem(head, n, key, sizeof key - 1);
    return p != NULL &&
           (size_t)(head + n - p) >= sizeof key - 1 + JX__UUID_LEN;
}

/*
 * A writer that died while it held the log mapped leaves the rest of its
 * preallocated extent: zeros, perhaps after the bytes of a record it was
 * copying (some of which may still be zeros: a copy stores its bytes in
 * no set order, only the newline last).  No record holds a NUL byte
 * (JSON escapes it), so the zero tail starts at the first NUL after the
 * last whole line, and is cut.  What is left is a torn record like any
 * other: the prefix a torn write(2) leaves.  Returns the file's new size,
 * or -1 with why filled.
 */
static off_t cut_zero_tail(jx__evlog *log, off_t start, off_t size,
                           char *why, size_t why_len)
{
    off_t nul = first_nul(log->fd, start, size);

    if (nul < 0) {
        snprintf(why, why_len, "%s: cannot read: %s", log->path,
                 strerror(errno));
        return -1;
    }
    if (nul == size)
        return size;
    if (ftruncate(log->fd, nul) != 0) {
        snprintf(why, why_len, "%s: cannot cut a zero tail: %s", log->path,
                 strerror(errno));
        return -1;
    }
    jx__log(NULL, JX_LOG_WARNING, "evidence log: cut the zero tail left by "
                                  "a writer that died while it held the "
                                  "log mapped");
    return nul;
}

/*
 * Under the append lock, with the file size bytes long and not ending
 * with a newline: ends a dead writer's torn record so that the next
 * record starts a line of its own.  A torn record that names its job is
 * kept, marked and ended with a newline: `evidence verify` reports it as
 * that job's torn record, and the job as incomplete.  The mark tells it
 * from a record damaged later, which is tampering.  One cut before its
 * job_id says nothing of any job and would read as a line of no job: it
 * is cut off.  Returns the file's new size, or -1 with why filled.
 */
static off_t end_torn_record(jx__evlog *log, off_t size, char *why,
                             size_t why_len)
{
    off_t start;
    int named;

    if (last_line_start(log->fd, size, &start) != 0 ||
        (size = cut_zero_tail(log, start, size, why, why_len)) < 0)
        return -1;
    if (size == start)
        return size; /* nothing but zeros after the last whole line */
    if ((named = torn_names_job(log->fd, start, size)) < 0) {
        snprintf(why, why_len, "%s: cannot read: %s", log->path,
                 strerror(errno));
        return -1;
    }
    if (!named) {
        if (ftruncate(log->fd, start) != 0) {
            snprintf(why, why_len, "%s: cannot cut a torn record: %s",
                     log->path, strerror(errno));
            return -1;
        }
        size = start;
    } else if (write(log->fd, JX__TORN_MARK "\n", sizeof JX__TORN_MARK) !=
               (ssize_t)sizeof JX__TORN_MARK) {
        snprintf(why, why_len, "%s: cannot end a torn record: %s",
                 log->path, strerror(errno));
        return -1;
    } else {
        size += (off_t)sizeof JX__TORN_MARK;
    }
    jx__log(NULL, JX_LOG_WARNING,
            named ? "evidence log: marked a torn record left by a writer "
                    "that died mid-write"
                  : "evidence log: cut off a torn record, naming no job, "
                    "left by a writer that died mid-write");
    return size;
}

/* Under the append lock: makes sure the file ends with a whole line.
 * Returns the file's size, where the next append starts, or -1. */
static off_t ends_whole(jx__evlog *log, char *why, size_t why_len)
{
    off_t size = lseek(log->fd, 0, SEEK_END);
    char last;

    if (size < 0) {
        snprintf(why, why_len, "%s: cannot seek: %s", log->path,
                 strerror(errno));
        return -1;
    }
    if (size == log->end || size == 0)
        return size; /* nobody else appended, or nothing is there */
    if (pread(log->fd, &last, 1, size - 1) != 1) {
        snprintf(why, why_len, "%s: cannot read: %s", log->path,
                 strerror(errno));
        return -1;
    }
    return last == '\n' ? size : end_torn_record(log, size, why, why_len);
}

/* A log is a regular file: a FIFO would block or hand the evidence to
 * whoever reads it, a device (/dev/null) would swallow it, and neither
 * can be synced, cut or verified. */
static int must_be_regular(const struct stat *st, const char *path,
                           jx_error *err)
{
    if (S_ISREG(st->st_mode))
        return 0;
    return jx__fail(err, JX_ECONFIG, "evidence log '%s': %s, expected a "
                                     "regular file",
                    path, jx__file_kind(st->st_mode));
}

/* ---- Holding the log alone ------------------------------------------- */

/*
 * A writer that holds the log alone appends by copying its records into a
 * MAP_SHARED mapping of the file: no system call per append, and the
 * records are in the kernel's page cache, where a crash of the process
 * cannot take them, as soon as the copy ends.  The file is grown ahead
 * in extents (fallocate: real blocks, so a full disk fails there and not
 * as SIGBUS on a later store), and the zeros past the records - the zero
 * tail - are cut when the writer hands the log back: at the end of every
 * job, when another writer arrives, and at close.  A crash leaves the
 * zero tail; the next writer cuts it (cut_torn_tail, cut_zero_tail) and
 * `evidence verify` reads it as a torn tail.
 *
 * Holding the log alone means holding the append lock for as long as a
 * job runs, instead of for one append.  It is taken, without waiting, at
 * the job's append after its first MAP_AFTER, and only when no other
 * writer has the log open: every writer read-locks the presence byte
 * (PRESENCE_AT) from open to close, and the taker asks the kernel
 * (F_OFD_GETLK) whether anyone else holds it.  While it is held, nobody
 * else can append or cut (both are done under the append lock only, and
 * cut_torn_tail on open needs the flock(2) lock exclusive, which this
 * writer's shared lock prevents), so the file's end is this writer's to
 * write.
 *
 * A writer that arrives later takes the presence lock at open and waits
 * for the append lock in its first append.  The holder looks for it with
 * one F_OFD_GETLK every CHECK_EVERY appends, and at any append after the
 * coarse clock (a vDSO read, no system call) has moved on since the
 * last: after a handler that ran for a tick or longer, at once.  It then
 * hands the log back and appends with write(2) for the rest of the job.
 * So the newcomer waits at most for CHECK_EVERY of the holder's appends,
 * for the end of the holder's current step, or for the holder's job to
 * end, whichever is first; the holder's jobs after that find it present
 * and stay in shared mode until it closes.  Missing a newcomer for a
 * while is never unsafe: it cannot append until the lock is given back.
 *
 * Only jobs take the log alone (jx__evlog_job_begin/end): a writer with
 * no job under way, such as an idle executor or the audit trail, holds
 * nothing another writer could wait for.
 */
#ifdef F_OFD_SETLK
#define OFD_LOCKS 1
#else
/* Process locks do not exclude two writers of one process: without OFD
 * locks, the log is never held alone (see jx__evlog_open). */
#define OFD_LOCKS 0
#define F_OFD_SETLK F_SETLK
#define F_OFD_GETLK F_GETLK
#endif
#define FIRST_EXTENT ((off_t)1 << 20)  /* a job's first: 1 MiB */
/* then doubled up to 4 MiB: the pages of the extent being filled count in
 * the process's resident memory, and a larger one saves little */
#define LAST_EXTENT ((off_t)4 << 20)
#define CHECK_EVERY 64
/* A job's first appends are made with write(2).  Taking the log alone
 * costs about as much as 80 of them (fallocate, the first pages made
 * writable, the cut of the zero tail at the end), which a short job would
 * never win back. */
#define MAP_AFTER 64
/* Populated ahead: 16 KiB at first, doubling up to 256 KiB at a time,
 * so that a short job does not make pages it never writes. */
#define FIRST_POPULATE ((off_t)16 << 10)
#define LAST_POPULATE ((off_t)256 << 10)
/*
 * An extent of at least HUGE_EXTENT is mapped with huge pages where the
 * kernel can (MADV_HUGEPAGE, on file systems with large folios, such as
 * ext4 on Linux 6.18): one page-table entry per 2 MiB.  The first store
 * into each 4 KiB page otherwise costs far more than the copy itself -
 * several microseconds a page under some hypervisors - and pages written
 * once, never again, pay it every time.  Not under fsync: step, where
 * each sync would write a whole huge page back for one record.
 */
#define HUGE_EXTENT ((off_t)2 << 20)
/* Written pages are dropped from the page tables in whole huge pages, so
 * that a huge mapping is never split. */
#define DROP_EVERY HUGE_EXTENT

static int evlog_sync_locked(jx__evlog *log, char *why, size_t why_len);

static off_t page_of(off_t at)
{
    static long page_size;

    if (page_size == 0)
        page_size = sysconf(_SC_PAGESIZE);
    return at & ~(off_t)(page_size - 1);
}

/* Read-locks the presence byte: this writer has the log open. */
static int presence_lock(int fd)
{
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET,
                       .l_start = PRESENCE_AT, .l_len = 1};

    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Whether another writer has the log open; an error counts as yes. */
static int others_present(const jx__evlog *log)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = PRESENCE_AT, .l_len = 1};

    return fcntl(log->fd, F_OFD_GETLK, &fl) != 0 || fl.l_type != F_UNLCK;
}

/* Grows the file to alloc bytes and maps it from the page holding
 * log->end.  -1 when it could not: the caller hands the log back, which
 * cuts whatever was grown. */
static int map_extent(jx__evlog *log, off_t alloc)
{
    off_t from = page_of(log->end), have = log->map != NULL ? log->alloc
                                                            : log->end;
    void *map;

    if (fallocate(log->fd, 0, have, alloc - have) != 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS)
            log->never_map = 1; /* a sparse file could SIGBUS when full */
        return -1;
    }
    if (log->map != NULL)
        munmap(log->map, (size_t)(log->alloc - log->map_off));
    log->map = NULL;
    log->alloc = alloc;
    map = mmap(NULL, (size_t)(alloc - from), PROT_READ | PROT_WRITE,
               MAP_SHARED, log->fd, from);
    if (map == MAP_FAILED)
        return -1;
#ifdef MADV_HUGEPAGE
    /* Advice only: where the kernel cannot, 4 KiB pages are used. */
    if (log->fsync != JX__FSYNC_STEP && alloc - from >= HUGE_EXTENT)
        (void)madvise(map, (size_t)(alloc - from), MADV_HUGEPAGE);
#endif
    log->map = map;
    log->map_off = from;
    log->populated = from;
    log->dropped = from;
    return 0;
}

/* Where the file should end to hold `need` bytes and a new extent.  A
 * huge extent ends on a huge page's boundary, so that its mapping holds
 * whole huge pages (the kernel aligns it for them only then). */
static off_t extent_end(const jx__evlog *log, off_t need)
{
    off_t end = need + log->extent;

    if (log->extent >= HUGE_EXTENT)
        end = (end + HUGE_EXTENT - 1) & ~(HUGE_EXTENT - 1);
    return end;
}

/*
 * Drops the written pages behind the append point from this process's
 * page tables, 2 MiB at a time: they stay in the page cache (dirty
 * until written back, or synced as the policy says), but no longer count
 * in the process's resident memory, which would otherwise hold each
 * extent whole as it fills (a 100,000-step job: up to 4 MiB more).
 */
static void drop_behind(jx__evlog *log)
{
    off_t to = log->end & ~(DROP_EVERY - 1);

    if (to - log->dropped < DROP_EVERY)
        return;
    if (madvise(log->map + (log->dropped - log->map_off),
                (size_t)(to - log->dropped), MADV_DONTNEED) == 0)
        log->dropped = to;
}

/*
 * Makes the pages the next append writes writable in the page tables
 * ahead of it, up to LAST_POPULATE bytes at a time: one system call
 * instead of a page fault per 4 KiB, the largest cost of a copy into the
 * mapping.
 * Not under fsync: step, where every sync would write the zeros ahead
 * too.  Where the kernel cannot (before Linux 5.14), the faults happen.
 */
static void populate_ahead(jx__evlog *log, off_t to)
{
#ifdef MADV_POPULATE_WRITE
    off_t from = log->populated;

    if (to <= from || log->fsync == JX__FSYNC_STEP)
        return;
    to = page_of(to + log->ahead);
    if (log->ahead < LAST_POPULATE)
        log->ahead *= 2;
    if (to > log->alloc)
        to = log->alloc;
    if (madvise(log->map + (from - log->map_off), (size_t)(to - from),
                MADV_POPULATE_WRITE) == 0)
        log->populated = to;
    else
        log->populated = log->alloc; /* not again for this extent */
#else
    (void)log;
    (void)to;
#endif
}

/*
 * Gives the log back to shared mode: the zero tail cut, the mapping
 * dropped, the append lock released.  The file then ends with this
 * writer's last newline, at log->end.  0, or -1 with why set when the
 * tail could not be cut; it stays, and the next append (this writer's or
 * another's) cuts it as a dead writer's.
 */
static int hand_back(jx__evlog *log, char *why, size_t why_len)
{
    int rc = 0;

    if (!log->held)
        return 0;
    if (log->map != NULL)
        munmap(log->map, (size_t)(log->alloc - log->map_off));
    log->map = NULL;
    if (ftruncate(log->fd, log->end) != 0) {
        snprintf(why, why_len, "%s: cannot cut the preallocated tail: %s",
                 log->path, strerror(errno));
        log->end = -1; /* the file does not end where this writer's did */
        rc = -1;
    }
    log->held = 0;
    append_lock(log, F_UNLCK);
    return rc;
}

/* hand_back, a failure only logged: the tail left is cut later. */
static void hand_back_quietly(jx__evlog *log)
{
    char why[256];

    if (hand_back(log, why, sizeof why) != 0)
        jx__log(NULL, JX_LOG_WARNING, why);
}

/* At a job's append after its first MAP_AFTER: takes the log alone if no
 * other writer has it open.  Leaves it shared (and says nothing)
 * otherwise. */
static void take_alone(jx__evlog *log)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_len = PRESENCE_AT};
    char why[256];
    off_t size;

    log->try_map = 0;
    if (fcntl(log->fd, F_OFD_SETLK, &fl) != 0)
        return; /* another writer is appending */
    if (others_present(log) ||
        (size = ends_whole(log, why, sizeof why)) < 0) {
        append_lock(log, F_UNLCK);
        return; /* an unmendable tail is reported by the append itself */
    }
    log->held = 1;
    log->end = size;
    log->alloc = size;
    log->extent = FIRST_EXTENT;
    log->ahead = FIRST_POPULATE;
    if (map_extent(log, size + log->extent) != 0) {
        hand_back_quietly(log);
        return;
    }
    log->since_check = 0;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &log->last_append);
}

/* Whether another writer may be waiting: looked for every CHECK_EVERY
 * appends and whenever the coarse clock moved since the last append. */
static int others_waiting(jx__evlog *log)
{
    struct timespec now;
    int moved;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    moved = now.tv_nsec != log->last_append.tv_nsec ||
            now.tv_sec != log->last_append.tv_sec;
    log->last_append = now;
    if (++log->since_check < CHECK_EVERY && !moved)
        return 0;
    log->since_check = 0;
    return others_present(log);
}

/*
 * Copies whole lines into the mapping, each line's newline stored after
 * the rest of its bytes (the fence keeps the compiler from moving it
 * ahead).  A writer killed mid-copy thus leaves whole lines, then at most
 * one line's bytes without a newline, then zeros: what cut_zero_tail
 * expects.  memcpy alone stores in no set order.
 */
static void copy_lines(char *dst, const char *src, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(src, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - src) + 1 : len;

        memcpy(dst, src, nl != NULL ? n - 1 : n);
        if (nl != NULL) {
            atomic_signal_fence(memory_order_seq_cst);
            dst[n - 1] = '\n';
        }
        dst += n;
        src += n;
        len -= n;
    }
}

/* Appends through the mapping.  0, -1 with why set, or 1 when the log was
 * handed back and the append is still to be made with write(2). */
static int append_mapped(jx__evlog *log, const char *data, size_t len,
                         char *why, size_t why_len)
{
    off_t start = log->end;

    if (others_waiting(log)) {
        hand_back_quietly(log);
        return 1;
    }
    if (start + (off_t)len > log->alloc) {
        if (log->extent < LAST_EXTENT)
            log->extent *= 2;
        if (map_extent(log, extent_end(log, start + (off_t)len)) != 0) {
            hand_back_quietly(log);
            return 1;
        }
    }
    populate_ahead(log, start + (off_t)len);
    copy_lines(log->map + (start - log->map_off), data, len);
    log->end = start + (off_t)len;
    drop_behind(log);
    /* fdatasync, not msync: the same pages reach the disk (only this
     * append's are dirty), and every policy's sync is one call. */
    return log->fsync == JX__FSYNC_STEP ? evlog_sync_locked(log, why,
                                                            why_len)
                                        : 0;
}

int jx__evlog_open(const char *path, jx__fsync_policy policy,
                   jx__evlog **out, jx_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for its reader; the flag is
     * cleared again for the regular file that alone is kept. */
    const int flags = O_RDWR | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    jx__evlog *log;
    struct stat st;
    int fd, created = 0, rc = 0, alone, others, shared;

    *out = NULL;
    fd = open(path, flags);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, flags | O_CREAT | O_EXCL, 0600);
        created = fd >= 0;
        /* Another writer created it in between: open what it made. */
        if (fd < 0 && errno == EEXIST)
            fd = open(path, flags);
    }
    if (fd < 0)
        return jx__fail(err, JX_ECONFIG, "evidence log '%s': cannot open: %s",
                        path, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = jx__fail(err, JX_EIO, "evidence log '%s': cannot inspect: %s",
                      path, strerror(errno));
    else if ((rc = must_be_regular(&st, path, err)) == 0 &&
             fcntl(fd, F_SETFL, O_APPEND) != 0)
        rc = jx__fail(err, JX_EIO, "evidence log '%s': cannot set its "
                                   "flags: %s", path, strerror(errno));
    if (rc != 0) {
        close(fd);
        return rc;
    }
    alone = lock_alone(fd);
    others = !alone && errno == EWOULDBLOCK;
    /* Where flock(2) fails otherwise, this writer assumes it is alone. */
    shared = alone || others;
    if (created && policy == JX__FSYNC_STEP)
        rc = jx__sync_folder_of(path, err);
    else if (!created && !others)
        rc = cut_torn_tail(fd, path, err);
    if (rc == 0 && shared)
        rc = lock_shared(fd, path, err);
    log = rc == 0 ? calloc(1, sizeof *log) : NULL;
    if (log == NULL || (log->path = strdup(path)) == NULL) {
        free(log);
        close(fd);
        return rc != 0 ? rc : jx__fail(err, JX_ENOMEM, "out of memory");
    }
    log->fd = fd;
    log->end = -1;
    log->shared = shared;
    log->fsync = policy;
    /* A writer that cannot say it is here must never hold the log alone
     * either: on such a file system neither would work. */
    log->never_map = !OFD_LOCKS || presence_lock(fd) != 0;
    pthread_mutex_init(&log->lock, NULL);
    *out = log;
    return 0;
}

int jx__evlog_probe(const char *path, jx_error *err)
{
    struct stat st;
    char *dir;
    int fd, rc = 0;

    /* Before open: a FIFO without a reader would only say ENXIO. */
    if (stat(path, &st) == 0 && (rc = must_be_regular(&st, path, err)) != 0)
        return rc;
    fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != ENOENT)
        return jx__fail(err, JX_ECONFIG, "evidence log '%s': cannot open: %s",
                        path, strerror(errno));
    if ((dir = jx__folder_of(path)) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)
        rc = jx__fail(err, JX_ECONFIG, "evidence log '%s': cannot be "
                                       "created in '%s': %s",
                      path, dir, strerror(errno));
    free(dir);
    return rc;
}

void jx__evlog_close(jx__evlog *log)
{
    if (log == NULL)
        return;
    hand_back_quietly(log);
    close(log->fd);
    pthread_mutex_destroy(&log->lock);
    free(log->path);
    free(log);
}

/* Under the lock.  Never called twice on the same data after a failure:
 * see jx__evlog.broken. */
static int evlog_sync_locked(jx__evlog *log, char *why, size_t why_len)
{
    if (fdatasync(log->fd) == 0)
        return 0;
    snprintf(log->broken, sizeof log->broken,
             "%s: sync failed: %s; nothing more is written to this file",
             log->path, strerror(errno));
    snprintf(why, why_len, "%s", log->broken);
    return -1;
}

/* Cuts a failed append's bytes, [start, start + written), back off the
 * file: only while no other writer can append, and only if they are its
 * last bytes in one piece.  Returns 0 when the file is as it was. */
static int cut_failed_append(jx__evlog *log, off_t start, size_t written)
{
    off_t end = start + (off_t)written;
    struct stat st;
    int ok;

    if (written == 0)
        return 0;
    ok = (!log->shared || lock_alone(log->fd)) &&
         lseek(log->fd, 0, SEEK_CUR) == end && fstat(log->fd, &st) == 0 &&
         st.st_size == end && ftruncate(log->fd, start) == 0;
    if (log->shared && lock_shared(log->fd, log->path, NULL) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Writes the bytes whole, carrying on after short writes, under the lock
 * so that records of concurrent jobs never interleave.  A failed append
 * is cut back off the file: a half-written record must not glue itself to
 * the next one. */
int jx__evlog_append(jx__evlog *log, const char *data, size_t len,
                        char *why, size_t why_len)
{
    size_t written = 0;
    off_t start = 0, size;
    int rc = 0;

    pthread_mutex_lock(&log->lock);
    if (log->broken[0] != '\0') {
        snprintf(why, why_len, "%s", log->broken);
        pthread_mutex_unlock(&log->lock);
        return -1;
    }
    if (!log->held && log->try_map && log->jobs > 0 && !log->never_map &&
        !log->no_append_lock && ++log->job_appends > MAP_AFTER)
        take_alone(log);
    if (log->held && (rc = append_mapped(log, data, len, why, why_len)) <= 0) {
        pthread_mutex_unlock(&log->lock);
        return rc;
    }
    rc = 0; /* handed back: the append is made below */
    if (append_lock(log, F_WRLCK) != 0) {
        snprintf(why, why_len, "%s: cannot lock: %s", log->path,
                 strerror(errno));
        pthread_mutex_unlock(&log->lock);
        return -1;
    }
    size = ends_whole(log, why, why_len);
    if (size < 0) {
        len = 0; /* nothing is appended after a tail it could not mend */
        rc = -1;
    }
    while (len > 0) {
        ssize_t n = write(log->fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, why_len, "%s: %s", log->path, strerror(errno));
            if (cut_failed_append(log, start, written) != 0)
                snprintf(log->broken, sizeof log->broken,
                         "%s: a failed append could not be cut off safely; "
                         "nothing more is written to this file", log->path);
            rc = -1;
            break;
        }
        /* O_APPEND: the offset is now just past what this call wrote.
         * Asked only after a short write, the one case that can fail with
         * bytes on disk: a seek per record would cost a system call. */
        if (written == 0 && (size_t)n < len)
            start = lseek(log->fd, 0, SEEK_CUR) - n;
        data += n;
        len -= (size_t)n;
        written += (size_t)n;
    }
    /* Appends are made under the lock: this one started at size. */
    log->end = rc == 0 ? size + (off_t)written : -1;
    append_lock(log, F_UNLCK); /* never fails for a lock that is held */
    if (rc == 0 && log->fsync == JX__FSYNC_STEP)
        rc = evlog_sync_locked(log, why, why_len);
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* At job end, and after cutting a held log's tail under fsync: step
 * (the cut changed the file's size): syncs, under the lock. */
static int evlog_sync(jx__evlog *log, char *why, size_t why_len)
{
    if (log->broken[0] != '\0') {
        snprintf(why, why_len, "%s", log->broken);
        return -1;
    }
    return evlog_sync_locked(log, why, why_len);
}

void jx__evlog_job_begin(jx__evlog *log)
{
    pthread_mutex_lock(&log->lock);
    log->jobs++;
    log->try_map = 1;
    log->job_appends = 0;
    pthread_mutex_unlock(&log->lock);
}

int jx__evlog_job_done(jx__evlog *log, char *why, size_t why_len)
{
    int cut, rc = 0;

    pthread_mutex_lock(&log->lock);
    /* The tail is cut before the sync, so that the synced file ends with
     * the job's last record, not with zeros. */
    cut = log->held;
    hand_back_quietly(log);
    log->try_map = 1;
    log->job_appends = 0;
    if (log->fsync == JX__FSYNC_JOB || (log->fsync == JX__FSYNC_STEP && cut))
        rc = evlog_sync(log, why, why_len);
    pthread_mutex_unlock(&log->lock);
    return rc;
}

void jx__evlog_job_end(jx__evlog *log)
{
    pthread_mutex_lock(&log->lock);
    log->jobs--;
    hand_back_quietly(log); /* a job that failed before job_done */
    log->try_map = 1;
    log->job_appends = 0;
    pthread_mutex_unlock(&log->lock);
}
