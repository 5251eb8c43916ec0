"""A GPU-level cluster state: per node free CPU and memory, per GPU free thousandths.

Unlike the MILP, which never looks at single GPUs, the simulators of this package follow the
trace's scheduler one pod at a time, so they keep every GPU: ``gpu_free[n, g]`` is the free
share of GPU ``g`` of node ``n`` in thousandths (1000 = idle, 0 = taken; GPUs a node does not
have, and reserved GPUs, are 0). Jobs are read from an instance into :class:`Tasks`: a job
needs ``gpus`` GPUs with ``milli`` thousandths free on each (1000 for whole GPUs, its share for
a sharing job, 0 GPUs for a CPU-only job), CPU and host memory on its node, and a node whose
GPU type it allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from ..index.node_grant import NodeGrant
from ..instance.nodes import node_infos
from ..instance.schema import Instance, Job

MILLI = 1000
UNLIMITED = np.int64(2**62)  # CPU / memory of a node without a limit


@dataclass
class Tasks:
    """Per-job requirements as arrays (one entry per job of the instance, in its order)."""

    ids: list[str]
    cpu: np.ndarray        # int64, thousandths of a core
    mem: np.ndarray        # int64, MiB
    gpus: np.ndarray       # int64: whole GPUs; 1 for a sharing job; 0 for a CPU-only job
    milli: np.ndarray      # int64: thousandths needed free on each of those GPUs
    allowed: np.ndarray    # bool (jobs, types + 1): node types the job may use; last = CPU-only node
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.index = {job_id: j for j, job_id in enumerate(self.ids)}

    @classmethod
    def from_jobs(cls, jobs: list[Job], gpu_types: list[str], memory_gb: dict[str, float]) -> "Tasks":
        type_index = {t: i for i, t in enumerate(gpu_types)}
        allowed = np.zeros((len(jobs), len(gpu_types) + 1), dtype=bool)
        gpus = np.zeros(len(jobs), dtype=np.int64)
        milli = np.zeros(len(jobs), dtype=np.int64)
        for j, job in enumerate(jobs):
            if job.cpu_only:
                allowed[j, :] = True
                continue
            counts = {job.gpus_on(option.gpu_type) for option in job.gpu_options}
            if len(counts) != 1:
                raise ValueError(f"job '{job.id}' needs different GPU counts on different types "
                                 f"({sorted(counts)}); the GPU-level simulators need one count")
            gpus[j] = counts.pop()
            milli[j] = job.gpu_share_milli if job.fractional else MILLI
            for option in job.gpu_options:
                if memory_gb[option.gpu_type] >= job.gpu_memory_gb:
                    allowed[j, type_index[option.gpu_type]] = True
        return cls(
            ids=[job.id for job in jobs],
            cpu=np.array([job.cpu_milli for job in jobs], dtype=np.int64),
            mem=np.array([job.host_memory_mib for job in jobs], dtype=np.int64),
            gpus=gpus, milli=milli, allowed=allowed,
        )


class ClusterState:
    """Free CPU, memory and per-GPU shares of every node (numpy arrays, node order of the
    instance), and the jobs' requirements. :meth:`place` changes it in place; :meth:`copy`."""

    def __init__(self, node_ids: list[str], gpu_types: list[str], node_type: np.ndarray, gpu_count: np.ndarray,
                 cpu_free: np.ndarray, mem_free: np.ndarray, gpu_free: np.ndarray, tasks: Tasks):
        self.node_ids = node_ids
        self.gpu_types = gpu_types           # node_type == len(gpu_types): a CPU-only node
        self.node_type = node_type
        self.gpu_count = gpu_count
        self.cpu_free = cpu_free
        self.mem_free = mem_free
        self.gpu_free = gpu_free             # int64 (nodes, max GPUs per node)
        self.tasks = tasks
        self.node_index = {node_id: n for n, node_id in enumerate(node_ids)}

    @classmethod
    def from_instance(cls, instance: Instance, placements=None) -> "ClusterState":
        """The cluster of ``instance`` with ``placements`` (rows ``(job, node, gpus[, gpu_index])``,
        dicts or a DataFrame; default: the instance's ``current_placements``) applied: sharing
        rows on their GPU index, whole-GPU rows on the lowest-indexed idle GPUs."""
        infos = node_infos(instance)
        gpu_types = [gpu.id for gpu in instance.gpu_types]
        type_index = {t: i for i, t in enumerate(gpu_types)}
        width = max([info.gpus for info in infos] + [1])
        gpu_count = np.array([info.gpus for info in infos], dtype=np.int64)
        gpu_free = np.where(np.arange(width)[None, :] < gpu_count[:, None], MILLI, 0).astype(np.int64)
        for n, info in enumerate(infos):
            gpu_free[n, :info.reserved_gpus] = 0
        tasks = Tasks.from_jobs(instance.jobs, gpu_types, {gpu.id: gpu.memory_gb for gpu in instance.gpu_types})
        state = cls(
            node_ids=[info.id for info in infos],
            gpu_types=gpu_types,
            node_type=np.array([type_index.get(info.gpu_type, len(gpu_types)) for info in infos], dtype=np.int64),
            gpu_count=gpu_count,
            cpu_free=np.array([UNLIMITED if info.cpu_milli is None else info.cpu_milli for info in infos], dtype=np.int64),
            mem_free=np.array([UNLIMITED if info.host_memory_mib is None else info.host_memory_mib for info in infos],
                              dtype=np.int64),
            gpu_free=gpu_free,
            tasks=tasks,
        )
        rows = instance.current_placements if placements is None else placements
        state.apply_rows(placement_rows(rows))
        return state

    # ------------------------------------------------------------ queries

    def node_fits(self, j: int) -> np.ndarray:
        """Nodes where job ``j`` fits: type allowed, CPU, memory and enough GPUs with its share free."""
        t = self.tasks
        ok = t.allowed[j, self.node_type] & (self.cpu_free >= t.cpu[j]) & (self.mem_free >= t.mem[j])
        if t.gpus[j] > 0:
            ok &= (self.gpu_free >= t.milli[j]).sum(axis=1) >= t.gpus[j]
        return ok

    def free_gpus(self) -> float:
        """Free GPU capacity of the whole cluster, in GPUs."""
        return float(self.gpu_free.sum()) / MILLI

    # ------------------------------------------------------------ changes

    def place(self, j: int, n: int, g: int | None = None) -> NodeGrant:
        """Put job ``j`` on node ``n`` (on GPU ``g`` if it shares one) and return its row."""
        t = self.tasks
        self.cpu_free[n] -= t.cpu[j]
        self.mem_free[n] -= t.mem[j]
        job_id, node_id = t.ids[j], self.node_ids[n]
        if t.gpus[j] == 0:
            return NodeGrant(job_id, node_id, 0)
        if t.milli[j] < MILLI:
            self.gpu_free[n, g] -= t.milli[j]
            return NodeGrant(job_id, node_id, 1, int(g))
        idle = np.flatnonzero(self.gpu_free[n] == MILLI)[: t.gpus[j]]
        self.gpu_free[n, idle] = 0
        return NodeGrant(job_id, node_id, int(t.gpus[j]))

    def apply_rows(self, rows: Iterable[NodeGrant]) -> None:
        """Apply placement rows, checking that they fit (ValueError names the row otherwise)."""
        rows = list(rows)
        t = self.tasks
        # Sharing rows first: they name their GPU; whole-GPU rows then take idle GPUs.
        for row in sorted(rows, key=lambda r: r.gpu_index is None):
            j, n = t.index.get(row.job), self.node_index.get(row.node)
            if j is None or n is None:
                raise ValueError(f"placement {tuple(row)}: unknown {'job' if j is None else 'node'}")
            problem = self._row_problem(j, n, row)
            if problem:
                raise ValueError(f"placement {tuple(row)}: {problem}")
            self.place(j, n, row.gpu_index)

    def _row_problem(self, j: int, n: int, row: NodeGrant) -> str | None:
        t = self.tasks
        if not t.allowed[j, self.node_type[n]]:
            return "the job may not use this node's GPU type"
        if self.cpu_free[n] < t.cpu[j] or self.mem_free[n] < t.mem[j]:
            return "not enough free CPU or memory on the node"
        if row.gpus != t.gpus[j]:
            return f"the job needs {t.gpus[j]} GPU(s) on one node"
        if t.gpus[j] == 0:
            return None if row.gpu_index is None else "a CPU-only job has no gpu_index"
        if t.milli[j] < MILLI:
            g = row.gpu_index
            if g is None or not 0 <= g < self.gpu_count[n]:
                return "a sharing job needs a gpu_index of the node"
            return None if self.gpu_free[n, g] >= t.milli[j] else f"GPU {g} has only {self.gpu_free[n, g]} milli free"
        if row.gpu_index is not None:
            return "a whole-GPU job has no gpu_index"
        idle = int((self.gpu_free[n] == MILLI).sum())
        return None if idle >= t.gpus[j] else f"only {idle} idle GPU(s) on the node"


def placement_rows(placements) -> list[NodeGrant]:
    """Rows from tuples, dicts, CurrentPlacement records or a DataFrame (``gpu_index`` optional)."""
    if placements is None:
        return []
    if isinstance(placements, pd.DataFrame):
        frame = placements
        index = frame["gpu_index"] if "gpu_index" in frame else pd.Series([None] * len(frame), index=frame.index)
        return [NodeGrant(job, node, int(gpus), None if pd.isna(g) else int(g))
                for job, node, gpus, g in zip(frame["job"], frame["node"], frame["gpus"], index)]
    rows = []
    for row in placements:
        if isinstance(row, dict):
            rows.append(NodeGrant(row["job"], row["node"], int(row["gpus"]), _index(row.get("gpu_index"))))
        elif hasattr(row, "job") and hasattr(row, "node"):
            rows.append(NodeGrant(row.job, row.node, int(row.gpus), _index(getattr(row, "gpu_index", None))))
        else:
            job, node, gpus, *rest = row
            rows.append(NodeGrant(job, node, int(gpus), _index(rest[0] if rest else None)))
    return rows


def _index(value) -> int | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else int(value)
