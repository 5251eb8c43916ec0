"""The schedule problem's sections of the instance (schema_version 1, all optional).

The schedule plans *when and where* over a time grid: training jobs with work, release,
deadline and due time; inference services with a GPU demand per period; per-site series of
electricity price, carbon intensity, outdoor temperature and grid limit; facilities (PUE as a
piecewise-linear function of outdoor temperature, non-GPU node power, demand charge); GPU
power modes. Units are in the field names. Times are hours from the grid's start
(``release_h``, ``deadline_h``, ``due_h``); period ``t`` covers ``[t*period_hours,
(t+1)*period_hours)``.

The power model every layer uses (model, verifier, baselines), per site s, GPU type g, period t:

- a GPU running a training job in power mode m draws ``power_w * power_fraction(m)``;
- a GPU serving an inference service draws ``idle_power_w + utilization * (power_w - idle_power_w)``;
- an idle GPU on a powered-on node draws ``idle_power_w``; a powered-off node draws nothing;
- each powered-on node draws ``node_idle_w`` plus ``(node_busy_w - node_idle_w)`` times the
  share of its GPUs that are busy (linear in busy GPUs: ``busy_gpus / gpus_per_node``);
- IT power ``it_power_kw[s, t]`` is the sum over the site in kW; facility power is
  ``PUE(outdoor_temp_c[s, t]) * it_power_kw[s, t]`` (PUE interpolated linearly between the
  site's breakpoints, constant beyond the ends; 1.0 when no curve is given).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..limits import MAX_AMOUNT
from .fields import GpuOption, Id, check_gpu_options, NonNegFloat, NonNegInt, PosFloat, PosInt, Record

Share = Annotated[float, Field(gt=0, le=1)]
Price = Annotated[float, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]   # negative prices happen
Hour = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]


class TimeGrid(Record):
    """``periods`` periods of ``period_hours`` hours each, from ``start``."""

    periods: PosInt = Field(description="number of periods")
    period_hours: PosFloat = Field(default=1.0, description="length of a period in hours (0.25 = 15 min)")
    start: str | None = Field(default=None, description="ISO timestamp of the first period's start")


class SiteSeries(Record):
    """One site's values in one period; a column left empty means the value is not used."""

    site: Id
    period: NonNegInt
    price_per_kwh: Price | None = Field(default=None, description="electricity price; negative allowed")
    carbon_g_per_kwh: NonNegFloat | None = Field(default=None, description="grid carbon intensity")
    outdoor_temp_c: Annotated[float, Field(ge=-100, le=100)] | None = None
    grid_limit_kw: NonNegFloat | None = Field(default=None, description="facility power limit; none = no limit")


class PuePoint(Record):
    """A breakpoint of a site's PUE curve: PUE ``pue`` at outdoor temperature ``outdoor_temp_c``."""

    site: Id
    outdoor_temp_c: Annotated[float, Field(ge=-100, le=100)]
    pue: Annotated[float, Field(ge=1, le=10)]


class Facility(Record):
    """A site's facility: non-GPU power per node, demand charge, node power-off."""

    site: Id
    node_idle_w: NonNegFloat = Field(default=0.0, description="non-GPU power of a powered-on node, idle")
    node_busy_w: NonNegFloat = Field(default=0.0, description="non-GPU power of a powered-on node, all GPUs busy")
    demand_charge_per_kw: NonNegFloat = Field(default=0.0, description="charge per kW of the horizon's peak facility power")
    power_off: bool = Field(default=False, description="idle nodes may be powered off (no power at all)")
    wake_cost_per_node: NonNegFloat = Field(default=0.0, description="cost of powering one node on")

    @model_validator(mode="after")
    def _busy_above_idle(self):
        if self.node_busy_w < self.node_idle_w:
            raise ValueError(f"node_busy_w ({self.node_busy_w}) is below node_idle_w ({self.node_idle_w})")
        return self


class Capacity(Record):
    """``nodes`` nodes of ``gpus_per_node`` GPUs of one type at one site; with ``period`` the
    count for that period only (maintenance), else for every period without its own row."""

    site: Id
    gpu_type: Id
    nodes: NonNegInt
    gpus_per_node: PosInt = Field(default=8, description="GPUs per node")
    period: NonNegInt | None = Field(default=None, description="none = every period not given its own row")


class PowerMode(Record):
    """A GPU power cap: the share of board power drawn and of throughput kept."""

    gpu_type: Id
    id: Id
    power_fraction: Share
    throughput_fraction: Share


