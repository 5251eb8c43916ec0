"""Rule 1 of the schedule contract: a solution's decision lists read into frames of usable rows,
and one violation for each row that is not (its first problem only, like the assignment's).

A row is usable when it is a mapping whose ids are known (job / service, site, GPU type), whose
period lies in 0..T-1, whose counts (period, gpus, nodes) are non-negative integers within
1e-6, and, for a placement, whose power_mode is a mode of its GPU type. nodes_on rows
repeating a (site, type, period) are reported and dropped (the first one counts). Columns
beyond the contract's are ignored. Checked with whole-column operations, so 10^5 rows cost
milliseconds, not a Python loop per field.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import shown
from ..violations import Violation
from .decisions import NODES_ON_COLUMNS, PLACEMENT_COLUMNS, SERVICE_COLUMNS, integer_values, mode_positions, positions
from .facts import ScheduleFacts

TABLES = {"placements": PLACEMENT_COLUMNS, "services": SERVICE_COLUMNS, "nodes_on": NODES_ON_COLUMNS}
_SITE_AND_TYPE = [("site", "sites", "unknown_site", "site"), ("gpu_type", "gpu_types", "unknown_gpu_type", "GPU type")]
ID_COLUMNS = {  # table -> (column, ScheduleFacts field of the known ids, rule code, what it names)
    "placements": [("job", "jobs", "unknown_job", "job"), *_SITE_AND_TYPE],
    "services": [("service", "services", "unknown_service", "service"), *_SITE_AND_TYPE],
    "nodes_on": _SITE_AND_TYPE,
}
COUNT = {"placements": "gpus", "services": "gpus", "nodes_on": "nodes"}


def solution_rows(facts: ScheduleFacts, data: dict) -> tuple[dict[str, pd.DataFrame], list[Violation]]:
    """The usable rows of each decision table of a solution dict, and the problems of the rest."""
    frames, found = {}, []
    for table, columns in TABLES.items():
        frame, problems = _records(data.get(table), table, columns)
        frames[table], more = _usable(facts, table, frame)
        found += problems + more
    frames["nodes_on"], repeated = _first_of_each_cell(facts, frames["nodes_on"])
    return frames, found + repeated


def _records(rows, table: str, columns: list[str]) -> tuple[pd.DataFrame, list[Violation]]:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if rows is None:
        return empty, []
    if not isinstance(rows, list):
        return empty, [Violation("format", "", f"'{table}' must be a list")]
    found = [Violation("format", "", f"{table}[{i}] is not a mapping") for i, r in enumerate(rows)
             if not isinstance(r, dict)]
    kept = [i for i, r in enumerate(rows) if isinstance(r, dict)]
    if not kept:
        return empty, found
    frame = pd.DataFrame.from_records([rows[i] for i in kept], index=kept)
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    return frame[columns], found


def _entity(frame: pd.DataFrame, table: str, i) -> str:
    if table == "nodes_on":
        return f"{frame.site[i]}/{frame.gpu_type[i]}"
    return str(frame.at[i, "job" if table == "placements" else "service"])


def _usable(facts: ScheduleFacts, table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Violation]]:
    """The rows without a problem, and the first problem of each other row."""
    ok = np.ones(len(frame), dtype=bool)
    found: list[Violation] = []

    def report(bad: np.ndarray, rule: str, message) -> None:
        """``message(i)``, for each row ``i`` (an index label) that is ``bad`` and had no problem yet."""
        fresh = bad & ok
        for i in frame.index[fresh]:
            found.append(Violation(rule, _entity(frame, table, i), f"{table}[{i}]: {message(i)}"))
        ok[fresh] = False

    codes = {}
    for column, ids, rule, what in ID_COLUMNS[table]:
        codes[column] = positions(getattr(facts, ids), frame[column])
        report(codes[column] < 0, rule, lambda i, c=column, w=what: f"no such {w} {shown(frame.at[i, c])}")
    for column in ("period", COUNT[table]):
        value, bad = integer_values(frame[column])
        report(bad | (value < 0), "format", lambda i, c=column: f"{c} {frame.at[i, c]!r} is not a non-negative integer")
        if column == "period":
            report(value >= facts.periods, "unknown_period",
                   lambda i: f"period {frame.at[i, 'period']} outside the time grid 0..{facts.periods - 1}")
    if table == "placements":
        unknown_mode = mode_positions(facts, codes["gpu_type"], frame.power_mode) < 0
        report(unknown_mode, "power_mode", lambda i: _mode_problem(frame, i))
    return frame[ok], found


def _mode_problem(frame: pd.DataFrame, i) -> str:
    mode = frame.at[i, "power_mode"]
    if mode is None or mode != mode:  # None or NaN: the row has no power mode
        return "power_mode missing"
    return f"power_mode {shown(mode)} is not a mode of {shown(frame.at[i, 'gpu_type'])}"


def _first_of_each_cell(facts: ScheduleFacts, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Violation]]:
    cells = frame[["site", "gpu_type"]].astype(str).assign(period=integer_values(frame.period)[0])
    repeated = cells.duplicated().to_numpy()
    found = [Violation("duplicate_row", f"{s}/{g}", f"nodes_on[{i}]: a second row for period {t}")
             for i, s, g, t in zip(frame.index[repeated], cells.site[repeated], cells.gpu_type[repeated],
                                   cells.period[repeated])]
    return frame[~repeated], found
