"""A placement row: job ``job`` holds ``gpus`` GPUs of node ``node``; a job sharing a GPU
holds 1 GPU and names it by ``gpu_index`` (0-based); a CPU-only job holds 0 GPUs."""

from __future__ import annotations

from typing import NamedTuple


class Placement(NamedTuple):
    job: str
    node: str
    gpus: int
    gpu_index: int | None = None


def current_rows(run) -> list[Placement]:
    """The rows of a running job as it runs now (index.RunningJob)."""
    return [Placement(run.job, node, gpus, run.gpu_index.get(node)) for node, gpus in run.rows.items()]
