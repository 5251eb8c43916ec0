"""From pooled counts to concrete nodes.

The model decides counts per pool (whole nodes, pattern nodes, slots on shared nodes); this
step names the nodes. It cannot fail on a solution that satisfies the model: every count is
backed by distinct free nodes or slots (``pool_nodes_max``, ``node_gpus_max``,
``pool_slots_max``). Ordering choices only make the result nicer: migrated jobs avoid their
old nodes where they can, and sub-node jobs fill shared and partly packed nodes first.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

Row = tuple[str, str, int]  # (job, node, GPUs)


def _count(var) -> int:
    return int(round(pyo.value(var, exception=False) or 0))


def solution_rows(built) -> list[Row]:
    m, idx = built.model, built.index
    kept = {r for r in m.RUNNING if _count(m.keep[r]) == 1}
    rows: list[Row] = [(r, node, gpus) for r in sorted(kept) for node, gpus in idx.running[r].rows.items()]
    for pool in idx.pools.values():
        supply = _whole_node_supply(m, pool, kept)
        rows.extend(_spanning_rows(m, idx, pool, supply))
        pattern_nodes = _pattern_nodes(m, pool, supply)
        rows.extend(_packed_rows(m, idx, pool, pattern_nodes))
    return rows


def _whole_node_supply(m, pool, kept: set[str]) -> list[str]:
    supply = list(pool.free)
    for r, nodes in pool.held.items():
        if r not in kept:
            supply.extend(nodes)
    supply.extend(n for n in pool.shared if n in m.WHOLE_NODES and _count(m.whole[n]) == 1)
    return supply


def _old_nodes(idx, job: str) -> set[str]:
    run = idx.running.get(job)
    return set(run.rows) if run else set()


def _spanning_rows(m, idx, pool, supply: list[str]) -> list[Row]:
    rows = []
    for j, k in m.SPAN:
        if k != pool.id:
            continue
        count = _count(m.span_nodes[j, k])
        if count == 0:
            continue
        old = _old_nodes(idx, j)
        chosen = [n for n in supply if n not in old][:count]
        chosen += [n for n in supply if n in old][: count - len(chosen)]
        for n in chosen:
            supply.remove(n)
            rows.append((j, n, pool.gpus_per_node))
    return rows


def _pattern_nodes(m, pool, supply: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Give every pattern count its own nodes from what whole-node jobs left."""
    assigned = []
    if pool.mode != "patterns":
        return assigned
    for q, pattern in enumerate(pool.patterns):
        for _ in range(_count(m.patterns[pool.id, q])):
            assigned.append((supply.pop(0), pattern))
    return assigned


def _packed_rows(m, idx, pool, pattern_nodes) -> list[Row]:
    slots: dict[int, list[str]] = defaultdict(list)  # size -> nodes, one entry per place
    for n in pool.shared:
        for z in pool.sizes:
            if (n, z) in m.SHARED_SLOTS:
                slots[z].extend([n] * _count(m.slots[n, z]))
    for node, pattern in pattern_nodes:
        for z, count in zip(pool.sizes, pattern):
            slots[z].extend([node] * count)
    rows = []
    for j, k in m.PACK:
        if k != pool.id or _count(m.assign[j, k]) == 0:
            continue
        size = _pack_size(idx, j, k)
        places = slots[size]
        old = _old_nodes(idx, j)
        pick = next((i for i, n in enumerate(places) if n not in old), 0)
        rows.append((j, places.pop(pick), size))
    return rows


def _pack_size(idx, job: str, pool: str) -> int:
    return idx.instance_job(job).gpus_on(idx.pools[pool].gpu_type)
