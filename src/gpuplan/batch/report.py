"""What a batch shows in the terminal: a progress bar while it runs, a summary table after.

The bar shows done / total, counts by status, elapsed time and an ETA; it is drawn only on
an interactive terminal (or in Jupyter), so logs and pipes get no progress lines at all.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .outputs import SOLVED, STATUSES

STATUS_STYLE = {"optimal": "green", "feasible": "green", "time_limit": "yellow", "infeasible": "red",
                "unbounded": "red", "error": "red", "invalid": "red", "crashed": "red"}
LISTED = 20  # non-solved instances listed one per line; the rest are counted


class BatchProgress:
    """A rich progress bar over the instances to solve (skipped ones are counted, not timed)."""

    def __init__(self, total: int, skipped: int, console: Console | None = None, enabled: bool = True):
        console = console or Console()
        self.counts: Counter[str] = Counter()
        self.skipped = skipped
        self.bar = None
        if enabled and (console.is_terminal or console.is_jupyter):
            self.bar = Progress(
                TextColumn("[bold]solving"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False,
            )
            self.task = self.bar.add_task("batch", total=total, counts=self._counts())

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def advance(self, status: str) -> None:
        self.counts[status] += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, counts=self._counts())

    def _counts(self) -> str:
        # Statuses are gpuplan's own words (never user data), so this markup is safe.
        parts = [f"[{STATUS_STYLE.get(s, 'white')}]{s} {self.counts[s]}[/]" for s in STATUSES if self.counts[s]]
        if self.skipped:
            parts.append(f"skipped {self.skipped}")
        return " ".join(parts)


def print_summary(frame: pd.DataFrame, console: Console, *, skipped: int = 0, total: int | None = None,
                  written: str | None = None) -> None:
    """Counts by status, one line per solved instance (objective, gap, GPUs, seconds), then
    one line per instance without a solution; long batches show the first LISTED of each."""
    total = len(frame) if total is None else total
    heading = f"{len(frame)} of {total} instances finished" if total != len(frame) else f"{total} instances"
    if skipped:
        heading += f" ({skipped} finished in an earlier run)"
    console.print(Text.assemble(("batch", "bold"), f": {heading}"))
    counts = Table("status", "instances", box=None)
    for status, count in Counter(frame["status"]).most_common():
        counts.add_row(_status(status), str(count))
    console.print(counts)
    solved = frame[_solved(frame)]
    if len(solved):
        console.print(_results_table(solved.head(LISTED)))
        if len(solved) > LISTED:
            console.print(Text(f"... and {len(solved) - LISTED} more solved (see the summary)"))
    unsolved = frame[~_solved(frame)]
    if len(unsolved):
        console.print(Text.assemble(("without a solution", "bold"), ":"))
        table = Table("instance", "status", "message", box=None)
        for row in unsolved.head(LISTED).itertuples(index=False):
            table.add_row(Text(row.instance), _status(row.status), Text(row.message))
        console.print(table)
        if len(unsolved) > LISTED:
            console.print(Text(f"... and {len(unsolved) - LISTED} more (see the summary)"))
    if written:
        console.print(Text(f"summary: {written}"))


def _results_table(solved: pd.DataFrame) -> Table:
    table = Table("instance", "status", "objective", "gap", "GPUs", "util", "s", box=None)
    table.columns[0].overflow = "fold"
    for column in ("objective", "gap", "allocated_gpus", "gpu_utilization", "total_s"):
        if column not in solved:
            solved = solved.assign(**{column: float("nan")})
    for row in solved.itertuples(index=False):
        table.add_row(Text(row.instance), _status(row.status),
                      _number(row.objective, "{:,.6g}"), _number(row.gap, "{:.2%}"),
                      _number(row.allocated_gpus, "{:,.0f}"), _number(row.gpu_utilization, "{:.1%}"),
                      _number(row.total_s, "{:.2f}"))
    return table


def _status(status: str) -> Text:
    """User data (instance names, messages, even a status read back from a file) go into the
    tables as Text: shown as written, never read as markup."""
    return Text(status, style=STATUS_STYLE.get(status, "white"))


def _number(value, form: str) -> str:
    return "-" if value is None or pd.isna(value) else form.format(value)


def _solved(frame: pd.DataFrame) -> pd.Series:
    return frame["status"].isin(SOLVED) & frame["objective"].notna()
