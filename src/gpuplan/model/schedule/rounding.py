"""LP-guided rounding for the schedule: a MIP start built from the LP relaxation's values.

Jobs are placed one at a time, in the order of their LP mean period (when the relaxation runs
them) or by due period (``ORDERS``: the caller completes each and keeps the better), into a tracker of free GPUs per (site, GPU type, period): a non-preemptible job on the
option the LP favours at the earliest start that fits; a preemptible one in the periods the LP
runs it most, until its work is done; one that may split its gang, whole where it fits, then
split in the periods left when whole gangs fall short. Only the jobs' binaries are set;
HiGHS completes the rest (services, nodes, energy) with them fixed, or rejects the start. On
weighted-tardiness instances the time-indexed LP is often integral in all but ties, so this
start is often already optimal and the MIP only has to prove it.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ...index.schedule import ScheduleIndex


def lp_values(built) -> dict[int, float]:
    """id(variable) -> its value in the relaxation just solved."""
    return {id(v): (v.value or 0.0) for v in built.model.component_data_objects(pyo.Var, active=True)}


def by_lp_center(built, job, lp) -> tuple:
    """Jobs in the order of their LP mean period."""
    return (_lp_center(built, job, lp), job.id)


def by_due_period(built, job, lp) -> tuple:
    """Earliest due first (the first period whose finish costs), then the LP order: where many
    jobs can be on time the LP's fractional mean periods mislead, due order does not."""
    due = next((t for t in job.periods if job.finish_cost[t] > 0), len(job.periods) and job.periods[-1] + 1)
    return (due, _lp_center(built, job, lp), job.id)


ORDERS = (by_lp_center, by_due_period)


def lp_rounding(built, lp: dict[int, float], order=by_lp_center) -> int:
    """Set the job binaries of ``built`` to a plan rounded from the relaxation's values ``lp``
    in ``order`` (every other variable to None); returns the number of jobs placed."""
    idx: ScheduleIndex = built.index
    m = built.model
    for var in m.component_data_objects(pyo.Var, active=True):
        var.set_value(None, skip_validation=True)
    pair = {key: i for i, key in enumerate(idx.pairs)}
    free = np.array([[idx.cap_gpus(s, g, t) for t in idx.period_range] for s, g in idx.pairs], dtype=float)
    starts = getattr(built, "contiguous_starts", {})
    placed = 0
    for job in sorted(idx.jobs, key=lambda j: order(built, j, lp)):
        if job.preemptible:
            placed += _place_preemptible(m, job, free, pair, lp)
        else:
            placed += _place_contiguous(m, job, starts, free, pair, lp)
    return placed


def job_binaries(built) -> list:
    """The variables the rounding sets: every run, begin and partial-run binary, and the split gangs' binaries
    and GPU counts (a gang goes whole on one pool where it fits, which the rules always allow;
    split only where whole gangs fall short)."""
    m = built.model
    return [*m.run.values(), *m.begin.values(), *m.partial.values(), *m.split.values(), *m.gang.values()]


def _lp_center(built, job, lp) -> float:
    m, weight, total = built.model, 0.0, 0.0
    if job.preemptible:
        items = [((job.id, o, t), t) for o in range(len(job.options)) for t in job.periods]
        for key, t in items:
            value = lp[id(m.run[key])]
            weight, total = weight + value * t, total + value
    else:
        for o in range(len(job.options)):
            for t in built.contiguous_starts[job.id, o]:
                value = lp[id(m.begin[job.id, o, t])]
                weight, total = weight + value * t, total + value
    return weight / total if total > 1e-9 else float(len(job.periods) and job.periods[-1]) + 1e6


def _place_contiguous(m, job, starts, free, pair, lp) -> int:
    """On the option the LP favours (then the others), at the earliest start that fits: in LP
    order this is list scheduling by LP mean start (an alpha-point rule), which leaves no holes
    a later job would need."""
    mass = {o: sum(lp[id(m.begin[job.id, o, t])] for t in starts.get((job.id, o), ())) for o in range(len(job.options))}
    chosen = None
    for o in sorted(mass, key=lambda o: (-mass[o], o)):
        option = job.options[o]
        row, p = pair[option.site, option.gpu_type], job.duration(option)
        chosen = next(((o, t, row, p, option.gpus) for t in starts.get((job.id, o), ())
                       if free[row, t:t + p].min() >= option.gpus), None)
        if chosen:
            break
    for o in range(len(job.options)):
        for t in starts.get((job.id, o), ()):
            m.begin[job.id, o, t].set_value(0, skip_validation=True)
    if chosen is None:
        return 0
    o, t, row, p, gpus = chosen
    m.begin[job.id, o, t].set_value(1, skip_validation=True)
    free[row, t:t + p] -= gpus
    return 1


