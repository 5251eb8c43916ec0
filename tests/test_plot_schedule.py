"""The schedule plots draw what a schedule Result holds: bar heights, step lines and ticks are
checked against its tables and KPIs (Agg backend, no display), and results that lack a
solution or the tables a plot needs are refused by name."""

from __future__ import annotations

import re
from types import SimpleNamespace
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import StepPatch  # noqa: E402

import gpuplan as gp  # noqa: E402
from builders import check_result  # noqa: E402
from gpuplan import plot  # noqa: E402
from schedule_cases import all_features, micro  # noqa: E402

ECO = [{"gpu_type": "g", "id": "eco", "power_fraction": 0.5, "throughput_fraction": 0.75}]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def solved(instance, **kwargs):
    result = gp.solve(instance, problem="schedule", **kwargs)
    check_result(instance, result)
    assert result.status == "optimal"
    return result


@pytest.fixture(scope="module")
def tidal():
    """One site with one node of 2 GPUs, a grid limit, a PUE of 1.25, a tidal service and a job
    finishing late: b (due 2 h) waits for the cheap hours and ends at 3 h; a is due at 4 h and on time."""
    instance = micro(periods=4, nodes=1, gpus_per_node=2, prices=[4, 1, 1, 4], limits=[3, 3, 3, 3],
                     temps=[20, 20, 20, 20], pue_curve=[{"site": "a", "outdoor_temp_c": 0, "pue": 1.25}],
                     jobs=[{"id": "a", "work_gpu_hours": 2, "due_h": 4},
                           {"id": "b", "work_gpu_hours": 1, "due_h": 2, "tardiness_cost_per_h": 1}],
                     services=[{"id": "v", "unmet_cost_per_gpu_hour": 5}], demand=[("v", [1, 1, 0, 1])])
    result = solved(instance)
    assert list(result.jobs.state) == ["done", "late"]
    return instance, result


@pytest.fixture(scope="module")
def two_sites():
    """all_features: sites a (grid limit 5 kW) and b (no limit, nodes may be off)."""
    instance = all_features()
    return instance, solved(instance)


def steps(ax) -> dict[str, StepPatch]:
    return {p.get_label(): p for p in ax.patches if isinstance(p, StepPatch)}


