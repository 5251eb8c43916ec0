"""What the instance alone says, before any solution: nodes, pools, each job's options and kind
(whole GPUs, a share of one GPU, CPU-only), whether it *could run*, its eligible pools, the
fewest GPUs it needs, and each tenant's demand.

Re-implemented from models/assignment.md (Rules) and nothing else.

GPU amounts that may be fractional (a sharing job holds s_j/1000 of a GPU) are kept exactly as
integers in thousandths of a GPU ("milli") and shown as floats (milli / 1000).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from ...instance.fields import MILLI_PER_GPU
from ...instance.nodes import NodeInfo, covers_need, node_infos
from ...instance.schema import Instance, Job, Tenant

NO_ELIGIBLE_GPU = "no_eligible_gpu"
TOO_LARGE = "too_large"
MILLI = MILLI_PER_GPU


def as_gpus(milli: int) -> float:
    """Thousandths of a GPU as GPUs."""
    return milli / MILLI


def accounts_cpu_or_memory(node: NodeInfo) -> bool:
    """A node of a CPU-only pool, or of a pool with ``cpu_milli_per_node`` or
    ``host_memory_mib_per_node``: the nodes a CPU-only job may run on (rule 3)."""
    return node.gpus == 0 or node.cpu_milli is not None or node.host_memory_mib is not None


@dataclass(frozen=True)
class Option:
    """How a job runs on one GPU type: n_jg, theta_jg, c_jg."""

    gpus: int
    throughput: float
    cost_per_hour: float


@dataclass(frozen=True)
class Pool:
    id: str
    pod: str
    site: str
    gpu_type: str | None  # None: a CPU-only pool (gpus_per_node 0)
    gpus_per_node: int
    nodes: tuple[NodeInfo, ...]
    cpu_milli: int | None = None  # P_n of its nodes; None: not limited
    host_memory_mib: int | None = None  # Q_n of its nodes; None: not limited

    @cached_property
    def most_usable_gpus(self) -> int:
        """The most usable GPUs of any one node (0 for an empty pool)."""
        return max((node.usable_gpus for node in self.nodes), default=0)

    @cached_property
    def unreserved_nodes(self) -> int:
        return sum(1 for node in self.nodes if node.reserved_gpus == 0)

    @property
    def accounts_cpu_or_memory(self) -> bool:
        """A CPU-only job may run here: a CPU-only pool, or one with a CPU or memory limit."""
        return self.gpus_per_node == 0 or self.cpu_milli is not None or self.host_memory_mib is not None

    def has_node_for(self, gpus: int, cpu_milli: int, host_memory_mib: int) -> bool:
        """Could-run (a): some node has C_n - R_n >= gpus, P_n >= cpu and Q_n >= memory (the
        pool's nodes share P_n and Q_n, so its roomiest node decides)."""
        return bool(self.nodes) and self.most_usable_gpus >= gpus and self.fits_cpu_memory(cpu_milli, host_memory_mib)

    def fits_cpu_memory(self, cpu_milli: int, host_memory_mib: int) -> bool:
        """P_k >= cpu and Q_k >= memory: what a job needs on each node it runs on."""
        return ((self.cpu_milli is None or self.cpu_milli >= cpu_milli)
                and (self.host_memory_mib is None or self.host_memory_mib >= host_memory_mib))


@dataclass(frozen=True)
class JobFacts:
    id: str
    tenant: str
    priority: float
    scope: str
    allow_mixed_types: bool
    required: bool
    migratable: bool
    preemptible: bool
    migration_cost: float
    preemption_cost: float
    options: dict[str, Option]  # every option, whatever its memory (none: a CPU-only job)
    fitting_types: frozenset[str]  # options whose GPU memory is enough
    current: tuple[tuple[str, int], ...]  # rows now, sorted (node, gpus)
    eligible_pools: tuple[str, ...]
    memory_fit: bool  # some pool with nodes has a fitting type (always, for a CPU-only job)
    fewest_milli: int = 0  # the job's share of its tenant's demand, in milli (0 when it could not run)
    share_milli: int = MILLI  # s_j; below 1000 for a sharing job
    cpu_milli: int = 0  # p_j
    host_memory_mib: int = 0  # q_j
    current_gpu_index: tuple[tuple[str, int | None], ...] = ()  # (node, gpu_index) of its rows now

    @property
    def cpu_only(self) -> bool:
        return not self.options

    @property
    def sharing(self) -> bool:
        return self.share_milli < MILLI

    @property
    def running(self) -> bool:
        return bool(self.current)

    @property
    def current_gpus(self) -> int:
        return sum(gpus for _, gpus in self.current)

    @property
    def fewest_gpus(self) -> int | float:
        """The fewest GPUs the job needs (rule 9); a float only for a sharing job."""
        return as_gpus(self.fewest_milli) if self.sharing else self.fewest_milli // MILLI

    @property
    def could_run(self) -> bool:
        return self.running or bool(self.eligible_pools)

    @property
    def cannot_run_reason(self) -> str | None:
        """The one reason a job that could not run must carry (None when it could run)."""
        if self.could_run:
            return None
        return TOO_LARGE if self.memory_fit else NO_ELIGIBLE_GPU

    def held_milli(self, gpus: int) -> int:
        """GPUs held, in milli, by a row of the job (or by all its rows, ``gpus`` summed):
        s_j for a sharing job, 0 for a CPU-only job, else ``gpus`` (rule 9)."""
        if self.sharing:
            return self.share_milli
        return 0 if self.cpu_only else gpus * MILLI

    def same_rows(self, rows) -> bool:
        """Rows (node, gpus, gpu_index) are exactly the current ones: same nodes, same GPU
        counts, and for a sharing job the same GPU index."""
        if len(rows) != len(self.current):
            return False
        if tuple(sorted((node, gpus) for node, gpus, _ in rows)) != self.current:
            return False
        if self.sharing:
            now = dict(self.current_gpu_index)
            return all(now.get(node) == index for node, _, index in rows)
        return True


@dataclass(frozen=True)
class Facts:
    objective: str
    cross_site_penalty: float
    mixed_type_penalty: float
    nodes: dict[str, NodeInfo]
    pools: dict[str, Pool]
    jobs: dict[str, JobFacts]
    tenants: dict[str, Tenant]
    demand: dict[str, float]  # D_t
    demand_milli: dict[str, int] | None = None  # D_t in milli (exact)

    @cached_property
    def usable_gpus(self) -> int:
        return sum(node.usable_gpus for node in self.nodes.values())


def instance_facts(instance: Instance) -> Facts:
    infos = node_infos(instance)
    pools = _pools(instance, infos)
    memory_gb = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}
    current: dict[str, list[tuple[str, int]]] = {}
    current_index: dict[str, list[tuple[str, int | None]]] = {}
    for row in instance.current_placements:
        current.setdefault(row.job, []).append((row.node, row.gpus))
        current_index.setdefault(row.job, []).append((row.node, row.gpu_index))
    supply = _Supply(pools)
    jobs = {
        job.id: _job_facts(
            job, supply, memory_gb, tuple(sorted(current.get(job.id, []))), tuple(current_index.get(job.id, []))
        )
        for job in instance.jobs
    }
    demand_milli = {tenant.id: 0 for tenant in instance.tenants}
    for job in jobs.values():
        demand_milli[job.tenant] = demand_milli.get(job.tenant, 0) + job.fewest_milli
    return Facts(
        objective=instance.options.objective,
        cross_site_penalty=instance.options.cross_site_penalty,
        mixed_type_penalty=instance.options.mixed_type_penalty,
        nodes={info.id: info for info in infos},
        pools=pools,
        jobs=jobs,
        tenants={tenant.id: tenant for tenant in instance.tenants},
        demand={t: as_gpus(milli) for t, milli in demand_milli.items()},
        demand_milli=demand_milli,
    )


