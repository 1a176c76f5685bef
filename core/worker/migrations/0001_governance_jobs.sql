-- 0001: the governance_jobs table, its guard and the indexes of the claim.
--
-- A row is one job: its plan (steps), where it stands (status,
-- current_step_index, step_results) and who holds it (the lease).  A job
-- runs at most once: attempt goes from 0 to 1 when a worker claims it and
-- never further; a retry is a new job.  Once terminal, a row never changes.

CREATE TABLE governance_jobs (
    job_id                 uuid PRIMARY KEY,
    contract_id            uuid NOT NULL,
    tenant_id              text,
    status                 text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED',
                          'CANCELLED')),
    status_reason          text,
    steps                  jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    current_step_index     integer NOT NULL DEFAULT 0
        CHECK (current_step_index >= 0),
    total_steps            integer NOT NULL CHECK (total_steps >= 0),
    step_results           jsonb NOT NULL DEFAULT '[]'::jsonb,
    execution_evidence     jsonb,
    health_snapshot_before jsonb,
    health_snapshot_after  jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    completed_at           timestamptz,
    timeout_at             timestamptz,
    created_by             text NOT NULL DEFAULT current_user,
    lease_owner            text,
    lease_expires_at       timestamptz,
    attempt                integer NOT NULL DEFAULT 0
        CHECK (attempt BETWEEN 0 AND 1)
);

-- The claim reads PENDING rows oldest first, the rescuer RUNNING rows by
-- lease: both stay small however many finished rows the table holds.
CREATE INDEX governance_jobs_pending
    ON governance_jobs (created_at) WHERE status = 'PENDING';
CREATE INDEX governance_jobs_running_lease
    ON governance_jobs (lease_expires_at) WHERE status = 'RUNNING';
CREATE INDEX governance_jobs_status_created
    ON governance_jobs (status, created_at);

-- Terminal rows are immutable, a running job never goes back to PENDING,
-- and the plan a job was created with is the plan it keeps.
CREATE FUNCTION governance_jobs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN
        RAISE EXCEPTION 'governance job % is %: a finished job cannot be %',
            OLD.job_id, OLD.status,
            CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'changed' END
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'RUNNING' THEN
            RAISE EXCEPTION 'governance job % is RUNNING: a running job '
                'cannot be deleted', OLD.job_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD; -- a PENDING job may be withdrawn
    END IF;
    IF OLD.status = 'RUNNING' AND NEW.status = 'PENDING' THEN
        RAISE EXCEPTION 'governance job % is RUNNING: it cannot go back to '
            'PENDING (a job runs at most once; create a new job to try '
            'again)', OLD.job_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.job_id <> OLD.job_id OR NEW.contract_id <> OLD.contract_id
       OR NEW.steps <> OLD.steps OR NEW.total_steps <> OLD.total_steps
       OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'governance job %: its id, contract, plan and '
            'creation time cannot change', OLD.job_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.attempt < OLD.attempt THEN
        RAISE EXCEPTION 'governance job %: attempt cannot go back from % '
            'to %', OLD.job_id, OLD.attempt, NEW.attempt
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER governance_jobs_guard
    BEFORE UPDATE OR DELETE ON governance_jobs
    FOR EACH ROW EXECUTE FUNCTION governance_jobs_guard();

-- Workers LISTEN on jobexec_jobs: a new job wakes one at once instead of
-- at its next poll.
CREATE FUNCTION governance_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobexec_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER governance_jobs_notify
    AFTER INSERT ON governance_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION governance_jobs_notify();
