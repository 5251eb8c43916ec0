"""What the instance alone says about a schedule ("Derived data" of the schedule contract):
the time grid, capacity per (site, GPU type, period), power modes, PUE, price, carbon and grid
limit per (site, period), the facility of each site, each job's window, gang sizes and speeds,
each service's options and demand.

Re-implemented from the contract and the docstring of :mod:`gpuplan.instance.schedule` alone.
Everything is a numpy array indexed by *positions*: sites, GPU types, jobs and services in
file order (``facts.sites[i]`` is the id at position ``i``).

The instance layer does not (yet) cross-check the schedule's tables, so the facts refuse what
they cannot read unambiguously, with one :class:`~gpuplan.errors.InputError` line naming the
table row: a reference to an unknown site, GPU type or service; a period outside the grid; two
rows for the same (site, type, period) of capacity, (site, period) of series, (site) of
facility, (type, id) of power mode, (service, period) of demand, or (site, temperature) of a
PUE curve; two ``gpus_per_node`` for one (site, type).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError, shown
from ...instance.schema import Instance

FULL = "full"  # the implicit power mode of every GPU type (power and throughput fraction 1)
WINDOW_TOL = 1e-9  # hours: release and deadline are compared with this slack (contract)


@dataclass(frozen=True, eq=False)
class ScheduleFacts:
    periods: int  # T
    period_hours: float  # h
    sites: tuple[str, ...]
    gpu_types: tuple[str, ...]
    # capacity
    cap_nodes: np.ndarray  # [site, type, period] nodes available
    gpn: np.ndarray  # [site, type] GPUs per node (0 where the site has no such nodes)
    power_w: np.ndarray  # [type] board power when busy
    idle_w: np.ndarray  # [type] board power when idle
    # power modes: one row per (type, mode), the implicit "full" included
    mode_type: np.ndarray  # [mode] type position
    mode_id: tuple[str, ...]  # [mode]
    power_fraction: np.ndarray  # [mode]
    throughput_fraction: np.ndarray  # [mode]
    # site and period series
    pue: np.ndarray  # [site, period]
    price: np.ndarray  # [site, period] per kWh (missing = 0)
    carbon: np.ndarray  # [site, period] g per kWh (missing = 0)
    grid_limit: np.ndarray  # [site, period] kW facility power (missing = inf)
    # facility per site
    node_idle_w: np.ndarray
    node_busy_w: np.ndarray
    demand_charge_per_kw: np.ndarray
    power_off: np.ndarray  # bool
    wake_cost_per_node: np.ndarray
    carbon_price_per_t: float
    initial_nodes_on: str  # "all" / "none"
    cross_site_penalty: float  # share of a period's work lost by a gang over several sites
    mixed_type_penalty: float  # ... by a gang of several GPU types
    # training jobs
    jobs: tuple[str, ...]
    gang: np.ndarray  # [job, type] GPUs the job holds on the type; 0 = not an option
    throughput: np.ndarray  # [job, type] work per GPU-hour (reference = 1); 0 where not an option
    job_sites: np.ndarray  # [job, site] bool: allowed
    first_period: np.ndarray  # [job] first allowed period
    last_period: np.ndarray  # [job] last allowed period (below first_period: no period allowed)
    work_gpu_hours: np.ndarray
    restart_overhead_gpu_hours: np.ndarray
    restart_cost: np.ndarray
    required: np.ndarray  # bool
    preemptible: np.ndarray  # bool
    migratable: np.ndarray  # bool
    migration_cost: np.ndarray
    span_sites: np.ndarray  # bool: its gang may span sites in a period
    mix_types: np.ndarray  # bool: its gang may mix GPU types in a period
    value: np.ndarray
    due_h: np.ndarray  # NaN = no due time
    tardiness_cost_per_h: np.ndarray
    deadline_h: np.ndarray  # NaN = no deadline
    # inference services
    services: tuple[str, ...]
    capacity_per_gpu: np.ndarray  # [service, type]; 0 = not an option
    service_sites: np.ndarray  # [service, site] bool: allowed
    unmet_cost_per_gpu_hour: np.ndarray  # NaN = hard demand
    utilization: np.ndarray
    demand: np.ndarray  # [service, period] reference GPUs

    @property
    def cap_gpus(self) -> np.ndarray:
        """[site, type, period] GPUs available."""
        return self.cap_nodes * self.gpn[:, :, None]

    @property
    def may_split(self) -> np.ndarray:
        """[job] bool: its gang may be split over several (site, type) pools in a period."""
        return self.span_sites | self.mix_types

    @property
    def hard_services(self) -> np.ndarray:
        return np.isnan(self.unmet_cost_per_gpu_hour)


def schedule_facts(instance: Instance) -> ScheduleFacts:
    if instance.time is None:
        raise InputError(None, "time", "the schedule needs a time grid (time.periods)")
    T, h = instance.time.periods, instance.time.period_hours
    sites = tuple(s.id for s in instance.sites)
    types = tuple(g.id for g in instance.gpu_types)
    at = _Positions(sites, types, T)
    cap_nodes, gpn = _capacity(instance, at)
    modes = _modes(instance, at)
    series = _series(instance, at)
    facility = _facilities(instance, at)
    jobs = _jobs(instance, at, h)
    services = _services(instance, at)
    return ScheduleFacts(
        periods=T, period_hours=h, sites=sites, gpu_types=types,
        cap_nodes=cap_nodes, gpn=gpn,
        power_w=np.array([g.power_w for g in instance.gpu_types], dtype=float),
        idle_w=np.array([g.idle_power_w for g in instance.gpu_types], dtype=float),
        **modes, **series, **facility,
        carbon_price_per_t=instance.schedule_options.carbon_price_per_t,
        initial_nodes_on=instance.schedule_options.initial_nodes_on,
        cross_site_penalty=instance.schedule_options.cross_site_penalty,
        mixed_type_penalty=instance.schedule_options.mixed_type_penalty,
        **jobs, **services,
    )


class _Positions:
    """Id -> position lookups that name the offending row when an id is unknown."""

    def __init__(self, sites, types, periods):
        self.site = {s: i for i, s in enumerate(sites)}
        self.type = {g: i for i, g in enumerate(types)}
        self.periods = periods

    def of(self, what: dict, id_: str, where: str) -> int:
        if id_ not in what:
            kind = "site" if what is self.site else "GPU type"
            raise InputError(None, where, f"unknown {kind} {shown(id_)}")
        return what[id_]

    def period(self, period: int, where: str) -> int:
        if not 0 <= period < self.periods:
            raise InputError(None, where, f"period {period} outside the time grid 0..{self.periods - 1}")
        return period


def _once(seen: set, key, where: str, what) -> None:
    """Refuse a second row for ``key``; ``what()`` names it (built only then: tables are long)."""
    if key in seen:
        raise InputError(None, where, f"a second row for {what()}")
    seen.add(key)


def _capacity(instance: Instance, at: _Positions):
    S, G, T = len(at.site), len(at.type), at.periods
    default = np.zeros((S, G), dtype=np.int64)
    cap = np.full((S, G, T), -1, dtype=np.int64)  # -1: no row of its own (the default applies)
    gpn = np.zeros((S, G), dtype=np.int64)
    seen: set = set()
    for i, row in enumerate(instance.capacity):
        where = f"capacity[{i}]"
        s = at.of(at.site, row.site, f"{where}.site")
        g = at.of(at.type, row.gpu_type, f"{where}.gpu_type")
        _once(seen, (s, g, row.period), where, lambda: f"site {shown(row.site)}, {row.gpu_type}, period {row.period}")
        if gpn[s, g] and gpn[s, g] != row.gpus_per_node:
            raise InputError(None, f"{where}.gpus_per_node", f"{row.gpus_per_node}, but another row of "
                             f"{shown(row.site)} / {shown(row.gpu_type)} says {gpn[s, g]}")
        gpn[s, g] = row.gpus_per_node
        if row.period is None:
            default[s, g] = row.nodes
        else:
            cap[s, g, at.period(row.period, f"{where}.period")] = row.nodes
    return np.where(cap < 0, default[:, :, None], cap), gpn


def _modes(instance: Instance, at: _Positions) -> dict:
    rows: dict[tuple[int, str], tuple[float, float]] = {}
    seen: set = set()
    for i, mode in enumerate(instance.power_modes):
        where = f"power_modes[{i}]"
        g = at.of(at.type, mode.gpu_type, f"{where}.gpu_type")
        _once(seen, (g, mode.id), where, lambda: f"power mode {shown(mode.id)} of {shown(mode.gpu_type)}")
        rows[g, mode.id] = (mode.power_fraction, mode.throughput_fraction)
    for g in at.type.values():
        rows.setdefault((g, FULL), (1.0, 1.0))
    keys = sorted(rows)
    return {
        "mode_type": np.array([g for g, _ in keys], dtype=np.int64),
        "mode_id": tuple(m for _, m in keys),
        "power_fraction": np.array([rows[k][0] for k in keys], dtype=float),
        "throughput_fraction": np.array([rows[k][1] for k in keys], dtype=float),
    }


def _series(instance: Instance, at: _Positions) -> dict:
    S, T = len(at.site), at.periods
    price, carbon = np.zeros((S, T)), np.zeros((S, T))
    temp, limit = np.full((S, T), np.nan), np.full((S, T), np.inf)
    seen: set = set()
    for i, row in enumerate(instance.site_series):
        where = f"site_series[{i}]"
        s = at.of(at.site, row.site, f"{where}.site")
        t = at.period(row.period, f"{where}.period")
        _once(seen, (s, t), where, lambda: f"site {shown(row.site)}, period {t}")
        if row.price_per_kwh is not None:
            price[s, t] = row.price_per_kwh
        if row.carbon_g_per_kwh is not None:
            carbon[s, t] = row.carbon_g_per_kwh
        if row.outdoor_temp_c is not None:
            temp[s, t] = row.outdoor_temp_c
        if row.grid_limit_kw is not None:
            limit[s, t] = row.grid_limit_kw
    return {"pue": _pue(instance, at, temp), "price": price, "carbon": carbon, "grid_limit": limit}


def _pue(instance: Instance, at: _Positions, temp: np.ndarray) -> np.ndarray:
    """PUE(outdoor_temp_c): linear between a site's breakpoints, constant beyond the ends; 1.0
    without a curve or without a temperature."""
    curves: dict[int, dict[float, float]] = {}
    for i, point in enumerate(instance.pue_curve):
        where = f"pue_curve[{i}]"
        s = at.of(at.site, point.site, f"{where}.site")
        curve = curves.setdefault(s, {})
        if point.outdoor_temp_c in curve:
            raise InputError(None, where, f"a second PUE breakpoint for site {shown(point.site)} at "
                             f"{point.outdoor_temp_c:g} C")
        curve[point.outdoor_temp_c] = point.pue
    pue = np.ones_like(temp)
    for s, curve in curves.items():
        xs = sorted(curve)
        known = ~np.isnan(temp[s])
        pue[s, known] = np.interp(temp[s, known], xs, [curve[x] for x in xs])
    return pue


def _facilities(instance: Instance, at: _Positions) -> dict:
    S = len(at.site)
    out = {"node_idle_w": np.zeros(S), "node_busy_w": np.zeros(S), "demand_charge_per_kw": np.zeros(S),
           "power_off": np.zeros(S, dtype=bool), "wake_cost_per_node": np.zeros(S)}
    seen: set = set()
    for i, row in enumerate(instance.facilities):
        s = at.of(at.site, row.site, f"facilities[{i}].site")
        _once(seen, s, f"facilities[{i}]", lambda: f"site {shown(row.site)}")
        for key in out:
            out[key][s] = getattr(row, key)
    return out


def _jobs(instance: Instance, at: _Positions, h: float) -> dict:
    jobs = instance.training_jobs
    _unique_ids("training_jobs", jobs)
    J, G, S, T = len(jobs), len(at.type), len(at.site), at.periods
    gang = np.zeros((J, G), dtype=np.int64)
    speed = np.zeros((J, G))
    allowed = np.zeros((J, S), dtype=bool)
    for j, job in enumerate(jobs):
        for k, option in enumerate(job.gpu_options):
            g = at.of(at.type, option.gpu_type, f"training_jobs[{j}].gpu_options[{k}].gpu_type")
            gang[j, g] = job.gpus_on(option.gpu_type)
            speed[j, g] = option.throughput
        if job.sites is None:
            allowed[j] = True
        for k, site in enumerate(job.sites or ()):
            allowed[j, at.of(at.site, site, f"training_jobs[{j}].sites[{k}]")] = True
    release = np.array([job.release_h for job in jobs], dtype=float)
    deadline = np.array([np.nan if job.deadline_h is None else job.deadline_h for job in jobs], dtype=float)
    t = np.arange(T, dtype=float)
    # the contract's window, literally: t*h >= release, (t+1)*h <= deadline (each within 1e-9)
    opens = t[None, :] * h >= release[:, None] - WINDOW_TOL
    closes = np.isnan(deadline)[:, None] | ((t[None, :] + 1) * h <= deadline[:, None] + WINDOW_TOL)
    window = opens & closes
    some = window.any(axis=1)
    first = np.where(some, window.argmax(axis=1), T)
    last = np.where(some, T - 1 - window[:, ::-1].argmax(axis=1), -1)

    return {
        "jobs": tuple(job.id for job in jobs), "gang": gang, "throughput": speed, "job_sites": allowed,
        "first_period": first.astype(np.int64), "last_period": last.astype(np.int64),
        "work_gpu_hours": _floats(jobs, "work_gpu_hours"),
        "restart_overhead_gpu_hours": _floats(jobs, "restart_overhead_gpu_hours"),
        "restart_cost": _floats(jobs, "restart_cost"),
        "required": np.array([job.required for job in jobs], dtype=bool),
        "preemptible": np.array([job.preemptible for job in jobs], dtype=bool),
        "migratable": np.array([job.migratable for job in jobs], dtype=bool),
        "migration_cost": _floats(jobs, "migration_cost"),
        "span_sites": np.array([job.span_sites for job in jobs], dtype=bool),
        "mix_types": np.array([job.allow_mixed_types for job in jobs], dtype=bool),
        "value": _floats(jobs, "value"),
        "due_h": _floats(jobs, "due_h"),
        "tardiness_cost_per_h": _floats(jobs, "tardiness_cost_per_h"),
        "deadline_h": deadline,
    }


def _unique_ids(table: str, items) -> None:
    seen: set = set()
    for i, item in enumerate(items):
        _once(seen, item.id, f"{table}[{i}].id", lambda: f"id {shown(item.id)}")


def _floats(items, key: str) -> np.ndarray:
    """A float column of ``items``' field ``key`` (None as NaN)."""
    return np.array([math.nan if getattr(x, key) is None else getattr(x, key) for x in items], dtype=float)


