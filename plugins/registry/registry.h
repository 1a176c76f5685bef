/*
 * registry.h - what the files of the registry plugin share: a capability
 * registry in an SQLite database (db.c: opening, schema, migrations), the
 * step types that change it (steps.c) and the health observer that reads
 * it (observer.c).
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>

#include <sqlite3.h>

#include <jobexec/step_handler_v1.h>

/* The schema version this plugin writes; older databases are migrated
 * forward when opened for writing, newer ones refused. */
#define REG_SCHEMA_VERSION 2

/* Longest target (a capability name or configuration key), in bytes. */
#define REG_TARGET_MAX 256

#define REG_DEFAULT_BUSY_TIMEOUT_MS 10000
#define REG_DEFAULT_MAX_ENTRIES 1000

/* One open database.  path and db are owned; freed by reg_close(). */
typedef struct reg_db {
    char *path;
    sqlite3 *db;
    int busy_timeout_ms;
    double busy_since; /* when the current wait for a lock began */
} reg_db;

/*
 * Opens path for reading and writing: created with its schema when absent,
 * migrated forward when older, WAL mode, busy_timeout_ms for waits on
 * other writers.  Returns 0, or -1 with a one-line reason in why.  The
 * connection keeps a pointer to *out: it must stay where it is until
 * reg_close().
 */
int reg_open(const char *path, int busy_timeout_ms, reg_db *out, char *why,
             size_t why_len);

/*
 * Opens path read-only (SQLITE_OPEN_READONLY and PRAGMA query_only): no
 * statement through this connection can change the database.  The schema
 * must be this plugin's.  Returns 0, or -1 with why.
 */
int reg_open_readonly(const char *path, int busy_timeout_ms, reg_db *out,
                      char *why, size_t why_len);

void reg_close(reg_db *d);

/* The database's user_version, or -1 when it cannot be read. */
int reg_schema_version(sqlite3 *db);

/* The current UTC time, ISO 8601 with microseconds and "+00:00". */
#define REG_TIME_SIZE 64
void reg_now(char out[REG_TIME_SIZE]);

/* Writes a one-line reason: snprintf into why, always NUL-terminated. */
void reg_why(char *why, size_t why_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The registry's config: db (required), busy_timeout_ms, and for the
 * observer max_capabilities and max_configuration. */
typedef struct reg_config {
    char *db;
    int busy_timeout_ms;
    int max_capabilities;
    int max_configuration;
} reg_config;

int reg_config_read(const jx_host_v1 *host, const jx_plugin_config *config,
                    reg_config *out, char *why, size_t why_len);
void reg_config_free(reg_config *c);

/* The handler's state: its config and its connection. */
typedef struct reg_state {
    reg_config cfg;
    reg_db db;
} reg_state;

/* steps.c: the handler's entry points. */
int reg_validate(void *state, const jx_host_v1 *host, const jx_step *step,
                 char *why, size_t why_len);
int reg_execute(void *state, const jx_host_v1 *host, const jx_context *ctx,
                const jx_step *step, jx_output *out);

/* observer.c: the snapshot. */
int reg_observe(void *state, const jx_host_v1 *host, jx_output *snapshot,
                char *why, size_t why_len);

#endif
