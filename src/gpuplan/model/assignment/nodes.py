"""Nodes modelled one by one, and their capacity rows.

Three kinds of classes have per-node rows: node mode (too many patterns: slots per job
size), knapsack mode (a single node: its jobs directly) and assign mode (jobs need CPU or
host memory of limited nodes, share GPUs, or need no GPU: ``place[g, n]`` counts jobs per
node). A node's GPUs, CPU, memory and GPU shares are each a row; GPU sharing is modelled by
the GPUs a node gives to sharing jobs (``share_gpus``) with the bin-packing bounds of Martello
and Toth; the exact packing onto GPU indices is done when the solution is turned into nodes.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from ...instance.fields import MILLI_PER_GPU

SHARE = MILLI_PER_GPU


def add_node_variables(built, spanned_pools: set[str]) -> None:
    m, idx = built.model, built.index
    slot_pairs, whole = [], []
    for cls in idx.classes.values():
        for n in cls.shared:
            usable = idx.nodes[n].usable_gpus
            if cls.mode in ("patterns", "nodes"):
                slot_pairs.extend((n, z) for z in cls.sizes if z <= usable)
            if idx.nodes[n].reserved_gpus == 0 and idx.nodes[n].pool in spanned_pools:
                whole.append(n)
    m.SHARED_SLOTS = pyo.Set(dimen=2, ordered=True, initialize=slot_pairs, doc="(shared node, job size)")
    m.slots = pyo.Var(m.SHARED_SLOTS, domain=pyo.NonNegativeIntegers,
                      bounds=lambda _, n, z: (0, idx.nodes[n].usable_gpus // z), doc="places for jobs of the size on the node")
    m.WHOLE_NODES = pyo.Set(initialize=whole, ordered=True, doc="shared nodes that may go whole to spanning jobs")
    m.whole = pyo.Var(m.WHOLE_NODES, domain=pyo.Binary, doc="shared node goes whole to spanning jobs")

    groups = idx.groups
    m.NODE_PACK = pyo.Set(dimen=2, ordered=True, initialize=list(idx.node_pack),
                          doc="(job group, node) pairs of classes in assign mode")
    m.place = pyo.Var(m.NODE_PACK, domain=pyo.NonNegativeIntegers, bounds=lambda _, g, n: (0, _place_bound(idx, g, n)),
                      doc="jobs of the group running on the node")
    sharing_nodes = sorted({n for g, n in idx.node_pack if groups[g].sharing}
                           | {n for run in idx.running.values() if run.sharing for n in run.rows})
    m.SHARE_NODES = pyo.Set(initialize=sharing_nodes, ordered=True, doc="nodes where jobs may share GPUs")
    m.share_gpus = pyo.Var(m.SHARE_NODES, domain=pyo.NonNegativeIntegers,
                           bounds=lambda _, n: (0, idx.nodes[n].usable_gpus), doc="GPUs of the node given to sharing jobs")
    active = sorted({(n, i) for run in idx.running.values() if run.sharing for n, i in run.gpu_index.items()})
    m.RUNNING_SHARED_GPUS = pyo.Set(dimen=2, ordered=True, initialize=active,
                                    doc="(node, GPU index) shared by running jobs")
    m.gpu_active = pyo.Var(m.RUNNING_SHARED_GPUS, domain=pyo.Binary, doc="a GPU shared by kept running jobs stays shared")


def _place_bound(idx, g: str, n: str) -> int:
    group, info, size = idx.groups[g], idx.nodes[n], idx.node_pack[g, n]
    bound = group.count
    if size and not group.sharing:
        bound = min(bound, info.usable_gpus // size)
    if group.sharing:
        bound = min(bound, info.usable_gpus * (SHARE // group.share_milli))
    if info.cpu_milli is not None and group.cpu_milli:
        bound = min(bound, info.cpu_milli // group.cpu_milli)
    if info.host_memory_mib is not None and group.host_memory_mib:
        bound = min(bound, info.host_memory_mib // group.host_memory_mib)
    return bound


def _node_uses(m, idx, pack):
    """Per node, the (coefficient, variable) terms that use its GPUs, CPU, memory and shares."""
    gpus, cpu, memory, shares = (defaultdict(list) for _ in range(4))
    for n, z in m.SHARED_SLOTS:
        gpus[n].append((z, m.slots[n, z]))
    for (g, c), pair in pack.items():
        if idx.classes[c].mode == "knapsack":
            gpus[idx.classes[c].shared[0]].append((pair.size, m.assign[g, c]))
    for g, n in m.NODE_PACK:
        group, var = idx.groups[g], m.place[g, n]
        if group.sharing:
            shares[n].append((group.share_milli, var))
        else:
            gpus[n].append((idx.node_pack[g, n], var))
        cpu[n].append((group.cpu_milli, var))
        memory[n].append((group.host_memory_mib, var))
    for n in m.SHARE_NODES:
        gpus[n].append((1, m.share_gpus[n]))
    for n in m.WHOLE_NODES:
        info = idx.nodes[n]
        gpus[n].append((info.gpus, m.whole[n]))
        cpu[n].append((info.cpu_milli or 0, m.whole[n]))
        memory[n].append((info.host_memory_mib or 0, m.whole[n]))
    for n, on_node in idx.node_running.items():
        for r, held in on_node:
            run = idx.running[r]
            if run.sharing:
                shares[n].append((run.share_milli, m.keep[r]))
            else:
                gpus[n].append((held, m.keep[r]))
            cpu[n].append((run.cpu_milli, m.keep[r]))
            memory[n].append((run.host_memory_mib, m.keep[r]))
    return gpus, cpu, memory, shares


def add_node_rows(built, pack) -> None:
    m, idx = built.model, built.index
    gpus, cpu, memory, shares = _node_uses(m, idx, pack)
    individual = [n for cls in idx.classes.values() for n in cls.shared]

    def has_choice(n, terms):
        # Kept running jobs alone always fit (the loader checked the current placement).
        return any(not _is_keep(m, v) for _, v in terms[n])

    m.GPU_NODES = pyo.Set(initialize=[n for n in individual if has_choice(n, gpus)], ordered=True,
                          doc="shared nodes with something to decide")
    m.node_gpus_max = pyo.Constraint(
        m.GPU_NODES, rule=lambda _, n: sum(a * v for a, v in gpus[n]) <= idx.nodes[n].usable_gpus,
        doc="a shared node's GPUs are not over-used")
    def limited(terms, attr):
        return [n for n in individual if getattr(idx.nodes[n], attr) is not None and has_choice(n, terms)
                and any(a for a, _ in terms[n])]

    m.CPU_NODES = pyo.Set(initialize=limited(cpu, "cpu_milli"), ordered=True, doc="nodes whose cpu binds")
    m.node_cpu_max = pyo.Constraint(
        m.CPU_NODES, rule=lambda _, n: sum(c * v for c, v in cpu[n] if c) <= idx.nodes[n].cpu_milli,
        doc="a node's CPU is not over-used")
    m.MEMORY_NODES = pyo.Set(initialize=limited(memory, "host_memory_mib"), ordered=True,
                             doc="nodes whose memory binds")
    m.node_memory_max = pyo.Constraint(
        m.MEMORY_NODES, rule=lambda _, n: sum(c * v for c, v in memory[n] if c) <= idx.nodes[n].host_memory_mib,
        doc="a node's host memory is not over-used")
    _add_share_rows(m, idx, shares)
    _add_whole_exclusion(m, idx)


def _add_whole_exclusion(m, idx) -> None:
    """A node held whole (by a spanning job, or kept by a running multi-node job) runs nothing
    else: this matters for jobs that need no GPU, which the GPU row does not stop, and for a
    kept running job that uses nothing the node's rows count (no GPU, and no CPU or memory
    where the node limits them)."""
    placed_on, most = defaultdict(list), defaultdict(int)
    for g, n in m.NODE_PACK:
        placed_on[n].append(m.place[g, n])
        most[n] += m.place[g, n].ub
    holders = defaultdict(list)                   # node -> its whole-node variables
    for n in m.WHOLE_NODES:
        holders[n].append(m.whole[n])
    for n, on_node in idx.node_running.items():
        for r, held in on_node:
            if idx.running[r].holds_whole(n, idx.nodes[n].gpus):
                holders[n].append(m.keep[r])
            elif _uses_nothing_counted(idx.running[r], held, idx.nodes[n]):
                placed_on[n].append(m.keep[r])
                most[n] += 1
    rows = [(n, k) for n in sorted(placed_on) for k in range(len(holders[n]))]
    m.WHOLE_HOLDERS = pyo.Set(dimen=2, ordered=True, initialize=rows, doc="(node, whole-node holder) with jobs to exclude")
    m.node_jobs_max = pyo.Constraint(
        m.WHOLE_HOLDERS,
        rule=lambda _, n, k: sum(placed_on[n]) <= most[n] * (1 - holders[n][k]),
        doc="a node held whole runs nothing else")


def _uses_nothing_counted(run, held, info) -> bool:
    """A running job on a node that no GPU, CPU or memory row of the node would see."""
    return (not run.sharing and not held
            and (not run.cpu_milli or info.cpu_milli is None)
            and (not run.host_memory_mib or info.host_memory_mib is None))


def _is_keep(m, var) -> bool:
    return var.parent_component() is m.keep


def _add_share_rows(m, idx, shares) -> None:
    m.node_share_max = pyo.Constraint(
        m.SHARE_NODES, rule=lambda _, n: sum(s * v for s, v in shares[n]) <= SHARE * m.share_gpus[n],
        doc="the shares on a node fit the GPUs it gives to sharing")

    # Martello-Toth L2: for alpha <= 500, shares above 1000 - alpha need a GPU each, and the
    # shares in [alpha, 1000 - alpha] fill what is left. Only alphas where some share is
    # above 1000 - alpha add anything to node_share_max.
    rows = []
    for n in m.SHARE_NODES:
        sizes = sorted({s for s, _ in shares[n]})
        rows += [(n, a) for a in sizes if a <= SHARE // 2 and any(s > SHARE - a for s in sizes)]
    m.SHARE_BOUNDS = pyo.Set(dimen=2, ordered=True, initialize=rows, doc="(node, alpha) of the bin-packing bounds")
    m.node_share_bins_min = pyo.Constraint(
        m.SHARE_BOUNDS,
        rule=lambda _, n, a: SHARE * m.share_gpus[n]
        >= sum((SHARE if s > SHARE - a else s) * v for s, v in shares[n] if s >= a),
        doc="bin-packing lower bound on the GPUs the shares need")

    def big_rule(_, n):
        big = [v for s, v in shares[n] if s > SHARE // 2]
        return m.share_gpus[n] >= sum(big) if big else pyo.Constraint.Skip

    m.node_share_big_min = pyo.Constraint(m.SHARE_NODES, rule=big_rule, doc="shares above half a GPU cannot pair")
    on_gpu = defaultdict(list)
    for r, run in idx.running.items():
        for n, i in run.gpu_index.items():
            on_gpu[n, i].append(r)
    m.RUNNING_SHARES = pyo.Set(dimen=3, ordered=True,
                               initialize=[(n, i, r) for (n, i), rs in sorted(on_gpu.items()) for r in rs],
                               doc="(node, GPU index, running job) of running jobs sharing a GPU")
    m.node_share_kept_min = pyo.Constraint(
        m.RUNNING_SHARES, rule=lambda _, n, i, r: m.gpu_active[n, i] >= m.keep[r],
        doc="a GPU stays shared while a kept job shares it")
    active_of = defaultdict(list)
    for n, i in m.RUNNING_SHARED_GPUS:
        active_of[n].append(m.gpu_active[n, i])
    m.node_share_active_min = pyo.Constraint(
        m.SHARE_NODES, rule=lambda _, n: m.share_gpus[n] >= sum(active_of[n]) if active_of[n] else pyo.Constraint.Skip,
        doc="GPUs shared by kept jobs count among the node's sharing GPUs")
