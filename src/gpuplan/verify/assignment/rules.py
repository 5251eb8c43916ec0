"""Validity of a placement: rules 1-9 of models/assignment.md, one function per rule family.

Every function takes the instance facts, the placement rows grouped by job (known jobs and
nodes only; rows (node, gpus, gpu_index), see :func:`~gpuplan.verify.assignment.value.group_rows`) and the
placement's evaluation, and returns the violations it finds.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ...instance.nodes import coverage
from .facts import MILLI, Facts, JobFacts, accounts_cpu_or_memory
from .value import RUNS, Evaluation
from ..violations import Violation

ByJob = dict[str, list[tuple[str, int, "int | None"]]]


def placement_violations(facts: Facts, by_job: ByJob, ev: Evaluation) -> list[Violation]:
    by_job = {job: [_full(row) for row in rows] for job, rows in by_job.items()}
    found = _node_capacity(facts, by_job)
    found += _gpu_indices(facts, by_job)
    found += _duplicate_rows(by_job)
    holders = _node_holders(by_job)
    for job_id, rows in by_job.items():
        state = ev.jobs[job_id].state
        if state in ("placed", "migrated"):  # rule 2: kept jobs are valid as they are
            found += _job_rules(facts, facts.jobs[job_id], rows, holders)
        elif state == "kept":  # ... but rule 1 holds for every node
            found += _kept_whole_nodes(facts, facts.jobs[job_id], rows, holders)
    found += _running_rules(facts, ev)
    found += _required(facts, ev)
    found += _tenants(facts, ev)
    return found


def _full(row) -> tuple:
    """(node, gpus) rows, as callers of the three-field format give them, get no GPU index."""
    return row if len(row) == 3 else (*row, None)


# ---------------------------------------------------------------- rule 1 and the row format


def _node_capacity(facts: Facts, by_job: ByJob) -> list[Violation]:
    """Rule 1: R_n + GPUs held whole + distinct GPU indices shared <= C_n; the shares on one
    GPU index sum to at most 1000; CPU and memory of the jobs on a node within P_n and Q_n."""
    whole: Counter[str] = Counter()
    shares: dict[tuple[str, int], int] = defaultdict(int)
    cpu: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    for job_id, rows in by_job.items():
        job = facts.jobs[job_id]
        for node in {node for node, _, _ in rows}:  # a job's CPU and memory count once per node
            cpu[node] += job.cpu_milli
            memory[node] += job.host_memory_mib
        for node, gpus, index in rows:
            if job.sharing and index is not None:
                shares[node, index] += job.share_milli
            else:
                whole[node] += gpus
    shared_gpus = Counter(node for node, _ in shares)
    found = []
    for node_id in whole.keys() | shared_gpus.keys():
        node = facts.nodes[node_id]
        held, shared = whole[node_id], shared_gpus[node_id]
        if node.reserved_gpus + held + shared > node.gpus:
            parts = f"{held} GPUs held whole" + (f" + {shared} shared" if shared else "")
            found.append(Violation(
                "node_capacity", node_id,
                f"{parts} + {node.reserved_gpus} reserved > {node.gpus} GPUs of the node",
            ))
    for (node_id, index), milli in shares.items():
        if milli > MILLI:
            found.append(Violation(
                "gpu_share", node_id, f"GPU {index} is shared by jobs needing {milli} milli, above {MILLI}",
            ))
    for rule, need, limit_of, what in (
        ("node_cpu", cpu, lambda n: n.cpu_milli, "cpu_milli"),
        ("node_memory", memory, lambda n: n.host_memory_mib, "host_memory_mib"),
    ):
        for node_id, total in need.items():
            limit = limit_of(facts.nodes[node_id])
            if limit is not None and total > limit:
                found.append(Violation(rule, node_id, f"its jobs need {what} {total}, the node has {limit}"))
    return found


def _gpu_indices(facts: Facts, by_job: ByJob) -> list[Violation]:
    """A solution's rows: a sharing job names the GPU it shares (0 <= gpu_index < C_n); every
    other job leaves gpu_index empty. Checked on every row, kept jobs' too."""
    found = []
    for job_id, rows in by_job.items():
        job = facts.jobs[job_id]
        for node_id, _, index in rows:
            if not job.sharing:
                if index is not None:
                    message = f"is not a sharing job but its row on node '{node_id}' names gpu_index {index}"
                    found.append(Violation("sharing", job_id, message))
            elif index is None:
                found.append(Violation("sharing", job_id, f"shares a GPU but its row on node '{node_id}' names none"))
            elif not 0 <= index < facts.nodes[node_id].gpus:
                message = f"shares GPU {index} of node '{node_id}', which has {facts.nodes[node_id].gpus} GPUs"
                found.append(Violation("sharing", job_id, message))
    return found


def _duplicate_rows(by_job: ByJob) -> list[Violation]:
    """Rule 6: one row per job and node."""
    found = []
    for job_id, rows in by_job.items():
        if len(rows) < 2:
            continue
        for node, count in Counter(node for node, _, _ in rows).items():
            if count > 1:
                found.append(Violation("duplicate_row", job_id, f"{count} rows on node '{node}'"))
    return found


