"""The separable bound of the schedule: every job and every service priced alone, in numpy.

The fluid relaxation (``fluid.py``) is an LP HiGHS must solve; above a few million columns it
does not fit the time. This bound drops every row that couples jobs and services — capacity
shared between them, the grid limit, the peak (kept as the mean) — and what remains falls apart into one tiny
problem per job and per service period, each solved exactly in closed form
(models/schedule.md, "Large instances"). It is weaker than the fluid relaxation where capacity
or the grid binds, and far cheaper: seconds at 100,000 GPUs.

Why each piece is a valid bound on every plan (objectives written as costs: a maximised
objective negated):

- IT power. With busy + free = C * nodes_on, a pool's power is
  ``sum_busy (gpu_kw - idle + extra / C) + (C * idle + node_idle) * nodes_on``. Where nodes may
  be powered off and power costs (kappa >= 0), ``nodes_on >= busy / C``, so each busy GPU
  carries its node's share ``idle + node_idle / C`` (it draws ``gpu_kw + (extra + node_idle) / C``
  in all); elsewhere nodes_on is at its upper end in
  the best case (all nodes on, or on where power pays) and that part is a constant.
- A job's period. Its options deliver work ``w_o`` at cost ``c_o`` per period, at most one gang
  a period: any mix does at most ``max w_o`` work at no less than ``min c_o / w_o`` per unit
  (a split gang loses ``loss`` of its work, so where power pays the unit is divided by
  ``1 - loss``). A period with too few GPUs for the gang offers nothing (unless it may split).
- A job. It finishes in some allowed period F (tardiness ``finish_cost[F]``, value earned) with
  its work done in periods up to F, or (if not required) it does not finish and does at most
  its work. The cheapest periods first is exact for the relaxed job; restarts, contiguity,
  migration and wake-ups only add cost and are dropped.
- A service period. Serving GPUs of each option up to the capacity, unmet demand at its cost:
  the cheapest per unit of demand first (and every GPU whose power pays).
- Demand charges: a site's peak is at least its mean facility power over the periods, so the
  charge adds ``demand_charge * PUE / T`` to the cost of each kW of IT power in each period.
- Wake-ups, restarts and migrations: each at least zero, so zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...heuristics.schedule.guided import Relaxed
from ...index.schedule import JobPlan, ScheduleIndex, ServicePlan, power_modes

# Terms the bound counts at zero: valid only while each is at least zero in the cost form.
DROPPED_TERMS = ("demand_charge", "wake_cost", "restart_cost", "migration_cost")   # demand charge: at its mean


def separable_bound(idx: ScheduleIndex, weights: dict[str, float], sense: str) -> float | None:
    """A bound on the objective of every plan (below for "min", above for "max"); None when the
    relaxed problem has no solution (a required job or hard service that cannot be served alone:
    no plan exists) or a weight leaves a dropped term negative."""
    priced = _priced(idx, weights, sense)
    return None if priced is None else (1.0 if sense == "min" else -1.0) * priced[0]


def _priced(idx: ScheduleIndex, weights: dict[str, float], sense: str) -> tuple[float, dict[str, JobAlone]] | None:
    """The bound as a cost (a maximised objective negated) and each job alone; None as above."""
    sign = 1.0 if sense == "min" else -1.0
    cost = {name: sign * weight for name, weight in weights.items()}
    if any(cost.get(name, 0.0) < 0 for name in DROPPED_TERMS):
        return None
    kappa = _kw_cost(idx, cost)
    share = _busy_share(idx, kappa)
    total = _node_constant(idx, kappa)
    jobs = {}
    for job in idx.jobs:
        alone = _job_bound(idx, job, kappa, share, cost)
        if alone is None:
            return None
        jobs[job.id] = alone
        total += alone.value
    for service in idx.services:
        value = _service_bound(idx, service, kappa, share, cost)
        if value is None:
            return None
        total += value
    return total, jobs


def _kw_cost(idx: ScheduleIndex, cost: dict[str, float]) -> dict[str, np.ndarray]:
    """Per site: the objective's cost of 1 kW of IT power in each period."""
    data, h, T = idx.energy, idx.energy.hours, idx.periods
    per_kg = cost.get("carbon_kg", 0.0) + cost.get("carbon_cost", 0.0) * data.carbon_price_per_t / 1000
    # a site's peak is at least its mean facility power: the demand charge as a cost per kW-period
    peak = {s: cost.get("demand_charge", 0.0) * data.demand_charge.get(s, 0.0) / T for s in idx.sites}
    return {s: np.array([data.pue[s, t] * (h * (cost.get("energy_cost", 0.0) * data.price[s, t]
                                                + per_kg * data.carbon_g[s, t] / 1000) + peak[s])
                         for t in range(T)]) for s in idx.sites}


