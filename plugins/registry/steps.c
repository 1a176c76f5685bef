/*
 * steps.c - the step types of the registry: capability_add, _remove,
 * _enable, _disable and configuration_change.  Each step is one
 * transaction (BEGIN IMMEDIATE) that changes the registry and records the
 * change in history, so a step is either done and recorded or not done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

typedef enum reg_op {
    OP_ADD,
    OP_REMOVE,
    OP_ENABLE,
    OP_DISABLE,
    OP_CONFIGURE,
    OP_UNKNOWN
} reg_op;

static const char *const op_names[] = {
    "capability_add", "capability_remove", "capability_enable",
    "capability_disable", "configuration_change",
};

static reg_op op_of(const char *type)
{
    for (int i = 0; i < OP_UNKNOWN; i++)
        if (strcmp(type, op_names[i]) == 0)
            return (reg_op)i;
    return OP_UNKNOWN;
}

/* ---- validation (no database) ------------------------------------------ */

static int check_target(const char *target, reg_op op, char *why,
                        size_t why_len)
{
    size_t len = strlen(target);

    if (len == 0) {
        reg_why(why, why_len, "target is empty: name the %s",
                op == OP_CONFIGURE ? "configuration key" : "capability");
        return -1;
    }
    if (len > REG_TARGET_MAX) {
        reg_why(why, why_len, "target is %zu bytes long, more than %d", len,
                REG_TARGET_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)target[i] < 0x20 || target[i] == 0x7f) {
            reg_why(why, why_len, "target has a control character (byte "
                                  "0x%02x at offset %zu)",
                    (unsigned char)target[i], i);
            return -1;
        }
    return 0;
}

static int check_params(const jx_host_v1 *host, const jx_step *step,
                        reg_op op, char *why, size_t why_len)
{
    const char *state;

    if (op == OP_CONFIGURE && host->param_json(step, "value") == NULL) {
        reg_why(why, why_len, "parameter 'value' is required: the new value "
                              "(any JSON value)");
        return -1;
    }
    if (op != OP_ADD)
        return 0;
    if (host->param_json(step, "description") != NULL &&
        host->param_string(step, "description") == NULL) {
        reg_why(why, why_len, "parameter 'description' must be a string");
        return -1;
    }
    state = host->param_string(step, "state");
    if (host->param_json(step, "state") != NULL &&
        (state == NULL ||
         (strcmp(state, "enabled") != 0 && strcmp(state, "disabled") != 0))) {
        reg_why(why, why_len, "parameter 'state' must be \"enabled\" or "
                              "\"disabled\"");
        return -1;
    }
    return 0;
}

/* The whole check, for validate and again before execute changes
 * anything: a plan need not have been checked. */
static int check_step(const jx_host_v1 *host, const jx_step *step,
                      reg_op *op, char *why, size_t why_len)
{
    const char *type = host->step_type(step);

    if ((*op = op_of(type)) == OP_UNKNOWN) {
        reg_why(why, why_len, "registry handles capability_add, "
                              "capability_remove, capability_enable, "
                              "capability_disable and configuration_change, "
                              "not '%s'",
                type);
        return -1;
    }
    return check_target(host->step_target(step), *op, why, why_len) != 0 ||
                   check_params(host, step, *op, why, why_len) != 0
               ? -1
               : 0;
}

int reg_validate(void *state, const jx_host_v1 *host, const jx_step *step,
                 char *why, size_t why_len)
{
    reg_op op;

    (void)state;
    return check_step(host, step, &op, why, why_len);
}

/* ---- the change --------------------------------------------------------- */

/* What one step changed, for the history row and the output. */
typedef struct change {
    char *previous; /* a state or JSON text; NULL: there was none */
    char *next;     /* likewise after the step */
    int changed;
} change;

static void change_free(change *c)
{
    free(c->previous);
    free(c->next);
}

static int db_error(reg_state *s, char *why, size_t why_len)
{
    int code = sqlite3_extended_errcode(s->db.db);

    if ((code & 0xff) == SQLITE_BUSY)
        reg_why(why, why_len, "registry database '%s': still locked by "
                              "another writer after %d ms (busy_timeout_ms)",
                s->db.path, s->cfg.busy_timeout_ms);
    else
        reg_why(why, why_len, "registry database '%s': %s", s->db.path,
                sqlite3_errmsg(s->db.db));
    return -1;
}

/* Runs sql with text parameters (NULL binds SQL NULL); when col_out is
 * given, the first row's column 0 is copied there (NULL: no row). */
