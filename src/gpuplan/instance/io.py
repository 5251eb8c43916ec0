"""Reading and writing instance files: JSON or YAML (safe loading), tables inline or from CSV.

Loading is: parse -> check ``schema_version`` (migrate old files, refuse newer ones) -> read the
CSV tables -> validate with pydantic -> cross-entity checks. Any problem raises one
:class:`~gpuplan.errors.InputError` naming the file, the field path (or CSV line and column)
and the problem.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import InputError, shown
from ..files import atomic_write_text
from ..textfiles import YAML_SUFFIXES, check_tree, parse_file, read_text
from . import checks
from .references import csv_reference
from .schema import SCHEMA_VERSION, TABLES, GpuOption, Instance, Job

# Old schema versions and the function that lifts a file's data one version up. Empty while
# version 1 is the only one; the loader never guesses a version.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}

@dataclass
class CsvOrigin:
    """Where the elements of one table came from, to point errors at a CSV line."""

    path: str
    lines: list[list[int]] = field(default_factory=list)  # element -> line numbers (jobs: per option)
    columns: set[str] = field(default_factory=set)


def load(path: str | Path) -> Instance:
    """Load and validate an instance file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    source = str(path)
    data = parse_file(path)
    return from_dict(data, source=source, base_dir=path.parent)


def check(instance: Instance, source: str = "<instance>") -> Instance:
    """The cross-entity rules for an Instance built in Python (``gp.Instance(...)``): pydantic
    checks each field as it is set, but unique ids, references and the current placement's
    capacity span tables, and only loading checks them. Raises :class:`InputError`."""
    problem = checks.first_problem(instance)
    if problem is not None:
        loc, message = problem
        data = instance.model_dump(mode="json")  # only to label the path with ids
        raise InputError(source, _render_path(loc, data) or None, message)
    return instance


def from_dict(data: Any, source: str = "<instance>", base_dir: str | Path = ".") -> Instance:
    """Validate instance data already parsed into Python objects."""
    if not isinstance(data, dict):
        raise InputError(source, None, f"the top level must be a mapping, not {type(data).__name__}")
    check_tree(data, source)
    data = _migrate(dict(data), source)
    origins: dict[str, CsvOrigin] = {}
    for table, model in TABLES.items():
        value = data.get(table)
        if isinstance(value, dict) and set(value) == {"csv"}:
            data[table], origins[table] = _read_csv_table(table, model, value["csv"], source, base_dir)
    try:
        instance = Instance.model_validate(data)
    except ValidationError as exc:
        raise _first_validation_error(exc, data, source, origins) from None
    problem = checks.first_problem(instance)
    if problem is not None:
        loc, message = problem
        raise _located_error(loc, message, data, source, origins)
    return instance


def check_output_suffix(path: str | Path) -> None:
    """An instance file is written only where it can be read back: .json, .yaml or .yml."""
    suffix = Path(path).suffix.lower()
    if suffix != ".json" and suffix not in YAML_SUFFIXES:
        raise InputError(str(path), None, f"unknown file type '{suffix}' for an instance (use .json, .yaml or .yml)")


def dump(instance: Instance, path: str | Path) -> None:
    """Write an instance file atomically; JSON or YAML by the file's suffix. Defaults are left out."""
    path = Path(path)
    check_output_suffix(path)
    data = instance.model_dump(mode="json", exclude_defaults=True)
    data = {"schema_version": instance.schema_version, **data}
    if path.suffix.lower() in YAML_SUFFIXES:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=1) + "\n"
    atomic_write_text(path, text)


# ---------------------------------------------------------------- parsing


