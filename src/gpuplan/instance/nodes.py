"""Concrete nodes of an instance: the names and facts every layer agrees on.

A pool either lists all its nodes in the ``nodes`` table or none; unlisted pools name their
nodes ``<pool>-<index>`` with a zero-padded index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from .schema import Instance


@dataclass(frozen=True)
class NodeInfo:
    id: str
    pool: str
    pod: str
    site: str
    gpu_type: str | None        # None for a CPU-only node
    gpus: int
    reserved_gpus: int
    cpu_milli: int | None = None          # None: not limited
    host_memory_mib: int | None = None    # None: not limited

    @property
    def usable_gpus(self) -> int:
        return self.gpus - self.reserved_gpus


def holds_node_whole(nodes_used: int, gpus_here: int, node_gpus: int) -> bool:
    """Rule 1: a job on two or more nodes holds a node whole where it has all its GPUs."""
    return nodes_used >= 2 and gpus_here > 0 and gpus_here == node_gpus


def coverage(gpus_by_type: Mapping[str, int], need: Mapping[str, int]) -> Fraction:
    """Rule 5: the share of a job's need that whole nodes holding ``gpus_by_type`` GPUs cover,
    sum_g G_g / n_jg, exact (in floats 3/6 + 2/6 + 1/6 falls short of 1)."""
    return sum((Fraction(gpus, need[g]) for g, gpus in gpus_by_type.items()), Fraction(0))


def covers_need(gpus_by_type: Mapping[str, int], need: Mapping[str, int]) -> bool:
    """Whole nodes holding ``gpus_by_type`` GPUs are enough for the job (coverage at least 1):
    the one test of the index, the greedy and the verifier for whether a job can run on them."""
    return coverage(gpus_by_type, need) >= 1


def generated_node_ids(pool_id: str, count: int) -> list[str]:
    width = max(2, len(str(max(count - 1, 0))))
    return [f"{pool_id}-{i:0{width}d}" for i in range(count)]


def pool_node_ids(instance: Instance) -> dict[str, list[str]]:
    """Node ids of every pool, in order: listed ones as listed, else generated."""
    listed: dict[str, list[str]] = {}
    for node in instance.nodes:
        listed.setdefault(node.pool, []).append(node.id)
    return {
        pool.id: listed.get(pool.id) or generated_node_ids(pool.id, pool.node_count)
        for pool in instance.node_pools
    }


def node_infos(instance: Instance) -> list[NodeInfo]:
    """Every node of the instance with its pool's facts, pools in file order."""
    pod_site = {pod.id: pod.site for pod in instance.pods}
    reserved = {node.id: node.reserved_gpus for node in instance.nodes}
    ids = pool_node_ids(instance)
    return [
        NodeInfo(
            id=node_id,
            pool=pool.id,
            pod=pool.pod,
            site=pod_site.get(pool.pod, pool.site or ""),
            gpu_type=pool.gpu_type,
            gpus=pool.gpus_per_node,
            reserved_gpus=reserved.get(node_id, 0),
            cpu_milli=pool.cpu_milli_per_node,
            host_memory_mib=pool.host_memory_mib_per_node,
        )
        for pool in instance.node_pools
        for node_id in ids[pool.id]
    ]


def node_info_by_id(instance: Instance) -> dict[str, NodeInfo]:
    return {info.id: info for info in node_infos(instance)}


def describe_assignment(instance) -> str:
    """'12 jobs, 96 GPUs, 3 pools': what `gpuplan validate` and the importers print."""
    gpus = sum(info.gpus for info in node_infos(instance))
    return f"{len(instance.jobs):,} jobs, {gpus:,} GPUs, {len(instance.node_pools)} pools"
