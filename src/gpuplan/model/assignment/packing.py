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

from .nodes import add_node_variables, add_node_rows


def add_packing(built) -> None:
    m, idx = built.model, built.index
    classes, groups = idx.classes, idx.groups
    jobs = {job.id: job for job in built.instance.jobs}
    pack = {(p.group, p.gpu_class): p for p in idx.pack if classes[p.gpu_class].mode != "assign"}

    m.PACK = pyo.Set(dimen=2, ordered=True, initialize=list(pack), doc="eligible (job group, GPU class) pairs inside one node")
    m.assign = pyo.Var(m.PACK, domain=pyo.NonNegativeIntegers, bounds=lambda _, g, c: (0, groups[g].count),
                       doc="jobs of the group running inside one node of the class")

    spanned_pools = {k for _, u in m.SPAN for k in idx.units[u].pools}
    _add_patterns(m, idx)
    add_node_variables(built, spanned_pools)
    add_node_rows(built, pack)
    _add_class_slots_max(m, classes, pack)
    _add_node_supply(m, idx)

    values = [(g, p, m.assign[g, c]) for (g, c), p in pack.items()]
    by_class = {(p.group, p.gpu_class): p for p in idx.pack}
    values += [(g, by_class[g, nodes_class(idx, n)], m.place[g, n]) for g, n in m.NODE_PACK]
    built.add_term("throughput", sum(jobs[g].priority * p.throughput * var for g, p, var in values))
    built.add_term("job_cost", sum(p.cost * var for g, p, var in values))
    built.add_term("allocated_gpus", sum(groups[g].held_gpus(p.size) * var for g, p, var in values))


def nodes_class(idx, node: str) -> str:
    return idx.pools[idx.nodes[node].pool].gpu_class


def _add_patterns(m, idx) -> None:
    patterned = {c: cls for c, cls in idx.classes.items() if cls.mode == "patterns"}
    # A pattern fills at most every node of its class: free, released or shared.
    most = {c: sum(len(idx.pools[k].free_or_released()) for k in cls.pools) + len(cls.shared)
            for c, cls in patterned.items()}
    pairs = [(c, q) for c, cls in patterned.items() for q in range(len(cls.patterns))]
    m.CLASS_PATTERNS = pyo.Set(dimen=2, ordered=True, initialize=pairs, doc="(GPU class, pattern) of classes in pattern mode")
    m.patterns = pyo.Var(m.CLASS_PATTERNS, domain=pyo.NonNegativeIntegers, bounds=lambda _, c, q: (0, most[c]),
                         doc="free nodes of the class packed with the pattern")


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
    """S_k: whole nodes pool k can give: free, released by running jobs not kept, shared freed
    (written as every free or releasable node, less those kept running jobs hold)."""
    pool = idx.pools[k]
    supply = len(pool.free_or_released())
    supply -= sum(len(held) * m.keep[r] for r, held in pool.held.items())
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
