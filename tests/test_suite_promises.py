"""The suite's own promises: data tests skip cleanly without ../shared/data, but fail where the
data is required (.ci/run sets GPUPLAN_REQUIRE_DATA=1), and the solve check rejects an
"optimal" beyond its gap."""

from __future__ import annotations

from pathlib import Path

import pytest

import builders
import gpuplan as gp
from builders import check_result, cluster, job, pool


def test_missing_data_skips_by_default(monkeypatch):
    monkeypatch.setattr(builders, "REQUIRE_DATA", False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        builders.skip_without_data("data not found at /nowhere")


def test_missing_data_fails_where_required(monkeypatch):
    monkeypatch.setattr(builders, "REQUIRE_DATA", True)
    with pytest.raises(pytest.fail.Exception, match="GPUPLAN_REQUIRE_DATA=1"):
        builders.skip_without_data("data not found at /nowhere")


def test_ci_requires_the_data():
    assert "GPUPLAN_REQUIRE_DATA=1 pytest" in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()


def test_the_solve_check_rejects_optimal_beyond_the_gap():
    instance = cluster([pool("k0", "A", 4, 1)], [job("j0", {"A": 4})])
    result = gp.solve(instance)
    result.bound, result.gap = result.objective * 2, 1.0   # a valid bound, but far: not proved
    result.mip_gap = None   # so that only the suite's own assertion (not the verifier) can catch it
    with pytest.raises(AssertionError, match="above mip_gap"):
        check_result(instance, result, 1e-4)
