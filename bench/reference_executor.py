#!/usr/bin/env python3
"""reference_executor.py - a model of the reference (seed) executor, for
`make bench` to run next to jobexec.

What it models: the seed executor's run loop written plainly in Python, the
way an ordinary implementation does it, with the work jobexec does for the
same run:

- the plan is read with json.load (JSON plans only) and checked as the seed
  checked it: contract_id a UUID (JOB-001), job_id a UUID or made up,
  steps a list of mappings with an integer step_index, strictly increasing
  (EXEC-001), a step_type and a target that are strings, parameters a
  mapping, timeout_seconds a positive integer (default 300);
- handlers are looked up by step type in a dict; each step calls its
  handler, here a no-op that returns what jobexec's noop returns; a step
  type with no handler fails with "No handler registered for step type:
  <type>"; the loop stops at the first step that did not complete
  (EXEC-003); there is no health observer (before and after are null);
- every event (job started, step started, step finished, job finished) is
  a JSON Lines record appended to the evidence log as it happens, carrying
  seq and prev, the SHA-256 of the previous record's bytes (the first
  record's prev is SHA-256 of "jobexec:chain:v1:" + job_id); job_finished
  ends with a seal holding the SHA-256 of the record without it.  The log
  is a buffered file, never synced (jobexec's `fsync: none`);
- at the end, execution_result_to_evidence() turns the execution result
  into the evidence document, with the field names of jobexec's document,
  and it is printed as JSON on standard output.

It is not a port of jobexec: no plugins, no isolation, no limits, no
redaction, YAML is not read.  Nothing in it is tuned either way.

Usage: reference_executor.py PLAN.json [EVIDENCE_LOG]
"""

import hashlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

EXECUTOR_VERSION = "0.1.0"
DEFAULT_TIMEOUT_SECONDS = 300


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class PlanError(Exception):
    pass


@dataclass
class Step:
    step_index: int
    step_type: str
    target: str
    parameters: Dict[str, Any]
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


@dataclass
class Plan:
    job_id: str
    contract_id: str
    tenant_id: str
    executed_by: str
    steps: List[Step]
    plan_sha256: str


@dataclass
class StepResult:
    step_index: int
    step_type: str
    target: str
    timeout_seconds: int
    status: str
    started_at: str
    completed_at: str
    output: Optional[Dict[str, Any]] = None
    error: Optional[str] = None


@dataclass
class ExecutionResult:
    job_id: str
    contract_id: str
    tenant_id: str
    executed_by: str
    plan_sha256: str
    final_status: str = "COMPLETED"
    final_reason: str = "All steps completed successfully"
    step_results: List[StepResult] = field(default_factory=list)
    health_before: Optional[Dict[str, Any]] = None
    health_after: Optional[Dict[str, Any]] = None
    started_at: str = ""
    completed_at: str = ""
    duration_seconds: float = 0.0


