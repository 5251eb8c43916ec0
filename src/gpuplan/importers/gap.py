"""OR-Library Generalized Assignment Problem (GAP) files as assignment instances.

File format (one instance a file, as in fontanf/generalizedassignmentsolver's copies of
OR-Library gap1-gap12 and gapa-gapd and Yagiura's types C/D/E): whitespace-separated
integers, wrapped over lines in any way::

    m n
    c_11 ... c_1n  ...  c_m1 ... c_mn      (cost of job j on agent i)
    a_11 ... a_1n  ...  a_m1 ... a_mn      (resource job j uses on agent i)
    b_1 ... b_m                             (capacity of agent i)

OR-Library's own gap1..gap12 files start with a count of problems and hold several, one
after the other: pick one with ``problem=K`` (0-based, ``--problem K`` on the command line);
it is named ``<file>-<K>``, as in the one-problem copies (gap1-0 ... gap1-4).

Mapping (minimise the total cost; every job on exactly one agent within its capacity):

- one site ``site``, one pod ``pod``, one tenant ``gap``;
- agent ``i`` (0-based) -> GPU type ``agent-<i>`` (80 GB, power 0) and node pool
  ``agent-<i>`` of one node with ``gpus_per_node = b_i`` (an agent of capacity 0 becomes a
  pool with no nodes);
- job ``j`` (0-based) -> job ``job-<j>``: required, scope ``node``, one GPU option per agent
  with ``gpus = a_ij`` and ``cost_per_hour = c_ij`` (throughput 1);
- ``options.objective = "cost"``, so the optimum is the GAP's minimum cost.

Options with ``a_ij > b_i`` can never be used; they are kept (the file's data stay complete
and the model drops them as not fitting any node). A resource use of 0 cannot be written
(a GPU option needs at least one GPU) and is reported as an input error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, shown
from ..instance.io import dump
from ..instance.schema import SCHEMA_VERSION, Instance
from ..limits import MAX_COUNT
from ..textfiles import read_text
from .validated import imported

AGENT_MEMORY_GB = 80.0


@dataclass(frozen=True)
class GapData:
    """A GAP instance as read: ``costs[i][j]``, ``uses[i][j]``, ``capacities[i]``."""

    name: str
    costs: list[list[int]]
    uses: list[list[int]]
    capacities: list[int]

    @property
    def agents(self) -> int:
        return len(self.capacities)

    @property
    def jobs(self) -> int:
        return len(self.costs[0]) if self.costs else 0


def read_gap(path: str | Path, problem: int | None = None) -> Instance:
    """Read a GAP file as an instance (see the module docstring for the mapping)."""
    return gap_instance(read_gap_data(path, problem), source=str(path))


def write_gap_instance(src: str | Path, dst: str | Path, problem: int | None = None) -> Instance:
    """Convert the GAP file ``src`` into an instance file ``dst`` (JSON, or YAML by suffix)."""
    instance = read_gap(src, problem)
    dump(instance, dst)
    return instance


def read_gap_data(path: str | Path, problem: int | None = None) -> GapData:
    """Parse a GAP file; any problem raises :class:`InputError` naming the file and token."""
    path = Path(path)
    source = str(path)
    text = read_text(path, source)
    return parse_gap(text, source=source, name=path.stem, problem=problem)


def parse_gap(text: str, source: str = "<gap>", name: str = "gap", problem: int | None = None) -> GapData:
    """Parse the text of a GAP file (format in the module docstring): one problem, or problem
    ``problem`` of an OR-Library file holding several."""
    tokens = text.split()
    if len(tokens) < 2:
        raise InputError(source, None, f"expected 'm n' (agents, jobs) first, found {len(tokens)} number(s)")
    values = [_integer(token, k, text, source) for k, token in enumerate(tokens)]
    blocks = _problem_blocks(values)
    if blocks is not None:  # P, then P problems
        if problem is None:
            raise InputError(source, None, f"the file holds {len(blocks)} problems: pick one with --problem K "
                             f"(0 to {len(blocks) - 1})")
        if not 0 <= problem < len(blocks):
            raise InputError(source, None, f"--problem {problem}: the file holds problems 0 to {len(blocks) - 1}")
        return _one_problem(values, blocks[problem], text, source, f"{name}-{problem}")
    if problem not in (None, 0):
        raise InputError(source, None, f"--problem {problem}: the file holds one problem")
    return _one_problem(values, 0, text, source, name)


def _problem_blocks(values: list[int]) -> list[int] | None:
    """Where each problem starts when ``values`` is P followed by exactly P problems, else None."""
    count, start, starts = values[0], 1, []
    if count < 1 or _block_length(values, 0) == len(values):
        return None
    while start < len(values) and len(starts) < count:
        length = _block_length(values, start)
        if length is None or start + length > len(values):
            return None
        starts.append(start)
        start += length
    return starts if len(starts) == count and start == len(values) else None


def _block_length(values: list[int], start: int) -> int | None:
    if start + 1 >= len(values) or values[start] < 1 or values[start + 1] < 1:
        return None
    m, n = values[start], values[start + 1]
    return 2 + 2 * m * n + m


def _one_problem(values: list[int], start: int, text: str, source: str, name: str) -> GapData:
    m, n = values[start], values[start + 1]
    for k, (label, value) in enumerate((("m (agents)", m), ("n (jobs)", n)), start=start):
        if value < 1:
            raise InputError(source, _where(text, k), f"{label} must be at least 1, not {value}")
    expected = 2 + 2 * m * n + m
    if start == 0 and len(values) != expected:
        raise InputError(
            source, None,
            f"expected {expected} numbers for m={m} agents and n={n} jobs (2 + 2mn + m), found {len(values)}",
        )
    costs_start, uses_start, caps_start = start + 2, start + 2 + m * n, start + 2 + 2 * m * n
    for k in range(uses_start, caps_start):
        if values[k] == 0:
            raise InputError(
                source, _where(text, k),
                "resource use 0 cannot be imported (a GPU option needs at least one GPU)",
            )

    def matrix(first: int) -> list[list[int]]:
        return [values[first + i * n: first + (i + 1) * n] for i in range(m)]

    return GapData(name, matrix(costs_start), matrix(uses_start), values[caps_start:caps_start + m])


def gap_instance(data: GapData, source: str = "<gap>") -> Instance:
    """The instance of a parsed GAP (see the module docstring for the mapping); InputError
    naming ``source`` when the data cannot make a valid instance."""
    agents = [f"agent-{i}" for i in range(data.agents)]
    jobs = [
        {
            "id": f"job-{j}",
            "tenant": "gap",
            "required": True,
            "scope": "node",
            "gpu_options": [
                {"gpu_type": agent, "gpus": data.uses[i][j], "cost_per_hour": float(data.costs[i][j])}
                for i, agent in enumerate(agents)
            ],
        }
        for j in range(data.jobs)
    ]
    return imported({
        "schema_version": SCHEMA_VERSION,
        "name": data.name,
        "description": (
            f"Generalized assignment problem {data.name} ({data.agents} agents, {data.jobs} jobs; "
            f"OR-Library format), minimise cost. Imported by gpuplan.importers.gap."
        ),
        "gpu_types": [
            {"id": agent, "memory_gb": AGENT_MEMORY_GB, "power_w": 0.0, "idle_power_w": 0.0}
            for agent in agents
        ],
        "sites": [{"id": "site"}],
        "pods": [{"id": "pod", "site": "site"}],
        "node_pools": [
            {"id": agent, "pod": "pod", "gpu_type": agent, "gpus_per_node": max(1, capacity),
             "node_count": 1 if capacity > 0 else 0}
            for agent, capacity in zip(agents, data.capacities)
        ],
        "tenants": [{"id": "gap"}],
        "jobs": jobs,
        "options": {"objective": "cost"},
    }, source)


def _integer(token: str, k: int, text: str, source: str) -> int:
    """A non-negative decimal integer (no sign, no underscores, ASCII digits only), at most
    MAX_COUNT (limits.py; a 400-digit number would overflow a float and any solver)."""
    if token.isascii() and token.isdigit():
        if len(token.lstrip("0")) > len(str(MAX_COUNT)) or int(token) > MAX_COUNT:
            raise InputError(source, _where(text, k), f"number too large ({len(token)} digits; at most {MAX_COUNT:,})")
        return int(token)
    if token.startswith("-") and token[1:].isascii() and token[1:].isdigit():
        raise InputError(source, _where(text, k), f"negative value {token}")
    raise InputError(source, _where(text, k), f"not an integer: {shown(token, 20)}")


def _where(text: str, k: int) -> str:
    """'line L, token K' (both 1-based) of the k-th (0-based) whitespace-separated token."""
    seen = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        count = len(line.split())
        if seen + count > k:
            return f"line {line_no}, token {k + 1}"
        seen += count
    return f"token {k + 1}"
