"""Express a concrete placement (the greedy solution) in the model's variables: the MIP start.

Every variable gets a value, so HiGHS can check the start as a complete solution. If the
placement cannot be expressed (it breaks a rule the model enforces), or the model does not
value it as the rules do (a variable left unwritten would make the LP-bound proof and the
start describe another placement), no start is set.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pyomo.environ as pyo

from ...index.assignment import best_split_value, tenant_entitlements
from ...index.node_grant import current_rows
from .objectives import value_kind
from .tenants import held_gpus


class _NotExpressible(Exception):
    pass


VALUE_TOL = 1e-6  # relative


def apply_start(built, rows, value: float) -> bool:
    """Set every variable from ``rows`` [(job, node, gpus)], whose value by the rules is
    ``value``; False (and the variables left as they were) if the placement cannot be expressed
    or the model's objective at the values set is not ``value``."""
    m = built.model
    try:
        values = _start_values(built, rows)
    except _NotExpressible:
        return False
    variables = list(m.component_data_objects(pyo.Var))
    before = [var.value for var in variables]
    for var in variables:
        var.set_value(values.get(id(var), 0), skip_validation=True)
    if abs(pyo.value(m.objective.expr) - value) <= VALUE_TOL * max(1.0, abs(value)):
        return True
    for var, old in zip(variables, before):
        var.set_value(old, skip_validation=True)
    return False


def _start_values(built, rows) -> dict[int, float]:
    m, idx = built.model, built.index
    by_job: dict[str, dict[str, int]] = defaultdict(dict)
    rows_of: dict[str, set] = defaultdict(set)
    shared_gpus: dict[str, set[int]] = defaultdict(set)       # node -> GPU indices being shared
    for row in rows:
        by_job[row.job][row.node] = row.gpus
        rows_of[row.job].add(row)
        if row.gpu_index is not None:
            shared_gpus[row.node].add(row.gpu_index)
    values: dict[int, float] = {}

    def put(var, value):
        values[id(var)] = value

    kept = {r for r in m.RUNNING if rows_of[r] == set(current_rows(idx.running[r]))}
    for r in kept:
        put(m.keep[r], 1)
    content: dict[str, list[int]] = defaultdict(list)   # node -> sizes of sub-node jobs
    whole_taken: set[str] = set()
    assigned, placed = Counter(), Counter()
    for job, nodes in by_job.items():
        if job in kept:
            continue
        if _is_packed(idx, job, nodes):
            (node, gpus), = nodes.items()
            group, gpu_class = idx.group_of.get(job), idx.pools[idx.nodes[node].pool].gpu_class
            if idx.classes[gpu_class].mode == "assign":
                if (group, node) not in m.NODE_PACK:
                    raise _NotExpressible
                placed[group, node] += 1
            elif (group, gpu_class) in m.PACK:
                assigned[group, gpu_class] += 1
                content[node].append(gpus)
            else:
                raise _NotExpressible
        else:
            _spanning_values(built, job, nodes, put)
            whole_taken.update(nodes)
    for pair, count in assigned.items():
        put(m.assign[pair], count)
    for pair, count in placed.items():
        put(m.place[pair], count)
    for n in m.SHARE_NODES:
        put(m.share_gpus[n], len(shared_gpus[n]))
    for n, i in m.RUNNING_SHARED_GPUS:
        put(m.gpu_active[n, i], int(i in shared_gpus[n]))
    for gpu_class in idx.classes.values():
        _class_values(m, idx, gpu_class, content, whole_taken, kept, put)
    if hasattr(m, "tenant_share"):
        put(m.tenant_share, _min_share(built, values))
    return values


def _is_packed(idx, job: str, nodes: dict[str, int]) -> bool:
    if len(nodes) != 1:
        return False
    (node, gpus), = nodes.items()
    info = idx.nodes[node]
    instance_job = idx.instance_job(job)
    return instance_job.cpu_only or instance_job.gpus_on(info.gpu_type) <= info.gpus


