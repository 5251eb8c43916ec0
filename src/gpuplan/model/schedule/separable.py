"""The separable bound of the schedule: every job and every service priced alone, in numpy.

The fluid relaxation (``fluid.py``) is an LP HiGHS must solve; above a few million columns it
does not fit the time. This bound moves every row that couples jobs and services — capacity
shared between them, the grid limit, the peak — into the objective with a price (a Lagrangian
relaxation), and what remains falls apart into one tiny problem per job and per service period,
each solved exactly in closed form (models/schedule.md, "Large instances"). Any prices give a
valid bound; ``lagrangian_bound`` improves them by subgradient steps while time lasts.

Why each piece is a valid bound on every plan (objectives written as costs: a maximised
objective negated), for prices ``mu >= 0`` per busy GPU-period of a pool, ``nu >= 0`` per kW of
facility power of a site and period with a grid limit, and ``lam >= 0`` per kW of a site's
facility power in each period, summing over the periods to the demand charge:

- Coupling rows priced: busy <= capacity adds ``mu * (busy - capacity)`` <= 0 to every plan's
  cost, facility <= limit adds ``nu * (facility - limit)`` <= 0, and the demand charge times the
  peak is at least ``sum_t lam_t * facility_t``. So IT power in (s, t) costs
  ``kappa = PUE * (h * (price + carbon at its weights) + nu + lam)`` per kW, a busy GPU ``mu``
  more, and the bound carries ``- sum mu * capacity - sum nu * limit``.
- IT power. With busy + free = C * nodes_on, a pool's power is
  ``sum_busy (gpu_kw - idle + extra / C) + (C * idle + node_idle) * nodes_on``. Where nodes may
  be powered off and power costs (kappa >= 0), ``nodes_on >= busy / C``, so each busy GPU
  carries its node's share ``idle + node_idle / C`` (it draws ``gpu_kw + (extra + node_idle) / C``
  in all); elsewhere nodes_on is at its upper end in the best case (all nodes on, or on where
  power pays) and that part is a constant.
- A job's period. Its options deliver work ``w_o`` at cost ``c_o`` per period, at most one gang
  a period: any mix does at most ``max w_o`` work at no less than ``min c_o / w_o`` per unit
  (a split gang loses ``loss`` of its work, so where power pays the unit is divided by
  ``1 - loss``). A period with too few GPUs for the gang offers nothing (unless it may split).
- A job. It finishes in some allowed period F (tardiness ``finish_cost[F]``, value earned) with
  its work done in periods up to F, or (if not required) it does not finish and does at most
  its work. The cheapest periods first is exact for the relaxed job. Once more at the final
  prices (and for ``separable_bound``) a finish is also priced in whole periods: a plan runs
  whole periods, at least ``ceil(work / most work of a period)`` of them, each at least its
  cheapest option's cost, with the restart cost at each resume (none allowed for a
  non-preemptible job) — a small dynamic program; a finish costs at least both. Overhead work,
  migration and wake-ups only add cost and are dropped.
- A service period. Serving GPUs of each option up to the capacity, unmet demand at its cost:
  the cheapest per unit of demand first (and every GPU whose power pays).
- Wake-ups, restarts and migrations: each at least zero, so zero.

The first prices are zero, with the demand charge spread evenly (a peak is at least the mean).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...heuristics.schedule.guided import Relaxed
from ...index.schedule import JobPlan, ScheduleIndex, ServicePlan, mode_fractions

# Terms the bound counts at zero or through prices: valid only while each is at least zero in the cost form.
DROPPED_TERMS = ("demand_charge", "wake_cost", "restart_cost", "migration_cost")
SUBGRADIENT_STEPS = 60       # at most, for lagrangian_bound
STEP_SCALE = 1.0             # Polyak step's first scale, halved after HALVE_AFTER steps without a better bound
HALVE_AFTER = 3


@dataclass
class Prices:
    """Lagrange multipliers of the coupling rows (module docstring)."""

    gpu: dict[tuple[str, str], np.ndarray]      # mu per busy GPU, per pool and period
    grid: dict[str, np.ndarray]                 # nu per kW of facility power, per site and period (0 without a limit)
    peak: dict[str, np.ndarray]                 # lam per kW of facility power, per site and period


@dataclass
class Priced:
    """The bound (as a cost) at some prices and the relaxed solution behind it."""

    value: float
    jobs: dict[str, "JobAlone"]
    busy: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)    # GPUs per pool and period
    facility_kw: dict[str, np.ndarray] = field(default_factory=dict)         # per site and period


def separable_bound(idx: ScheduleIndex, weights: dict[str, float], sense: str) -> float | None:
    """A bound on the objective of every plan (below for "min", above for "max") at the first
    prices; None when the relaxed problem has no solution (a required job or hard service that
    cannot be served alone: no plan exists) or a weight leaves a dropped term negative."""
    cost = _cost_form(weights, sense)
    priced = None if cost is None else _priced(idx, cost, first_prices(idx, cost), whole_periods=True)
    return None if priced is None else _sign(sense) * priced.value


def lagrangian_bound(idx: ScheduleIndex, weights: dict[str, float], sense: str, target: float | None,
                     seconds: float | None) -> float | None:
    """The best bound of subgradient steps on the prices from the first ones (Polyak steps
    towards ``target``, the best plan's value; at most SUBGRADIENT_STEPS, none begun that would
    end after ``seconds``), then the best prices priced in whole periods. Every step's bound is
    valid; the best is returned. None as for separable_bound."""
    cost = _cost_form(weights, sense)
    if cost is None:
        return None
    started = time.perf_counter()
    fixed = Fixed.of(idx)
    prices = first_prices(idx, cost)
    priced = _priced(idx, cost, prices, fixed)
    if priced is None:
        return None
    one = time.perf_counter() - started      # a pricing's seconds: no step is begun that would overrun

    def fits(pricings: float) -> bool:
        return seconds is None or time.perf_counter() - started + pricings * one <= seconds

    best, best_prices = priced.value, prices
    if target is not None and np.isfinite(target):
        best, best_prices = _subgradient(idx, cost, prices, priced, fixed, _sign(sense) * target, fits)
    if fits(2):   # the best prices once more with each job's finish in whole periods with its restarts
        tighter = _priced(idx, cost, best_prices, fixed, whole_periods=True)
        best = max(best, tighter.value if tighter is not None else -np.inf)
    return _sign(sense) * best


def _subgradient(idx, cost, prices: Prices, priced: Priced, fixed: Fixed, goal: float,
                 fits) -> tuple[float, Prices]:
    """Polyak steps from ``prices`` towards ``goal`` (module docstring) while ``fits(1)`` says
    another pricing fits the time; the best bound and its prices."""
    best, best_prices = priced.value, prices
    scale, idle = STEP_SCALE, 0
    for _ in range(SUBGRADIENT_STEPS):
        if not fits(1):
            break
        gap = goal - priced.value
        if gap <= 1e-9 * max(1.0, abs(goal)):
            break
        step = _step(idx, prices, priced, fixed, scale * gap)
        if step is None:
            break
        priced = _priced(idx, cost, step, fixed)
        if priced is None:
            break
        prices = step
        if priced.value > best + 1e-9 * max(1.0, abs(best)):
            best, best_prices, idle = priced.value, prices, 0
        else:
            idle += 1
            if idle >= HALVE_AFTER:
                scale, idle = scale / 2, 0
    return best, best_prices


def _sign(sense: str) -> float:
    return 1.0 if sense == "min" else -1.0


def _cost_form(weights: dict[str, float], sense: str) -> dict[str, float] | None:
    cost = {name: _sign(sense) * weight for name, weight in weights.items()}
    return None if any(cost.get(name, 0.0) < 0 for name in DROPPED_TERMS) else cost


def first_prices(idx: ScheduleIndex, cost: dict[str, float]) -> Prices:
    """Zero, with each site's demand charge spread evenly over the periods."""
    T = idx.periods
    charge = {s: cost.get("demand_charge", 0.0) * idx.energy.demand_charge.get(s, 0.0) for s in idx.sites}
    return Prices(gpu={pool: np.zeros(T) for pool in idx.pairs}, grid={s: np.zeros(T) for s in idx.sites},
                  peak={s: np.full(T, charge[s] / T) for s in idx.sites})


