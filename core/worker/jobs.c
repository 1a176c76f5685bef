/*
 * jobs.c - what the governance store holds, from the outside: adding a
 * job, listing and showing jobs, and the rescuer that ends the jobs whose
 * worker lost its lease.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/file.h"
#include "input/plan.h"
#include "worker/pg.h"

int jx_queue_submit(jx_queue *q, const char *text, size_t len,
                    const char *name, const char *created_by,
                    char job_id[37], jx_error *err)
{
    jx_plan *plan = NULL;
    json_t *steps = NULL;
    char *steps_text = NULL, n_steps[24];
    PGresult *res = NULL;
    int rc;

    job_id[0] = '\0';
    if ((rc = jx_plan_parse(text, len, name, &plan, err)) != 0)
        return rc;
    if ((rc = jx__plan_steps_json(text, len, name, &steps, err)) != 0)
        goto out;
    if ((steps_text = json_dumps(steps, JSON_COMPACT)) == NULL) {
        rc = jx__fail(err, JX_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(n_steps, sizeof n_steps, "%zu", plan->n_steps);
    {
        const char *params[] = {plan->job_id, plan->contract_id,
                                plan->tenant_id, steps_text, n_steps,
                                created_by};
        res = jx__pg_exec(q->conn, "adding the job",
                          "INSERT INTO governance_jobs (job_id, contract_id, "
                          "tenant_id, steps, total_steps, created_by) "
                          "VALUES ($1::uuid, $2::uuid, NULLIF($3, ''), "
                          "$4::jsonb, $5::int, coalesce($6, current_user)) "
                          "ON CONFLICT (job_id) DO NOTHING",
                          6, params, err);
    }
    if (res == NULL) {
        rc = JX_EIO;
    } else if (jx__pg_changed(res) != 1) {
        rc = jx__fail(err, JX_EINVAL, "%s: job %s is already in the "
                                      "governance store (a job runs once: "
                                      "give the new one another job_id)",
                      name, plan->job_id);
    } else {
        memcpy(job_id, plan->job_id, JX__UUID_LEN + 1);
    }
out:
    PQclear(res);
    free(steps_text);
    json_decref(steps);
    jx_plan_free(plan);
    return rc;
}

int jx_queue_submit_file(jx_queue *q, const char *path,
                         const char *created_by, char job_id[37],
                         jx_error *err)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *text;
    size_t len;
    int rc;

    job_id[0] = '\0';
    if ((rc = jx__read_file(path, JX__PLAN_MAX_BYTES, &text, &len, err))) {
        /* As jx_plan_load(): a plan that cannot be read is a bad plan. */
        if (rc != JX_ENOMEM && rc != JX_ELIMIT)
            rc = JX_EPLAN;
        if (err != NULL)
            err->code = rc;
        return rc;
    }
    rc = jx_queue_submit(q, text, len, name, created_by, job_id, err);
    free(text);
    return rc;
}

static const char *const statuses[] = {"PENDING", "RUNNING", "COMPLETED",
                                       "FAILED", "CANCELLED"};

/* The status named s, in any case, as the table writes it; NULL when s
 * names none. */
static const char *status_named(const char *s)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcasecmp(s, statuses[i]) == 0)
            return statuses[i];
    return NULL;
}

/* The one text value of a one-row, one-column result, as the caller's
 * string. */
static int take_text(PGresult *res, char **out, jx_error *err)
{
    *out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return *out != NULL ? 0 : jx__fail(err, JX_ENOMEM, "out of memory");
}

int jx_queue_list_json(jx_queue *q, const char *status, unsigned limit,
                       char **json, jx_error *err)
{
    char n[16];
    const char *params[2] = {NULL, n};
    PGresult *res;

    *json = NULL;
    if (status != NULL && (params[0] = status_named(status)) == NULL)
        return jx__fail(err, JX_EINVAL, "unknown status '%s' (one of "
                                        "PENDING, RUNNING, COMPLETED, FAILED, "
                                        "CANCELLED)",
                        status);
    snprintf(n, sizeof n, "%u", limit != 0 ? limit : 100);
    res = jx__pg_exec(
        q->conn, "listing jobs",
        "SELECT coalesce(json_agg(j ORDER BY j.created_at DESC), '[]')::text "
        "FROM (SELECT job_id, contract_id, tenant_id, status, status_reason, "
        "current_step_index, total_steps, created_at, started_at, "
        "completed_at, created_by, lease_owner, lease_expires_at, attempt "
        "FROM governance_jobs WHERE $1::text IS NULL OR status = $1 "
        "ORDER BY created_at DESC LIMIT $2::int) j",
        2, params, err);
    return res != NULL ? take_text(res, json, err) : JX_EIO;
}

