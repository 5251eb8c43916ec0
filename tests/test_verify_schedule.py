"""The independent schedule verifier: hand-computed power, PUE, energy, carbon, demand charge,
tardiness, resumes, migrations, wakes and unmet service on a micro-instance; every rule
rejects its mutated solution with its code; wrong claims are caught; a generated instance of
10,000 GPUs with a simple feasible plan passes."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuplan as gp
from gpuplan.errors import GpuplanError, InputError
from gpuplan.generate_schedule import generate_schedule
from gpuplan.verify.schedule.check import check_solution
from gpuplan.verify.schedule.facts import schedule_facts
from gpuplan.verify.schedule.value import KPIS, SENSE, TERMS, evaluate, weights
from gpuplan.verify.violations import RULES

# Two sites, one GPU type G (1000 W busy, 200 W idle), four 1-hour periods.
# s0: 2 nodes x 4 GPUs, node power 100 W idle / 300 W busy, PUE curve 1.1 at 15 C .. 1.5 at 35 C
#     over temperatures 10, 20, 30, 40 C (PUE 1.1, 1.2, 1.4, 1.5), price 0.1, carbon 500 g/kWh,
#     demand charge 2 per kW, nodes may be powered off, waking one costs 5.
# s1: 1 node x 4 GPUs, no facility row (no node power), no temperature (PUE 1), price 0.2,
#     carbon 100 g/kWh.
MICRO = {
    "schema_version": 1, "name": "micro-schedule",
    "gpu_types": [{"id": "G", "memory_gb": 80, "power_w": 1000, "idle_power_w": 200}],
    "sites": [{"id": "s0"}, {"id": "s1"}],
    "time": {"periods": 4, "period_hours": 1.0},
    "site_series": [{"site": "s0", "period": t, "price_per_kwh": 0.1, "carbon_g_per_kwh": 500.0,
                     "outdoor_temp_c": temp} for t, temp in enumerate([10.0, 20.0, 30.0, 40.0])]
    + [{"site": "s1", "period": t, "price_per_kwh": 0.2, "carbon_g_per_kwh": 100.0} for t in range(4)],
    "pue_curve": [{"site": "s0", "outdoor_temp_c": 15.0, "pue": 1.1},
                  {"site": "s0", "outdoor_temp_c": 35.0, "pue": 1.5}],
    "facilities": [{"site": "s0", "node_idle_w": 100, "node_busy_w": 300, "demand_charge_per_kw": 2.0,
                    "power_off": True, "wake_cost_per_node": 5.0}],
    "capacity": [{"site": "s0", "gpu_type": "G", "nodes": 2, "gpus_per_node": 4},
                 {"site": "s1", "gpu_type": "G", "nodes": 1, "gpus_per_node": 4}],
    "power_modes": [{"gpu_type": "G", "id": "eco", "power_fraction": 0.5, "throughput_fraction": 0.8}],
    "training_jobs": [
        # 4 GPUs, 10 GPU-h + 2 per resume; due at 3 h, 10 per hour late; a resume costs 7
        {"id": "j1", "gpus": 4, "gpu_options": [{"gpu_type": "G"}], "work_gpu_hours": 10.0, "due_h": 3.0,
         "tardiness_cost_per_h": 10.0, "restart_overhead_gpu_hours": 2.0, "restart_cost": 7.0, "value": 100.0},
        # 2 GPUs at 1.5x the reference speed, 5.4 GPU-h, may migrate at 3 a move
        {"id": "j2", "gpu_options": [{"gpu_type": "G", "gpus": 2, "throughput": 1.5}], "work_gpu_hours": 5.4,
         "migratable": True, "migration_cost": 3.0, "value": 50.0},
        # optional, window periods 1..2 (release 1 h, deadline 3 h), runs contiguously
        {"id": "j3", "gpus": 4, "gpu_options": [{"gpu_type": "G"}], "work_gpu_hours": 8.0, "release_h": 1.0,
         "deadline_h": 3.0, "required": False, "preemptible": False, "value": 1000.0},
    ],
    "services": [
        {"id": "v1", "gpu_options": [{"gpu_type": "G"}], "utilization": 0.5},  # hard
        {"id": "v2", "gpu_options": [{"gpu_type": "G", "capacity_per_gpu": 2.0}], "sites": ["s0"],
         "unmet_cost_per_gpu_hour": 10.0},
    ],
    "service_demand": [{"service": "v1", "period": t, "gpus": g} for t, g in enumerate([2, 2, 0, 1])]
    + [{"service": "v2", "period": 0, "gpus": 3}],
    "schedule_options": {"carbon_price_per_t": 50.0},
}

# j1 at s0 in periods 0, 2, 3 (a resume: needs 12; 4 + 4 + 4 reaches it in period 3, finish 4 h,
# 1 h late); j2 at s1 in period 0 in eco mode (2 x 1.5 x 0.8 = 2.4) and at s0 in period 1 at full
# power (3.0): 5.4 done in period 1, one migration; v1 on s1; v2 gets 1 GPU (2 of its 3) at s0.
PLACEMENTS = [
    {"job": "j1", "site": "s0", "gpu_type": "G", "period": 0, "gpus": 4, "power_mode": "full"},
    {"job": "j1", "site": "s0", "gpu_type": "G", "period": 2, "gpus": 4, "power_mode": "full"},
    {"job": "j1", "site": "s0", "gpu_type": "G", "period": 3, "gpus": 4, "power_mode": "full"},
    {"job": "j2", "site": "s1", "gpu_type": "G", "period": 0, "gpus": 2, "power_mode": "eco"},
    {"job": "j2", "site": "s0", "gpu_type": "G", "period": 1, "gpus": 2, "power_mode": "full"},
]
SERVICES = [
    {"service": "v1", "site": "s1", "gpu_type": "G", "period": 0, "gpus": 2},
    {"service": "v1", "site": "s1", "gpu_type": "G", "period": 1, "gpus": 2},
    {"service": "v1", "site": "s1", "gpu_type": "G", "period": 3, "gpus": 1},
    {"service": "v2", "site": "s0", "gpu_type": "G", "period": 0, "gpus": 1},
]
# s0 powers nodes off: 2, 1, 1, 2 nodes on (one wake in period 3); s1 keeps its node on (no rows).
NODES_ON = [{"site": "s0", "gpu_type": "G", "period": t, "nodes": n} for t, n in enumerate([2, 1, 1, 2])]

# Facility kW by hand. s0, t0: j1 4 x 1000 + v2 (200 + 0.6 x 800) + 3 idle x 200 + 2 nodes x 100
# + 5/4 x 200 = 5730 W, x PUE 1.1; t1: 2000 + 2 x 200 + 100 + 2/4 x 200 = 2600 W x 1.2;
# t2: 4000 + 100 + 200 = 4300 W x 1.4; t3: 4000 + 4 x 200 + 200 + 200 = 5200 W x 1.5.
# s1: t0 j2 2 x 500 + v1 2 x 600 = 2200 W; t1 1200 + 2 x 200; t2 4 x 200; t3 600 + 3 x 200.
S0_IT = [5.73, 2.6, 4.3, 5.2]
S0_KW = [5.73 * 1.1, 2.6 * 1.2, 4.3 * 1.4, 5.2 * 1.5]
S1_KW = [2.2, 1.6, 0.8, 1.2]
CARBON_KG = sum(S0_KW) * 0.5 + sum(S1_KW) * 0.1
HAND_TERMS = {
    "energy_cost": sum(S0_KW) * 0.1 + sum(S1_KW) * 0.2,
    "demand_charge": 2.0 * max(S0_KW),
    "carbon_kg": CARBON_KG,
    "carbon_cost": CARBON_KG / 1000 * 50.0,
    "tardiness_cost": 10.0,            # j1: finish 4 h, due 3 h
    "unmet_service_cost": 10.0,        # v2: 1 reference GPU for 1 h
    "restart_cost": 7.0,               # j1 resumes once
    "migration_cost": 3.0,             # j2 moves once
    "wake_cost": 5.0,                  # s0 wakes one node in period 3
    "job_value": 150.0,                # j1 and j2 finish
}
HAND_KPIS = {
    "energy_mwh": (sum(S0_KW) + sum(S1_KW)) / 1000, "it_energy_mwh": (sum(S0_IT) + sum(S1_KW)) / 1000,
    "energy_cost": HAND_TERMS["energy_cost"], "carbon_t": CARBON_KG / 1000,
    "mean_pue": (sum(S0_KW) + sum(S1_KW)) / (sum(S0_IT) + sum(S1_KW)),
    "peak_kw": max(a + b for a, b in zip(S0_KW, S1_KW)),
    "finished_jobs": 2, "late_jobs": 1, "unfinished_jobs": 1, "deadline_misses": 0,
    "gpu_hours": 15 + 7, "gpu_utilization": 22 / 48, "unmet_gpu_hours": 1.0,
}


def micro(**changes):
    """The micro-instance, with ``changes`` (table -> {row index -> {field: value}}) applied."""
    data = copy.deepcopy(MICRO)
    for table, rows in changes.items():
        for i, fields in rows.items():
            data[table][i].update(fields)
    return gp.from_dict(data)


def solution(instance, placements=PLACEMENTS, services=SERVICES, nodes_on=NODES_ON, *, objective="cost",
             terms=None, kpis=None, **extra) -> dict:
    """A solution dict whose claims are what the verifier's evaluation gives (or ``terms`` /
    ``kpis`` as given): only its rows can be wrong."""
    ev = evaluate(schedule_facts(instance), placements, services, nodes_on)
    w = weights(objective)
    terms = terms or ev.terms
    value = sum(w[t] * terms[t] for t in TERMS)
    data = {
        "format": "gpuplan-solution", "version": 1, "problem": "schedule", "status": "optimal",
        "objective_name": objective, "sense": SENSE[objective], "objective": value, "bound": value, "gap": 0.0,
        "objective_terms": [{"term": t, "weight": w[t], "value": terms[t], "contribution": w[t] * terms[t]}
                            for t in TERMS],
        "kpis": dict(kpis or ev.kpis),
        "placements": copy.deepcopy(list(placements)), "services": copy.deepcopy(list(services)),
        "nodes_on": copy.deepcopy(list(nodes_on)),
    }
    data.update(extra)
    return data


def rules_of(violations) -> set[str]:
    return {v.rule for v in violations}


# ---------------------------------------------------------------- values by hand


def test_micro_terms_kpis_and_objectives_by_hand():
    ev = evaluate(schedule_facts(micro()), PLACEMENTS, SERVICES, NODES_ON)
    assert list(ev.terms) == list(TERMS)
    for term, value in HAND_TERMS.items():
        assert ev.terms[term] == pytest.approx(value, rel=1e-12), term
    for kpi, value in HAND_KPIS.items():
        assert ev.kpis[kpi] == pytest.approx(value, rel=1e-12), kpi
    assert set(ev.kpis) == set(KPIS)
    cost = sum(HAND_TERMS[t] for t in TERMS if t not in ("carbon_kg", "job_value")) - 150.0
    assert ev.objective_value("cost") == pytest.approx(cost)
    assert ev.objective_value("carbon") == pytest.approx(CARBON_KG / 1000)
    assert ev.objective_value("value") == pytest.approx(150.0)
    assert ev.weights("cost")["carbon_kg"] == 0.0 and ev.weights("cost")["job_value"] == -1.0


def test_micro_solution_with_hand_written_claims_is_valid():
    instance = micro()
    sol = solution(instance, terms=HAND_TERMS, kpis=HAND_KPIS)
    assert check_solution(instance, sol) == []
    for objective in SENSE:
        assert check_solution(instance, solution(instance, objective=objective)) == []


def test_micro_tables():
    ev = evaluate(schedule_facts(micro()), PLACEMENTS, SERVICES, NODES_ON)
    jobs = ev.jobs.set_index("job")
    assert jobs.loc["j1"].tolist() == ["late", "s0", 0.0, 4.0, 1.0, 12.0, 1, 0]
    assert jobs.loc["j2"].tolist() == ["done", "s1", 0.0, 2.0, 0.0, 4.0, 0, 1]
    j3 = jobs.loc["j3"]
    assert j3.state == "unfinished" and pd.isna(j3.site) and math.isnan(j3.start) and math.isnan(j3.finish)
    assert math.isnan(j3.tardiness_h) and j3.gpu_hours == 0
    energy = ev.energy.set_index(["site", "period"])
    assert energy.facility_kw.loc["s0"].tolist() == pytest.approx(S0_KW)
    assert energy.it_kw.loc["s0"].tolist() == pytest.approx(S0_IT)
    assert energy.pue.loc["s0"].tolist() == pytest.approx([1.1, 1.2, 1.4, 1.5])
    assert energy.pue.loc["s1"].tolist() == [1.0] * 4
    assert energy.energy_cost.sum() == pytest.approx(HAND_TERMS["energy_cost"])
    assert energy.carbon_kg.sum() == pytest.approx(CARBON_KG)
    assert energy.grid_limit_kw.isna().all()
    # utilization by site and hour: s0 j1 4 + v2 1, j2 2, j1 4, j1 4 of 8; s1 j2 2 + v1 2, v1 2, 0, v1 1 of 4
    assert energy.busy_gpus.loc["s0"].tolist() == [5, 2, 4, 4] and energy.busy_gpus.loc["s1"].tolist() == [4, 2, 0, 1]
    assert energy.capacity_gpus.tolist() == [8] * 4 + [4] * 4
    assert energy.gpu_utilization.loc["s0"].tolist() == pytest.approx([5 / 8, 2 / 8, 4 / 8, 4 / 8])
    assert energy.gpu_utilization.loc["s1"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.25])
    assert energy.busy_gpus.sum() / energy.capacity_gpus.sum() == pytest.approx(ev.kpis["gpu_utilization"])
    services = ev.services
    assert list(services.columns) == ["service", "site", "gpu_type", "period", "demand", "served", "unmet", "gpus"]
    v2 = services[services.service == "v2"].iloc[0]
    assert (v2.site, v2.period, v2.demand, v2.served, v2.unmet, v2.gpus) == ("s0", 0, 3.0, 2.0, 1.0, 1)
    assert services[services.service == "v1"].unmet.sum() == 0


def test_unmet_only_periods_and_a_demand_split_over_two_rows():
    services = [
        {"service": "v1", "site": "s1", "gpu_type": "G", "period": 0, "gpus": 1},
        {"service": "v1", "site": "s0", "gpu_type": "G", "period": 0, "gpus": 3},
    ]
    ev = evaluate(schedule_facts(micro()), [], services, [])
    table = ev.services
    period0 = table[(table.service == "v1") & (table.period == 0)]
    assert period0.served.tolist() == [1.0, 3.0]
    assert period0.demand.tolist() == pytest.approx([0.5, 1.5])   # 2 split as 1 : 3
    alone = table[table.site.isna()]
    assert sorted(zip(alone.service, alone.period, alone.unmet)) == [("v1", 1, 2.0), ("v1", 3, 1.0), ("v2", 0, 3.0)]
    assert table.demand.sum() == pytest.approx(2 + 2 + 1 + 3)


def unchecked(data: dict):
    """The instance as the schema reads it, without the load-time cross checks (which refuse
    some of these tables first): the verifier's facts must stand on their own."""
    from gpuplan.instance.schema import Instance

    return Instance.model_validate(data)


