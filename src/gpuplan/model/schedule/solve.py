"""The schedule's solve strategy: index -> model (jobs, services, nodes, energy) -> HiGHS ->
decision rows -> the verifier's evaluation -> Result (its claims checked before it is returned)."""

from __future__ import annotations

import time
from functools import partial
from itertools import groupby

import pandas as pd
import pyomo.environ as pyo

from ...heuristics.schedule import asap, carbon_aware
from ...index.schedule import ScheduleIndex, build_schedule_index
from ...instance.schema import Instance
from ...request import SolveRequest
from ...results import TERM_COLUMNS, Result
from ...solver import (HighsSession, SolverOutcome, proved, relative_gap, remaining, solve_model,
                      solve_without_start, tighter_bound)
from ...verify.claims import result_claims
from .. import InfeasibleInstance, build_model
from .guided_start import guided_plan, set_plan_binaries
from .large import LARGE_COLUMNS, exact_columns, solve_large
from .rounding import ORDERS, job_binaries, lp_rounding, lp_values
from .sequence_search import search_seconds, searched_rounding

CLAIM_TOL = 1e-6
# Columns above which HiGHS solves the LP relaxation by interior point: time-indexed schedules
# have many columns over few, highly degenerate rows, where dual simplex stalls (wt40: no LP in
# 120 s by simplex, 18 s by interior point).
IPM_COLUMNS = 20_000
COST_TERMS = ("energy_cost", "demand_charge", "carbon_cost", "tardiness_cost", "unmet_service_cost",
              "restart_cost", "migration_cost", "wake_cost")
# models/schedule.md, Objectives: term -> weight
WEIGHTS = {
    "cost": {**{term: 1.0 for term in COST_TERMS}, "job_value": -1.0, "carbon_kg": 0.0},
    "carbon": {"carbon_kg": 1e-3},
    "value": {"job_value": 1.0},
}


BASELINES = {"asap": asap, "carbon_aware": carbon_aware}
BASELINE_NOTES = {
    "asap": "ASAP baseline: earliest deadline first, each job as soon as capacity allows, full power",
    "carbon_aware": "carbon-aware baseline: earliest deadline first, each job in the cleanest hours of its window",
}


def schedule_weights(built) -> dict[str, float]:
    return dict(WEIGHTS[built.objective])


def build_schedule(instance: Instance, objective: str | None = None):
    """The schedule model of ``instance`` alone (index and blocks, no solve)."""
    return build_model(build_schedule_index(instance), objective, "schedule")


def solve_schedule(instance: Instance, request: SolveRequest) -> Result:
    from ...verify.schedule.facts import schedule_facts

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    idx = build_schedule_index(instance)
    facts = schedule_facts(instance)
    timings["index_s"] = time.perf_counter() - tick
    head = dict(instance_name=instance.name or "", problem=request.problem, method=request.method,
                objective_name=request.objective, sense=_sense(request), mip_gap=request.options.mip_gap)
    if request.method in BASELINES:
        return _baseline(idx, facts, request, head, timings)
    if exact_columns(idx) > LARGE_COLUMNS:
        return _large(idx, facts, request, head, timings)
    tick = time.perf_counter()
    try:
        built = build_model(idx, request.objective, request.problem)
    except InfeasibleInstance as impossible:
        return _finish(Result(status="infeasible", message=str(impossible), **head), timings, request)
    timings["build_s"] = time.perf_counter() - tick
    outcome, lp_bound = _solve(built, request, timings)
    result = Result(status=outcome.status, bound=tighter_bound(outcome.bound, lp_bound, head["sense"]),
                    solver_objective=outcome.objective, message=outcome.message, solver_log=outcome.log, **head)
    if not outcome.has_solution:
        return _finish(result, timings, request)
    tick = time.perf_counter()
    placements, services, nodes_on = decision_rows(built)
    timings["extract_s"] = time.perf_counter() - tick
    _fill(result, facts, placements, services, nodes_on)
    if result.status == "optimal" and not proved(result.objective, result.bound, request.options.mip_gap):
        result.status = "feasible"
        result.message = "; ".join(filter(None, [result.message, f"not proved optimal: the plan's value "
                                                 f"{result.objective:.9g} is {result.gap:.3g} from the bound"]))
    return _finish(result, timings, request, facts=facts)


