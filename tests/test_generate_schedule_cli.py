"""`gpuplan generate schedule`: the generator's instance, written as YAML with its long tables as
CSV files beside it (or as one JSON file), validated and loaded back unchanged; bad sizes are one
line, exit 2, nothing written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import gpuplan as gp
from gpuplan.cli import app
from gpuplan.generate_schedule import generate_schedule

runner = CliRunner()
SIZES = {"--gpus": 64, "--jobs": 6, "--services": 2, "--sites": 2, "--hours": 24, "--seed": 3}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def sized(**changes) -> list:
    args = dict(SIZES, **changes)
    return [x for pair in args.items() for x in pair]


def expected():
    return generate_schedule(gpus=64, jobs=6, services=2, sites=2, hours=24, seed=3)


def test_yaml_with_csv_tables_round_trips(tmp_path):
    path = tmp_path / "week" / "schedule.yaml"
    result = run("generate", "schedule", *sized(), "-o", path)
    assert result.exit_code == 0, result.output
    assert "2 sites, 64 GPUs, 6 training jobs, 2 services, 24 periods" in " ".join(result.output.split())
    assert sorted(p.name for p in path.parent.iterdir()) == ["schedule.yaml", "service_demand.csv", "site_series.csv"]
    assert "csv: site_series.csv" in path.read_text()
    validated = run("validate", path)
    assert validated.exit_code == 0 and validated.output.startswith("ok"), validated.output
    assert gp.load(path).model_dump() == expected().model_dump()


def test_json_is_one_file(tmp_path):
    path = tmp_path / "schedule.json"
    assert run("generate", "schedule", *sized(), "-o", path).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["schedule.json"]
    assert run("validate", path).exit_code == 0
    assert gp.load(path).model_dump() == expected().model_dump()


@pytest.mark.parametrize("changes, message", [
    ({"--gpus": 0}, "Invalid value for '--gpus'"),
    ({"--sites": 0}, "Invalid value for '--sites'"),
    ({"--hours": -2}, "Invalid value for '--hours'"),
    ({"--jobs": -1}, "Invalid value for '--jobs'"),
    ({"--gpus": 24}, "gpus must be at least 16 per site"),
    ({"--hours": 3}, "hours must be at least 4"),
])
def test_bad_sizes_are_one_line_exit_2_nothing_written(tmp_path, changes, message):
    path = tmp_path / "schedule.yaml"
    result = run("generate", "schedule", *sized(**changes), "-o", path)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_suffix_is_refused(tmp_path):
    result = run("generate", "schedule", *sized(), "-o", tmp_path / "schedule.txt")
    assert result.exit_code == 2 and "unknown file type '.txt'" in result.output
    assert list(tmp_path.iterdir()) == []