def test_pue_interpolation_and_missing_data_defaults():
    data = copy.deepcopy(MICRO)
    data["pue_curve"] += [{"site": "s1", "outdoor_temp_c": 0.0, "pue": 1.2}]   # one breakpoint: constant
    data["site_series"] = [r for r in data["site_series"] if not (r["site"] == "s0" and r["period"] == 3)]
    data["site_series"][1]["outdoor_temp_c"] = 15.0      # at a breakpoint
    data["site_series"][2]["outdoor_temp_c"] = 26.0      # 1.1 + 0.4 * 11 / 20
    facts = schedule_facts(unchecked(data))
    assert facts.pue[0].tolist() == pytest.approx([1.1, 1.1, 1.32, 1.0])   # period 3: no row -> 1.0
    assert facts.pue[1].tolist() == [1.0] * 4             # s1 has a curve but no temperatures
    assert facts.price[0, 3] == 0.0 and facts.carbon[0, 3] == 0.0 and np.isinf(facts.grid_limit).all()


def test_windows_on_quarter_hours_and_capacity_by_period():
    data = copy.deepcopy(MICRO)
    data["time"] = {"periods": 8, "period_hours": 0.5}
    data["site_series"], data["service_demand"] = [], []
    data["training_jobs"][2].update(release_h=0.75, deadline_h=2.0)    # periods 2 and 3 (1.0-2.0 h)
    data["capacity"].append({"site": "s1", "gpu_type": "G", "nodes": 0, "gpus_per_node": 4, "period": 5})
    facts = schedule_facts(unchecked(data))
    assert (facts.first_period[2], facts.last_period[2]) == (2, 3)
    assert (facts.first_period[0], facts.last_period[0]) == (0, 7)
    assert facts.cap_nodes[1, 0].tolist() == [1, 1, 1, 1, 1, 0, 1, 1]
    assert facts.gpn.tolist() == [[4], [4]]


