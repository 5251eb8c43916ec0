"""FGD fragmentation (Weng et al., USENIX ATC'23, "Beware of Fragmentation"), from the paper's text.

For a node n and a task type m (CPU, memory, GPU count k_m, share d_m needed on each GPU,
allowed GPU types):

- if m cannot run on n at all (GPU type, CPU, memory, or fewer than k_m GPUs with d_m free),
  every free GPU share of n is fragmented for m: f(n, m) = sum_g free_g;
- otherwise the GPUs whose free share is below d_m are: f(n, m) = sum_g free_g [free_g < d_m].

A node's fragmentation is the expectation over the target workload: F(n) = sum_m p_m f(n, m),
with p_m the popularity of task type m. The cluster's fragmentation (the "stranded GPUs") is
sum_n F(n). Both are in thousandths of a GPU internally, in GPUs at the API.

Written as F(n) = T_n - sum_m p_m fit(n, m) S_n(d_m), with T_n the node's free capacity and
S_n(d) the free capacity of its GPUs with at least d free, the sums over task types become a
few array operations over (nodes x types): one level d per distinct share in the workload.

The target workload leaves out CPU-only pods by default: a task that asks for no GPU fits
wherever its CPU and memory fit and then strands nothing under the rule above, and where it
does not fit it strands the node's whole free capacity — which mostly measures CPU exhaustion,
not GPU fragmentation. ``include_cpu_only=True`` keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .state import MILLI, ClusterState, Tasks


@dataclass
class Workload:
    """Task types (distinct requirement tuples) and their popularity, summing to 1."""

    cpu: np.ndarray        # int64 (types,)
    mem: np.ndarray
    gpus: np.ndarray
    milli: np.ndarray
    allowed: np.ndarray    # bool (types, node types + 1)
    popularity: np.ndarray  # float (types,)
    levels: np.ndarray = None    # distinct per-GPU shares d, ascending

    def __post_init__(self):
        # Types sorted by share, so that sums per level are contiguous (np.add.reduceat).
        order = np.argsort(self.milli, kind="stable")
        for name in ("cpu", "mem", "gpus", "milli", "allowed", "popularity"):
            setattr(self, name, getattr(self, name)[order])
        self.levels = np.unique(self.milli)
        self.level_values = self.levels.astype(np.float32)
        self.level_starts = np.flatnonzero(np.r_[True, np.diff(self.milli) != 0])
        self.weight_by_node_type = (self.allowed * self.popularity[:, None]).T.copy()  # (node types, types)
        self.kth = np.maximum(self.gpus - 1, 0)
        self.need = np.where(self.gpus > 0, self.milli, 0).astype(np.float32)
        # F(n) sees CPU and memory only through "free >= some type's need": the thresholds.
        self.cpu_levels = np.unique(self.cpu)
        self.mem_levels = np.unique(self.mem)

    def __len__(self) -> int:
        return len(self.popularity)

    @classmethod
    def from_tasks(cls, tasks: Tasks, jobs: np.ndarray | None = None, include_cpu_only: bool = False) -> "Workload":
        """The popularity of each distinct task type among ``jobs`` (indices; default all)."""
        jobs = np.arange(len(tasks.ids)) if jobs is None else np.asarray(jobs)
        if not include_cpu_only:
            jobs = jobs[tasks.gpus[jobs] > 0]
        if len(jobs) == 0:
            raise ValueError("the target workload has no task (no GPU job to measure fragmentation against)")
        table = np.column_stack([tasks.cpu[jobs], tasks.mem[jobs], tasks.gpus[jobs], tasks.milli[jobs],
                                 tasks.allowed[jobs].astype(np.int64)])
        types, counts = np.unique(table, axis=0, return_counts=True)
        return cls(cpu=types[:, 0], mem=types[:, 1], gpus=types[:, 2], milli=types[:, 3],
                   allowed=types[:, 4:].astype(bool), popularity=counts / counts.sum())

    @classmethod
    def from_state(cls, state: ClusterState, include_cpu_only: bool = False) -> "Workload":
        """The task-type popularity of all the jobs of the state's instance."""
        return cls.from_tasks(state.tasks, include_cpu_only=include_cpu_only)


