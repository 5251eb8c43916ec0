"""Cross-entity rules of an instance: unique ids, references, the current placement's capacity.

Each rule yields ``(location, message)`` where the location is the pydantic-style path of the
offending value, so the loader can point at the JSON field or the CSV line. A job that can
never fit is *not* an input error: the model reports it unplaced with its reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterator

from ..limits import MAX_COEFFICIENT_RANGE, MAX_GPUS, MAX_NODES
from .nodes import generated_node_ids, holds_node_whole, node_info_by_id
from .fields import MILLI_PER_GPU
from .schedule_checks import has_schedule_sections, schedule_problems
from .schema import Instance

Problem = tuple[tuple, str]

_ID_TABLES = ("gpu_types", "sites", "pods", "node_pools", "nodes", "tenants", "jobs")


def first_problem(instance: Instance) -> Problem | None:
    for problem in all_problems(instance):
        return problem
    return None


def all_problems(instance: Instance) -> Iterator[Problem]:
    yield from _sizes(instance)  # first: the other rules enumerate nodes
    yield from _coefficient_range(instance)
    yield from _duplicate_ids(instance)
    yield from _topology_references(instance)
    yield from _listed_nodes(instance)
    yield from _job_references(instance)
    yield from _current_placements(instance)
    yield from _whole_nodes_alone(instance)
    if has_schedule_sections(instance):
        yield from schedule_problems(instance)


def _sizes(instance: Instance) -> Iterator[Problem]:
    """At most MAX_NODES nodes and MAX_GPUS GPUs in all (limits.py); the pool that crosses the
    bound is named."""
    nodes = gpus = 0
    for i, pool in enumerate(instance.node_pools):
        nodes += pool.node_count
        gpus += pool.node_count * pool.gpus_per_node
        if nodes > MAX_NODES:
            yield ("node_pools", i, "node_count"), f"the instance has more than {MAX_NODES:,} nodes up to this pool"
            return
        if gpus > MAX_GPUS:
            yield ("node_pools", i, "node_count"), f"the instance has more than {MAX_GPUS:,} GPUs up to this pool"
            return


def _coefficient_range(instance: Instance) -> Iterator[Problem]:
    """The nonzero objective coefficients (priority x throughput, costs, prices, values) within
    a factor MAX_COEFFICIENT_RANGE of each other, so that HiGHS can honour them (limits.py)."""
    smallest = largest = None
    for loc, value in _objective_coefficients(instance):
        value = abs(value)   # prices may be negative
        if value <= 0:
            continue
        if smallest is None or value < smallest[1]:
            smallest = (loc, value)
        if largest is None or value > largest[1]:
            largest = (loc, value)
        if largest[1] > MAX_COEFFICIENT_RANGE * smallest[1]:
            other = smallest if loc == largest[0] else largest
            yield loc, (f"objective coefficients span more than {MAX_COEFFICIENT_RANGE:g} ({value:g} here, "
                        f"{other[1]:g} at {_loc_text(other[0])}): no solver honours that range; change the units")
            return


def _objective_coefficients(instance: Instance) -> Iterator[tuple[tuple, float]]:
    for i, job in enumerate(instance.jobs):
        yield ("jobs", i, "migration_cost"), job.migration_cost
        yield ("jobs", i, "preemption_cost"), job.preemption_cost
        for k, option in enumerate(job.gpu_options):
            yield ("jobs", i, "gpu_options", k, "throughput"), job.priority * option.throughput
            yield ("jobs", i, "gpu_options", k, "cost_per_hour"), option.cost_per_hour
    for i, job in enumerate(instance.training_jobs):
        for name in ("value", "tardiness_cost_per_h", "restart_cost", "migration_cost"):
            yield ("training_jobs", i, name), getattr(job, name)
    for i, service in enumerate(instance.services):
        yield ("services", i, "unmet_cost_per_gpu_hour"), service.unmet_cost_per_gpu_hour or 0.0
    for i, facility in enumerate(instance.facilities):
        yield ("facilities", i, "demand_charge_per_kw"), facility.demand_charge_per_kw
        yield ("facilities", i, "wake_cost_per_node"), facility.wake_cost_per_node
    for i, row in enumerate(instance.site_series):
        yield ("site_series", i, "price_per_kwh"), row.price_per_kwh or 0.0


def _loc_text(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + p for i, p in enumerate(loc))


def _duplicate_ids(instance: Instance) -> Iterator[Problem]:
    for table in _ID_TABLES:
        seen: set[str] = set()
        for i, record in enumerate(getattr(instance, table)):
            if record.id in seen:
                yield (table, i, "id"), f"duplicate id '{record.id}' in {table}"
            seen.add(record.id)


def _topology_references(instance: Instance) -> Iterator[Problem]:
    sites = {site.id for site in instance.sites}
    pod_site = {pod.id: pod.site for pod in instance.pods}
    gpu_types = {gpu.id for gpu in instance.gpu_types}
    for i, pod in enumerate(instance.pods):
        if pod.site not in sites:
            yield ("pods", i, "site"), f"unknown site '{pod.site}'"
    for i, pool in enumerate(instance.node_pools):
        if pool.pod not in pod_site:
            yield ("node_pools", i, "pod"), f"unknown pod '{pool.pod}'"
        elif pool.site is not None and pool.site != pod_site[pool.pod]:
            yield ("node_pools", i, "site"), (
                f"site '{pool.site}' but pod '{pool.pod}' is in site '{pod_site[pool.pod]}'"
            )
        if pool.gpu_type is not None and pool.gpu_type not in gpu_types:
            yield ("node_pools", i, "gpu_type"), f"unknown GPU type '{pool.gpu_type}'"


def _listed_nodes(instance: Instance) -> Iterator[Problem]:
    pools = {pool.id: pool for pool in instance.node_pools}
    listed = Counter()
    first_index: dict[str, int] = {}
    for i, node in enumerate(instance.nodes):
        pool = pools.get(node.pool)
        if pool is None:
            yield ("nodes", i, "pool"), f"unknown node pool '{node.pool}'"
            continue
        listed[node.pool] += 1
        first_index.setdefault(node.pool, i)
        if node.reserved_gpus > pool.gpus_per_node:
            yield ("nodes", i, "reserved_gpus"), (
                f"{node.reserved_gpus} reserved GPUs on a node of {pool.gpus_per_node} GPUs"
            )
    for pool_id, count in listed.items():
        if count != pools[pool_id].node_count:
            yield ("nodes", first_index[pool_id], "pool"), (
                f"pool '{pool_id}' lists {count} nodes but its node_count is "
                f"{pools[pool_id].node_count} (list all of a pool's nodes or none)"
            )
    listed_ids = {node.id for node in instance.nodes}
    for i, pool in enumerate(instance.node_pools):
        if pool.id in listed:
            continue
        clash = listed_ids.intersection(generated_node_ids(pool.id, pool.node_count))
        if clash:
            yield ("node_pools", i, "id"), (
                f"generated node name '{sorted(clash)[0]}' of this pool is also a listed node id"
            )


def _job_references(instance: Instance) -> Iterator[Problem]:
    tenants = {tenant.id for tenant in instance.tenants}
    gpu_types = {gpu.id for gpu in instance.gpu_types}
    for i, job in enumerate(instance.jobs):
        if job.tenant not in tenants:
            yield ("jobs", i, "tenant"), f"unknown tenant '{job.tenant}'"
        for k, option in enumerate(job.gpu_options):
            if option.gpu_type not in gpu_types:
                yield ("jobs", i, "gpu_options", k, "gpu_type"), f"unknown GPU type '{option.gpu_type}'"


def _current_placements(instance: Instance) -> Iterator[Problem]:
    nodes = node_info_by_id(instance)
    jobs = {job.id: job for job in instance.jobs}
    used = {node_id: info.reserved_gpus for node_id, info in nodes.items()}
    cpu: dict[str, int] = {}
    memory: dict[str, int] = {}
    shares: dict[tuple[str, int], int] = {}
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(instance.current_placements):
        job = jobs.get(row.job)
        if job is None:
            yield ("current_placements", i, "job"), f"unknown job '{row.job}'"
            continue
        info = nodes.get(row.node)
        if info is None:
            yield ("current_placements", i, "node"), f"unknown node '{row.node}'"
            continue
        if (row.job, row.node) in seen:
            yield ("current_placements", i, "node"), f"job '{row.job}' is on node '{row.node}' twice"
        seen.add((row.job, row.node))
        yield from _row_shape(i, row, job, info)
        if row.gpu_index is not None and job.fractional and row.gpu_index < info.gpus:
            key = (row.node, row.gpu_index)
            if key not in shares:
                used[row.node] += 1          # a shared GPU counts once, whoever shares it
            shares[key] = shares.get(key, 0) + job.gpu_share_milli
            if shares[key] > MILLI_PER_GPU:
                yield ("current_placements", i, "gpu_index"), (
                    f"GPU {row.gpu_index} of node '{row.node}' is shared beyond 1000 milli ({shares[key]})"
                )
        else:
            used[row.node] += row.gpus
        if used[row.node] > info.gpus:
            yield ("current_placements", i, "gpus"), (
                f"node '{row.node}' has {info.gpus} GPUs but {used[row.node]} are held "
                f"(reserved and running jobs)"
            )
        for name, total, need, limit in (("cpu_milli", cpu, job.cpu_milli, info.cpu_milli),
                                         ("host_memory_mib", memory, job.host_memory_mib, info.host_memory_mib)):
            total[row.node] = total.get(row.node, 0) + need
            if limit is not None and total[row.node] > limit:
                yield ("current_placements", i, "node"), (
                    f"node '{row.node}' has {name} {limit} but its running jobs need {total[row.node]}"
                )


def _whole_nodes_alone(instance: Instance) -> Iterator[Problem]:
    """A node a running multi-node job holds whole runs nothing else (rule 1): the job has rows
    on two or more nodes, and on this one all its GPUs (as the verifier reads it)."""
    nodes = node_info_by_id(instance)
    nodes_of: dict[str, set[str]] = defaultdict(set)
    for row in instance.current_placements:
        nodes_of[row.job].add(row.node)
    holder: dict[str, str] = {}
    for row in instance.current_placements:
        info = nodes.get(row.node)
        if info is not None and holds_node_whole(len(nodes_of[row.job]), row.gpus, info.gpus):
            holder[row.node] = row.job
    for i, row in enumerate(instance.current_placements):
        if row.node in holder and holder[row.node] != row.job:
            yield ("current_placements", i, "node"), (
                f"node '{row.node}' is held whole by multi-node job '{holder[row.node]}'; '{row.job}' cannot run there"
            )


def _row_shape(i: int, row, job, info) -> Iterator[Problem]:
    """A row's GPUs and GPU index must match the kind of job: CPU-only, sharing a GPU, whole GPUs."""
    where = ("current_placements", i)
    if job.cpu_only:
        if row.gpus or row.gpu_index is not None:
            yield where + ("gpus",), f"job '{row.job}' is CPU-only: gpus must be 0 and gpu_index empty"
        return
    if info.gpu_type not in {option.gpu_type for option in job.gpu_options}:
        yield where + ("node",), (
            f"job '{row.job}' runs on {info.gpu_type or 'a CPU-only node'}, which is not among its gpu_options"
        )
    if job.fractional:
        if row.gpus != 1 or row.gpu_index is None:
            yield where + ("gpu_index",), f"job '{row.job}' shares a GPU: gpus must be 1 and gpu_index given"
        elif row.gpu_index >= info.gpus:
            yield where + ("gpu_index",), f"node '{row.node}' has no GPU {row.gpu_index} (it has {info.gpus})"
    elif row.gpus == 0 or row.gpu_index is not None:
        yield where + ("gpus",), f"job '{row.job}' holds whole GPUs: gpus must be positive and gpu_index empty"
