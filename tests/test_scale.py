"""Generated clusters solved end to end and verified (the timed figures live in benchmarks/)."""

from __future__ import annotations

import pytest

import gpuplan as gp
from gpuplan.generate import assignment_instance


@pytest.mark.parametrize("objective", ["throughput", "cost", "utilization", "fairness"])
def test_generated_cluster_every_objective(objective):
    instance = assignment_instance(gpus=512, jobs=80, seed=11)
    result = gp.solve(instance, objective=objective, time_limit=60)
    gp.verify(instance, result)
    assert result.status == "optimal"
    greedy = gp.solve(instance, objective=objective, method="greedy")
    gp.verify(instance, greedy)
    if result.sense == "max":
        assert result.objective >= greedy.objective - 1e-6
    else:
        assert result.objective <= greedy.objective + 1e-6


@pytest.mark.slow
def test_ten_thousand_gpus_within_one_percent():
    instance = assignment_instance(gpus=10_000, jobs=1_000, seed=1)
    result = gp.solve(instance, time_limit=120, mip_gap=0.01)
    gp.verify(instance, result)
    assert result.status == "optimal" and result.gap <= 0.01