DISTINCT_FROM = 64   # rows from which equal node states are evaluated once


def node_fragmentation(workload: Workload, node_type: np.ndarray, cpu_free: np.ndarray, mem_free: np.ndarray,
                       gpu_free: np.ndarray) -> np.ndarray:
    """F(n) in thousandths of a GPU for each row (node state) of the arrays.

    Many rows are the same state for F (idle nodes of one type; the candidates of one pod):
    F depends on the GPU type, the multiset of free shares and, for CPU and memory, only on
    which of the workload's needs they meet. Such rows are evaluated once; each row's arithmetic
    does not depend on the others, so the values are the same as row by row."""
    if len(node_type) < DISTINCT_FROM:
        return _node_fragmentation(workload, node_type, cpu_free, mem_free, gpu_free)
    shares = -np.sort(-gpu_free, axis=1)
    key = np.column_stack([node_type, np.searchsorted(workload.cpu_levels, cpu_free, side="right"),
                           np.searchsorted(workload.mem_levels, mem_free, side="right"), shares])
    first, inverse = _distinct_rows(key)
    distinct = _node_fragmentation(workload, node_type[first], cpu_free[first], mem_free[first], shares[first])
    return distinct[inverse]


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row index per distinct row of ``key`` and, per row, the position of its own in that
    list (np.unique(axis=0) does this too, but through a far slower sort of row bytes)."""
    order = np.lexsort(key.T[::-1])
    ranked = key[order]
    starts = np.r_[True, (ranked[1:] != ranked[:-1]).any(axis=1)]
    inverse = np.empty(len(key), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse


def _node_fragmentation(workload: Workload, node_type: np.ndarray, cpu_free: np.ndarray, mem_free: np.ndarray,
                        gpu_free: np.ndarray) -> np.ndarray:
    free = gpu_free.astype(np.float32)       # shares up to 1000: exact
    if workload.kth.max(initial=0) >= free.shape[1]:   # a type needs more GPUs than any node has
        free = np.pad(free, ((0, 0), (0, workload.kth.max() + 1 - free.shape[1])))
    # S_n(d) for every level d: the free capacity of the GPUs with at least d free.
    at_level = (free[:, None, :] >= workload.level_values[None, :, None]).astype(np.float32)
    usable = np.matmul(at_level, free[:, :, None])[:, :, 0].astype(np.float64)     # (nodes, levels)
    # m fits if its k-th fullest-free GPU has d_m free (k = 0: d_m = 0, always true), and CPU and memory fit.
    by_free = -np.sort(-free, axis=1)
    fit = (by_free[:, workload.kth] >= workload.need) \
        & (cpu_free[:, None] >= workload.cpu) & (mem_free[:, None] >= workload.mem)
    # sum_m p_m fit(n, m) S_n(d_m) (0 where the node's GPU type is not allowed), grouped by level.
    weight = np.add.reduceat(fit * workload.weight_by_node_type[node_type], workload.level_starts, axis=1)
    return free.sum(axis=1, dtype=np.float64) - (weight * usable).sum(axis=1)


def state_fragmentation(state: ClusterState, workload: Workload) -> np.ndarray:
    """F(n) of every node of ``state``, in thousandths of a GPU."""
    return node_fragmentation(workload, state.node_type, state.cpu_free, state.mem_free, state.gpu_free)


def stranded_gpus(state: ClusterState, workload: Workload | None = None) -> float:
    """The cluster's FGD fragmentation sum_n F(n), in GPUs: the free GPU capacity that the
    target workload (default: all GPU jobs of the state's instance) is expected not to use."""
    workload = workload if workload is not None else Workload.from_state(state)
    return float(state_fragmentation(state, workload).sum()) / MILLI
