"""The assignment's solve strategy: index -> greedy start -> model -> LP relaxation ->
LP-guided rounding -> HiGHS (or neighbourhood search) -> concrete nodes -> Result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from ...heuristics.assignment import GreedyOutcome, greedy
from ...index.node_grant import NodeGrant
from ...index.assignment import AssignmentIndex, build_index
from ...instance.schema import Instance
from .. import InfeasibleInstance, build_model
from ...request import SolveRequest
from .bounds import trivial_bound
from .disaggregate import solution_rows
from .neighborhoods import ShareRepair, node_neighborhoods
from .objectives import SENSE, objective_weights
from .warm_start import apply_start
from ...heuristics.assignment.reasons import unplaced_reasons
from .rounding import lp_guide
from ...results import TERM_COLUMNS, Result
from ...solver import (HighsSession, SolveOptions, proved, relative_gap, remaining, solve_model, solve_without_start,
                      tighter_bound)
from ...verify import evaluate
from ...verify.assignment.check import judge_rows
from ...verify.claims import result_claims
from ...verify.assignment.value import placement_rows
from ...verify.assignment.facts import Facts, instance_facts
from ...verify.assignment.value import Evaluation

IPM_THRESHOLD = 20_000        # per-node pairs above which the LP relaxation uses interior point
LNS_THRESHOLD = 50_000        # per-node pairs above which the MIP is improved by neighbourhood search
DEFAULT_SEARCH_S = 60.0       # search time when no time limit is given
EXTRACTION_RESERVE_S = 5.0    # kept back from the time limit to turn the solution into nodes
FINISHING_SHARE = 0.05        # ... but never more than this share of the limit
NOT_RUNNING = ("unplaced", "preempted")
CLAIM_TOL = 1e-6              # the verifier's default tolerance


@dataclass
class SolveContext:
    """What every stage of one assignment solve shares: the request, the instance and its index,
    the verifier's facts, the caller's start, the timings so far and the relaxation bound."""

    instance: Instance
    idx: AssignmentIndex
    request: SolveRequest
    facts: Facts
    timings: dict[str, float] = field(default_factory=dict)
    user_start: GreedyOutcome | None = None
    user_evaluation: Evaluation | None = None
    relaxation_bound: float | None = None

    @property
    def objective(self) -> str:
        return self.request.objective

    @property
    def sense(self) -> str:
        return SENSE[self.request.objective]

    @property
    def options(self) -> SolveOptions:
        return self.request.options

    @property
    def started(self) -> float:
        return self.request.started


def assignment_weights(built) -> dict[str, float]:
    """The weights of the built objective's terms (models/assignment.md, Objectives)."""
    return objective_weights(built.objective, built.index.usable_gpus)


def build_assignment(instance: Instance, objective: str | None = None):
    """The assignment model of ``instance`` alone (index and blocks, no solve)."""
    return build_model(build_index(instance), objective, "assignment")


def solve_assignment(instance: Instance, request: SolveRequest) -> Result:
    """The assignment's strategy: index, greedy start, model, LP relaxation, LP-guided rounding,
    then branch-and-bound or (for very large per-node models) neighbourhood search."""
    tick = time.perf_counter()
    idx = build_index(instance, max_patterns=request.max_patterns)
    ctx = SolveContext(instance=instance, idx=idx, request=request, facts=instance_facts(instance))
    ctx.timings["index_s"] = time.perf_counter() - tick
    if request.start is not None:
        ctx.user_start, ctx.user_evaluation = _user_start(ctx, request.start)

    impossible = idx.required_but_impossible()
    if impossible:
        reasons = ", ".join(f"'{j}' ({idx.reasons[j]})" for j in impossible[:5])
        return _finish(ctx, status="infeasible", message=f"required job(s) can never run: {reasons}")

    tick = time.perf_counter()
    start = greedy(idx, ctx.objective)
    ctx.timings["greedy_s"] = time.perf_counter() - tick
    if request.method == "greedy":
        if not start.complete:  # an incomplete placement is no solution: it breaks a rule
            return _finish(ctx, status="error", message=f"greedy: {start.message}")
        broken, evaluation = _judged(ctx, start.rows)
        if broken:
            return _finish(ctx, status="error",
                           message=f"greedy: its placement breaks a rule ({broken[0]}); the MILP may still solve it")
        # No solver, so no bound of its own: the trivial one, so that the gap says how far off
        # the baseline can at most be (and proves it optimal when it reaches the bound).
        bound = trivial_bound(idx, ctx.objective)
        reached = proved(evaluation.objective, bound, ctx.options.mip_gap)
        return _finish(ctx, status="optimal" if reached else "feasible", rows=start.rows,
                       bound=bound, message="greedy best-fit baseline; bound: the trivial one (every job at its best)",
                       evaluation=evaluation)
    return _solve_milp(ctx, start)


