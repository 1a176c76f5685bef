/*
 * observer.c - the registry's health observer: a snapshot of every
 * capability's state and every configuration value, read through a
 * read-only, query-only connection (the executor cannot change health
 * through it), with the machine's load and available memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "registry.h"

/* A capability's entry: {state, updated_at}. */
static json_t *capability_value(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s}", "state",
                     (const char *)sqlite3_column_text(st, 1), "updated_at",
                     (const char *)sqlite3_column_text(st, 2));
}

/* A configuration value, as JSON; one some other writer stored unparsed
 * stays its text. */
static json_t *configuration_value(sqlite3_stmt *st)
{
    const char *text = (const char *)sqlite3_column_text(st, 1);
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);

    return value != NULL ? value : json_string(text);
}

/* Adds column 0 -> value_of(row) for each row of sql (at most max: its
 * ?1), whose last column (number n_cols - 1) counts every row there is,
 * into *total.  0; -1 for a database error; -2 out of memory. */
static int read_map(sqlite3 *db, const char *sql, int n_cols, int max,
                    json_t *(*value_of)(sqlite3_stmt *st), json_t *into,
                    long long *total)
{
    sqlite3_stmt *st;
    int rc, oom = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, max);
    *total = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *value = value_of(st);
        *total = sqlite3_column_int64(st, n_cols - 1);
        /* json_object_set_new takes value even when it fails. */
        if (value == NULL ||
            json_object_set_new(into, (const char *)sqlite3_column_text(st, 0),
                                value) != 0) {
            oom = 1;
            break;
        }
    }
    sqlite3_finalize(st);
    return oom ? -2 : rc == SQLITE_DONE ? 0 : -1;
}

static int read_capabilities(sqlite3 *db, int max, json_t *into,
                             long long *total)
{
    return read_map(db, "SELECT name, state, updated_at, (SELECT count(*) "
                        "FROM capabilities) FROM capabilities ORDER BY name "
                        "LIMIT ?1",
                    4, max, capability_value, into, total);
}

static int read_configuration(sqlite3 *db, int max, json_t *into,
                              long long *total)
{
    return read_map(db, "SELECT key, value, (SELECT count(*) FROM "
                        "configuration) FROM configuration ORDER BY key "
                        "LIMIT ?1",
                    3, max, configuration_value, into, total);
}

static double round2(double x)
{
    return (double)(long long)(x * 100.0 + 0.5) / 100.0;
}

/* The machine's load averages and MemAvailable, as far as they can be
 * read. */
static json_t *read_system(void)
{
    double load[3] = {0, 0, 0};
    long long avail = -1;
    FILE *fp = fopen("/proc/meminfo", "re");
    json_t *sys = json_object();

    if (fp != NULL) {
        char line[256];
        while (fgets(line, sizeof line, fp) != NULL)
            if (sscanf(line, "MemAvailable: %lld kB", &avail) == 1)
                break;
        fclose(fp);
    }
    if (sys == NULL)
        return NULL;
    /* A member that could not be set is out of memory, not a value the
     * machine lacks: the snapshot fails rather than leave it out. */
    if ((getloadavg(load, 3) == 3 &&
         /* As uptime(1) shows them: the kernel's fixed point has no more
          * precision than that. */
         (json_object_set_new(sys, "load_1m", json_real(round2(load[0]))) ||
          json_object_set_new(sys, "load_5m", json_real(round2(load[1]))) ||
          json_object_set_new(sys, "load_15m",
                              json_real(round2(load[2]))))) ||
        (avail >= 0 && json_object_set_new(sys, "mem_available_kb",
                                           json_integer(avail)) != 0)) {
        json_decref(sys);
        return NULL;
    }
    return sys;
}

/* Adds key: the object's JSON text to the snapshot. */
static int put_object(const jx_host_v1 *host, jx_output *snapshot,
                      const char *key, json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    int rc = text != NULL ? host->out_json(snapshot, key, text) : -1;

    free(text);
    return rc;
}

int reg_observe(void *state, const jx_host_v1 *host, jx_output *snapshot,
                char *why, size_t why_len)
{
    reg_state *s = state;
    json_t *caps = json_object(), *conf = json_object(), *sys = read_system();
    long long n_caps = 0, n_conf = 0;
    char now[REG_TIME_SIZE];
    int rc = 0;

    reg_now(now);
    /* One read transaction: capabilities and configuration as of one
     * moment, whatever writers do meanwhile. */
    if (caps == NULL || conf == NULL || sys == NULL)
        rc = -2;
    else if (sqlite3_exec(s->db.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    else {
        rc = read_capabilities(s->db.db, s->cfg.max_capabilities, caps,
                               &n_caps);
        if (rc == 0)
            rc = read_configuration(s->db.db, s->cfg.max_configuration, conf,
                                    &n_conf);
        sqlite3_exec(s->db.db, "COMMIT", NULL, NULL, NULL);
    }
    /* Out of memory, SQLite's last message would name some earlier,
     * unrelated failure. */
    if (rc == -2)
        reg_why(why, why_len, "registry database '%s': out of memory",
                s->db.path);
    else if (rc != 0)
        reg_why(why, why_len, "registry database '%s': %s", s->db.path,
                sqlite3_errmsg(s->db.db));
    else if (host->out_string(snapshot, "captured_at", now) != 0 ||
             put_object(host, snapshot, "capabilities", caps) != 0 ||
             (n_caps > (long long)json_object_size(caps) &&
              (host->out_bool(snapshot, "capabilities_truncated", 1) != 0 ||
               host->out_int(snapshot, "capabilities_total", n_caps) != 0)) ||
             put_object(host, snapshot, "configuration", conf) != 0 ||
             (n_conf > (long long)json_object_size(conf) &&
              (host->out_bool(snapshot, "configuration_truncated", 1) != 0 ||
               host->out_int(snapshot, "configuration_total", n_conf) != 0)) ||
             put_object(host, snapshot, "system", sys) != 0) {
        reg_why(why, why_len, "the snapshot could not be recorded");
        rc = -1;
    }
    json_decref(caps);
    json_decref(conf);
    json_decref(sys);
    return rc != 0 ? -1 : 0;
}