def _place_preemptible(m, job, free, pair, lp) -> int:
    chosen, work = {}, 0.0
    candidates = sorted(((-lp[id(m.run[job.id, o, t])], t, o) for o in range(len(job.options)) for t in job.periods))
    site = None
    if not job.migratable and candidates:   # one site for the whole run: the LP's favourite
        site = job.options[candidates[0][2]].site
        candidates = [c for c in candidates if job.options[c[2]].site == site]
    needed = job.work
    for _, t, o in candidates:
        if work >= needed - 1e-9:
            break
        option = job.options[o]
        row = pair[option.site, option.gpu_type]
        if t in chosen or free[row, t] < option.gpus:
            continue
        chosen[t] = o
        free[row, t] -= option.gpus
        work += option.work
        needed = job.work + job.overhead * _resumes(sorted(chosen))
    splits = {}
    if work < needed - 1e-9 and job.splits:   # whole gangs fall short: split gangs in the periods left
        splits, work = _place_splits(m, job, free, pair, lp, chosen, work, site)
    for o in range(len(job.options)):
        for t in job.periods:
            m.run[job.id, o, t].set_value(1 if chosen.get(t) == o else 0, skip_validation=True)
    for c, choice in enumerate(job.splits):
        for t in job.periods:
            gpus = splits[t][1] if t in splits and splits[t][0] == c else {}
            m.split[job.id, c, t].set_value(int(bool(gpus)), skip_validation=True)
            for o in choice.options:
                m.gang[job.id, c, o, t].set_value(gpus.get(o, 0), skip_validation=True)
    needed = job.work + job.overhead * _resumes(sorted([*chosen, *splits]))
    return int(work >= needed - 1e-9)


def _place_splits(m, job, free, pair, lp, chosen, work, site):
    """Split gangs for a job whose whole gangs fall short: in the periods it does not run yet, in
    the order of the LP's split mass, the split choice doing the most work that the free GPUs
    hold (each pool filled fastest first, at most n - 1 GPUs). Returns {period: (choice, {option:
    GPUs})} and the work reached."""
    placed = {}
    periods = sorted((t for t in job.periods if t not in chosen),
                     key=lambda t: (-sum(lp[id(m.split[job.id, c, t])] for c in range(len(job.splits))), t))
    for t in periods:
        needed = job.work + job.overhead * _resumes(sorted([*chosen, *placed, t]))
        if work >= needed - 1e-9:
            break
        best = None
        for c, choice in enumerate(job.splits):
            if site is not None and choice.site != site:   # a non-migratable job keeps its site
                continue
            gpus = _fill(job, choice, free, pair, t)
            if gpus:
                rate = sum((1 - choice.loss) * job.options[o].work / job.options[o].gpus * n for o, n in gpus.items())
                if best is None or rate > best[0]:
                    best = (rate, c, gpus)
        if best is None:
            continue
        rate, c, gpus = best
        for o, n in gpus.items():
            free[pair[job.options[o].site, job.options[o].gpu_type], t] -= n
        placed[t] = (c, gpus)
        work += rate
    return placed, work


def _fill(job, choice, free, pair, t) -> dict[int, int]:
    """The choice's gang in period t from the free GPUs, fastest pools first, at most n - 1 per
    pool (and, split over sites and types, per site and per type); {} when it does not fit."""
    left, gpus = choice.gpus, {}
    for o in sorted(choice.options, key=lambda o: -job.options[o].work / job.options[o].gpus):
        option = job.options[o]
        take = int(min(left, choice.gpus - 1, free[pair[option.site, option.gpu_type], t]))
        if take > 0:
            gpus[o], left = take, left - take
    if left > 0:
        return {}
    if choice.kind == "both":
        for attr in ("site", "gpu_type"):
            held = {}
            for o, n in gpus.items():
                key = getattr(job.options[o], attr)
                held[key] = held.get(key, 0) + n
            if max(held.values()) > choice.gpus - 1:
                return {}
    return gpus


def _resumes(periods: list[int]) -> int:
    return sum(1 for a, b in zip(periods, periods[1:]) if b != a + 1)
