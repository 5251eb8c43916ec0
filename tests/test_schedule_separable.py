"""The separable bound (gpuplan/model/schedule/separable.py): every job and service priced alone.

It is checked against the exact optimum on tiny random schedules for every objective, with
negative prices (power that pays) and with split gangs; it equals the optimum where nothing
couples (one job, one service); and the large path falls back on it when the fluid relaxation is
not built. Every Result goes through the verifier."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpuplan as gp
import gpuplan.model.schedule.large as large
import gpuplan.model.schedule.solve as schedule_solve
from gpuplan.index.schedule import build_schedule_index
from gpuplan.model.schedule.separable import lagrangian_bound, separable_bound, separable_relaxed
from gpuplan.problems import get
from schedule_cases import all_features, micro
from test_schedule_brute import NEGATIVE_PRICES, tiny_schedules
from test_schedule_large import _exactly, _no_worse
from test_schedule_split_brute import split_schedules

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
OBJECTIVES = st.sampled_from(["cost", "carbon", "value"])


def bound_of(instance, objective: str) -> float | None:
    return separable_bound(build_schedule_index(instance), schedule_solve.WEIGHTS[objective],
                           get("schedule").sense(objective))


def lagrangian_of(instance, objective: str, target: float) -> float | None:
    return lagrangian_bound(build_schedule_index(instance), schedule_solve.WEIGHTS[objective],
                            get("schedule").sense(objective), target, None)


def bounds_the_optimum(data: dict, objective: str) -> None:
    """At the first prices, and at every price the subgradient steps visit on the way to a target
    past the optimum (so that they keep moving): each bound at most the optimum."""
    solved = _exactly(data, objective)
    if solved is None or solved[1].status not in ("optimal", "infeasible"):
        return
    instance, exact = solved
    bound = bound_of(instance, objective)
    if exact.status == "infeasible":
        return   # a relaxation may or may not see it
    assert bound is not None, data
    assert _no_worse(bound, exact.objective, exact.sense), (objective, bound, exact.objective, data)
    beyond = exact.objective + (1 if exact.sense == "min" else -1) * max(1.0, abs(exact.objective))
    best = lagrangian_of(instance, objective, beyond)
    assert _no_worse(best, exact.objective, exact.sense), (objective, best, exact.objective, data)
    assert _no_worse(bound, best, exact.sense)   # the steps keep the best bound


@SETTINGS
@given(tiny_schedules(prices=NEGATIVE_PRICES), OBJECTIVES)
def test_the_separable_bound_holds_on_tiny_schedules(data, objective):
    bounds_the_optimum(data, objective)


@SETTINGS
@given(split_schedules(), OBJECTIVES)
def test_the_separable_bound_holds_for_split_gangs(data, objective):
    bounds_the_optimum(data, objective)


def _exact(instance, objective="cost"):
    result = gp.solve(instance, problem="schedule", objective=objective)
    assert result.status == "optimal"
    return result.objective


def test_one_job_alone_is_priced_exactly():
    # nodes off when idle, prices 4 3 1 2: the 2 GPU-hours go to the two cheapest hours, 1 kW each
    instance = micro(prices=[4, 3, 1, 2], jobs=[{"id": "j", "work_gpu_hours": 2}],
                     facilities=[{"site": "a", "power_off": True}])
    assert bound_of(instance, "cost") == pytest.approx(_exact(instance)) == pytest.approx(3.0)


def test_tardiness_against_cheap_late_hours_is_priced_exactly():
    # due at 1 h, 10 per hour late: finishing in hour 0 (price 5) beats the cheap hours after it
    instance = micro(prices=[5, 1, 1, 1], jobs=[{"id": "j", "work_gpu_hours": 1, "due_h": 1.0,
                                                 "tardiness_cost_per_h": 10.0}],
                     facilities=[{"site": "a", "power_off": True}])
    assert bound_of(instance, "cost") == pytest.approx(_exact(instance)) == pytest.approx(5.0)


@pytest.mark.parametrize("preemptible, optimum", [(True, 1 + 1 + 5), (False, 1 + 9)])
def test_restarts_and_contiguity_are_priced_in_whole_periods(preemptible, optimum):
    # 2 GPU-hours over prices 1 9 1: the cheap hours apart cost a resume (5), a contiguous run the dear hour
    instance = micro(periods=3, prices=[1, 9, 1], idle_w=0.0, facilities=[{"site": "a", "power_off": True}],
                     jobs=[{"id": "j", "work_gpu_hours": 2, "restart_cost": 5.0, "preemptible": preemptible}])
    assert bound_of(instance, "cost") == pytest.approx(_exact(instance)) == pytest.approx(optimum)


def test_one_service_alone_is_priced_exactly():
    instance = micro(nodes=2, prices=[1, 2, 3, 4], services=[{"id": "v", "utilization": 1.0}],
                     demand=[("v", [1, 2, 0, 1])], facilities=[{"site": "a", "power_off": True}])
    assert bound_of(instance, "cost") == pytest.approx(_exact(instance)) == pytest.approx(1 + 4 + 4)


def test_nodes_always_on_are_a_constant():
    # no power-off: the idle GPU (0.1 kW) draws in every hour whatever runs
    instance = micro(prices=[1, 1, 1, 1], jobs=[{"id": "j", "work_gpu_hours": 1}])
    assert bound_of(instance, "cost") == pytest.approx(_exact(instance)) == pytest.approx(0.9 + 4 * 0.1)


def test_coupling_is_what_it_drops_and_its_price_puts_back():
    # two jobs want the one cheap hour: alone each gets it, together one pays 10 more; priced at
    # 10 per GPU, the cheap hour costs each job as much as the dear one: the bound is the optimum
    instance = micro(prices=[1, 11], jobs=[{"id": "j", "work_gpu_hours": 1}, {"id": "k", "work_gpu_hours": 1}],
                     periods=2, facilities=[{"site": "a", "power_off": True}])
    assert bound_of(instance, "cost") == pytest.approx(2.0)
    assert _exact(instance) == pytest.approx(12.0)
    assert lagrangian_of(instance, "cost", 12.0) == pytest.approx(12.0)


def test_a_grid_limit_priced_moves_the_bound():
    # two GPUs of 1 kW, a 1.5 kW limit in the cheap hour: one job runs there, the other pays 11;
    # relaxed, 1.5 GPU-hours fit the cheap hour (1.5 + 0.5 x 11 = 7), which the priced limit finds
    instance = micro(nodes=2, periods=2, prices=[1, 11], limits=[1.5, 10.0], idle_w=0.0,
                     jobs=[{"id": "j", "work_gpu_hours": 1}, {"id": "k", "work_gpu_hours": 1}],
                     facilities=[{"site": "a", "power_off": True}])
    assert bound_of(instance, "cost") == pytest.approx(2.0)
    assert _exact(instance) == pytest.approx(12.0)
    assert lagrangian_of(instance, "cost", 12.0) == pytest.approx(7.0, rel=1e-4)


def test_a_demand_charge_priced_at_the_peak_hour():
    # one job of 1 kW for 1 h in two free hours, demand charge 10 per kW: the peak is 1 kW
    # wherever it runs; relaxed, half in each hour has a peak of 0.5, and no price of the peak
    # moves the bound past that (the relaxation's own optimum); three hours of price 0, 0, 1 and
    # a job that fits only in the first two: the even spread's 10/3 per hour rises to 5 in each
    instance = micro(periods=3, prices=[0, 0, 1], idle_w=0.0,
                     jobs=[{"id": "j", "work_gpu_hours": 1, "deadline_h": 2.0}],
                     facilities=[{"site": "a", "power_off": True, "demand_charge_per_kw": 10.0}])
    assert bound_of(instance, "cost") == pytest.approx(10 / 3)
    assert _exact(instance) == pytest.approx(10.0)
    assert lagrangian_of(instance, "cost", 10.0) == pytest.approx(5.0, rel=1e-4)


def test_the_large_path_without_its_relaxation_keeps_the_separable_bound(monkeypatch):
    monkeypatch.setattr(schedule_solve, "LARGE_COLUMNS", -1)
    monkeypatch.setattr(large, "FLUID_COLUMNS", -1)
    instance = all_features()
    result = gp.solve(instance, problem="schedule")
    assert result.status in ("feasible", "optimal") and result.bound is not None, result.message
    assert "separable bound" in result.message and "the fluid relaxation not tried" in result.message
    assert gp.verify(instance, result, raise_on_error=False) == []
    assert bound_of(instance, "cost") - 1e-9 <= result.bound <= result.objective + 1e-9   # priced: no weaker


def test_the_separable_guide_runs_each_job_in_its_cheapest_periods():
    instance = micro(prices=[4, 3, 1, 2], jobs=[{"id": "j", "work_gpu_hours": 2}],
                     facilities=[{"site": "a", "power_off": True}])
    relaxed = separable_relaxed(build_schedule_index(instance), schedule_solve.WEIGHTS["cost"], "min")
    assert relaxed.work_share[("j", "a", "g")].tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0])
    assert relaxed.mean_throughput[("a", "g")][2:].tolist() == [1.0, 1.0]


def test_a_separable_guided_plan_is_valid_and_beats_the_queue_baseline():
    from gpuplan.generate_schedule import generate_schedule
    from gpuplan.heuristics.schedule import asap
    from gpuplan.heuristics.schedule.guided import guided
    from gpuplan.verify.schedule.rules import schedule_violations
    from gpuplan.verify.schedule.value import evaluate, schedule_facts

    instance = generate_schedule(400, 20, 2, 2, 48, seed=3)   # asap fails on seeds 1, 2 (grid limits)
    idx, facts = build_schedule_index(instance), schedule_facts(instance)
    plan = guided(idx, separable_relaxed(idx, schedule_solve.WEIGHTS["cost"], "min"), "cost", passes=1)
    assert not plan.failed
    ev = evaluate(facts, plan.placements, plan.services, plan.nodes_on)
    assert schedule_violations(facts, ev) == []
    queue = asap(idx)
    assert not queue.failed
    assert ev.objective_value("cost") < evaluate(facts, queue.placements, queue.services, queue.nodes_on).objective_value("cost")
    assert bound_of(instance, "cost") <= ev.objective_value("cost")


def test_asap_improved_by_the_separable_guide_is_valid_and_cheaper():
    from gpuplan.generate_schedule import generate_schedule
    from gpuplan.heuristics.schedule import asap
    from gpuplan.heuristics.schedule.baselines import deadline_order
    from gpuplan.heuristics.schedule.guided import improved
    from gpuplan.heuristics.schedule.periods import earliest
    from gpuplan.verify.schedule.rules import schedule_violations
    from gpuplan.verify.schedule.value import evaluate, schedule_facts

    instance = generate_schedule(400, 20, 2, 2, 48, seed=3)   # asap fails on seeds 1, 2 (grid limits)
    idx, facts = build_schedule_index(instance), schedule_facts(instance)
    relaxed = separable_relaxed(idx, schedule_solve.WEIGHTS["cost"], "min")
    plan = improved(idx, relaxed, "cost", deadline_order(idx), earliest, passes=3)
    ev = evaluate(facts, plan.placements, plan.services, plan.nodes_on)
    assert not plan.failed and schedule_violations(facts, ev) == []
    queue = asap(idx)
    assert not queue.failed
    before = evaluate(facts, queue.placements, queue.services, queue.nodes_on)
    assert ev.objective_value("cost") < before.objective_value("cost")
    # no later than asap: the jobs it finished on time stay on time
    assert ev.kpis["late_jobs"] <= before.kpis["late_jobs"] and ev.kpis["unfinished_jobs"] <= before.kpis["unfinished_jobs"]


def test_a_time_limit_too_short_for_the_relaxation_leaves_it_to_the_priced_bound(monkeypatch):
    monkeypatch.setattr(schedule_solve, "LARGE_COLUMNS", -1)
    monkeypatch.setattr(large, "FLUID_SECONDS_PER_COLUMN", 1e3)   # every relaxation "too slow"
    instance = all_features()
    result = gp.solve(instance, problem="schedule", time_limit=30)
    assert result.status in ("feasible", "optimal") and result.bound is not None, result.message
    assert "the fluid relaxation not tried" in result.message and "would take about" in result.message
    assert "build_s" not in result.timings and result.bound <= result.objective + 1e-9
