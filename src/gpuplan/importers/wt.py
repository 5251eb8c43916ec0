"""OR-Library single-machine weighted tardiness files (wt40, wt50, wt100) as schedule instances.

File format (J.E. Beasley's OR-Library, instances of Crauwels, Potts and Van Wassenhove,
INFORMS Journal on Computing 10(3), 1998): whitespace-separated integers, wrapped over lines
in any way; the file holds its problems one after the other, each as n processing times
p_j, then n weights w_j, then n due dates d_j. The number of jobs n is not in the file: it
is the number in the file's name (``wt40.txt``: 40), or given as ``jobs``. The optima file
(``wtopt40.txt``) holds one value a line, in problem order. Problems are numbered from 1, as
OR-Library's wtinfo does ("the unsolved 40 job problem is number 19"); pick one with
``problem=K`` (``--problem K`` on the command line); it is named ``<file>-<K>``.

Mapping, so that the schedule's ``cost`` objective is exactly 1||sum w_j T_j:

- one site ``site``, one GPU type ``machine`` (board and idle power 0, so no energy cost),
  one node of 1 GPU in every period (``capacity``); no site series, no facility;
- one period per time unit (``period_hours`` 1); the horizon is sum_j p_j periods, which a
  schedule without idle time fills;
- job ``j`` (1-based) -> training job ``job-<j>``: 1 GPU on ``machine`` (throughput 1),
  ``work_gpu_hours = p_j``, not preemptible (it runs p_j consecutive periods),
  ``release_h`` 0, no deadline, ``due_h = d_j``, ``tardiness_cost_per_h = w_j``, required.

A job started in period s finishes at s + p_j, its completion time C_j, and costs
w_j max(0, C_j - d_j): the objective is the total weighted tardiness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..instance.io import dump
from ..instance.schema import SCHEMA_VERSION, Instance
from ..textfiles import read_text
from .gap import _integer, _where
from .validated import imported

MACHINE = "machine"
MACHINE_MEMORY_GB = 80.0


@dataclass(frozen=True)
class WtData:
    """One weighted tardiness problem as read: per job (0-based) ``processing[j]``,
    ``weights[j]``, ``due[j]``."""

    name: str
    processing: list[int]
    weights: list[int]
    due: list[int]

    @property
    def jobs(self) -> int:
        return len(self.processing)


def read_wt(path: str | Path, problem: int | None = None, jobs: int | None = None) -> Instance:
    """Read problem ``problem`` (1-based) of a weighted tardiness file as an instance (see the
    module docstring for the mapping)."""
    return wt_instance(read_wt_data(path, problem, jobs), source=str(path))


def write_wt_instance(src: str | Path, dst: str | Path, problem: int | None = None,
                      jobs: int | None = None) -> Instance:
    """Convert problem ``problem`` of ``src`` into an instance file ``dst`` (JSON, or YAML by suffix)."""
    instance = read_wt(src, problem, jobs)
    dump(instance, dst)
    return instance


def read_wt_data(path: str | Path, problem: int | None = None, jobs: int | None = None) -> WtData:
    """Parse a weighted tardiness file; any problem raises :class:`InputError` naming the file
    and the line and token."""
    path = Path(path)
    source = str(path)
    n = jobs if jobs is not None else _jobs_from_name(path)
    return parse_wt(read_text(path, source), n, source=source, name=path.stem, problem=problem)


def parse_wt(text: str, jobs: int, source: str = "<wt>", name: str = "wt", problem: int | None = None) -> WtData:
    """Problem ``problem`` (1-based; may be left out when the file holds one) of the text of a
    weighted tardiness file with ``jobs`` jobs a problem."""
    if jobs < 1:
        raise InputError(source, None, f"the number of jobs must be at least 1, not {jobs}")
    tokens = text.split()
    values = [_integer(token, k, text, source) for k, token in enumerate(tokens)]
    size = 3 * jobs
    if not values or len(values) % size:
        raise InputError(source, None, f"expected a multiple of {size} numbers (processing times, weights and due "
                                       f"dates of {jobs} jobs a problem), found {len(values)}")
    count = len(values) // size
    index = _problem_index(problem, count, source)
    start = index * size
    processing = values[start:start + jobs]
    for k in range(start, start + 2 * jobs):  # processing times and weights are positive
        if values[k] == 0:
            what = "processing time" if k < start + jobs else "weight"
            raise InputError(source, _where(text, k), f"{what} 0 (problem {index + 1}, job {(k - start) % jobs + 1}); "
                                                      f"OR-Library's are positive")
    return WtData(f"{name}-{index + 1}", processing, values[start + jobs:start + 2 * jobs],
                  values[start + 2 * jobs:start + size])


def _problem_index(problem: int | None, count: int, source: str) -> int:
    """The 0-based index of 1-based ``problem`` among ``count``; InputError when there is none."""
    if problem is None:
        if count == 1:
            return 0
        raise InputError(source, None, f"the file holds {count} problems: pick one with --problem K (1 to {count})")
    if not 1 <= problem <= count:
        raise InputError(source, None, f"--problem {problem}: the file holds problems 1 to {count}")
    return problem - 1


def _jobs_from_name(path: Path) -> int:
    match = re.fullmatch(r"wt(\d+)", path.stem)
    if match is None:
        raise InputError(str(path), None, "the number of jobs is not in the file: name it wt<N>.txt (wt40.txt) "
                                          "or give jobs=N (--jobs N)")
    return int(match.group(1))


def read_wt_optimum(path: str | Path, problem: int) -> int:
    """The published optimum of problem ``problem`` (1-based) from an optima file
    (``wtopt40.txt``: one value a line, in problem order)."""
    path = Path(path)
    source = str(path)
    text = read_text(path, source)
    lines = [(line_no, line.strip()) for line_no, line in enumerate(text.splitlines(), start=1) if line.strip()]
    line_no, value = lines[_problem_index(problem, len(lines), source)]
    if len(value.split()) != 1:
        raise InputError(source, f"line {line_no}", "expected one value a line")
    try:
        return _integer(value, 0, value, source)
    except InputError as exc:
        raise InputError(source, f"line {line_no}", exc.problem) from None


def wt_instance(data: WtData, source: str = "<wt>") -> Instance:
    """The schedule instance of a parsed problem (see the module docstring for the mapping);
    InputError naming ``source`` when the data cannot make a valid instance."""
    return imported({
        "schema_version": SCHEMA_VERSION,
        "name": data.name,
        "description": (
            f"Single-machine total weighted tardiness {data.name} ({data.jobs} jobs; OR-Library, instances of "
            f"Crauwels, Potts and Van Wassenhove 1998): 1||sum w_j T_j as a schedule, one period per time "
            f"unit, minimise cost. Imported by gpuplan.importers.wt."
        ),
        "gpu_types": [{"id": MACHINE, "memory_gb": MACHINE_MEMORY_GB, "power_w": 0.0, "idle_power_w": 0.0}],
        "sites": [{"id": "site"}],
        "time": {"periods": sum(data.processing), "period_hours": 1.0},
        "capacity": [{"site": "site", "gpu_type": MACHINE, "nodes": 1, "gpus_per_node": 1}],
        "training_jobs": [
            {
                "id": f"job-{j + 1}",
                "gpus": 1,
                "gpu_options": [{"gpu_type": MACHINE}],
                "work_gpu_hours": float(p),
                "due_h": float(d),
                "tardiness_cost_per_h": float(w),
                "required": True,
                "preemptible": False,
            }
            for j, (p, w, d) in enumerate(zip(data.processing, data.weights, data.due))
        ],
    }, source)
