"""Jobs inside one node: packing patterns on free nodes, knapsacks on shared nodes, and the
whole-node supply of every pool (which spanning jobs and patterns draw from)."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo


def add_packing(built) -> None:
    m, idx = built.model, built.index
    pools, nodes = idx.pools, idx.nodes
    jobs = {job.id: job for job in built.instance.jobs}
    pack = {(p.job, p.pool): p for p in idx.pack}

    m.PACK = pyo.Set(dimen=2, ordered=True, initialize=list(pack), doc="eligible (job, pool) pairs inside one node")
    m.assign = pyo.Var(m.PACK, domain=pyo.Binary, doc="job runs inside one node of the pool")

    spanned_pools = {k for j in idx.span.values() for k in j.pools}
    _add_patterns(m, pools)
    _add_shared_nodes(m, pools, nodes, spanned_pools)
    _add_node_gpus_max(m, idx)
    _add_pool_slots_max(m, pools, pack)
    _add_pool_nodes_max(m, idx, spanned_pools)

    built.add_term("throughput", sum(jobs[j].priority * p.throughput * m.assign[j, k] for (j, k), p in pack.items()))
    built.add_term("job_cost", sum(p.cost * m.assign[j, k] for (j, k), p in pack.items()))
    built.add_term("allocated_gpus", sum(p.size * m.assign[j, k] for (j, k), p in pack.items()))


def _releasable(pool) -> int:
    return len(pool.free) + sum(len(held) for held in pool.held.values())


def _add_patterns(m, pools) -> None:
    pairs = [(k, q) for k, pool in pools.items() if pool.mode == "patterns" for q in range(len(pool.patterns))]
    m.POOL_PATTERNS = pyo.Set(dimen=2, ordered=True, initialize=pairs, doc="(pool, pattern) of pools in pattern mode")
    m.patterns = pyo.Var(
        m.POOL_PATTERNS, domain=pyo.NonNegativeIntegers,
        bounds=lambda _, k, q: (0, _releasable(pools[k]) + len(pools[k].shared)),
        doc="free nodes of the pool packed with the pattern")


def _add_shared_nodes(m, pools, nodes, spanned_pools) -> None:
    slot_pairs, whole = [], []
    for pool in pools.values():
        for n in pool.shared:
            usable = nodes[n].usable_gpus
            slot_pairs.extend((n, z) for z in pool.sizes if z <= usable)
            if nodes[n].reserved_gpus == 0 and pool.id in spanned_pools:
                whole.append(n)
    m.SHARED_SLOTS = pyo.Set(dimen=2, ordered=True, initialize=slot_pairs, doc="(shared node, job size)")
    m.slots = pyo.Var(m.SHARED_SLOTS, domain=pyo.NonNegativeIntegers,
                      bounds=lambda _, n, z: (0, nodes[n].usable_gpus // z), doc="places for jobs of the size on the node")
    m.WHOLE_NODES = pyo.Set(initialize=whole, ordered=True, doc="shared nodes that may go whole to spanning jobs")
    m.whole = pyo.Var(m.WHOLE_NODES, domain=pyo.Binary, doc="shared node goes whole to spanning jobs")


def _add_node_gpus_max(m, idx) -> None:
    slots_of = defaultdict(list)
    for n, z in m.SHARED_SLOTS:
        slots_of[n].append(z)
    constrained = [n for pool in idx.pools.values() for n in pool.shared if slots_of[n] or n in m.WHOLE_NODES]

    def rule(_, n):
        info = idx.nodes[n]
        used = sum(z * m.slots[n, z] for z in slots_of[n])
        if n in m.WHOLE_NODES:
            used += info.gpus * m.whole[n]
        used += sum(gpus * m.keep[r] for r, gpus in idx.node_running.get(n, []))
        return used <= info.usable_gpus

    m.SHARED_NODES = pyo.Set(initialize=constrained, ordered=True, doc="shared nodes with something to decide")
    m.node_gpus_max = pyo.Constraint(m.SHARED_NODES, rule=rule, doc="a shared node's GPUs are not over-used")


def _add_pool_slots_max(m, pools, pack) -> None:
    jobs_of = defaultdict(list)
    for (j, k), pair in pack.items():
        jobs_of[k, pair.size].append(j)
    shared_slots = defaultdict(list)
    for n, z in m.SHARED_SLOTS:
        shared_slots[n].append(z)

    def rule(_, k, z):
        pool = pools[k]
        offered = sum(pattern[pool.sizes.index(z)] * m.patterns[k, q] for q, pattern in enumerate(pool.patterns)) \
            if pool.mode == "patterns" else 0
        offered += sum(m.slots[n, z] for n in pool.shared if z in shared_slots[n])
        return sum(m.assign[j, k] for j in jobs_of[k, z]) <= offered

    m.POOL_SIZES = pyo.Set(dimen=2, ordered=True, initialize=sorted(jobs_of), doc="(pool, job size) in use")
    m.pool_slots_max = pyo.Constraint(m.POOL_SIZES, rule=rule, doc="sub-node jobs of a size fit the pool's slots")


def _add_pool_nodes_max(m, idx, spanned_pools) -> None:
    span_jobs_of = defaultdict(list)
    for j, k in m.SPAN:
        span_jobs_of[k].append(j)
    wanted = [k for k, pool in idx.pools.items() if (pool.mode == "patterns" and pool.patterns) or k in spanned_pools]

    def rule(_, k):
        pool = idx.pools[k]
        used = sum(m.patterns[k, q] for q in range(len(pool.patterns))) if pool.mode == "patterns" else 0
        used += sum(m.span_nodes[j, k] for j in span_jobs_of[k])
        supply = len(pool.free)
        supply += sum(len(held) * (1 - m.keep[r]) for r, held in pool.held.items())
        supply += sum(m.whole[n] for n in pool.shared if n in m.WHOLE_NODES)
        return used <= supply

    m.WHOLE_POOLS = pyo.Set(initialize=wanted, ordered=True, doc="pools whose whole nodes are drawn on")
    m.pool_nodes_max = pyo.Constraint(m.WHOLE_POOLS, rule=rule, doc="whole nodes of the pool are not over-used")