def _baseline(idx, facts, request: SolveRequest, head: dict, timings) -> Result:
    """A baseline's plan, valued by the verifier; no bound of its own, so never "optimal"."""
    tick = time.perf_counter()
    plan = BASELINES[request.method](idx)
    timings["heuristic_s"] = time.perf_counter() - tick
    if plan.failed:
        return _finish(Result(status="error", message=f"{request.method}: {plan.message}", **head), timings, request)
    left_out = f"; left out (need not finish, no room): {', '.join(plan.left_out[:5])}" if plan.left_out else ""
    result = Result(status="feasible", message=f"{BASELINE_NOTES[request.method]}{left_out}", **head)
    _fill(result, facts, plan.placements, plan.services, plan.nodes_on)
    return _finish(result, timings, request, facts=facts)


def _large(idx, facts, request: SolveRequest, head: dict, timings) -> Result:
    """Too large for the exact model: the fluid relaxation's bound and the best completed plan."""
    try:
        plan = solve_large(idx, facts, request, head["sense"], schedule_weights, timings)
    except InfeasibleInstance as impossible:
        return _finish(Result(status="infeasible", message=str(impossible), **head), timings, request)
    if plan is None:
        return _finish(Result(status="error", message="large instance: no plan found (every candidate failed)",
                              **head), timings, request)
    if plan.relaxation_status == "infeasible":
        return _finish(Result(status="infeasible", message=plan.message, **head), timings, request)
    result = Result(status="feasible", bound=plan.bound, message=plan.message, **head)
    _fill(result, facts, plan.placements, plan.services, plan.nodes_on)
    if proved(result.objective, result.bound, request.options.mip_gap):
        result.status = "optimal"
    return _finish(result, timings, request, facts=facts)


def _solve(built, request: SolveRequest, timings) -> tuple:
    """HiGHS on the model: the LP relaxation first, its LP-guided rounding as the MIP start, then
    the MIP. Returns the outcome and the relaxation's bound (None when not solved)."""
    options = request.options
    lp_method = "ipm" if built.model.nvariables() > IPM_COLUMNS else "choose"
    if options.solver != "highs" or built.model.nvariables() == 0:
        outcome = solve_model(built.model, options)
        timings["handoff_s"], timings["solve_s"] = outcome.handoff_s, outcome.solve_s
        return outcome, None
    session = HighsSession(built.model, options)
    timings["handoff_s"] = session.handoff_s
    lp_bound, start_set = None, False
    if options.warm_start:
        relaxation = session.relaxation(remaining(options, request.started), lp_method)
        timings["relaxation_s"] = relaxation.seconds
        if relaxation.status == "optimal":
            lp_bound = relaxation.bound
            value = _best_rounding(built, session, request)
            if value is not None and proved(value, lp_bound, options.mip_gap):   # proved by the LP: no search
                timings["solve_s"] = 0.0
                return SolverOutcome("optimal", value, lp_bound, relative_gap(value, lp_bound), has_solution=True,
                                     log=session.log.getvalue(),
                                     message="LP-guided rounding, proved within the gap by the LP bound"), lp_bound
            if value is not None:
                start_set = bool(session.pass_start())
    # The search keeps HiGHS's own LP choice, and large models skip presolve: its probing and
    # interior-point LPs do not stop at the time limit (wt40 #11: 118 s past a 20 s limit; 1 s
    # without presolve), and the relaxation's bound is kept anyway.
    search = {"presolve": lp_method != "ipm"}
    outcome = session.solve(remaining(options, request.started), **search)
    timings["solve_s"] = outcome.solve_s
    if outcome.misreported and start_set:
        outcome = solve_without_start(built.model, _sense(request), options, timings, outcome,
                                      remaining(options, request.started), **search)
    return outcome, lp_bound