def _solve_milp(ctx: SolveContext, start) -> Result:
    options, timings, started = ctx.options, ctx.timings, ctx.started
    tick = time.perf_counter()
    try:
        built = build_model(ctx.idx, ctx.objective, ctx.request.problem)
    except InfeasibleInstance as impossible:
        return _finish(ctx, status="infeasible", message=str(impossible))
    timings["build_s"] = time.perf_counter() - tick
    if options.solver != "highs" or built.model.nvariables() == 0:
        chosen = ctx.user_start or (start if start.complete else None)
        start_set = options.warm_start and chosen is not None and apply_start(built, chosen.rows, _value_of(ctx, chosen))
        return _from_outcome(ctx, built, solve_model(built.model, options), start, start_set)

    session = HighsSession(built.model, options)
    timings["handoff_s"] = session.handoff_s
    start_set = False
    if options.warm_start:
        # Per-node LPs (many jobs x identical nodes) are highly degenerate: the interior-point
        # method solves them an order of magnitude faster than simplex, which wins on the
        # pooled formulation.
        method = "ipm" if len(ctx.idx.node_pack) > IPM_THRESHOLD else "choose"
        relaxation = session.relaxation(remaining(options, started), method)
        timings["relaxation_s"] = relaxation.seconds
        if relaxation.status == "infeasible":
            return _finish(ctx, status="infeasible", log=session.log.getvalue(),
                           message="the LP relaxation is infeasible, so is the instance")
        tick = time.perf_counter()
        best, best_evaluation = _best_start(ctx, built, start, relaxation)
        timings["rounding_s"] = time.perf_counter() - tick
        # apply_start checks that the model values the start as the rules do, so the model's
        # objective below is the placement's value (the evaluation's), never a partial write.
        start_set = best is not None and apply_start(built, best.rows, best_evaluation.objective)
        ctx.relaxation_bound = relaxation.bound
        if start_set and relaxation.bound is not None:
            value = best_evaluation.objective
            if proved(value, relaxation.bound, options.mip_gap):
                return _finish(ctx, status="optimal", rows=best.rows, bound=relaxation.bound,
                               solver_objective=value, log=session.log.getvalue(), evaluation=best_evaluation,
                               message="proved by the LP relaxation bound (no branching needed)")
            if len(ctx.idx.node_pack) > LNS_THRESHOLD:
                return _search_neighborhoods(ctx, built, session, relaxation)
        if start_set:
            session.pass_start()
    outcome = session.solve(remaining(options, started, reserve=_finishing_reserve(options)))
    if outcome.misreported and start_set:
        outcome = solve_without_start(built.model, built.sense, options, ctx.timings, outcome,
                                      remaining(options, ctx.started, reserve=_finishing_reserve(options)))
    return _from_outcome(ctx, built, outcome, start, start_set)


