"""A batch from start to end: check everything, then solve, record and summarise as results come.

:meth:`Batch.prepare` does every check that can fail before any work starts (options, PATHs,
output collisions, the Dask scheduler) and writes nothing; :meth:`Batch.run` solves what is
left, writes each instance's folder and rewrites the summary as each one finishes. On Ctrl-C
the running solves are stopped, the summary is rewritten with everything that finished, and
KeyboardInterrupt is raised again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..files import check_writable_folder
from ..results import Result
from .inputs import BatchError, Item, collect, content_hash
from .outputs import finished_row, has_result, summary_frame, summary_row, write_folder, write_summary
from .report import BatchProgress
from .signals import sigint_deferred
from .worker import BATCH_SEED, BATCH_THREADS, Outcome, Task

# Test hooks: comma-separated instance names whose worker kills itself / hangs.
CRASH_ENV = "GPUPLAN_TEST_BATCH_CRASH"
HANG_ENV = "GPUPLAN_TEST_BATCH_HANG"


class Results(Mapping):
    """Instance name -> Result, kept in memory when a batch writes nothing.

    Held in ``frame.attrs["results"]``; pandas deep-copies attrs on every operation, so this
    mapping copies as itself."""

    def __init__(self, results: dict[str, Result]):
        self._results = results

    def __getitem__(self, name: str) -> Result:
        return self._results[name]

    def __iter__(self):
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __deepcopy__(self, memo):
        return self

    def __repr__(self) -> str:
        return f"Results({len(self)} instances: {', '.join(list(self)[:5])}{', ...' if len(self) > 5 else ''})"


class Batch:
    def __init__(self, items: list[Item], out: Path | None, options: dict, engine, hooks: dict[str, str]):
        self.items = items
        self.out = out
        self.options = options  # keyword arguments of gpuplan.solve, also hashed
        self.engine = engine
        self.hooks = hooks
        self.rows: dict[int, dict] = {}
        self.results: dict[str, Result] = {}
        self.todo: list[Item] = []
        self.skipped = 0

    # ------------------------------------------------------------ before any work

    @classmethod
    def prepare(cls, paths, out=None, *, problem: str | None = None, workers: int | None = None,
                scheduler=None, time_limit: float | None = None, mip_gap: float = 1e-4,
                objective: str | None = None, method: str = "milp", resume: bool = False,
                overwrite: bool = False) -> "Batch":
        """Check everything that can be checked before solving; raise BatchError / ValueError."""
        options = solve_options(problem, objective, method, time_limit, mip_gap)
        workers = _check_engine(workers, scheduler, resume, overwrite, out)
        out = Path(out) if out is not None else None
        if out is not None:
            check_writable_folder(out)
        items = collect(paths, exclude=out)
        for item in items:
            item.digest = content_hash(item, options)
        batch = cls(items, out, options, None, _hooks())
        batch._plan(resume, overwrite)
        if scheduler is not None:
            from .cluster import DaskEngine, connect

            batch.engine = DaskEngine(*connect(scheduler))
        else:
            from .local import LocalEngine

            batch.engine = LocalEngine(workers)
        return batch

    def _plan(self, resume: bool, overwrite: bool) -> None:
        taken = []
        for item in self.items:
            folder = self.out / item.name if self.out is not None else None
            if folder is None or overwrite or not has_result(folder):
                self.todo.append(item)
            elif resume:
                row = finished_row(folder, item.digest)
                if row is None:
                    self.todo.append(item)
                else:
                    self.rows[item.index] = {**row, "instance": item.name, "path": item.label}
                    self.skipped += 1
            else:
                taken.append(folder)
        if taken:
            more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
            raise BatchError(f"{taken[0]} holds a finished result{more}; pass --resume to keep finished "
                             f"results or --overwrite to replace them")

    # ------------------------------------------------------------ solving

    def run(self, progress: bool = False, console=None) -> pd.DataFrame:
        """Solve what is left; return the summary (also on disk when there is an output folder)."""
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            write_summary(self.out, self.frame())
        by_name = {item.name: item for item in self.todo}
        unreadable = [item for item in self.todo if item.unreadable]
        tasks = [self._task(item) for item in self.todo if not item.unreadable]
        with BatchProgress(len(self.todo), self.skipped, console, progress) as bar:
            def done(outcome: Outcome) -> None:
                with sigint_deferred():
                    self._record(by_name[outcome.name], outcome)
                bar.advance(outcome.status)

            try:
                for item in unreadable:
                    done(Outcome(item.name, "invalid", item.unreadable))
                self.engine.run(tasks, done)
            finally:
                self.engine.close()
                if self.out is not None:
                    write_summary(self.out, self.frame())
        return self.frame()

    def _task(self, item: Item) -> Task:
        path = str(item.path.resolve()) if item.path is not None else None
        return Task(item.name, path, item.instance, self.options, self.hooks.get(item.name, ""))

    def _record(self, item: Item, outcome: Outcome) -> None:
        row = summary_row(item, outcome, self.options["problem"])
        if self.out is not None:
            write_folder(self.out / item.name, item, outcome, self.options, row)
        elif outcome.result is not None:
            self.results[item.name] = outcome.result
        self.rows[item.index] = row
        if self.out is not None:
            write_summary(self.out, self.frame())

    def frame(self) -> pd.DataFrame:
        """The summary of every finished instance (including those kept from earlier runs)."""
        frame = summary_frame([self.rows[i] for i in sorted(self.rows)])
        if self.out is None:
            frame.attrs["results"] = Results(self.results)
        return frame


def solve_options(problem, objective, method, time_limit, mip_gap) -> dict:
    """The keyword arguments of gpuplan.solve for every instance; unknown values raise ValueError."""
    from ..problems import check_names_of_any, get
    from ..solver import SolveOptions

    if problem is None:   # each instance's own problem: names some problem knows
        check_names_of_any(objective=objective, method=method)
    else:
        get(problem).check_names(objective=objective, method=method)
    SolveOptions(time_limit=time_limit, mip_gap=mip_gap)  # raises on a bad time limit or gap
    return {"problem": problem, "objective": objective, "method": method, "time_limit": time_limit,
            "mip_gap": mip_gap, "threads": BATCH_THREADS, "seed": BATCH_SEED}


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_engine(workers, scheduler, resume: bool, overwrite: bool, out) -> int:
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if (resume or overwrite) and out is None:
        raise ValueError("resume and overwrite need an output folder")
    if workers is not None and scheduler is not None:
        raise ValueError("--workers and --scheduler exclude each other (the cluster has its own workers)")
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    return workers


def _hooks() -> dict[str, str]:
    hooks = {}
    for env, hook in ((CRASH_ENV, "crash"), (HANG_ENV, "hang")):
        for name in filter(None, os.environ.get(env, "").split(",")):
            hooks[name.strip()] = hook
    return hooks
