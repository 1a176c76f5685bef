/*
 * scope.c - bound execution scopes in an SQLite store: created, listed,
 * revoked, and consumed by the gate one attempt at a time, in a
 * BEGIN IMMEDIATE transaction so that racing runs take turns and a
 * single-use scope lets exactly one through.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/common.h"
#include "base/sqlite_load.h"

#define DEFAULT_TTL_S 300
#define BUSY_TIMEOUT_MS 10000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS scopes ("
    "  id TEXT PRIMARY KEY,"
    "  incident_id TEXT NOT NULL,"
    "  actions TEXT NOT NULL,"           /* a JSON array of strings */
    "  max_attempts INTEGER NOT NULL,"
    "  attempts_used INTEGER NOT NULL DEFAULT 0,"
    "  max_cost_usd REAL,"
    "  intent TEXT,"
    "  created_by TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  expires_at REAL NOT NULL,"        /* seconds since the epoch */
    "  status TEXT NOT NULL CHECK (status IN ('active', 'exhausted', "
    "    'revoked')));"
    "PRAGMA user_version = 1;";

struct jx_scope_store {
    char *path;
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection, shared by the executor's jobs */
};

static int db_fail(jx_scope_store *s, jx_error *err, const char *what)
{
    return jx__fail(err, JX_EIO, "scope store '%s': %s: %s", s->path, what,
                    sqlite3_errmsg(s->db));
}

