"""The schedule MILP on micro-instances with hand-worked optima, each making one constraint or
term bind; every plan goes through the independent verifier."""

from __future__ import annotations

import pytest

import gpuplan as gp
from schedule_cases import micro

CAP = {"gpu_type": "g", "id": "cap", "power_fraction": 0.6, "throughput_fraction": 0.85}


def solved(instance, objective="cost", **options):
    result = gp.solve(instance, problem="schedule", objective=objective, **options)
    assert result.status == "optimal", result.message
    assert gp.verify(instance, result, raise_on_error=False) == []
    return result


def periods_of(result, job):
    return sorted(result.placements[result.placements.job == job].period)


def test_training_moves_into_the_valley():
    # 2 GPU-hours at 1 kW: run in the two 1/kWh hours; the idle GPU draws 0.1 kW in the others
    result = solved(micro(prices=[4, 1, 1, 4], jobs=[{"id": "j", "work_gpu_hours": 2}]))
    assert periods_of(result, "j") == [1, 2]
    assert result.objective == pytest.approx(2 * 1.0 + 0.1 * (4 + 4))


def test_grid_limit_forces_the_power_cap():
    # Unlimited: full power in the cheap hours (2.0). Limit 0.8 kW there: only the cap (0.6 kW,
    # 0.85 work/h) fits, 1.7 work in hours 0-1 and the rest capped in the dear hour: 1.2 + 6.
    jobs = [{"id": "j", "work_gpu_hours": 2, "deadline_h": 3}]
    free = solved(micro(periods=3, prices=[1, 1, 10], jobs=jobs, modes=[CAP], idle_w=0))
    assert free.objective == pytest.approx(2.0) and set(free.placements.power_mode) == {"full"}
    limited = solved(micro(periods=3, prices=[1, 1, 10], limits=[0.8, 0.8, None], jobs=jobs, modes=[CAP], idle_w=0))
    assert limited.objective == pytest.approx(0.6 * 2 + 0.6 * 10)
    assert set(limited.placements.power_mode) == {"cap"} and periods_of(limited, "j") == [0, 1, 2]
    assert limited.energy.facility_kw.max() <= 0.8 + 1e-9


def test_a_hot_afternoon_moves_work_to_the_night():
    curve = [{"site": "a", "outdoor_temp_c": 10, "pue": 1.1}, {"site": "a", "outdoor_temp_c": 35, "pue": 1.5}]
    result = solved(micro(periods=3, prices=[1, 1, 1], temps=[35, 22.5, 10], pue_curve=curve, idle_w=0,
                          jobs=[{"id": "j", "work_gpu_hours": 1}]))
    assert periods_of(result, "j") == [2]
    assert list(result.energy.pue) == pytest.approx([1.5, 1.3, 1.1])
    assert result.objective == pytest.approx(1.1)


def test_demand_charge_flattens_the_peak():
    jobs = [{"id": "j1", "work_gpu_hours": 1}, {"id": "j2", "work_gpu_hours": 1}]
    plain = solved(micro(periods=2, nodes=2, prices=[1, 2], jobs=jobs, idle_w=0))
    assert plain.objective == pytest.approx(2.0) and plain.kpis["peak_kw"] == pytest.approx(2.0)
    charged = solved(micro(periods=2, nodes=2, prices=[1, 2], jobs=jobs, idle_w=0,
                           facilities=[{"site": "a", "demand_charge_per_kw": 5}]))
    assert charged.objective == pytest.approx(1 + 2 + 5 * 1) and charged.kpis["peak_kw"] == pytest.approx(1.0)


@pytest.mark.parametrize("wake_cost,expected,off", [(1.0, 2.1, False), (0.01, 2.01, True)])
def test_a_wake_up_cost_keeps_nodes_on(wake_cost, expected, off):
    # jobs in hours 0 and 2 only; in hour 1 the node idles (0.1 kWh) or sleeps and wakes again
    jobs = [{"id": "a", "work_gpu_hours": 1, "deadline_h": 1}, {"id": "b", "work_gpu_hours": 1, "release_h": 2}]
    facility = {"site": "a", "power_off": True, "wake_cost_per_node": wake_cost}
    result = solved(micro(periods=3, prices=[1, 1, 1], jobs=jobs, facilities=[facility]))
    assert result.objective == pytest.approx(expected)
    assert (result.nodes_on.set_index("period").nodes[1] == 0) == off


def test_tardiness_orders_the_jobs():
    # one GPU: the urgent heavy job first (finishes at 1), the other one hour late (cost 1)
    jobs = [{"id": "long", "work_gpu_hours": 2, "due_h": 2, "tardiness_cost_per_h": 1, "preemptible": False},
            {"id": "short", "work_gpu_hours": 1, "due_h": 1, "tardiness_cost_per_h": 3, "preemptible": False}]
    result = solved(micro(periods=3, jobs=jobs, power_w=0, idle_w=0))
    assert result.objective == pytest.approx(1.0)
    assert periods_of(result, "short") == [0] and periods_of(result, "long") == [1, 2]
    assert result.jobs.set_index("job").tardiness_h["long"] == pytest.approx(1.0)


