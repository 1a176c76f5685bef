/*
 * registry.c - `jobexec registry list|history`: what the registry plugin
 * (plugins/registry) holds, read through a read-only connection.  Without
 * --db, the database is the registry plugin's db in the config in effect.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/sqlite_load.h"
#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_registry(FILE *fp)
{
    fprintf(fp,
            "Usage: %s registry list [--db FILE] [--json]\n"
            "       %s registry history [--db FILE] [--capability NAME] "
            "[--job ID] [--json]\n"
            "\n"
            "list shows every capability in the registry database: its "
            "name, state and\nwhen it last changed.  history shows what "
            "steps changed, oldest first:\nwhen, which job and step, the "
            "target, the value before and after.\n"
            "\n"
            "Options:\n"
            "  -d, --db FILE          the registry database (default: the "
            "db of the\n"
            "                         registry plugin in the config)\n"
            "  -c, --config FILE      the config to take the database from\n"
            "  -n, --capability NAME  history of one capability (or "
            "configuration key)\n"
            "  -j, --job ID           history of one job (the id, or a "
            "prefix of at\n"
            "                         least 8 hex digits that one job "
            "has)\n"
            "      --json             one JSON array instead of lines\n"
            "\n"
            "Exit status: 0 shown, 2 bad usage or no registry database, 3 "
            "internal error.\n",
            prog, prog);
}

/* The database: --db, else the registry plugin's db: in the config. */
static char *database_path(const options *o)
{
    jx_config *cfg;
    jx_error err = {0, ""};
    char *section, *path = NULL;
    json_t *v;

    if (o->db != NULL)
        return strdup(o->db);
    if (jx__cli_load_config(o, &cfg, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return NULL;
    }
    section = jx_config_plugin_section(cfg, "registry");
    v = section != NULL ? json_loads(section, 0, NULL) : NULL;
    if (json_string_value(json_object_get(v, "db")) != NULL)
        path = strdup(json_string_value(json_object_get(v, "db")));
    else
        fprintf(stderr, "%s: the config in effect has no registry plugin "
                        "with a db (give --db FILE)\n",
                prog);
    json_decref(v);
    free(section);
    jx_config_free(cfg);
    return path;
}

static sqlite3 *open_database(const char *path, int *version)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    const char *why;

    *version = 0;
    if ((why = jx__sqlite_load()) != NULL) {
        fprintf(stderr, "%s: cannot open the registry database '%s': %s\n",
                prog, path, why);
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA query_only = ON", NULL, NULL, NULL) !=
            SQLITE_OK) {
        fprintf(stderr, "%s: cannot open the registry database '%s': %s\n",
                prog, path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (*version < 1) {
        fprintf(stderr, "%s: '%s' is not a registry database (%s)\n", prog,
                path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? (const char *)t : "";
}

/* A history value as JSON: configuration values are JSON text, states
 * plain strings, NULL none. */
static json_t *history_value(sqlite3_stmt *st, int i, int is_json)
{
    json_t *v;

    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    if (is_json && (v = json_loads(col(st, i), JSON_DECODE_ANY, NULL)) != NULL)
        return v;
    return json_string(col(st, i));
}

static int print_json(json_t *rows)
{
    char *text = rows != NULL ? json_dumps(rows, JSON_INDENT(2)) : NULL;
    int rc = text != NULL && printf("%s\n", text) >= 0 ? 0 : -1;

    free(text);
    json_decref(rows);
    return rc;
}

static int list(const options *o, sqlite3 *db, int version)
{
    sqlite3_stmt *st;
    json_t *rows = o->json ? json_array() : NULL;
    int width = 4, rc;

    if (sqlite3_prepare_v2(db,
                           version >= 2
                               ? "SELECT name, state, updated_at, description,"
                                 " (SELECT max(length(name)) FROM "
                                 "capabilities) FROM capabilities ORDER BY "
                                 "name"
                               : "SELECT name, state, updated_at, '', (SELECT"
                                 " max(length(name)) FROM capabilities) FROM "
                                 "capabilities ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 4) > width)
            width = sqlite3_column_int(st, 4);
        if (rows != NULL)
            json_array_append_new(
                rows, json_pack("{s:s, s:s, s:s, s:s}", "name", col(st, 0),
                                "state", col(st, 1), "description",
                                col(st, 3), "updated_at", col(st, 2)));
        else
            jx__cli_print_line(stdout, "%-*s  %-8s  %s", width, col(st, 0),
                               col(st, 1), col(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return -1;
    }
    return rows != NULL ? print_json(rows) : 0;
}

static int history(const options *o, sqlite3 *db)
{
    sqlite3_stmt *st;
    json_t *rows = o->json ? json_array() : NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT id, changed_at, job_id, contract_id, "
                               "step_index, step_type, target, "
                               "previous_value, new_value, executed_by FROM "
                               "history WHERE (?1 IS NULL OR target = ?1) AND "
                               "(?2 IS NULL OR job_id = lower(?2)) ORDER BY "
                               "id",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, o->capability, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->job, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int is_json = strcmp(col(st, 5), "configuration_change") == 0;
        if (rows != NULL) {
            json_array_append_new(
                rows,
                json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:s}",
                          "id", (json_int_t)sqlite3_column_int64(st, 0),
                          "changed_at", col(st, 1), "job_id", col(st, 2),
                          "contract_id", col(st, 3), "step_index",
                          (json_int_t)sqlite3_column_int64(st, 4),
                          "step_type", col(st, 5), "target", col(st, 6),
                          "previous_value", history_value(st, 7, is_json),
                          "new_value", history_value(st, 8, is_json),
                          "executed_by", col(st, 9)));
            continue;
        }
        jx__cli_print_line(
            stdout, "%s  job %.8s  step %lld  %s  %s: %s -> %s  by %s",
            col(st, 1), col(st, 2), (long long)sqlite3_column_int64(st, 4),
            col(st, 5), col(st, 6),
            sqlite3_column_type(st, 7) == SQLITE_NULL ? "(none)" : col(st, 7),
            sqlite3_column_type(st, 8) == SQLITE_NULL ? "(none)" : col(st, 8),
            col(st, 9));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return -1;
    }
    return rows != NULL ? print_json(rows) : 0;
}

/* Feeds every job id of the history to match (jx__cli_resolve_job_in). */
static int each_history_job(void *arg, int (*match)(void *m, const char *id),
                            void *m)
{
    sqlite3 *db = arg;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT DISTINCT job_id FROM history", -1,
                           &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: reading the registry failed: %s\n", prog,
                sqlite3_errmsg(db));
        return EXIT_INTERNAL;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        match(m, col(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "%s: reading the registry failed: %s\n", prog,
                sqlite3_errmsg(db));
        return EXIT_INTERNAL;
    }
    return 0;
}

static int cmd_registry(const options *o)
{
    int is_list = strcmp(o->operand, "list") == 0, version, rc;
    char *path;
    sqlite3 *db;

    if (!is_list && strcmp(o->operand, "history") != 0) {
        fprintf(stderr, "%s: unknown registry command '%s' (list, history)\n"
                        "Try '%s registry --help' for more information.\n",
                prog, o->operand, prog);
        return EXIT_USAGE;
    }
    if (is_list && (o->capability != NULL || o->job != NULL)) {
        fprintf(stderr, "%s: registry list takes no --%s (use registry "
                        "history)\n",
                prog, o->job != NULL ? "job" : "capability");
        return EXIT_USAGE;
    }
    if ((path = database_path(o)) == NULL)
        return EXIT_USAGE;
    db = open_database(path, &version);
    if (db == NULL) {
        free(path);
        return EXIT_USAGE;
    }
    /* A prefix of at least 8 hex digits selects the one job of the
     * history whose id starts with it (jobid.c). */
    if (!is_list && o->job != NULL) {
        options oj = *o;
        char job[37];

        rc = jx__cli_resolve_job_in("registry", path, o->job,
                                    each_history_job, db, job);
        free(path);
        if (rc != 0) {
            sqlite3_close(db);
            return rc;
        }
        oj.job = job;
        rc = history(&oj, db);
    } else {
        free(path);
        rc = is_list ? list(o, db, version) : history(o, db);
    }
    if (rc != 0)
        fprintf(stderr, "%s: reading the registry failed: %s\n", prog,
                sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == 0 ? EXIT_COMPLETED : EXIT_INTERNAL;
}

static const struct option registry_options[] = {
    {"db", required_argument, NULL, 'd'},
    {"capability", required_argument, NULL, 'n'},
    {"job", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_CONFIG,
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_registry = {
    "registry", cmd_registry, usage_registry, 1, 1,
    "missing what to show: registry list|history", ":d:n:j:Jc:hV",
    registry_options,
};
