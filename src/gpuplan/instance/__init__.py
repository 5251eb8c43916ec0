"""Instance layer: the validated data model, file I/O, cross-entity checks, derived indexes."""

from .io import check, dump, from_dict, load
from .nodes import NodeInfo, node_infos, pool_node_ids
from .schema import (
    SCHEMA_VERSION,
    CurrentPlacement,
    GpuOption,
    GpuType,
    Instance,
    Job,
    Node,
    NodePool,
    Options,
    Pod,
    Site,
    Tenant,
)

__all__ = [
    "check",
    "SCHEMA_VERSION", "CurrentPlacement", "GpuOption", "GpuType", "Instance", "Job", "Node",
    "NodeInfo", "NodePool", "Options", "Pod", "Site", "Tenant", "dump", "from_dict", "load",
    "node_infos", "pool_node_ids",
]
