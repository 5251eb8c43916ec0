"""The command line: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gpuplan as gp
from builders import needs_data
from gpuplan.cli import app

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "instances" / "small" / "quickstart.json"
GAP_FILE = ROOT.parent / "shared" / "data" / "orlib" / "gap" / "cattrysse1994" / "gap1-0"

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_ok():
    result = run("validate", QUICKSTART)
    assert result.exit_code == 0
    assert "14 jobs, 112 GPUs" in result.output


def test_validate_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    data = json.loads(QUICKSTART.read_text())
    data["jobs"][2]["gpu_options"][0]["gpus"] = -4
    bad.write_text(json.dumps(data))
    result = run("validate", bad)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "bad.json: jobs[2](rlhf).gpu_options[0].gpus: Input should be greater than or equal to 1" in lines[0]


def test_solve_prints_summary_and_writes(tmp_path):
    out = tmp_path / "out"
    result = run("solve", QUICKSTART, "--time-limit", 30, "--mip-gap", 0.001, "--out", out)
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output and "throughput" in result.output
    assert (out / "solution.json").exists()
    verified = run("verify", QUICKSTART, out / "solution.json")
    assert verified.exit_code == 0 and "valid" in verified.output


def test_solve_greedy_method(tmp_path):
    result = run("solve", QUICKSTART, "--method", "greedy", "--out", tmp_path / "g")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "g" / "solution.json").read_text())["method"] == "greedy"


def test_solve_bad_input_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\ngpu_types: [}\n")
    out = tmp_path / "out"
    result = run("solve", bad, "--out", out)
    assert result.exit_code == 2
    assert "malformed YAML" in result.output
    assert not out.exists()


def test_solve_bad_option_exit_2(tmp_path):
    result = run("solve", QUICKSTART, "--objective", "speed", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "unknown objective 'speed'" in result.output
    assert not (tmp_path / "o").exists()


def test_solve_infeasible_exit_1(tmp_path):
    data = json.loads(QUICKSTART.read_text())
    for job in data["jobs"]:
        job["required"] = True
    path = tmp_path / "over.json"
    path.write_text(json.dumps(data))
    result = run("solve", path)
    assert result.exit_code == 1
    assert "infeasible" in result.output


def test_verify_rejects_a_tampered_solution(tmp_path):
    out = tmp_path / "out"
    assert run("solve", QUICKSTART, "--out", out).exit_code == 0
    data = json.loads((out / "solution.json").read_text())
    data["placements"].append({"job": "tokenizer-sweep", "node": data["placements"][0]["node"],
                               "gpu_type": data["placements"][0]["gpu_type"], "gpus": 8})
    (out / "solution.json").write_text(json.dumps(data))
    result = run("verify", QUICKSTART, out)
    assert result.exit_code == 1
    assert "node_capacity" in result.output


def test_verify_unreadable_solution_exit_2(tmp_path):
    result = run("verify", QUICKSTART, tmp_path / "nothing.json")
    assert result.exit_code == 2
    assert "nothing.json: cannot read file" in result.output


def test_schema_is_json():
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert "jobs" in schema["properties"]


def test_generate_assignment(tmp_path):
    path = tmp_path / "gen.json"
    result = run("generate", "assignment", "--gpus", 256, "--jobs", 40, "--seed", 7, "-o", path)
    assert result.exit_code == 0
    instance = gp.load(path)
    assert len(instance.jobs) == 40


@needs_data(GAP_FILE.exists(), f"OR-Library GAP data not found at {GAP_FILE}")
def test_import_gap_then_solve(tmp_path):
    path = tmp_path / "gap1-0.json"
    assert run("import", "gap", GAP_FILE, "-o", path).exit_code == 0
    result = run("solve", path, "--out", tmp_path / "sol")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "sol" / "solution.json").read_text())["objective"] == 261


def test_import_gap_bad_file_exit_2(tmp_path):
    bad = tmp_path / "broken"
    bad.write_text("2 3\n1 2 x\n")
    out = tmp_path / "out.json"
    result = run("import", "gap", bad, "-o", out)
    assert result.exit_code == 2
    assert "broken" in result.output
    assert not out.exists()


def test_solve_log_echoes_the_solver(tmp_path):
    result, quiet = run("solve", QUICKSTART, "--log"), run("solve", QUICKSTART)
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output and len(result.output.splitlines()) > len(quiet.output.splitlines()) + 5


@pytest.mark.parametrize("args, message", [
    (["batch", "instances", "--out", "OUT", "--workers", "0"], "Invalid value for '--workers'"),
    (["batch", "instances", "--bogus"], "--bogus"),       # click's wording varies with its version
    (["solve"], "Missing argument"),
    (["solve", "X.json", "--time-limit", "abc"], "Invalid value for '--time-limit'"),
    (["import", "alibaba", "a.csv", "b.csv", "-o", "x.json", "--pods", "-3"], "Invalid value for '--pods'"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


def test_verify_prints_one_line_per_violation(tmp_path):
    out = tmp_path / "out"
    assert run("solve", QUICKSTART, "--out", out).exit_code == 0
    data = json.loads((out / "solution.json").read_text())
    first = data["placements"][0]
    data["placements"].append({**first, "job": "tokenizer-sweep", "gpus": 8})
    (out / "solution.json").write_text(json.dumps(data))
    result = run("verify", QUICKSTART, out)
    assert result.exit_code == 1
    assert all(line.split(":")[0].isidentifier() for line in result.output.splitlines() if line.strip())


@pytest.mark.parametrize("command", [["generate", "assignment", "--gpus", "64", "--jobs", "5"],
                                     ["import", "gap", str(GAP_FILE)]])
def test_instance_writers_refuse_an_unreadable_suffix(tmp_path, command):
    target = tmp_path / "instance.txt"
    result = run(*command, "-o", target)
    assert result.exit_code == 2
    assert "unknown file type '.txt'" in result.output
    assert not target.exists()


def test_solve_writes_its_results_before_printing(tmp_path, monkeypatch):
    import gpuplan.cli as cli

    def closed_pipe(result):
        raise BrokenPipeError

    monkeypatch.setattr(cli, "print_summary", closed_pipe)
    run("solve", QUICKSTART, "--out", tmp_path / "out")
    assert gp.verify(gp.load(QUICKSTART), json.loads((tmp_path / "out" / "solution.json").read_text())) == []
