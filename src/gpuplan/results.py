"""Result: status, objective, bound, gap, timings, tidy DataFrames keyed by instance ids, KPIs.

A Result is built from concrete placement rows, whichever method produced them. What the
rows are worth (job states, throughput, objective terms, KPIs) is computed by the same rules
the verifier checks (:func:`gpuplan.verify.evaluate`), so a result always describes the
placement it holds; ``solver_objective`` keeps what the solver itself reported, and the
verifier checks the two against each other and against the bound.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError
from .files import output_folder
from .textfiles import parse_json, read_text

SOLUTION_FORMAT = "gpuplan-solution"
SOLUTION_VERSION = 1
SOLUTION_FILE = "solution.json"
# Every status a Result may have; SOLVED ones hold a solution when their objective is set,
# NO_SOLUTION ones never do.
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "time_limit", "error")
SOLVED = ("optimal", "feasible", "time_limit")
NO_SOLUTION = ("infeasible", "unbounded", "error")
TERM_COLUMNS = ["term", "weight", "value", "contribution"]
TERMS_FILE = "objective_terms.csv"


@dataclass
class Result:
    """The shared head of every problem's result, and the problem's tables.

    ``result.<table>`` is one of the problem's tables (the registry's ``Problem.tables``: for
    assignment placements, jobs, tenants, pools; for schedule placements, jobs, services,
    energy, nodes_on); a table not filled yet is empty with its columns."""

    instance_name: str
    problem: str
    method: str
    objective_name: str
    sense: str
    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    solver_objective: float | None = None
    mip_gap: float | None = None   # the gap asked for: status "optimal" means gap <= mip_gap
    timings: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    kpis: dict[str, float] = field(default_factory=dict)
    objective_terms: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TERM_COLUMNS))
    message: str = ""
    solver_log: str = field(default="", repr=False)

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Only called when normal lookup fails: a table of the problem, created empty on first use.
        if name.startswith("__") or "tables" not in self.__dict__:
            raise AttributeError(name)
        spec = _table_spec(self.__dict__.get("problem"), name)
        if spec is None:
            raise AttributeError(f"a {self.__dict__.get('problem')!r} Result has no table {name!r}")
        return self.tables.setdefault(name, _empty(spec))

    def __setattr__(self, name: str, value) -> None:
        if name not in self.__dataclass_fields__ and _table_spec(self.__dict__.get("problem"), name) is not None:
            self.tables[name] = value
        else:
            object.__setattr__(self, name, value)

    @property
    def has_solution(self) -> bool:
        return self.objective is not None

    def table_specs(self):
        return _problem_tables(self.problem)

    def columns(self, table: str) -> list[str]:
        """The columns the problem declares for ``table``."""
        return list(_table_spec(self.problem, table).columns)

    # ------------------------------------------------------------ serialisation

    def to_solution_dict(self) -> dict[str, Any]:
        data = {
            "format": SOLUTION_FORMAT,
            "version": SOLUTION_VERSION,
            "instance": self.instance_name,
            "problem": self.problem,
            "method": self.method,
            "status": self.status,
            "objective_name": self.objective_name,
            "sense": self.sense,
            "objective": _number(self.objective),
            "bound": _number(self.bound),
            "gap": _number(self.gap),
            "solver_objective": _number(self.solver_objective),
            "mip_gap": _number(self.mip_gap),
            "timings": {k: round(float(v), 6) for k, v in self.timings.items()},
            "objective_terms": _records(self.objective_terms),
            "kpis": {k: _number(v) for k, v in self.kpis.items()},
        }
        for spec in self.table_specs():
            if spec.solution is not None:
                data[spec.name] = _solution_records(getattr(self, spec.name), spec)
        data["message"] = self.message
        return data

    def save(self, directory: str | Path) -> Path:
        """Write solution.json, one CSV per table and solver.log into ``directory``.

        Every file is written atomically; solution.json is written last, so its presence
        means the folder is complete. Saving over an earlier result removes it first
        (solution.json first, then every file any problem's result writes): a crash midway
        never leaves new tables beside an old solution, and a failure to write (OutputError)
        removes what this call wrote."""
        with output_folder(directory) as folder:
            for name in result_files():
                folder.remove(name)  # solution.json first: an earlier result goes whole
            for spec in self.table_specs():
                folder.write_text(f"{spec.name}.csv", getattr(self, spec.name).to_csv(index=False))
            folder.write_text(TERMS_FILE, self.objective_terms.to_csv(index=False))
            folder.write_text("solver.log", self.solver_log)
            return folder.write_text(SOLUTION_FILE, json.dumps(self.to_solution_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        """Read a saved result (a solution.json file or the folder holding it): the solution's
        tables from solution.json, the derived ones from their CSV files."""
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        data = read_solution(path)
        tables = {}
        for spec in _problem_tables(data["problem"]):
            if spec.solution is not None:
                frame = pd.DataFrame(data.get(spec.name) or [], columns=list(spec.solution))
            else:
                frame = _read_table(folder / f"{spec.name}.csv")
            tables[spec.name] = frame.astype({c: "Int64" for c in spec.integer if c in frame.columns})
        log = folder / "solver.log"
        return cls(
            instance_name=data.get("instance", ""), problem=data["problem"], method=data["method"],
            objective_name=data["objective_name"], sense=data["sense"], status=data["status"],
            objective=data.get("objective"), bound=data.get("bound"), gap=data.get("gap"),
            solver_objective=data.get("solver_objective"), mip_gap=data.get("mip_gap"), timings=data.get("timings", {}),
            tables=tables, kpis=data.get("kpis", {}),
            objective_terms=pd.DataFrame(data["objective_terms"], columns=TERM_COLUMNS),
            message=data.get("message", ""), solver_log=log.read_text(encoding="utf-8") if log.exists() else "",
        )

    # ------------------------------------------------------------ display

    def summary_lines(self) -> list[tuple[str, str]]:
        """(label, text) pairs: what the text repr, the HTML repr and the CLI summary show."""
        lines = [
            ("instance", self.instance_name),
            ("status", self.status),
            ("method", f"{self.method} ({self.problem})"),
            ("objective", f"{self.objective_name} ({self.sense}) = {_fmt(self.objective)}"),
            ("bound / gap", f"{_fmt(self.bound)} / {_fmt_gap(self.gap)}"
             + (" (trivial bound)" if self.method == "greedy" and self.bound is not None else "")),
        ]
        kpis = dict(self.kpis)
        gpus = _gpu_line(kpis)
        if gpus:
            lines.append(("GPUs", gpus))
        jobs = _jobs_line(kpis)
        if jobs:
            lines.append(("jobs", jobs))
        lines.extend((key, _fmt(value)) for key, value in kpis.items())
        if self.timings:
            lines.append(("seconds", ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in self.timings.items())))
        if self.message:
            lines.append(("message", self.message))
        return lines

    def __repr__(self) -> str:
        lines = ["gpuplan.Result"] + [f"{key:>19}: {value}" for key, value in self.summary_lines()]
        for title, frame, shown in self._display_tables():
            if shown:
                lines += ["", _table_title(title, frame), _indent(_text_table(frame.head(DISPLAY_ROWS)))]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{_html_value(k, v)}</td></tr>"
            for k, v in self.summary_lines())
        parts = [f"<div class='gpuplan-result'><p><strong>gpuplan.Result</strong> "
                 f"{html.escape(self.instance_name)}</p><table>{rows}</table>"]
        for title, frame, shown in self._display_tables():
            table = frame.head(DISPLAY_ROWS).to_html(index=False, na_rep="", float_format=_fmt_float, border=0)
            heading = html.escape(_table_title(title, frame))
            if title == "objective terms":
                parts.append(f"<p><em>{heading}</em></p>{table}")
            else:  # the tables the text repr shows open, the others folded
                opened = " open" if shown else ""
                parts.append(f"<details{opened}><summary><em>{heading}</em></summary>{table}</details>")
        return "".join(parts) + "</div>"

    def _display_tables(self) -> list[tuple[str, pd.DataFrame, bool]]:
        tables = [("objective terms", self.objective_terms, True)]
        tables += [(spec.name.replace("_", " "), getattr(self, spec.name), spec.shown) for spec in self.table_specs()]
        return [(title, frame, shown) for title, frame, shown in tables if len(frame)]


DISPLAY_ROWS = 10  # rows of each table shown by the text and HTML reprs
STATUS_COLORS = {"optimal": "#1a7f37", "feasible": "#9a6700", "time_limit": "#9a6700"}


def _gpu_line(kpis: dict[str, float]) -> str:
    """'101 of 112 allocated (90.2%), 3 fragmented, 1 node free'; pops the KPIs it shows."""
    if "allocated_gpus" not in kpis or "usable_gpus" not in kpis:
        return ""
    allocated, usable = kpis.pop("allocated_gpus"), kpis.pop("usable_gpus")
    share = kpis.pop("gpu_utilization", allocated / usable if usable else 0.0)
    text = f"{_fmt(allocated)} of {_fmt(usable)} allocated ({100 * share:.1f}%)"
    if "fragmented_gpus" in kpis:
        text += f", {_fmt(kpis.pop('fragmented_gpus'))} fragmented"
    if "free_nodes" in kpis:
        free = kpis.pop("free_nodes")
        text += f", {_fmt(free)} node{'' if free == 1 else 's'} free"
    return text


def _jobs_line(kpis: dict[str, float]) -> str:
    """'9 placed, 1 kept, 1 migrated, 0 preempted, 3 unplaced'; pops the KPIs it shows."""
    states = ("placed", "kept", "migrated", "preempted", "unplaced")
    if not all(f"{s}_jobs" in kpis for s in states):
        return ""
    return ", ".join(f"{_fmt(kpis.pop(f'{s}_jobs'))} {s}" for s in states)


def _table_title(title: str, frame: pd.DataFrame) -> str:
    if len(frame) <= DISPLAY_ROWS:
        return title
    return f"{title} (first {DISPLAY_ROWS} of {len(frame)} rows)"


def _text_table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False, na_rep="", float_format=_fmt_float)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _html_value(key: str, value: str) -> str:
    if key != "status":
        return html.escape(value)
    color = STATUS_COLORS.get(value, "#cf222e")
    return f"<strong style='color:{color}'>{html.escape(value)}</strong>"


def _fmt_float(value: float) -> str:
    return f"{value:.6g}"


def _number(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _solution_records(frame: pd.DataFrame, spec) -> list[dict]:
    """A table's rows for solution.json: its solution columns, optional ones only where set."""
    if spec.decision is not None and spec.decision in frame.columns:
        frame = frame[frame[spec.decision].notna()]
    if not len(frame):
        return []
    records = _records(frame[[c for c in spec.solution if c in frame.columns]])
    for record in records:
        for column in spec.optional:
            if record.get(column) is None:
                record.pop(column, None)
    return records


def _problem_tables(problem: str | None) -> tuple:
    from .problems import PROBLEMS  # the registry imports the schema; results is imported by it lazily

    return PROBLEMS[problem].tables if problem in PROBLEMS else ()


def _table_spec(problem: str | None, name: str):
    return next((spec for spec in _problem_tables(problem) if spec.name == name), None)


def _empty(spec) -> pd.DataFrame:
    return pd.DataFrame(columns=list(spec.columns)).astype({c: "Int64" for c in spec.integer})


def result_files() -> list[str]:
    """Every file a saved Result may hold, solution.json first (what a save over it removes)."""
    from .problems import PROBLEMS

    tables = dict.fromkeys(f"{spec.name}.csv" for problem in PROBLEMS.values() for spec in problem.tables)
    return [SOLUTION_FILE, *tables, TERMS_FILE, "solver.log"]


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records")) if len(frame) else []


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else pd.DataFrame()


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.6g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fmt_gap(gap) -> str:
    return "-" if gap is None else f"{100 * gap:.4g}%"


def read_solution(path: str | Path) -> dict:
    """The data of a solution.json (or of the folder holding one); InputError when it is not
    readable, not UTF-8, not strict JSON or not a gpuplan solution."""
    data = read_solution_data(path)
    if data.get("format") != SOLUTION_FORMAT:
        raise InputError(str(_solution_file(path)), "format", "not a gpuplan solution file")
    return data


def read_solution_data(path: str | Path) -> dict:
    """The JSON object of a solution file, whatever its header says (the verifier reports a
    wrong header as a violation); InputError when it is not readable strict JSON or no object."""
    file = _solution_file(path)
    data = parse_json(read_text(file), str(file))
    if not isinstance(data, dict):
        raise InputError(str(file), None, "a solution file holds a JSON object")
    return data


def _solution_file(path: str | Path) -> Path:
    path = Path(path)
    return path / SOLUTION_FILE if path.is_dir() else path