def test_wake_cost_counts_from_no_node_on_when_the_options_say_none():
    data = copy.deepcopy(MICRO)
    data["schedule_options"]["initial_nodes_on"] = "none"
    instance = gp.from_dict(data)
    ev = evaluate(schedule_facts(instance), PLACEMENTS, SERVICES, NODES_ON)
    assert ev.terms["wake_cost"] == pytest.approx(5.0 * (2 + 1))   # 2 nodes in period 0, 1 in period 3
    assert check_solution(instance, solution(instance)) == []


# ---------------------------------------------------------------- one broken rule, one code


def rows_with(table: str, *, drop=(), add=(), change=None):
    base = {"placements": PLACEMENTS, "services": SERVICES, "nodes_on": NODES_ON}[table]
    rows = [dict(r) for i, r in enumerate(base) if i not in drop]
    for i, fields in (change or {}).items():
        rows[i].update(fields)
    return {table: rows + [dict(r) for r in add]}


def place(job, site, period, gpus, mode="full"):
    return {"job": job, "site": site, "gpu_type": "G", "period": period, "gpus": gpus, "power_mode": mode}


def serve(service, site, period, gpus, gpu_type="G"):
    return {"service": service, "site": site, "gpu_type": gpu_type, "period": period, "gpus": gpus}


