"""The schedule's large-instance strategy (gpuplan/model/schedule/large.py): the fluid relaxation
is a valid bound, its plans are valid and valued by the verifier, and the strategy is chosen by
the exact model's size.

The bound is checked against the exact optimum on tiny random schedules (Hypothesis, the brute
force's own generator) for every objective; the large path is forced on them by setting the size
threshold to 0. Every Result goes through the verifier (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpuplan as gp
import gpuplan.model.schedule.solve as schedule_solve
from gpuplan.errors import InputError
from gpuplan.generate_schedule import generate_schedule
from gpuplan.heuristics.schedule import asap
from gpuplan.heuristics.schedule.guided import first_plan, guided, reinsert
from gpuplan.index.schedule import build_schedule_index
from gpuplan.instance.io import from_dict
from gpuplan.model.schedule.fluid import build_fluid
from gpuplan.model.schedule.large import exact_columns, relaxed_values
from gpuplan.problems import get
from gpuplan.solver import HighsSession, SolveOptions
from gpuplan.verify.schedule.value import evaluate
from schedule_cases import all_features, micro
from test_schedule_brute import tiny_schedules

TOL = 1e-6
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture
def large_path(monkeypatch):
    """Every schedule solve takes the large-instance strategy."""
    monkeypatch.setattr(schedule_solve, "LARGE_COLUMNS", -1)


def fluid_bound(instance, objective: str) -> float | None:
    idx = build_schedule_index(instance)
    sense = get("schedule").sense(objective)
    built = build_fluid(idx, objective, sense, schedule_solve.schedule_weights)
    relaxation = HighsSession(built.model, SolveOptions()).relaxation(None, "ipm")
    return relaxation.bound if relaxation.status == "optimal" else None


def _no_worse(bound: float, value: float, sense: str) -> bool:
    slack = TOL * max(1.0, abs(value)) + 1e-4 * max(1.0, abs(value))   # the exact optimum is within mip_gap
    return bound <= value + slack if sense == "min" else bound >= value - slack


def _exactly(data: dict, objective: str):
    """The instance and its exact solve; None for input the checks refuse."""
    try:
        instance = from_dict(data)
    except InputError:
        return None
    return instance, gp.solve(instance, problem="schedule", objective=objective)


@SETTINGS
@given(tiny_schedules(), st.sampled_from(["cost", "carbon", "value"]))
def test_the_fluid_relaxation_bounds_the_exact_optimum(data, objective):
    solved = _exactly(data, objective)
    if solved is None or solved[1].status != "optimal":
        return
    instance, exact = solved
    bound = fluid_bound(instance, objective)
    assert bound is not None
    assert _no_worse(bound, exact.objective, exact.sense), (bound, exact.objective, data)


@SETTINGS
@given(tiny_schedules(), st.sampled_from(["cost", "carbon", "value"]))
def test_a_large_path_plan_is_no_better_than_the_optimum_and_its_bound_holds(data, objective):
    solved = _exactly(data, objective)
    if solved is None:
        return
    instance, exact = solved
    schedule_solve.LARGE_COLUMNS, kept = -1, schedule_solve.LARGE_COLUMNS
    try:
        large = gp.solve(instance, problem="schedule", objective=objective)
    finally:
        schedule_solve.LARGE_COLUMNS = kept
    if exact.status == "infeasible":
        assert large.status in ("infeasible", "error")   # no plan can exist
        return
    if exact.status != "optimal" or large.status not in ("optimal", "feasible"):
        return   # a baseline may fail where the exact model finds a plan (say, with hard services)
    assert _no_worse(exact.objective, large.objective, large.sense), (exact.objective, large.objective)
    assert _no_worse(large.bound, exact.objective, large.sense)


def test_the_large_path_solves_every_feature(large_path):
    instance = all_features()
    result = gp.solve(instance, problem="schedule")
    assert result.status in ("optimal", "feasible"), result.message
    assert result.message.startswith("large instance")
    assert result.bound is not None and result.bound <= result.objective + TOL
    assert gp.verify(instance, result, raise_on_error=False) == []


def test_the_large_path_proves_a_plan_the_relaxation_cannot_beat(large_path):
    # one job, one period of room: the fluid bound is the plan's own cost
    data = micro(periods=2, prices=[1.0, 2.0], jobs=[{"id": "j", "gpus": 1, "gpu_options": [{"gpu_type": "g"}],
                                                     "work_gpu_hours": 1.0}])
    result = gp.solve(data, problem="schedule")
    assert result.status == "optimal", result.message
    assert result.placements["period"].tolist() == [0]


def test_required_jobs_that_cannot_all_finish_make_the_large_path_infeasible(large_path):
    # each fits alone, not both: the fluid relaxation is infeasible, so the schedule is
    data = micro(periods=2, jobs=[{"id": j, "work_gpu_hours": 2.0} for j in ("j", "k")])
    assert gp.solve(data, problem="schedule").status == "infeasible"


def test_the_exact_size_estimate_counts_the_job_binaries():
    instance = all_features()
    idx = build_schedule_index(instance)
    built = schedule_solve.build_schedule(instance)
    m = built.model
    assert exact_columns(idx) == len(m.run) + len(m.begin)


@pytest.fixture(scope="module")
def generated():
    instance = generate_schedule(gpus=320, jobs=16, services=2, sites=2, hours=24, seed=3)
    idx = build_schedule_index(instance)
    built = build_fluid(idx, "cost", "min", schedule_solve.schedule_weights)
    assert HighsSession(built.model, SolveOptions()).relaxation(None, "ipm").status == "optimal"
    return instance, idx, relaxed_values(built)


def test_the_guided_plan_is_valid_and_beats_the_queue_baseline(generated):
    instance, idx, relaxed = generated
    plan = guided(idx, relaxed, "cost", passes=2)
    assert not plan.failed, plan.message
    ours = evaluate(instance, plan.placements, plan.services, plan.nodes_on)
    queue = asap(idx)
    theirs = evaluate(instance, queue.placements, queue.services, queue.nodes_on)
    assert gp.verify(instance, _as_result(instance, plan), raise_on_error=False) == []
    assert ours.objective_value("cost") < theirs.objective_value("cost")


def test_reinsert_keeps_the_plan_valid_and_the_tracker_in_step(generated):
    instance, idx, relaxed = generated
    plan, rule, tracker = first_plan(idx, relaxed, "cost")
    assert not plan.failed, plan.message
    assert reinsert(idx, plan, rule, tracker) >= 0
    assert gp.verify(instance, _as_result(instance, plan), raise_on_error=False) == []
    # the tracker holds exactly the plan's GPUs after the moves
    busy = np.zeros_like(tracker.busy)
    for row in plan.placements.itertuples(index=False):
        busy[tracker.site_of[row.site], tracker.type_of[row.gpu_type], row.period] += row.gpus
    for row in plan.services.itertuples(index=False):
        busy[tracker.site_of[row.site], tracker.type_of[row.gpu_type], row.period] += row.gpus
    assert (busy == tracker.busy).all()


def _as_result(instance, plan):
    """A plan as a Result the verifier reads (valued by it, as gp.solve does)."""
    from gpuplan.model.schedule.solve import _fill
    from gpuplan.results import Result
    from gpuplan.verify.schedule.facts import schedule_facts

    result = Result(instance_name=instance.name or "", problem="schedule", method="milp", objective_name="cost",
                    sense="min", status="feasible", mip_gap=1e-4)
    _fill(result, schedule_facts(instance), plan.placements, plan.services, plan.nodes_on)
    return result
