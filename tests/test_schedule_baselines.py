"""The schedule baselines (asap, carbon_aware) on micro-instances with plans worked out by hand,
and on a generated instance and the tidal week, where the independent verifier accepts both.

Micro-instances (tests/schedule_cases.py): site "a" (and "b"), GPU type "g" of 1000 W busy and
100 W idle on 1-GPU nodes, 1 h periods, no PUE curve; a 1-GPU job does 1 GPU-hour per period."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import gpuplan as gp
from gpuplan.errors import InputError
from gpuplan.generate_schedule import generate_schedule
from gpuplan.heuristics.schedule import Plan, asap, carbon_aware, deadline_order, earliest, list_schedule
from gpuplan.index.schedule import build_schedule_index
from gpuplan.verify.schedule.check import check_solution
from gpuplan.verify.schedule.facts import schedule_facts
from gpuplan.verify.schedule.value import SENSE, TERMS, evaluate, weights
from schedule_cases import micro

TIDAL_WEEK = Path(__file__).resolve().parents[1] / "instances" / "schedule" / "tidal_week_3sites.yaml"
BASELINES = {"asap": asap, "carbon_aware": carbon_aware}


def plan_of(baseline, instance) -> Plan:
    return BASELINES[baseline](build_schedule_index(instance))


def checked(instance, plan: Plan):
    """The plan's evaluation, after the verifier has accepted it as a solution dict for every
    objective (claims as the evaluation gives them, as a Result would carry them)."""
    assert not plan.failed, plan.message
    tables = {name: getattr(plan, name).to_dict("records") for name in ("placements", "services", "nodes_on")}
    ev = evaluate(schedule_facts(instance), tables["placements"], tables["services"], tables["nodes_on"])
    for objective in SENSE:
        w = weights(objective)
        value = ev.objective_value(objective)
        solution = {
            "format": "gpuplan-solution", "version": 1, "problem": "schedule", "status": "feasible",
            "objective_name": objective, "sense": SENSE[objective], "objective": value, "bound": None,
            "gap": None, "kpis": dict(ev.kpis),
            "objective_terms": [{"term": t, "weight": w[t], "value": ev.terms[t], "contribution": w[t] * ev.terms[t]}
                                for t in TERMS],
            **tables,
        }
        assert check_solution(instance, solution) == [], objective
    return ev


def periods_of(plan: Plan, job: str) -> list[int]:
    return plan.placements[plan.placements.job == job].period.tolist()


# ---------------------------------------------------------------- when jobs run

DEAR_THEN_CLEAN = dict(periods=4, prices=[5, 5, 1, 1], carbon=[500, 500, 100, 100])


def test_asap_runs_at_the_earliest_periods_even_when_they_are_dear():
    instance = micro(**DEAR_THEN_CLEAN, jobs=[{"id": "j", "work_gpu_hours": 2}])
    plan = plan_of("asap", instance)
    assert periods_of(plan, "j") == [0, 1]
    assert plan.placements.power_mode.tolist() == ["full", "full"]
    ev = checked(instance, plan)
    # 1 kW in periods 0, 1 at 5 per kWh; the idle GPU 0.1 kW in periods 2, 3 at 1
    assert ev.terms["energy_cost"] == pytest.approx(2 * 5 + 2 * 0.1)


def test_carbon_aware_moves_a_job_to_the_clean_hours():
    instance = micro(**DEAR_THEN_CLEAN, jobs=[{"id": "j", "work_gpu_hours": 2}])
    plan = plan_of("carbon_aware", instance)
    assert periods_of(plan, "j") == [2, 3]
    ev = checked(instance, plan)
    assert ev.terms["carbon_kg"] == pytest.approx(0.1 * 0.5 * 2 + 1.0 * 0.1 * 2)


def test_carbon_aware_waits_no_longer_than_the_due_time_and_runs_early_when_it_cannot_wait():
    on_time = micro(periods=4, carbon=[500, 100, 500, 100], jobs=[{"id": "j", "work_gpu_hours": 1, "due_h": 2}])
    assert periods_of(plan_of("carbon_aware", on_time), "j") == [1]         # cleanest before its due time
    no_slack = micro(periods=4, carbon=[500, 500, 100, 100],
                     jobs=[{"id": "j", "work_gpu_hours": 3, "due_h": 2, "tardiness_cost_per_h": 1}])
    plan = plan_of("carbon_aware", no_slack)
    assert periods_of(plan, "j") == [0, 1, 2]                               # late either way: as early as it can
    assert checked(no_slack, plan).terms["tardiness_cost"] == pytest.approx(1.0)


CARBON_WITH_A_DIRTY_GAP = [100, 900, 100, 200, 900]


def test_a_preemptible_job_takes_the_cleanest_periods_with_a_pause():
    instance = micro(periods=5, carbon=CARBON_WITH_A_DIRTY_GAP, jobs=[{"id": "j", "work_gpu_hours": 2}])
    plan = plan_of("carbon_aware", instance)
    assert periods_of(plan, "j") == [0, 2]
    assert checked(instance, plan).jobs.set_index("job").loc["j", "state"] == "done"


def test_a_non_preemptible_job_runs_in_the_cleanest_contiguous_block():
    instance = micro(periods=5, carbon=CARBON_WITH_A_DIRTY_GAP,
                     jobs=[{"id": "j", "work_gpu_hours": 2, "preemptible": False}])
    plan = plan_of("carbon_aware", instance)
    assert periods_of(plan, "j") == [2, 3]                                  # 300 g beats 0-1 (1000) and 1-2
    checked(instance, plan)


def test_restart_overhead_is_counted_and_makes_a_block_cleaner_than_a_pause():
    # with 1 GPU-hour per resume, 0 and 2 (100 + 100) need a third period: 0, 2, 3 = 400 g; 2-3 = 300 g
    instance = micro(periods=5, carbon=CARBON_WITH_A_DIRTY_GAP,
                     jobs=[{"id": "j", "work_gpu_hours": 2, "restart_overhead_gpu_hours": 1}])
    assert periods_of(plan_of("carbon_aware", instance), "j") == [2, 3]
    # asap around a maintenance hole in period 1: 0, then 2 and 3 (2 GPU-h + 1 for the resume)
    hole = [{"site": "a", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1},
            {"site": "a", "gpu_type": "g", "nodes": 0, "gpus_per_node": 1, "period": 1}]
    paused = micro(periods=5, capacity=hole, jobs=[{"id": "j", "work_gpu_hours": 2, "restart_overhead_gpu_hours": 1}])
    plan = plan_of("asap", paused)
    assert periods_of(plan, "j") == [0, 2, 3]
    ev = checked(paused, plan)
    assert ev.jobs.set_index("job").loc["j", "finish"] == 4.0


def test_a_non_preemptible_job_waits_for_a_block_past_a_maintenance_hour():
    hole = [{"site": "a", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1},
            {"site": "a", "gpu_type": "g", "nodes": 0, "gpus_per_node": 1, "period": 1}]
    instance = micro(periods=5, capacity=hole, jobs=[{"id": "j", "work_gpu_hours": 2, "preemptible": False}])
    plan = plan_of("asap", instance)
    assert periods_of(plan, "j") == [2, 3]
    assert plan.nodes_on.nodes.tolist() == [1, 0, 1, 1, 1]
    checked(instance, plan)


# ---------------------------------------------------------------- capacity, grid, order


def test_the_grid_limit_moves_the_second_job_to_a_later_period():
    # 2 GPUs idle draw 0.2 kW; one busy GPU adds 0.9 kW (1.1), two would need 2.0 > 1.5
    jobs = [{"id": "j1", "work_gpu_hours": 1}, {"id": "j2", "work_gpu_hours": 1}]
    instance = micro(periods=2, nodes=2, limits=[1.5, 1.5], jobs=jobs)
    plan = plan_of("asap", instance)
    assert (periods_of(plan, "j1"), periods_of(plan, "j2")) == ([0], [1])
    ev = checked(instance, plan)
    assert ev.energy.facility_kw.tolist() == pytest.approx([1.1, 1.1])
    unlimited = plan_of("asap", micro(periods=2, nodes=2, jobs=jobs))
    assert (periods_of(unlimited, "j1"), periods_of(unlimited, "j2")) == ([0], [0])


def test_earliest_deadline_goes_first_and_a_custom_order_goes_through_the_same_scheduler():
    jobs = [{"id": "a", "work_gpu_hours": 1, "deadline_h": 4}, {"id": "b", "work_gpu_hours": 1, "deadline_h": 3},
            {"id": "c", "work_gpu_hours": 1, "due_h": 1}]
    instance = micro(periods=4, jobs=jobs)
    idx = build_schedule_index(instance)
    assert deadline_order(idx) == ["b", "a", "c"]
    plan = asap(idx)
    assert [periods_of(plan, j) for j in "bac"] == [[0], [1], [2]]
    reversed_plan = list_schedule(idx, ["c", "a", "b"], earliest)
    assert [periods_of(reversed_plan, j) for j in "cab"] == [[0], [1], [2]]
    with pytest.raises(ValueError, match="order must name every training job"):
        list_schedule(idx, ["a", "b"], earliest)


def test_nodes_are_all_on_unless_the_site_powers_them_off():
    instance = micro(periods=3, nodes=2, sites=("a", "b"), prices={"a": [1, 1, 1], "b": [2, 2, 2]},
                     jobs=[{"id": "j", "work_gpu_hours": 1, "sites": ["b"]}],
                     facilities=[{"site": "b", "power_off": True}])
    plan = plan_of("asap", instance)
    nodes = plan.nodes_on.set_index(["site", "period"]).nodes
    assert nodes.loc["a"].tolist() == [2, 2, 2] and nodes.loc["b"].tolist() == [1, 0, 0]
    checked(instance, plan)


def test_a_service_takes_the_cheapest_site_first_then_the_next():
    instance = micro(periods=2, nodes=1, sites=("a", "b"), prices={"a": [2, 2], "b": [1, 1]},
                     services=[{"id": "chat"}], demand=[("chat", [1, 2])])
    plan = plan_of("asap", instance)
    rows = sorted(plan.services[["site", "period", "gpus"]].itertuples(index=False, name=None))
    assert rows == [("a", 1, 1), ("b", 0, 1), ("b", 1, 1)]
    checked(instance, plan)


# ---------------------------------------------------------------- what cannot be placed


def test_a_required_job_that_cannot_fit_fails_the_baseline_with_its_name():
    # each fits alone (the loader accepts it); after "first" (deadline 2) "second" has period 2 only
    jobs = [{"id": "second", "work_gpu_hours": 2, "deadline_h": 3},
            {"id": "first", "work_gpu_hours": 2, "deadline_h": 2}]
    instance = micro(periods=3, jobs=jobs)
    for baseline in BASELINES:
        plan = plan_of(baseline, instance)
        assert plan.failed and "required job 'second' cannot be placed" in plan.message
        assert "periods 0..2" in plan.message and plan.placements.empty


def test_a_job_that_need_not_finish_and_cannot_fit_is_left_out():
    jobs = [{"id": "main", "work_gpu_hours": 2, "due_h": 2}, {"id": "spare", "work_gpu_hours": 1, "required": False}]
    instance = micro(periods=2, jobs=jobs)
    plan = plan_of("asap", instance)
    assert not plan.failed and plan.left_out == ["spare"] and set(plan.placements.job) == {"main"}
    checked(instance, plan)


def test_a_hard_service_the_grid_cannot_carry_fails_and_a_soft_one_is_served_in_part():
    # a serving GPU draws 0.1 + 0.6 x 0.9 = 0.64 kW, above the 0.5 kW limit of period 0
    hard = micro(periods=2, limits=[0.5, 10], services=[{"id": "chat"}], demand=[("chat", [1, 1])])
    plan = plan_of("asap", hard)
    assert plan.failed and "hard service 'chat' cannot be covered in period 0" in plan.message
    soft = micro(periods=2, services=[{"id": "chat", "unmet_cost_per_gpu_hour": 3}], demand=[("chat", [1, 2])])
    plan = plan_of("asap", soft)
    assert plan.services.gpus.tolist() == [1, 1]
    assert checked(soft, plan).terms["unmet_service_cost"] == pytest.approx(3.0)


def test_idle_nodes_above_the_grid_limit_fail_the_baseline():
    plan = plan_of("asap", micro(periods=2, nodes=2, limits=[0.1, 1.0]))
    assert plan.failed and "site 'a' period 0" in plan.message and "grid limit of 0.1 kW" in plan.message


# ---------------------------------------------------------------- larger instances


def _measured(instance, label: str) -> None:
    idx = build_schedule_index(instance)
    for baseline, run in BASELINES.items():
        tick = time.perf_counter()
        plan = run(idx)
        seconds = time.perf_counter() - tick
        ev = checked(instance, plan)
        one_way = plan.placements.groupby("job")[["site", "gpu_type", "power_mode"]].nunique()
        assert (one_way == 1).all().all()          # one option per job: one site, one type, full power
        assert set(plan.placements.power_mode) == {"full"}
        print(f"{label} {baseline}: {seconds:.2f} s, energy cost {ev.kpis['energy_cost']:.1f}, "
              f"carbon {ev.kpis['carbon_t']:.2f} t, deadline misses {ev.kpis['deadline_misses']:.0f}, "
              f"late {ev.kpis['late_jobs']:.0f}, left out {len(plan.left_out)}")


def test_both_baselines_give_valid_plans_on_a_generated_instance():
    _measured(generate_schedule(gpus=2000, jobs=60, services=4, sites=2, hours=48, seed=1), "generated")


def test_both_baselines_give_valid_plans_on_the_tidal_week():
    _measured(gp.load(TIDAL_WEEK), "tidal week")


def test_carbon_aware_emits_less_than_asap_on_the_tidal_week():
    idx = build_schedule_index(gp.load(TIDAL_WEEK))
    facts = schedule_facts(idx.instance)

    def carbon(plan: Plan) -> float:
        tables = [getattr(plan, name).to_dict("records") for name in ("placements", "services", "nodes_on")]
        return evaluate(facts, *tables).kpis["carbon_t"]

    assert carbon(carbon_aware(idx)) < carbon(asap(idx))





# ---------------------------------------------------------------- any tiny instance

_job = st.fixed_dictionaries({
    "work_gpu_hours": st.sampled_from([0.5, 1, 2, 3.5]), "gpus": st.integers(1, 3),
    "preemptible": st.booleans(), "required": st.booleans(),
    "restart_overhead_gpu_hours": st.sampled_from([0, 0.5, 1]),
    "release_h": st.integers(0, 2), "due_h": st.none() | st.integers(1, 5),
})


@settings(max_examples=60, deadline=None)
@given(jobs=st.lists(_job, max_size=5), nodes=st.integers(1, 3), gpus_per_node=st.integers(1, 2),
       carbon=st.lists(st.integers(0, 3), min_size=5, max_size=5),
       limits=st.none() | st.lists(st.sampled_from([1.0, 2.5, 4.0, 9.0]), min_size=5, max_size=5),
       power_off=st.booleans(), demand=st.lists(st.integers(0, 2), min_size=5, max_size=5), hard=st.booleans())
def test_every_plan_either_passes_the_verifier_or_says_why_there_is_none(jobs, nodes, gpus_per_node, carbon, limits,
                                                                        power_off, demand, hard):
    jobs = [{"id": f"j{i}", **job} for i, job in enumerate(jobs)]
    service = {"id": "chat", **({} if hard else {"unmet_cost_per_gpu_hour": 1})}
    try:
        instance = micro(periods=5, nodes=nodes, gpus_per_node=gpus_per_node, sites=("a", "b"), jobs=jobs,
                         carbon={"a": carbon, "b": carbon[::-1]}, limits={"a": limits, "b": None},
                         services=[service], demand=[("chat", demand)],
                         facilities=[{"site": "a", "power_off": power_off, "node_idle_w": 50, "node_busy_w": 150}])
    except InputError:
        assume(False)   # the loader already refuses it: no plan exists
    for baseline in BASELINES:
        plan = plan_of(baseline, instance)
        event("failed" if plan.failed else "planned")
        if plan.failed:
            assert plan.message.startswith(("required job", "hard service", "site 'a' period"))
            continue
        ev = checked(instance, plan)
        finished = set(ev.jobs[ev.jobs.state != "unfinished"].job)
        assert finished == {job["id"] for job in jobs} - set(plan.left_out)
