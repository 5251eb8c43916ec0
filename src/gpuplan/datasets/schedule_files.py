"""Write a schedule instance as YAML with its long tables as CSV files next to it.

:func:`gpuplan.instance.io.dump` writes every table inline; a week of hourly site series and
service demand is thousands of rows, which read better (and diff better) as CSV. The YAML refers
to them as ``{"csv": "<table>.csv"}``, which :func:`gpuplan.load` reads back.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from ..files import atomic_write_text
from ..instance.schema import TABLES, Instance

LONG_TABLES = ("site_series", "service_demand")


def write_schedule_files(instance: Instance, path: Path, csv_tables=LONG_TABLES) -> Path:
    """Write ``path`` (.yaml) and one ``<table>.csv`` per table of ``csv_tables`` in its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema_version": instance.schema_version,
            **instance.model_dump(mode="json", exclude_defaults=True)}
    for table in csv_tables:
        rows = getattr(instance, table)
        if not rows:
            continue
        name = f"{table}.csv"
        atomic_write_text(path.parent / name, _csv_text(table, rows))
        data[table] = {"csv": name}
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def _csv_text(table: str, rows) -> str:
    columns = list(TABLES[table].model_fields)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(getattr(row, c)) for c in columns])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""       # an empty cell is a value not given (io reads it so)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