/* The smallest and largest job ids that begin with prefix (8 to 36
 * characters of a UUID's text, in any case), for an index range scan;
 * -1 when prefix cannot begin one. */
static int id_range(const char *prefix, char lo[37], char hi[37])
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    size_t len = strlen(prefix), digits = 0;

    if (len > JX__UUID_LEN)
        return -1;
    for (size_t i = 0; i < JX__UUID_LEN; i++) {
        char c = i < len ? (char)tolower((unsigned char)prefix[i]) : 0;
        if (shape[i] == '-') {
            if (c != 0 && c != '-')
                return -1;
            lo[i] = hi[i] = '-';
        } else if (c == 0) {
            lo[i] = '0';
            hi[i] = 'f';
        } else if (isxdigit((unsigned char)c)) {
            lo[i] = hi[i] = c;
            digits++;
        } else {
            return -1;
        }
    }
    lo[JX__UUID_LEN] = hi[JX__UUID_LEN] = '\0';
    return digits >= 8 ? 0 : -1;
}

/* "a, b, c" of the job ids in res, for an ambiguous prefix. */
static void list_ids(PGresult *res, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; i < PQntuples(res) && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s",
                                 i > 0 ? ", " : "", PQgetvalue(res, i, 0));
}

int jx_queue_show_json(jx_queue *q, const char *id, char **json,
                       jx_error *err)
{
    char lo[37], hi[37], ids[512];
    const char *params[2] = {lo, hi};
    PGresult *res;
    int more;

    *json = NULL;
    if (id_range(id, lo, hi) != 0)
        return jx__fail(err, JX_EINVAL, "'%s' is not a job id or a prefix "
                                        "of one (at least 8 hex digits)",
                        id);
    /* A running job's results so far are rows of governance_job_steps
     * until it ends: they are shown as step_results too. */
    res = jx__pg_exec(
        q->conn, "reading the job",
        "SELECT job_id, row_to_json(j)::text FROM (SELECT job_id, "
        "contract_id, tenant_id, status, status_reason, steps, "
        "current_step_index, total_steps, step_results || coalesce(("
        "SELECT jsonb_agg(s.result ORDER BY s.step_index) FROM "
        "governance_job_steps s WHERE s.job_id = g.job_id), '[]'::jsonb) "
        "AS step_results, execution_evidence, health_snapshot_before, "
        "health_snapshot_after, created_at, started_at, completed_at, "
        "timeout_at, created_by, lease_owner, lease_expires_at, attempt "
        "FROM governance_jobs g WHERE job_id BETWEEN $1::uuid AND $2::uuid "
        "ORDER BY job_id LIMIT 5) j",
        2, params, err);
    if (res == NULL)
        return JX_EIO;
    if (PQntuples(res) == 1) {
        *json = strdup(PQgetvalue(res, 0, 1));
        PQclear(res);
        return *json != NULL ? 0 : jx__fail(err, JX_ENOMEM, "out of memory");
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return jx__fail(err, JX_EINVAL, "no job %s in the governance store",
                        id);
    }
    list_ids(res, ids, sizeof ids);
    more = PQntuples(res) == 5; /* LIMIT 5: there may be others */
    PQclear(res);
    return jx__fail(err, JX_EINVAL, "job id prefix '%s' is ambiguous: %s%s",
                    id, ids, more ? ", ..." : "");
}

int jx_queue_rescue(jx_queue *q, unsigned *rescued, jx_error *err)
{
    PGresult *res = jx__pg_exec(
        q->conn, "rescuing jobs",
        /* The results written step by step move into step_results, as
         * the worker's own last write would have moved them. */
        "WITH moved AS (DELETE FROM governance_job_steps s USING "
        "governance_jobs g WHERE s.job_id = g.job_id AND g.status = "
        "'RUNNING' AND g.lease_expires_at < now() "
        "RETURNING s.job_id, s.step_index, s.result) "
        "UPDATE governance_jobs g SET status = 'FAILED', "
        "status_reason = format('interrupted: worker %s lost its lease at "
        "step %s', lease_owner, coalesce(steps -> current_step_index ->> "
        "'step_index', current_step_index::text)), completed_at = now(), "
        "step_results = step_results || coalesce((SELECT jsonb_agg("
        "m.result ORDER BY m.step_index) FROM moved m WHERE m.job_id = "
        "g.job_id), '[]'::jsonb) "
        "WHERE status = 'RUNNING' AND lease_expires_at < now()",
        0, NULL, err);

    if (rescued != NULL)
        *rescued = 0;
    if (res == NULL)
        return JX_EIO;
    if (rescued != NULL)
        *rescued = (unsigned)jx__pg_changed(res);
    PQclear(res);
    return 0;
}