def _best_rounding(built, session, request: SolveRequest) -> float | None:
    """Round the relaxation in each order, and once more after a sequence local search from the
    best order; complete each with HiGHS (job binaries fixed) and leave the best complete plan
    in the variables; its model value, or None when none completed."""
    lp, sense, best = lp_values(built), _sense(request), None
    variables = list(built.model.component_data_objects(pyo.Var, active=True))
    roundings = [partial(lp_rounding, built, lp, order) for order in ORDERS]
    roundings.append(partial(searched_rounding, built, lp, ORDERS, schedule_weights(built), sense,
                             search_seconds(remaining(request.options, request.started))))
    roundings.append(partial(_guided_rounding, built, lp, request.objective))
    relaxed = _relaxed_value(built)
    for rounding in roundings:
        if best is not None and relaxed is not None and proved(best[0], relaxed, request.options.mip_gap):
            break   # a plan at the LP bound already: no other rounding or search can beat it
        if rounding() is None:   # the sequence search skips instances it does not handle
            continue
        if not session.complete(job_binaries(built), remaining(request.options, request.started)):
            continue
        value = pyo.value(built.model.objective)
        if best is None or (value < best[0] if sense == "min" else value > best[0]):
            best = (value, [v.value for v in variables])
    if best is None:
        return None
    for var, value in zip(variables, best[1]):
        var.set_value(value, skip_validation=True)
    return best[0]


def _guided_rounding(built, lp, objective: str) -> bool | None:
    """The large instances' relaxation-guided plan from this LP's values, in the job binaries
    (None when the list scheduler finds no plan)."""
    plan = guided_plan(built, lp, objective)
    if plan is None:
        return None
    set_plan_binaries(built, plan.placements)
    return True


def _relaxed_value(built) -> float | None:
    """The objective at the variables' current (relaxation) values; None when some is unset."""
    try:
        return pyo.value(built.model.objective)
    except ValueError:
        return None


def _sense(request: SolveRequest) -> str:
    from ...problems import get

    return get(request.problem).sense(request.objective)


def _fill(result: Result, facts, placements, services, nodes_on) -> None:
    from ...verify.schedule.value import evaluate

    ev = evaluate(facts, placements, services, nodes_on)
    weights = ev.weights(result.objective_name)
    result.placements, result.nodes_on = placements, nodes_on
    result.jobs, result.services, result.energy = ev.jobs, ev.services, ev.energy
    result.kpis = dict(ev.kpis)
    result.objective_terms = pd.DataFrame(
        [(name, weights.get(name, 0.0), value, weights.get(name, 0.0) * value + 0.0) for name, value in ev.terms.items()],
        columns=TERM_COLUMNS)
    result.objective = ev.objective_value(result.objective_name)
    result.gap = relative_gap(result.objective, result.bound)
    result._evaluation = ev


def _finish(result: Result, timings, request: SolveRequest, facts=None) -> Result:
    """The Result with its claims checked; a claim it cannot back makes it an error (a bug)."""
    ev = result.__dict__.pop("_evaluation", None)
    if ev is not None:
        broken = result_claims(result.to_solution_dict(), ev.valued(result.objective_name), CLAIM_TOL)
        if broken:
            result = Result(instance_name=result.instance_name, problem=result.problem, method=result.method,
                            objective_name=result.objective_name, sense=result.sense, status="error",
                            mip_gap=result.mip_gap, solver_log=result.solver_log,
                            message=f"the result fails its own check ({broken[0]}); {result.message}")
    timings["total_s"] = time.perf_counter() - request.started
    result.timings = timings
    return result


# ------------------------------------------------------------------ decisions