static int run(reg_state *s, const char *sql, const char *const *args,
               int n_args, char **col_out, char *why, size_t why_len)
{
    sqlite3_stmt *st;
    int rc;

    if (col_out != NULL)
        *col_out = NULL;
    if (sqlite3_prepare_v2(s->db.db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s, why, why_len);
    for (int i = 0; i < n_args; i++)
        sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && col_out != NULL) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        if (text != NULL && (*col_out = strdup((const char *)text)) == NULL) {
            sqlite3_finalize(st);
            reg_why(why, why_len, "out of memory");
            return -1;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_error(s, why, why_len);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int set_text(char **to, const char *text, char *why, size_t why_len)
{
    if (text != NULL && (*to = strdup(text)) == NULL) {
        reg_why(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

static int capability_change(reg_state *s, const jx_host_v1 *host,
                             const jx_step *step, reg_op op, const char *now,
                             change *c, char *why, size_t why_len)
{
    const char *name = host->step_target(step);
    const char *want;

    if (run(s, "SELECT state FROM capabilities WHERE name = ?1",
            (const char *[]){name}, 1, &c->previous, why, why_len) != 0)
        return -1;
    if (op == OP_ADD) {
        const char *desc = host->param_string(step, "description");
        if (c->previous != NULL) {
            reg_why(why, why_len, "capability '%s' already exists", name);
            return -1;
        }
        want = host->param_string(step, "state");
        want = want != NULL ? want : "disabled";
        c->changed = 1;
        return set_text(&c->next, want, why, why_len) != 0 ||
                       run(s, "INSERT INTO capabilities (name, state, "
                              "updated_at, description, created_at) VALUES "
                              "(?1, ?2, ?3, ?4, ?3)",
                           (const char *[]){name, want, now,
                                            desc != NULL ? desc : ""},
                           4, NULL, why, why_len) != 0
                   ? -1
                   : 0;
    }
    if (c->previous == NULL) {
        reg_why(why, why_len, "capability '%s' does not exist", name);
        return -1;
    }
    if (op == OP_REMOVE) {
        c->changed = 1;
        return run(s, "DELETE FROM capabilities WHERE name = ?1",
                   (const char *[]){name}, 1, NULL, why, why_len);
    }
    want = op == OP_ENABLE ? "enabled" : "disabled";
    c->changed = strcmp(c->previous, want) != 0;
    if (set_text(&c->next, want, why, why_len) != 0)
        return -1;
    /* An unchanged state keeps its updated_at: nothing happened to it. */
    return c->changed ? run(s, "UPDATE capabilities SET state = ?2, "
                               "updated_at = ?3 WHERE name = ?1",
                            (const char *[]){name, want, now}, 3, NULL, why,
                            why_len)
                      : 0;
}

static int configuration_change(reg_state *s, const jx_host_v1 *host,
                                const jx_step *step, const char *now,
                                change *c, char *why, size_t why_len)
{
    const char *key = host->step_target(step);
    const char *value = host->param_json(step, "value");

    if (run(s, "SELECT value FROM configuration WHERE key = ?1",
            (const char *[]){key}, 1, &c->previous, why, why_len) != 0 ||
        set_text(&c->next, value, why, why_len) != 0)
        return -1;
    c->changed = c->previous == NULL || strcmp(c->previous, value) != 0;
    return c->changed ? run(s, "INSERT INTO configuration (key, value, "
                               "updated_at) VALUES (?1, ?2, ?3) ON CONFLICT "
                               "(key) DO UPDATE SET value = ?2, "
                               "updated_at = ?3",
                            (const char *[]){key, value, now}, 3, NULL, why,
                            why_len)
                      : 0;
}

static int record_history(reg_state *s, const jx_host_v1 *host,
                          const jx_context *ctx, const jx_step *step,
                          const char *now, const change *c, char *why,
                          size_t why_len)
{
    char index[32];

    snprintf(index, sizeof index, "%lld", (long long)host->step_index(step));
    return run(s, "INSERT INTO history (job_id, contract_id, step_index, "
                  "step_type, target, previous_value, new_value, "
                  "executed_by, changed_at) VALUES (?1, ?2, CAST(?3 AS "
                  "INTEGER), ?4, ?5, ?6, ?7, ?8, ?9)",
               (const char *[]){host->ctx_job_id(ctx),
                                host->ctx_contract_id(ctx), index,
                                host->step_type(step),
                                host->step_target(step), c->previous, c->next,
                                host->ctx_executed_by(ctx), now},
               9, NULL, why, why_len);
}

/* A capability's state as a string, or JSON null when there is none. */
static int put_state(const jx_host_v1 *host, jx_output *out, const char *key,
                     const char *state)
{
    return state != NULL ? host->out_string(out, key, state)
                         : host->out_json(out, key, "null");
}

/* The step's output: states as strings, configuration values as JSON. */
static int put_output(const jx_host_v1 *host, jx_output *out, reg_op op,
                      const change *c)
{
    int rc;

    if (op == OP_CONFIGURE)
        rc = host->out_json(out, "previous_value",
                            c->previous != NULL ? c->previous : "null") |
             host->out_json(out, "new_value", c->next);
    else
        rc = put_state(host, out, "previous_state", c->previous) |
             put_state(host, out, "new_state", c->next);
    return rc | host->out_bool(out, "changed", c->changed);
}

int reg_execute(void *state, const jx_host_v1 *host, const jx_context *ctx,
                const jx_step *step, jx_output *out)
{
    reg_state *s = state;
    char why[512] = "", now[REG_TIME_SIZE];
    change c = {NULL, NULL, 0};
    reg_op op;
    int rc;

    if (check_step(host, step, &op, why, sizeof why) != 0) {
        host->out_error(out, why);
        return JX_STEP_FAILED;
    }
    reg_now(now);
    if (sqlite3_exec(s->db.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
        SQLITE_OK) {
        db_error(s, why, sizeof why);
        host->out_error(out, why);
        return JX_STEP_FAILED;
    }
    rc = op == OP_CONFIGURE
             ? configuration_change(s, host, step, now, &c, why, sizeof why)
             : capability_change(s, host, step, op, now, &c, why, sizeof why);
    /* An unchanged value is no change: history records what changed. */
    if (rc == 0 && c.changed)
        rc = record_history(s, host, ctx, step, now, &c, why, sizeof why);
    if (rc == 0 && sqlite3_exec(s->db.db, "COMMIT", NULL, NULL, NULL) !=
                       SQLITE_OK)
        rc = db_error(s, why, sizeof why);
    if (rc != 0) {
        sqlite3_exec(s->db.db, "ROLLBACK", NULL, NULL, NULL);
        host->out_error(out, why);
        change_free(&c);
        return JX_STEP_FAILED;
    }
    rc = put_output(host, out, op, &c);
    change_free(&c);
    return rc == 0 ? JX_STEP_OK : JX_STEP_FAILED;
}
