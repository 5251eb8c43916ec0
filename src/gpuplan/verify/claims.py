"""What a solution claims, compared with what its placement gives: job states, reasons and values,
objective terms, objective, KPIs, bound and gap."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .assignment.facts import MILLI, NO_ELIGIBLE_GPU, TOO_LARGE, Facts, JobFacts
from .assignment.value import RUNS, Evaluation, JobValue
from ..results import NO_SOLUTION, STATUSES
from .violations import Violation

REASONS = (NO_ELIGIBLE_GPU, TOO_LARGE, "quota", "capacity", "objective")
KPIS = (
    "usable_gpus", "allocated_gpus", "gpu_utilization", "fragmented_gpus", "shared_gpus", "free_nodes",
    "weighted_throughput", "placed_jobs", "unplaced_jobs", "kept_jobs", "migrated_jobs", "preempted_jobs",
)
GAP_TOL = 1e-6


@dataclass(frozen=True)
class ObjectiveValue:
    """What a solution's terms, objective, bound and status are judged against, for any
    problem: :func:`term_claims`, :func:`objective_claims` and :func:`result_claims` read only
    these four fields (an assignment :class:`Evaluation` has them too)."""

    objective_name: str
    sense: str
    objective: float
    terms: dict[str, tuple[float, float]]  # term -> (weight, value)


def number(value) -> float | None:
    """A finite real number, or None (bools and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def close(claimed: float, actual: float, tol: float) -> bool:
    return abs(claimed - actual) <= tol * max(1.0, abs(actual))


def within(claimed: float, low: float, high: float, tol: float) -> bool:
    return low - tol * max(1.0, abs(low)) <= claimed <= high + tol * max(1.0, abs(high))


# ---------------------------------------------------------------- jobs[]


def job_claims(facts: Facts, entries, ev: Evaluation, tol: float) -> list[Violation]:
    if not isinstance(entries, list):
        return [Violation("format", "", "'jobs' must be a list")]
    found, seen = [], Counter()
    for i, entry in enumerate(entries):
        job_id = entry.get("job") if isinstance(entry, dict) else None
        if not isinstance(job_id, str):
            found.append(Violation("format", "", f"jobs[{i}] has no job id"))
        elif job_id not in facts.jobs:
            found.append(Violation("unknown_job", job_id, f"jobs[{i}]: no such job"))
        else:
            seen[job_id] += 1
            if seen[job_id] == 2:
                found.append(Violation("state", job_id, "listed more than once in jobs[]"))
            if seen[job_id] == 1:
                found += _job_claim(facts, facts.jobs[job_id], entry, ev, tol)
    found += [Violation("state", j, "missing from jobs[]") for j in facts.jobs if not seen[j]]
    return found


def _job_claim(facts: Facts, job: JobFacts, entry: dict, ev: Evaluation, tol: float) -> list[Violation]:
    value = ev.jobs[job.id]
    found = []
    if entry.get("state") != value.state:
        message = f"claimed {entry.get('state')!r}, its rows make it {value.state!r}"
        found.append(Violation("state", job.id, message))
    found += _reason(facts, job, value, entry.get("reason"), ev)
    if entry.get("tenant") != job.tenant:
        found.append(Violation("job_value", job.id, f"tenant {entry.get('tenant')!r}, not {job.tenant!r}"))
    gpus = number(entry.get("gpus"))
    if gpus is None or not close(gpus, value.gpus, tol):  # a sharing job holds s_j/1000
        message = f"claims {entry.get('gpus')!r} GPUs, its rows hold {value.gpus:g}"
        found.append(Violation("job_value", job.id, message))
    for key, (low, high) in (("throughput", value.throughput_range), ("cost", value.cost_range)):
        claimed = number(entry.get(key))
        if claimed is None or not within(claimed, low, high, tol):
            expected = f"{low:.6g}" if low == high else f"in [{low:.6g}, {high:.6g}]"
            found.append(Violation("job_value", job.id, f"{key} {entry.get(key)!r}, expected {expected}"))
    return found


def _reason(facts: Facts, job: JobFacts, value: JobValue, reason, ev: Evaluation) -> list[Violation]:
    def bad(message: str) -> list[Violation]:
        return [Violation("reason", job.id, message)]

    if value.state in RUNS:
        return bad(f"runs but carries reason {reason!r}") if reason is not None else []
    if reason not in REASONS:
        return bad(f"{value.state} with reason {reason!r} (expected one of {', '.join(REASONS)})")
    must = job.cannot_run_reason
    if must is not None and reason != must:
        return bad(f"could not run at all: reason must be {must!r}, not {reason!r}")
    if must is None and reason in (NO_ELIGIBLE_GPU, TOO_LARGE):
        return bad(f"could run, so {reason!r} is wrong")
    if reason == "quota":
        return _quota(facts, job, ev)
    return []  # capacity and objective are accepted without proof


def _quota(facts: Facts, job: JobFacts, ev: Evaluation) -> list[Violation]:
    """``quota``: the room the cap leaves beside what the tenant holds is below the job's
    smallest need (its share of the tenant's demand)."""
    cap = facts.tenants[job.tenant].max_gpus
    if cap is None:
        return [Violation("reason", job.id, f"reason 'quota' but tenant '{job.tenant}' has no cap")]
    held = ev.tenant_milli.get(job.tenant, 0) if ev.tenant_milli else round(ev.tenant_gpus.get(job.tenant, 0) * MILLI)
    room = cap * MILLI - held  # in thousandths of a GPU: exact with sharing jobs
    if room >= job.fewest_milli:
        message = f"reason 'quota' but the cap leaves {room / MILLI:g} GPUs and the job needs {job.fewest_gpus:g}"
        return [Violation("reason", job.id, message)]
    return []


# ---------------------------------------------------------------- objective, terms, KPIs, bound


def term_claims(entries, ev: Evaluation | ObjectiveValue, tol: float) -> list[Violation]:
    if not isinstance(entries, list):
        return [Violation("format", "", "'objective_terms' must be a list")]
    claimed: dict[str, dict] = {}
    found = []
    for i, entry in enumerate(entries):
        name = entry.get("term") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name not in ev.terms:
            message = f"objective_terms[{i}] is not a term of objective '{ev.objective_name}'"
            found.append(Violation("objective_term", str(name), message))
        elif name in claimed:
            found.append(Violation("objective_term", name, "listed more than once"))
        else:
            claimed[name] = entry
    for name, (weight, value) in ev.terms.items():
        if name not in claimed:
            found.append(Violation("objective_term", name, "missing"))
            continue
        for key, actual in (("weight", weight), ("value", value), ("contribution", weight * value)):
            got = number(claimed[name].get(key))
            if got is None or not close(got, actual, tol):
                message = f"{key} {claimed[name].get(key)!r}, expected {actual:.9g}"
                found.append(Violation("objective_term", name, message))
    return found


def objective_claims(data: dict, ev: Evaluation | ObjectiveValue, tol: float) -> list[Violation]:
    found = []
    if data.get("sense") != ev.sense:
        message = f"sense {data.get('sense')!r}, but '{ev.objective_name}' is {ev.sense}"
        found.append(Violation("objective", "", message))
    claimed = number(data.get("objective"))
    if claimed is None or not close(claimed, ev.objective, tol):
        message = f"objective {data.get('objective')!r}, the placement gives {ev.objective:.9g}"
        found.append(Violation("objective", "", message))
    found += _solver_objective_claim(data, ev, tol)
    return found


def _solver_objective_claim(data: dict, ev: Evaluation | ObjectiveValue, tol: float) -> list[Violation]:
    """The concrete placement is worth at least what the solver said its solution is worth.

    The model values pooled counts; turning them into nodes must lose nothing, and a model
    that overstates a solution's value (a wrong coefficient, a missing loss) is caught here."""
    solver = number(data.get("solver_objective"))
    if solver is None:
        return []
    slack = tol * max(1.0, abs(solver))
    worse = ev.objective < solver - slack if ev.sense == "max" else ev.objective > solver + slack
    if worse:
        message = f"the placement gives {ev.objective:.9g}, worse than the solver's {solver:.9g}"
        return [Violation("objective", "solver_objective", message)]
    return []


def kpi_claims(kpis, ev: Evaluation, tol: float) -> list[Violation]:
    if not isinstance(kpis, dict):
        return [Violation("format", "", "'kpis' must be a mapping")]
    found = []
    for name in KPIS:
        low, high = ev.kpi_ranges.get(name, (ev.kpis[name], ev.kpis[name]))
        got = number(kpis.get(name))
        if got is None or not within(got, low, high, tol):
            expected = f"{low:.9g}" if low == high else f"in [{low:.9g}, {high:.9g}]"
            found.append(Violation("kpi", name, f"{kpis.get(name)!r}, expected {expected}"))
    return found


def kpi_value_claims(kpis, expected: dict[str, float | None], tol: float) -> list[Violation]:
    """Every KPI of ``expected`` claimed with its value (within ``tol``, relative above 1); a
    KPI expected None (undefined, e.g. a ratio over nothing) must be claimed None."""
    if not isinstance(kpis, dict):
        return [Violation("format", "", "'kpis' must be a mapping")]
    found = []
    for name, actual in expected.items():
        claimed = kpis.get(name)
        if actual is None:
            if claimed is not None:
                found.append(Violation("kpi", name, f"{claimed!r}, expected None (undefined)"))
            continue
        got = number(claimed)
        if got is None or not close(got, actual, tol):
            found.append(Violation("kpi", name, f"{claimed!r}, expected {actual:.9g}"))
    return found


def status_claims(data: dict, tol: float) -> list[Violation]:
    """``optimal`` only within the gap the solve was asked for (``mip_gap``, when the solution
    records it): a placement whose value is farther from the bound is at best ``feasible``."""
    gap, mip_gap = number(data.get("gap")), number(data.get("mip_gap"))
    if data.get("status") != "optimal" or mip_gap is None:
        return []
    if gap is None:
        return [Violation("status", "", "status 'optimal' without a gap: nothing proves it")]
    if gap > mip_gap + max(tol, GAP_TOL):
        return [Violation("status", "", f"status 'optimal' with a gap of {gap:.6g}, above mip_gap {mip_gap:g}")]
    return []


def result_claims(data: dict, ev: Evaluation | ObjectiveValue, tol: float) -> list[Violation]:
    """What a solve claims about its placement's value, bound, gap and status, against the
    placement's evaluation: the checks a Result passes before it is returned."""
    return objective_claims(data, ev, tol) + bound_claims(data, ev.sense, tol) + status_claims(data, tol)


def bound_claims(data: dict, sense: str, tol: float) -> list[Violation]:
    objective, bound, gap = (number(data.get(key)) for key in ("objective", "bound", "gap"))
    if objective is None or bound is None:
        return []
    slack = tol * max(1.0, abs(objective))
    beyond = objective > bound + slack if sense == "max" else objective < bound - slack
    if beyond:
        side = "above" if sense == "max" else "below"
        message = f"objective {objective:.9g} is {side} the bound {bound:.9g} of a {sense} problem"
        return [Violation("bound", "", message)]
    if gap is not None:
        difference = abs(bound - objective)
        # as HiGHS reports it: 0 when objective and bound agree to 1e-9 (relative, at least absolute)
        expected = 0.0 if difference <= 1e-9 * max(1.0, abs(objective)) else difference / max(1e-10, abs(objective))
        if abs(gap - expected) > GAP_TOL:
            return [Violation("bound", "", f"gap {gap:.9g}, but objective and bound give {expected:.9g}")]
    return []


def has_solution(data: dict) -> bool:
    """False for infeasible / unbounded / error, and for a time limit hit before any incumbent
    (no objective). An unknown status is judged as a solution (and reported by header_claims)."""
    status = data.get("status")
    return not (status in NO_SOLUTION or (status == "time_limit" and data.get("objective") is None))


def header_claims(data: dict, header: dict, solution_keys, solved: bool) -> list[Violation]:
    """The solution file's header (format, version, problem), its status, and, when it holds a
    solution, every key its problem's solution must have."""
    found = [Violation("format", "", f"{key} is {data.get(key)!r}, expected {value!r}")
             for key, value in header.items() if data.get(key) != value]
    if data.get("status") not in STATUSES:
        found.append(Violation("format", "", f"status {data.get('status')!r} not in {', '.join(STATUSES)}"))
    if solved:
        found += [Violation("format", "", f"key '{key}' missing") for key in solution_keys if key not in data]
    return found