@dataclass
class Fixed:
    """What the prices do not change, as arrays: GPUs per pool and period, grid limit (0 where
    none), whether there is one, and PUE per site and period."""

    caps: dict[tuple[str, str], np.ndarray]
    limits: dict[str, np.ndarray]
    limited: dict[str, np.ndarray]
    pue: dict[str, np.ndarray]

    @classmethod
    def of(cls, idx: ScheduleIndex) -> "Fixed":
        T = range(idx.periods)
        limits = {s: np.array([idx.energy.grid_limit_kw.get((s, t), np.inf) for t in T]) for s in idx.sites}
        return cls(caps={(s, g): np.array([idx.cap_gpus(s, g, t) for t in T], dtype=float) for s, g in idx.pairs},
                   limits={s: np.where(np.isfinite(v), v, 0.0) for s, v in limits.items()},
                   limited={s: np.isfinite(v) for s, v in limits.items()},
                   pue={s: np.array([idx.energy.pue[s, t] for t in T]) for s in idx.sites})


def _step(idx, prices: Prices, priced: Priced, fixed: Fixed, length: float) -> Prices | None:
    """Prices moved along the subgradient (the coupling rows' excess in the relaxed solution)
    by a Polyak step of ``length`` / |g|^2, projected back on their domains."""
    g_gpu = {pool: priced.busy.get(pool, np.zeros(idx.periods)) - fixed.caps[pool] for pool in idx.pairs}
    g_grid = {s: np.where(fixed.limited[s], priced.facility_kw[s] - fixed.limits[s], 0.0) for s in idx.sites}
    # the peak's prices stay on their simplex: only the part of the facility power off its mean moves them
    g_peak = {s: (priced.facility_kw[s] - priced.facility_kw[s].mean()) if prices.peak[s].sum() > 0
              else np.zeros(idx.periods) for s in idx.sites}
    # a price at zero whose row is slack cannot move: leave it out of the norm
    g_gpu = {pool: np.where((prices.gpu[pool] <= 0) & (g < 0), 0.0, g) for pool, g in g_gpu.items()}
    g_grid = {s: np.where((prices.grid[s] <= 0) & (g < 0), 0.0, g) for s, g in g_grid.items()}
    norm = sum(float(g @ g) for part in (g_gpu, g_grid, g_peak) for g in part.values())
    if norm <= 0:
        return None
    t = length / norm
    return Prices(gpu={pool: np.maximum(0.0, prices.gpu[pool] + t * g) for pool, g in g_gpu.items()},
                  grid={s: np.maximum(0.0, prices.grid[s] + t * g) for s, g in g_grid.items()},
                  peak={s: _onto_simplex(prices.peak[s] + t * g_peak[s], prices.peak[s].sum()) for s in idx.sites})


