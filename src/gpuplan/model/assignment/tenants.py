"""Tenants: floors and caps on the GPUs each holds, and the fairness share."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from ...index.assignment import tenant_entitlements
from ..build import InfeasibleInstance


def held_gpus(m, idx, tenant_of: dict[str, str]) -> dict[str, list]:
    """H_t as lists of terms: sub-node GPUs, whole nodes, kept running jobs."""
    held: dict[str, list] = defaultdict(list)
    size = {(p.group, p.gpu_class): p.size for p in idx.pack}
    for g, c in m.PACK:
        held[tenant_of[g]].append(idx.groups[g].held_gpus(size[g, c]) * m.assign[g, c])
    for g, n in m.NODE_PACK:
        held[tenant_of[g]].append(idx.groups[g].held_gpus(idx.node_pack[g, n]) * m.place[g, n])
    for j, u in m.SPAN:
        held[tenant_of[j]].append(idx.units[u].gpus_per_node * m.span_nodes[j, u])
    for r in m.RUNNING:
        held[tenant_of[r]].append(idx.running[r].gpus * m.keep[r])
    return held


def add_tenants(built) -> None:
    m, idx, instance = built.model, built.index, built.instance
    tenant_of = {job.id: job.tenant for job in instance.jobs}
    held = held_gpus(m, idx, tenant_of)
    tenants = {t.id: t for t in instance.tenants}

    capped = [t for t, tenant in tenants.items() if tenant.max_gpus is not None and held[t]]
    m.CAPPED_TENANTS = pyo.Set(initialize=capped, ordered=True, doc="tenants with a cap")
    m.tenant_gpus_max = pyo.Constraint(
        m.CAPPED_TENANTS, rule=lambda _, t: sum(held[t]) <= tenants[t].max_gpus, doc="tenant cap")

    floor = {t: min(tenant.guaranteed_gpus, idx.demand[t]) for t, tenant in tenants.items()}
    floored = [t for t in tenants if floor[t] > 0]
    # A tenant owed GPUs whose jobs all lost their room to pinned running work: no constraint
    # can hold, so the instance is infeasible (reported before the solver is called).
    unmet = [f"{t} (floor {floor[t]:g} GPUs)" for t in floored if not held[t]]
    if unmet:
        raise InfeasibleInstance(f"tenant floor(s) cannot be met, no job of theirs has room left (e.g. running jobs "
                                 f"that may neither move nor stop hold it): {', '.join(unmet[:5])}")
    floored = [t for t in floored if held[t]]
    m.FLOORED_TENANTS = pyo.Set(initialize=floored, ordered=True, doc="tenants with a floor and demand")
    m.tenant_gpus_min = pyo.Constraint(
        m.FLOORED_TENANTS, rule=lambda _, t: sum(held[t]) >= floor[t], doc="tenant floor")

    if built.objective == "fairness":
        entitlement = tenant_entitlements(instance, idx)
        m.SHARE_TENANTS = pyo.Set(initialize=sorted(entitlement), ordered=True, doc="tenants with demand")
        m.tenant_share = pyo.Var(bounds=(0, 1), doc="the minimum tenant share")
        m.tenant_share_min = pyo.Constraint(
            m.SHARE_TENANTS, rule=lambda _, t: entitlement[t] * m.tenant_share <= sum(held[t]),
            doc="fairness: the minimum share")
        built.add_term("min_tenant_share", m.tenant_share)