BASE: dict = {}  # claims valued on the unmutated rows
MUTATIONS = {
    # name: (instance changes, row changes, the codes it must give, the rows the claims value:
    # the mutated ones unless a mutated row is unreadable and so drops out)
    "wrong gang size": ({}, rows_with("placements", change={3: {"gpus": 1}}), {"gang", "required"}, None),
    "over capacity": ({}, rows_with("nodes_on", change={0: {"nodes": 1}}), {"capacity"}, None),
    "nodes_on above capacity": ({}, rows_with("nodes_on", change={1: {"nodes": 3}}), {"capacity"}, None),
    "powered off where it cannot be": (
        {}, rows_with("nodes_on", add=[{"site": "s1", "gpu_type": "G", "period": 2, "nodes": 0}]), {"power_off"}, None),
    "before release": ({}, rows_with("placements", add=[place("j3", "s1", 0, 4)]), {"eligibility", "capacity"}, None),
    "after the deadline": ({}, rows_with("placements", add=[place("j3", "s0", 3, 4)]), {"eligibility"}, None),
    "site not allowed": ({"training_jobs": {0: {"sites": ["s1"]}}}, {}, {"eligibility"}, None),
    "service site not allowed": ({}, rows_with("services", add=[serve("v2", "s1", 2, 1)]), {"eligibility"}, None),
    "non-preemptible with a gap": ({"training_jobs": {0: {"preemptible": False}}}, {}, {"contiguous"}, None),
    # j2 runs in periods 0 and 1 without a gap, but changes site and power mode between them
    "non-preemptible changes its way": ({"training_jobs": {1: {"preemptible": False}}}, {}, {"contiguous"}, None),
    "non-migratable moves": ({"training_jobs": {1: {"migratable": False}}}, {}, {"migration"}, None),
    "required job unfinished": ({}, rows_with("placements", drop=[2]), {"required"}, None),
    "rows after finish": ({}, rows_with("placements", add=[place("j2", "s1", 2, 2)]), {"after_finish"}, None),
    "hard service unmet": ({}, rows_with("services", drop=[2]), {"service_demand"}, None),
    "grid limit exceeded": ({"site_series": {4: {"grid_limit_kw": 2.0}}}, {}, {"grid_limit"}, None),
    "power_mode missing": ({}, rows_with("placements", change={3: {"power_mode": None}}), {"power_mode", "required"},
                           rows_with("placements", drop=[3])),
    "power_mode unknown": ({}, rows_with("placements", change={3: {"power_mode": "turbo"}}),
                           {"power_mode", "required"}, rows_with("placements", drop=[3])),
    "two rows in one period": ({}, rows_with("placements", add=[place("j2", "s1", 1, 2)]), {"duplicate_row"}, None),
    "two service rows in one cell": ({}, rows_with("services", add=[serve("v1", "s1", 1, 0)]), {"duplicate_row"}, None),
    "two nodes_on rows in one cell": ({}, rows_with("nodes_on", add=[NODES_ON[0]]), {"duplicate_row"}, BASE),
    "unknown job": ({}, rows_with("placements", add=[place("nope", "s0", 1, 1)]), {"unknown_job"}, BASE),
    "unknown site": ({}, rows_with("nodes_on", add=[{"site": "nope", "gpu_type": "G", "period": 0, "nodes": 1}]),
                     {"unknown_site"}, BASE),
    "unknown GPU type": ({}, rows_with("services", add=[serve("v1", "s1", 2, 1, gpu_type="X")]),
                         {"unknown_gpu_type"}, BASE),
    "unknown service": ({}, rows_with("services", add=[serve("nope", "s1", 2, 1)]), {"unknown_service"}, BASE),
    "period beyond the grid": ({}, rows_with("services", add=[serve("v1", "s1", 4, 1)]), {"unknown_period"}, BASE),
    "fractional GPUs": ({}, rows_with("services", add=[serve("v1", "s1", 2, 1.5)]), {"format"}, BASE),
    "negative nodes": ({}, rows_with("nodes_on", add=[{"site": "s1", "gpu_type": "G", "period": 0, "nodes": -1}]),
                       {"format"}, BASE),
    "GPUs as text": ({}, rows_with("placements", add=[{**place("j3", "s0", 1, 4), "gpus": "4"}]), {"format"}, BASE),
    "GPUs as a bool": ({}, rows_with("services", add=[serve("v1", "s1", 2, True)]), {"format"}, BASE),
    "a count no float holds exactly": ({}, rows_with("services", add=[serve("v1", "s1", 2, 1e300)]), {"format"}, BASE),
    "a row that is no mapping": ({}, {"services": SERVICES + [["v1", "s1", "G", 2, 1]]}, {"format"}, BASE),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_broken_rule_is_rejected_with_its_code(name):
    changes, rows, codes, valued = MUTATIONS[name]
    instance = micro(**changes)
    sol = solution(instance, **(rows if valued is None else valued))
    sol.update(copy.deepcopy(rows))
    found = check_solution(instance, sol)
    assert rules_of(found) == codes, [str(v) for v in found]
    assert all(v.rule in RULES for v in found)


def test_the_unmutated_instance_and_rows_pass_every_objective():
    instance = micro()
    for objective in SENSE:
        assert check_solution(instance, solution(instance, objective=objective)) == []


def test_a_grid_limit_met_exactly_and_counts_within_1e_6_of_an_integer_pass():
    instance = micro(site_series={4: {"grid_limit_kw": 2.2}})
    rows = rows_with("services", change={0: {"gpus": 2.0000004}})
    assert check_solution(instance, solution(instance, services=rows["services"])) == []


ANY_VALUE = st.one_of(st.sampled_from(["j1", "j2", "j3", "v1", "v2", "s0", "s1", "G", "full", "eco", "nope"]),
                      st.integers(-2, 6), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans())
ANY_ROW = st.dictionaries(st.sampled_from(["job", "service", "site", "gpu_type", "period", "gpus", "nodes",
                                          "power_mode"]), ANY_VALUE)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(ANY_ROW, max_size=4), st.lists(ANY_ROW, max_size=4), st.lists(ANY_ROW, max_size=4))