def _onto_simplex(v: np.ndarray, total: float) -> np.ndarray:
    """The nearest point to ``v`` with entries >= 0 summing to ``total`` (sort-based projection)."""
    if total <= 0:
        return np.zeros_like(v)
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - total
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)


def _priced(idx: ScheduleIndex, cost: dict[str, float], prices: Prices, fixed: Fixed | None = None,
            whole_periods: bool = False) -> Priced | None:
    """The bound (as a cost) at ``prices`` with the relaxed solution; None when a job or service
    alone has no solution. ``whole_periods``: each job's finish also priced in whole periods with
    its restarts (tighter, slower; the relaxed solution stays the fractional one)."""
    fixed = fixed or Fixed.of(idx)
    caps = fixed.caps
    kappa = _kw_cost(idx, cost, prices)
    share = _busy_share(idx, kappa)
    it_kw = {s: np.zeros(idx.periods) for s in idx.sites}
    busy = {pool: np.zeros(idx.periods) for pool in idx.pairs}
    total = 0.0
    for s, g in idx.pairs:   # nodes' idle power not carried by busy GPUs: a constant
        node_kw = _node_kw(idx, s, g, kappa)
        it_kw[s] += node_kw
        total += float(kappa[s] @ node_kw)
    total -= sum(float(prices.gpu[pool] @ caps[pool]) for pool in idx.pairs)
    total -= sum(float(prices.grid[s] @ fixed.limits[s]) for s in idx.sites)
    jobs = {}
    for job in idx.jobs:
        alone = _job_bound(job, kappa, share, cost, prices.gpu, caps, whole_periods)
        if alone is None:
            return None
        jobs[job.id] = alone
        total += alone.value
        _job_use(job, alone, share, busy, it_kw)
    for service in idx.services:
        value = _service_bound(idx, service, kappa, share, cost, prices.gpu, caps, busy, it_kw)
        if value is None:
            return None
        total += value
    facility = {s: it_kw[s] * fixed.pue[s] for s in idx.sites}
    return Priced(total, jobs, busy, facility)


