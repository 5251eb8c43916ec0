"""Alibaba GPU trace v2023 ("openb", Weng et al., USENIX ATC'23) as assignment instances.

Files (alibaba/clusterdata, ``cluster-trace-gpu-v2023/csv/``):

- node list ``openb_node_list_*.csv``: ``sn, cpu_milli, memory_mib, gpu, model`` (``model``
  empty and ``gpu`` 0 on CPU-only nodes);
- pod list ``openb_pod_list_*.csv``: ``name, cpu_milli, memory_mib, num_gpu, gpu_milli`` and,
  in most lists, ``gpu_spec, qos, pod_phase, creation_time, deletion_time, scheduled_time``.
  ``gpu_milli`` is the share of each GPU in thousandths; ``gpu_spec`` (optional cell) lists
  the GPU models a pod may use, ``|``-separated.

Mapping (one moment in time: the trace has no topology and no placements):

- one site ``site``, one pod ``pod``;
- GPU types: the node models, plus any other catalogued model a selected pod names in its
  ``gpu_spec``, in the order of :data:`GPU_MODELS`, which gives memory and power: public
  data sheets for T4, P100, V100M16, V100M32 and A10, an assumption for the undisclosed G1,
  G2 and G3, idle power 20% of board power for all. Pods do not ask for GPU memory, so these
  values decide nothing in assignment; they only matter for energy later;
- every node is listed in ``nodes`` under its ``sn``; pools are the groups of identical
  ``(model, gpu, cpu_milli, memory_mib)`` in order of first appearance, named
  ``<model>x<gpus>-<cpu>-<memory>`` (``G2x8-96c-384g``; ``cpu-32c-64g`` for CPU-only pools,
  which have ``gpus_per_node`` 0 and no GPU type; ``<n>c`` / ``<n>g`` are whole cores / GiB,
  ``<n>mc`` / ``<n>mib`` are used when the value is not a whole number of them);
- jobs: the pods in **arrival order** (``creation_time``, then file order; file order when the
  list has no ``creation_time``), ids = pod names. With ``pods=N`` the first N of them; with
  ``at=T`` the pods alive at T (``creation_time <= T < deletion_time``), then the first N of
  those when both are given;

  * ``num_gpu`` 0: a CPU-only job (no ``gpu_options``);
  * ``num_gpu`` k >= 1: one option per GPU model (or per model of ``gpu_spec``, de-duplicated,
    in its order) with ``gpus`` k and ``throughput`` k * gpu_milli / 1000, so the
    throughput objective counts GPUs;
  * ``num_gpu`` 1 and ``gpu_milli`` below 1000: ``gpu_share_milli = gpu_milli`` (a sharing job);
  * ``cpu_milli`` and ``memory_mib`` become ``cpu_milli`` and ``host_memory_mib``; scope
    ``node`` (a pod runs on one node);
- tenants: the ``qos`` classes of the selected pods in order of first appearance (one tenant
  ``all`` when the list has no ``qos`` column); no floors or caps;
- ``options.objective = "utilization"``.

Rows the model cannot represent faithfully are **input errors**, not guesses (none occurs in
the published lists): ``gpu_milli`` 0 or above 1000 on a GPU pod (it would ask for no GPU
capacity or more than one GPU), ``gpu_milli`` below 1000 with ``num_gpu`` above 1 (a share of
each of several GPUs: a sharing job takes a share of one GPU), ``gpu_milli`` or ``gpu_spec``
on a pod without GPUs, a GPU model outside :data:`GPU_MODELS`, a node with GPUs but no model
(or a model but no GPUs), a pod deleted before it was created, duplicate ``sn`` or ``name``,
an empty ``qos``. Columns beyond the ones read (``pod_phase``, ``scheduled_time``) are
ignored. Every problem is one :class:`InputError` naming the file, ``line L, column 'c'`` and
the problem.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import InputError, shown
from ..instance.io import dump
from ..instance.schema import SCHEMA_VERSION, Instance
from ..limits import MAX_COUNT
from ..textfiles import read_text
from .validated import imported

MILLI = 1000


@dataclass(frozen=True)
class GpuModel:
    memory_gb: float
    power_w: float
    source: str

    @property
    def idle_power_w(self) -> float:
        # Assumption for all models: idle at 20% of board power (DESIGN.md: roughly 15-25%).
        return round(IDLE_FRACTION * self.power_w, 1)


IDLE_FRACTION = 0.2
UNDISCLOSED = "undisclosed internal model: assumed V100-class, 32 GB / 300 W (not published)"

# Board memory and power per model. Pods in the trace do not ask for GPU memory, so these
# values never decide a placement; they only matter for energy.
GPU_MODELS: dict[str, GpuModel] = {
    "T4": GpuModel(16.0, 70.0, "NVIDIA T4 data sheet: 16 GB GDDR6, 70 W"),
    "P100": GpuModel(16.0, 250.0, "NVIDIA Tesla P100 PCIe 16 GB data sheet: 250 W"),
    "V100M16": GpuModel(16.0, 300.0, "NVIDIA V100 SXM2 16 GB data sheet: 300 W"),
    "V100M32": GpuModel(32.0, 300.0, "NVIDIA V100 SXM2 32 GB data sheet: 300 W"),
    "A10": GpuModel(24.0, 150.0, "NVIDIA A10 data sheet: 24 GB GDDR6, 150 W"),
    "G1": GpuModel(32.0, 300.0, UNDISCLOSED),
    "G2": GpuModel(32.0, 300.0, UNDISCLOSED),
    "G3": GpuModel(32.0, 300.0, UNDISCLOSED),
}

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
SITE, POD, NO_QOS_TENANT = "site", "pod", "all"

_INTEGER = re.compile(r"[0-9]+")
_NEGATIVE = re.compile(r"-[0-9]+(\.[0-9]*)?")


@dataclass(frozen=True)
class TraceNode:
    """One row of a node list."""

    sn: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str | None  # None on a CPU-only node
    line: int


@dataclass(frozen=True)
class TracePod:
    """One row of a pod list. ``gpu_milli`` is the share of *each* of its ``num_gpu`` GPUs."""

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...] = ()        # allowed models; () = any
    qos: str | None = None
    creation_time: int | None = None
    deletion_time: int | None = None
    line: int = 0

    @property
    def cpu_only(self) -> bool:
        return self.num_gpu == 0

    @property
    def sharing(self) -> bool:
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def gpu_demand(self) -> float:
        """GPUs asked for: k whole GPUs, or the share of one."""
        return self.num_gpu * self.gpu_milli / MILLI

    def alive_at(self, time: int) -> bool:
        return self.creation_time <= time < self.deletion_time  # type: ignore[operator]


@dataclass(frozen=True)
class PodList:
    """A pod list in arrival order, and which optional columns it had."""

    source: str
    pods: tuple[TracePod, ...]
    has_qos: bool
    has_times: bool


# ---------------------------------------------------------------- public API


def read_alibaba(nodes_csv: str | Path, pods_csv: str | Path, pods: int | None = None,
                 at: int | None = None) -> Instance:
    """The instance of a node list and a pod list (mapping in the module docstring)."""
    nodes = read_nodes(nodes_csv)
    pod_list = read_pods(pods_csv)
    selected = select_pods(pod_list, count=pods, at=at)
    name = f"alibaba-{Path(pods_csv).stem.removeprefix('openb_pod_list_')}"
    if at is not None:
        name += f"-at{at}"
    if pods is not None:
        name += f"-first{pods}"
    return alibaba_instance(nodes, selected, name=name, has_qos=pod_list.has_qos,
                            source=f"{Path(nodes_csv).name} + {Path(pods_csv).name}",
                            inputs=f"{nodes_csv} + {pods_csv}")


def write_alibaba_instance(nodes_csv: str | Path, pods_csv: str | Path, dst: str | Path,
                           pods: int | None = None, at: int | None = None) -> Instance:
    """Convert a node list and a pod list into an instance file ``dst`` (JSON, or YAML by suffix).
    Nothing is written when the input is bad."""
    instance = read_alibaba(nodes_csv, pods_csv, pods=pods, at=at)
    dump(instance, dst)
    return instance


def select_pods(pod_list: PodList, count: int | None = None, at: int | None = None) -> list[TracePod]:
    """The pods alive at ``at`` (all when None), then the first ``count`` of them (all when None)."""
    if count is not None and count < 0:
        raise ValueError(f"pods must be at least 0, not {count}")
    pods: Iterable[TracePod] = pod_list.pods
    if at is not None:
        if not pod_list.has_times:
            raise InputError(pod_list.source, None,
                             "selecting pods by time needs the columns 'creation_time' and 'deletion_time'")
        pods = [pod for pod in pods if pod.alive_at(at)]
    pods = list(pods)
    return pods if count is None else pods[:count]


def alibaba_instance(nodes: list[TraceNode], pods: list[TracePod], *, name: str = "alibaba",
                     has_qos: bool = True, source: str = "Alibaba GPU trace v2023",
                     inputs: str | None = None) -> Instance:
    """The instance of parsed nodes and pods (pods in the order given); InputError naming
    ``inputs`` (default ``source``) when they cannot make a valid instance."""
    return imported(instance_data(nodes, pods, name=name, has_qos=has_qos, source=source), inputs or source)


def instance_data(nodes: list[TraceNode], pods: list[TracePod], *, name: str = "alibaba",
                  has_qos: bool = True, source: str = "Alibaba GPU trace v2023") -> dict:
    """:func:`alibaba_instance` before validation: a dict to extend (e.g. with
    ``current_placements``) and load with :func:`gpuplan.from_dict`."""
    pools = _pools(nodes)
    in_nodes = {node.model for node in nodes if node.model is not None}
    node_models = [model for model in GPU_MODELS if model in in_nodes]
    named = in_nodes.union(model for pod in pods for model in pod.gpu_spec)
    models = [model for model in GPU_MODELS if model in named]
    tenants = list(dict.fromkeys(pod.qos for pod in pods if pod.qos is not None)) if has_qos else []
    gpus = sum(node.gpus for node in nodes)
    kinds = _pod_kinds(pods)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": (
            f"Alibaba GPU trace v2023 (openb; Weng et al., USENIX ATC'23), {source}: "
            f"{len(nodes)} nodes, {gpus} GPUs, {len(pods)} pods ({kinds['whole']} whole-GPU, "
            f"{kinds['sharing']} sharing, {kinds['cpu_only']} CPU-only) in arrival order. "
            f"Imported by gpuplan.importers.alibaba."
        ),
        "gpu_types": [
            {"id": model, "memory_gb": GPU_MODELS[model].memory_gb, "power_w": GPU_MODELS[model].power_w,
             "idle_power_w": GPU_MODELS[model].idle_power_w}
            for model in models
        ],
        "sites": [{"id": SITE}],
        "pods": [{"id": POD, "site": SITE}],
        "node_pools": [
            {"id": pool, "pod": POD, "gpu_type": members[0].model, "gpus_per_node": members[0].gpus,
             "node_count": len(members), "cpu_milli_per_node": members[0].cpu_milli,
             "host_memory_mib_per_node": members[0].memory_mib}
            for pool, members in pools.items()
        ],
        "nodes": [{"id": node.sn, "pool": pool} for pool, members in pools.items() for node in members],
        "tenants": [{"id": tenant} for tenant in tenants] or [{"id": NO_QOS_TENANT}],
        "jobs": [_job(pod, node_models) for pod in pods],
        "options": {"objective": "utilization"},
    }


def pool_id(model: str | None, gpus: int, cpu_milli: int, memory_mib: int) -> str:
    """``G2x8-96c-384g``; ``cpu-32c-64g`` for a CPU-only node."""
    cpu = f"{cpu_milli // MILLI}c" if cpu_milli % MILLI == 0 else f"{cpu_milli}mc"
    memory = f"{memory_mib // 1024}g" if memory_mib % 1024 == 0 else f"{memory_mib}mib"
    head = "cpu" if model is None else f"{model}x{gpus}"
    return f"{head}-{cpu}-{memory}"


def _pools(nodes: list[TraceNode]) -> dict[str, list[TraceNode]]:
    pools: dict[str, list[TraceNode]] = {}
    for node in nodes:
        pools.setdefault(pool_id(node.model, node.gpus, node.cpu_milli, node.memory_mib), []).append(node)
    return pools


def _job(pod: TracePod, models: list[str]) -> dict:
    job: dict = {"id": pod.name, "tenant": pod.qos or NO_QOS_TENANT, "scope": "node",
                 "cpu_milli": pod.cpu_milli, "host_memory_mib": pod.memory_mib}
    if pod.cpu_only:
        return job
    job["gpu_options"] = [{"gpu_type": model, "gpus": pod.num_gpu, "throughput": pod.gpu_demand}
                          for model in (pod.gpu_spec or models)]
    if pod.sharing:
        job["gpu_share_milli"] = pod.gpu_milli
    return job


def _pod_kinds(pods: Iterable[TracePod]) -> dict[str, int]:
    kinds = {"whole": 0, "sharing": 0, "cpu_only": 0}
    for pod in pods:
        kinds["cpu_only" if pod.cpu_only else "sharing" if pod.sharing else "whole"] += 1
    return kinds


# ---------------------------------------------------------------- reading the CSV files


def read_nodes(path: str | Path) -> list[TraceNode]:
    """Parse a node list; any problem raises :class:`InputError` naming file, line and column."""
    source = str(path)
    header, rows = _read_table(path, NODE_COLUMNS)
    nodes: list[TraceNode] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        cell = _Cells(source, line, header, cells)
        sn = cell.identifier("sn")
        if sn in seen:
            raise cell.error("sn", f"duplicate node '{sn}' (first on line {seen[sn]})")
        seen[sn] = line
        cpu, memory = cell.integer("cpu_milli", minimum=1), cell.integer("memory_mib", minimum=1)
        gpus = cell.integer("gpu")
        model = cell.text("model") or None
        if model is not None and model not in GPU_MODELS:
            raise cell.error("model", f"unknown GPU model {shown(model, 20)} (known: {', '.join(GPU_MODELS)})")
        if gpus == 0 and model is not None:
            raise cell.error("model", f"model {shown(model, 20)} on a node with 0 GPUs (a CPU-only node has no model)")
        if gpus > 0 and model is None:
            raise cell.error("model", f"empty on a node with {gpus} GPUs")
        nodes.append(TraceNode(sn, cpu, memory, gpus, model, line))
    if not nodes:
        raise InputError(source, "line 2", "no nodes (a header but no rows): an instance needs at least one node")
    return nodes


def read_pods(path: str | Path) -> PodList:
    """Parse a pod list into arrival order (``creation_time``, then file order)."""
    source = str(path)
    header, rows = _read_table(path, POD_COLUMNS)
    has_qos = "qos" in header
    has_times = "creation_time" in header and "deletion_time" in header
    pods: list[TracePod] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        pod = _pod(_Cells(source, line, header, cells), has_qos, has_times)
        if pod.name in seen:
            raise InputError(source, f"line {line}, column 'name'",
                             f"duplicate pod '{pod.name}' (first on line {seen[pod.name]})")
        seen[pod.name] = line
        pods.append(pod)
    if "creation_time" in header:
        pods.sort(key=lambda pod: pod.creation_time)  # stable: file order among equal times
    return PodList(source, tuple(pods), has_qos, has_times)


def _pod(cell: "_Cells", has_qos: bool, has_times: bool) -> TracePod:
    name = cell.identifier("name")
    cpu, memory = cell.integer("cpu_milli"), cell.integer("memory_mib")
    num_gpu, gpu_milli = cell.integer("num_gpu"), cell.integer("gpu_milli")
    if num_gpu == 0 and gpu_milli != 0:
        raise cell.error("gpu_milli", f"{gpu_milli} on a pod with num_gpu 0 (a CPU-only pod asks for no GPU share)")
    if num_gpu > 0 and not 1 <= gpu_milli <= MILLI:
        raise cell.error("gpu_milli", f"{gpu_milli} on a pod with num_gpu {num_gpu} (a GPU pod needs 1..1000)")
    if num_gpu > 1 and gpu_milli < MILLI:
        raise cell.error("gpu_milli", f"{gpu_milli} with num_gpu {num_gpu}: a share of several GPUs cannot be "
                                      f"represented (a sharing job takes a share of one GPU)")
    spec = cell.gpu_spec() if "gpu_spec" in cell.header else ()
    if spec and num_gpu == 0:
        raise cell.error("gpu_spec", f"{shown(cell.text('gpu_spec'), 40)} on a pod with num_gpu 0")
    qos = cell.identifier("qos") if has_qos else None
    created = deleted = None
    if "creation_time" in cell.header:
        created = cell.integer("creation_time")
    if has_times:
        deleted = cell.integer("deletion_time")
        if deleted < created:
            raise cell.error("deletion_time", f"{deleted} is before creation_time {created}")
    return TracePod(name, cpu, memory, num_gpu, gpu_milli, spec, qos, created, deleted, cell.line)


def _read_table(path: str | Path, required: tuple[str, ...]) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Header (column -> position) and the data rows with their line numbers."""
    source = str(path)
    text = read_text(path, source)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        table = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InputError(source, None, f"malformed CSV: {exc}") from None
    if not table or not any(cell.strip() for cell in table[0][1]):
        raise InputError(source, "line 1", f"empty file (expected the header {','.join(required)})")
    header: dict[str, int] = {}
    for position, column in enumerate(table[0][1]):
        column = column.strip()
        if column in header:
            raise InputError(source, f"line 1, column {shown(column)}", "duplicate column")
        header[column] = position
    for column in required:
        if column not in header:
            raise InputError(source, f"line 1, column '{column}'",
                             f"missing (the header is {shown(','.join(table[0][1]), 120)})")
    rows = []
    for line, cells in table[1:]:
        if not cells:  # blank line
            continue
        if len(cells) != len(header):
            raise InputError(source, f"line {line}", f"expected {len(header)} fields, found {len(cells)}")
        rows.append((line, cells))
    return header, rows


