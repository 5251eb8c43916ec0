"""GPU-level simulation of online schedulers and the FGD fragmentation measure.

The MILP decides counts over pools; these tools follow single GPUs, one pod at a time, as a
cluster scheduler does (the baselines of the Alibaba GPU trace benchmark):

- :class:`ClusterState`: per node free CPU, memory and per-GPU free thousandths (numpy),
  built from an instance and optional placement rows;
- :func:`best_fit` and :func:`fgd` (fragmentation gradient descent, Weng et al., USENIX
  ATC'23): place jobs in order, drop those that fit nowhere, return a :class:`Simulation`
  whose ``rows`` are the assignment's :class:`~gpuplan.index.node_grant.NodeGrant` rows
  ``(job, node, gpus, gpu_index)`` (``PlacementRow`` is the same type under its older name);
- :class:`Workload` and :func:`stranded_gpus`: the FGD fragmentation of a state for a target
  workload, in GPUs.
"""

from ..index.node_grant import NodeGrant
from .measure import Workload, node_fragmentation, state_fragmentation, stranded_gpus
from .policies import POLICIES, Candidates, Simulation, best_fit, candidates, fgd, simulate
from .state import MILLI, ClusterState, Tasks, placement_rows

PlacementRow = NodeGrant  # the older name of the row type, kept for code written against it

__all__ = [
    "MILLI", "POLICIES", "Candidates", "ClusterState", "NodeGrant", "PlacementRow", "Simulation", "Tasks", "Workload",
    "best_fit", "candidates", "fgd", "node_fragmentation", "placement_rows", "simulate", "state_fragmentation",
    "stranded_gpus",
]