def _pools(instance: Instance, infos: list[NodeInfo]) -> dict[str, Pool]:
    members: dict[str, list[NodeInfo]] = {pool.id: [] for pool in instance.node_pools}
    for info in infos:
        members[info.pool].append(info)
    pod_site = {pod.id: pod.site for pod in instance.pods}
    return {
        pool.id: Pool(
            id=pool.id,
            pod=pool.pod,
            site=pod_site.get(pool.pod, pool.site or ""),
            gpu_type=pool.gpu_type,
            gpus_per_node=pool.gpus_per_node,
            nodes=tuple(members[pool.id]),
            cpu_milli=pool.cpu_milli_per_node,
            host_memory_mib=pool.host_memory_mib_per_node,
        )
        for pool in instance.node_pools
    }


class _Supply:
    """Per-pool facts computed once for all jobs: pools by GPU type (in file order) and the
    types that have nodes."""

    def __init__(self, pools: dict[str, Pool]):
        self.pools = pools
        self.all = tuple(pools.values())
        self.by_type: dict[str | None, list[Pool]] = defaultdict(list)
        for pool in self.all:
            self.by_type[pool.gpu_type].append(pool)
        self.order = {pool.id: i for i, pool in enumerate(self.all)}
        self.types_with_nodes = frozenset(p.gpu_type for p in self.all if p.nodes and p.gpu_type is not None)
        self.eligible: dict[tuple, tuple[str, ...]] = {}  # eligible pools by job signature
        # the distinct CPU / memory limits of the pools: a job's need matters only by its rank
        self.cpu_limits = sorted({p.cpu_milli for p in self.all if p.cpu_milli is not None})
        self.memory_limits = sorted({p.host_memory_mib for p in self.all if p.host_memory_mib is not None})

    def eligible_pools(self, job: Job, options: dict[str, Option], fitting) -> tuple[str, ...]:
        """:func:`_eligible_pools`, once per signature: jobs alike in what eligibility reads
        (kind, n_jg of the fitting types, scope, mixing, and which pool limits their CPU and
        memory fit) share the answer."""
        key = (
            bool(options), tuple(sorted((g, options[g].gpus) for g in fitting)), job.scope,
            job.allow_mixed_types, bisect_left(self.cpu_limits, job.cpu_milli),
            bisect_left(self.memory_limits, job.host_memory_mib),
        )
        found = self.eligible.get(key)
        if found is None:
            found = self.eligible[key] = _eligible_pools(job, options, fitting, self)
        return found


