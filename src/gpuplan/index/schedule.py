"""The schedule's derived sets (Pyomo-free): the time grid, capacity per (site, GPU type, period),
the ways each job and service can run, and the per-(site, period) series the energy block reads.

Every number here follows the rules of models/schedule.md; the verifier derives the same data on
its own (gpuplan.verify.schedule.facts), so a slip on one side shows as a failed check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..instance.schema import Instance
from .energy import EnergyData

FULL_POWER = "full"   # the power mode every GPU type has unless the instance lists its own "full"
TIME_EPS = 1e-9       # slack on window edges given in hours


@dataclass(frozen=True)
class Mode:
    id: str
    power_fraction: float
    throughput_fraction: float


@dataclass(frozen=True)
class JobOption:
    """One way job ``job`` runs in a period: ``gpus`` GPUs of ``gpu_type`` at ``site`` in
    ``mode``, doing ``work`` GPU-hours of reference work per period and drawing ``gpu_kw``."""

    site: str
    gpu_type: str
    mode: str
    gpus: int
    work: float
    gpu_kw: float


@dataclass(frozen=True)
class SplitChoice:
    """One way a job's gang is split over several pools in a period (models/schedule.md,
    "Split gangs"): ``kind`` "sites" (one GPU type, two or more sites), "types" (one site, two or
    more types) or "both"; the pools are the job's ``options`` (positions) in power mode
    ``mode``; the gang's ``gpus`` GPUs each do their option's work per GPU times ``1 - loss``."""

    kind: str
    mode: str
    options: tuple[int, ...]
    gpus: int
    loss: float
    site: str | None = None      # the one site of a "types" split


@dataclass
class JobPlan:
    """What the model needs of one training job."""

    id: str
    options: list[JobOption]
    periods: list[int]              # allowed periods, ascending (release / deadline window)
    work: float                     # GPU-hours of reference work to finish
    overhead: float                 # work added at each resume
    finish_cost: dict[int, float]   # tardiness cost of finishing at the end of period t
    required: bool
    value: float
    preemptible: bool
    migratable: bool
    restart_cost: float
    migration_cost: float
    sites: list[str]
    splits: list[SplitChoice] = field(default_factory=list)   # empty unless span_sites / allow_mixed_types

    def duration(self, option: JobOption) -> int:
        """Periods a contiguous run on ``option`` takes."""
        return max(1, math.ceil(self.work / option.work - 1e-9))


@dataclass(frozen=True)
class ServiceOption:
    site: str
    gpu_type: str
    capacity_per_gpu: float
    gpu_kw: float                   # power of one serving GPU at the service's utilization


@dataclass
class ServicePlan:
    id: str
    options: list[ServiceOption]
    demand: list[float]             # reference GPUs per period
    unmet_cost_per_gpu_hour: float | None


@dataclass
class ScheduleIndex:
    instance: Instance
    periods: int
    hours: float
    sites: list[str]
    pairs: list[tuple[str, str]]                        # (site, GPU type) with capacity in some period
    cap_nodes: dict[tuple[str, str, int], int]
    gpus_per_node: dict[tuple[str, str], int]
    idle_kw: dict[str, float]                            # board power of an idle GPU, per type
    node_idle_kw: dict[str, float]                       # per site
    node_busy_extra_kw: dict[str, float]                 # per site: (busy - idle) non-GPU power of a full node
    power_off: dict[str, bool]
    wake_cost: dict[str, float]
    initial_on: dict[tuple[str, str], int]
    energy: EnergyData
    jobs: list[JobPlan] = field(default_factory=list)
    services: list[ServicePlan] = field(default_factory=list)

    @property
    def period_range(self) -> range:
        return range(self.periods)

    @property
    def energy_can_pay(self) -> bool:
        """Some price is negative: drawing power may earn money, so running or serving more than
        needed can pay (the model then lets services serve beyond demand and stops jobs at their finish)."""
        return any(price < 0 for price in self.energy.price.values())

    def cap_gpus(self, site: str, gpu_type: str, t: int) -> int:
        return self.cap_nodes[site, gpu_type, t] * self.gpus_per_node[site, gpu_type]


def mode_fractions(idx: ScheduleIndex) -> dict[str, dict[str, float]]:
    """GPU type -> mode -> throughput fraction."""
    return {g: {m.id: m.throughput_fraction for m in modes} for g, modes in power_modes(idx.instance).items()}


def power_modes(instance: Instance) -> dict[str, list[Mode]]:
    """GPU type -> its modes: the listed ones plus full power (1, 1) unless one is called "full"."""
    modes = {g.id: [] for g in instance.gpu_types}
    for row in instance.power_modes:
        modes[row.gpu_type].append(Mode(row.id, row.power_fraction, row.throughput_fraction))
    for listed in modes.values():
        if all(m.id != FULL_POWER for m in listed):
            listed.insert(0, Mode(FULL_POWER, 1.0, 1.0))
    return modes


def pue_at(curve: list[tuple[float, float]], temp: float | None) -> float:
    """PUE by linear interpolation between (temperature, PUE) breakpoints, flat beyond the ends."""
    if not curve or temp is None:
        return 1.0
    if temp <= curve[0][0]:
        return curve[0][1]
    for (t0, p0), (t1, p1) in zip(curve, curve[1:]):
        if temp <= t1:
            return p0 + (p1 - p0) * (temp - t0) / (t1 - t0)
    return curve[-1][1]


def allowed_periods(periods: int, hours: float, release_h: float, deadline_h: float | None) -> list[int]:
    """Periods wholly inside [release_h, deadline_h)."""
    return [t for t in range(periods)
            if t * hours >= release_h - TIME_EPS and (deadline_h is None or (t + 1) * hours <= deadline_h + TIME_EPS)]


def build_schedule_index(instance: Instance) -> ScheduleIndex:
    grid = instance.time
    periods, hours = grid.periods, grid.period_hours
    sites = [s.id for s in instance.sites]
    gpu = {g.id: g for g in instance.gpu_types}

    cap_nodes: dict[tuple[str, str, int], int] = {}
    gpus_per_node: dict[tuple[str, str], int] = {}
    for row in sorted(instance.capacity, key=lambda r: r.period is not None):   # defaults first, then overrides
        gpus_per_node[row.site, row.gpu_type] = row.gpus_per_node
        for t in (range(periods) if row.period is None else [row.period]):
            cap_nodes[row.site, row.gpu_type, t] = row.nodes
    pairs = sorted(gpus_per_node)
    for s, g in pairs:
        for t in range(periods):
            cap_nodes.setdefault((s, g, t), 0)

    facility = {f.site: f for f in instance.facilities}
    node_idle_kw, node_busy_extra_kw, power_off, wake_cost, demand_charge = {}, {}, {}, {}, {}
    for s in sites:
        f = facility.get(s)
        node_idle_kw[s] = (f.node_idle_w if f else 0.0) / 1000
        node_busy_extra_kw[s] = ((f.node_busy_w - f.node_idle_w) if f else 0.0) / 1000
        power_off[s] = bool(f and f.power_off)
        wake_cost[s] = f.wake_cost_per_node if f else 0.0
        demand_charge[s] = f.demand_charge_per_kw if f else 0.0
    all_on = instance.schedule_options.initial_nodes_on == "all"
    initial_on = {(s, g): cap_nodes[s, g, 0] if all_on else 0 for s, g in pairs}

    curves: dict[str, list[tuple[float, float]]] = {}
    for point in sorted(instance.pue_curve, key=lambda p: p.outdoor_temp_c):
        curves.setdefault(point.site, []).append((point.outdoor_temp_c, point.pue))
    series = {(r.site, r.period): r for r in instance.site_series}
    pue, price, carbon_g, grid_limit = {}, {}, {}, {}
    for s in sites:
        for t in range(periods):
            row = series.get((s, t))
            pue[s, t] = pue_at(curves.get(s, []), row.outdoor_temp_c if row else None)
            price[s, t] = (row.price_per_kwh if row and row.price_per_kwh is not None else 0.0)
            carbon_g[s, t] = (row.carbon_g_per_kwh if row and row.carbon_g_per_kwh is not None else 0.0)
            if row and row.grid_limit_kw is not None:
                grid_limit[s, t] = row.grid_limit_kw

    idx = ScheduleIndex(
        instance=instance, periods=periods, hours=hours, sites=sites, pairs=pairs, cap_nodes=cap_nodes,
        gpus_per_node=gpus_per_node, idle_kw={g: gpu[g].idle_power_w / 1000 for g in gpu},
        node_idle_kw=node_idle_kw, node_busy_extra_kw=node_busy_extra_kw, power_off=power_off,
        wake_cost=wake_cost, initial_on=initial_on,
        energy=EnergyData(sites, periods, hours, pue, price, carbon_g, grid_limit, demand_charge,
                          instance.schedule_options.carbon_price_per_t),
    )
    modes = power_modes(instance)
    idx.jobs = [_job_plan(job, idx, modes, gpu) for job in instance.training_jobs]
    demand: dict[str, list[float]] = {v.id: [0.0] * periods for v in instance.services}
    for row in instance.service_demand:   # one pass over the long table
        demand[row.service][row.period] = row.gpus
    idx.services = [_service_plan(service, idx, gpu, demand[service.id]) for service in instance.services]
    return idx


def _job_plan(job, idx: ScheduleIndex, modes, gpu) -> JobPlan:
    sites = job.sites or idx.sites
    options = []
    for option in job.gpu_options:
        n = option.gpus if option.gpus is not None else job.gpus
        for s in sites:
            if (s, option.gpu_type) not in idx.gpus_per_node:
                continue
            for m in modes[option.gpu_type]:
                options.append(JobOption(s, option.gpu_type, m.id, n,
                                         work=n * option.throughput * m.throughput_fraction * idx.hours,
                                         gpu_kw=n * gpu[option.gpu_type].power_w * m.power_fraction / 1000))
    periods = allowed_periods(idx.periods, idx.hours, job.release_h, job.deadline_h)
    finish_cost = {t: job.tardiness_cost_per_h * max(0.0, (t + 1) * idx.hours - job.due_h)
                   for t in periods} if job.due_h is not None else {t: 0.0 for t in periods}
    options = [o for o in options if o.work > 0]
    return JobPlan(
        id=job.id, options=options, periods=periods, work=job.work_gpu_hours,
        overhead=job.restart_overhead_gpu_hours, finish_cost=finish_cost, required=job.required,
        value=job.value, preemptible=job.preemptible, migratable=job.migratable,
        restart_cost=job.restart_cost, migration_cost=job.migration_cost, sites=sorted({o.site for o in options}),
        splits=split_choices(job, options, idx.instance.schedule_options),
    )


def split_choices(job, options: list[JobOption], losses) -> list[SplitChoice]:
    """The ways the job's gang may be split in a period. Only where the input checks allow it
    (a preemptible job; spanning sites: migratable without a migration cost; mixing types: one
    gang size on all options), so an instance the checks would refuse is modelled unsplit."""
    if not job.preemptible:
        return []
    span = job.span_sites and job.migratable and job.migration_cost == 0
    mix = job.allow_mixed_types and len({o.gpus for o in options}) == 1
    groups: dict[tuple, list[int]] = {}
    for i, o in enumerate(options):
        if o.gpus < 2:            # a single GPU cannot be split
            continue
        if span:
            groups.setdefault(("sites", o.mode, o.gpu_type), []).append(i)
        if mix:
            groups.setdefault(("types", o.mode, o.site), []).append(i)
        if span and mix:
            groups.setdefault(("both", o.mode), []).append(i)
    loss = {"sites": losses.cross_site_penalty, "types": losses.mixed_type_penalty,
            "both": losses.cross_site_penalty + losses.mixed_type_penalty}
    choices = []
    for key, members in groups.items():
        sites = {options[i].site for i in members}
        types = {options[i].gpu_type for i in members}
        if len(sites) < 2 and key[0] != "types" or len(types) < 2 and key[0] != "sites":
            continue              # the split would not span sites / mix types as its kind says
        choices.append(SplitChoice(key[0], key[1], tuple(members), options[members[0]].gpus, loss[key[0]],
                                   site=key[2] if key[0] == "types" else None))
    return choices


def _service_plan(service, idx: ScheduleIndex, gpu, demand: list[float]) -> ServicePlan:
    sites = service.sites or idx.sites
    options = []
    for option in service.gpu_options:
        board = gpu[option.gpu_type]
        kw = (board.idle_power_w + service.utilization * (board.power_w - board.idle_power_w)) / 1000
        options += [ServiceOption(s, option.gpu_type, option.capacity_per_gpu, kw)
                    for s in sites if (s, option.gpu_type) in idx.gpus_per_node]
    return ServicePlan(service.id, options, demand, service.unmet_cost_per_gpu_hour)