def _kw_cost(idx: ScheduleIndex, cost: dict[str, float], prices: Prices) -> dict[str, np.ndarray]:
    """Per site: the objective's cost of 1 kW of IT power in each period, with the prices of
    facility power (grid limit, peak)."""
    data, h, T = idx.energy, idx.energy.hours, idx.periods
    per_kg = cost.get("carbon_kg", 0.0) + cost.get("carbon_cost", 0.0) * data.carbon_price_per_t / 1000
    return {s: np.array([data.pue[s, t] * (h * (cost.get("energy_cost", 0.0) * data.price[s, t]
                                                + per_kg * data.carbon_g[s, t] / 1000)
                                           + prices.grid[s][t] + prices.peak[s][t])
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


def _node_kw(idx: ScheduleIndex, s: str, g: str, kappa) -> np.ndarray:
    """Per period: the idle power of every node of the pool where it is not carried by busy GPUs
    (all nodes are on where they cannot be powered off; where power pays, on is the cheapest)."""
    per_node = idx.gpus_per_node[s, g] * idx.idle_kw[g] + idx.node_idle_kw[s]
    nodes = np.array([idx.cap_nodes[s, g, t] for t in range(idx.periods)])
    return np.where(_attributed(idx, s, kappa[s]), 0.0, per_node * nodes)


@dataclass
class JobAlone:
    """The job priced alone: its least cost, the work it does in each allowed period in that
    best case, and the option (position in ``job.options``) doing it (-1 where none)."""

    value: float
    work: np.ndarray
    option: np.ndarray


def _job_periods(job: JobPlan, kappa, share, gpu_price, caps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per allowed period: the most work the job can do in it, the least cost per unit of work
    and the option with that unit cost."""
    periods = np.array(job.periods)
    splits = bool(job.splits)
    loss = max((split.loss for split in job.splits), default=0.0)
    capacity = np.zeros(len(periods))
    unit = np.full(len(periods), np.inf)
    best = np.full(len(periods), -1)
    whole = np.full(len(periods), np.inf)     # least cost of running a whole period
    for position, option in enumerate(job.options):
        pool = (option.site, option.gpu_type)
        cap = caps[pool][periods]
        usable = np.ones(len(periods), dtype=bool) if splits else cap >= option.gpus
        cost = (kappa[option.site][periods] * (option.gpu_kw + option.gpus * share[pool][periods])
                + option.gpus * gpu_price[pool][periods])
        capacity = np.where(usable, np.maximum(capacity, option.work), capacity)
        whole = np.where(usable, np.minimum(whole, cost), whole)
        cheaper = usable & (cost / option.work < unit)
        unit, best = np.where(cheaper, cost / option.work, unit), np.where(cheaper, position, best)
    if splits:   # a split gang's work is (1 - loss) of its GPUs': where power pays, each unit pays more
        unit = np.where(unit < 0, unit / (1 - loss), unit)
    unit[capacity == 0] = 0.0
    return capacity, unit, best, whole


def _job_bound(job: JobPlan, kappa, share, cost, gpu_price, caps, whole_periods: bool = False) -> JobAlone | None:
    """The least cost of the job alone: finishing in its best period, or (if allowed) not at all.
    With ``whole_periods``, a finish also counts the job's restarts (``_finish_in_whole_periods``)."""
    n = len(job.periods) if job.options else 0
    capacity, unit, option, whole = (_job_periods(job, kappa, share, gpu_price, caps) if n
                                     else (np.zeros(0), np.zeros(0), np.zeros(0, int), np.zeros(0)))
    best = JobAlone(np.inf, np.zeros(n), option)
    unfinished = np.inf
    if not job.required:
        best.value, best.work = _paying_work(capacity, unit, job.work)
        unfinished = best.value
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
        if whole_periods and not job.splits and np.isfinite(best.value):
            restart = np.inf if not job.preemptible else cost.get("restart_cost", 0.0) * job.restart_cost
            periods = max(1, int(np.ceil(job.work / capacity.max() - 1e-9))) if capacity.max() > 0 else n + 1
            whole_finish = _finish_in_whole_periods(whole, periods, restart, tardiness + earned)
            # a finish is at least both relaxations; the better of finishing and not finishing
            best.value = min(max(float(finish.min()), whole_finish), unfinished)
    return best if np.isfinite(best.value) else None


def _finish_in_whole_periods(whole: np.ndarray, periods: int, restart: float, finish_cost: np.ndarray) -> float:
    """The least cost of running ``periods`` or more whole allowed periods (each at least its
    ``whole`` cost, inf where none can run), a ``restart`` at each resume after a pause (inf: the
    job cannot pause) and ``finish_cost`` of the last period run.

    Valid for every plan that finishes the job: a plan runs whole periods (its last one too),
    each doing at most the most work of any option, so it runs at least ``periods`` of them, and
    it pays its restart cost at each resume. Dynamic programming over the periods, the count of
    periods run so far capped at ``periods``, running or paused."""
    K = periods
    running = np.full(K + 1, np.inf)          # [k]: k periods run, running in this period
    paused = np.full(K + 1, np.inf)           # [k]: k periods run, not running in this period
    paused[0] = 0.0
    best = np.inf
    resume = np.full(K + 1, restart)
    resume[0] = 0.0                           # the first start is not a resume
    for t in range(len(whole)):
        before = np.minimum(running, paused + resume if np.isfinite(restart) else
                            np.where(np.arange(K + 1) == 0, paused, np.inf))
        now = np.full(K + 1, np.inf)
        now[1:] = before[:-1] + whole[t]
        now[K] = min(now[K], before[K] + whole[t])   # more periods than needed: still "enough"
        paused = np.minimum(paused, running)
        running = now
        best = min(best, running[K] + finish_cost[t])
    return best


def _paying_work(capacity: np.ndarray, unit: np.ndarray, work: float) -> tuple[float, np.ndarray]:
    """The least cost of at most ``work`` units of work, unfinished: only the paying ones are
    worth doing. Also the work done per period."""
    order = np.argsort(unit, kind="stable")
    paying = np.where(unit[order] < 0, capacity[order], 0.0)
    taken = np.clip(work - (np.cumsum(paying) - paying), 0.0, paying)
    done = np.zeros(len(unit))
    done[order] = taken
    return float((taken * unit[order]).sum()), done


def _job_use(job: JobPlan, alone: JobAlone, share, busy, it_kw) -> None:
    """The relaxed job's busy GPUs and IT power, added per pool / site and period."""
    for k, t in enumerate(job.periods):
        if alone.work[k] <= 0 or alone.option[k] < 0:
            continue
        option = job.options[alone.option[k]]
        runs = alone.work[k] / option.work          # gang-periods of the option doing that work
        busy[option.site, option.gpu_type][t] += runs * option.gpus
        it_kw[option.site][t] += runs * (option.gpu_kw + option.gpus * share[option.site, option.gpu_type][t])


def separable_relaxed(idx: ScheduleIndex, weights: dict[str, float], sense: str) -> Relaxed | None:
    """The separable bound's best case as a relaxation's values for the guided plans (where the
    fluid relaxation is not solved): each job's work share per pool and period in its cheapest
    periods, and the mean throughput fraction of the modes it picks there. None when there is
    no bound."""
    cost = _cost_form(weights, sense)
    priced = None if cost is None else _priced(idx, cost, first_prices(idx, cost))
    if priced is None:
        return None
    betas = mode_fractions(idx)
    share: dict[tuple[str, str, str], np.ndarray] = {}
    gpus, delivered = {}, {}
    for job in idx.jobs:
        alone = priced.jobs[job.id]
        for k, t in enumerate(job.periods):
            if alone.work[k] <= 0 or alone.option[k] < 0:
                continue
            option = job.options[alone.option[k]]
            fraction = min(1.0, alone.work[k] / option.work)
            pool = (option.site, option.gpu_type)
            share.setdefault((job.id, *pool), np.zeros(idx.periods))[t] += fraction
            gpus.setdefault(pool, np.zeros(idx.periods))[t] += fraction * option.gpus
            delivered.setdefault(pool, np.zeros(idx.periods))[t] += fraction * option.gpus * betas[option.gpu_type][option.mode]
    return Relaxed.of(share, gpus, delivered)


def _service_bound(idx: ScheduleIndex, service: ServicePlan, kappa, share, cost, gpu_price, caps, busy,
                   it_kw) -> float | None:
    """The least cost of each period of the service alone; its GPUs and IT power are added to
    ``busy`` and ``it_kw``."""
    unmet_unit = (cost.get("unmet_service_cost", 0.0) * service.unmet_cost_per_gpu_hour * idx.hours
                  if service.unmet_cost_per_gpu_hour is not None else None)
    total = 0.0
    for t in range(idx.periods):
        demand = service.demand[t]
        if demand <= 0 and not idx.energy_can_pay:
            continue
        pieces = []   # (cost per unit of demand, units, cost per GPU, GPUs, option)
        for option in service.options:
            pool = (option.site, option.gpu_type)
            gpus = caps[pool][t]
            if gpus <= 0:
                continue
            per_gpu = kappa[option.site][t] * (option.gpu_kw + share[pool][t]) + gpu_price[pool][t]
            pieces.append((per_gpu / option.capacity_per_gpu, gpus * option.capacity_per_gpu, per_gpu, gpus, option))
        left = demand
        for per_unit, units, per_gpu, gpus, option in sorted(pieces, key=lambda piece: piece[0]):
            if per_gpu < 0:                      # power that pays: every GPU serves
                served_gpus = gpus
                left -= units
            elif left > 1e-12 and (unmet_unit is None or per_unit < unmet_unit):
                served = min(units, left)
                served_gpus = served / option.capacity_per_gpu
                left -= served
            else:
                continue
            total += per_gpu * served_gpus
            pool = (option.site, option.gpu_type)
            busy[pool][t] += served_gpus
            it_kw[option.site][t] += served_gpus * (option.gpu_kw + share[pool][t])
        if left > 1e-9:
            if unmet_unit is None:
                return None
            total += unmet_unit * left
    return total
