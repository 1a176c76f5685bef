/*
 * db.c - the registry database: opened for writing (created and migrated
 * forward as needed) or read-only, with the schema's versions numbered by
 * PRAGMA user_version.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "registry.h"

/*
 * migrations[i] takes a database from user_version i to i + 1.  A new
 * version appends a step here and raises REG_SCHEMA_VERSION; a step is
 * never edited once released.
 */
static const char *const migrations[REG_SCHEMA_VERSION] = {
    /* 0 -> 1: capabilities, configuration, history. */
    "CREATE TABLE capabilities ("
    "  name TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE configuration ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"     /* JSON text */
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id TEXT NOT NULL,"
    "  contract_id TEXT NOT NULL,"
    "  step_index INTEGER NOT NULL,"
    "  step_type TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  previous_value TEXT,"     /* a state or JSON text; NULL: none */
    "  new_value TEXT,"
    "  executed_by TEXT NOT NULL,"
    "  changed_at TEXT NOT NULL);",
    /* 1 -> 2: descriptions and creation times; history looked up by
     * capability and by job. */
    "ALTER TABLE capabilities ADD COLUMN description TEXT NOT NULL "
    "  DEFAULT '';"
    "ALTER TABLE capabilities ADD COLUMN created_at TEXT NOT NULL "
    "  DEFAULT '';"
    "CREATE INDEX history_by_target ON history (target, id);"
    "CREATE INDEX history_by_job ON history (job_id, id);",
};

void reg_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

void reg_now(char out[REG_TIME_SIZE])
{
    struct timespec ts;
    struct tm tm;
    char date[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, REG_TIME_SIZE, "%s.%06d+00:00", date,
             (int)(ts.tv_nsec / 1000) % 1000000);
}

int reg_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int fail(reg_db *d, char *why, size_t why_len, const char *what)
{
    reg_why(why, why_len, "registry database '%s': %s: %s", d->path, what,
            d->db != NULL ? sqlite3_errmsg(d->db) : "out of memory");
    reg_close(d);
    return -1;
}

/* Brings the schema to REG_SCHEMA_VERSION, one version per transaction.
 * BEGIN IMMEDIATE makes two executors opening a new database at once take
 * turns; each reads the version again inside its transaction. */
static int migrate(reg_db *d, char *why, size_t why_len)
{
    for (;;) {
        int v;
        char bump[64];

        if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK)
            return fail(d, why, why_len, "cannot start the migration");
        v = reg_schema_version(d->db);
        if (v < 0 || v > REG_SCHEMA_VERSION) {
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
            if (v < 0)
                return fail(d, why, why_len, "cannot read the schema version");
            reg_why(why, why_len, "registry database '%s': schema version %d "
                                  "is newer than this plugin's (%d)",
                    d->path, v, REG_SCHEMA_VERSION);
            reg_close(d);
            return -1;
        }
        if (v == REG_SCHEMA_VERSION)
            return sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
                       ? 0
                       : fail(d, why, why_len, "cannot commit");
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(d->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(d->db, bump, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migration to schema version %d", v + 1);
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
            return fail(d, why, why_len, what);
        }
    }
}

/* The folder must exist: it is the state folder ops (or the quick start)
 * made, and a typo in db: must not create folders elsewhere. */
static int folder_exists(const char *path, char *why, size_t why_len)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    struct stat st;

    if (slash == NULL || slash == path)
        return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    reg_why(why, why_len, "registry database '%s': the folder '%s' does not "
                          "exist (create it: mkdir -p %s)",
            path, dir, dir);
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Waiting for another writer's lock.  SQLite's own busy timeout sleeps
 * longer and longer (up to 100 ms a try), so a writer that commits step
 * after step keeps the lock while the waiter sleeps; a short, steady
 * retry gets in within a millisecond of a release.
 */