def parse_uuid(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PlanError(f"{what} must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PlanError(f"{what} is not a valid UUID: {value}") from None


def load_plan(path: str) -> Plan:
    with open(path, "rb") as f:
        raw = f.read()
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise PlanError("plan must be a mapping")
    contract_id = parse_uuid(data.get("contract_id"), "contract_id")
    job_id = data.get("job_id")
    job_id = parse_uuid(job_id, "job_id") if job_id is not None \
        else str(uuid.uuid4())
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise PlanError("steps must be a non-empty list")
    steps = []
    last_index = None
    for i, s in enumerate(steps_data):
        if not isinstance(s, dict):
            raise PlanError(f"steps[{i}] must be a mapping")
        index = s.get("step_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise PlanError(f"steps[{i}].step_index must be an integer >= 0")
        if last_index is not None and index <= last_index:
            raise PlanError(f"steps[{i}].step_index must be greater than "
                            f"{last_index}")
        last_index = index
        step_type = s.get("step_type")
        target = s.get("target")
        if not isinstance(step_type, str) or not step_type:
            raise PlanError(f"steps[{i}].step_type must be a string")
        if not isinstance(target, str):
            raise PlanError(f"steps[{i}].target must be a string")
        parameters = s.get("parameters", {})
        if not isinstance(parameters, dict):
            raise PlanError(f"steps[{i}].parameters must be a mapping")
        timeout = s.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        if not isinstance(timeout, int) or timeout < 1:
            raise PlanError(f"steps[{i}].timeout_seconds must be a positive "
                            "integer")
        steps.append(Step(index, step_type, target, parameters, timeout))
    return Plan(job_id=job_id, contract_id=contract_id,
                tenant_id=str(data.get("tenant_id", "")),
                executed_by=str(data.get("executed_by", "executor")),
                steps=steps, plan_sha256=hashlib.sha256(raw).hexdigest())


class EvidenceLog:
    """Appends hash-chained JSON Lines records of one job."""

    def __init__(self, path: str, job_id: str):
        self.f = open(path, "a", encoding="utf-8")
        self.job_id = job_id
        self.seq = 0
        self.prev = hashlib.sha256(
            ("jobexec:chain:v1:" + job_id).encode()).hexdigest()

    def append(self, event: str, fields: Dict[str, Any],
               seal: bool = False) -> None:
        record = {"seq": self.seq, "prev": self.prev, "event": event,
                  "job_id": self.job_id}
        record.update(fields)
        line = json.dumps(record, separators=(",", ":"))
        if seal:
            head = hashlib.sha256(line.encode()).hexdigest()
            record["seal"] = {"head": head}
            line = json.dumps(record, separators=(",", ":"))
        self.f.write(line + "\n")
        self.prev = hashlib.sha256(line.encode()).hexdigest()
        self.seq += 1

    def close(self) -> None:
        self.f.close()


Handler = Callable[[Step, Dict[str, Any]], Dict[str, Any]]


def noop_handler(step: Step, context: Dict[str, Any]) -> Dict[str, Any]:
    return {"handler": "noop", "step_type": step.step_type,
            "target": step.target, "executed_at": utc_now()}


def step_result_to_dict(r: StepResult) -> Dict[str, Any]:
    return {"step_index": r.step_index, "step_type": r.step_type,
            "target": r.target, "timeout_seconds": r.timeout_seconds,
            "status": r.status, "started_at": r.started_at,
            "completed_at": r.completed_at, "output": r.output,
            "error": r.error}


class StepExecutor:
    def __init__(self, log_path: Optional[str] = None):
        self.handlers: Dict[str, Handler] = {}
        self.log_path = log_path

    def register_handler(self, step_type: str, handler: Handler) -> None:
        self.handlers[step_type] = handler

    def execute_job(self, plan: Plan) -> ExecutionResult:
        result = ExecutionResult(job_id=plan.job_id,
                                 contract_id=plan.contract_id,
                                 tenant_id=plan.tenant_id,
                                 executed_by=plan.executed_by,
                                 plan_sha256=plan.plan_sha256)
        t0 = time.monotonic()
        result.started_at = utc_now()
        log = EvidenceLog(self.log_path, plan.job_id) if self.log_path \
            else None
        if log:
            log.append("job_started", {
                "contract_id": plan.contract_id, "tenant_id": plan.tenant_id,
                "executed_by": plan.executed_by,
                "plan_sha256": plan.plan_sha256,
                "executor_version": EXECUTOR_VERSION,
                "steps": len(plan.steps), "started_at": result.started_at,
                "health_before": result.health_before})
        context = {"job_id": plan.job_id, "contract_id": plan.contract_id,
                   "tenant_id": plan.tenant_id,
                   "executed_by": plan.executed_by}
        for step in plan.steps:
            started_at = utc_now()
            if log:
                log.append("step_started", {
                    "step_index": step.step_index,
                    "step_type": step.step_type, "target": step.target,
                    "timeout_seconds": step.timeout_seconds,
                    "started_at": started_at})
            handler = self.handlers.get(step.step_type)
            output, error = None, None
            if handler is None:
                status = "FAILED"
                error = f"No handler registered for step type: " \
                        f"{step.step_type}"
            else:
                try:
                    output = handler(step, context)
                    status = "COMPLETED"
                except Exception as e:  # the step failed, the job goes on
                    status, error = "FAILED", str(e)
            r = StepResult(step.step_index, step.step_type, step.target,
                           step.timeout_seconds, status, started_at,
                           utc_now(), output, error)
            result.step_results.append(r)
            if log:
                log.append("step_finished", {
                    "step": step_result_to_dict(r),
                    "health_after": result.health_after})
            if status != "COMPLETED":
                result.final_status = "FAILED"
                result.final_reason = f"Step {step.step_index} failed: " \
                                      f"{error}"
                break
        result.completed_at = utc_now()
        result.duration_seconds = round(time.monotonic() - t0, 6)
        if log:
            log.append("job_finished", {
                "final_status": result.final_status,
                "final_reason": result.final_reason,
                "execution_summary": summary(result),
                "completed_at": result.completed_at,
                "duration_seconds": result.duration_seconds}, seal=True)
            log.close()
        return result


def summary(result: ExecutionResult) -> Dict[str, int]:
    ok = sum(1 for r in result.step_results if r.status == "COMPLETED")
    return {"steps_executed": len(result.step_results),
            "steps_succeeded": ok,
            "steps_failed": len(result.step_results) - ok}


def execution_result_to_evidence(result: ExecutionResult) -> Dict[str, Any]:
    return {
        "job_id": result.job_id,
        "contract_id": result.contract_id,
        "tenant_id": result.tenant_id,
        "executed_by": result.executed_by,
        "step_results": [step_result_to_dict(r)
                         for r in result.step_results],
        "final_status": result.final_status,
        "final_reason": result.final_reason,
        "execution_summary": summary(result),
        "health_observations": {"before": result.health_before,
                                "after": result.health_after},
        "timing": {"started_at": result.started_at,
                   "completed_at": result.completed_at,
                   "duration_seconds": result.duration_seconds},
        "executor_version": EXECUTOR_VERSION,
        "plan_sha256": result.plan_sha256,
    }


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: reference_executor.py PLAN.json [EVIDENCE_LOG]",
              file=sys.stderr)
        return 2
    try:
        plan = load_plan(argv[1])
    except (OSError, ValueError, PlanError) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 2
    executor = StepExecutor(argv[2] if len(argv) == 3 else None)
    for step_type in ("capability_enable", "capability_disable", "unknown"):
        executor.register_handler(step_type, noop_handler)
    result = executor.execute_job(plan)
    print(json.dumps(execution_result_to_evidence(result)))
    return 0 if result.final_status == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
