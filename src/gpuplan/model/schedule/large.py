"""The schedule's strategy where the exact model is too large to hand to HiGHS whole.

1. The fluid relaxation (``fluid.py``) by interior point: its optimum is the bound.
2. Plans: the list scheduler guided by the relaxation's values (heuristics/schedule/guided.py)
   and by the separable bound's cheapest periods for each job (``separable.py``), and the two
   baselines, asap and carbon_aware.
3. The two best plans' jobs are kept and the rest completed (``completion.py``: services, nodes
   on and energy, the exact model's blocks, from their LP rounded); the plan's own services and
   nodes stay where they are better.
4. The best plan by the verifier's value, with the relaxation's bound: "optimal" only within the
   gap of it, else "feasible" with its proven gap.

The exact model's size is estimated from the index before anything is built (``exact_columns``),
so the choice costs nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...heuristics.schedule import asap, carbon_aware
from ...heuristics.schedule.baselines import deadline_order
from ...heuristics.schedule.guided import Relaxed, guided, improved, relaxed_order
from ...heuristics.schedule.periods import earliest
from ...index.schedule import ScheduleIndex, mode_fractions
from ...solver import HighsSession, Relaxation, remaining, tighter_bound
from .completion import build_completion, complete_by_rounding
from .fluid import build_fluid
from .separable import lagrangian_bound, separable_relaxed

# Columns of the exact model above which it is not built: HiGHS did not solve the LP of a
# 1,000,000-column schedule (10,000 GPUs, 500 jobs, 168 h) in 300 s; at 2,000 GPUs the exact path
# ended at a 22.8% gap in 326 s where the large path reached about 16% in 150 s.
LARGE_COLUMNS = 100_000
# Job columns of the fluid relaxation above which it is not built: at 414,571 (10,000 GPUs, 500
# jobs, 168 h) HiGHS's interior point took 140 s on 2 cores; ten times that does not fit 300 s.
FLUID_COLUMNS = 1_500_000
# Seconds per fluid job column of build, hand-off and interior point together, measured here:
# 95 s at 10,000 GPUs (285,034 columns: 3.3e-4), 43 s on the tidal week (120,031: 3.6e-4); a
# limit too short for it leaves the time to the plans and the priced separable bound instead of
# an unfinished LP.
FLUID_SECONDS_PER_COLUMN = 3e-4
RELAXATION_SHARE = 0.7     # of the time left, at most, for the fluid relaxation: the plans need the rest
REPAIR_ROUNDS = 3          # guided plans per order: the first, then with its late jobs moved first
COMPLETED_PLANS = 2        # the best plans (by their own services and nodes) completed by HiGHS
REINSERT_PASSES = 2        # rounds of re-placing each job of a guided plan with the others in place
IMPROVE_PASSES = 4         # rounds of re-placing the asap plan's jobs by a guide (tidal week: 121, 33, 13, 6 moved)
LAGRANGIAN_SHARE = 0.7     # of the time left after the plans, at most, for pricing the separable bound
GUIDED_SHARE = 0.5         # of the time left after the relaxation, at most, for beginning guided plans


def fluid_columns(idx: ScheduleIndex) -> int:
    """The fluid relaxation's job columns (one per job, pool and allowed period)."""
    return sum(len({(o.site, o.gpu_type) for o in job.options}) * len(job.periods) for job in idx.jobs)


def exact_columns(idx: ScheduleIndex) -> int:
    """The exact model's job columns (run per option and period, begin per option and start)."""
    total = 0
    for job in idx.jobs:
        if job.preemptible:
            total += len(job.options) * len(job.periods)
        else:
            total += sum(max(0, len(job.periods) - job.duration(o) + 1) for o in job.options)
    return total


@dataclass
class LargePlan:
    placements: pd.DataFrame
    services: pd.DataFrame
    nodes_on: pd.DataFrame
    value: float
    bound: float | None
    relaxation_status: str
    message: str
    plan_values: dict[str, float] | None = None   # every candidate plan's value before completion


