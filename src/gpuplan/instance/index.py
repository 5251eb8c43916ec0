"""Derived sparse sets of the assignment problem, built once per solve.

Everything the model iterates over is computed here: eligible (job, pool) pairs for jobs
inside one node (``pack``) and on whole nodes (``span``), how each pool's nodes are modelled
(free nodes counted, nodes held whole by one running job, shared nodes one by one), packing
patterns, running jobs and their current value, tenant demand, and the structural reason of
every job that cannot run at all. The model never filters a cross product inside a rule.
See ``models/assignment.md`` for the meaning of every set.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from .nodes import NodeInfo, node_infos
from .schema import Instance, Job

DEFAULT_MAX_PATTERNS = 400


@dataclass(frozen=True)
class PackPair:
    """Job ``job`` may run inside one node of pool ``pool`` on ``size`` GPUs."""

    job: str
    pool: str
    size: int
    throughput: float
    cost: float


@dataclass
class SpanJob:
    """A job that may run on whole nodes of one or more pools."""

    job: str
    pools: list[str]                      # eligible pools, after the scope-capacity filter
    need: dict[str, int]                  # GPU type -> GPUs needed on it
    max_nodes: dict[str, int]             # pool -> U_jk
    scope: str
    mixed_allowed: bool
    lcm: int                              # L_j: makes every coverage coefficient integral

    @property
    def types(self) -> list[str]:
        return sorted(self.need)


@dataclass
class PoolIndex:
    id: str
    pod: str
    site: str
    gpu_type: str
    gpus_per_node: int
    nodes: list[str]
    free: list[str] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)   # running job -> nodes it holds whole
    shared: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)              # descending
    patterns: list[tuple[int, ...]] = field(default_factory=list)  # counts aligned with sizes
    mode: str = "patterns"                                      # or "nodes"


@dataclass
class RunningJob:
    job: str
    rows: dict[str, int]        # node -> GPUs held now
    gpus: int
    throughput: float           # raw T_j of the current placement
    cost: float                 # raw K_j
    spans_sites: bool
    mixes_types: bool
    migratable: bool
    preemptible: bool


@dataclass
class AssignmentIndex:
    instance: Instance
    nodes: dict[str, NodeInfo]
    pools: dict[str, PoolIndex]
    jobs: list[str]                               # jobs that may run (eligible or running)
    pack: list[PackPair]
    span: dict[str, SpanJob]
    running: dict[str, RunningJob]
    node_running: dict[str, list[tuple[str, int]]]  # node -> (running job, GPUs)
    reasons: dict[str, str]                       # job that cannot run -> no_eligible_gpu | too_large
    demand: dict[str, int]                        # tenant -> D_t
    usable_gpus: int
    job_by_id: dict[str, Job] = field(default_factory=dict)

    def __post_init__(self):
        self.job_by_id = {job.id: job for job in self.instance.jobs}

    def instance_job(self, job_id: str) -> Job:
        return self.job_by_id[job_id]

    def required_but_impossible(self) -> list[str]:
        return [job.id for job in self.instance.jobs if job.required and job.id in self.reasons]


def build_index(instance: Instance, max_patterns: int = DEFAULT_MAX_PATTERNS) -> AssignmentIndex:
    nodes = {info.id: info for info in node_infos(instance)}
    running = _running_jobs(instance, nodes)
    node_running: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for job_id, run in running.items():
        for node_id, gpus in run.rows.items():
            node_running[node_id].append((job_id, gpus))
    pools = _pools(instance, nodes, node_running)
    gpu_memory = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}

    pack: list[PackPair] = []
    span: dict[str, SpanJob] = {}
    reasons: dict[str, str] = {}
    job_ids: list[str] = []
    for job in instance.jobs:
        memory_ok = [p for p in pools.values() if p.gpu_type in _types(job) and gpu_memory[p.gpu_type] >= job.gpu_memory_gb]
        job_pack, job_span = [], None
        if job.id not in running or job.migratable:
            job_pack = _pack_pairs(job, memory_ok, nodes)
            job_span = _span_job(job, memory_ok, nodes)
        pack.extend(job_pack)
        if job_span is not None:
            span[job.id] = job_span
        if job_pack or job_span is not None or job.id in running:
            job_ids.append(job.id)
        else:
            reasons[job.id] = "too_large" if memory_ok else "no_eligible_gpu"

    _choose_pool_modes(pools, pack, max_patterns)
    return AssignmentIndex(
        instance=instance,
        nodes=nodes,
        pools=pools,
        jobs=job_ids,
        pack=pack,
        span=span,
        running=running,
        node_running=dict(node_running),
        reasons=reasons,
        demand=_tenant_demand(instance, pack, span, running),
        usable_gpus=sum(info.usable_gpus for info in nodes.values()),
    )


# ---------------------------------------------------------------- eligibility


def _types(job: Job) -> set[str]:
    return {option.gpu_type for option in job.gpu_options}


def _pack_pairs(job: Job, pools: list[PoolIndex], nodes: dict[str, NodeInfo]) -> list[PackPair]:
    pairs = []
    for pool in pools:
        size = job.gpus_on(pool.gpu_type)
        if size <= pool.gpus_per_node and any(nodes[n].usable_gpus >= size for n in pool.nodes):
            option = job.option(pool.gpu_type)
            pairs.append(PackPair(job.id, pool.id, size, option.throughput, option.cost_per_hour))
    return pairs


def _span_job(job: Job, pools: list[PoolIndex], nodes: dict[str, NodeInfo]) -> SpanJob | None:
    """Whole-node pools of a job, keeping only those inside a scope domain that can cover it."""
    if job.scope == "node":
        return None
    whole_nodes = {}
    for pool in pools:
        if job.gpus_on(pool.gpu_type) > pool.gpus_per_node:
            count = sum(1 for n in pool.nodes if nodes[n].reserved_gpus == 0)
            if count:
                whole_nodes[pool.id] = count
    by_domain: dict[str, list[PoolIndex]] = defaultdict(list)
    for pool in pools:
        if pool.id in whole_nodes:
            by_domain[_domain(pool, job.scope)].append(pool)
    kept: list[PoolIndex] = []
    for members in by_domain.values():
        if job.allow_mixed_types:
            if _coverage(job, members, whole_nodes) >= 1:
                kept.extend(members)
        else:
            for gpu_type in {p.gpu_type for p in members}:
                same_type = [p for p in members if p.gpu_type == gpu_type]
                if _coverage(job, same_type, whole_nodes) >= 1:
                    kept.extend(same_type)
    if not kept:
        return None
    kept.sort(key=lambda p: p.id)
    need = {p.gpu_type: job.gpus_on(p.gpu_type) for p in kept}
    return SpanJob(
        job=job.id,
        pools=[p.id for p in kept],
        need=need,
        max_nodes={p.id: min(whole_nodes[p.id], math.ceil(need[p.gpu_type] / p.gpus_per_node)) for p in kept},
        scope=job.scope,
        mixed_allowed=job.allow_mixed_types and len(need) > 1,
        lcm=math.lcm(*need.values()),
    )


def _domain(pool: PoolIndex, scope: str) -> str:
    return {"pod": pool.pod, "site": pool.site}.get(scope, "*")


def _coverage(job: Job, pools: list[PoolIndex], whole_nodes: dict[str, int]) -> float:
    return sum(whole_nodes[p.id] * p.gpus_per_node / job.gpus_on(p.gpu_type) for p in pools)


# ---------------------------------------------------------------- running jobs and value


def _running_jobs(instance: Instance, nodes: dict[str, NodeInfo]) -> dict[str, RunningJob]:
    rows: dict[str, dict[str, int]] = defaultdict(dict)
    for row in instance.current_placements:
        rows[row.job][row.node] = row.gpus
    jobs = {job.id: job for job in instance.jobs}
    running = {}
    for job_id, job_rows in rows.items():
        job = jobs[job_id]
        per_type: dict[str, int] = defaultdict(int)
        for node_id, gpus in job_rows.items():
            per_type[nodes[node_id].gpu_type] += gpus
        coverage = {g: held / job.gpus_on(g) for g, held in per_type.items()}
        running[job_id] = RunningJob(
            job=job_id,
            rows=dict(job_rows),
            gpus=sum(job_rows.values()),
            throughput=best_split_value(coverage, {g: job.option(g).throughput for g in coverage}, maximize=True),
            cost=best_split_value(coverage, {g: job.option(g).cost_per_hour for g in coverage}, maximize=False),
            spans_sites=len({nodes[n].site for n in job_rows}) > 1,
            mixes_types=len(per_type) > 1,
            migratable=job.migratable,
            preemptible=job.preemptible,
        )
    return running


def best_split_value(coverage: dict[str, float], value: dict[str, float], maximize: bool) -> float:
    """Value of the job's work split over its types: best types first, each up to its coverage.

    A job with less than full coverage runs proportionally less (only possible for a current
    placement smaller than the job's need)."""
    remaining, total = 1.0, 0.0
    for gpu_type in sorted(coverage, key=lambda g: value[g], reverse=maximize):
        part = min(remaining, coverage[gpu_type])
        total += part * value[gpu_type]
        remaining -= part
        if remaining <= 0:
            break
    return total


# ---------------------------------------------------------------- pools, node classes, patterns


def _pools(instance: Instance, nodes: dict[str, NodeInfo], node_running) -> dict[str, PoolIndex]:
    pod_site = {pod.id: pod.site for pod in instance.pods}
    by_pool: dict[str, list[str]] = defaultdict(list)
    for node_id, info in nodes.items():
        by_pool[info.pool].append(node_id)
    pools = {}
    for pool in instance.node_pools:
        if pool.node_count == 0:
            continue
        index = PoolIndex(pool.id, pool.pod, pod_site[pool.pod], pool.gpu_type, pool.gpus_per_node, by_pool[pool.id])
        for node_id in index.nodes:
            on_node = node_running.get(node_id, [])
            if nodes[node_id].reserved_gpus == 0 and not on_node:
                index.free.append(node_id)
            elif nodes[node_id].reserved_gpus == 0 and len(on_node) == 1 and on_node[0][1] == pool.gpus_per_node:
                index.held.setdefault(on_node[0][0], []).append(node_id)
            else:
                index.shared.append(node_id)
        pools[pool.id] = index
    return pools


def _choose_pool_modes(pools: dict[str, PoolIndex], pack: list[PackPair], max_patterns: int) -> None:
    sizes: dict[str, set[int]] = defaultdict(set)
    for pair in pack:
        sizes[pair.pool].add(pair.size)
    for pool in pools.values():
        pool.sizes = sorted(sizes[pool.id], reverse=True)
        releasable = len(pool.free) + sum(len(v) for v in pool.held.values())
        budget = min(max_patterns, max(1, releasable) * max(1, len(pool.sizes)))
        patterns = maximal_patterns(pool.sizes, pool.gpus_per_node, budget) if pool.sizes else []
        if patterns is None:
            # Too many patterns for the nodes at hand: pack each node as its own knapsack.
            pool.mode = "nodes"
            pool.shared = list(pool.nodes)
            pool.free, pool.held = [], {}
        else:
            pool.patterns = patterns


def maximal_patterns(sizes: list[int], capacity: int, limit: int) -> list[tuple[int, ...]] | None:
    """All maximal multisets of ``sizes`` (descending) with sum <= capacity, as count vectors.

    A multiset is maximal when no size fits in what is left. Returns None when there are more
    than ``limit`` patterns or the search visits too many partial patterns."""
    smallest = min(sizes)
    found: list[tuple[int, ...]] = []
    counts = [0] * len(sizes)
    budget = [50 * limit + 1000]

    def extend(i: int, remaining: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if i == len(sizes):
            if remaining < smallest:
                found.append(tuple(counts))
            return len(found) <= limit
        for count in range(remaining // sizes[i], -1, -1):
            counts[i] = count
            if not extend(i + 1, remaining - count * sizes[i]):
                return False
        counts[i] = 0
        return True

    return found if extend(0, capacity) else None


# ---------------------------------------------------------------- tenants


def _tenant_demand(instance: Instance, pack, span, running) -> dict[str, int]:
    need: dict[str, int] = {}
    for pair in pack:
        need[pair.job] = min(need.get(pair.job, pair.size), pair.size)
    for job_id, span_job in span.items():
        smallest = min(span_job.need.values())
        need[job_id] = min(need.get(job_id, smallest), smallest)
    for job_id, run in running.items():
        need[job_id] = min(need.get(job_id, run.gpus), run.gpus) if run.migratable else run.gpus
    demand = {tenant.id: 0 for tenant in instance.tenants}
    for job in instance.jobs:
        demand[job.tenant] += need.get(job.id, 0)
    return demand
