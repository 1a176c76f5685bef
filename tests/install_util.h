/*
 * install_util.h - what the suites of the installed files share:
 * `make install` staged once per suite into a temporary folder (DESTDIR),
 * the paths in it, environments for the programs run on it, and running
 * the staged jobexec with the staged library.
 */
#ifndef JX_TEST_INSTALL_UTIL_H
#define JX_TEST_INSTALL_UTIL_H

#include "cli_util.h"

/* The staged installation.  Every path is absolute; the strings live
 * until install_teardown(). */
typedef struct installed {
    int tried;       /* install_stage() ran */
    int ok;          /* and succeeded */
    char *root;      /* DESTDIR, mode 0755 (runners as nobody reach in) */
    char *prefix;    /* root + the configured prefix */
    char *bin;       /* the staged jobexec */
    char *libdir;    /* the staged libjobexec's folder */
    char *include;   /* the staged headers' -I folder */
    char *plugins;   /* the staged plugin folder */
    char *runner;    /* the staged jobexec-runner */
    char *pkgconfig; /* the folder holding the staged jobexec.pc */
} installed;

extern installed inst;

/* The configured prefix, from the build's jobexec.pc; free() it. */
char *configured_prefix(void);

/* Runs `make install DESTDIR=...` from the build tree the first time it
 * is called and fills inst; later calls return what the first one did:
 * 0 staged, -1 not (what make said is on stderr). */
int install_stage(void);

/* A cmocka group teardown: removes the staged tree. */
int install_teardown(void **state);

/* Our environment with changes: each of vars is "NAME=VALUE" (set or
 * replace) or "NAME" (remove); vars ends with NULL.  Free with
 * free_env(). */
char **env_with(const char *const *vars);
void free_env(char **env);

/* Runs the staged jobexec with the staged library on args (NULL-ended,
 * at most 14); the result is in f->p. */
void run_installed(fixture *f, const char *const *args);
#define INSTALLED(f, ...)                                                    \
    run_installed((f), (const char *const[]){__VA_ARGS__, NULL})

#endif