def _spanning_values(built, job: str, nodes: dict[str, int], put) -> None:
    m, idx = built.model, built.index
    if job not in m.SPAN_JOBS:
        raise _NotExpressible
    span = idx.span[job]
    level_of_pool = (lambda k: k) if span.scope == "pod" else (lambda k: idx.pools[k].site_class)
    per_unit = Counter(level_of_pool(idx.nodes[n].pool) for n in nodes)
    if any((job, u) not in m.SPAN for u in per_unit):
        raise _NotExpressible
    put(m.spanned[job], 1)
    for u, count in per_unit.items():
        put(m.span_nodes[job, u], count)
        if (job, u) in m.SPAN_USED:
            put(m.span_used[job, u], 1)
    pools = [idx.pools[idx.nodes[n].pool] for n in nodes]
    types = {p.gpu_type for p in pools}
    sites = {p.site for p in pools}
    pods = {p.pod for p in pools}
    for g in types:
        if (job, g) in m.SPAN_TYPES:
            put(m.type_used[job, g], 1)
    for p in pods:
        if (job, p) in m.SPAN_POD:
            put(m.pod_used[job, p], 1)
    for s in sites:
        if (job, s) in m.SPAN_SITE:
            put(m.site_used[job, s], 1)
    flags = {"cross_site": len(sites) > 1, "mixed": len(types) > 1}
    for name, flag in flags.items():
        if job in getattr(m, name).index_set():
            put(getattr(m, name)[job], int(flag))
    _share_and_loss_values(built, job, span, per_unit, flags, put)


def _share_and_loss_values(built, job, span, per_unit, flags, put) -> None:
    m, idx = built.model, built.index
    kind = value_kind(built.objective)
    if kind is None:
        return
    option = idx.instance_job(job).option
    value = {g: (option(g).throughput if kind == "throughput" else option(g).cost_per_hour) for g in span.types}
    coverage = defaultdict(float)
    for u, count in per_unit.items():
        g = idx.units[u].gpu_type
        coverage[g] += count * idx.units[u].gpus_per_node / span.need[g]
    remaining = 1.0
    for g in sorted(coverage, key=lambda g: value[g], reverse=(kind == "throughput")):
        part = min(remaining, coverage[g])
        if (job, g) in m.SPAN_SHARE:
            put(m.share[job, g], part)
        remaining -= part
    job_value = best_split_value(dict(coverage), value, maximize=(kind == "throughput"))
    for loss, flag in (("site_loss", "cross_site"), ("mixed_loss", "mixed")):
        if job in getattr(m, loss).index_set():
            put(getattr(m, loss)[job], job_value if flags[flag] else 0.0)


def _class_values(m, idx, gpu_class, content, whole_taken, kept, put) -> None:
    for n in gpu_class.shared:
        if n in whole_taken:
            if n not in m.WHOLE_NODES:
                raise _NotExpressible
            put(m.whole[n], 1)
        if gpu_class.mode == "knapsack":  # its jobs are counted by assign alone
            continue
        for z, count in Counter(content.get(n, [])).items():
            if (n, z) not in m.SHARED_SLOTS:
                raise _NotExpressible
            put(m.slots[n, z], count)
    if gpu_class.mode != "patterns":
        return
    pools = [idx.pools[k] for k in gpu_class.pools]
    releasable = [n for p in pools for n in p.free_or_released(kept)]
    used = Counter()
    for n in releasable:
        if n in whole_taken or not content.get(n):
            continue
        sizes = Counter(content[n])
        q = next((q for q, pattern in enumerate(gpu_class.patterns)
                  if all(pattern[gpu_class.sizes.index(z)] >= c for z, c in sizes.items())), None)
        if q is None:
            raise _NotExpressible
        used[q] += 1
    for q, count in used.items():
        put(m.patterns[gpu_class.id, q], count)


def _min_share(built, values) -> float:
    m, idx = built.model, built.index
    tenant_of = {job.id: job.tenant for job in built.instance.jobs}
    held = held_gpus(m, idx, tenant_of)
    share = 1.0
    for t, entitlement in tenant_entitlements(built.instance, idx).items():
        gpus = sum(_term_value(term, values) for term in held[t])
        share = min(share, gpus / entitlement)
    return max(0.0, share)


def _term_value(term, values) -> float:
    """Value of ``coefficient * var`` under the start values (unset variables are 0)."""
    from pyomo.repn import generate_standard_repn

    repn = generate_standard_repn(term)
    return repn.constant + sum(c * values.get(id(v), 0) for c, v in zip(repn.linear_coefs, repn.linear_vars))
