/*
 * sqlite_load.h - SQLite, loaded on first use, not linked.
 *
 * Only the scope store and the CLI's registry commands use SQLite; linking
 * it cost every process about half a millisecond of start-up (its
 * relocations), a tenth of a `jobexec run` of a small job.  sqlite3.h
 * still gives the types; the calls go through this table, and the names
 * below keep the code reading as plain SQLite.  Include this header
 * instead of <sqlite3.h>, and call jx__sqlite_load() before the first
 * call.
 */
#ifndef JX__BASE_SQLITE_LOAD_H
#define JX__BASE_SQLITE_LOAD_H

#include <sqlite3.h>

struct jx__sqlite_api {
    __typeof__(sqlite3_bind_double) *f_sqlite3_bind_double;
    __typeof__(sqlite3_bind_int64) *f_sqlite3_bind_int64;
    __typeof__(sqlite3_bind_text) *f_sqlite3_bind_text;
    __typeof__(sqlite3_busy_timeout) *f_sqlite3_busy_timeout;
    __typeof__(sqlite3_changes) *f_sqlite3_changes;
    __typeof__(sqlite3_close) *f_sqlite3_close;
    __typeof__(sqlite3_column_double) *f_sqlite3_column_double;
    __typeof__(sqlite3_column_int) *f_sqlite3_column_int;
    __typeof__(sqlite3_column_int64) *f_sqlite3_column_int64;
    __typeof__(sqlite3_column_text) *f_sqlite3_column_text;
    __typeof__(sqlite3_column_type) *f_sqlite3_column_type;
    __typeof__(sqlite3_errmsg) *f_sqlite3_errmsg;
    __typeof__(sqlite3_exec) *f_sqlite3_exec;
    __typeof__(sqlite3_finalize) *f_sqlite3_finalize;
    __typeof__(sqlite3_open_v2) *f_sqlite3_open_v2;
    __typeof__(sqlite3_prepare_v2) *f_sqlite3_prepare_v2;
    __typeof__(sqlite3_step) *f_sqlite3_step;
};
extern struct jx__sqlite_api jx__sqlite;

/* Loads SQLite and fills jx__sqlite, once per process (thread-safe).
 * Returns NULL, or why it cannot be loaded (a static string). */
const char *jx__sqlite_load(void);

#ifndef JX__SQLITE_LOAD_C
#define sqlite3_bind_double (jx__sqlite.f_sqlite3_bind_double)
#define sqlite3_bind_int64 (jx__sqlite.f_sqlite3_bind_int64)
#define sqlite3_bind_text (jx__sqlite.f_sqlite3_bind_text)
#define sqlite3_busy_timeout (jx__sqlite.f_sqlite3_busy_timeout)
#define sqlite3_changes (jx__sqlite.f_sqlite3_changes)
#define sqlite3_close (jx__sqlite.f_sqlite3_close)
#define sqlite3_column_double (jx__sqlite.f_sqlite3_column_double)
#define sqlite3_column_int (jx__sqlite.f_sqlite3_column_int)
#define sqlite3_column_int64 (jx__sqlite.f_sqlite3_column_int64)
#define sqlite3_column_text (jx__sqlite.f_sqlite3_column_text)
#define sqlite3_column_type (jx__sqlite.f_sqlite3_column_type)
#define sqlite3_errmsg (jx__sqlite.f_sqlite3_errmsg)
#define sqlite3_exec (jx__sqlite.f_sqlite3_exec)
#define sqlite3_finalize (jx__sqlite.f_sqlite3_finalize)
#define sqlite3_open_v2 (jx__sqlite.f_sqlite3_open_v2)
#define sqlite3_prepare_v2 (jx__sqlite.f_sqlite3_prepare_v2)
#define sqlite3_step (jx__sqlite.f_sqlite3_step)
#endif

#endif
