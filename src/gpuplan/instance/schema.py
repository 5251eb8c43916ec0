"""The instance data model, schema_version 1.

Units are in the field names (``memory_gb``, ``power_w``, ``cost_per_hour``). Unknown fields
are rejected, numbers must be finite, counts non-negative, and values are validated strictly
(``"8"`` is not a number in a JSON file; CSV cells are typed by :mod:`gpuplan.instance.io`).
Cross-entity rules (references, duplicates, capacities of the current placement) live in
:mod:`gpuplan.instance.checks`, which runs after these per-field rules.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..limits import MAX_GPUS_PER_NODE, MAX_NODES
from .fields import (MILLI_PER_GPU, Fraction, check_gpu_options, GpuOption, Id, NonNegFloat, NonNegInt, PosFloat, PosInt,  # noqa: F401
                     Record)
from .schedule import SCHEDULE_TABLES, ScheduleOptions, TimeGrid
from . import schedule as _schedule

SCHEMA_VERSION = 1

Scope = Literal["node", "pod", "site", "any"]
# The assignment's objectives and their senses (the registry, gpuplan.problems, reads them here).
ASSIGNMENT_OBJECTIVES = {"throughput": "max", "cost": "min", "utilization": "max", "fairness": "max"}
Objective = Literal[tuple(ASSIGNMENT_OBJECTIVES)]


class GpuType(Record):
    """A GPU model (H100 SXM, A800, ...)."""

    id: Id
    memory_gb: PosFloat = Field(description="memory per GPU in GB")
    power_w: NonNegFloat = Field(description="board power when busy, W")
    idle_power_w: NonNegFloat = Field(description="board power when idle, W")

    @model_validator(mode="after")
    def _idle_below_busy(self):
        if self.idle_power_w > self.power_w:
            raise ValueError(
                f"idle_power_w ({self.idle_power_w}) exceeds power_w ({self.power_w})"
            )
        return self


class Site(Record):
    """A datacenter (a power and cooling domain)."""

    id: Id
    description: str | None = None


class Pod(Record):
    """A network / NVLink domain inside a site."""

    id: Id
    site: Id


class NodePool(Record):
    """``node_count`` identical nodes of one GPU type in one pod (or CPU-only nodes)."""

    id: Id
    pod: Id
    site: Id | None = Field(
        default=None, description="optional; when given it must be the pod's site"
    )
    gpu_type: Id | None = Field(default=None, description="none only for CPU-only nodes (gpus_per_node 0)")
    gpus_per_node: Annotated[int, Field(ge=0, le=MAX_GPUS_PER_NODE)]
    node_count: Annotated[int, Field(ge=0, le=MAX_NODES)]
    cpu_milli_per_node: PosInt | None = Field(
        default=None, description="CPU of one node in thousandths of a core; none = not limited"
    )
    host_memory_mib_per_node: PosInt | None = Field(
        default=None, description="host memory of one node in MiB; none = not limited"
    )

    @model_validator(mode="after")
    def _gpu_type_iff_gpus(self):
        if self.gpus_per_node == 0 and self.gpu_type is not None:
            raise ValueError("a pool with gpus_per_node 0 (CPU-only) has no gpu_type")
        if self.gpus_per_node > 0 and self.gpu_type is None:
            raise ValueError("gpu_type missing (only CPU-only pools, gpus_per_node 0, have none)")
        return self


class Node(Record):
    """An explicitly named node. A pool either lists all its nodes or none of them
    (then they are named ``<pool>-<index>``)."""

    id: Id
    pool: Id
    reserved_gpus: NonNegInt = Field(
        default=0, description="GPUs held by work outside this instance (system, maintenance)"
    )


class Tenant(Record):
    id: Id
    weight: PosFloat = Field(default=1.0, description="share weight used by the fairness objective")
    guaranteed_gpus: NonNegInt = Field(
        default=0, description="floor: the tenant holds at least min(guaranteed_gpus, demand) GPUs"
    )
    max_gpus: NonNegInt | None = Field(default=None, description="hard cap on GPUs held")

    @model_validator(mode="after")
    def _floor_below_cap(self):
        if self.max_gpus is not None and self.guaranteed_gpus > self.max_gpus:
            raise ValueError(
                f"guaranteed_gpus ({self.guaranteed_gpus}) exceeds max_gpus ({self.max_gpus})"
            )
        return self


class Job(Record):
    id: Id
    tenant: Id
    priority: PosFloat = Field(default=1.0, description="weight of the job's throughput")
    gpus: PosInt | None = Field(default=None, description="default GPU count of the options")
    gpu_memory_gb: NonNegFloat = Field(default=0.0, description="memory needed on each GPU")
    gpu_options: list[GpuOption] = Field(
        default_factory=list, description="allowed GPU types; none = a CPU-only job (runs on any node)"
    )
    gpu_share_milli: int = Field(
        default=1000, ge=1, le=1000,
        description="below 1000: the job needs that share (in thousandths) of one GPU, shared with others",
    )
    cpu_milli: NonNegInt = Field(default=0, description="CPU needed on its node, in thousandths of a core")
    host_memory_mib: NonNegInt = Field(default=0, description="host memory needed on its node, MiB")
    scope: Scope = Field(
        default="site",
        description="where a multi-node job may spread: node (never), pod, site, any",
    )
    allow_mixed_types: bool = False
    required: bool = Field(default=False, description="must run, or the instance is infeasible")
    migratable: bool = Field(default=True, description="a running job may be moved")
    migration_cost: NonNegFloat = Field(default=0.0, description="objective units")
    preemptible: bool = Field(default=True, description="a running job may be stopped")
    preemption_cost: NonNegFloat = Field(default=0.0, description="objective units")

    @model_validator(mode="after")
    def _options_complete(self):
        check_gpu_options(self.gpu_options, self.gpus)
        for i, option in enumerate(self.gpu_options):
            if self.fractional and self.gpus_on(option.gpu_type) != 1:
                raise ValueError(
                    f"gpu_options[{i}]: a job with gpu_share_milli {self.gpu_share_milli} needs exactly 1 GPU, "
                    f"not {self.gpus_on(option.gpu_type)}"
                )
        if not self.gpu_options and self.fractional:
            raise ValueError("a CPU-only job (no gpu_options) cannot have a gpu_share_milli")
        return self

    @property
    def fractional(self) -> bool:
        """Needs a share of one GPU rather than whole GPUs."""
        return self.gpu_share_milli < MILLI_PER_GPU

    @property
    def cpu_only(self) -> bool:
        return not self.gpu_options

    @property
    def best_worth(self) -> float:
        """priority x the job's best throughput: what running it adds at most (0 for a CPU-only
        job). Orders the greedy, picks what a failed share packing drops, sums to the bound."""
        return self.priority * max((option.throughput for option in self.gpu_options), default=0.0)

    def gpus_on(self, gpu_type: str) -> int:
        """GPUs the job needs on ``gpu_type`` (which must be one of its options)."""
        option = self.option(gpu_type)
        return option.gpus if option.gpus is not None else self.gpus  # type: ignore[return-value]

    def option(self, gpu_type: str) -> GpuOption:
        for option in self.gpu_options:
            if option.gpu_type == gpu_type:
                return option
        raise KeyError(gpu_type)


class CurrentPlacement(Record):
    """One row of what runs now: ``gpus`` GPUs of ``node`` held by running job ``job``."""

    job: Id
    node: Id
    gpus: NonNegInt = Field(description="GPUs held (1 for a job sharing a GPU, 0 for a CPU-only job)")
    gpu_index: NonNegInt | None = Field(
        default=None, description="for a job sharing a GPU: which GPU of the node (0-based)"
    )


class Options(Record):
    objective: Objective = "throughput"
    cross_site_penalty: Fraction = Field(
        default=0.04, description="throughput (or extra cost) lost by a job spanning sites"
    )
    mixed_type_penalty: Fraction = Field(
        default=0.05, description="throughput (or extra cost) lost by a job mixing GPU types"
    )


class Instance(Record):
    schema_version: Literal[1]
    name: str | None = None
    description: str | None = None
    gpu_types: list[GpuType] = Field(min_length=1)
    sites: list[Site] = Field(min_length=1)
    pods: list[Pod] = Field(default_factory=list, description="assignment: required")
    node_pools: list[NodePool] = Field(default_factory=list, description="assignment: required")
    nodes: list[Node] = Field(default_factory=list)
    tenants: list[Tenant] = Field(default_factory=list, description="assignment: required")
    jobs: list[Job] = Field(default_factory=list)
    current_placements: list[CurrentPlacement] = Field(default_factory=list)
    options: Options = Field(default_factory=Options)
    # schedule sections (gpuplan.instance.schedule)
    time: TimeGrid | None = None
    site_series: list[_schedule.SiteSeries] = Field(default_factory=list)
    pue_curve: list[_schedule.PuePoint] = Field(default_factory=list)
    facilities: list[_schedule.Facility] = Field(default_factory=list)
    capacity: list[_schedule.Capacity] = Field(default_factory=list)
    power_modes: list[_schedule.PowerMode] = Field(default_factory=list)
    training_jobs: list[_schedule.TrainingJob] = Field(default_factory=list)
    services: list[_schedule.Service] = Field(default_factory=list)
    service_demand: list[_schedule.ServiceDemand] = Field(default_factory=list)
    schedule_options: ScheduleOptions = Field(default_factory=ScheduleOptions)


# Top-level tables a file may give inline or as {"csv": "relative/path.csv"}.
TABLES: dict[str, type[Record]] = {
    "gpu_types": GpuType,
    "sites": Site,
    "pods": Pod,
    "node_pools": NodePool,
    "nodes": Node,
    "tenants": Tenant,
    "jobs": Job,
    "current_placements": CurrentPlacement,
    **SCHEDULE_TABLES,
}


def file_json_schema() -> dict:
    """JSON Schema of an instance *file*: the instance, where each table may also be a CSV reference."""
    schema = Instance.model_json_schema()
    csv_ref = {
        "type": "object",
        "properties": {"csv": {"type": "string", "description": "path relative to the file"}},
        "required": ["csv"],
        "additionalProperties": False,
    }
    for table in TABLES:
        field = schema["properties"][table]
        schema["properties"][table] = {
            "anyOf": [{k: v for k, v in field.items() if k not in ("title", "default")}, csv_ref],
            "title": field.get("title", table),
            "description": (
                "inline list, or a CSV file"
                + (" (one row per job and GPU type option)" if table == "jobs" else "")
            ),
        }
    schema["title"] = "gpuplan instance file (schema_version 1)"
    return schema
