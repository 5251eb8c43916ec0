"""The schedule's solution check: the header, the decision rows (rule 1), their validity (rules
2-9 of the schedule contract) and everything the solution claims (rule 10: objective terms,
KPIs, objective, bound, gap and status, judged as for the assignment by :mod:`..claims`).

A solution dict carries the decisions ``placements``, ``services`` and ``nodes_on`` (lists of
rows, see :mod:`.decisions`); all three keys must be present, empty lists allowed. It claims
every term of :data:`~.value.TERMS` (weight 0 included) and every KPI of :data:`~.value.KPIS`
(``mean_pue`` None when no IT energy is drawn).

A row with a problem of rule 1 (format, unknown id or period, power mode) is reported once and
left out of the valuation, so the claims are judged on the readable rows. The assignment's
``jobs[]`` claims have no schedule counterpart: the contract's claims are terms, KPIs,
objective, bound, gap and status, and the jobs table is derived from the decisions.
"""

from __future__ import annotations

from ...instance.schema import Instance
from ..claims import has_solution, header_claims, kpi_value_claims, result_claims, term_claims
from ..violations import Violation
from .facts import schedule_facts
from .rows import TABLES, solution_rows
from .rules import schedule_violations
from .value import KPIS, SENSE, evaluate

HEADER = {"format": "gpuplan-solution", "version": 1, "problem": "schedule"}
DEFAULT_OBJECTIVE = "cost"
SOLUTION_KEYS = ("status", "objective_name", "sense", "objective", "bound", "gap", "objective_terms", "kpis",
                 *TABLES)


def check_solution(instance: Instance, data: dict, tol: float = 1e-6) -> list[Violation]:
    solved = has_solution(data)
    found = header_claims(data, HEADER, SOLUTION_KEYS, solved)
    if not solved:  # nothing to check but that nothing is decided
        for table in TABLES:
            if data.get(table):
                message = f"status {data.get('status')!r} means no solution, yet {table} rows are given"
                found.append(Violation("status", "", message))
        return found
    facts = schedule_facts(instance)
    frames, row_problems = solution_rows(facts, data)
    objective = data.get("objective_name")
    if objective not in SENSE:
        found.append(Violation("format", "", f"objective_name {objective!r} not in {', '.join(SENSE)}"))
        objective = DEFAULT_OBJECTIVE
    ev = evaluate(facts, frames["placements"], frames["services"], frames["nodes_on"])
    found += row_problems
    found += schedule_violations(facts, ev, tol)
    valued = ev.valued(objective)
    found += term_claims(data.get("objective_terms"), valued, tol)
    found += kpi_value_claims(data.get("kpis"), {k: ev.kpis[k] for k in KPIS}, tol)
    found += result_claims(data, valued, tol)
    return found


