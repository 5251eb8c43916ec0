"""From counts to concrete nodes.

The model decides counts (whole nodes per pool or site class, pattern nodes per class, slots
on shared nodes, jobs of a group per class or per node); this step names the nodes. It cannot
fail on a solution that satisfies the model: pools, site classes and classes are nested, and
each level's supply row holds, so handing out nodes from the innermost level outwards always
finds distinct free nodes (``pool_nodes_max``, ``site_nodes_max``, ``class_nodes_max``), and
every sub-node job finds a place (``class_slots_max``, ``node_gpus_max``).

One step is checked rather than guaranteed: jobs sharing GPUs are packed onto GPU indices
exactly (a small bin packing per node). The model's share rows are a relaxation of that
packing; when a node's packing fails, the least valuable sharing jobs of that node are
dropped and reported, so the result stays valid and its bound stays proven.

Ordering choices only make the result nicer: migrated jobs avoid their old nodes where they
can, and sub-node jobs fill shared and partly packed nodes first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyomo.environ as pyo

from ...instance.fields import MILLI_PER_GPU
from ...index.node_grant import NodeGrant, current_rows

SHARE = MILLI_PER_GPU


@dataclass
class Disaggregation:
    rows: list[NodeGrant]
    dropped: list[str] = field(default_factory=list)   # sharing jobs whose GPU packing failed


def _count(var) -> int:
    return int(round(pyo.value(var, exception=False) or 0))


def solution_rows(built) -> Disaggregation:
    m, idx = built.model, built.index
    kept = {r for r in m.RUNNING if _count(m.keep[r]) == 1}
    result = Disaggregation([row for r in sorted(kept) for row in current_rows(idx.running[r])])
    supply = {k: _whole_node_supply(m, pool, kept) for k, pool in idx.pools.items()}
    by_level = defaultdict(list)
    for j, u in m.SPAN:
        count = _count(m.span_nodes[j, u])
        if count:
            by_level[idx.units[u].level].append((j, u, count))
    for level in ("pool", "site"):                      # innermost first
        for j, u, count in by_level[level]:
            result.rows.extend(_take_whole_nodes(idx, j, idx.units[u], count, supply))
    members = _members(m, idx)
    pairs_of_class = defaultdict(list)
    for pair in idx.pack:
        pairs_of_class[pair.gpu_class].append(pair)
    for gpu_class in idx.classes.values():
        if gpu_class.mode == "assign":
            continue
        pattern_nodes = _pattern_nodes(m, gpu_class, supply)
        result.rows.extend(_packed_rows(m, idx, gpu_class, pairs_of_class[gpu_class.id], pattern_nodes, members))
    _assigned_rows(m, idx, members, kept, result)
    return result


def _whole_node_supply(m, pool, kept: set[str]) -> list[str]:
    supply = pool.free_or_released(kept)
    supply.extend(n for n in pool.shared if n in m.WHOLE_NODES and _count(m.whole[n]) == 1)
    return supply


def _old_nodes(idx, job: str) -> set[str]:
    run = idx.running.get(job)
    return set(run.rows) if run else set()


def _take_whole_nodes(idx, job: str, unit, count: int, supply: dict[str, list[str]]) -> list[NodeGrant]:
    available = [n for k in unit.pools for n in supply[k]]
    old = _old_nodes(idx, job)
    chosen = [n for n in available if n not in old][:count]
    chosen += [n for n in available if n in old][: count - len(chosen)]
    if len(chosen) < count:
        raise RuntimeError(f"disaggregation: unit '{unit.id}' has too few whole nodes for job '{job}'")
    for n in chosen:
        supply[idx.nodes[n].pool].remove(n)
    return [NodeGrant(job, n, unit.gpus_per_node) for n in chosen]


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


def _members(m, idx) -> dict[tuple, list[str]]:
    """Which members of each group run where: (group, class) or (group, node) -> jobs. A
    group's members are handed out in the order of its class pairs, then its node pairs."""
    counts = defaultdict(list)
    for g, c in m.PACK:
        counts[g].append(((g, c), _count(m.assign[g, c])))
    for g, n in m.NODE_PACK:
        counts[g].append(((g, n), _count(m.place[g, n])))
    members = {}
    for g, parts in counts.items():
        start = 0
        for key, count in parts:
            members[key] = idx.groups[g].jobs[start:start + count]
            start += count
    return members