def _attributed(idx: ScheduleIndex, s: str, kappa: np.ndarray) -> np.ndarray:
    """Periods where the nodes' idle power is carried by the busy GPUs (nodes may be off, power costs)."""
    return (kappa >= 0) if idx.power_off[s] else np.zeros(len(kappa), dtype=bool)


def _busy_share(idx: ScheduleIndex, kappa) -> dict[tuple[str, str], np.ndarray]:
    """Per pool and period: the kW a busy GPU adds beyond its own board power."""
    share = {}
    for s, g in idx.pairs:
        gpn, extra, idle = idx.gpus_per_node[s, g], idx.node_busy_extra_kw[s], idx.idle_kw[g]
        carried = _attributed(idx, s, kappa[s])
        # carried: - idle + (C * idle + node_idle) / C, the node's idle power shared per GPU
        share[s, g] = np.where(carried, extra / gpn + idx.node_idle_kw[s] / gpn, extra / gpn - idle)
    return share


def _node_constant(idx: ScheduleIndex, kappa) -> float:
    """The nodes' idle power where it is not carried by busy GPUs: every node on (all are on
    where they cannot be powered off; where power pays, on is the cheapest)."""
    total = 0.0
    for s, g in idx.pairs:
        per_node = idx.gpus_per_node[s, g] * idx.idle_kw[g] + idx.node_idle_kw[s]
        nodes = np.array([idx.cap_nodes[s, g, t] for t in range(idx.periods)])
        free = ~_attributed(idx, s, kappa[s])
        total += float(np.sum(kappa[s][free] * per_node * nodes[free]))
    return total


@dataclass
class JobAlone:
    """The job priced alone: its least cost, the work it does in each allowed period in that
    best case, and the option (position in ``job.options``) doing it (-1 where none)."""

    value: float
    work: np.ndarray
    option: np.ndarray


