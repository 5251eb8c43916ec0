"""gpuplan.solve: load and check the instance, look the problem up in the registry, check the
objective and method against it, and hand over to the problem's solve strategy."""

from __future__ import annotations

import time
from os import PathLike

from . import problems
from .index.assignment import DEFAULT_MAX_PATTERNS
from .instance.io import check as check_instance
from .instance.io import load
from .instance.schema import Instance
from .request import SolveRequest
from .results import Result
from .solver import SolveOptions


def solve(
    instance: Instance | str | PathLike,
    problem: str | None = None,
    *,
    objective: str | None = None,
    method: str | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
    log: bool = False,
    solver: str = "highs",
    warm_start: bool = True,
    start=None,
    max_patterns: int = DEFAULT_MAX_PATTERNS,
) -> Result:
    """Solve ``instance`` (an Instance or a file path) and return a :class:`Result`.

    ``problem``: a name in :data:`gpuplan.problems.PROBLEMS` (assignment, schedule, ...);
    by default the instance's own (the first problem whose sections it holds).
    ``method``: the problem's first method (``"milp"``, which proves optimality or a gap) by
    default; ``"greedy"`` and the like are baselines. ``start``: a valid solution of your own
    offered to the solver next to its own starts, so the result is never worse than it. An
    infeasible instance gives a Result with status ``infeasible``, not an error; an unknown
    problem, objective or method, or an instance lacking the problem's sections, raises
    ``ValueError`` naming the problem and what is missing."""
    started = time.perf_counter()
    entry = problems.get(problem) if problem is not None else None
    if entry is not None:
        entry.check_names(objective=objective, method=method)
    instance = check_instance(instance) if isinstance(instance, Instance) else load(instance)
    entry = entry or problems.of_instance(instance)
    entry.check_names(objective=objective, method=method)
    objective = entry.check(instance, objective=objective)
    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed, log=log,
                           solver=solver, warm_start=warm_start)
    request = SolveRequest(problem=entry.name, objective=objective, method=method or entry.methods[0],
                           options=options, start=start, max_patterns=max_patterns, started=started)
    return entry.layer("solve")(instance, request)
