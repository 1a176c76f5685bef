/*
 * sqlite_load.c - SQLite, loaded on first use (see sqlite_load.h).  Built
 * into the library and, for the registry commands, into the CLI too:
 * libjobexec keeps its internal names to itself.
 */
#define JX__SQLITE_LOAD_C 1

#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "base/dl_table.h"
#include "base/sqlite_load.h"

/* The soname of the SQLite the build was made against (Debian:
 * libsqlite3-0). */
#define LIBSQLITE_SONAME "libsqlite3.so.0"

struct jx__sqlite_api jx__sqlite;

static const jx__dl_symbol symbols[] = {
    {"sqlite3_bind_double", (void **)&jx__sqlite.f_sqlite3_bind_double},
    {"sqlite3_bind_int64", (void **)&jx__sqlite.f_sqlite3_bind_int64},
    {"sqlite3_bind_text", (void **)&jx__sqlite.f_sqlite3_bind_text},
    {"sqlite3_busy_timeout", (void **)&jx__sqlite.f_sqlite3_busy_timeout},
    {"sqlite3_changes", (void **)&jx__sqlite.f_sqlite3_changes},
    {"sqlite3_close", (void **)&jx__sqlite.f_sqlite3_close},
    {"sqlite3_column_double", (void **)&jx__sqlite.f_sqlite3_column_double},
    {"sqlite3_column_int", (void **)&jx__sqlite.f_sqlite3_column_int},
    {"sqlite3_column_int64", (void **)&jx__sqlite.f_sqlite3_column_int64},
    {"sqlite3_column_text", (void **)&jx__sqlite.f_sqlite3_column_text},
    {"sqlite3_column_type", (void **)&jx__sqlite.f_sqlite3_column_type},
    {"sqlite3_errmsg", (void **)&jx__sqlite.f_sqlite3_errmsg},
    {"sqlite3_exec", (void **)&jx__sqlite.f_sqlite3_exec},
    {"sqlite3_finalize", (void **)&jx__sqlite.f_sqlite3_finalize},
    {"sqlite3_open_v2", (void **)&jx__sqlite.f_sqlite3_open_v2},
    {"sqlite3_prepare_v2", (void **)&jx__sqlite.f_sqlite3_prepare_v2},
    {"sqlite3_step", (void **)&jx__sqlite.f_sqlite3_step},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[512]; /* empty once loaded */

static void load(void)
{
    const char *missing;

    if (jx__dl_table(LIBSQLITE_SONAME, symbols,
                     sizeof symbols / sizeof *symbols, &missing) == 0)
        return;
    if (missing == NULL)
        snprintf(why, sizeof why,
                 "SQLite cannot be loaded (%s; Debian: apt-get install "
                 "libsqlite3-0)",
                 dlerror());
    else
        snprintf(why, sizeof why, "%s has no %s", LIBSQLITE_SONAME, missing);
}

const char *jx__sqlite_load(void)
{
    pthread_once(&once, load);
    return why[0] == '\0' ? NULL : why;
}