def test_junk_rows_give_violations_never_an_exception(placements, services, nodes_on):
    instance = micro()
    sol = solution(instance)
    sol.update(placements=PLACEMENTS + placements, services=SERVICES + services, nodes_on=NODES_ON + nodes_on)
    assert all(v.rule in RULES for v in check_solution(instance, sol))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.permutations(range(len(PLACEMENTS))), st.permutations(range(len(SERVICES))))
def test_the_value_does_not_depend_on_the_order_of_the_rows(p_order, s_order):
    facts = schedule_facts(micro())
    ev = evaluate(facts, [PLACEMENTS[i] for i in p_order], [SERVICES[i] for i in s_order], NODES_ON[::-1])
    assert ev.terms == pytest.approx(HAND_TERMS) and ev.kpis == pytest.approx(HAND_KPIS)
    assert ev.jobs.equals(evaluate(facts, PLACEMENTS, SERVICES, NODES_ON).jobs)


# ---------------------------------------------------------------- claims


def term(sol, name):
    return next(e for e in sol["objective_terms"] if e["term"] == name)


def _energy_cost_off(sol):
    term(sol, "energy_cost")["value"] *= 1.01


def _carbon_weight_claimed(sol):
    term(sol, "carbon_kg")["weight"] = 1.0


def _term_missing(sol):
    sol["objective_terms"] = [e for e in sol["objective_terms"] if e["term"] != "wake_cost"]


