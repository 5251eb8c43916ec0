"""The assignment's solution check: its rows, their validity (rules 1-9 of models/assignment.md)
and everything the solution claims.

A placement row is {"job", "node", "gpu_type", "gpus", "gpu_index"}; ``gpu_index`` (absent =
null) names the GPU a sharing job shares and is null for every other job."""

from __future__ import annotations

from ...instance.schema import Instance
from ..claims import has_solution, header_claims, job_claims, kpi_claims, number, result_claims, term_claims
from .facts import Facts, instance_facts
from .rules import placement_violations
from .value import SENSE, Evaluation, evaluate_rows, group_rows
from ..violations import Violation

HEADER = {"format": "gpuplan-solution", "version": 1, "problem": "assignment"}
SOLUTION_KEYS = (
    "status", "objective_name", "sense", "objective", "bound", "gap", "objective_terms", "kpis",
    "placements", "jobs",
)


def check_rows(instance, rows, *, facts: Facts | None = None, objective: str | None = None) -> list[Violation]:
    """Validity alone (rules 1-9) of bare placement rows: (job, node, gpus[, gpu_index]) tuples,
    dicts or a DataFrame. Returns [] when valid; for claims and objectives use :func:`verify`."""
    return judge_rows(instance, rows, facts=facts, objective=objective)[0]


def judge_rows(instance, rows, *, facts: Facts | None = None,
               objective: str | None = None) -> tuple[list[Violation], Evaluation | None]:
    """:func:`check_rows` and the rows' evaluation from one pass (None when a row names an
    unknown job or node), for a caller that wants both."""
    from ..check import as_instance
    from .value import placement_rows

    facts = facts or instance_facts(as_instance(instance))
    parsed = placement_rows(rows)
    unknown = [Violation("unknown_job" if r[0] not in facts.jobs else "unknown_node", r[0] if r[0] not in facts.jobs else r[1],
                         f"row {r} names an unknown {'job' if r[0] not in facts.jobs else 'node'}")
               for r in parsed if r[0] not in facts.jobs or r[1] not in facts.nodes]
    if unknown:
        return unknown, None
    evaluation = evaluate_rows(facts, parsed, objective or facts.objective)
    return placement_violations(facts, group_rows(facts, parsed), evaluation), evaluation


def check_solution(instance: Instance, data: dict, tol: float = 1e-6) -> list[Violation]:
    solved = has_solution(data)
    found = header_claims(data, HEADER, SOLUTION_KEYS, solved)
    if not solved:  # nothing to check but that nothing is placed
        if data.get("placements"):
            message = f"status {data.get('status')!r} means no solution, yet placements are given"
            found.append(Violation("status", "", message))
        return found
    facts = instance_facts(instance)
    rows, row_problems = parse_rows(facts, data.get("placements"))
    objective = data.get("objective_name")
    if objective not in SENSE:
        found.append(Violation("format", "", f"objective_name {objective!r} not in {', '.join(SENSE)}"))
        objective = facts.objective
    ev = evaluate_rows(facts, rows, objective)
    found += row_problems
    found += placement_violations(facts, group_rows(facts, rows), ev)
    found += job_claims(facts, data.get("jobs"), ev, tol)
    found += term_claims(data.get("objective_terms"), ev, tol)
    found += kpi_claims(data.get("kpis"), ev, tol)
    found += result_claims(data, ev, tol)
    return found


def parse_rows(facts: Facts, placements) -> tuple[list[tuple[str, str, int, int | None]], list[Violation]]:
    """The usable rows (known job and node, a non-negative GPU count, an empty or non-negative
    GPU index) as (job, node, gpus, gpu_index), and the problems of the rest."""
    if placements is None:
        return [], []
    if not isinstance(placements, list):
        return [], [Violation("format", "", "'placements' must be a list")]
    rows, found = [], []
    for i, row in enumerate(placements):
        problem = _row_problem(facts, i, row)
        if problem is not None:
            found.append(problem)
            continue
        node = facts.nodes[row["node"]]
        if row.get("gpu_type") != node.gpu_type:
            message = f"placements[{i}]: gpu_type {row.get('gpu_type')!r}, node '{node.id}' is {node.gpu_type}"
            found.append(Violation("gpu_type", row["job"], message))
        index = row.get("gpu_index")
        rows.append((row["job"], row["node"], int(row["gpus"]), None if index is None else int(index)))
    return rows, found


def _row_problem(facts: Facts, i: int, row) -> Violation | None:
    if not isinstance(row, dict):
        return Violation("format", "", f"placements[{i}] is not a mapping")
    job, node, gpus = row.get("job"), row.get("node"), number(row.get("gpus"))
    if not isinstance(job, str) or job not in facts.jobs:
        return Violation("unknown_job", str(job), f"placements[{i}]: no such job")
    if not isinstance(node, str) or node not in facts.nodes:
        return Violation("unknown_node", str(node), f"placements[{i}] (job '{job}'): no such node")
    if gpus is None or gpus != int(gpus) or gpus < 0:
        return Violation("format", job, f"placements[{i}]: gpus {row.get('gpus')!r} is not a non-negative integer")
    index = row.get("gpu_index")
    if index is not None and (number(index) is None or index != int(index) or index < 0):
        message = f"placements[{i}]: gpu_index {index!r} is neither empty nor a non-negative integer"
        return Violation("format", job, message)
    return None
