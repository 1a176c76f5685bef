-- 0002: a running job's step results one row each, and a guard that does
-- not read the plan at every step.
--
-- Appending a step's result to the step_results array rewrote the whole
-- array, and the guard compared the whole plan (steps) with itself, at
-- every step: a job of n steps cost time in n^2 (4,000 steps: 134 s).  A
-- running job's results now go to governance_job_steps, a row each; the
-- statement that ends the job (its terminal status, or the rescuer's)
-- moves them into step_results, in order, and deletes them.  A finished
-- job's row reads as before.

CREATE TABLE governance_job_steps (
    job_id     uuid NOT NULL REFERENCES governance_jobs (job_id),
    step_index integer NOT NULL CHECK (step_index >= 0), -- its position
    result     jsonb NOT NULL,
    PRIMARY KEY (job_id, step_index)
);

-- The id, contract, plan and creation time are checked only by an UPDATE
-- that sets one of them (governance_jobs_guard_plan, which fires after
-- governance_jobs_guard: triggers fire in the order of their names).
CREATE OR REPLACE FUNCTION governance_jobs_guard() RETURNS trigger
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
    IF NEW.attempt < OLD.attempt THEN
        RAISE EXCEPTION 'governance job %: attempt cannot go back from % '
            'to %', OLD.job_id, OLD.attempt, NEW.attempt
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION governance_jobs_guard_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.job_id <> OLD.job_id OR NEW.contract_id <> OLD.contract_id
       OR NEW.steps <> OLD.steps OR NEW.total_steps <> OLD.total_steps
       OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'governance job %: its id, contract, plan and '
            'creation time cannot change', OLD.job_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER governance_jobs_guard_plan
    BEFORE UPDATE OF job_id, contract_id, steps, total_steps, created_at
    ON governance_jobs
    FOR EACH ROW EXECUTE FUNCTION governance_jobs_guard_plan();

-- Results go in only while their job runs: a finished job's results are
-- its step_results alone.
CREATE FUNCTION governance_job_steps_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM governance_jobs
                   WHERE job_id = NEW.job_id AND status = 'RUNNING') THEN
        RAISE EXCEPTION 'governance job %: step results are written only '
            'while it runs', NEW.job_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER governance_job_steps_guard
    BEFORE INSERT OR UPDATE ON governance_job_steps
    FOR EACH ROW EXECUTE FUNCTION governance_job_steps_guard();
