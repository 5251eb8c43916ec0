"""From counts to concrete nodes.

The model decides counts (whole nodes per pool or site class, pattern nodes per class, slots
on shared nodes, members of job groups per class); this step names the nodes. It cannot fail
on a solution that satisfies the model: pools, site classes and classes are nested, and each
level's supply row holds, so handing out nodes from the innermost level outwards always finds
distinct free nodes (``pool_nodes_max``, ``site_nodes_max``, ``class_nodes_max``), and every
sub-node job finds a place (``class_slots_max``, ``node_gpus_max``). Ordering choices only make
the result nicer: migrated jobs avoid their old nodes where they can, and sub-node jobs fill
shared and partly packed nodes first.
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
    supply = {k: _whole_node_supply(m, pool, kept) for k, pool in idx.pools.items()}
    by_level = defaultdict(list)
    for j, u in m.SPAN:
        count = _count(m.span_nodes[j, u])
        if count:
            by_level[idx.units[u].level].append((j, u, count))
    for level in ("pool", "site"):                      # innermost first
        for j, u, count in by_level[level]:
            rows.extend(_take_whole_nodes(idx, j, idx.units[u], count, supply))
    pairs_of_class = defaultdict(list)
    for pair in idx.pack:
        pairs_of_class[pair.gpu_class].append(pair)
    for gpu_class in idx.classes.values():
        pattern_nodes = _pattern_nodes(m, gpu_class, supply)
        rows.extend(_packed_rows(m, idx, gpu_class, pairs_of_class[gpu_class.id], pattern_nodes))
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


def _take_whole_nodes(idx, job: str, unit, count: int, supply: dict[str, list[str]]) -> list[Row]:
    available = [n for k in unit.pools for n in supply[k]]
    old = _old_nodes(idx, job)
    chosen = [n for n in available if n not in old][:count]
    chosen += [n for n in available if n in old][: count - len(chosen)]
    if len(chosen) < count:
        raise RuntimeError(f"disaggregation: unit '{unit.id}' has too few whole nodes for job '{job}'")
    for n in chosen:
        supply[idx.nodes[n].pool].remove(n)
    return [(job, n, unit.gpus_per_node) for n in chosen]


def _pattern_nodes(m, gpu_class, supply) -> list[tuple[str, tuple[int, ...]]]:
    """Give every pattern count its own node from what whole-node jobs left in the class."""
    if gpu_class.mode != "patterns":
        return []
    available = [n for k in gpu_class.pools for n in supply[k]]
    assigned = []
    for q, pattern in enumerate(gpu_class.patterns):
        for _ in range(_count(m.patterns[gpu_class.id, q])):
            assigned.append((available.pop(0), pattern))
    return assigned


def _packed_rows(m, idx, gpu_class, pairs, pattern_nodes) -> list[Row]:
    if gpu_class.mode == "knapsack":  # one node holds every job of the class
        node = gpu_class.shared[0]
        return [(job, node, pair.size) for pair in pairs for job in _members_in_class(m, idx, pair)]
    places: dict[int, list[str]] = defaultdict(list)  # size -> nodes, one entry per place
    for n in gpu_class.shared:
        for z in gpu_class.sizes:
            if (n, z) in m.SHARED_SLOTS:
                places[z].extend([n] * _count(m.slots[n, z]))
    for node, pattern in pattern_nodes:
        for z, count in zip(gpu_class.sizes, pattern):
            places[z].extend([node] * count)
    rows = []
    for pair in pairs:
        for job in _members_in_class(m, idx, pair):
            slots = places[pair.size]
            old = _old_nodes(idx, job)
            pick = next((i for i, n in enumerate(slots) if n not in old), 0)
            rows.append((job, slots.pop(pick), pair.size))
    return rows


def _members_in_class(m, idx, pair) -> list[str]:
    """The members of the pair's group that run in its class: the group's members are handed
    to its classes in the order of the group's pairs."""
    group = idx.groups[pair.group]
    start = 0
    for other in idx.pack_by_group[pair.group]:
        count = _count(m.assign[other.group, other.gpu_class])
        if other.gpu_class == pair.gpu_class:
            return group.jobs[start:start + count]
        start += count
    return []
