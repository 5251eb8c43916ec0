"""The instance data model, schema_version 1.

Units are in the field names (``memory_gb``, ``power_w``, ``cost_per_hour``). Unknown fields
are rejected, numbers must be finite, counts non-negative, and values are validated strictly
(``"8"`` is not a number in a JSON file; CSV cells are typed by :mod:`gpuplan.instance.io`).
Cross-entity rules (references, duplicates, capacities of the current placement) live in
:mod:`gpuplan.instance.checks`, which runs after these per-field rules.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..errors import escape_controls
from ..limits import MAX_AMOUNT, MAX_COUNT, MAX_GPUS_PER_NODE, MAX_NODES, MIN_AMOUNT

SCHEMA_VERSION = 1
MAX_ID_CHARS = 200

# Control characters (C0, DEL, C1) and the Unicode line separators: an id is printed in
# one-line messages, tables and CSV files, where any of these would break the line.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"


def _plain_id(value: str) -> str:
    bad = next((ch for ch in value if not ch.isprintable() and ch != " "), None)
    if bad is not None:
        raise ValueError(f"an id cannot contain control characters (found {escape_controls(bad)})")
    if value != value.strip():
        raise ValueError("an id cannot start or end with whitespace")
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_CHARS),
    AfterValidator(_plain_id),
    Field(description="identifier: non-empty, at most 200 characters, no control characters, "
                      "no leading or trailing whitespace",
          json_schema_extra={"pattern": f"^[^\\s{_CONTROLS}](?:[^{_CONTROLS}]*[^\\s{_CONTROLS}])?$"}),
]


def _amount(value: float) -> float:
    if 0 < value < MIN_AMOUNT:
        raise ValueError(f"{value:g} is below {MIN_AMOUNT:g} (give 0 or a value of at least {MIN_AMOUNT:g}; "
                         f"change the unit if needed)")
    return value


# Amounts: finite (the model config), at most MAX_AMOUNT, 0 or at least MIN_AMOUNT (limits.py).
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_AMOUNT), AfterValidator(_amount)]
PosFloat = Annotated[float, Field(gt=0, le=MAX_AMOUNT), AfterValidator(_amount)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_COUNT)]
PosInt = Annotated[int, Field(ge=1, le=MAX_COUNT)]

Scope = Literal["node", "pod", "site", "any"]
Objective = Literal["throughput", "cost", "utilization", "fairness"]


class Record(BaseModel):
    # validate_assignment: a field set after construction is checked like one given to it.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, validate_assignment=True)


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


class GpuOption(Record):
    """How a job runs on one GPU type: GPU count, throughput, cost."""

    gpu_type: Id
    gpus: PosInt | None = Field(default=None, description="GPUs needed on this type; default job.gpus")
    throughput: NonNegFloat = Field(
        default=1.0, description="the whole job's throughput on this type (its own units)"
    )
    cost_per_hour: NonNegFloat = Field(
        default=0.0, description="cost of running the whole job on this type for an hour"
    )


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
        seen: set[str] = set()
        for i, option in enumerate(self.gpu_options):
            if option.gpu_type in seen:
                raise ValueError(f"gpu_options[{i}]: GPU type '{option.gpu_type}' listed twice")
            seen.add(option.gpu_type)
            if option.gpus is None and self.gpus is None:
                raise ValueError(f"gpu_options[{i}]: gpus missing (set it here or job.gpus)")
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
        return self.gpu_share_milli < 1000

    @property
    def cpu_only(self) -> bool:
        return not self.gpu_options

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
    pods: list[Pod] = Field(min_length=1)
    node_pools: list[NodePool] = Field(min_length=1)
    nodes: list[Node] = Field(default_factory=list)
    tenants: list[Tenant] = Field(min_length=1)
    jobs: list[Job] = Field(default_factory=list)
    current_placements: list[CurrentPlacement] = Field(default_factory=list)
    options: Options = Field(default_factory=Options)


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