def _migrate(data: dict, source: str) -> dict:
    version = data.get("schema_version")
    if version is None:
        raise InputError(source, "schema_version", f"missing (this gpuplan reads schema_version {SCHEMA_VERSION})")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(source, "schema_version", f"must be an integer, not {shown(repr(version), quote=False)}")
    if version > SCHEMA_VERSION:
        raise InputError(
            source, "schema_version", f"{version} is newer than this gpuplan reads ({SCHEMA_VERSION}); upgrade gpuplan"
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise InputError(source, "schema_version", f"unknown schema_version {version}")
        data = MIGRATIONS[version](data)
        version = data["schema_version"]
    return data


# ---------------------------------------------------------------- CSV tables


def _read_csv_table(table: str, model: type[BaseModel], ref: Any, source: str, base_dir) -> tuple[list, CsvOrigin]:
    csv_path = csv_reference(ref, base_dir, source, f"{table}.csv")
    name = str(Path(base_dir) / ref) if str(base_dir) not in ("", ".") else ref
    text = read_text(csv_path, name)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(name, None, f"malformed CSV: {exc}") from None
    if not rows:
        raise InputError(name, None, "empty CSV file (a header row is needed)")
    header = [h.strip() for h in rows[0]]
    kinds = _column_kinds(table, model)
    for column in header:
        if column not in kinds:
            raise InputError(name, f"line 1, column {shown(column)}", f"unknown column (known: {', '.join(sorted(kinds))})")
    if len(set(header)) != len(header):
        raise InputError(name, "line 1", "a column name appears twice")
    records: list[tuple[int, dict]] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(name, f"line {line_no}", f"{len(row)} cells but the header has {len(header)}")
        record = {}
        for column, cell in zip(header, row):
            cell = cell.strip()
            if cell != "":
                record[column] = _typed_cell(cell, kinds[column])
        records.append((line_no, record))
    origin = CsvOrigin(path=name, columns=set(header))
    if table == "jobs":
        return _group_job_rows(records, origin), origin
    origin.lines = [[line] for line, _ in records]
    return [record for _, record in records], origin


def _column_kinds(table: str, model: type[BaseModel]) -> dict[str, str]:
    kinds = {name: _kind(info.annotation) for name, info in model.model_fields.items()}
    if table == "jobs":  # long format: one row per (job, GPU type option)
        del kinds["gpu_options"]
        kinds.update({name: _kind(info.annotation) for name, info in GpuOption.model_fields.items()})
    return kinds


def _kind(annotation: Any) -> str:
    """Reduce a field annotation to how a CSV cell is read: int, float, bool or str."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(inner[0]) if len(inner) == 1 else "str"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    return "str"


_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def _typed_cell(cell: str, kind: str) -> Any:
    """Type a CSV cell; a cell that does not parse stays a string so validation names it."""
    try:
        if kind == "int":
            return int(cell)
        if kind == "float":
            return float(cell)
    except ValueError:
        return cell
    if kind == "bool":
        low = cell.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return cell


_OPTION_FIELDS = set(GpuOption.model_fields)


def _group_job_rows(records: list[tuple[int, dict]], origin: CsvOrigin) -> list[dict]:
    """Long format: one row per (job, GPU option), the job's own columns repeated on each. A
    row with every option column empty is a CPU-only job (no GPU options), alone."""
    jobs: dict[Any, dict] = {}
    first_line: dict[Any, int] = {}
    lines: dict[Any, list[int]] = {}
    cpu_only_line: dict[Any, int] = {}
    for line_no, record in records:
        job_fields = {k: v for k, v in record.items() if k not in _OPTION_FIELDS}
        option = {k: v for k, v in record.items() if k in _OPTION_FIELDS}
        key = record.get("id")
        if key is None:
            raise InputError(origin.path, f"line {line_no}, column 'id'", "missing job id")
        if key not in jobs:
            jobs[key] = {**job_fields, "gpu_options": []}
            first_line[key] = line_no
            lines[key] = []
        else:
            for column, value in job_fields.items():
                if jobs[key].get(column) != value:
                    raise InputError(
                        origin.path,
                        f"line {line_no}, column '{column}'",
                        f"job {shown(key)} has another value here than on line {first_line[key]}",
                    )
        _add_option(jobs[key], option, key, line_no, lines[key], cpu_only_line, origin.path)
    origin.lines = [lines[key] or [first_line[key]] for key in jobs]
    return list(jobs.values())


def _add_option(job: dict, option: dict, key, line_no: int, option_lines: list[int], cpu_only_line: dict,
                path: str) -> None:
    options = job["gpu_options"]
    if not option:
        if options:
            raise InputError(path, f"line {line_no}, column 'gpu_type'",
                             f"job {shown(key)} has GPU options on line {option_lines[0]}; an empty gpu_type "
                             f"(a CPU-only job) must be its only row")
        cpu_only_line[key] = line_no
        return
    if key in cpu_only_line:
        raise InputError(path, f"line {line_no}, column 'gpu_type'",
                         f"job {shown(key)} is CPU-only on line {cpu_only_line[key]} (empty gpu_type) and has a "
                         f"GPU option here")
    for earlier, line in zip(options, option_lines):
        if "gpu_type" in option and earlier.get("gpu_type") == option["gpu_type"]:
            raise InputError(path, f"line {line_no}, column 'gpu_type'",
                             f"GPU type {shown(option['gpu_type'])} listed twice for job {shown(key)} (first on line {line})")
    options.append(option)
    option_lines.append(line_no)


# ---------------------------------------------------------------- error locations


def _first_validation_error(exc: ValidationError, data: dict, source: str, origins: dict) -> InputError:
    errors = exc.errors(include_url=False)
    error = errors[0]
    # A CSV cell is named by its line and column; its content is not echoed.
    message = _friendly_message(error, echo=not (error["loc"] and error["loc"][0] in origins))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return _located_error(tuple(error["loc"]), message, data, source, origins)


def _friendly_message(error: dict, echo: bool = True) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "missing required field"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if (echo and kind not in ("value_error", "assertion_error") and "input" in error
            and not isinstance(error["input"], (dict, list))):
        message += f" (got {shown(repr(error['input']), quote=False)})"
    return message


def _located_error(loc: tuple, message: str, data: dict, source: str, origins: dict) -> InputError:
    if loc and loc[0] in origins and len(loc) >= 2 and isinstance(loc[1], int):
        return _csv_error(loc, message, origins[loc[0]])
    return InputError(source, _render_path(loc, data) or None, message)


def _csv_error(loc: tuple, message: str, origin: CsvOrigin) -> InputError:
    element_lines = origin.lines[loc[1]] if loc[1] < len(origin.lines) else [0]
    line, column = element_lines[0], None
    rest = list(loc[2:])
    if rest[:1] == ["gpu_options"] and len(rest) >= 2 and isinstance(rest[1], int):
        line = element_lines[rest[1]] if rest[1] < len(element_lines) else line
        rest = rest[2:]
    if rest and isinstance(rest[0], str):
        column = rest[0]
    where = f"line {line}" + (f", column '{column}'" if column else "")
    return InputError(origin.path, where, message)


def _render_path(loc: tuple, data: Any) -> str:
    text = ""
    current = data
    for element in loc:
        if isinstance(element, int) and isinstance(current, list):
            current = current[element] if element < len(current) else None
            label = f"[{element}]"
            if isinstance(current, dict) and isinstance(current.get("id"), str):
                label += f"({shown(current['id'], 40, quote=False)})"
            text += label
        elif isinstance(element, str) and isinstance(current, dict):
            current = current.get(element)
            text += ("." if text else "") + shown(element, 40, quote=False)
        else:
            break  # pydantic's type tags (e.g. 'int', 'constrained-int') are not data fields
    return text


__all__ = ["load", "from_dict", "dump", "Instance", "Job"]