def test_preemptible_tardiness_counts_the_finish():
    jobs = [{"id": "j", "work_gpu_hours": 2, "release_h": 1, "due_h": 2, "tardiness_cost_per_h": 2}]
    result = solved(micro(periods=4, jobs=jobs, power_w=0, idle_w=0))
    assert result.objective == pytest.approx(2.0) and periods_of(result, "j") == [1, 2]


def test_hard_and_priced_service_demand():
    service = {"id": "chat", "utilization": 0.5}
    hard = solved(micro(periods=2, nodes=2, prices=[1, 1], services=[service], demand=[("chat", [1, 2])]))
    # a serving GPU draws 0.1 + 0.5 * 0.9 = 0.55 kW, an idle one 0.1
    assert hard.objective == pytest.approx(0.55 + 0.1 + 2 * 0.55)
    assert list(hard.services.unmet) == pytest.approx([0, 0])
    cheap = dict(service, unmet_cost_per_gpu_hour=0.3)   # serving costs 0.45 more than idling
    soft = solved(micro(periods=2, nodes=2, prices=[1, 1], services=[cheap], demand=[("chat", [1, 2])]))
    assert soft.objective == pytest.approx(4 * 0.1 + 3 * 0.3) and soft.kpis["unmet_gpu_hours"] == pytest.approx(3)


def test_migration_between_sites():
    prices = {"a": [1, 10], "b": [10, 1]}
    job = {"id": "j", "work_gpu_hours": 2}
    fixed = solved(micro(periods=2, sites=("a", "b"), prices=prices, jobs=[job], idle_w=0))
    assert fixed.objective == pytest.approx(11) and fixed.placements.site.nunique() == 1
    moving = solved(micro(periods=2, sites=("a", "b"), prices=prices, idle_w=0,
                          jobs=[dict(job, migratable=True, migration_cost=2)]))
    assert moving.objective == pytest.approx(1 + 1 + 2) and list(moving.placements.site) == ["a", "b"]


def test_restart_cost_and_overhead_keep_a_job_contiguous():
    job = {"id": "j", "work_gpu_hours": 2}
    paused = solved(micro(periods=5, prices=[1, 9, 1, 9, 9], jobs=[job], idle_w=0))
    assert paused.objective == pytest.approx(2) and periods_of(paused, "j") == [0, 2]
    overhead = solved(micro(periods=5, prices=[1, 9, 1, 9, 9], jobs=[dict(job, restart_overhead_gpu_hours=0.5)],
                            idle_w=0))
    assert overhead.objective == pytest.approx(10) and overhead.jobs.resumes.iloc[0] == 0
    costly = solved(micro(periods=5, prices=[1, 9, 1, 9, 9], jobs=[dict(job, restart_cost=9)], idle_w=0))
    assert costly.objective == pytest.approx(10)


def test_capacity_per_period_and_the_value_objective():
    # two optional jobs want the one GPU in the one period it is not in maintenance
    capacity = [{"site": "a", "gpu_type": "g", "nodes": 0, "gpus_per_node": 1},
                {"site": "a", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1, "period": 1}]
    jobs = [{"id": "low", "work_gpu_hours": 1, "required": False, "value": 1},
            {"id": "high", "work_gpu_hours": 1, "required": False, "value": 5}]
    result = solved(micro(periods=2, capacity=capacity, jobs=jobs), objective="value")
    assert result.objective == pytest.approx(5) and list(result.placements.job) == ["high"]
    assert list(result.placements.period) == [1]


def test_the_carbon_objective_follows_the_clean_hour():
    result = solved(micro(periods=2, carbon=[500, 100], prices=[1, 5], jobs=[{"id": "j", "work_gpu_hours": 1}],
                          idle_w=0), objective="carbon")
    assert periods_of(result, "j") == [1] and result.objective == pytest.approx(0.1 * 1e-3)


def test_required_jobs_that_cannot_all_finish_are_infeasible():
    # each fits alone (the input checks pass), both together do not
    jobs = [{"id": "j1", "work_gpu_hours": 2}, {"id": "j2", "work_gpu_hours": 2}]
    result = gp.solve(micro(periods=2, jobs=jobs), problem="schedule")
    assert result.status == "infeasible" and not result.has_solution


def test_result_saves_and_loads(tmp_path):
    instance = micro(prices=[4, 1, 1, 4], jobs=[{"id": "j", "work_gpu_hours": 2}],
                     services=[{"id": "v", "unmet_cost_per_gpu_hour": 0.01}], demand=[("v", [1, 0, 0, 0])])
    result = solved(instance)
    result.save(tmp_path)
    loaded = gp.Result.load(tmp_path)
    assert loaded.problem == "schedule" and len(loaded.placements) == 2
    assert gp.verify(instance, tmp_path, raise_on_error=False) == []
    assert set(loaded.energy.columns) >= {"it_kw", "pue", "facility_kw"}