static int busy_wait(void *arg, int tries)
{
    reg_db *d = arg;
    struct timespec ts = {0, 1000000L};

    if (tries == 0)
        d->busy_since = now_s();
    if ((now_s() - d->busy_since) * 1e3 >= (double)d->busy_timeout_ms)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

static int open_as(const char *path, int flags, int busy_timeout_ms,
                   reg_db *d, char *why, size_t why_len)
{
    memset(d, 0, sizeof *d);
    if ((d->path = strdup(path)) == NULL) {
        reg_why(why, why_len, "out of memory");
        return -1;
    }
    if (sqlite3_open_v2(path, &d->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return fail(d, why, why_len, "cannot open");
    sqlite3_extended_result_codes(d->db, 1);
    d->busy_timeout_ms = busy_timeout_ms;
    sqlite3_busy_handler(d->db, busy_wait, d);
    return 0;
}

int reg_open(const char *path, int busy_timeout_ms, reg_db *out, char *why,
             size_t why_len)
{
    if (path[0] != '/') {
        reg_why(why, why_len, "db '%s' must be an absolute path", path);
        return -1;
    }
    if (folder_exists(path, why, why_len) != 0 ||
        open_as(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                busy_timeout_ms, out, why, why_len) != 0)
        return -1;
    /* WAL lets the observer read while a step writes; FULL makes every
     * committed step durable, as the evidence of it is. */
    if (sqlite3_exec(out->db, "PRAGMA journal_mode = WAL", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(out->db, "PRAGMA synchronous = FULL", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(out->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
            SQLITE_OK)
        return fail(out, why, why_len, "cannot set it up");
    return migrate(out, why, why_len);
}

int reg_open_readonly(const char *path, int busy_timeout_ms, reg_db *out,
                      char *why, size_t why_len)
{
    int v;

    if (open_as(path, SQLITE_OPEN_READONLY, busy_timeout_ms, out, why,
                why_len) != 0)
        return -1;
    if (sqlite3_exec(out->db, "PRAGMA query_only = ON", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fail(out, why, why_len, "cannot make it query-only");
    if ((v = reg_schema_version(out->db)) != REG_SCHEMA_VERSION) {
        reg_why(why, why_len, "registry database '%s': schema version %d, "
                              "expected %d (open it for writing first)",
                path, v, REG_SCHEMA_VERSION);
        reg_close(out);
        return -1;
    }
    return 0;
}

void reg_close(reg_db *d)
{
    if (d == NULL)
        return;
    sqlite3_close(d->db);
    free(d->path);
    d->db = NULL;
    d->path = NULL;
}

/* An integer config key within [lo, hi], or dflt when absent. */
static int config_int(const jx_host_v1 *host, const jx_plugin_config *config,
                      const char *key, int dflt, int lo, int hi, int *out,
                      char *why, size_t why_len)
{
    int64_t v;

    if (host->config_json(config, key) == NULL) {
        *out = dflt;
        return 0;
    }
    if (host->config_int(config, key, &v) != 0 || v < lo || v > hi) {
        reg_why(why, why_len, "config key '%s' must be an integer from %d to "
                              "%d",
                key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int reg_config_read(const jx_host_v1 *host, const jx_plugin_config *config,
                    reg_config *out, char *why, size_t why_len)
{
    const char *db = host->config_string(config, "db");

    memset(out, 0, sizeof *out);
    if (db == NULL || db[0] == '\0') {
        reg_why(why, why_len, "config key 'db' is required: the path of the "
                              "registry database");
        return -1;
    }
    if (config_int(host, config, "busy_timeout_ms", REG_DEFAULT_BUSY_TIMEOUT_MS,
                   0, 3600000, &out->busy_timeout_ms, why, why_len) != 0 ||
        config_int(host, config, "max_capabilities", REG_DEFAULT_MAX_ENTRIES,
                   0, 1000000, &out->max_capabilities, why, why_len) != 0 ||
        config_int(host, config, "max_configuration", REG_DEFAULT_MAX_ENTRIES,
                   0, 1000000, &out->max_configuration, why, why_len) != 0)
        return -1;
    if ((out->db = strdup(db)) == NULL) {
        reg_why(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

void reg_config_free(reg_config *c)
{
    free(c->db);
    c->db = NULL;
}
