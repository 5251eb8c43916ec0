"""What a batch writes: one folder per instance and the summary table, every file atomically.

``DIR/<name>/`` holds what :meth:`Result.save` writes (CSV tables, solver.log, solution.json
last) and then ``batch.json`` (content hash, options, status, message, seconds and the
instance's summary row). An instance is *finished* when both solution.json and batch.json are
there; a folder is cleared (batch.json first) before new outputs go in, so a crash at any
moment leaves either a finished folder or one that ``resume`` solves again.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd

from ..errors import OutputError
from ..files import atomic_write_bytes, atomic_write_text
from ..results import SOLUTION_FILE, SOLVED, result_files
from ..results import STATUSES as RESULT_STATUSES
from .inputs import Item
from .worker import Outcome

BATCH_FILE = "batch.json"
BATCH_FORMAT = "gpuplan-batch"
BATCH_VERSION = 1
SUMMARY_CSV = "summary.csv"
SUMMARY_PARQUET = "summary.parquet"
STATUSES = (*RESULT_STATUSES, "invalid", "crashed")   # + a batch's own: bad input, a crashed worker

HEAD_COLUMNS = ["instance", "path", "problem", "status"]
NUMBER_COLUMNS = ["objective", "bound", "gap", "build_s", "handoff_s", "solve_s", "total_s"]
BUILD_TIMINGS = ("index_s", "greedy_s", "build_s")  # everything before the hand-off to the solver


# ---------------------------------------------------------------- summary rows


def summary_row(item: Item, outcome: Outcome, problem: str | None) -> dict:
    result = outcome.result
    timings = result.timings if result is not None else {}
    build = [timings[k] for k in BUILD_TIMINGS if k in timings]
    row = {
        "instance": item.name, "path": item.label,
        "problem": result.problem if result is not None else problem, "status": outcome.status,
        "objective": result.objective if result is not None else None,
        "bound": result.bound if result is not None else None,
        "gap": result.gap if result is not None else None,
        "build_s": sum(build) if build else None,
        "handoff_s": timings.get("handoff_s"),
        "solve_s": timings.get("solve_s"),
        "total_s": outcome.seconds,
    }
    row.update(result.kpis if result is not None else {})
    row["message"] = outcome.message
    return {key: _plain(value) for key, value in row.items()}


def has_solution(row: dict) -> bool:
    objective = row.get("objective")
    return row["status"] in SOLVED and objective is not None and not math.isnan(objective)


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per instance: the fixed columns, the KPI columns (first-seen order), message."""
    fixed = HEAD_COLUMNS + NUMBER_COLUMNS
    kpis = list(dict.fromkeys(key for row in rows for key in row if key not in fixed and key != "message"))
    frame = pd.DataFrame(rows, columns=fixed + kpis + ["message"])
    for column in NUMBER_COLUMNS + kpis:
        frame[column] = frame[column].astype(float)
    for column in HEAD_COLUMNS + ["message"]:
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def write_summary(out: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(out / SUMMARY_CSV, frame.to_csv(index=False))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(out / SUMMARY_PARQUET, buffer.getvalue())


def _plain(value):
    """JSON- and table-friendly: None for missing or non-finite numbers."""
    if value is None or isinstance(value, (str, bool)):
        return value
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------- instance folders


def has_result(folder: Path) -> bool:
    return (folder / SOLUTION_FILE).exists()


def finished_row(folder: Path, digest: str) -> dict | None:
    """The stored summary row if ``folder`` is finished for this content and these options."""
    if not has_result(folder):
        return None
    try:
        record = json.loads((folder / BATCH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != BATCH_FORMAT or record.get("hash") != digest:
        return None
    row = record.get("summary")
    return row if isinstance(row, dict) and "status" in row else None


def write_folder(folder: Path, item: Item, outcome: Outcome, options: dict, row: dict) -> None:
    clear(folder)
    if outcome.result is not None:
        outcome.result.save(folder)
    record = {
        "format": BATCH_FORMAT, "version": BATCH_VERSION, "instance": item.name, "path": item.label,
        "hash": item.digest, "options": options, "status": outcome.status, "message": outcome.message,
        "seconds": round(outcome.seconds, 6), "summary": row,
    }
    atomic_write_text(folder / BATCH_FILE, json.dumps(record, indent=1) + "\n")


def clear(folder: Path) -> None:
    """Remove a previous result (only the files a batch writes), batch.json first."""
    for name in [BATCH_FILE, *result_files()]:
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(str(folder / name), exc.strerror or str(exc)) from None
