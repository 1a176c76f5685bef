/*
 * testutil.h - helpers shared by the cmocka suites: temporary folders,
 * files, and running the real jobexec binary.  What the suites set up
 * around the library (ids, executors, plans, handlers) is in fixture.h.
 */
#ifndef JX_TESTUTIL_H
#define JX_TESTUTIL_H

#include <stddef.h>

/* Paths baked in by tests/Makefile.inc. */
#define TU_SRCDIR JX_TEST_SRCDIR       /* the source tree */
#define TU_BUILDDIR JX_TEST_BUILDDIR   /* the build tree */
#define TU_DATADIR JX_TEST_SRCDIR "/tests/data"
#define TU_FIXTURES JX_TEST_BUILDDIR "/tests/plugins/.libs" /* fixture .so */
#define TU_PLUGINS JX_TEST_BUILDDIR "/plugins/.libs"        /* shipped .so */
#define TU_JOBEXEC tu_jobexec()                             /* the CLI */
#define TU_RUNNER JX_TEST_BUILDDIR "/jobexec-runner"        /* its runner */

/* A fresh private folder under $TMPDIR (or /tmp); free() the result after
 * tu_rm_rf(). */
char *tu_mkdtemp(void);
/* Removes a folder and everything in it. */
void tu_rm_rf(const char *dir);
/* Writes text to dir/name (mode 0644) and returns the malloc'd path. */
char *tu_write(const char *dir, const char *name, const char *text);
/* Reads a whole file; NULL when it cannot.  free() the result. */
char *tu_read(const char *path);
/* Copies a file, keeping nothing but the bytes; mode as given. */
int tu_copy(const char *from, const char *to, unsigned mode);

typedef struct tu_proc {
    int status; /* exit status, or 128 + signal */
    char *out;  /* all of stdout */
    char *err;  /* all of stderr */
} tu_proc;

/* Runs argv (argv[0] a path) with stdin_text (NULL: /dev/null) and waits. */
void tu_run(tu_proc *p, const char *stdin_text, const char *const *argv);
void tu_proc_free(tu_proc *p);

/* The path of the CLI under test: the binary itself, never libtool's
 * wrapper script (see testutil.c). */
const char *tu_jobexec(void);

/* Counts the lines of a file (0 when missing). */
size_t tu_count_lines(const char *path);

/* What /proc/self/smaps says of the mappings that hold address `at` (when
 * not NULL) or name file `path` (when not NULL): -1 when there is none,
 * else 1 when one of them carries VmFlags `flag` (such as "hg", the
 * huge-page advice), 0 when none does. */
int tu_mapping_flag(const void *at, const char *path, const char *flag);

#endif
