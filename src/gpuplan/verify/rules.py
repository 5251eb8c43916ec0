"""Validity of a placement: rules 1-9 of models/assignment.md, one function per rule family.

Every function takes the instance facts, the placement rows grouped by job (known jobs and
nodes only) and the placement's evaluation, and returns the violations it finds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from fractions import Fraction

from .facts import Facts, JobFacts
from .value import RUNS, Evaluation
from .violations import Violation

ByJob = dict[str, list[tuple[str, int]]]


def placement_violations(facts: Facts, by_job: ByJob, ev: Evaluation) -> list[Violation]:
    found = _node_capacity(facts, by_job)
    found += _duplicate_rows(by_job)
    holders = _node_holders(by_job)
    for job_id, rows in by_job.items():
        if ev.jobs[job_id].state in ("placed", "migrated"):  # rule 2: kept jobs are valid as they are
            found += _job_rules(facts, facts.jobs[job_id], rows, holders)
    found += _running_rules(facts, ev)
    found += _required(facts, ev)
    found += _tenants(facts, ev)
    return found


def _node_capacity(facts: Facts, by_job: ByJob) -> list[Violation]:
    """Rule 1: R_n plus the GPUs held on node n is at most C_n."""
    held: Counter[str] = Counter()
    for rows in by_job.values():
        for node, gpus in rows:
            held[node] += gpus
    found = []
    for node_id, gpus in held.items():
        node = facts.nodes[node_id]
        if node.reserved_gpus + gpus > node.gpus:
            found.append(Violation(
                "node_capacity", node_id,
                f"{gpus} GPUs held + {node.reserved_gpus} reserved > {node.gpus} GPUs of the node",
            ))
    return found


def _duplicate_rows(by_job: ByJob) -> list[Violation]:
    """Rule 6: one row per job and node."""
    found = []
    for job_id, rows in by_job.items():
        for node, count in Counter(node for node, _ in rows).items():
            if count > 1:
                found.append(Violation("duplicate_row", job_id, f"{count} rows on node '{node}'"))
    return found


def _node_holders(by_job: ByJob) -> dict[str, set[str]]:
    holders: dict[str, set[str]] = defaultdict(set)
    for job_id, rows in by_job.items():
        for node, _ in rows:
            holders[node].add(job_id)
    return holders


def _job_rules(facts: Facts, job: JobFacts, rows: list[tuple[str, int]], holders) -> list[Violation]:
    """Rules 3-5 for a placed or migrated job."""
    held: Counter[str] = Counter()
    for node, gpus in rows:
        held[node] += gpus  # duplicates are reported by rule 6; judge the node's total here
    found = _eligibility(facts, job, held)
    if any(facts.nodes[n].gpu_type not in job.options for n in held):
        return found  # n_jg is undefined on a foreign type: the gang rules cannot be judged
    if len(held) == 1:
        return found + _single_node(facts, job, held)
    return found + _whole_nodes(facts, job, held, holders) + _spread(facts, job, held)


def _eligibility(facts: Facts, job: JobFacts, held: Counter) -> list[Violation]:
    """Rule 3: every node's type is an option of the job with enough memory."""
    found = []
    for node_id in held:
        gpu_type = facts.nodes[node_id].gpu_type
        if gpu_type not in job.options:
            found.append(Violation("eligibility", job.id, f"node '{node_id}' is {gpu_type}, not an option"))
        elif gpu_type not in job.fitting_types:
            found.append(Violation("eligibility", job.id, f"node '{node_id}' is {gpu_type}: too little memory"))
    return found


def _single_node(facts: Facts, job: JobFacts, held: Counter) -> list[Violation]:
    """Rule 4: on one node n the job holds exactly n_{j,g(n)}, and n_{j,g(n)} <= C_n."""
    (node_id, gpus), = held.items()
    node = facts.nodes[node_id]
    need = job.options[node.gpu_type].gpus
    if need > node.gpus:
        message = f"needs {need} {node.gpu_type} GPUs, more than node '{node_id}' has ({node.gpus})"
        return [Violation("gang_single_node", job.id, message)]
    if gpus != need:
        message = f"holds {gpus} GPUs on node '{node_id}' but needs {need}"
        return [Violation("gang_single_node", job.id, message)]
    return []