def _job_facts(job: Job, supply: _Supply, memory_gb: dict[str, float], current, current_index) -> JobFacts:
    default = job.gpus  # n_jg: gpu_options[].gpus, default jobs[].gpus
    options = {
        option.gpu_type: Option(
            default if option.gpus is None else option.gpus, option.throughput, option.cost_per_hour
        )
        for option in job.gpu_options
    }
    fitting = frozenset(g for g in options if memory_gb.get(g, 0.0) >= job.gpu_memory_gb)
    eligible = supply.eligible_pools(job, options, fitting)
    return JobFacts(
        id=job.id,
        tenant=job.tenant,
        priority=job.priority,
        scope=job.scope,
        allow_mixed_types=job.allow_mixed_types,
        required=job.required,
        migratable=job.migratable,
        preemptible=job.preemptible,
        migration_cost=job.migration_cost,
        preemption_cost=job.preemption_cost,
        options=options,
        fitting_types=fitting,
        current=current,
        eligible_pools=eligible,
        memory_fit=not options or bool(fitting & supply.types_with_nodes),
        fewest_milli=_fewest_milli(job, options, eligible, current, supply.pools),
        share_milli=job.gpu_share_milli,
        cpu_milli=job.cpu_milli,
        host_memory_mib=job.host_memory_mib,
        current_gpu_index=current_index,
    )


def _eligible_pools(job: Job, options: dict[str, Option], fitting, supply: _Supply) -> tuple[str, ...]:
    """Pools meeting (a) a node has room for the whole job (GPUs, CPU and memory), or (b) the
    job needs whole nodes and its scope domain around the pool holds enough free whole nodes.
    A CPU-only job may use any pool that accounts for CPU or memory: (a) with 0 GPUs."""
    cpu, memory = job.cpu_milli, job.host_memory_mib
    if not options:
        return tuple(
            pool.id for pool in supply.all if pool.accounts_cpu_or_memory and pool.has_node_for(0, cpu, memory)
        )
    candidates = [pool for g in fitting for pool in supply.by_type.get(g, ())]
    # (b) a job on whole nodes needs its CPU and memory on each of them
    whole = [pool for pool in candidates
             if options[pool.gpu_type].gpus > pool.gpus_per_node and pool.fits_cpu_memory(cpu, memory)]
    covered = _covered_domains(job, whole, options) if whole and job.scope != "node" else frozenset()
    whole_ids = {pool.id for pool in whole}
    eligible = [
        pool
        for pool in candidates
        if pool.has_node_for(options[pool.gpu_type].gpus, cpu, memory)
        or (pool.id in whole_ids and _domain_key(job, pool) in covered)
    ]
    eligible.sort(key=lambda pool: supply.order[pool.id])
    return tuple(pool.id for pool in eligible)


def _domain_key(job: Job, pool: Pool) -> tuple:
    """The scope domain around ``pool`` (pod, site or the cluster), per type unless types may mix."""
    where = {"pod": pool.pod, "site": pool.site}.get(job.scope, "*")
    return (where, None if job.allow_mixed_types else pool.gpu_type)


def _covered_domains(job: Job, whole: list[Pool], options: dict[str, Option]) -> frozenset[tuple]:
    """The scope domains whose unreserved nodes of the job's whole-node pools reach coverage 1:
    on one type alone, or over all of them when types may mix. GPUs are summed per domain and
    type in integers; coverage sum_g G_g / n_jg is formed once per domain."""
    gpus: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pool in whole:
        gpus[_domain_key(job, pool)][pool.gpu_type] += pool.unreserved_nodes * pool.gpus_per_node
    need = {g: option.gpus for g, option in options.items()}
    return frozenset(key for key, per_type in gpus.items() if covers_need(per_type, need))


def _fewest_milli(job: Job, options: dict[str, Option], eligible, current, pools: dict[str, Pool]) -> int:
    """Rule 9: the fewest GPUs a job that could run needs, in milli (0 when it could not): its
    current GPUs if it runs and is not migratable, else min_g n_jg over its eligible pools'
    types (and its current GPUs if it runs); s_j for a sharing job, 0 for a CPU-only job."""
    if not (current or eligible) or not options:
        return 0
    if job.gpu_share_milli < MILLI:
        return job.gpu_share_milli
    current_gpus = sum(gpus for _, gpus in current)
    if current and not job.migratable:
        return current_gpus * MILLI
    needs = [options[pools[p].gpu_type].gpus for p in eligible]
    if current:
        needs.append(current_gpus)
    return min(needs) * MILLI
