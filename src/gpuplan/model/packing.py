"""Jobs inside one node, and the node supply of every level.

Sub-node jobs are decided per GPU class: packing patterns count the class's free nodes by
how they are filled, and shared nodes are knapsacks of their own. Whole nodes are drawn by
spanning jobs from pools (scope pod) and site classes (site, any) and by patterns from the
class; pools, site classes and classes are nested, so one supply row per level with demand of
its own makes every count realisable by distinct nodes.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo


def add_packing(built) -> None:
    m, idx = built.model, built.index
    classes, nodes, groups = idx.classes, idx.nodes, idx.groups
    jobs = {job.id: job for job in built.instance.jobs}
    pack = {(p.group, p.gpu_class): p for p in idx.pack}

    m.PACK = pyo.Set(dimen=2, ordered=True, initialize=list(pack), doc="eligible (job group, GPU class) pairs inside one node")
    m.assign = pyo.Var(m.PACK, domain=pyo.NonNegativeIntegers, bounds=lambda _, g, c: (0, groups[g].count),
                       doc="jobs of the group running inside one node of the class")

    spanned_pools = {k for _, u in m.SPAN for k in idx.units[u].pools}
    _add_patterns(m, idx)
    _add_shared_nodes(m, idx, spanned_pools)
    _add_node_gpus_max(m, idx, pack)
    _add_class_slots_max(m, classes, pack)
    _add_node_supply(m, idx)

    built.add_term("throughput", sum(jobs[g].priority * p.throughput * m.assign[g, c] for (g, c), p in pack.items()))
    built.add_term("job_cost", sum(p.cost * m.assign[g, c] for (g, c), p in pack.items()))
    built.add_term("allocated_gpus", sum(p.size * m.assign[g, c] for (g, c), p in pack.items()))


def releasable_nodes(idx, gpu_class) -> int:
    return sum(len(idx.pools[k].free) + sum(len(v) for v in idx.pools[k].held.values()) for k in gpu_class.pools)


def _add_patterns(m, idx) -> None:
    pairs = [(c, q) for c, cls in idx.classes.items() if cls.mode == "patterns" for q in range(len(cls.patterns))]
    m.CLASS_PATTERNS = pyo.Set(dimen=2, ordered=True, initialize=pairs, doc="(GPU class, pattern) of classes in pattern mode")
    m.patterns = pyo.Var(
        m.CLASS_PATTERNS, domain=pyo.NonNegativeIntegers,
        bounds=lambda _, c, q: (0, releasable_nodes(idx, idx.classes[c]) + len(idx.classes[c].shared)),
        doc="free nodes of the class packed with the pattern")


def _add_shared_nodes(m, idx, spanned_pools) -> None:
    slot_pairs, whole = [], []
    for cls in idx.classes.values():
        for n in cls.shared:
            usable = idx.nodes[n].usable_gpus
            if cls.mode != "knapsack":
                slot_pairs.extend((n, z) for z in cls.sizes if z <= usable)
            if idx.nodes[n].reserved_gpus == 0 and idx.nodes[n].pool in spanned_pools:
                whole.append(n)
    m.SHARED_SLOTS = pyo.Set(dimen=2, ordered=True, initialize=slot_pairs, doc="(shared node, job size)")
    m.slots = pyo.Var(m.SHARED_SLOTS, domain=pyo.NonNegativeIntegers,
                      bounds=lambda _, n, z: (0, idx.nodes[n].usable_gpus // z), doc="places for jobs of the size on the node")
    m.WHOLE_NODES = pyo.Set(initialize=whole, ordered=True, doc="shared nodes that may go whole to spanning jobs")
    m.whole = pyo.Var(m.WHOLE_NODES, domain=pyo.Binary, doc="shared node goes whole to spanning jobs")


def _add_node_gpus_max(m, idx, pack) -> None:
    slots_of = defaultdict(list)
    for n, z in m.SHARED_SLOTS:
        slots_of[n].append(z)
    jobs_of = defaultdict(list)         # the node of a one-node class -> its (group, class) pairs
    for (g, c), pair in pack.items():
        if idx.classes[c].mode == "knapsack":
            jobs_of[idx.classes[c].shared[0]].append(((g, c), pair.size))
    constrained = [n for cls in idx.classes.values() for n in cls.shared
                   if slots_of[n] or jobs_of[n] or n in m.WHOLE_NODES]

    def rule(_, n):
        info = idx.nodes[n]
        used = sum(z * m.slots[n, z] for z in slots_of[n])
        used += sum(size * m.assign[pair] for pair, size in jobs_of[n])
        if n in m.WHOLE_NODES:
            used += info.gpus * m.whole[n]
        used += sum(gpus * m.keep[r] for r, gpus in idx.node_running.get(n, []))
        return used <= info.usable_gpus

    m.SHARED_NODES = pyo.Set(initialize=constrained, ordered=True, doc="shared nodes with something to decide")
    m.node_gpus_max = pyo.Constraint(m.SHARED_NODES, rule=rule, doc="a shared node's GPUs are not over-used")


def _add_class_slots_max(m, classes, pack) -> None:
    groups_of = defaultdict(list)
    for (g, c), pair in pack.items():
        if classes[c].mode != "knapsack":      # a one-node class is limited by its node's row
            groups_of[c, pair.size].append(g)
    shared_slots = defaultdict(set)
    for n, z in m.SHARED_SLOTS:
        shared_slots[n].add(z)

    def rule(_, c, z):
        cls = classes[c]
        offered = 0
        if cls.mode == "patterns":
            i = cls.sizes.index(z)
            offered = sum(pattern[i] * m.patterns[c, q] for q, pattern in enumerate(cls.patterns) if pattern[i])
        offered += sum(m.slots[n, z] for n in cls.shared if z in shared_slots[n])
        return sum(m.assign[g, c] for g in groups_of[c, z]) <= offered

    m.CLASS_SIZES = pyo.Set(dimen=2, ordered=True, initialize=sorted(groups_of), doc="(GPU class, job size) in use")
    m.class_slots_max = pyo.Constraint(m.CLASS_SIZES, rule=rule, doc="sub-node jobs of a size fit the class's slots")


def pool_supply(m, idx, k):
    """S_k: whole nodes pool k can give: free, released by running jobs not kept, shared freed."""
    pool = idx.pools[k]
    supply = len(pool.free)
    supply += sum(len(held) * (1 - m.keep[r]) for r, held in pool.held.items())
    supply += sum(m.whole[n] for n in pool.shared if n in m.WHOLE_NODES)
    return supply


def _add_node_supply(m, idx) -> None:
    units = idx.units
    pairs_in_pool = defaultdict(list)        # pool -> (job, pool-level unit) pairs
    pairs_in_site = defaultdict(list)        # site class -> (job, unit) pairs, both levels
    pairs_in_class = defaultdict(list)       # class -> every pair
    site_level = set()
    for j, u in m.SPAN:
        unit = units[u]
        if unit.level == "pool":
            pairs_in_pool[u].append((j, u))
        else:
            site_level.add(u)
        pairs_in_site[idx.pools[unit.pools[0]].site_class].append((j, u))
        pairs_in_class[unit.gpu_class].append((j, u))

    def supply(pool_ids):
        return sum(pool_supply(m, idx, k) for k in pool_ids)

    m.SPAN_POOLS = pyo.Set(initialize=sorted(pairs_in_pool), ordered=True, doc="pools scope-pod jobs draw on")
    m.pool_nodes_max = pyo.Constraint(
        m.SPAN_POOLS, rule=lambda _, k: sum(m.span_nodes[p] for p in pairs_in_pool[k]) <= supply([k]),
        doc="whole nodes of a pool are not over-used")
    m.SPAN_SITE_CLASSES = pyo.Set(initialize=sorted(site_level), ordered=True, doc="site classes site-scoped jobs draw on")
    m.site_nodes_max = pyo.Constraint(
        m.SPAN_SITE_CLASSES,
        rule=lambda _, s: sum(m.span_nodes[p] for p in pairs_in_site[s]) <= supply(idx.site_classes[s]),
        doc="whole nodes of a site class are not over-used")
    pattern_classes = [c for c, cls in idx.classes.items() if cls.mode == "patterns" and cls.patterns]
    m.PATTERN_CLASSES = pyo.Set(initialize=pattern_classes, ordered=True, doc="classes whose free nodes are patterned")
    m.class_nodes_max = pyo.Constraint(
        m.PATTERN_CLASSES,
        rule=lambda _, c: sum(m.patterns[c, q] for q in range(len(idx.classes[c].patterns)))
        + sum(m.span_nodes[p] for p in pairs_in_class[c]) <= supply(idx.classes[c].pools),
        doc="whole nodes of a class are not over-used")