def _whole_nodes(facts: Facts, job: JobFacts, held: Counter, holders) -> list[Violation]:
    """Rule 5: every node held whole and alone, and every node too small for the whole job."""
    found = []
    for node_id, gpus in held.items():
        node = facts.nodes[node_id]
        need = job.options[node.gpu_type].gpus
        if gpus != node.gpus:
            message = f"holds {gpus} of the {node.gpus} GPUs of node '{node_id}'"
            found.append(Violation("whole_node", job.id, message))
        others = sorted(holders[node_id] - {job.id})
        if others:
            found.append(Violation("whole_node", job.id, f"shares node '{node_id}' with {', '.join(others)}"))
        if need <= node.gpus:
            found.append(Violation(
                "gang_single_node", job.id,
                f"fits in one node ({need} <= {node.gpus} {node.gpu_type} GPUs) but spreads over {len(held)}",
            ))
    return found


def _spread(facts: Facts, job: JobFacts, held: Counter) -> list[Violation]:
    """Rule 5: coverage at least 1, no redundant node, topology scope, one GPU type."""
    nodes = [facts.nodes[n] for n in held]
    part = {n.id: Fraction(n.gpus, job.options[n.gpu_type].gpus) for n in nodes}
    coverage = sum(part.values())
    found = []
    if coverage < 1:
        found.append(Violation("coverage", job.id, f"its nodes cover {float(coverage):.4g} of its need"))
    for node_id, share in part.items():
        if coverage - share >= 1:
            message = f"node '{node_id}' is redundant (coverage {float(coverage - share):.4g} without it)"
            found.append(Violation("redundant_node", job.id, message))
    found += _scope(job, nodes)
    types = sorted({n.gpu_type for n in nodes})
    if len(types) > 1 and not job.allow_mixed_types:
        message = f"mixes GPU types {', '.join(types)} without allow_mixed_types"
        found.append(Violation("mixed_types", job.id, message))
    return found


def _scope(job: JobFacts, nodes) -> list[Violation]:
    if job.scope == "node":
        return [Violation("scope", job.id, f"scope 'node' but runs on {len(nodes)} nodes")]
    for scope, domain in (("pod", "pod"), ("site", "site")):
        spread = sorted({getattr(n, domain) for n in nodes})
        if job.scope == scope and len(spread) > 1:
            return [Violation("scope", job.id, f"scope '{scope}' but runs in {domain}s {', '.join(spread)}")]
    return []


def _running_rules(facts: Facts, ev: Evaluation) -> list[Violation]:
    """Rule 7: non-migratable jobs are kept or preempted, non-preemptible ones kept or migrated."""
    found = []
    for job in facts.jobs.values():
        state = ev.jobs[job.id].state
        if state == "migrated" and not job.migratable:
            found.append(Violation("running_rules", job.id, "is not migratable but was migrated"))
        if state == "preempted" and not job.preemptible:
            found.append(Violation("running_rules", job.id, "is not preemptible but was preempted"))
    return found


def _required(facts: Facts, ev: Evaluation) -> list[Violation]:
    """Rule 8: required jobs run."""
    return [
        Violation("required", job.id, f"is required but {ev.jobs[job.id].state}")
        for job in facts.jobs.values()
        if job.required and ev.jobs[job.id].state not in RUNS
    ]


def _tenants(facts: Facts, ev: Evaluation) -> list[Violation]:
    """Rule 9: min(F_t, D_t) <= H_t <= U_t."""
    found = []
    for tenant in facts.tenants.values():
        held = ev.tenant_gpus.get(tenant.id, 0)
        if tenant.max_gpus is not None and held > tenant.max_gpus:
            message = f"holds {held} GPUs, above its cap of {tenant.max_gpus}"
            found.append(Violation("tenant_cap", tenant.id, message))
        demand = facts.demand[tenant.id]
        if held < min(tenant.guaranteed_gpus, demand):
            message = f"holds {held} GPUs, below min(guaranteed {tenant.guaranteed_gpus}, demand {demand})"
            found.append(Violation("tenant_floor", tenant.id, message))
    return found
