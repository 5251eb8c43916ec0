"""Bad schedule input: one line naming the file, the field path (or CSV line and column) and
the problem; exit 2 on the command line; nothing written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gpuplan as gp
from gpuplan.cli import app
from gpuplan.instance import check
from gpuplan.instance.io import _column_kinds, from_dict
from gpuplan.instance.schedule import SCHEDULE_TABLES, TimeGrid, TrainingJob
from gpuplan.instance.schedule_checks import _window

PERIODS = 4
SENTINEL = 0.123456   # a value no other field of base() holds, replaced in the YAML text


def base() -> dict:
    """Two sites over 4 hourly periods. Site a: 2 nodes of 8 H GPUs (1 node in period 2, a
    maintenance), PUE curve; site b: 1 node of 8 L GPUs. Job t1 is required and holds 16 GPUs
    (a gang), which fit site a in periods 0, 1 and 3: at most 48 GPU-hours by its deadline.
    Service s1 is hard; its capacity serves 8 * 0.5 = 4 reference GPUs."""
    series = [{"site": site, "period": t, "price_per_kwh": price, "carbon_g_per_kwh": 500.0,
               "outdoor_temp_c": 20.0 + t, "grid_limit_kw": None if site == "a" else 50.0}
              for site, price in (("a", 0.3), ("b", -0.05)) for t in range(PERIODS)]
    return {
        "schema_version": 1,
        "name": "schedule-input",
        "gpu_types": [{"id": "H", "memory_gb": 80, "power_w": 700, "idle_power_w": 100},
                      {"id": "L", "memory_gb": 48, "power_w": 400, "idle_power_w": 70}],
        "sites": [{"id": "a"}, {"id": "b"}],
        "tenants": [{"id": "research"}],
        "time": {"periods": PERIODS, "period_hours": 1.0},
        "site_series": [{k: v for k, v in row.items() if v is not None} for row in series],
        "pue_curve": [{"site": "a", "outdoor_temp_c": 10.0, "pue": 1.1},
                      {"site": "a", "outdoor_temp_c": 30.0, "pue": 1.4}],
        "facilities": [{"site": "a", "node_idle_w": 900, "node_busy_w": 2100, "demand_charge_per_kw": 5.0}],
        "capacity": [{"site": "a", "gpu_type": "H", "nodes": 2},
                     {"site": "a", "gpu_type": "H", "nodes": 1, "period": 2},
                     {"site": "b", "gpu_type": "L", "nodes": 1}],
        "power_modes": [{"gpu_type": "H", "id": "cap80", "power_fraction": 0.8, "throughput_fraction": 0.96}],
        "training_jobs": [
            {"id": "t1", "tenant": "research", "gpus": 16, "gpu_options": [{"gpu_type": "H"}],
             "work_gpu_hours": 48.0, "deadline_h": 4.0},
            {"id": "t2", "gpu_options": [{"gpu_type": "H", "gpus": 1}, {"gpu_type": "L", "gpus": 1}],
             "work_gpu_hours": 2.0, "release_h": 1.0, "due_h": 3.0, "tardiness_cost_per_h": 1.0,
             "required": False},
        ],
        "services": [{"id": "s1", "gpu_options": [{"gpu_type": "L", "capacity_per_gpu": 0.5}], "sites": ["b"]}],
        "service_demand": [{"service": "s1", "period": t, "gpus": 2.0} for t in range(PERIODS)],
    }


def error_of(data: dict, tmp_path: Path, name="inst.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    with pytest.raises(gp.InputError) as info:
        gp.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def _periods_of(data: dict, site: str) -> list[dict]:
    return [row for row in data["site_series"] if row["site"] == site]


def test_base_instance_is_valid_and_keeps_its_negative_price(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(base()))
    instance = gp.load(path)
    assert [j.id for j in instance.training_jobs] == ["t1", "t2"]
    assert min(row.price_per_kwh for row in instance.site_series) == -0.05   # negative prices happen


@pytest.mark.parametrize("mutate,expected", [
    # references
    (lambda d: d["site_series"][0].update(site="mars"), "site_series[0].site: unknown site 'mars'"),
    (lambda d: d["capacity"][2].update(site="mars"), "capacity[2].site: unknown site 'mars'"),
    (lambda d: d["capacity"][2].update(gpu_type="Z"), "capacity[2].gpu_type: unknown GPU type 'Z'"),
    (lambda d: d["pue_curve"][1].update(site="mars"), "pue_curve[1].site: unknown site 'mars'"),
    (lambda d: d["facilities"][0].update(site="mars"), "facilities[0].site: unknown site 'mars'"),
    (lambda d: d["power_modes"][0].update(gpu_type="Z"), "power_modes[0](cap80).gpu_type: unknown GPU type 'Z'"),
    (lambda d: d["training_jobs"][1]["gpu_options"][1].update(gpu_type="Z"),
     "training_jobs[1](t2).gpu_options[1].gpu_type: unknown GPU type 'Z'"),
    (lambda d: d["training_jobs"][0].update(sites=["a", "mars"]), "training_jobs[0](t1).sites[1]: unknown site 'mars'"),
    (lambda d: d["training_jobs"][0].update(tenant="nobody"), "training_jobs[0](t1).tenant: unknown tenant 'nobody'"),
    (lambda d: d["services"][0]["gpu_options"][0].update(gpu_type="Z"),
     "services[0](s1).gpu_options[0].gpu_type: unknown GPU type 'Z'"),
    (lambda d: d["services"][0].update(sites=["mars"]), "services[0](s1).sites[0]: unknown site 'mars'"),
    (lambda d: d["service_demand"][3].update(service="chat"), "service_demand[3].service: unknown service 'chat'"),
    # periods inside the grid
    (lambda d: d["site_series"][3].update(period=4), "site_series[3].period: period 4 is outside the time grid (periods 0 to 3)"),
    (lambda d: d["capacity"][1].update(period=9), "capacity[1].period: period 9 is outside the time grid (periods 0 to 3)"),
    (lambda d: d["service_demand"][0].update(period=4), "service_demand[0].period: period 4 is outside the time grid"),
    (lambda d: d.pop("time"), "time: missing: the schedule sections (site_series, pue_curve, facilities, capacity, "
                              "power_modes, training_jobs, services, service_demand) need a time grid"),
    # duplicate keys
    (lambda d: d["site_series"][1].update(period=0), "site_series[1].period: a second site_series row for site 'a', period 0"),
    (lambda d: d["training_jobs"][1].update(id="t1"), "training_jobs[1](t1).id: duplicate id 't1' in training_jobs"),
    (lambda d: d["services"].append({"id": "s1", "gpu_options": [{"gpu_type": "L"}]}),
     "services[1](s1).id: duplicate id 's1' in services"),
    (lambda d: d["power_modes"].append(dict(d["power_modes"][0])),
     "power_modes[1](cap80).id: power mode 'cap80' of GPU type 'H' is listed twice"),
    (lambda d: d["facilities"].append({"site": "a"}), "facilities[1].site: site 'a' has a second facilities row"),
    (lambda d: d["capacity"].append({"site": "b", "gpu_type": "L", "nodes": 3}),
     "capacity[3].period: a second capacity row for site 'b', GPU type 'L', every period (period empty)"),
    (lambda d: d["service_demand"][2].update(period=1), "service_demand[2].period: a second service_demand row for service 's1', period 1"),
    (lambda d: d["pue_curve"][1].update(outdoor_temp_c=10.0), "pue_curve[1].outdoor_temp_c: site 'a' has two PUE breakpoints at 10 C"),
    (lambda d: d["capacity"][1].update(gpus_per_node=4),
     "capacity[1].gpus_per_node: site 'a', GPU type 'H' has gpus_per_node 4 here but 8 in capacity[0]"),
    # series: every period, every site that needs them
    (lambda d: d["site_series"].remove(_periods_of(d, "b")[2]),
     "site_series[4].period: series of unequal length: site 'b' has rows for 3 of the 4 periods (missing periods 2)"),
    (lambda d: _periods_of(d, "a")[2].pop("price_per_kwh"),
     "site_series[2].price_per_kwh: series of unequal length: site 'a' has price_per_kwh in 3 of its 4 periods but not in period 2"),
    (lambda d: _periods_of(d, "b")[0].pop("outdoor_temp_c"),
     "site_series[4].outdoor_temp_c: series of unequal length: site 'b' has outdoor_temp_c in 3 of its 4 periods"),
    (lambda d: [row.pop("carbon_g_per_kwh") for row in _periods_of(d, "b")],
     "site_series[4].carbon_g_per_kwh: missing series: site 'b' has capacity but no carbon_g_per_kwh, which site 'a' has"),
    (lambda d: d.update(site_series=_periods_of(d, "a")),
     "sites[1](b).id: missing series: site 'b' has capacity but no price_per_kwh, which site 'a' has"),
    (lambda d: [row.pop("outdoor_temp_c") for row in _periods_of(d, "a")],
     "pue_curve[0].site: missing series: site 'a' has a PUE curve but no outdoor_temp_c in site_series"),
    # not finite (JSON NaN / Infinity, as Python's json reads and writes them)
    (lambda d: d["site_series"][5].update(price_per_kwh=float("nan")),
     "site_series[5].price_per_kwh: Input should be a finite number"),
    (lambda d: d["site_series"][6].update(grid_limit_kw=float("inf")),
     "site_series[6].grid_limit_kw: Input should be a finite number"),
    (lambda d: d["service_demand"][1].update(gpus=float("-inf")), "service_demand[1].gpus: Input should be a finite number"),
    # per-record rules of the schema
    (lambda d: d["training_jobs"][1].update(deadline_h=0.5),
     "training_jobs[1](t2): deadline_h (0.5) is not after release_h (1)"),
    (lambda d: d["power_modes"][0].update(throughput_fraction=1.2),
     "power_modes[0](cap80).throughput_fraction: Input should be less than or equal to 1"),
    (lambda d: d["power_modes"][0].update(power_fraction=0.0),
     "power_modes[0](cap80).power_fraction: Input should be greater than 0"),
    # work and demand no capacity can carry
    (lambda d: d["training_jobs"][1].update(sites=["b"], gpu_options=[{"gpu_type": "H", "gpus": 1}]),
     "training_jobs[1](t2).gpu_options: no capacity of its GPU types (H) at its allowed sites (b): 't2' can never run"),
    (lambda d: d["services"][0].update(sites=["a"]),
     "services[0](s1).gpu_options: no capacity of its GPU types (L) at its allowed sites (a): 's1' can never run"),
    (lambda d: d["training_jobs"][0].update(work_gpu_hours=48.5),
     "training_jobs[0](t1).work_gpu_hours: work no capacity can finish: job 't1' needs 48.5 GPU-hours but can do "
     "at most 48 between release_h 0 and its deadline_h 4, even alone at full speed on its best option; "
     "it is required, so every plan is infeasible"),
    (lambda d: d["training_jobs"][0].update(deadline_h=None, release_h=2.0, work_gpu_hours=17.0),
     "work no capacity can finish: job 't1' needs 17 GPU-hours but can do at most 16 between release_h 2 and "
     "the horizon's end (4 h)"),
    (lambda d: d["training_jobs"][0].update(gpus=17),
     "job 't1' needs 48 GPU-hours but can do at most 0 between release_h 0 and its deadline_h 4, even alone at full "
     "speed on its best option (in no period of that window does its GPU count fit"),
    (lambda d: d["service_demand"][2].update(gpus=4.5),
     "service_demand[2].gpus: hard service 's1' demands 4.5 reference GPUs in period 2 but all its allowed "
     "capacity serves at most 4: every plan is infeasible"),
])
def test_bad_schedule_input_names_file_path_and_problem(tmp_path, mutate, expected):
    data = base()
    mutate(data)
    assert expected in error_of(data, tmp_path)


def test_a_job_that_is_not_required_may_have_more_work_than_capacity(tmp_path):
    data = base()
    data["training_jobs"][1]["work_gpu_hours"] = 1000.0   # the model reports it unfinished, with its reason
    data["service_demand"][0]["gpus"] = 4.0               # exactly what the hard service's capacity serves
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    assert gp.load(path).training_jobs[1].work_gpu_hours == 1000.0


def test_a_soft_service_may_demand_more_than_capacity(tmp_path):
    data = base()
    data["services"][0]["unmet_cost_per_gpu_hour"] = 10.0
    data["service_demand"][0]["gpus"] = 100.0
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    assert gp.load(path).service_demand[0].gpus == 100.0


def test_instances_built_in_python_get_the_schedule_checks():
    data = base()
    data["capacity"][0]["site"] = "mars"
    instance = gp.Instance.model_validate(data)   # per-field rules only
    with pytest.raises(gp.InputError, match=r"^<instance>: capacity\[0\]\.site: unknown site 'mars'$"):
        check(instance)


def _float_fields() -> list[tuple[str, str]]:
    return [(table, column) for table, model in SCHEDULE_TABLES.items()
            for column, kind in _column_kinds(table, model).items() if kind == "float"]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("table,column", _float_fields())
def test_every_float_field_rejects_nan_and_inf(tmp_path, table, column, value):
    data = base()
    data[table][0][column] = SENTINEL
    text = yaml.safe_dump(data).replace(f"{column}: {SENTINEL}", f"{column}: {value}")
    path = tmp_path / "inst.yaml"
    path.write_text(text)
    with pytest.raises(gp.InputError) as info:
        gp.load(path)
    assert f"{path}: {table}[0]" in str(info.value)
    assert f".{column}: Input should be a finite number" in str(info.value)


def test_time_grid_rejects_nan_period_hours(tmp_path):
    data = base()
    data["time"]["period_hours"] = float("nan")
    assert "time.period_hours: Input should be a finite number" in error_of(data, tmp_path)


# ---------------------------------------------------------------- CSV tables


def csv_instance(tmp_path: Path, table: str, mutate=None) -> Path:
    """``base()`` with ``table`` as a CSV file (after ``mutate`` on its rows)."""
    data = base()
    rows = copy.deepcopy(data[table])
    if mutate is not None:
        mutate(rows)
    columns = list(dict.fromkeys(column for row in rows for column in row))
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    (tmp_path / f"{table}.csv").write_text("\n".join(lines) + "\n")
    data[table] = {"csv": f"{table}.csv"}
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(data))
    return path


def test_schedule_tables_load_from_csv(tmp_path):
    instance = gp.load(csv_instance(tmp_path, "site_series"))
    assert len(instance.site_series) == 2 * PERIODS
    assert instance.site_series[4].grid_limit_kw == 50.0 and instance.site_series[0].grid_limit_kw is None


@pytest.mark.parametrize("table,mutate,expected", [
    ("site_series", lambda rows: rows[2].update(price_per_kwh="cheap"),
     "site_series.csv: line 4, column 'price_per_kwh': Input should be a valid number"),
    ("site_series", lambda rows: rows[5].update(outdoor_temp_c="nan"),
     "site_series.csv: line 7, column 'outdoor_temp_c': Input should be a finite number"),
    ("site_series", lambda rows: rows[6].update(site="mars"), "site_series.csv: line 8, column 'site': unknown site 'mars'"),
    ("site_series", lambda rows: rows[7].update(period=2),
     "site_series.csv: line 9, column 'period': a second site_series row for site 'b', period 2"),
    ("site_series", lambda rows: rows.pop(1), "site_series.csv: line 2, column 'period': series of unequal length"),
    ("site_series", lambda rows: rows[3].pop("carbon_g_per_kwh"),
     "site_series.csv: line 5, column 'carbon_g_per_kwh': series of unequal length: site 'a' has carbon_g_per_kwh "
     "in 3 of its 4 periods but not in period 3"),
    ("service_demand", lambda rows: rows[1].update(service="chat"),
     "service_demand.csv: line 3, column 'service': unknown service 'chat'"),
    ("service_demand", lambda rows: rows[3].update(period=7),
     "service_demand.csv: line 5, column 'period': period 7 is outside the time grid"),
    ("service_demand", lambda rows: rows[0].update(gpus=9.0),
     "service_demand.csv: line 2, column 'gpus': hard service 's1' demands 9 reference GPUs in period 0"),
    ("capacity", lambda rows: rows[1].update(nodes=-1), "capacity.csv: line 3, column 'nodes': Input should be greater than or equal to 0"),
    ("capacity", lambda rows: rows[2].update(gpu_type="Z"), "capacity.csv: line 4, column 'gpu_type': unknown GPU type 'Z'"),
    ("pue_curve", lambda rows: rows[1].update(pue=0.9), "pue_curve.csv: line 3, column 'pue': Input should be greater than or equal to 1"),
    ("power_modes", lambda rows: rows[0].update(throughput_fraction=1.5),
     "power_modes.csv: line 2, column 'throughput_fraction': Input should be less than or equal to 1"),
])
def test_bad_schedule_csv_names_file_line_and_column(tmp_path, table, mutate, expected):
    path = csv_instance(tmp_path, table, mutate)
    with pytest.raises(gp.InputError) as info:
        gp.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / f"{table}.csv"))
    assert expected in message


# ---------------------------------------------------------------- command line


def test_validate_rejects_bad_schedule_input_with_one_line_and_exit_2(tmp_path):
    data = base()
    data["training_jobs"][0]["work_gpu_hours"] = 500.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"{bad}: training_jobs[0](t1).work_gpu_hours: work no capacity can finish" in lines[0]


def test_solve_of_bad_schedule_input_writes_nothing(tmp_path):
    data = base()
    data["site_series"][2]["price_per_kwh"] = float("nan")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["solve", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "site_series[2].price_per_kwh: Input should be a finite number" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


# ---------------------------------------------------------------- long grids, window arithmetic


def test_a_long_grid_is_checked_without_walking_its_periods(tmp_path):
    data = base()
    data["time"]["periods"] = 10**9
    data["site_series"] = [data["site_series"][0]]
    data["training_jobs"][0].update(deadline_h=None, work_gpu_hours=1e9)   # fits in 1e9 hours at 16 GPU-hours an hour
    assert ("site_series[0].period: series of unequal length: site 'a' has rows for 1 of the 1000000000 periods "
            "(missing periods 1, 2, 3, 4, 5, ...)") in error_of(data, tmp_path)
    data.pop("site_series")
    data.pop("pue_curve")
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data))
    assert gp.load(path).time.periods == 10**9


@settings(max_examples=300, deadline=None)
@given(period_hours=st.sampled_from([1.0, 0.25, 0.1, 0.3, 3.0]), periods=st.integers(1, 40),
       release_steps=st.integers(0, 50), deadline_steps=st.none() | st.integers(1, 60),
       nudge=st.sampled_from([0.0, 1e-10, -1e-10, 1e-6, -1e-6]))
def test_a_jobs_window_is_the_contracts(period_hours, periods, release_steps, deadline_steps, nudge):
    """Allowed periods: t * h >= release_h - 1e-9 and (t + 1) * h <= deadline_h + 1e-9."""
    release = max(0.0, release_steps * period_hours + nudge)
    deadline = None if deadline_steps is None else deadline_steps * period_hours + abs(nudge) + release
    job = TrainingJob(id="j", gpus=1, gpu_options=[{"gpu_type": "H"}], work_gpu_hours=1.0, release_h=release,
                      deadline_h=deadline)
    grid = TimeGrid(periods=periods, period_hours=period_hours)
    expected = [t for t in range(periods) if t * period_hours >= release - 1e-9
                and (deadline is None or (t + 1) * period_hours <= deadline + 1e-9)]
    assert list(_window(job, grid)) == expected


# ---------------------------------------------------------------- split gangs


@pytest.mark.parametrize("change,expected", [
    ({"preemptible": False, "span_sites": True, "migratable": True},
     "training_jobs[1](t2).span_sites: job 't2' is not preemptible: it keeps one site, GPU type and power mode "
     "over its run, so span_sites needs preemptible true"),
    ({"preemptible": False, "allow_mixed_types": True},
     "training_jobs[1](t2).allow_mixed_types: job 't2' is not preemptible"),
    ({"span_sites": True},
     "training_jobs[1](t2).span_sites: job 't2' may span sites, so its sites change between periods: span_sites "
     "needs migratable true"),
    ({"span_sites": True, "migratable": True, "migration_cost": 2.0},
     "training_jobs[1](t2).migration_cost: job 't2' may span sites (span_sites), and a change of a set of sites "
     "has no price: migration_cost must be 0"),
    ({"allow_mixed_types": True, "gpu_options": [{"gpu_type": "H", "gpus": 2}, {"gpu_type": "L", "gpus": 1}]},
     "training_jobs[1](t2).gpu_options: job 't2' may mix GPU types, so its gang holds one GPU count on every "
     "option; its options hold 1, 2"),
])
def test_split_flags_where_the_rules_have_no_meaning_are_refused(tmp_path, change, expected):
    data = base()
    data["training_jobs"][1].update(change)
    assert expected in error_of(data, tmp_path)


def test_split_penalties_must_leave_work():
    data = base()
    data["schedule_options"] = {"cross_site_penalty": 0.5, "mixed_type_penalty": 0.5}
    with pytest.raises(gp.InputError, match="cross_site_penalty \\+ mixed_type_penalty must stay below 1"):
        from_dict(data)


def test_a_required_gang_that_fits_only_split_is_not_refused(tmp_path):
    # t1's 17 GPUs fit no site (16 H at a, 8 L at b): refused whole, accepted when it may span and mix
    data = base()
    data["training_jobs"][0].update(gpus=17, work_gpu_hours=10.0, deadline_h=None)
    assert "in no period of that window does its GPU count fit" in error_of(data, tmp_path)
    data["training_jobs"][0].update(span_sites=True, allow_mixed_types=True, migratable=True,
                                    gpu_options=[{"gpu_type": "H"}, {"gpu_type": "L"}])
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    assert gp.load(path).training_jobs[0].span_sites
