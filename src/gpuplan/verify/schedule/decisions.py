"""A schedule's three decision tables as arrays of positions (see :mod:`.facts`).

- placements: ``job, site, gpu_type, period, gpus, power_mode``, one row per (job, period), or
  per (job, site, gpu_type, period) for a job that may split its gang;
- services: ``service, site, gpu_type, period, gpus``;
- nodes_on: ``site, gpu_type, period, nodes``; a (site, type, period) without a row has all its
  nodes on at a site whose facility cannot power nodes off, none at one that can.

Each table is a DataFrame or a list of mappings with those columns (more are ignored). Counts
within 1e-6 of an integer are rounded. :func:`coded_decisions` never judges validity; it
refuses only what it cannot value (an unknown id, period or power mode, a count that is no
integer, two nodes_on rows for one cell), with a :class:`~gpuplan.errors.GpuplanError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import GpuplanError, shown
from .facts import ScheduleFacts

PLACEMENT_COLUMNS = ["job", "site", "gpu_type", "period", "gpus", "power_mode"]
SERVICE_COLUMNS = ["service", "site", "gpu_type", "period", "gpus"]
NODES_ON_COLUMNS = ["site", "gpu_type", "period", "nodes"]
INTEGER_TOL = 1e-6
LARGEST_COUNT = 2.0**53  # beyond it a float holds no exact integer (and int64 may overflow)


@dataclass(frozen=True, eq=False)
class Decisions:
    """Positions of every row; ``*_row`` is the row's index in the table it came from."""

    job: np.ndarray
    site: np.ndarray
    gpu_type: np.ndarray
    period: np.ndarray
    gpus: np.ndarray
    mode: np.ndarray
    placement_row: np.ndarray
    service: np.ndarray
    service_site: np.ndarray
    service_type: np.ndarray
    service_period: np.ndarray
    service_gpus: np.ndarray
    service_row: np.ndarray
    nodes_on: np.ndarray  # [site, type, period], the defaults filled in


def as_frame(rows, columns: list[str], table: str) -> pd.DataFrame:
    """``rows`` (a DataFrame, a list of mappings or None) as a DataFrame with ``columns``."""
    if rows is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if isinstance(rows, pd.DataFrame):
        frame = rows
    else:
        rows = list(rows)
        if not all(isinstance(r, Mapping) for r in rows):
            raise GpuplanError(f"{table}: every row must be a mapping")
        frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise GpuplanError(f"{table}: column(s) {', '.join(missing)} missing")
    return frame[columns]


def row_numbers(frame: pd.DataFrame) -> np.ndarray:
    """Each row's number in the table it came from: the frame's index when it holds integers
    (a frame filtered from a solution's list keeps them), else its position."""
    index = frame.index
    return index.to_numpy(dtype=np.int64) if pd.api.types.is_integer_dtype(index.dtype) else np.arange(len(frame))


def positions(ids, column: pd.Series) -> np.ndarray:
    """The position of each value of ``column`` among ``ids`` (-1 where unknown)."""
    return pd.Index(list(ids), dtype=object).get_indexer(column.astype(object))


def mode_positions(facts: ScheduleFacts, gpu_type: np.ndarray, mode: pd.Series) -> np.ndarray:
    """The power mode of each (type position, mode id) among facts' modes (-1 where unknown)."""
    known = pd.MultiIndex.from_arrays([facts.mode_type, np.array(facts.mode_id, dtype=object)])
    wanted = pd.MultiIndex.from_arrays([gpu_type, mode.astype(object).to_numpy()])
    return known.get_indexer(wanted)


def integer_values(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column rounded to integers, and where it is not a number within 1e-6 of an integer
    (bools and strings are not numbers)."""
    if column.dtype == object:
        numeric = column.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
        values = pd.to_numeric(column.where(numeric), errors="coerce").to_numpy(dtype=float)
    elif column.dtype == bool:
        values = np.full(len(column), np.nan)
    else:
        values = column.to_numpy(dtype=float)
    rounded = np.rint(values)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.abs(values - rounded) > INTEGER_TOL) | (np.abs(values) > LARGEST_COUNT)
    return np.where(bad, 0, rounded).astype(np.int64), bad


def coded_decisions(facts: ScheduleFacts, placements, services, nodes_on) -> Decisions:
    p = as_frame(placements, PLACEMENT_COLUMNS, "placements")
    v = as_frame(services, SERVICE_COLUMNS, "services")
    n = as_frame(nodes_on, NODES_ON_COLUMNS, "nodes_on")
    p_type = _known(positions(facts.gpu_types, p.gpu_type), p.gpu_type, "placements", "GPU type")
    coded = {
        "job": _known(positions(facts.jobs, p.job), p.job, "placements", "job"),
        "site": _known(positions(facts.sites, p.site), p.site, "placements", "site"),
        "gpu_type": p_type,
        "period": _period(facts, p.period, "placements"),
        "gpus": _count(p.gpus, "placements", "gpus"),
        "mode": _known(mode_positions(facts, p_type, p.power_mode), p.power_mode, "placements", "power mode"),
        "placement_row": row_numbers(p),
        "service": _known(positions(facts.services, v.service), v.service, "services", "service"),
        "service_site": _known(positions(facts.sites, v.site), v.site, "services", "site"),
        "service_type": _known(positions(facts.gpu_types, v.gpu_type), v.gpu_type, "services", "GPU type"),
        "service_period": _period(facts, v.period, "services"),
        "service_gpus": _count(v.gpus, "services", "gpus"),
        "service_row": row_numbers(v),
    }
    return Decisions(**coded, nodes_on=nodes_on_grid(facts, n))


def nodes_on_grid(facts: ScheduleFacts, n: pd.DataFrame) -> np.ndarray:
    """nodes_on[site, type, period]: the rows' counts, the default where a cell has no row."""
    site = _known(positions(facts.sites, n.site), n.site, "nodes_on", "site")
    gpu_type = _known(positions(facts.gpu_types, n.gpu_type), n.gpu_type, "nodes_on", "GPU type")
    period = _period(facts, n.period, "nodes_on")
    nodes = _count(n.nodes, "nodes_on", "nodes")
    grid = np.where(facts.power_off[:, None, None], 0, facts.cap_nodes)
    cells = (site * len(facts.gpu_types) + gpu_type) * facts.periods + period
    if len(np.unique(cells)) < len(cells):
        raise GpuplanError("nodes_on: two rows for one (site, gpu_type, period)")
    grid.reshape(-1)[cells] = nodes
    return grid


def _known(codes: np.ndarray, column: pd.Series, table: str, what: str) -> np.ndarray:
    unknown = np.flatnonzero(codes < 0)
    if len(unknown):
        i = int(unknown[0])
        raise GpuplanError(f"{table}[{column.index[i]}]: unknown {what} {shown(column.iloc[i])}")
    return codes.astype(np.int64)


def _period(facts: ScheduleFacts, column: pd.Series, table: str) -> np.ndarray:
    values = _count(column, table, "period")
    outside = np.flatnonzero(values >= facts.periods)
    if len(outside):
        i = int(outside[0])
        where = f"{table}[{column.index[i]}]"
        raise GpuplanError(f"{where}: period {values[i]} outside the time grid 0..{facts.periods - 1}")
    return values


def _count(column: pd.Series, table: str, field: str) -> np.ndarray:
    values, bad = integer_values(column)
    bad |= values < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GpuplanError(f"{table}[{column.index[i]}]: {field} {column.iloc[i]!r} is not a non-negative integer")
    return values