def _search_neighborhoods(ctx: SolveContext, built, session, relaxation) -> Result:
    options, timings, started = ctx.options, ctx.timings, ctx.started
    """Per-node models this large are beyond branch-and-bound in a minute: improve the start by
    re-packing a few hundred nodes at a time instead (the relaxation bound stays the proof)."""
    left = remaining(options, started)
    budget = DEFAULT_SEARCH_S if left is None else max(1.0, left - EXTRACTION_RESERVE_S)
    nodes = len({n for _, n in built.model.NODE_PACK})
    size = max(20, min(60, nodes // 20))
    repair = ShareRepair(built, session.columns)
    improvement = session.improve(node_neighborhoods(built, size, seed=options.seed), built.sense, budget,
                                  repair=repair)
    timings["search_s"] = improvement.seconds
    value = improvement.objective
    tick = time.perf_counter()
    nodes_out = solution_rows(built)
    timings["extract_s"] = time.perf_counter() - tick
    status = "optimal" if proved(value, relaxation.bound, options.mip_gap) else "feasible"
    message = (f"large-neighbourhood search: {improvement.rounds} rounds of {size} nodes in "
               f"{improvement.seconds:.0f} s; bound from the LP relaxation")
    solver_objective = value
    if nodes_out.dropped:
        status, solver_objective = "feasible", None
        message += f"; {len(nodes_out.dropped)} sharing job(s) did not pack onto GPUs and were dropped"
    return _finish(ctx, status=status, rows=nodes_out.rows, bound=relaxation.bound,
                   solver_objective=solver_objective, message=message, log=session.log.getvalue())


def _value_of(ctx, chosen) -> float:
    """The rules' value of a start: the caller's as evaluated on arrival, else evaluated now."""
    if chosen is ctx.user_start:
        return ctx.user_evaluation.objective
    return _judged(ctx, chosen.rows)[1].objective


def _finishing_reserve(options: SolveOptions) -> float:
    """Time kept back from branch-and-bound for turning its solution into nodes and evaluating
    it, so the whole call ends near the time limit rather than a second or two after it."""
    if options.time_limit is None:
        return 0.0
    return min(EXTRACTION_RESERVE_S, FINISHING_SHARE * options.time_limit)


def _user_start(ctx, start):
    """A start the caller supplies, checked against the rules before it is used, and its
    evaluation."""
    rows = start.placements if isinstance(start, Result) else start
    rows = [NodeGrant(*row) for row in placement_rows(rows)]
    violations, evaluation = _judged(ctx, rows)
    if violations:
        raise ValueError(f"start is not a valid placement: {violations[0]}")
    return GreedyOutcome(rows, complete=True, message="the start given"), evaluation


def _best_start(ctx, built, start, relaxation):
    """The best of the plain greedy, the LP-guided greedy and a start given by the caller, with
    its evaluation ((None, None) if none is complete and valid)."""
    # The caller's start comes first, so that it wins ties: it was offered for a reason the
    # objective may not see (e.g. a fragmentation-aware placement when everything fits).
    judged = [(ctx.user_start, ctx.user_evaluation)] if ctx.user_start is not None else []
    candidates = [start] if start.complete else []
    if relaxation.status == "optimal":
        guided = greedy(ctx.idx, ctx.objective, lp_guide(built))
        if guided.complete:
            candidates.append(guided)
    # A start may end the search (proved by the LP bound): each is checked against the rules
    # (the caller's was checked on arrival), so that a heuristic's slip can never become an answer.
    for candidate in candidates:
        broken, evaluation = _judged(ctx, candidate.rows)
        if not broken:
            judged.append((candidate, evaluation))
    if not judged:
        return None, None
    sign = 1 if SENSE[ctx.objective] == "max" else -1
    return max(judged, key=lambda pair: sign * pair[1].objective)


def _judged(ctx, rows):
    """The rows' rule violations and evaluation under the instance's facts, from one pass."""
    return judge_rows(ctx.instance, rows, facts=ctx.facts, objective=ctx.objective)


def _from_outcome(ctx: SolveContext, built, outcome, start, start_set) -> Result:
    timings = ctx.timings
    timings.setdefault("handoff_s", outcome.handoff_s)
    timings["solve_s"] = outcome.solve_s
    rows = None
    status, solver_objective, message = outcome.status, outcome.objective, outcome.message
    if outcome.has_solution:
        tick = time.perf_counter()
        nodes = solution_rows(built)
        rows = nodes.rows
        timings["extract_s"] = time.perf_counter() - tick
        if nodes.dropped:
            # The share rows are a relaxation of packing jobs onto GPU indices: what could not be
            # packed is dropped, so the solution is valid but no longer the solver's.
            status, solver_objective = "feasible", None
            message = "; ".join(filter(None, [message, f"{len(nodes.dropped)} sharing job(s) did not pack onto "
                                              f"GPUs and were dropped: {', '.join(nodes.dropped[:5])}"]))
    bound = tighter_bound(outcome.bound, ctx.relaxation_bound, SENSE[ctx.objective])
    if bound is None and outcome.status in ("feasible", "time_limit"):
        bound = trivial_bound(ctx.idx, ctx.objective)
        message = "; ".join(filter(None, [message, "solver stopped before its first bound: trivial bound"]))
    if not start_set:
        message = "; ".join(filter(None, [message, f"no MIP start ({start.message or 'greedy start not expressible'})"]))
    return _finish(ctx, status=status, rows=rows, bound=bound,
                   solver_objective=solver_objective, message=message, log=outcome.log)


def _finish(ctx: SolveContext, *, status, rows=None, bound=None, solver_objective=None, message="",
            log="", evaluation=None) -> Result:
    """The Result, its claims checked; ``evaluation``: the rows' evaluation when the caller
    already has it.

    "optimal" stands only where the placement's own value (the rules', not the model's or the
    solver's) is within mip_gap of the bound; otherwise the result is "feasible" with its true
    gap. A claim the Result still cannot back (its value, the solver's, the bound's side, the
    gap) is a bug: the Result becomes status "error" naming the violation, never returned as is."""
    instance, idx, objective = ctx.instance, ctx.idx, ctx.objective
    timings, started = ctx.timings, ctx.started
    result = Result(
        instance_name=instance.name or "", problem=ctx.request.problem, method=ctx.request.method,
        objective_name=objective, sense=SENSE[objective], status=status, bound=bound,
        solver_objective=solver_objective, mip_gap=ctx.options.mip_gap, message=message, solver_log=log,
    )
    if rows is not None:
        evaluation = _fill_solution(result, instance, idx, rows, ctx.facts, evaluation)
        result.gap = relative_gap(result.objective, bound)
        if status == "optimal" and not proved(result.objective, bound, ctx.options.mip_gap):
            result.status = "feasible"
            result.message = "; ".join(filter(None, [message, f"not proved optimal: the placement's value "
                                                     f"{result.objective:.9g} is {result.gap:.3g} from the bound"]))
        broken = result_claims(_claims_of(result), evaluation, CLAIM_TOL)
        if broken:
            timings["total_s"] = time.perf_counter() - started
            return _finish(ctx, status="error", log=log,
                           message=f"the result fails its own check ({broken[0]}); " + message)
    timings["total_s"] = time.perf_counter() - started
    result.timings = timings
    return result


def _claims_of(result: Result) -> dict:
    """What a Result claims about its value, in the form the verifier reads."""
    return {"status": result.status, "sense": result.sense, "objective": result.objective, "bound": result.bound,
            "gap": result.gap, "solver_objective": result.solver_objective, "mip_gap": result.mip_gap}


def _row_key(row):
    return (row.job, row.node, row.gpu_index if row.gpu_index is not None else -1)


def _fill_solution(result: Result, instance: Instance, idx: AssignmentIndex, rows, facts, evaluation=None):
    evaluation = evaluation or evaluate(instance, rows, objective=result.objective_name, facts=facts)
    nodes = idx.nodes
    result.placements = pd.DataFrame(
        [(row.job, row.node, nodes[row.node].gpu_type, row.gpus, row.gpu_index, nodes[row.node].pool,
          nodes[row.node].pod, nodes[row.node].site) for row in sorted(rows, key=_row_key)], columns=result.columns("placements"))
    result.placements["gpu_index"] = result.placements["gpu_index"].astype("Int64")
    not_running = [j for j, value in evaluation.jobs.items() if value.state in NOT_RUNNING]
    reasons = unplaced_reasons(idx, rows, not_running)
    result.jobs = pd.DataFrame(
        [(j, v.tenant, v.state, reasons.get(j), v.gpus, v.throughput, v.cost) for j, v in evaluation.jobs.items()],
        columns=result.columns("jobs"))
    result.pools = evaluation.pool_table()
    result.tenants = evaluation.tenant_table()
    result.kpis = dict(evaluation.kpis)
    result.objective_terms = pd.DataFrame(
        [(name, weight, value, weight * value + 0.0) for name, (weight, value) in evaluation.terms.items()],
        columns=TERM_COLUMNS)
    result.objective = evaluation.objective
    return evaluation
