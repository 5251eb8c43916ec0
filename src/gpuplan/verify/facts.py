"""What the instance alone says, before any solution: nodes, pools, each job's options, whether
it *could run*, its eligible pools, the fewest GPUs it needs, and each tenant's demand.

Re-implemented from models/assignment.md (Rules) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property

from ..instance.nodes import NodeInfo, node_infos
from ..instance.schema import Instance, Job, Tenant

NO_ELIGIBLE_GPU = "no_eligible_gpu"
TOO_LARGE = "too_large"


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
    gpu_type: str
    gpus_per_node: int
    nodes: tuple[NodeInfo, ...]

    @cached_property
    def most_usable_gpus(self) -> int:
        """The most usable GPUs of any one node (0 for an empty pool)."""
        return max((node.usable_gpus for node in self.nodes), default=0)

    @cached_property
    def unreserved_nodes(self) -> int:
        return sum(1 for node in self.nodes if node.reserved_gpus == 0)


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
    options: dict[str, Option]  # every option, whatever its memory
    fitting_types: frozenset[str]  # options whose GPU memory is enough
    current: tuple[tuple[str, int], ...]  # rows now, sorted (node, gpus)
    eligible_pools: tuple[str, ...]
    memory_fit: bool  # some pool with nodes has a fitting type
    fewest_gpus: int  # the job's share of its tenant's demand (0 when it could not run)

    @property
    def running(self) -> bool:
        return bool(self.current)

    @property
    def current_gpus(self) -> int:
        return sum(gpus for _, gpus in self.current)

    @property
    def could_run(self) -> bool:
        return self.running or bool(self.eligible_pools)

    @property
    def cannot_run_reason(self) -> str | None:
        """The one reason a job that could not run must carry (None when it could run)."""
        if self.could_run:
            return None
        return TOO_LARGE if self.memory_fit else NO_ELIGIBLE_GPU


@dataclass(frozen=True)
class Facts:
    objective: str
    cross_site_penalty: float
    mixed_type_penalty: float
    nodes: dict[str, NodeInfo]
    pools: dict[str, Pool]
    jobs: dict[str, JobFacts]
    tenants: dict[str, Tenant]
    demand: dict[str, int]  # D_t

    @property
    def usable_gpus(self) -> int:
        return sum(node.usable_gpus for node in self.nodes.values())


def instance_facts(instance: Instance) -> Facts:
    infos = node_infos(instance)
    pools = _pools(instance, infos)
    memory_gb = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}
    current: dict[str, list[tuple[str, int]]] = {}
    for row in instance.current_placements:
        current.setdefault(row.job, []).append((row.node, row.gpus))
    jobs = {
        job.id: _job_facts(job, pools, memory_gb, tuple(sorted(current.get(job.id, []))))
        for job in instance.jobs
    }
    demand = {tenant.id: 0 for tenant in instance.tenants}
    for job in jobs.values():
        demand[job.tenant] = demand.get(job.tenant, 0) + job.fewest_gpus
    return Facts(
        objective=instance.options.objective,
        cross_site_penalty=instance.options.cross_site_penalty,
        mixed_type_penalty=instance.options.mixed_type_penalty,
        nodes={info.id: info for info in infos},
        pools=pools,
        jobs=jobs,
        tenants={tenant.id: tenant for tenant in instance.tenants},
        demand=demand,
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
        )
        for pool in instance.node_pools
    }


def _job_facts(job: Job, pools: dict[str, Pool], memory_gb: dict[str, float], current) -> JobFacts:
    options = {
        option.gpu_type: Option(job.gpus_on(option.gpu_type), option.throughput, option.cost_per_hour)
        for option in job.gpu_options
    }
    fitting = frozenset(g for g in options if memory_gb.get(g, 0.0) >= job.gpu_memory_gb)
    eligible = _eligible_pools(job, options, fitting, pools)
    facts = JobFacts(
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
        memory_fit=any(pool.nodes and pool.gpu_type in fitting for pool in pools.values()),
        fewest_gpus=0,
    )
    return _with_fewest_gpus(facts, pools)


def _eligible_pools(job: Job, options: dict[str, Option], fitting, pools: dict[str, Pool]) -> tuple[str, ...]:
    """Pools meeting (a) a node has room for the whole job, or (b) the job needs whole nodes
    and its scope domain around the pool holds enough free whole nodes."""
    whole = [
        p for p in pools.values() if p.gpu_type in fitting and options[p.gpu_type].gpus > p.gpus_per_node
    ]
    coverage = _domain_coverage(job, whole, options) if job.scope != "node" else {}
    eligible = []
    for pool in pools.values():
        if pool.gpu_type not in fitting:
            continue
        need = options[pool.gpu_type].gpus
        if pool.most_usable_gpus >= need or (
            need > pool.gpus_per_node and coverage.get(_domain_key(job, pool), 0) >= 1
        ):
            eligible.append(pool.id)
    return tuple(eligible)


def _domain_key(job: Job, pool: Pool) -> tuple:
    """The scope domain around ``pool`` (pod, site or the cluster), per type unless types may mix."""
    where = {"pod": pool.pod, "site": pool.site}.get(job.scope, "*")
    return (where, None if job.allow_mixed_types else pool.gpu_type)


def _domain_coverage(job: Job, whole: list[Pool], options: dict[str, Option]) -> dict[tuple, Fraction]:
    """Coverage of the unreserved nodes of the job's whole-node pools in each scope domain:
    on one type alone, or over all of them when types may mix."""
    totals: dict[tuple, Fraction] = {}
    for pool in whole:
        key = _domain_key(job, pool)
        part = Fraction(pool.unreserved_nodes * pool.gpus_per_node, options[pool.gpu_type].gpus)
        totals[key] = totals.get(key, Fraction(0)) + part
    return totals


def _with_fewest_gpus(job: JobFacts, pools: dict[str, Pool]) -> JobFacts:
    """Rule 9: the fewest GPUs a job that could run needs (0 when it could not)."""
    if not job.could_run:
        return job
    if job.running and not job.migratable:
        fewest = job.current_gpus
    else:
        needs = [job.options[pools[p].gpu_type].gpus for p in job.eligible_pools]
        if job.running:
            needs.append(job.current_gpus)
        fewest = min(needs)
    return replace(job, fewest_gpus=fewest)
