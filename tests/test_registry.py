"""The problem registry: the one list of problems that the docs, the verifier and the solve
entry agree on; and what a request the registry refuses gets."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gpuplan as gp
from gpuplan.cli import app
from gpuplan.problems import BLOCK_DOCS, PROBLEMS

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "instances" / "small" / "quickstart.json"
runner = CliRunner()


def test_registry_docs_and_verifiers_name_the_same_problems():
    docs = {path.name for path in (ROOT / "models").glob("*.md")}
    assert {p.doc for p in PROBLEMS.values()} == docs - set(BLOCK_DOCS)
    verifiers = {path.name for path in (ROOT / "src" / "gpuplan" / "verify").iterdir()
                 if path.is_dir() and (path / "__init__.py").exists()}
    assert verifiers == set(PROBLEMS)
    for name, problem in PROBLEMS.items():
        assert problem.name == name and problem.methods and problem.objectives
        assert problem.verify.startswith(f"gpuplan.verify.{name}.")
        for layer in ("solve", "build", "verify"):
            assert callable(problem.layer(layer))
        for block in problem.blocks:
            module, function = block.split(":")
            assert callable(getattr(import_module(module), function))


def test_registry_loads_without_the_solver_stack():
    # The verifier and the registry stay importable where Pyomo is not wanted.
    import subprocess
    import sys

    code = "import sys, gpuplan.problems, gpuplan.verify; print('pyomo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _no_pods(tmp_path: Path) -> Path:
    data = json.loads(QUICKSTART.read_text())
    data["pods"], data["node_pools"], data["current_placements"], data["nodes"] = [], [], [], []
    path = tmp_path / "no_pods.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("kwargs, words", [
    (dict(problem="schedul"), ["unknown problem 'schedul'", "assignment"]),
    (dict(objective="speed"), ["unknown objective 'speed'", "problem 'assignment'"]),
    (dict(method="exact"), ["unknown method 'exact'", "problem 'assignment'"]),
])
def test_api_refuses_what_the_problem_does_not_have(kwargs, words):
    with pytest.raises(ValueError) as error:
        gp.solve(QUICKSTART, **kwargs)
    assert all(word in str(error.value) for word in words) and "\n" not in str(error.value)


def test_api_refuses_an_instance_without_the_problems_sections(tmp_path):
    with pytest.raises(ValueError, match=r"problem 'assignment' needs the section\(s\) pods, node_pools"):
        gp.solve(_no_pods(tmp_path))


@pytest.mark.parametrize("args, words", [
    (["--problem", "schedul"], "unknown problem 'schedul'"),
    (["--objective", "speed"], "unknown objective 'speed' for problem 'assignment'"),
    (["--method", "exact"], "unknown method 'exact' for problem 'assignment'"),
])
def test_cli_refuses_with_one_line_and_exit_2(tmp_path, args, words):
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(QUICKSTART), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_refuses_missing_sections_with_exit_2(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(_no_pods(tmp_path)), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "problem 'assignment' needs the section(s) pods, node_pools" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_batch_refuses_an_unknown_problem_before_it_starts(tmp_path):
    result = runner.invoke(app, ["batch", str(QUICKSTART), "--out", str(tmp_path / "b"), "--problem", "nope"])
    assert result.exit_code == 2 and "unknown problem 'nope'" in result.output
    assert not (tmp_path / "b").exists()
