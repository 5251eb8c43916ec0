"""The assignment's row type: a job's grant of GPUs on one node.

Job ``job`` holds ``gpus`` GPUs of node ``node``; a job sharing a GPU holds 1 GPU and names it
by ``gpu_index`` (0-based); a CPU-only job holds 0 GPUs. A job on several nodes has one grant
per node. The Result's ``placements`` table is a list of these rows.
"""

from __future__ import annotations

from typing import NamedTuple


class NodeGrant(NamedTuple):
    job: str
    node: str
    gpus: int
    gpu_index: int | None = None


def current_rows(run) -> list[NodeGrant]:
    """The grants of a running job as it runs now (index.assignment.RunningJob)."""
    return [NodeGrant(run.job, node, gpus, run.gpu_index.get(node)) for node, gpus in run.rows.items()]
