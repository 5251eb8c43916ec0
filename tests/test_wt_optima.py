"""OR-Library weighted tardiness wt40 (1||sum w_j T_j) through the schedule MILP: the published
optima are reproduced and proved (benchmarks/wt_benchmark.py runs all 125)."""

from __future__ import annotations

from pathlib import Path

import pytest

import gpuplan as gp
from builders import skip_without_data
from gpuplan.importers.wt import read_wt, read_wt_optimum

WT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "orlib" / "wt"
WT40, OPTIMA = WT_DIR / "wt40.txt", WT_DIR / "wtopt40.txt"


def reproduced(problem: int):
    if not (WT40.is_file() and OPTIMA.is_file()):
        skip_without_data(f"reference data not found at {WT_DIR} (the shared data folder is absent)")
    instance = read_wt(WT40, problem=problem)
    result = gp.solve(instance, problem="schedule", time_limit=300)
    optimum = read_wt_optimum(OPTIMA, problem=problem)
    assert result.status == "optimal", result.message
    assert result.objective == pytest.approx(optimum, abs=1e-6)
    assert result.bound <= optimum + 1e-6 and gp.verify(instance, result, raise_on_error=False) == []
    assert result.objective_terms.set_index("term").value["tardiness_cost"] == pytest.approx(optimum)
    return result


def test_wt40_problem_28_optimum_is_reproduced_and_proved():
    # the LP bound of the capacity-flow model is the optimum here, and the LP-guided rounding reaches it
    result = reproduced(28)
    assert "proved within the gap by the LP bound" in result.message


@pytest.mark.slow
@pytest.mark.parametrize("problem", [1, 29, 51])
def test_wt40_optima_are_reproduced_and_proved(problem):
    reproduced(problem)