def solve_large(idx: ScheduleIndex, facts, request, sense: str, weights, timings: dict) -> LargePlan | None:
    """The best plan with the fluid bound, or None when no plan was found (the reason in timings)."""
    from ...verify.schedule.value import evaluate

    from .solve import WEIGHTS

    options = request.options
    term_weights = WEIGHTS[request.objective]
    columns = fluid_columns(idx)
    left = remaining(options, request.started)
    expected = columns * FLUID_SECONDS_PER_COLUMN
    if columns > FLUID_COLUMNS:
        relaxation = Relaxation(f"not tried: its {columns:,} job columns are above {FLUID_COLUMNS:,}", None, 0.0)
    elif left is not None and expected > RELAXATION_SHARE * left:
        relaxation = Relaxation(f"not tried: its {columns:,} job columns would take about {expected:.0f} s, "
                                f"more than {RELAXATION_SHARE:.0%} of the {left:.0f} s left", None, 0.0)
    else:
        tick = time.perf_counter()
        fluid = build_fluid(idx, request.objective, sense, weights)
        timings["build_s"] = time.perf_counter() - tick
        session = HighsSession(fluid.model, options)
        timings["handoff_s"] = session.handoff_s
        left = remaining(options, request.started)
        relaxation = session.relaxation(None if left is None else RELAXATION_SHARE * left, "ipm")
        timings["relaxation_s"] = relaxation.seconds
    if relaxation.status == "infeasible":
        return LargePlan(*_empty(), value=float("nan"), bound=None, relaxation_status="infeasible",
                         message="the fluid relaxation is infeasible, so the schedule is")
    solved = relaxation.status == "optimal"
    tick = time.perf_counter()

    def value_of(plan, services=None, nodes_on=None) -> float:
        ev = evaluate(facts, plan.placements, plan.services if services is None else services,
                      plan.nodes_on if nodes_on is None else nodes_on)
        return _signed(ev.objective_value(request.objective), sense), ev

    plans = {"asap": asap(idx), "carbon_aware": carbon_aware(idx)}
    # guided plans while the time lasts (the completion needs the rest): by the fluid relaxation
    # when it is solved, and by the separable bound's cheapest periods (seconds, at any size)
    left = remaining(options, request.started)
    until = None if left is None else time.perf_counter() + GUIDED_SHARE * left
    guides = [("relaxation-guided", relaxed_values(fluid))] if solved else []
    separable = separable_relaxed(idx, term_weights, sense)
    if separable is not None:
        guides.append(("separable-guided", separable))
    for label, relaxed in guides:
        # asap first: its deadline order keeps jobs on time where capacity is contended (the
        # guided orders can leave them late: tidal week), the guide then moves them to cheaper hours
        plan = improved(idx, relaxed, request.objective, deadline_order(idx), earliest, IMPROVE_PASSES, until)
        if not plan.failed:
            plans[f"asap improved by the {label.replace('-guided', '')} guide"] = plan
        plans |= _guided_plans(idx, relaxed, request.objective, value_of, label, until)
    ranked = sorted((value_of(plan)[0], name) for name, plan in plans.items() if not plan.failed)
    values = {name: _signed(value, sense) for value, name in ranked}   # each plan with its own services and nodes
    best = None
    for _, name in ranked[:COMPLETED_PLANS]:
        plan = plans[name]
        services, nodes_on, completed = _complete(idx, plan, request, sense, weights)
        value = value_of(plan, services, nodes_on)[0]
        own = value_of(plan)[0]
        if not completed or not np.isfinite(value) or own <= value:   # the plan's own services and nodes then
            services, nodes_on, completed, value = plan.services, plan.nodes_on, False, own
        if np.isfinite(value) and (best is None or value < best[0]):
            best = (value, name, plan.placements, services, nodes_on, completed)
    timings["plans_s"] = time.perf_counter() - tick
    if best is None:
        return None
    value, name, placements, services, nodes_on, completed = best
    value = _signed(value, sense)
    how = "services, nodes and energy completed by HiGHS" if completed else "its own services and nodes"
    left = remaining(options, request.started)
    bound, bound_text = _bound(idx, term_weights, sense, relaxation, value,
                               None if left is None else LAGRANGIAN_SHARE * left)
    return LargePlan(placements, services, nodes_on, value, bound, relaxation.status,
                     f"large instance: the {name} plan's jobs, {how}; {bound_text}", values)