def _services(instance: Instance, at: _Positions) -> dict:
    services = instance.services
    _unique_ids("services", services)
    V, G, S, T = len(services), len(at.type), len(at.site), at.periods
    capacity = np.zeros((V, G))
    allowed = np.zeros((V, S), dtype=bool)
    for v, service in enumerate(services):
        for k, option in enumerate(service.gpu_options):
            where = f"services[{v}].gpu_options[{k}]"
            g = at.of(at.type, option.gpu_type, f"{where}.gpu_type")
            if capacity[v, g]:
                raise InputError(None, where, f"GPU type {shown(option.gpu_type)} listed twice")
            capacity[v, g] = option.capacity_per_gpu
        if service.sites is None:
            allowed[v] = True
        for k, site in enumerate(service.sites or ()):
            allowed[v, at.of(at.site, site, f"services[{v}].sites[{k}]")] = True
    position = {s.id: v for v, s in enumerate(services)}
    demand = np.zeros((V, T))
    seen: set = set()
    for i, row in enumerate(instance.service_demand):
        where = f"service_demand[{i}]"
        if row.service not in position:
            raise InputError(None, f"{where}.service", f"unknown service {shown(row.service)}")
        t = at.period(row.period, f"{where}.period")
        _once(seen, (row.service, t), where, lambda: f"service {shown(row.service)}, period {t}")
        demand[position[row.service], t] = row.gpus
    return {
        "services": tuple(s.id for s in services), "capacity_per_gpu": capacity, "service_sites": allowed,
        "unmet_cost_per_gpu_hour": _floats(services, "unmet_cost_per_gpu_hour"),
        "utilization": _floats(services, "utilization"),
        "demand": demand,
    }