def test_every_feature_together_solves_and_verifies():
    from schedule_cases import all_features

    result = solved(all_features())
    assert set(result.jobs.state) <= {"done", "late", "unfinished"}
    assert result.jobs.set_index("job").state["resumes"] in ("done", "late")
    assert len(result.energy) == 2 * 4 and result.kpis["deadline_misses"] == 0


@pytest.mark.parametrize("method", ["asap", "carbon_aware"])
def test_baselines_are_methods_whose_plans_verify_and_never_claim_optimal(method):
    instance = micro(prices=[4, 1, 1, 4], carbon=[100, 500, 500, 100], jobs=[{"id": "j", "work_gpu_hours": 2}])
    result = gp.solve(instance, problem="schedule", method=method)
    assert result.status == "feasible" and result.method == method and result.bound is None
    assert gp.verify(instance, result, raise_on_error=False) == []
    milp = solved(instance)
    assert milp.objective <= result.objective + 1e-9
    expected = [0, 1] if method == "asap" else [0, 3]
    assert periods_of(result, "j") == expected


# ---------------------------------------------------------------- split gangs


def rows_of(result, job="j"):
    rows = result.placements[result.placements.job == job]
    return sorted(zip(rows.period, rows.site, rows.gpu_type, rows.gpus))


def test_a_job_is_on_time_only_by_spanning_two_sites_and_pays_the_loss():
    from schedule_cases import spans_to_be_on_time

    result = solved(spans_to_be_on_time())
    assert result.objective == pytest.approx(2.0)
    assert rows_of(result) == [(0, "a", "g", 1), (0, "b", "g", 1)]
    assert result.jobs.set_index("job").finish["j"] == pytest.approx(1.0)
    # 1.93 GPU-hours: the split's 1.92 (4 % lost) falls short, so whole at a, 1 h late
    late = solved(spans_to_be_on_time(work=1.93))
    assert late.objective == pytest.approx(12.0) and rows_of(late) == [(1, "a", "g", 2)]


def test_a_job_fits_only_by_mixing_types_each_gpu_at_its_speed():
    from schedule_cases import mixes_to_fit

    result = solved(mixes_to_fit())
    assert result.objective == pytest.approx(4.0)
    assert rows_of(result) == [(0, "a", "g", 1), (0, "a", "h", 1), (1, "a", "g", 1), (1, "a", "h", 1)]
    assert result.jobs.set_index("job").state["j"] == "done"
    short = gp.solve(mixes_to_fit(work=2.86), problem="schedule")
    assert short.status == "infeasible"


def test_splitting_allowed_but_not_worth_it():
    from schedule_cases import split_not_worth_it

    result = solved(split_not_worth_it())
    assert result.objective == pytest.approx(4.0)
    assert [row[1:] for row in rows_of(result)] == [("a", "g", 2)]   # either period: a tie
    split = solved(split_not_worth_it(work=1.92))
    assert split.objective == pytest.approx(3.0)
    assert {row[1:] for row in rows_of(split)} == {("a", "g", 1), ("b", "g", 1)}


def test_flags_off_build_no_split_variables():
    from schedule_cases import spans_to_be_on_time

    instance = spans_to_be_on_time()
    instance.training_jobs[0].span_sites = False
    built = gp.problems.get("schedule").layer("build")(instance, "cost")
    assert len(built.model.split) == 0 and len(built.model.gang) == 0
    assert gp.solve(instance, problem="schedule").objective == pytest.approx(12.0)


def test_the_lp_rounding_splits_a_gang_only_where_whole_gangs_fall_short():
    import pyomo.environ as pyo

    from gpuplan.model.schedule.rounding import lp_rounding
    from gpuplan.model.schedule.solve import build_schedule, decision_rows
    from schedule_cases import mixes_to_fit, split_not_worth_it

    built = build_schedule(mixes_to_fit(), "cost")   # fits only mixed: split in both periods
    lp = {id(v): 0.0 for v in built.model.component_data_objects(pyo.Var)}
    assert lp_rounding(built, lp) == 1
    assert sorted(zip(*decision_rows(built)[0][["period", "gpu_type", "gpus"]].to_dict("list").values())) == [
        (0, "g", 1), (0, "h", 1), (1, "g", 1), (1, "h", 1)]
    built = build_schedule(split_not_worth_it(), "cost")   # fits whole at a: no split
    lp = {id(v): 0.0 for v in built.model.component_data_objects(pyo.Var)}
    assert lp_rounding(built, lp) == 1
    assert all(v.value == 0 for v in built.model.split.values())