def twin_of(ax):
    (twin,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    return twin


def bar_heights(ax) -> dict[str, np.ndarray]:
    return {c.get_label(): np.array([r.get_height() for r in c.patches]) for c in ax.containers}


# ---------------------------------------------------------------- energy profile


def test_energy_profile_lines_are_the_energy_table(tidal):
    instance, result = tidal
    ax = plot.energy_profile(result, instance)
    energy = result.energy.sort_values("period")
    lines = steps(ax)
    power = lines["a: facility kW"].get_data()
    np.testing.assert_allclose(power.values, energy.facility_kw)
    np.testing.assert_allclose(power.values, 1.25 * energy.it_kw)   # facility, not IT power
    np.testing.assert_array_equal(power.edges, [0, 1, 2, 3, 4])
    limit = lines["a: grid limit"]
    np.testing.assert_allclose(limit.get_data().values, [3, 3, 3, 3])
    assert limit.get_linestyle() == "--"
    price = steps(twin_of(ax))["a: price"].get_data()
    np.testing.assert_allclose(price.values, [4, 1, 1, 4])
    assert ax.get_xlabel() == "hour" and ax.get_xlim() == (0, 4)
    assert (energy.facility_kw <= 3 + 1e-9).all() and energy.facility_kw.max() == pytest.approx(result.kpis["peak_kw"])


def test_energy_profile_draws_a_grid_limit_only_where_given(two_sites):
    instance, result = two_sites
    lines = steps(plot.energy_profile(result))
    assert set(lines) == {"a: facility kW", "a: grid limit", "b: facility kW"}
    for site in ("a", "b"):
        rows = result.energy[result.energy.site == site].sort_values("period")
        np.testing.assert_allclose(lines[f"{site}: facility kW"].get_data().values, rows.facility_kw)
        prices = steps(twin_of(plot.energy_profile(result)))[f"{site}: price"].get_data().values
        np.testing.assert_allclose(prices, rows.price_per_kwh)
    assert lines["a: facility kW"].get_edgecolor() == lines["a: grid limit"].get_edgecolor()
    assert lines["a: facility kW"].get_edgecolor() != lines["b: facility kW"].get_edgecolor()


# ---------------------------------------------------------------- GPUs by use


def test_gpu_use_stacks_jobs_and_services_under_the_gpus_on(tidal):
    instance, result = tidal
    ax = plot.gpu_use(result, instance)
    heights = bar_heights(ax)
    assert list(heights) == ["training (full)", "services"]
    jobs = result.placements.groupby("period").gpus.sum().reindex(range(4), fill_value=0)
    services = result.services.groupby("period").gpus.sum().reindex(range(4), fill_value=0)
    np.testing.assert_array_equal(heights["training (full)"], jobs)
    np.testing.assert_array_equal(heights["services"], services)
    bottoms = [r.get_y() for r in ax.containers[1].patches]
    np.testing.assert_array_equal(bottoms, jobs)
    on = steps(ax)["GPUs of nodes on"].get_data().values
    np.testing.assert_array_equal(on, [2, 2, 2, 2])   # 1 node of 2 GPUs, never off
    assert (jobs + services <= on).all() and (jobs + services).sum() == result.kpis["gpu_hours"]


def test_gpu_use_splits_training_by_power_mode():
    """A 1.6 kW limit on two GPUs: b must finish in the first hour (full power, 1 GPU-h of work),
    so a runs capped (0.5 kW, 0.75 of the speed) beside it and stays capped, the cheaper way to
    its work."""
    instance = micro(periods=3, nodes=2, prices=[1, 1, 1], limits=[1.6, 1.6, 1.6], idle_w=0, modes=ECO,
                     jobs=[{"id": "a", "work_gpu_hours": 2.25}, {"id": "b", "work_gpu_hours": 1, "deadline_h": 1}])
    result = solved(instance)
    table = plot.busy_gpus(result)
    assert list(table.columns) == ["training (full)", "training (eco)", "services"]
    heights = bar_heights(plot.gpu_use(result))
    for mode in ("full", "eco"):
        rows = result.placements[result.placements.power_mode == mode]
        expected = rows.groupby("period").gpus.sum().reindex(range(3), fill_value=0)
        np.testing.assert_array_equal(heights[f"training ({mode})"], expected)
    np.testing.assert_array_equal(heights["training (full)"], [1, 0, 0])
    np.testing.assert_array_equal(heights["training (eco)"], [1, 1, 1])
    np.testing.assert_array_equal(heights["services"], [0, 0, 0])


def test_gpus_on_are_nodes_on_times_gpus_per_node(two_sites, tidal):
    instance, result = two_sites
    on = plot.gpus_on(result, instance)
    np.testing.assert_array_equal(on, result.nodes_on.groupby("period").nodes.sum())   # 1-GPU nodes
    other, _ = tidal
    with pytest.raises(ValueError, match="instance 'micro' has no capacity for site/GPU type b/g"):
        plot.gpus_on(result, other)


# ---------------------------------------------------------------- job timeline


def bars_by_job(ax) -> set[tuple[str, str, int]]:
    """(job, site, period) of every period the Gantt bars cover."""
    jobs = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    covered = set()
    for container in ax.containers:
        site = container.get_label().removeprefix("site ")
        for bar in container.patches:
            job = jobs[round(bar.get_y() + bar.get_height() / 2)]
            covered |= {(job, site, int(t)) for t in np.arange(bar.get_x(), bar.get_x() + bar.get_width())}
    return covered


def due_ticks(ax) -> dict[str, float]:
    jobs = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    (ticks,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label() == "due"]
    return {jobs[round(seg[:, 1].mean())]: seg[0, 0] for seg in ticks.get_segments()}


def test_job_timeline_bars_are_the_placements(two_sites):
    instance, result = two_sites
    ax = plot.job_timeline(result, instance)
    rows = result.placements
    assert bars_by_job(ax) == set(zip(rows.job, rows.site, rows.period))
    jobs = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    assert jobs == list(result.jobs.sort_values("start", kind="stable").job)
    assert len(ax.containers[0].patches) == len(plot.job_runs(result)[lambda r: r.site == "a"])
    assert due_ticks(ax) == {"block": 2.0}


def test_job_timeline_marks_due_times_from_the_instance_or_the_late_jobs(tidal):
    instance, result = tidal
    ax = plot.job_timeline(result, instance)
    assert due_ticks(ax) == {"a": 4.0, "b": 2.0}
    assert bars_by_job(ax) == set(zip(result.placements.job, result.placements.site, result.placements.period))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "b  late 1 h" in labels
    assert due_ticks(plot.job_timeline(result)) == {"b": 2.0}   # the Result knows only the late job's


def test_job_timeline_puts_due_hours_on_a_grid_of_longer_periods(tidal):
    """On 2 h periods the due times of 4 h and 2 h are at periods 2 and 1, whether read from the
    instance or derived from the late jobs' finish and tardiness (both are late now)."""
    instance, _ = tidal
    longer = instance.model_copy(update={"time": instance.time.model_copy(update={"period_hours": 2.0})})
    result = solved(longer)
    jobs = result.jobs.set_index("job")
    assert (jobs.state == "late").all() and (jobs.finish - jobs.tardiness_h).to_dict() == {"a": 4.0, "b": 2.0}
    ax = plot.job_timeline(result, longer)
    assert due_ticks(ax) == {"a": 2.0, "b": 1.0} and ax.get_xlabel() == "period (2 h each)"
    assert due_ticks(plot.job_timeline(result)) == {"a": 2.0, "b": 1.0}


def test_job_timeline_shows_at_most_max_jobs(two_sites):
    _, result = two_sites
    ax = plot.job_timeline(result, max_jobs=2)
    first = list(result.jobs.sort_values("start", kind="stable").job[:2])
    assert [t.get_text() for t in ax.get_yticklabels()] == first
    assert "(first 2 of 4 jobs by start)" in ax.get_title()
    assert {job for job, _, _ in bars_by_job(ax)} == set(first)


# ---------------------------------------------------------------- comparison


def test_compare_energy_bars_are_the_kpis_over_the_largest():
    """Cheap power is dirty here: the cost optimum runs in period 0, the carbon optimum in 1."""
    instance = micro(periods=2, nodes=2, prices=[1, 3], carbon=[500, 100], jobs=[{"id": "a", "work_gpu_hours": 1}])
    results = {"cost": solved(instance), "carbon": solved(instance, objective="carbon")}
    assert results["cost"].placements.period.tolist() == [0] and results["carbon"].placements.period.tolist() == [1]
    ax = plot.compare_energy(results)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["energy cost", "carbon (t)", "peak (kW)"]
    kpis = np.array([[r.kpis[m] for m in plot.ENERGY_METRICS] for r in results.values()])
    for i, name in enumerate(results):
        np.testing.assert_allclose(bar_heights(ax)[name], kpis[i] / kpis.max(axis=0))
    labels = [t.get_text() for t in ax.texts]
    assert labels == [plot._bar_text(v, np.nan, True) for v in kpis.ravel()]
    np.testing.assert_allclose(bar_heights(ax)["cost"][:2], [1.7 / 3.5, 1.0])


# ---------------------------------------------------------------- refusals


SCHEDULE_PLOTS = [plot.energy_profile, plot.gpu_use, plot.job_timeline, plot.compare_energy]


@pytest.mark.parametrize("draw", SCHEDULE_PLOTS, ids=lambda f: f.__name__)
def test_a_result_without_solution_is_refused(draw):
    empty = gp.Result(instance_name="x", problem="schedule", method="milp", objective_name="cost", sense="min",
                      status="infeasible")
    with pytest.raises(ValueError, match="result 'milp' has no solution to plot \\(status infeasible\\)"):
        draw(empty)


@pytest.mark.parametrize("draw, missing", [
    (plot.energy_profile, "energy"),
    (plot.gpu_use, "placements(period, power_mode) and services and nodes_on"),
    (plot.job_timeline, "placements(period) and jobs(start, finish, tardiness_h)"),
    (plot.compare_energy, "energy"),
], ids=lambda v: getattr(v, "__name__", None))
def test_an_assignment_result_is_refused_naming_what_it_lacks(draw, missing):
    assignment = gp.Result(instance_name="x", problem="assignment", method="milp", objective_name="throughput",
                           sense="max", status="optimal", objective=1.0)
    message = re.escape(f"{draw.__name__} needs {missing}, which result 'milp' (problem assignment) does not have")
    with pytest.raises(ValueError, match=message):
        draw({"milp": assignment} if draw is plot.compare_energy else assignment)


def test_single_result_plots_refuse_several(tidal):
    _, result = tidal
    with pytest.raises(ValueError, match="job_timeline draws one Result, not dict"):
        plot.job_timeline({"milp": result})


def test_a_schedule_without_jobs_draws_services_and_an_empty_timeline():
    instance = micro(periods=3, nodes=1, services=[{"id": "v", "unmet_cost_per_gpu_hour": 5}], demand=[("v", [1, 0, 1])])
    result = solved(instance)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(bar_heights(plot.gpu_use(result, instance))["services"], [1, 0, 1])
        ax = plot.job_timeline(result, instance)
    assert ax.get_yticklabels() == [] and ax.containers == [] and ax.get_legend() is None


def test_job_runs_count_a_split_gangs_period_once_per_site():
    placements = pd.DataFrame(
        [("j", "a", "g", 0, 2, "full"), ("j", "a", "h", 0, 1, "full"), ("j", "a", "g", 1, 2, "full"),
         ("j", "a", "h", 1, 1, "full"), ("j", "b", "g", 1, 1, "full"), ("k", "a", "g", 3, 1, "full")],
        columns=["job", "site", "gpu_type", "period", "gpus", "power_mode"])
    runs = plot.job_runs(SimpleNamespace(placements=placements))
    assert runs.to_dict("records") == [
        {"job": "j", "site": "a", "first": 0, "periods": 2}, {"job": "j", "site": "b", "first": 1, "periods": 1},
        {"job": "k", "site": "a", "first": 3, "periods": 1}]