def _node_holders(by_job: ByJob) -> dict[str, set[str]]:
    holders: dict[str, set[str]] = defaultdict(set)
    for job_id, rows in by_job.items():
        for node, _, _ in rows:
            holders[node].add(job_id)
    return holders


def _kept_whole_nodes(facts: Facts, job: JobFacts, rows, holders) -> list[Violation]:
    """Rule 1: a node held whole by a multi-node job runs nothing else (for placed and migrated
    jobs rule 5 reports it, see :func:`_whole_nodes`)."""
    if len({node for node, _, _ in rows}) < 2:
        return []
    found = []
    for node_id, gpus, _ in rows:
        others = sorted(holders[node_id] - {job.id})
        if others and gpus == facts.nodes[node_id].gpus:
            message = f"holds node '{node_id}' whole, yet {', '.join(others)} run there"
            found.append(Violation("whole_node", job.id, message))
    return found


# ---------------------------------------------------------------- rules 3-5, one job


def _job_rules(facts: Facts, job: JobFacts, rows, holders) -> list[Violation]:
    """Rules 3-5 for a placed or migrated job."""
    held: Counter[str] = Counter()
    for node, gpus, _ in rows:
        held[node] += gpus  # duplicates are reported by rule 6; judge the node's total here
    found = _eligibility(facts, job, held)
    if job.cpu_only or job.sharing:
        return found + _one_node_kinds(job, held)
    if any(facts.nodes[n].gpu_type not in job.options for n in held):
        return found  # n_jg is undefined on a foreign type: the gang rules cannot be judged
    if len(held) == 1:
        return found + _single_node(facts, job, held)
    return found + _whole_nodes(facts, job, held, holders) + _spread(facts, job, held)


def _eligibility(facts: Facts, job: JobFacts, held: Counter) -> list[Violation]:
    """Rule 3: every node's type is an option of the job with enough memory; a CPU-only job's
    nodes account for CPU or memory (a CPU-only pool, or one with a CPU or memory limit)."""
    if job.cpu_only:
        return [
            Violation("eligibility", job.id, f"node '{node_id}' accounts for neither CPU nor memory")
            for node_id in held
            if not accounts_cpu_or_memory(facts.nodes[node_id])
        ]
    found = []
    for node_id in held:
        gpu_type = facts.nodes[node_id].gpu_type
        if gpu_type is None:
            found.append(Violation("eligibility", job.id, f"node '{node_id}' is CPU-only"))
        elif gpu_type not in job.options:
            found.append(Violation("eligibility", job.id, f"node '{node_id}' is {gpu_type}, not an option"))
        elif gpu_type not in job.fitting_types:
            found.append(Violation("eligibility", job.id, f"node '{node_id}' is {gpu_type}: too little memory"))
    return found


def _one_node_kinds(job: JobFacts, held: Counter) -> list[Violation]:
    """Rule 4: a sharing job holds 1 GPU, a CPU-only job 0, each on exactly one node."""
    kind, need = ("CPU-only", 0) if job.cpu_only else ("sharing", 1)
    if len(held) > 1:
        return [Violation("gang_single_node", job.id, f"a {kind} job runs on one node, not {len(held)}")]
    (node_id, gpus), = held.items()
    if gpus != need:
        message = f"a {kind} job holds {need} GPU{'s' if need != 1 else ''}, not {gpus} (node '{node_id}')"
        return [Violation("gang_single_node", job.id, message)]
    return []


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
    need = {g: option.gpus for g, option in job.options.items()}
    part = {n.id: coverage({n.gpu_type: n.gpus}, need) for n in nodes}
    covered = sum(part.values())
    found = []
    if covered < 1:
        found.append(Violation("coverage", job.id, f"its nodes cover {float(covered):.4g} of its need"))
    for node_id, share in part.items():
        if covered - share >= 1:
            message = f"node '{node_id}' is redundant (coverage {float(covered - share):.4g} without it)"
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


# ---------------------------------------------------------------- rules 7-9


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
    """Rule 9: min(F_t, D_t) <= H_t <= U_t, compared exactly in thousandths of a GPU."""
    demand_milli = facts.demand_milli or {t: round(d * MILLI) for t, d in facts.demand.items()}
    found = []
    for tenant in facts.tenants.values():
        held = ev.tenant_milli.get(tenant.id, 0) if ev.tenant_milli else round(ev.tenant_gpus.get(tenant.id, 0) * MILLI)
        if tenant.max_gpus is not None and held > tenant.max_gpus * MILLI:
            message = f"holds {held / MILLI:g} GPUs, above its cap of {tenant.max_gpus}"
            found.append(Violation("tenant_cap", tenant.id, message))
        demand = demand_milli[tenant.id]
        if held < min(tenant.guaranteed_gpus * MILLI, demand):
            message = (
                f"holds {held / MILLI:g} GPUs, below min(guaranteed {tenant.guaranteed_gpus}, "
                f"demand {demand / MILLI:g})"
            )
            found.append(Violation("tenant_floor", tenant.id, message))
    return found