def _kpi_off(sol):
    sol["kpis"]["peak_kw"] += 1.0


def _kpi_missing(sol):
    del sol["kpis"]["unmet_gpu_hours"]


def _objective_off(sol):
    sol["objective"] += 1.0
    sol["bound"] = sol["objective"]


def _sense_wrong(sol):
    sol["sense"] = "max"


def _bound_beyond(sol):
    sol["bound"] = sol["objective"] + 1.0          # a min problem's bound above its objective


def _gap_wrong(sol):
    sol["bound"] = sol["objective"] - 10.0         # gap stays 0


def _optimal_with_a_large_gap(sol):
    sol["bound"] = sol["objective"] - abs(sol["objective"]) * 0.5
    sol["gap"] = 0.5
    sol["mip_gap"] = 1e-4


CLAIMS = {
    "objective_term": [_energy_cost_off, _carbon_weight_claimed, _term_missing],
    "kpi": [_kpi_off, _kpi_missing],
    "objective": [_objective_off, _sense_wrong],
    "bound": [_bound_beyond, _gap_wrong],
    "status": [_optimal_with_a_large_gap],
}


@pytest.mark.parametrize("rule,mutate", [(r, m) for r, ms in CLAIMS.items() for m in ms],
                         ids=lambda x: x if isinstance(x, str) else x.__name__)
def test_a_wrong_claim_is_rejected_with_its_code(rule, mutate):
    instance = micro()
    sol = solution(instance)
    mutate(sol)
    assert rules_of(check_solution(instance, sol)) == {rule}


def test_mean_pue_is_claimed_none_without_it_energy():
    data = copy.deepcopy(MICRO)
    data["gpu_types"][0]["idle_power_w"] = 0.0
    data["facilities"] = []
    data["service_demand"] = []
    instance = gp.from_dict(data)
    sol = solution(instance, placements=[], services=[], nodes_on=[], **{})
    sol["kpis"]["mean_pue"] = None
    found = check_solution(instance, sol)
    assert rules_of(found) == {"required"}            # j1 and j2 do not run; the KPIs are right
    sol["kpis"]["mean_pue"] = 1.0
    assert "kpi" in rules_of(check_solution(instance, sol))


def test_no_solution_status_with_rows_is_rejected_and_without_rows_accepted():
    instance = micro()
    empty = {"format": "gpuplan-solution", "version": 1, "problem": "schedule", "status": "infeasible"}
    assert check_solution(instance, empty) == []
    assert rules_of(check_solution(instance, {**empty, "placements": PLACEMENTS})) == {"status"}


def test_header_and_missing_keys_are_format_violations():
    instance = micro()
    sol = solution(instance, nodes_on=[])
    del sol["nodes_on"]
    sol["problem"] = "assignment"
    found = check_solution(instance, sol)
    assert rules_of(found) == {"format", "capacity"}   # without rows, s0 (power_off) has no node on
    messages = " ".join(v.message for v in found)
    assert "'nodes_on' missing" in messages and "problem is 'assignment'" in messages


def test_evaluate_takes_dataframes_and_refuses_unknown_ids():
    facts = schedule_facts(micro())
    ev = evaluate(facts, pd.DataFrame(PLACEMENTS), pd.DataFrame(SERVICES), pd.DataFrame(NODES_ON))
    assert ev.terms == pytest.approx(HAND_TERMS)
    with pytest.raises(GpuplanError, match=r"placements\[0\]: unknown job 'x'"):
        evaluate(facts, [{**PLACEMENTS[0], "job": "x"}], [], [])
    with pytest.raises(GpuplanError, match="column"):
        evaluate(facts, [{"job": "j1"}], [], [])


def test_facts_refuse_ambiguous_tables_with_the_row_named():
    data = copy.deepcopy(MICRO)
    data["capacity"].append({"site": "s1", "gpu_type": "G", "nodes": 3, "gpus_per_node": 8, "period": 1})
    with pytest.raises(InputError, match=r"capacity\[2\].gpus_per_node"):
        schedule_facts(unchecked(data))
    data = copy.deepcopy(MICRO)
    data["site_series"].append({"site": "s1", "period": 0})
    with pytest.raises(InputError, match=r"site_series\[8\]: a second row"):
        schedule_facts(unchecked(data))


BAD_TABLES = {
    "capacity at an unknown site": (lambda d: d["capacity"].append({"site": "zz", "gpu_type": "G", "nodes": 1}),
                                    r"capacity\[2\]\.site: unknown site 'zz'"),
    "two jobs with one id": (lambda d: d["training_jobs"].append(copy.deepcopy(d["training_jobs"][0])),
                             r"training_jobs\[3\]\.id: a second row for id 'j1'"),
    "demand of an unknown service": (lambda d: d["service_demand"].append({"service": "zz", "period": 0, "gpus": 1}),
                                     r"service_demand\[5\]\.service: unknown service 'zz'"),
    "a series row beyond the grid": (lambda d: d["site_series"].append({"site": "s1", "period": 9}),
                                     r"site_series\[8\]\.period: period 9 outside the time grid 0\.\.3"),
    "a job option of an unknown type": (lambda d: d["training_jobs"][0]["gpu_options"].append({"gpu_type": "Q"}),
                                        r"training_jobs\[0\]\.gpu_options\[1\]\.gpu_type: unknown GPU type 'Q'"),
    "two PUE points at one temperature": (
        lambda d: d["pue_curve"].append({"site": "s0", "outdoor_temp_c": 15.0, "pue": 1.3}),
        r"pue_curve\[2\]: a second PUE breakpoint for site 's0' at 15 C"),
    "no time grid": (lambda d: d.pop("time"), r"time: the schedule needs a time grid"),
}