def _packed_rows(m, idx, gpu_class, pairs, pattern_nodes, members) -> list[NodeGrant]:
    if gpu_class.mode == "knapsack":  # one node holds every job of the class
        node = gpu_class.shared[0]
        return [NodeGrant(job, node, pair.size) for pair in pairs for job in members.get((pair.group, gpu_class.id), [])]
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
        for job in members.get((pair.group, gpu_class.id), []):
            slots = places[pair.size]
            old = _old_nodes(idx, job)
            pick = next((i for i, n in enumerate(slots) if n not in old), 0)
            rows.append(NodeGrant(job, slots.pop(pick), pair.size))
    return rows


# ---------------------------------------------------------------- assign mode: jobs per node


def _assigned_rows(m, idx, members, kept: set[str], result: Disaggregation) -> None:
    sharing_on: dict[str, list[str]] = defaultdict(list)
    for g, n in m.NODE_PACK:
        group = idx.groups[g]
        for job in members.get((g, n), []):
            if group.sharing:
                sharing_on[n].append(job)
            else:
                result.rows.append(NodeGrant(job, n, idx.node_pack[g, n]))
    whole_held = defaultdict(int)
    for row in result.rows:
        if row.gpu_index is None:
            whole_held[row.node] += row.gpus
    sharing_kept = defaultdict(list)                 # node -> kept running jobs sharing a GPU there
    for r in kept:
        for n in idx.running[r].gpu_index:
            sharing_kept[n].append(idx.running[r])
    for n, jobs in sharing_on.items():
        limit = idx.nodes[n].usable_gpus - whole_held[n]
        placed, dropped = pack_shares(idx, n, jobs, pinned_load(sharing_kept[n], n), limit)
        result.rows.extend(placed)
        result.dropped.extend(dropped)


def pinned_load(runs, node: str) -> dict[int, int]:
    """GPU index -> milli that the kept running jobs ``runs`` sharing GPUs of ``node`` hold there:
    what a packing of new sharing jobs must leave in place."""
    load: dict[int, int] = {}
    for run in runs:
        index = run.gpu_index[node]
        load[index] = load.get(index, 0) + run.share_milli
    return load


def pack_shares(idx, node: str, jobs: list[str], pinned: dict[int, int], limit: int):
    """Put sharing jobs on GPU indices of ``node`` (see :func:`pack_or_drop`)."""
    items = [(j, idx.instance_job(j).gpu_share_milli, idx.instance_job(j).best_worth) for j in jobs]
    packing, dropped = pack_or_drop(items, pinned, limit, idx.nodes[node].gpus)
    return [NodeGrant(j, node, 1, i) for j, i in packing.items()], dropped


def pack_or_drop(items, pinned: dict[int, int], limit: int, gpus: int):
    """Pack ``items`` (key, share, value) onto GPU indices: GPUs already shared by kept jobs keep
    their load (``pinned``), at most ``limit`` distinct indices in all. Exact (depth-first
    search over bins); if no packing exists, the least valuable items are dropped one by one
    until one does. Returns (key -> GPU index, dropped keys)."""
    items = sorted(items, key=lambda item: (-item[1], str(item[0])))
    dropped = []
    while True:
        packing = _search(items, pinned, limit, gpus)
        if packing is not None:
            return packing, dropped
        worst = min(items, key=lambda item: (item[2], item[1], str(item[0])))
        items.remove(worst)
        dropped.append(worst[0])


def _search(items, pinned, limit, gpus, budget=200_000):
    load = dict(pinned)
    free_indices = [i for i in range(gpus) if i not in load]
    chosen: dict = {}
    steps = [budget]

    def place(k: int) -> bool:
        steps[0] -= 1
        if k == len(items):
            return True
        if steps[0] < 0:
            return False
        key, share, _ = items[k]
        tried_loads = set()
        for i in sorted(load, key=lambda i: -load[i]):        # fullest shared GPU first
            if load[i] + share <= SHARE and load[i] not in tried_loads:
                tried_loads.add(load[i])                      # equal loads are symmetric
                load[i] += share
                chosen[key] = i
                if place(k + 1):
                    return True
                load[i] -= share
        if len(load) < limit and free_indices:                # open a new GPU
            i = free_indices.pop(0)
            load[i] = share
            chosen[key] = i
            if place(k + 1):
                return True
            del load[i]
            free_indices.insert(0, i)
        chosen.pop(key, None)
        return False

    return dict(chosen) if place(0) else None
