"""Batch solving: many instances -> one folder each + a summary table; resumable; local or Dask.

    import gpuplan as gp
    summary = gp.solve_many("instances/", out="results/")   # DataFrame, one row per instance

Layout: ``inputs`` (PATHs -> named items, content hashes), ``worker`` (one solve, in a worker
process), ``local`` / ``cluster`` (the engines: local processes or a Dask cluster),
``outputs`` (instance folders, batch.json, summary files), ``report`` (progress bar and
summary table), ``run`` (the batch from start to end).
"""

from __future__ import annotations

from os import PathLike

import pandas as pd

from .inputs import BatchError
from .outputs import STATUSES
from .run import Batch, Results

__all__ = ["STATUSES", "Batch", "BatchError", "Results", "solve_many"]


def solve_many(
    paths,
    out: str | PathLike | None = None,
    *,
    problem: str | None = None,
    workers: int | None = None,
    scheduler=None,
    time_limit: float | None = None,
    mip_gap: float = 1e-4,
    objective: str | None = None,
    method: str = "milp",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Solve many instances, each in a process of its own; return the summary DataFrame.

    ``paths``: a file, a folder (searched recursively for *.json, *.yaml, *.yml, skipping the
    solution.json and batch.json files gpuplan writes), a glob, an :class:`~gpuplan.Instance`,
    or a list of these. With ``out``, each instance's results go to
    ``out/<name>/`` (solution.json, CSV tables, solver.log, batch.json) and the summary to
    ``out/summary.csv`` and ``out/summary.parquet``, rewritten as each instance finishes. With
    ``out=None`` nothing is written and the Results are kept in memory, in
    ``frame.attrs["results"]`` (instance name -> Result).

    ``problem``: the problem every instance is solved as (default: each instance's own, from
    the sections it holds, so one folder may mix problems).

    ``workers``: local worker processes (default: the number of cores); ``scheduler``: a Dask
    scheduler address (``tcp://HOST:PORT``) or a ``distributed.Client`` to solve on instead.
    Every solve uses one thread and a fixed seed, so results do not depend on either.
    ``resume`` skips instances whose folder holds a finished result for the same content and
    options; ``overwrite`` replaces finished results (without either, a finished result in the
    way raises BatchError before anything is solved).

    A bad file, an infeasible instance, a solver error or a crashed worker is a row with its
    status (optimal | feasible | infeasible | unbounded | time_limit | error | invalid |
    crashed) and message; the batch goes on. Bad arguments raise ValueError or BatchError
    before any work starts. On KeyboardInterrupt, finished results and the summary are kept
    and the interrupt is raised again.
    """
    batch = Batch.prepare(paths, out, problem=problem, workers=workers, scheduler=scheduler,
                          time_limit=time_limit, mip_gap=mip_gap, objective=objective, method=method,
                          resume=resume, overwrite=overwrite)
    return batch.run(progress=progress)