int jx_scope_store_open(const char *path, jx_scope_store **out,
                        jx_error *err)
{
    jx_scope_store *s;
    const char *why;
    int rc;

    *out = NULL;
    if (path == NULL || path[0] != '/')
        return jx__fail(err, JX_EINVAL, "scope store '%s': the path must be "
                                        "absolute",
                        path != NULL ? path : "");
    if ((why = jx__sqlite_load()) != NULL)
        return jx__fail(err, JX_EIO, "scope store '%s': %s", path, why);
    if ((s = calloc(1, sizeof *s)) == NULL ||
        (s->path = strdup(path)) == NULL) {
        free(s);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot open");
        jx_scope_store_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot set it up");
        jx_scope_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void jx_scope_store_close(jx_scope_store *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

int jx_scope_create(jx_scope_store *s, const jx_scope_spec *spec,
                    char id[37], jx_error *err)
{
    json_t *actions;
    char *actions_text = NULL, created[JX__ISO_TIME_SIZE];
    sqlite3_stmt *st = NULL;
    double now = jx__epoch_now();
    unsigned ttl = spec->ttl_seconds ? spec->ttl_seconds : DEFAULT_TTL_S;
    uuid_t u;
    int rc = 0;

    if (spec->incident_id == NULL || spec->incident_id[0] == '\0')
        return jx__fail(err, JX_EINVAL, "a scope needs an incident id");
    if (spec->actions == NULL || spec->actions[0] == NULL)
        return jx__fail(err, JX_EINVAL, "a scope needs at least one action");
    if ((actions = json_array()) == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && spec->actions[i] != NULL; i++)
        if (spec->actions[i][0] == '\0' ||
            json_array_append_new(actions, json_string(spec->actions[i])) != 0)
            rc = jx__fail(err, JX_EINVAL, "action %zu is empty or not UTF-8",
                          i + 1);
    if (rc == 0 && (actions_text = json_dumps(actions, JSON_COMPACT)) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    json_decref(actions);
    if (rc != 0) {
        free(actions_text);
        return rc;
    }
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    jx__iso_time(now, created);
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, "INSERT INTO scopes (id, incident_id, "
                                  "actions, max_attempts, max_cost_usd, "
                                  "intent, created_by, created_at, "
                                  "expires_at, status) VALUES (?1, ?2, ?3, "
                                  "?4, ?5, ?6, ?7, ?8, ?9, 'active')",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot create the scope");
    } else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, spec->incident_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, actions_text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, spec->max_attempts ? spec->max_attempts : 1);
        if (spec->max_cost_usd >= 0)
            sqlite3_bind_double(st, 5, spec->max_cost_usd);
        sqlite3_bind_text(st, 6, spec->intent, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, spec->created_by ? spec->created_by
                                                  : "jobexec",
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, created, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 9, now + (double)ttl);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(s, err, "cannot create the scope");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    free(actions_text);
    return rc;
}

int jx_scope_revoke(jx_scope_store *s, const char *id, jx_error *err)
{
    sqlite3_stmt *st;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, "UPDATE scopes SET status = 'revoked' "
                                  "WHERE id = lower(?1)",
                           -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(s, err, "cannot revoke");
    else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(s, err, "cannot revoke");
        else if (sqlite3_changes(s->db) == 0)
            rc = jx__fail(err, JX_EINVAL, "no scope %s", id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* The status as of now: an active scope past its expiry is expired. */
static const char *status_now(const char *stored, double expires_at,
                              double now)
{
    if (strcmp(stored, "active") == 0 && now >= expires_at)
        return "expired";
    return stored;
}

static const char select_scope[] =
    "SELECT id, incident_id, actions, max_attempts, attempts_used, "
    "max_cost_usd, intent, created_by, created_at, expires_at, status FROM "
    "scopes";

static json_t *row_json(sqlite3_stmt *st, double now)
{
    char expires[JX__ISO_TIME_SIZE];
    json_t *actions = json_loads((const char *)sqlite3_column_text(st, 2), 0,
                                 NULL);

    jx__iso_time(sqlite3_column_double(st, 9), expires);
    return json_pack(
        "{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:s, s:s, s:s, s:s}", "id",
        (const char *)sqlite3_column_text(st, 0), "incident_id",
        (const char *)sqlite3_column_text(st, 1), "actions",
        actions != NULL ? actions : json_array(), "max_attempts",
        (json_int_t)sqlite3_column_int64(st, 3), "attempts_used",
        (json_int_t)sqlite3_column_int64(st, 4), "max_cost_usd",
        sqlite3_column_type(st, 5) == SQLITE_NULL
            ? json_null()
            : json_real(sqlite3_column_double(st, 5)),
        "intent",
        sqlite3_column_type(st, 6) == SQLITE_NULL
            ? json_null()
            : json_string((const char *)sqlite3_column_text(st, 6)),
        "created_by", (const char *)sqlite3_column_text(st, 7), "created_at",
        (const char *)sqlite3_column_text(st, 8), "expires_at", expires,
        "status",
        status_now((const char *)sqlite3_column_text(st, 10),
                   sqlite3_column_double(st, 9), now));
}

int jx_scope_json(jx_scope_store *s, const char *id, char **json,
                  jx_error *err)
{
    char sql[512];
    sqlite3_stmt *st;
    json_t *all = json_array(), *one = NULL;
    double now = jx__epoch_now();
    int rc = 0;

    *json = NULL;
    snprintf(sql, sizeof sql, "%s%s", select_scope,
             id != NULL ? " WHERE id = lower(?1)" : " ORDER BY created_at, id");
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot read");
    } else {
        int step;
        if (id != NULL)
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *row = row_json(st, now);
            if (id != NULL) {
                one = row;
                break;
            }
            json_array_append_new(all, row);
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = db_fail(s, err, "cannot read");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && id != NULL && one == NULL)
        rc = jx__fail(err, JX_EINVAL, "no scope %s", id);
    if (rc == 0 && (*json = json_dumps(id != NULL ? one : all,
                                       JSON_INDENT(2))) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
    json_decref(all);
    json_decref(one);
    return rc;
}

/* Whether the scope's actions (a JSON array text) hold action. */
static int allows(const char *actions_text, const char *action)
{
    json_t *actions = json_loads(actions_text, 0, NULL);
    json_t *a;
    size_t i;
    int found = 0;

    json_array_foreach(actions, i, a)
        found |= json_is_string(a) && strcmp(json_string_value(a), action) == 0;
    json_decref(actions);
    return found;
}

/* The gate's verdict on one row; NULL: allowed. */
static const char *verdict(sqlite3_stmt *st, const char *incident_id,
                           const char *action, double now)
{
    const char *status = (const char *)sqlite3_column_text(st, 10);

    if (strcmp(status, "revoked") == 0)
        return "revoked";
    if (now >= sqlite3_column_double(st, 9))
        return "expired";
    if (strcmp(status, "exhausted") == 0 ||
        sqlite3_column_int64(st, 4) >= sqlite3_column_int64(st, 3))
        return "exhausted";
    if (strcmp((const char *)sqlite3_column_text(st, 1), incident_id) != 0)
        return "incident mismatch";
    if (!allows((const char *)sqlite3_column_text(st, 2), action))
        return "action not allowed";
    return NULL;
}

int jx_scope_consume(jx_scope_store *s, const char *scope_id,
                     const char *incident_id, const char *action, char *why,
                     size_t why_size, jx_error *err)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    const char *refusal = "not found";
    int rc = 0;

    snprintf(sql, sizeof sql, "%s WHERE id = lower(?1)", select_scope);
    pthread_mutex_lock(&s->lock);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot start the gate's transaction");
        pthread_mutex_unlock(&s->lock);
        return rc;
    }
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(s, err, "cannot read the scope");
    else {
        int step;
        sqlite3_bind_text(st, 1, scope_id, -1, SQLITE_STATIC);
        step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            refusal = verdict(st, incident_id, action, jx__epoch_now());
        else if (step != SQLITE_DONE)
            rc = db_fail(s, err, "cannot read the scope");
    }
    sqlite3_finalize(st);
    if (rc == 0 && refusal == NULL) {
        sqlite3_stmt *up;
        if (sqlite3_prepare_v2(s->db, "UPDATE scopes SET attempts_used = "
                                      "attempts_used + 1, status = CASE WHEN "
                                      "attempts_used + 1 >= max_attempts THEN "
                                      "'exhausted' ELSE status END WHERE id = "
                                      "lower(?1)",
                               -1, &up, NULL) != SQLITE_OK)
            rc = db_fail(s, err, "cannot consume an attempt");
        else {
            sqlite3_bind_text(up, 1, scope_id, -1, SQLITE_STATIC);
            if (sqlite3_step(up) != SQLITE_DONE)
                rc = db_fail(s, err, "cannot consume an attempt");
            sqlite3_finalize(up);
        }
    }
    if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(s, err, "cannot commit the gate's transaction");
    if (rc != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    if (rc != 0)
        return rc;
    if (refusal != NULL) {
        snprintf(why, why_size, "%s", refusal);
        return JX_EREFUSED;
    }
    return 0;
}
