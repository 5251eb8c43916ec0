"""Derived sparse sets of the assignment problem, built once per solve.

Everything the model iterates over is computed here, so that the model never filters a cross
product inside a rule:

- **GPU classes** (GPU type x GPUs per node): a job inside one node cares about nothing else,
  so sub-node placement is decided per class, with packing patterns over the class's free
  nodes and per-node knapsacks on *shared* nodes (reserved GPUs, partly used by running jobs).
- **Whole-node units**: a pod-scoped job takes whole nodes of a pool (one GPU class in one
  pod); a site- or anywhere-scoped job takes them from a site class (one GPU class in one
  site). Pools, site classes and classes form a laminar family, so node supply is checked
  once per level and the counts can always be turned into distinct nodes.
- **Job groups**: jobs identical in every field the model reads (and not running, and never
  on whole nodes) are one group decided by a count; this is exact.
- Running jobs, their current value, tenant demand and entitlements, and why a job can never
  run.

See ``models/assignment.md`` for the meaning of every set.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Container

from ..instance.nodes import NodeInfo, covers_need, holds_node_whole, node_infos
from ..instance.schema import Instance, Job

DEFAULT_MAX_PATTERNS = 400


@dataclass(frozen=True)
class PackPair:
    """Group ``group`` may run inside one node of GPU class ``gpu_class`` on ``size`` GPUs
    (1 for a job sharing a GPU, 0 for a CPU-only job)."""

    group: str
    gpu_class: str
    size: int
    throughput: float
    cost: float


@dataclass
class JobGroup:
    id: str
    jobs: list[str]             # members, in instance order
    tenant: str
    required: bool
    share_milli: int = 1000     # below 1000: each member shares one GPU
    cpu_milli: int = 0
    host_memory_mib: int = 0
    cpu_only: bool = False

    @property
    def count(self) -> int:
        return len(self.jobs)

    @property
    def sharing(self) -> bool:
        return self.share_milli < 1000

    def held_gpus(self, size: int) -> float:
        """GPUs one member holds on ``size`` GPUs: its share when sharing, 0 when CPU-only."""
        return self.share_milli / 1000 if self.sharing else float(size)


@dataclass
class GpuClass:
    """All pools of one GPU type and node size: interchangeable for jobs inside one node."""

    id: str
    gpu_type: str
    gpus_per_node: int
    pools: list[str]
    sizes: list[int] = field(default_factory=list)                 # descending
    patterns: list[tuple[int, ...]] = field(default_factory=list)  # counts aligned with sizes
    mode: str = "patterns"    # or "nodes", "knapsack" (one node), "assign" (jobs per node: CPU, memory, shares)
    shared: list[str] = field(default_factory=list)                # nodes with their own knapsack


@dataclass
class SpanUnit:
    """Where a spanning job takes whole nodes: a pool (scope pod) or a site class (site, any)."""

    id: str
    level: str                  # "pool" or "site"
    pools: list[str]
    gpu_class: str
    gpu_type: str
    gpus_per_node: int
    site: str
    pod: str | None             # None for site-level units
    whole_nodes: int            # nodes without reserved GPUs


@dataclass
class SpanJob:
    """A job that may run on whole nodes of one or more units."""

    job: str
    units: list[str]                      # eligible units, after the scope-capacity filter
    need: dict[str, int]                  # GPU type -> GPUs needed on it
    max_nodes: dict[str, int]             # unit -> U_ju
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
    gpu_class: str
    site_class: str
    nodes: list[str]
    free: list[str] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)   # running job -> nodes it holds whole
    shared: list[str] = field(default_factory=list)

    def free_or_released(self, kept: Container[str] = ()) -> list[str]:
        """Nodes the pool gives whole without touching a shared node: the free ones, then those
        held whole by running jobs not in ``kept`` (by default every running job lets go)."""
        return self.free + [n for r, nodes in self.held.items() if r not in kept for n in nodes]


@dataclass
class RunningJob:
    job: str
    rows: dict[str, int]        # node -> GPUs held now
    gpus: float                 # GPUs held (a share for a sharing job, 0 for a CPU-only job)
    throughput: float           # raw T_j of the current placement
    cost: float                 # raw K_j
    spans_sites: bool
    mixes_types: bool
    migratable: bool
    preemptible: bool
    gpu_index: dict[str, int] = field(default_factory=dict)   # sharing job: node -> GPU it shares
    share_milli: int = 1000
    cpu_milli: int = 0
    host_memory_mib: int = 0

    @property
    def sharing(self) -> bool:
        return self.share_milli < 1000

    def holds_whole(self, node: str, node_gpus: int) -> bool:
        return holds_node_whole(len(self.rows), self.rows.get(node, 0), node_gpus)


@dataclass
class AssignmentIndex:
    instance: Instance
    nodes: dict[str, NodeInfo]
    pools: dict[str, PoolIndex]
    classes: dict[str, GpuClass]
    site_classes: dict[str, list[str]]            # site class -> its pools
    units: dict[str, SpanUnit]
    groups: dict[str, JobGroup]
    jobs: list[str]                               # jobs that may run (eligible or running)
    pack: list[PackPair]
    node_pack: dict[tuple[str, str], int]         # (group, node) -> GPUs, for classes in assign mode
    span: dict[str, SpanJob]
    running: dict[str, RunningJob]
    node_running: dict[str, list[tuple[str, int]]]  # node -> (running job, GPUs)
    reasons: dict[str, str]                       # job that cannot run -> no_eligible_gpu | too_large
    demand: dict[str, float]                      # tenant -> D_t
    usable_gpus: int
    job_by_id: dict[str, Job] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)
    pack_by_group: dict[str, list[PackPair]] = field(default_factory=dict)

    def __post_init__(self):
        self.job_by_id = {job.id: job for job in self.instance.jobs}
        self.group_of = {j: g.id for g in self.groups.values() for j in g.jobs}
        self.pack_by_group = defaultdict(list)
        for pair in self.pack:
            self.pack_by_group[pair.group].append(pair)

    def instance_job(self, job_id: str) -> Job:
        return self.job_by_id[job_id]

    def pack_pairs_of_job(self, job_id: str) -> list[PackPair]:
        group = self.group_of.get(job_id)
        return self.pack_by_group.get(group, []) if group else []

    def required_but_impossible(self) -> list[str]:
        return [job.id for job in self.instance.jobs if job.required and job.id in self.reasons]


def build_index(instance: Instance, max_patterns: int = DEFAULT_MAX_PATTERNS, aggregate: bool = True) -> AssignmentIndex:
    nodes = {info.id: info for info in node_infos(instance)}
    running = _running_jobs(instance, nodes)
    node_running: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for job_id, run in running.items():
        for node_id, gpus in run.rows.items():
            node_running[node_id].append((job_id, gpus))
    pools = _pools(instance, nodes, node_running)
    classes = _classes(pools)
    site_classes: dict[str, list[str]] = defaultdict(list)
    for pool in pools.values():
        site_classes[pool.site_class].append(pool.id)
    units = _units(pools, site_classes, nodes)
    gpu_memory = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}

    pack_by_job: dict[str, list[tuple[str, int]]] = {}
    span: dict[str, SpanJob] = {}
    reasons: dict[str, str] = {}
    job_ids: list[str] = []
    for job in instance.jobs:
        memory_ok = [p for p in pools.values()
                     if (job.cpu_only and accounts_cpu(p, nodes))
                     or (p.gpu_type in _types(job) and gpu_memory[p.gpu_type] >= job.gpu_memory_gb)]
        if job.id not in running or job.migratable:
            pack_by_job[job.id] = _pack_classes(job, memory_ok, nodes)
            job_span = None if job.cpu_only or job.fractional else _span_job(job, memory_ok, units, nodes)
            if job_span is not None:
                span[job.id] = job_span
        if pack_by_job.get(job.id) or job.id in span or job.id in running:
            job_ids.append(job.id)
        else:
            reasons[job.id] = "too_large" if memory_ok or job.cpu_only else "no_eligible_gpu"

    groups = _groups(instance, job_ids, pack_by_job, span, running, aggregate)
    jobs = {job.id: job for job in instance.jobs}
    pack = [
        PackPair(group.id, gpu_class, size, *_option_value(jobs[group.id], classes[gpu_class].gpu_type))
        for group in groups.values()
        for gpu_class, size in pack_by_job.get(group.id, [])
    ]
    _mark_assign_classes(classes, pools, pack, groups, running, nodes)
    _choose_class_modes(classes, pools, pack, max_patterns)
    node_pack = _node_pairs(classes, pools, pack, groups, nodes, running)
    return AssignmentIndex(
        instance=instance,
        nodes=nodes,
        pools=pools,
        classes=classes,
        site_classes=dict(site_classes),
        units=units,
        groups=groups,
        jobs=job_ids,
        pack=pack,
        node_pack=node_pack,
        span=span,
        running=running,
        node_running=dict(node_running),
        reasons=reasons,
        demand=_tenant_demand(instance, pack_by_job, span, running),
        usable_gpus=sum(info.usable_gpus for info in nodes.values()),
    )


# ---------------------------------------------------------------- eligibility


def accounts_cpu(pool: PoolIndex, nodes: dict[str, NodeInfo]) -> bool:
    """CPU-only jobs run only where CPU or memory is accounted for (see the Rules)."""
    info = nodes[pool.nodes[0]]
    return pool.gpus_per_node == 0 or info.cpu_milli is not None or info.host_memory_mib is not None


def _types(job: Job) -> set[str]:
    return {option.gpu_type for option in job.gpu_options}


def _option_value(job: Job, gpu_type: str | None) -> tuple[float, float]:
    if job.cpu_only:
        return 0.0, 0.0
    option = job.option(gpu_type)
    return option.throughput, option.cost_per_hour


def job_size(job: Job, gpu_type: str | None) -> int:
    """GPUs a job needs on one node of ``gpu_type``: 1 when sharing a GPU, 0 when CPU-only."""
    return 0 if job.cpu_only else job.gpus_on(gpu_type)


def fits_node(job: Job, info: NodeInfo, size: int) -> bool:
    """The job's GPUs, CPU and host memory fit the node's usable capacity."""
    return (info.usable_gpus >= size
            and (info.cpu_milli is None or info.cpu_milli >= job.cpu_milli)
            and (info.host_memory_mib is None or info.host_memory_mib >= job.host_memory_mib))


def _pack_classes(job: Job, pools: list[PoolIndex], nodes: dict[str, NodeInfo]) -> list[tuple[str, int]]:
    """GPU classes where the job fits inside one node (some node has the GPUs, CPU and memory)."""
    found: dict[str, int] = {}
    for pool in pools:
        size = job_size(job, pool.gpu_type)
        if pool.gpu_class not in found and size <= pool.gpus_per_node \
                and any(fits_node(job, nodes[n], size) for n in pool.nodes):
            found[pool.gpu_class] = size
    return sorted(found.items())


def _span_job(job: Job, pools: list[PoolIndex], units: dict[str, SpanUnit], nodes: dict[str, NodeInfo]) -> SpanJob | None:
    """Whole-node units of a job, keeping only those inside a scope domain that can cover it."""
    if job.scope == "node":
        return None
    level = "pool" if job.scope == "pod" else "site"
    eligible_pools = {p.id for p in pools if job.gpus_on(p.gpu_type) > p.gpus_per_node
                      and fits_node(job, nodes[p.nodes[0]], 0)}   # CPU and memory on every node
    candidates = [u for u in units.values()
                  if u.level == level and u.whole_nodes and eligible_pools.intersection(u.pools)]
    by_domain: dict[str, list[SpanUnit]] = defaultdict(list)
    for unit in candidates:
        by_domain[{"pod": unit.pod, "site": unit.site}.get(job.scope, "*")].append(unit)
    kept: list[SpanUnit] = []
    for members in by_domain.values():
        if job.allow_mixed_types:
            if _covers(job, members):
                kept.extend(members)
        else:
            for gpu_type in {u.gpu_type for u in members}:
                same_type = [u for u in members if u.gpu_type == gpu_type]
                if _covers(job, same_type):
                    kept.extend(same_type)
    if not kept:
        return None
    kept.sort(key=lambda u: u.id)
    need = {u.gpu_type: job.gpus_on(u.gpu_type) for u in kept}
    return SpanJob(
        job=job.id,
        units=[u.id for u in kept],
        need=need,
        max_nodes={u.id: min(u.whole_nodes, math.ceil(need[u.gpu_type] / u.gpus_per_node)) for u in kept},
        scope=job.scope,
        mixed_allowed=job.allow_mixed_types and len(need) > 1,
        lcm=math.lcm(*need.values()),
    )


def _covers(job: Job, units: list[SpanUnit]) -> bool:
    """All the free whole nodes of ``units`` together cover the job (rule 5, exact)."""
    gpus: dict[str, int] = defaultdict(int)
    for u in units:
        gpus[u.gpu_type] += u.whole_nodes * u.gpus_per_node
    return covers_need(gpus, {g: job.gpus_on(g) for g in gpus})


# ---------------------------------------------------------------- groups of identical jobs


def _groups(instance, job_ids, pack_by_job, span, running, aggregate: bool) -> dict[str, JobGroup]:
    """Jobs identical in every field the model reads become one group (only jobs that are not
    running and never take whole nodes: those have per-job choices)."""
    jobs = {job.id: job for job in instance.jobs}
    groups: dict[object, JobGroup] = {}
    for job_id in job_ids:
        job = jobs[job_id]
        if aggregate and job_id not in span and job_id not in running:
            key = (job.tenant, job.priority, job.gpu_memory_gb, job.required, job.gpu_share_milli, job.cpu_milli,
                   job.host_memory_mib,
                   tuple((o.gpu_type, job.gpus_on(o.gpu_type), o.throughput, o.cost_per_hour) for o in job.gpu_options))
        else:
            key = ("single", job_id)
        if key in groups:
            groups[key].jobs.append(job_id)
        else:
            groups[key] = JobGroup(job_id, [job_id], job.tenant, job.required, job.gpu_share_milli, job.cpu_milli,
                                   job.host_memory_mib, job.cpu_only)
    return {group.id: group for group in groups.values()}


# ---------------------------------------------------------------- running jobs and value


def _running_jobs(instance: Instance, nodes: dict[str, NodeInfo]) -> dict[str, RunningJob]:
    rows: dict[str, dict[str, int]] = defaultdict(dict)
    gpu_index: dict[str, dict[str, int]] = defaultdict(dict)
    for row in instance.current_placements:
        rows[row.job][row.node] = row.gpus
        if row.gpu_index is not None:
            gpu_index[row.job][row.node] = row.gpu_index
    jobs = {job.id: job for job in instance.jobs}
    running = {}
    for job_id, job_rows in rows.items():
        job = jobs[job_id]
        per_type: dict[str, int] = defaultdict(int)
        for node_id, gpus in job_rows.items():
            if gpus:
                per_type[nodes[node_id].gpu_type] += gpus
        coverage = {g: held / job.gpus_on(g) for g, held in per_type.items()}
        running[job_id] = RunningJob(
            job=job_id,
            rows=dict(job_rows),
            gpus=job.gpu_share_milli / 1000 if job.fractional else float(sum(job_rows.values())),
            throughput=best_split_value(coverage, {g: job.option(g).throughput for g in coverage}, maximize=True),
            cost=best_split_value(coverage, {g: job.option(g).cost_per_hour for g in coverage}, maximize=False),
            spans_sites=len({nodes[n].site for n in job_rows}) > 1,
            mixes_types=len(per_type) > 1,
            migratable=job.migratable,
            preemptible=job.preemptible,
            gpu_index=dict(gpu_index[job_id]),
            share_milli=job.gpu_share_milli,
            cpu_milli=job.cpu_milli,
            host_memory_mib=job.host_memory_mib,
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


# ---------------------------------------------------------------- pools, classes, units, patterns


def class_id(gpu_type: str | None, gpus_per_node: int) -> str:
    return f"{gpu_type or 'cpu'}/{gpus_per_node}"


def _pools(instance: Instance, nodes: dict[str, NodeInfo], node_running) -> dict[str, PoolIndex]:
    pod_site = {pod.id: pod.site for pod in instance.pods}
    by_pool: dict[str, list[str]] = defaultdict(list)
    for node_id, info in nodes.items():
        by_pool[info.pool].append(node_id)
    pools = {}
    for pool in instance.node_pools:
        if pool.node_count == 0:
            continue
        site = pod_site[pool.pod]
        gpu_class = class_id(pool.gpu_type, pool.gpus_per_node)
        index = PoolIndex(pool.id, pool.pod, site, pool.gpu_type, pool.gpus_per_node, gpu_class,
                          _site_class(site, gpu_class, pool), by_pool[pool.id])
        for node_id in index.nodes:
            on_node = node_running.get(node_id, [])
            if nodes[node_id].reserved_gpus == 0 and not on_node:
                index.free.append(node_id)
            elif nodes[node_id].reserved_gpus == 0 and len(on_node) == 1 and on_node[0][1] == pool.gpus_per_node > 0:
                index.held.setdefault(on_node[0][0], []).append(node_id)
            else:
                index.shared.append(node_id)
        pools[pool.id] = index
    return pools


def _site_class(site: str, gpu_class: str, pool) -> str:
    """The pools of a site whose nodes are interchangeable for a job on whole nodes: same GPU
    class and the same CPU and memory per node (a whole-node job needs its CPU and memory on
    each node, so pools that differ there cannot share one supply)."""
    limits = "".join(f"/{name}{value}" for name, value in (("cpu", pool.cpu_milli_per_node),
                                                           ("mem", pool.host_memory_mib_per_node))
                     if value is not None)
    return f"{site}/{gpu_class}{limits}"


def _classes(pools: dict[str, PoolIndex]) -> dict[str, GpuClass]:
    classes: dict[str, GpuClass] = {}
    for pool in pools.values():
        if pool.gpu_class not in classes:
            classes[pool.gpu_class] = GpuClass(pool.gpu_class, pool.gpu_type, pool.gpus_per_node, [])
        classes[pool.gpu_class].pools.append(pool.id)
    return classes


def _units(pools: dict[str, PoolIndex], site_classes: dict[str, list[str]], nodes) -> dict[str, SpanUnit]:
    def whole(pool_ids):
        return sum(1 for k in pool_ids for n in pools[k].nodes if nodes[n].reserved_gpus == 0)

    units = {}
    for pool in pools.values():
        units[pool.id] = SpanUnit(pool.id, "pool", [pool.id], pool.gpu_class, pool.gpu_type, pool.gpus_per_node,
                                  pool.site, pool.pod, whole([pool.id]))
    for site_class, pool_ids in site_classes.items():
        first = pools[pool_ids[0]]
        if site_class in units:
            raise ValueError(f"pool id '{site_class}' clashes with a site class name; rename the pool")
        units[site_class] = SpanUnit(site_class, "site", list(pool_ids), first.gpu_class, first.gpu_type,
                                     first.gpus_per_node, first.site, None, whole(pool_ids))
    return units


def _mark_assign_classes(classes, pools, pack, groups, running, nodes) -> None:
    """Classes whose jobs need CPU or memory of limited nodes, share GPUs or need no GPU are
    decided job by node ("assign" mode): their nodes are knapsacks in several dimensions."""
    limited = {c for c, cls in classes.items()
               if any(nodes[n].cpu_milli is not None or nodes[n].host_memory_mib is not None
                      for k in cls.pools for n in pools[k].nodes)}
    for pair in pack:
        group = groups[pair.group]
        if group.sharing or group.cpu_only or ((group.cpu_milli or group.host_memory_mib) and pair.gpu_class in limited):
            classes[pair.gpu_class].mode = "assign"
    for run in running.values():
        for node in run.rows:
            info = nodes[node]
            if run.sharing or not run.gpus or ((run.cpu_milli or run.host_memory_mib)
                                               and (info.cpu_milli is not None or info.host_memory_mib is not None)):
                classes[pools[info.pool].gpu_class].mode = "assign"


def _node_pairs(classes, pools, pack, groups, nodes, running) -> dict[tuple[str, str], int]:
    """(group, node) -> GPUs for every node of an assign-mode class the group fits, next to the
    running jobs that must stay (neither migratable nor preemptible)."""
    left = _room_beside_pinned(nodes, running)
    pairs = {}
    for pair in pack:
        gpu_class = classes[pair.gpu_class]
        if gpu_class.mode != "assign":
            continue
        group = groups[pair.group]
        for k in gpu_class.pools:
            if group.cpu_only and not accounts_cpu(pools[k], nodes):
                continue
            for n in pools[k].nodes:
                gpus, cpu, memory, share = left[n]
                fits = (gpus >= pair.size or (group.sharing and share >= group.share_milli)) \
                    and (cpu is None or cpu >= group.cpu_milli) and (memory is None or memory >= group.host_memory_mib)
                if fits:
                    pairs[pair.group, n] = pair.size
    return pairs


def _room_beside_pinned(nodes, running) -> dict[str, tuple]:
    """Per node: free GPUs, CPU, memory and the largest free share of a shared GPU once the
    running jobs that must stay are counted (a pinned multi-node job leaves nothing)."""
    gpus = {n: info.usable_gpus for n, info in nodes.items()}
    cpu = {n: info.cpu_milli for n, info in nodes.items()}
    memory = {n: info.host_memory_mib for n, info in nodes.items()}
    shares: dict[str, dict[int, int]] = defaultdict(dict)
    for run in running.values():
        if run.migratable or run.preemptible:
            continue
        for n, held in run.rows.items():
            if run.sharing:
                index = run.gpu_index[n]
                if index not in shares[n]:
                    gpus[n] -= 1
                shares[n][index] = shares[n].get(index, 0) + run.share_milli
            else:
                gpus[n] -= held
            if cpu[n] is not None:
                cpu[n] -= run.cpu_milli
            if memory[n] is not None:
                memory[n] -= run.host_memory_mib
    return {n: (gpus[n], cpu[n], memory[n], max((1000 - used for used in shares[n].values()), default=0))
            for n in nodes}


def _choose_class_modes(classes: dict[str, GpuClass], pools: dict[str, PoolIndex], pack: list[PackPair],
                        max_patterns: int) -> None:
    sizes: dict[str, set[int]] = defaultdict(set)
    for pair in pack:
        sizes[pair.gpu_class].add(pair.size)
    for gpu_class in classes.values():
        gpu_class.sizes = sorted(sizes[gpu_class.id], reverse=True)
        members = [pools[k] for k in gpu_class.pools]
        if gpu_class.mode == "assign":
            for pool in members:
                pool.shared, pool.free, pool.held = list(pool.nodes), [], {}
            gpu_class.shared = [n for pool in members for n in pool.shared]
            continue
        if sum(len(p.nodes) for p in members) == 1:
            # One node: its knapsack row over the jobs themselves is exact and the tightest.
            gpu_class.mode = "knapsack"
            for pool in members:
                pool.shared, pool.free, pool.held = list(pool.nodes), [], {}
            gpu_class.shared = [n for pool in members for n in pool.shared]
            continue
        releasable = sum(len(p.free_or_released()) for p in members)
        budget = min(max_patterns, max(1, releasable) * max(1, len(gpu_class.sizes)))
        patterns = maximal_patterns(gpu_class.sizes, gpu_class.gpus_per_node, budget) if gpu_class.sizes else []
        if patterns is None:
            # Too many patterns for the nodes at hand: pack each node as its own knapsack.
            gpu_class.mode = "nodes"
            for pool in members:
                pool.shared = list(pool.nodes)
                pool.free, pool.held = [], {}
        else:
            gpu_class.patterns = patterns
        gpu_class.shared = [n for pool in members for n in pool.shared]


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


def _tenant_demand(instance: Instance, pack_by_job, span, running) -> dict[str, float]:
    jobs = {job.id: job for job in instance.jobs}
    need: dict[str, float] = {}
    for job_id, pairs in pack_by_job.items():
        if pairs:
            job = jobs[job_id]
            need[job_id] = job.gpu_share_milli / 1000 if job.fractional else min(size for _, size in pairs)
    for job_id, span_job in span.items():
        smallest = min(span_job.need.values())
        need[job_id] = min(need.get(job_id, smallest), smallest)
    for job_id, run in running.items():
        need[job_id] = min(need.get(job_id, run.gpus), run.gpus) if run.migratable else run.gpus
    demand = {tenant.id: 0.0 for tenant in instance.tenants}
    for job in instance.jobs:
        demand[job.tenant] += need.get(job.id, 0)
    return demand


def tenant_entitlements(instance: Instance, idx: AssignmentIndex) -> dict[str, float]:
    """E_t = min(D_t, M_t, usable GPUs x weight share), over tenants with demand: a tenant is
    never owed more than it asks for or than its cap lets it hold."""
    with_demand = [t for t in instance.tenants if idx.demand[t.id] > 0]
    total_weight = sum(t.weight for t in with_demand)
    return {t.id: min(idx.demand[t.id], _cap(t.max_gpus), idx.usable_gpus * t.weight / total_weight)
            for t in with_demand}


def _cap(max_gpus: int | None) -> float:
    return float("inf") if max_gpus is None else max_gpus