@pytest.mark.parametrize("name", BAD_TABLES)
def test_tables_the_facts_cannot_read_are_refused_naming_the_row(name):
    change, message = BAD_TABLES[name]
    data = copy.deepcopy(MICRO)
    change(data)
    with pytest.raises(InputError, match=message):
        schedule_facts(unchecked(data))


# ---------------------------------------------------------------- a generated instance


def simple_plan(instance, share=0.8):
    """A feasible plan: services first, then each job (the largest first) as early as its window
    allows, contiguously, at full power, at the first (site, type) with room; nodes on as needed.
    Uses at most ``share`` of each cell so that the grid limit (90% of full power) holds."""
    facts = schedule_facts(instance)
    room = np.floor(facts.cap_gpus * share).astype(int)
    free = room.copy()
    services = _serve_demand(facts, free)
    placements = _run_jobs(facts, free)
    busy = room - free
    gpn = np.maximum(facts.gpn[:, :, None], 1)
    on = np.where(facts.power_off[:, None, None], -(-busy // gpn), facts.cap_nodes)   # ceil at power-off sites
    nodes_on = [{"site": facts.sites[s], "gpu_type": facts.gpu_types[g], "period": t, "nodes": int(on[s, g, t])}
                for s, g, t in np.ndindex(on.shape) if facts.power_off[s]]
    return placements, services, nodes_on


def _serve_demand(facts, free) -> list[dict]:
    rows = []
    for v, service in enumerate(facts.services):
        usable = list(zip(*np.nonzero(facts.service_sites[v][:, None] & (facts.capacity_per_gpu[v] > 0)[None, :])))
        for t in range(facts.periods):
            left = facts.demand[v, t]
            for s, g in usable:
                gpus = min(int(free[s, g, t]), math.ceil(left / facts.capacity_per_gpu[v, g] - 1e-9))
                if gpus > 0:
                    rows.append(serve(service, facts.sites[s], t, gpus, facts.gpu_types[g]))
                    free[s, g, t] -= gpus
                    left -= gpus * facts.capacity_per_gpu[v, g]
    return rows


def _run_jobs(facts, free) -> list[dict]:
    rows = []
    for j in np.argsort(-facts.gang.max(axis=1), kind="stable"):     # the largest gangs first
        options = zip(*np.nonzero(facts.job_sites[j][:, None] & (facts.gang[j] > 0)[None, :]))
        for s, g in options:
            n = facts.gang[j, g]
            length = math.ceil(facts.work_gpu_hours[j] / (n * facts.throughput[j, g] * facts.period_hours) - 1e-9)
            start = next((t for t in range(facts.first_period[j], facts.last_period[j] - length + 2)
                          if (free[s, g, t:t + length] >= n).all()), None)
            if start is not None:
                free[s, g, start:start + length] -= n
                rows += [{"job": facts.jobs[j], "site": facts.sites[s], "gpu_type": facts.gpu_types[g], "period": t,
                          "gpus": int(n), "power_mode": "full"} for t in range(start, start + length)]
                break
    return rows


def test_a_generated_instance_with_a_simple_plan_is_valid():
    instance = generate_schedule(gpus=2000, jobs=60, services=4, sites=3, hours=48, seed=3)
    placements, services, nodes_on = simple_plan(instance)
    assert placements and services
    found = check_solution(instance, solution(instance, placements, services, nodes_on))
    assert found == [], [str(v) for v in found[:5]]


def test_ten_thousand_gpus_a_week_with_its_plan():
    instance = generate_schedule(gpus=10_000, jobs=500, services=12, sites=3, hours=168, seed=0)
    placements, services, nodes_on = simple_plan(instance)
    sol = solution(instance, placements, services, nodes_on)
    assert check_solution(instance, sol) == []
    ev = evaluate(schedule_facts(instance), placements, services, nodes_on)
    assert ev.kpis["finished_jobs"] == 500 and ev.kpis["deadline_misses"] == 0
    assert len(ev.energy) == 3 * 168 and len(ev.jobs) == 500
    assert ev.kpis["gpu_hours"] == pytest.approx(sum(r["gpus"] for r in placements) + sum(r["gpus"] for r in services))
    # every kW of IT power is in a site and period: the table sums to the KPI
    assert ev.energy.it_kw.sum() / 1000 == pytest.approx(ev.kpis["it_energy_mwh"])




@pytest.mark.parametrize("spec", ["gpuplan.verify.schedule.check:check_solution",
                                  "gpuplan.verify.schedule.value:evaluate",
                                  "gpuplan.verify.schedule.value:schedule_facts"])
def test_the_names_the_registry_uses_exist(spec):
    from gpuplan.problems import load_function

    assert callable(load_function(spec))


# ---------------------------------------------------------------- split gangs

# Sites s0, s1, each one node of 4 G GPUs and one of 4 H GPUs; job "sp" holds 4 GPUs, G at the
# reference speed, H at half, and may span sites and mix types. Period 0: 2 G at s0 + 2 G at s1,
# 4 x 0.96 = 3.84; period 1: 2 G + 2 H at s0, (2 + 1) x 0.95 = 2.85; period 2: 2 G at s0 + 2 H
# at s1, 3 x (1 - 0.04 - 0.05) = 2.73; 9.42 in all: it finishes in period 2. Its site sets are
# {s0, s1}, {s0}, {s0, s1}: two migrations (free: a job that spans sites has no migration cost).
SPLIT = {
    "schema_version": 1, "name": "split",
    "gpu_types": [{"id": "G", "memory_gb": 80, "power_w": 1000, "idle_power_w": 0},
                  {"id": "H", "memory_gb": 80, "power_w": 500, "idle_power_w": 0}],
    "sites": [{"id": "s0"}, {"id": "s1"}],
    "time": {"periods": 4, "period_hours": 1.0},
    "site_series": [{"site": s, "period": t, "price_per_kwh": 1.0} for s in ("s0", "s1") for t in range(4)],
    "capacity": [{"site": s, "gpu_type": g, "nodes": 1, "gpus_per_node": 4} for s in ("s0", "s1") for g in "GH"],
    "power_modes": [{"gpu_type": "G", "id": "eco", "power_fraction": 0.5, "throughput_fraction": 0.8}],
    "training_jobs": [{"id": "sp", "gpus": 4, "gpu_options": [{"gpu_type": "G"}, {"gpu_type": "H", "throughput": 0.5}],
                       "work_gpu_hours": 9.42, "migratable": True, "span_sites": True, "allow_mixed_types": True}],
}


def split_row(site, gpu_type, period, gpus=2, mode="full"):
    return {"job": "sp", "site": site, "gpu_type": gpu_type, "period": period, "gpus": gpus, "power_mode": mode}


SPLIT_ROWS = [split_row("s0", "G", 0), split_row("s1", "G", 0), split_row("s0", "G", 1), split_row("s0", "H", 1),
              split_row("s0", "G", 2), split_row("s1", "H", 2)]


def split_instance(**job):
    """The split instance with the job's fields changed, read by the schema alone: the load-time
    checks refuse some of these (span_sites on a non-migratable job), the verifier must not rely
    on them."""
    data = copy.deepcopy(SPLIT)
    data["training_jobs"][0].update(job)
    return unchecked(data)


def test_a_split_gang_does_its_gpus_work_less_the_losses_by_hand():
    ev = evaluate(schedule_facts(split_instance()), SPLIT_ROWS, [], [])
    assert ev.progress.work.tolist() == pytest.approx([2 * 0.96, 2 * 0.96, 2 * 0.95, 0.95, 2 * 0.91, 0.91])
    assert ev.progress.finish_period.tolist() == [2]
    assert ev.progress.resumes.tolist() == [0] and ev.progress.migrations.tolist() == [2]
    # energy: G at 1 kW, H at 0.5 kW, price 1: 4 + 3 + 3 kWh
    assert ev.terms["energy_cost"] == pytest.approx(10.0)
    assert check_solution(split_instance(), solution(split_instance(), SPLIT_ROWS, [], [])) == []


SPLIT_MUTATIONS = {
    # name: (job changes, rows, the codes it must give)
    "split gang short of its GPUs": ({}, [dict(r, gpus=1) if i == 1 else r for i, r in enumerate(SPLIT_ROWS)],
                                     {"gang", "required"}),
    "spans sites without span_sites": ({"span_sites": False}, SPLIT_ROWS, {"gang"}),
    "mixes types without allow_mixed_types": ({"allow_mixed_types": False}, SPLIT_ROWS, {"gang"}),
    "two power modes in one period": ({}, [dict(r, power_mode="eco") if i == 1 else r for i, r in enumerate(SPLIT_ROWS)],
                                      {"gang", "required"}),
    "two rows on one pool in one period": ({}, SPLIT_ROWS + [split_row("s0", "G", 0)], {"duplicate_row", "gang"}),
    "non-migratable over two sites": ({"migratable": False}, SPLIT_ROWS, {"migration"}),
    "a split row after the finish": ({}, SPLIT_ROWS + [split_row("s0", "G", 3, gpus=4)], {"after_finish"}),
    # 9.43: without the losses the rows would do 10
    "the losses leave the work undone": ({"work_gpu_hours": 9.43}, SPLIT_ROWS, {"required"}),
}


@pytest.mark.parametrize("name", SPLIT_MUTATIONS)
def test_a_broken_split_rule_is_rejected_with_its_code(name):
    changes, rows, codes = SPLIT_MUTATIONS[name]
    instance = split_instance(**changes)
    found = check_solution(instance, solution(instance, rows, [], []))
    assert rules_of(found) == codes, [str(v) for v in found]
    assert all(v.rule in RULES for v in found)


def test_a_job_without_the_flags_keeps_one_row_per_period():
    instance = split_instance(span_sites=False, allow_mixed_types=False, work_gpu_hours=16.0)
    rows = [split_row("s0", "G", t, gpus=4) for t in range(3)] + [split_row("s0", "G", 0, gpus=4)]
    found = check_solution(instance, solution(instance, rows, [], []))
    assert rules_of(found) == {"duplicate_row", "capacity"}