def _job_periods(idx: ScheduleIndex, job: JobPlan, kappa, share) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per allowed period: the most work the job can do in it, the least cost per unit of work
    and the option with that unit cost."""
    periods = np.array(job.periods)
    splits = bool(job.splits)
    loss = max((split.loss for split in job.splits), default=0.0)
    capacity = np.zeros(len(periods))
    unit = np.full(len(periods), np.inf)
    best = np.full(len(periods), -1)
    for position, option in enumerate(job.options):
        cap = np.array([idx.cap_gpus(option.site, option.gpu_type, t) for t in periods])
        usable = np.ones(len(periods), dtype=bool) if splits else cap >= option.gpus
        cost = kappa[option.site][periods] * (option.gpu_kw + option.gpus * share[option.site, option.gpu_type][periods])
        capacity = np.where(usable, np.maximum(capacity, option.work), capacity)
        cheaper = usable & (cost / option.work < unit)
        unit, best = np.where(cheaper, cost / option.work, unit), np.where(cheaper, position, best)
    if splits:   # a split gang's work is (1 - loss) of its GPUs': where power pays, each unit pays more
        unit = np.where(unit < 0, unit / (1 - loss), unit)
    unit[capacity == 0] = 0.0
    return capacity, unit, best


def _job_bound(idx: ScheduleIndex, job: JobPlan, kappa, share, cost) -> JobAlone | None:
    """The least cost of the job alone: finishing in its best period, or (if allowed) not at all."""
    n = len(job.periods) if job.options else 0
    capacity, unit, option = _job_periods(idx, job, kappa, share) if n else (np.zeros(0), np.zeros(0), np.zeros(0, int))
    best = JobAlone(np.inf, np.zeros(n), option)
    if not job.required:
        best.value, best.work = _paying_work(capacity, unit, job.work)
    if n:
        order = np.argsort(unit, kind="stable")
        earned = cost.get("job_value", 0.0) * job.value
        tardiness = cost.get("tardiness_cost", 0.0) * np.array([job.finish_cost[t] for t in job.periods])
        # every finish period F at once: periods up to F, cheapest first
        within = np.tril(np.ones((n, n), dtype=bool))[:, order]   # [F, k]: period order[k] <= F
        cap_sorted, unit_sorted = capacity[order], unit[order]
        available = within * cap_sorted
        paid = np.where(unit_sorted < 0, available, 0.0)                       # power that pays: all of it
        needed = np.maximum(0.0, job.work - paid.sum(axis=1) - 1e-9)
        positive = np.where(unit_sorted >= 0, available, 0.0)
        before = np.cumsum(positive, axis=1) - positive
        taken = np.clip(needed[:, None] - before, 0.0, positive)
        reachable = paid.sum(axis=1) + positive.sum(axis=1) >= job.work - 1e-9
        energy = (paid * unit_sorted).sum(axis=1) + (taken * unit_sorted).sum(axis=1)
        finish = np.where(reachable, energy + tardiness + earned, np.inf)
        f = int(np.argmin(finish))
        if finish[f] < best.value:
            best.value = float(finish[f])
            best.work = np.zeros(n)
            best.work[order] = paid[f] + taken[f]
    return best if np.isfinite(best.value) else None


def _paying_work(capacity: np.ndarray, unit: np.ndarray, work: float) -> tuple[float, np.ndarray]:
    """The least cost of at most ``work`` units of work, unfinished: only the paying ones are
    worth doing. Also the work done per period."""
    order = np.argsort(unit, kind="stable")
    paying = np.where(unit[order] < 0, capacity[order], 0.0)
    taken = np.clip(work - (np.cumsum(paying) - paying), 0.0, paying)
    done = np.zeros(len(unit))
    done[order] = taken
    return float((taken * unit[order]).sum()), done


def separable_relaxed(idx: ScheduleIndex, weights: dict[str, float], sense: str) -> Relaxed | None:
    """The separable bound's best case as a relaxation's values for the guided plans (where the
    fluid relaxation is not solved): each job's work share per pool and period in its cheapest
    periods, and the mean throughput fraction of the modes it picks there. None when there is
    no bound."""
    priced = _priced(idx, weights, sense)
    if priced is None:
        return None
    jobs = priced[1]
    betas = {g: {m.id: m.throughput_fraction for m in modes} for g, modes in power_modes(idx.instance).items()}
    share: dict[tuple[str, str, str], np.ndarray] = {}
    gpus, delivered = {}, {}
    for job in idx.jobs:
        alone = jobs[job.id]
        for k, t in enumerate(job.periods):
            if alone.work[k] <= 0 or alone.option[k] < 0:
                continue
            option = job.options[alone.option[k]]
            fraction = min(1.0, alone.work[k] / option.work)
            pool = (option.site, option.gpu_type)
            share.setdefault((job.id, *pool), np.zeros(idx.periods))[t] += fraction
            gpus.setdefault(pool, np.zeros(idx.periods))[t] += fraction * option.gpus
            delivered.setdefault(pool, np.zeros(idx.periods))[t] += fraction * option.gpus * betas[option.gpu_type][option.mode]
    mean = {pool: np.where(gpus[pool] > 1e-9, delivered[pool] / np.maximum(gpus[pool], 1e-12), np.nan) for pool in gpus}
    return Relaxed(share, mean)


def _service_bound(idx: ScheduleIndex, service: ServicePlan, kappa, share, cost) -> float | None:
    """The least cost of each period of the service alone."""
    unmet_unit = (cost.get("unmet_service_cost", 0.0) * service.unmet_cost_per_gpu_hour * idx.hours
                  if service.unmet_cost_per_gpu_hour is not None else None)
    total = 0.0
    for t in range(idx.periods):
        demand = service.demand[t]
        if demand <= 0 and not idx.energy_can_pay:
            continue
        pieces = []   # (cost per unit of demand, units, cost per GPU)
        for option in service.options:
            gpus = idx.cap_gpus(option.site, option.gpu_type, t)
            if gpus <= 0:
                continue
            per_gpu = kappa[option.site][t] * (option.gpu_kw + share[option.site, option.gpu_type][t])
            pieces.append((per_gpu / option.capacity_per_gpu, gpus * option.capacity_per_gpu, per_gpu, gpus))
        left = demand
        for per_unit, units, per_gpu, gpus in sorted(pieces):
            if per_gpu < 0:                      # power that pays: every GPU serves
                total += per_gpu * gpus
                left -= units
            elif left > 1e-12 and (unmet_unit is None or per_unit < unmet_unit):
                served = min(units, left)
                total += per_unit * served
                left -= served
        if left > 1e-9:
            if unmet_unit is None:
                return None
            total += unmet_unit * left
    return total
