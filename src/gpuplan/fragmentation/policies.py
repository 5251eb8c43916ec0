"""Online schedulers: pods placed one at a time in arrival order; a pod that fits nowhere is dropped.

Both policies look at the same candidates for a pod: every node where it fits (GPU type, CPU,
memory, GPUs) and, for a sharing pod, every GPU of that node with its share free (GPUs with
equal free shares give the same outcome, so only the first of them is kept). A whole-GPU pod
takes idle GPUs (which ones does not matter: idle GPUs are alike); a CPU-only pod takes none.

- **best-fit**: the node with the least free GPU capacity left after placing, then the least
  CPU, then the least memory, then the first node; on it, the fullest GPU that fits (a sharing
  pod).
- **FGD** (fragmentation gradient descent, Weng et al. ATC'23): the candidate whose placement
  increases the node's fragmentation F(n) for the target workload the least (see
  :mod:`.measure`); ties go to best-fit's order.

Tenant floors and caps, priorities and multi-node jobs are outside these simulators (as in the
trace's scheduler): jobs are taken in the given order, and a job needing more GPUs than any
node has is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ..index.node_grant import NodeGrant
from ..instance.schema import Instance
from .measure import Workload, node_fragmentation, stranded_gpus
from .state import MILLI, ClusterState, placement_rows

POLICIES = ("best_fit", "fgd")


@dataclass
class Candidates:
    """Ways to place one job: node, GPU (-1 unless it shares one) and the node's state after."""

    node: np.ndarray
    gpu: np.ndarray
    gpu_free: np.ndarray   # (candidates, GPUs) after placing
    cpu_free: np.ndarray
    mem_free: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


def candidates(state: ClusterState, j: int) -> Candidates:
    t = state.tasks
    nodes = np.flatnonzero(state.node_fits(j))
    free = state.gpu_free[nodes]
    need, share = t.gpus[j], t.milli[j]
    if need == 0:
        gpu, after = np.full(len(nodes), -1), free
    elif share < MILLI:
        room = free >= share
        # Of several GPUs with the same free share on one node, keep the first.
        same_before = (free[:, :, None] == free[:, None, :]) & np.tri(free.shape[1], k=-1, dtype=bool).T[None]
        room &= ~same_before.any(axis=1)
        pick, gpu = np.nonzero(room)
        nodes = nodes[pick]
        after = free[pick]
        after[np.arange(len(gpu)), gpu] -= share
    else:
        idle = free == MILLI
        taken = idle & (np.cumsum(idle, axis=1) <= need)
        gpu, after = np.full(len(nodes), -1), free - taken * MILLI
    return Candidates(nodes, gpu, after, state.cpu_free[nodes] - t.cpu[j], state.mem_free[nodes] - t.mem[j])


def best_fit_order(c: Candidates) -> np.ndarray:
    """Candidate indices sorted best first by best-fit's keys."""
    gpu_left = c.gpu_free.sum(axis=1)
    chosen_left = np.where(c.gpu >= 0, c.gpu_free[np.arange(len(c)), np.maximum(c.gpu, 0)], 0)
    # np.lexsort sorts by the last key first
    return np.lexsort((c.gpu, chosen_left, c.node, c.mem_free, c.cpu_free, gpu_left))


@dataclass
class Simulation:
    """What an online policy did: every row (the starting placements, then its own), the jobs
    it placed and dropped in order, and the time spent deciding."""

    policy: str
    rows: list[NodeGrant]
    placed: list[str]
    dropped: list[str]
    decision_seconds: float
    state: ClusterState
    workload: Workload | None = None
    decision_times: np.ndarray | None = None   # seconds, one per job taken in order

    @property
    def decisions(self) -> int:
        return len(self.placed) + len(self.dropped)

    @property
    def seconds_per_decision(self) -> float:
        return self.decision_seconds / self.decisions if self.decisions else 0.0

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame: job, node, gpus, gpu_index (nullable integer)."""
        frame = pd.DataFrame(self.rows, columns=list(NodeGrant._fields))
        frame["gpu_index"] = frame["gpu_index"].astype("Int64")
        return frame

    def stranded_gpus(self, workload: Workload | None = None) -> float:
        """FGD fragmentation of the final state, in GPUs (default workload: the simulation's, or
        all GPU jobs of the instance)."""
        return stranded_gpus(self.state, workload if workload is not None else self.workload)


def simulate(instance: Instance, policy: str = "fgd", *, workload: Workload | None = None, placements=None,
             order: Iterable[str] | None = None) -> Simulation:
    """Place the jobs of ``instance`` one at a time with ``policy`` (``best_fit`` or ``fgd``).

    ``placements``: rows already in place (default: the instance's current placements).
    ``order``: job ids to place (default: the instance's jobs in file order, except those with
    a starting row). ``workload``: FGD's target workload, also kept for
    :meth:`Simulation.stranded_gpus` (default: all GPU jobs of the instance).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy '{policy}' (known: {', '.join(POLICIES)})")
    start_rows = placement_rows(instance.current_placements if placements is None else placements)
    state = ClusterState.from_instance(instance, start_rows)
    if order is None:
        started = {row.job for row in start_rows}
        order = [job_id for job_id in state.tasks.ids if job_id not in started]
    if policy == "fgd" and workload is None:
        workload = Workload.from_state(state)
    choose = _best_fit_choice if policy == "best_fit" else _FgdChoice(state, workload)
    rows, placed, dropped, times = list(start_rows), [], [], []
    clock = time.perf_counter
    for job_id in order:
        began = clock()
        j = state.tasks.index[job_id]
        c = candidates(state, j)
        if len(c) == 0:
            dropped.append(job_id)
        else:
            k = choose(state, c)
            n, g = int(c.node[k]), int(c.gpu[k])
            rows.append(state.place(j, n, g if g >= 0 else None))
            placed.append(job_id)
            if isinstance(choose, _FgdChoice):
                choose.update(state, n)
        times.append(clock() - began)
    return Simulation(policy, rows, placed, dropped, float(sum(times)), state, workload, np.array(times))


def best_fit(instance: Instance, **kwargs) -> Simulation:
    """:func:`simulate` with the best-fit policy."""
    return simulate(instance, "best_fit", **kwargs)


def fgd(instance: Instance, **kwargs) -> Simulation:
    """:func:`simulate` with the FGD policy."""
    return simulate(instance, "fgd", **kwargs)


def _best_fit_choice(state: ClusterState, c: Candidates) -> int:
    return int(best_fit_order(c)[0])


class _FgdChoice:
    """FGD's choice, with every node's current F(n) cached (only the changed node is redone)."""

    def __init__(self, state: ClusterState, workload: Workload):
        self.workload = workload
        self.current = node_fragmentation(workload, state.node_type, state.cpu_free, state.mem_free, state.gpu_free)

    def __call__(self, state: ClusterState, c: Candidates) -> int:
        after = node_fragmentation(self.workload, state.node_type[c.node], c.cpu_free, c.mem_free, c.gpu_free)
        # Rounded so that float noise in equal increases does not override the tie-break.
        increase = np.round(after - self.current[c.node], 6)
        order = best_fit_order(c)
        return int(order[np.argmin(increase[order])])  # argmin takes the first minimum

    def update(self, state: ClusterState, n: int) -> None:
        self.current[n] = node_fragmentation(self.workload, state.node_type[n:n + 1], state.cpu_free[n:n + 1],
                                             state.mem_free[n:n + 1], state.gpu_free[n:n + 1])[0]