def _bound(idx, term_weights: dict[str, float], sense: str, relaxation: Relaxation, target: float,
           seconds: float | None) -> tuple[float | None, str]:
    """The tighter of the fluid relaxation's bound (when solved) and the Lagrangian bound of the
    separable relaxation (its prices stepped towards ``target``, the best plan's value, for at
    most ``seconds``), and where it comes from."""
    fluid = relaxation.bound if relaxation.status == "optimal" else None
    bound = tighter_bound(fluid, lagrangian_bound(idx, term_weights, sense, target, seconds), sense)
    fluid_text = "" if fluid is not None else f"; the fluid relaxation {_ended(relaxation.status)}"
    if bound is None:
        return None, f"no bound{fluid_text}"
    source = "the fluid relaxation" if bound == fluid else "the separable bound (each job and service alone, priced)"
    return bound, f"bound from {source}{fluid_text}"


def _ended(status: str) -> str:
    return status if status.startswith("not tried") else f"ended {status}"


def _signed(value: float, sense: str) -> float:
    """Values compared as costs: a maximised objective negated (and back)."""
    return value if sense == "min" else -value


def _guided_plans(idx, relaxed: Relaxed, objective: str, value_of, guide: str, until: float | None) -> dict:
    """The guided plan in the guide's order and in deadline order, each repaired a few times: the
    jobs it leaves late or unfinished move to the front of the order (a job placed earlier gets the
    periods it needs; a later, slacker one finds others). No new plan is begun after ``until``
    (perf_counter seconds), but the first always is."""
    plans = {}
    for label, order in (("relaxed", relaxed_order(idx, relaxed)), ("deadline", deadline_order(idx))):
        for round_ in range(REPAIR_ROUNDS):
            if plans and until is not None and time.perf_counter() > until:
                return plans
            plan = guided(idx, relaxed, objective, order, REINSERT_PASSES)
            if plan.failed:
                break
            plans[f"{guide} ({label} order, round {round_ + 1})"] = plan
            jobs = value_of(plan)[1].jobs
            behind = jobs.loc[jobs["state"] != "done", "job"].tolist()
            if not behind:
                break
            order = behind + [j for j in order if j not in set(behind)]
    return plans


def relaxed_values(fluid) -> Relaxed:
    """The relaxation's work shares and mean throughput fractions as arrays."""
    idx, m = fluid.index, fluid.model
    T = idx.periods
    share: dict[tuple[str, str, str], np.ndarray] = {}
    for (j, s, g, t), var in m.effective.items():
        share.setdefault((j, s, g), np.zeros(T))[t] = var.value or 0.0
    betas = mode_fractions(idx)
    gpus, delivered = {}, {}
    for (s, g, mode, t), var in m.mode_gpus.items():
        value = var.value or 0.0
        gpus.setdefault((s, g), np.zeros(T))[t] += value
        delivered.setdefault((s, g), np.zeros(T))[t] += betas[g][mode] * value
    return Relaxed.of(share, gpus, delivered)


def _complete(idx, plan, request, sense, weights):
    """The plan's services and nodes re-optimised around its jobs, or its own when HiGHS finds none."""
    from .solve import nodes_rows, service_rows

    built = build_completion(idx, plan.placements, request.objective, sense, weights)
    if not complete_by_rounding(built, request.options, remaining(request.options, request.started)):
        return plan.services, plan.nodes_on, False
    return service_rows(built), nodes_rows(built), True


def _empty():
    from ...heuristics.schedule.list_schedule import NODES_COLUMNS, PLACEMENT_COLUMNS, SERVICE_COLUMNS

    return (pd.DataFrame(columns=PLACEMENT_COLUMNS), pd.DataFrame(columns=SERVICE_COLUMNS),
            pd.DataFrame(columns=NODES_COLUMNS))