class TrainingJob(Record):
    """A job with a fixed amount of work to finish within the horizon.

    Work is in GPU-hours of the reference speed: on option ``o`` in power mode ``m`` the job
    does ``gpus(o) * throughput(o) * throughput_fraction(m)`` GPU-hours of work per hour
    (``throughput`` here is per GPU, relative to the reference: 1.0 by default).

    With ``span_sites`` / ``allow_mixed_types`` (preemptible jobs only) the gang of a period may
    be split over several (site, GPU type) pools in one power mode: each GPU does its own type's
    work, and the period's work is reduced by the penalties that apply (models/schedule.md)."""

    id: Id
    tenant: Id | None = None
    gpus: PosInt | None = Field(default=None, description="default GPU count of the options")
    gpu_options: list[GpuOption] = Field(min_length=1)
    work_gpu_hours: PosFloat
    release_h: Hour = 0.0
    deadline_h: Hour | None = Field(default=None, description="hard: the job must finish by then")
    due_h: Hour | None = Field(default=None, description="soft: each hour late costs tardiness_cost_per_h")
    tardiness_cost_per_h: NonNegFloat = 0.0
    required: bool = Field(default=True, description="must finish within the horizon (or its deadline)")
    value: NonNegFloat = Field(default=0.0, description="earned when the job finishes (term job_value)")
    preemptible: bool = Field(default=True, description="may pause; if false it runs contiguously once started")
    restart_overhead_gpu_hours: NonNegFloat = Field(
        default=0.0, description="work added at each resume after a pause (checkpoint reload), GPU-hours")
    restart_cost: NonNegFloat = Field(default=0.0, description="cost of each resume after a pause")
    sites: list[Id] | None = Field(default=None, description="allowed sites; none = all")
    migratable: bool = Field(default=False, description="may change site between periods")
    migration_cost: NonNegFloat = 0.0
    span_sites: bool = Field(
        default=False, description="preemptible only: may hold its gang over several sites in a period, losing "
        "schedule_options.cross_site_penalty of that period's work (needs migratable, no migration_cost)")
    allow_mixed_types: bool = Field(
        default=False, description="preemptible only: may hold its gang over several GPU types in a period, "
        "losing schedule_options.mixed_type_penalty of that period's work (needs one gpus on every option)")

    @model_validator(mode="after")
    def _times_and_options(self):
        if self.deadline_h is not None and self.deadline_h <= self.release_h:
            raise ValueError(f"deadline_h ({self.deadline_h:g}) is not after release_h ({self.release_h:g})")
        if self.due_h is not None and self.due_h < self.release_h:
            raise ValueError(f"due_h ({self.due_h:g}) is before release_h ({self.release_h:g})")
        check_gpu_options(self.gpu_options, self.gpus)
        return self

    def gpus_on(self, gpu_type: str) -> int:
        option = next(o for o in self.gpu_options if o.gpu_type == gpu_type)
        return option.gpus if option.gpus is not None else self.gpus  # type: ignore[return-value]


class ServiceOption(Record):
    """How much of a service's demand one GPU of ``gpu_type`` carries (reference GPUs)."""

    gpu_type: Id
    capacity_per_gpu: PosFloat = 1.0


class Service(Record):
    """An inference service: a GPU demand per period (``service_demand``), served at allowed sites."""

    id: Id
    gpu_options: list[ServiceOption] = Field(min_length=1)
    sites: list[Id] | None = Field(default=None, description="sites within its latency limit; none = all")
    unmet_cost_per_gpu_hour: NonNegFloat | None = Field(
        default=None, description="cost per reference GPU-hour not served; none = demand is hard")
    utilization: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.6, description="utilization of a serving GPU (its power between idle and busy)")


class ServiceDemand(Record):
    """A service's demand in one period, in reference GPUs."""

    service: Id
    period: NonNegInt
    gpus: NonNegFloat


class ScheduleOptions(Record):
    carbon_price_per_t: NonNegFloat = Field(default=0.0, description="cost per tonne of CO2 (term carbon_cost)")
    initial_nodes_on: Literal["all", "none"] = Field(
        default="all", description="nodes powered on before the first period (for wake-up costs)")
    cross_site_penalty: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.04, description="share of a period's work lost by a job whose gang spans sites (span_sites)")
    mixed_type_penalty: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.05, description="share of a period's work lost by a job whose gang mixes GPU types")

    @model_validator(mode="after")
    def _losses_leave_work(self):
        if self.cross_site_penalty + self.mixed_type_penalty >= 1:
            raise ValueError("cross_site_penalty + mixed_type_penalty must stay below 1 (a gang that spans "
                             "sites and mixes types would do no work)")
        return self


# The schedule's top-level tables (inline lists, or CSV files for the long ones).
SCHEDULE_TABLES: dict[str, type[Record]] = {
    "site_series": SiteSeries,
    "pue_curve": PuePoint,
    "facilities": Facility,
    "capacity": Capacity,
    "power_modes": PowerMode,
    "training_jobs": TrainingJob,
    "services": Service,
    "service_demand": ServiceDemand,
}


def describe_schedule(instance) -> str:
    """'3 sites, 4,416 GPUs, 220 training jobs, 7 services, 168 periods of 1 h'."""
    gpus = sum(row.nodes * row.gpus_per_node for row in instance.capacity if row.period is None)
    grid = instance.time
    return (f"{len(instance.sites)} sites, {gpus:,} GPUs, {len(instance.training_jobs):,} training jobs, "
            f"{len(instance.services)} services, {grid.periods:,} periods of {grid.period_hours:g} h")