class _Cells:
    """The cells of one CSV row, read by column name with errors that point at the cell."""

    def __init__(self, source: str, line: int, header: dict[str, int], cells: list[str]):
        self.source, self.line, self.header, self.cells = source, line, header, cells

    def error(self, column: str, problem: str) -> InputError:
        return InputError(self.source, f"line {self.line}, column '{column}'", problem)

    def text(self, column: str) -> str:
        return self.cells[self.header[column]].strip()

    def identifier(self, column: str) -> str:
        value = self.text(column)
        if not value:
            raise self.error(column, "empty")
        if len(value) > 200 or any(ch.isspace() for ch in value):
            raise self.error(column, f"not an identifier (no spaces, at most 200 characters): {_shown(value)}")
        return value

    def integer(self, column: str, minimum: int = 0) -> int:
        value = self.text(column)
        if not value:
            raise self.error(column, "empty")
        if _NEGATIVE.fullmatch(value):
            raise self.error(column, f"negative value {value}")
        if not (value.isascii() and _INTEGER.fullmatch(value)):
            raise self.error(column, f"not a non-negative integer: {_shown(value)}")
        if len(value.lstrip("0")) > len(str(MAX_COUNT)) or int(value) > MAX_COUNT:
            raise self.error(column, f"number too large ({len(value)} digits; at most {MAX_COUNT:,})")
        number = int(value)
        if number < minimum:
            raise self.error(column, f"{number} (must be at least {minimum})")
        return number

    def gpu_spec(self) -> tuple[str, ...]:
        value = self.text("gpu_spec")
        if not value or value.lower() == "nan":
            return ()
        models = [model.strip() for model in value.split("|")]
        for model in models:
            if model not in GPU_MODELS:
                named = shown(model, 20) if model else "an empty name"
                raise self.error("gpu_spec", f"unknown GPU model {named} in {shown(value, 40)} "
                                             f"(known: {', '.join(GPU_MODELS)})")
        return tuple(dict.fromkeys(models))


def _shown(value: str) -> str:
    return shown(value, 20)
