"""gpuplan.plot draws what the Result holds: the numbers behind every artist are checked
against the Result's tables (Agg backend, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

import gpuplan as gp  # noqa: E402
from gpuplan import plot  # noqa: E402
from gpuplan.generate import assignment_instance  # noqa: E402
from gpuplan.instance import node_infos  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIXED_FLEET = ROOT / "instances" / "notebooks" / "mixed_fleet.json"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fleet():
    return gp.load(MIXED_FLEET)


@pytest.fixture(scope="module")
def solved(fleet):
    """The optimum and the greedy baseline of the mixed fleet (reserved GPUs, partly used
    nodes in the baseline)."""
    res = gp.solve(fleet, time_limit=60)
    base = gp.solve(fleet, method="greedy")
    assert res.status == "optimal" and base.status == "feasible"
    gp.verify(fleet, res)
    gp.verify(fleet, base)
    return {"greedy": base, "milp": res}


def held_per_node(result, instance) -> dict[str, int]:
    held = result.placements.groupby("node").gpus.sum()
    return {n.id: int(held.get(n.id, 0)) for n in node_infos(instance)}


# ---------------------------------------------------------------- occupancy


def test_node_occupancy_is_the_placements(fleet, solved):
    base = solved["greedy"]
    table = plot.node_occupancy(base, fleet)
    assert list(table.node) == [n.id for n in node_infos(fleet)]
    assert dict(zip(table.node, table.held)) == held_per_node(base, fleet)
    assert dict(zip(table.node, table.reserved)) == {n.id: n.reserved_gpus for n in node_infos(fleet)}
    assert (table.free == table.gpus - table.reserved - table.held).all() and (table.free >= 0).all()
    assert table.held.sum() == base.kpis["allocated_gpus"]
    by_pool = table.groupby("pool", sort=False).held.sum()
    assert dict(by_pool) == dict(zip(base.pools.pool, base.pools.allocated))


@pytest.mark.parametrize("method", ["greedy", "milp"])
def test_heatmap_cells_are_held_gpus_per_node(fleet, solved, method):
    result = solved[method]
    ax = plot.occupancy(result, fleet)
    image = ax.images[0].get_array()
    pools = [p.id for p in fleet.node_pools]
    held = held_per_node(result, fleet)
    assert image.shape == (len(pools), max(p.node_count for p in fleet.node_pools))
    for row, pool in enumerate(pools):
        nodes = [n for n in node_infos(fleet) if n.pool == pool]
        expected = np.array([held[n.id] / n.gpus for n in nodes])  # node order, no binning
        np.testing.assert_allclose(image[row, :len(nodes)].filled(np.nan), expected)
        assert image.mask[row, len(nodes):].all()  # past the pool's last node: no cell
    assert [t.get_text().split()[0] for t in ax.get_yticklabels()] == pools
    # annotated with held / node GPUs, and reserved GPUs drawn as bands of their share
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == sum(p.node_count for p in fleet.node_pools)
    reserved = sorted(p.get_height() for p in ax.patches if p.get_label() == "_reserved")
    assert reserved == pytest.approx(sorted(n.reserved_gpus / n.gpus for n in node_infos(fleet) if n.reserved_gpus))
    assert "0+8r/8" in texts  # the 910B node reserved whole for maintenance


def test_heatmap_bins_many_nodes(fleet, solved):
    result = solved["greedy"]
    ax = plot.occupancy(result, fleet, max_cells=3)
    image = ax.images[0].get_array()
    grid = plot.occupancy_grid(plot.node_occupancy(result, fleet), max_cells=3)
    assert image.shape[1] == 3 and (grid.groupby("pool").size() == 3).all()
    # every node is in exactly one cell, and a cell's colour is its held GPUs / its GPUs
    assert grid.nodes.sum() == sum(p.node_count for p in fleet.node_pools)
    assert grid.held.sum() == result.kpis["allocated_gpus"]
    for row, pool in enumerate(p.id for p in fleet.node_pools):
        cells = grid[grid.pool == pool]
        np.testing.assert_allclose(image[row].filled(np.nan), cells.held / cells.gpus)
        shares = (cells.held + cells.reserved) / cells.gpus
        assert list(shares) == sorted(shares, reverse=True)  # binned pools: most used first
    assert "nodes/cell" in ax.get_yticklabels()[0].get_text()


def test_heatmap_stays_small_for_thousands_of_nodes():
    instance = assignment_instance(16_000, 400, seed=2, running_fraction=0.5)
    result = gp.solve(instance, method="greedy")
    ax = plot.occupancy(result, instance)
    image = ax.images[0].get_array()
    assert len(node_infos(instance)) > 1_900
    assert image.shape == (len(instance.node_pools), plot.MAX_CELLS)
    assert not ax.texts  # too many cells to annotate
    grid = plot.occupancy_grid(plot.node_occupancy(result, instance))
    assert grid.held.sum() == result.kpis["allocated_gpus"]
    np.testing.assert_allclose(np.nansum(image.filled(np.nan)), (grid.held / grid.gpus).sum())


# ---------------------------------------------------------------- tenants and pools


def test_tenant_shares_against_floor_and_cap(solved):
    res = solved["milp"]
    ax = plot.tenant_shares(res)
    tenants = res.tenants
    bars = {c.get_label(): [p.get_width() for p in c] for c in ax.containers}
    assert bars["held"] == list(tenants.gpus)
    assert bars["demand"] == list(tenants.demand)
    lines = {c.get_label(): c for c in ax.collections if isinstance(c, LineCollection)}
    floors = [seg[0][0] for seg in lines["floor (guaranteed)"].get_segments()]
    caps = [seg[0][0] for seg in lines["cap"].get_segments()]
    assert floors == list(tenants.floor[tenants.floor > 0])
    assert caps == list(tenants.cap.dropna())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(tenants.tenant)


def test_tenant_shares_of_two_results(solved):
    ax = plot.tenant_shares(solved)
    bars = {c.get_label(): [p.get_width() for p in c] for c in ax.containers}
    for name, result in solved.items():
        assert bars[f"held ({name})"] == list(result.tenants.gpus)


def test_pool_utilization_parts(solved):
    base = solved["greedy"]
    ax = plot.pool_utilization(base)
    parts = {c.get_label(): np.array([p.get_width() for p in c]) for c in ax.containers}
    assert set(parts) == set(plot.POOL_PARTS)
    pools = base.pools
    np.testing.assert_array_equal(parts["allocated"], pools.allocated)
    np.testing.assert_array_equal(parts["fragmented"], pools.fragmented)
    np.testing.assert_array_equal(sum(parts.values()), pools.gpus)
    assert parts["reserved"].sum() == 10  # the mixed fleet's reserved 910B GPUs
    assert [t.get_text().strip() for t in ax.texts] == [f"{u:.0%}" for u in pools.utilization]


def test_pool_utilization_of_two_results(solved):
    ax = plot.pool_utilization(solved)
    allocated = [c for c in ax.containers if c.get_label().endswith("allocated")]
    assert [[p.get_width() for p in c] for c in allocated] == [list(r.pools.allocated) for r in solved.values()]


# ---------------------------------------------------------------- comparisons and sweeps


def test_compare_objective_with_bound_and_gain(solved):
    ax = plot.compare(solved)
    heights = [p.get_height() for p in ax.containers[0]]
    assert heights == pytest.approx([solved["greedy"].objective, solved["milp"].objective])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["greedy", "milp"]
    bound = next(c for c in ax.collections if c.get_label() == "bound")
    assert [seg[0][1] for seg in bound.get_segments()] == pytest.approx([solved["milp"].bound])
    gain = solved["milp"].objective / solved["greedy"].objective - 1
    labels = [t.get_text() for t in ax.texts]
    assert labels[0] == f"{solved['greedy'].objective:,.4g}" and labels[1].endswith(f"({gain:+.0%})")


def test_compare_kpis_one_panel_per_metric(solved):
    metrics = ("objective", "gpu_utilization", "fragmented_gpus")
    fig = plot.compare_kpis([solved["greedy"], solved["milp"]], metrics)
    assert len(fig.axes) == len(metrics)
    for ax, metric in zip(fig.axes, metrics):
        heights = [p.get_height() for p in ax.containers[0]]
        assert heights == pytest.approx([plot.metric_value(solved[m], metric) for m in ("greedy", "milp")])
        assert ax.get_title() == metric


def test_sweep_lines_follow_the_frame():
    frame = pd.DataFrame({
        "penalty": [0.1, 0.0, 0.2, 0.1, 0.0, 0.2],
        "kind": ["a", "a", "a", "b", "b", "b"],
        "objective": [9.0, 10.0, 8.0, 5.0, 6.0, 4.0],
        "gpu_utilization": [0.9, 1.0, 0.8, 0.5, 0.6, 0.4],
    })
    ax = plot.sweep(frame, "penalty", hue="kind", marks={"default": 0.1})
    lines = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["kind = a", "kind = b"]
    assert list(lines[0].get_xdata()) == [0.0, 0.1, 0.2]
    assert list(lines[0].get_ydata()) == [10.0, 9.0, 8.0]
    assert list(lines[1].get_ydata()) == [6.0, 5.0, 4.0]
    assert any(line.get_label() == "_mark" and line.get_xdata()[0] == 0.1 for line in ax.lines)
    ax = plot.sweep(frame[frame.kind == "a"], "penalty", ["objective", "gpu_utilization"])
    assert [line.get_label() for line in ax.lines] == ["objective", "gpu_utilization"]


def test_plots_never_show(monkeypatch, fleet, solved):
    def no_show(*args, **kwargs):
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", no_show)
    res = solved["milp"]
    fig, axes = plt.subplots(2, 2)
    assert plot.occupancy(res, fleet, ax=axes[0, 0]) is axes[0, 0]
    assert plot.tenant_shares(res, ax=axes[0, 1]) is axes[0, 1]
    assert plot.pool_utilization(res, ax=axes[1, 0]) is axes[1, 0]
    assert plot.compare(solved, "gpu_utilization", ax=axes[1, 1]) is axes[1, 1]
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_results_are_named_by_method_and_instance(solved):
    quick = gp.solve(ROOT / "instances" / "small" / "quickstart.json", method="greedy")
    ax = plot.compare([solved["milp"], quick], "gpu_utilization")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mixed-fleet\nmilp", "quickstart\ngreedy"]
    with pytest.raises(ValueError, match="no results"):
        plot.compare([])


# ---------------------------------------------------------------- Result display (text and HTML)


def test_result_text_repr(solved):
    text = repr(solved["milp"])
    # 642.575: the verified optimum of test_notebooks' heterogeneous-cluster story
    assert "status: optimal" in text and "objective: throughput (max) = 642.575" in text
    assert "GPUs: 214 of 214 allocated (100.0%), 0 fragmented, 0 nodes free" in text
    assert "jobs: 14 placed, 2 kept, 0 migrated, 1 preempted, 2 unplaced" in text
    assert "placements (first 10 of" in text and "jobs (first 10 of 19 rows)" in text
    assert "objective terms" in text and "cross_site_loss" in text
    greedy = repr(solved["greedy"])
    assert f"bound / gap: {solved['greedy'].bound:,.6g} / " in greedy and "(trivial bound)" in greedy


def test_result_html_repr(solved):
    page = solved["milp"]._repr_html_()
    assert page.count("<table") == 6  # summary, terms, placements, jobs, tenants, pools
    assert "<strong style='color:#1a7f37'>optimal</strong>" in page
    assert "objective terms" in page and "<details open><summary><em>jobs (first 10 of 19 rows)" in page
    assert "<details><summary><em>tenants</em>" in page


def test_result_display_without_solution():
    empty = gp.Result(instance_name="x<y>", problem="assignment", method="milp", objective_name="throughput",
                      sense="max", status="infeasible", message="required job(s) can never run: 'a' (too_large)")
    text = repr(empty)
    assert "status: infeasible" in text and "objective: throughput (max) = -" in text and "never run" in text
    page = empty._repr_html_()
    assert "x&lt;y&gt;" in page and page.count("<table") == 1 and "#cf222e" in page


def test_a_result_without_solution_is_refused():
    empty = gp.Result(instance_name="x", problem="assignment", method="milp", objective_name="throughput",
                      sense="max", status="infeasible")
    with pytest.raises(ValueError, match="has no tenants to plot \\(status infeasible\\)"):
        plot.tenant_shares(empty)
    with pytest.raises(ValueError, match="has no pools to plot"):
        plot.pool_utilization({"x": empty})