def decision_rows(built) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The solution as the contract's decision tables: placements (trimmed after each job
    finishes: the model may leave idle runs in when they cost nothing), services, nodes_on."""
    idx: ScheduleIndex = built.index
    m = built.model
    rows = []
    plans = {job.id: job for job in idx.jobs}
    for j, o, t in m.run_keys:
        if _value(m.run[j, o, t]) > 0.5:
            rows.append(_row(plans[j], o, t))
    for j, c, t in m.split_keys:   # a split gang: one row per pool it uses
        if _value(m.split[j, c, t]) > 0.5:
            choice = plans[j].splits[c]
            rows += [_row(plans[j], o, t, gpus=round(_value(m.gang[j, c, o, t]))) for o in choice.options
                     if _value(m.gang[j, c, o, t]) > 0.5]
    for (j, o), starts in built.contiguous_starts.items():
        job = plans[j]
        for t in starts:
            if _value(m.begin[j, o, t]) > 0.5:
                rows += [_row(job, o, t + i) for i in range(job.duration(job.options[o]))]
    for j, o, t, k in m.partial_keys:
        if _value(m.partial[j, o, t, k]) > 0.5:
            rows += [_row(plans[j], o, t + i) for i in range(k)]
    rows = _until_finished(plans, sorted(rows, key=lambda r: (r[0], r[3])), idx.instance.schedule_options)
    placements = pd.DataFrame(rows, columns=["job", "site", "gpu_type", "period", "gpus", "power_mode"])
    return placements, service_rows(built), nodes_rows(built)


def service_rows(built) -> pd.DataFrame:
    """The services' decision rows of a solved model (the exact one or a completion)."""
    m = built.model
    options = {v.id: v.options for v in built.index.services}
    return pd.DataFrame(
        [(v, options[v][o].site, options[v][o].gpu_type, t, round(_value(m.serving[v, o, t])))
         for v, o, t in m.serve_keys if _value(m.serving[v, o, t]) > 0.5],
        columns=["service", "site", "gpu_type", "period", "gpus"])


def nodes_rows(built) -> pd.DataFrame:
    """The nodes-on decision rows of a solved model."""
    m = built.model
    return pd.DataFrame(
        [(s, g, t, round(_value(m.nodes_on[s, g, t]))) for s, g, t in m.capacity_keys],
        columns=["site", "gpu_type", "period", "nodes"])


def _value(var) -> float:
    """A variable's solution value; one no row or objective uses (HiGHS never saw it) sits at its
    lower bound, which is then as good as any."""
    return var.value if var.value is not None else (var.lb or 0.0)


def _row(job, o, t, gpus=None):
    option = job.options[o]
    return (job.id, option.site, option.gpu_type, t, option.gpus if gpus is None else gpus, option.mode)


def _until_finished(plans, rows, losses):
    """Drop each job's rows after the period in which its work (with resume overheads) is done.
    ``rows`` are sorted by (job, period); a split gang's rows of one period are taken together."""
    kept, done, work, resumes, last = [], set(), {}, {}, {}
    for (j, t), group in groupby(rows, key=lambda r: (r[0], r[3])):
        job, group = plans[j], list(group)
        if j in done:
            continue
        if j in last and t != last[j] + 1:
            resumes[j] = resumes.get(j, 0) + 1
        last[j] = t
        work[j] = work.get(j, 0.0) + _period_work(job, group, losses)
        kept += group
        if work[j] >= job.work + job.overhead * resumes.get(j, 0) - 1e-6:
            done.add(j)
    return kept


def _period_work(job, group, losses) -> float:
    """A period's work by models/schedule.md rule 5: each GPU its option's work, less the losses
    of a gang that spans sites or mixes types."""
    options = {(o.site, o.gpu_type, o.mode): o for o in job.options}
    whole = [options[r[1], r[2], r[5]] for r in group]
    gang = sum(o.work if r[4] == o.gpus else o.work / o.gpus * r[4] for o, r in zip(whole, group))
    spans, mixes = len({r[1] for r in group}) > 1, len({r[2] for r in group}) > 1
    return gang * (1 - losses.cross_site_penalty * spans - losses.mixed_type_penalty * mixes)
