"""Neighbourhoods for large-neighbourhood search: groups of nodes whose variables are left
free while the rest of the solution stays fixed.

Used where nodes are modelled one by one (assign mode) and the full MIP is too large for
branch-and-bound to improve on the start: re-packing a few hundred nodes at a time, together
with every job not running yet, is a small MIP HiGHS solves in seconds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

import numpy as np
import pyomo.environ as pyo


def node_variables(built) -> dict[str, list]:
    """Per individually modelled node, the variables that describe what runs on it."""
    m = built.model
    per_node: dict[str, list] = defaultdict(list)
    for g, n in m.NODE_PACK:
        per_node[n].append(m.place[g, n])
    for n in m.SHARE_NODES:
        per_node[n].append(m.share_gpus[n])
    for n, i in m.RUNNING_SHARED_GPUS:
        per_node[n].append(m.gpu_active[n, i])
    for n, z in m.SHARED_SLOTS:
        per_node[n].append(m.slots[n, z])
    return dict(per_node)


def node_neighborhoods(built, size: int, seed: int = 0) -> Iterator[tuple[list[str], list]]:
    """Endless random groups of ``size`` nodes (and their variables), half drawn by the room
    left on them in the start solution (where a re-pack can fit more), half uniformly."""
    per_node = node_variables(built)
    nodes = sorted(per_node)
    if not nodes:
        return
    rng = np.random.default_rng(seed)
    size = min(size, len(nodes))
    weights = np.array([_room(built, n) for n in nodes], dtype=float) + 1e-3
    while True:
        roomy = rng.choice(len(nodes), size=size // 2, replace=False, p=weights / weights.sum())
        rest = rng.choice(len(nodes), size=size - size // 2, replace=False)
        chosen = sorted({nodes[i] for i in np.concatenate([roomy, rest])})
        yield chosen, [var for n in chosen for var in per_node[n]]


class ShareRepair:
    """Keeps a search's solutions real: the share rows are a relaxation of packing jobs onto
    GPU indices, so every candidate is packed exactly on the nodes that changed, and the
    sharing jobs that do not pack are taken out (their count lowered) before it is judged."""

    def __init__(self, built, column_of):
        m, idx = built.model, built.index
        self.idx = idx
        self.share: dict[str, list] = defaultdict(list)     # node -> (group, column) of sharing groups
        self.whole: dict[str, list] = defaultdict(list)     # node -> (GPUs, column) of whole-GPU use
        self.share_gpus: dict[str, int] = {}
        for g, n in m.NODE_PACK:
            column = column_of[id(m.place[g, n])]
            if idx.groups[g].sharing:
                self.share[n].append((g, column))
            else:
                self.whole[n].append((idx.node_pack[g, n], column))
        for n in m.SHARE_NODES:
            self.share_gpus[n] = column_of[id(m.share_gpus[n])]
        for n in m.WHOLE_NODES:
            self.whole[n].append((idx.nodes[n].gpus, column_of[id(m.whole[n])]))
        self.kept: dict[str, list] = defaultdict(list)      # node -> (run, keep column)
        for r in m.RUNNING:
            for n in idx.running[r].rows:
                self.kept[n].append((idx.running[r], column_of[id(m.keep[r])]))

    def __call__(self, x: np.ndarray, nodes: list[str]) -> np.ndarray:
        from .disaggregate import pack_or_drop, pinned_load

        for n in nodes:
            if not self.share.get(n):
                continue
            whole = sum(gpus * round(x[c]) for gpus, c in self.whole[n])
            kept = [run for run, c in self.kept[n] if round(x[c]) == 1]
            whole += sum(run.rows[n] for run in kept if not run.sharing)
            pinned = pinned_load([run for run in kept if run.sharing], n)
            items = [((g, k), self.idx.groups[g].share_milli, self.idx.instance_job(g).best_worth)
                     for g, c in self.share[n] for k in range(int(round(x[c])))]
            info = self.idx.nodes[n]
            packing, dropped = pack_or_drop(items, pinned, info.usable_gpus - whole, info.gpus)
            columns = dict(self.share[n])
            for g, _ in dropped:
                x[columns[g]] -= 1
            if n in self.share_gpus:
                x[self.share_gpus[n]] = len(set(packing.values()) | set(pinned))
        return x


def _room(built, node: str) -> float:
    """Free GPUs of the node in the current values (a share GPU counts as used)."""
    m, idx = built.model, built.index
    info = idx.nodes[node]
    used = sum(idx.node_pack[g, n] * (pyo.value(m.place[g, n]) or 0)
               for g, n in _pairs_on(built, node) if not idx.groups[g].sharing)
    if node in m.SHARE_NODES:
        used += pyo.value(m.share_gpus[node]) or 0
    return max(0.0, info.usable_gpus - used)


def _pairs_on(built, node: str):
    cache = built.__dict__.setdefault("_pairs_on_node", None)
    if cache is None:
        cache = defaultdict(list)
        for g, n in built.model.NODE_PACK:
            cache[n].append((g, n))
        built.__dict__["_pairs_on_node"] = cache
    return cache[node]
