"""Plots of results: GPU occupancy, tenant shares, pool utilization, comparisons, sweeps.

Matplotlib only. Every function draws on ``ax`` (a new figure when it is None) and returns
the Axes (:func:`compare_kpis`: the Figure); none calls ``plt.show()``. The numbers drawn
come from the Result's tables, so a plot shows exactly what the Result holds:

- :func:`occupancy`: a heatmap of GPUs held per node, one row per pool (bins of nodes when a
  pool has many), reserved GPUs as a grey band; :func:`node_occupancy` is its data.
- :func:`tenant_shares`: GPUs held per tenant against demand, floor and cap.
- :func:`pool_utilization`: allocated / reserved / fragmented / free GPUs per pool.
- :func:`compare` / :func:`compare_kpis`: an objective or KPIs of several results, e.g. the
  optimizer against the greedy baseline.
- :func:`sweep`: a summary column against a swept parameter (e.g. from ``solve_many``).

Schedule results (time on the x axis, period ``t`` spanning ``[t, t+1)``):

- :func:`energy_profile`: facility kW per site with its grid limit, and the electricity price.
- :func:`gpu_use`: busy GPUs per period by use (training per power mode, services).
- :func:`job_timeline`: a Gantt chart of the jobs' periods by site, with due times.
- :func:`compare_energy`: energy cost, carbon and peak power of several results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from .instance.nodes import node_infos
from .instance.schema import Instance
from .results import Result

HELD_CMAP = "YlGnBu"
COLORS = {
    "allocated": "#2c7fb8",
    "reserved": "#969696",
    "fragmented": "#fd8d3c",
    "free": "#d6e2ec",
    "demand": "#d9d9d9",
    "floor": "#252525",
    "cap": "#cb181d",
    "bound": "#252525",
}
MAX_CELLS = 48  # node cells per pool row before nodes are binned
ANNOTATE_CELLS = 160  # write the GPU counts into the cells up to this many cells

ResultSet = Result | Mapping[str, Result] | Sequence[Result]  # one result, or several to compare


# ---------------------------------------------------------------- occupancy heatmap


def node_occupancy(result: Result, instance: Instance) -> pd.DataFrame:
    """One row per node of ``instance`` (pools in file order): node, pool, pod, site, gpu_type,
    gpus, reserved, held (GPUs held by the result's placements), free."""
    held = result.placements.groupby("node")["gpus"].sum() if len(result.placements) else pd.Series(dtype=int)
    rows = [
        {"node": n.id, "pool": n.pool, "pod": n.pod, "site": n.site, "gpu_type": n.gpu_type, "gpus": n.gpus,
         "reserved": n.reserved_gpus, "held": int(held.get(n.id, 0))}
        for n in node_infos(instance)
    ]
    table = pd.DataFrame(rows, columns=["node", "pool", "pod", "site", "gpu_type", "gpus", "reserved", "held"])
    table["free"] = table.gpus - table.reserved - table.held
    return table


def occupancy_grid(table: pd.DataFrame, *, max_cells: int = MAX_CELLS, sort_nodes: bool | None = None) -> pd.DataFrame:
    """Cells of the heatmap from :func:`node_occupancy`: one row per (pool, cell) with the
    nodes, GPUs, held and reserved GPUs it sums. A pool with more than ``max_cells`` nodes is
    cut into ``max_cells`` bins of consecutive nodes. ``sort_nodes`` orders each pool's nodes
    from the most to the least used first, so that full, partly used and free nodes land in
    different bins instead of averaging out; by default it is on when some pool is binned (then
    every row reads the same way) and off otherwise (cells are nodes in pool order)."""
    if sort_nodes is None:
        sort_nodes = _some_pool_binned(table, max_cells)
    cells = []
    for pool, nodes in table.groupby("pool", sort=False):
        binned = len(nodes) > max_cells
        if sort_nodes:
            used = (nodes.held + nodes.reserved) / nodes.gpus
            nodes = nodes.assign(_used=used).sort_values(["_used", "held"], ascending=False, kind="stable")
        for cell, part in enumerate(np.array_split(np.arange(len(nodes)), max_cells if binned else len(nodes))):
            chunk = nodes.iloc[part]
            cells.append({
                "pool": pool, "cell": cell, "nodes": len(chunk),
                "first_node": chunk.node.iloc[0], "last_node": chunk.node.iloc[-1],
                "gpu_type": chunk.gpu_type.iloc[0], "site": chunk.site.iloc[0],
                "gpus": int(chunk.gpus.sum()), "held": int(chunk.held.sum()), "reserved": int(chunk.reserved.sum()),
            })
    grid = pd.DataFrame(cells, columns=["pool", "cell", "nodes", "first_node", "last_node", "gpu_type", "site",
                                        "gpus", "held", "reserved"])
    grid["held_share"] = grid.held / grid.gpus
    grid["reserved_share"] = grid.reserved / grid.gpus
    return grid


def occupancy(result: Result, instance: Instance, *, ax: Axes | None = None, max_cells: int = MAX_CELLS,
              sort_nodes: bool | None = None, annotate: bool | None = None, colorbar: bool = True) -> Axes:
    """Heatmap of GPU occupancy: one row per pool, one cell per node (or per bin of nodes when
    a pool has more than ``max_cells``). The colour is the share of the cell's GPUs held by
    jobs; a grey band at the bottom of a cell is its reserved share; the rest is free. A cell
    coloured part-way is a fragmented node. ``ax.images[0]`` holds the held shares (pools x
    cells, masked past a pool's last cell); see :func:`occupancy_grid` for the cells."""
    table = node_occupancy(result, instance)
    sort_nodes = _some_pool_binned(table, max_cells) if sort_nodes is None else sort_nodes
    grid = occupancy_grid(table, max_cells=max_cells, sort_nodes=sort_nodes)
    pools = list(dict.fromkeys(grid.pool))
    width = int(grid.groupby("pool").size().max()) if len(grid) else 0
    held = np.full((len(pools), width), np.nan)
    for row, pool in enumerate(pools):
        cells = grid[grid.pool == pool]
        held[row, cells.cell.to_numpy()] = cells.held_share.to_numpy()
    ax = ax if ax is not None else _new_axes(figsize=(min(14, max(7, 4 + 0.3 * width)), 1.4 + 0.45 * len(pools)))
    cmap = plt.get_cmap(HELD_CMAP).with_extremes(bad="none")
    image = ax.imshow(np.ma.masked_invalid(held), cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    _reserved_bands(ax, grid, pools)
    _cell_edges(ax, grid, pools)
    if annotate if annotate is not None else len(grid) <= ANNOTATE_CELLS:
        _cell_labels(ax, grid, pools)
    binned = grid.groupby("pool", sort=False).nodes.max()
    ax.set_yticks(range(len(pools)), [_pool_label(grid, p, binned[p]) for p in pools])
    ax.set_xlabel(_cells_label(binned.max() > 1, sort_nodes))
    ax.set_title(f"GPU occupancy: {_result_label(result)}")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="share of GPUs held by jobs", fraction=0.04, pad=0.02)
    if grid.reserved.any():
        ax.legend(handles=[Patch(color=COLORS["reserved"], label="reserved")], loc="upper left",
                  bbox_to_anchor=(1.0, -0.02), frameon=False, fontsize="small")
    return ax


def _some_pool_binned(table: pd.DataFrame, max_cells: int) -> bool:
    return bool((table.groupby("pool").size() > max_cells).any())


def _cells_label(binned: bool, sorted_: bool) -> str:
    if binned:
        return "bins of nodes, most used first" if sorted_ else "bins of nodes, in pool order"
    return "nodes, most used first" if sorted_ else "node (index in pool)"


def _pool_label(grid: pd.DataFrame, pool: str, nodes_per_cell: int) -> str:
    first = grid[grid.pool == pool].iloc[0]
    label = f"{pool}  {first.gpu_type} @ {first.site}" if first.site else f"{pool}  {first.gpu_type}"
    return label if nodes_per_cell <= 1 else f"{label}  (<= {nodes_per_cell} nodes/cell)"


def _reserved_bands(ax: Axes, grid: pd.DataFrame, pools: list[str]) -> None:
    row_of = {pool: i for i, pool in enumerate(pools)}
    for cell in grid[grid.reserved > 0].itertuples(index=False):
        y = row_of[cell.pool] + 0.5
        ax.add_patch(Rectangle((cell.cell - 0.5, y - cell.reserved_share), 1, cell.reserved_share,
                               facecolor=COLORS["reserved"], edgecolor="none", label="_reserved"))


def _cell_edges(ax: Axes, grid: pd.DataFrame, pools: list[str]) -> None:
    row_of = {pool: i for i, pool in enumerate(pools)}
    for cell in grid.itertuples(index=False):
        ax.add_patch(Rectangle((cell.cell - 0.5, row_of[cell.pool] - 0.5), 1, 1, facecolor="none",
                               edgecolor="white", linewidth=1.0, label="_edge"))


def _cell_labels(ax: Axes, grid: pd.DataFrame, pools: list[str]) -> None:
    row_of = {pool: i for i, pool in enumerate(pools)}
    for cell in grid.itertuples(index=False):
        dark = cell.held_share > 0.6
        text = f"{cell.held}+{cell.reserved}r/{cell.gpus}" if cell.reserved else f"{cell.held}/{cell.gpus}"
        ax.text(cell.cell, row_of[cell.pool], text, ha="center", va="center",
                fontsize="x-small", color="white" if dark else "black")


# ---------------------------------------------------------------- tenants and pools


def tenant_shares(results: ResultSet, *, ax: Axes | None = None) -> Axes:
    """GPUs held per tenant (one bar per result when several are given, e.g. ``{"milp": res,
    "greedy": base}``), over a light bar of the tenant's demand, with its floor (black tick)
    and cap (red tick). Labels give the share of the cluster's usable GPUs."""
    named = _named(results, table="tenants")
    first = next(iter(named.values())).tenants
    tenants = list(first.tenant)
    ax = ax if ax is not None else _new_axes(figsize=(8, 1 + 0.55 * len(tenants) * max(1, len(named) / 1.5)))
    y = np.arange(len(tenants), dtype=float)
    ax.barh(y, first.demand, height=0.9, color=COLORS["demand"], label="demand")
    height = 0.8 / len(named)
    for i, (name, result) in enumerate(named.items()):
        table = result.tenants.set_index("tenant").reindex(tenants)
        offset = y - 0.4 + height * (i + 0.5)
        bars = ax.barh(offset, table.gpus, height=height * 0.9, color=_series_color(i),
                       label=f"held ({name})" if len(named) > 1 else "held")
        ax.bar_label(bars, [f"{g:g} ({s:.0%})" for g, s in zip(table.gpus, table.share)], padding=3,
                     fontsize="small")
    floors = first.floor.to_numpy(dtype=float)
    caps = first.cap.to_numpy(dtype=float)
    has_floor, has_cap = floors > 0, np.isfinite(caps)
    ax.vlines(floors[has_floor], y[has_floor] - 0.45, y[has_floor] + 0.45, colors=COLORS["floor"], linewidth=2.5,
              label="floor (guaranteed)")
    ax.vlines(caps[has_cap], y[has_cap] - 0.45, y[has_cap] + 0.45, colors=COLORS["cap"], linewidth=2.5, label="cap")
    ax.set_yticks(y, tenants)
    ax.invert_yaxis()
    ax.set_xlabel("GPUs")
    right = np.nanmax(np.concatenate([first.demand.to_numpy(float), caps[has_cap], floors,
                                      *[r.tenants.gpus.to_numpy(float) for r in named.values()]]))
    ax.set_xlim(0, 1.25 * right if right > 0 else 1)
    ax.set_title("GPUs held per tenant vs demand, floor and cap")
    _legend_below(ax)
    return ax


POOL_PARTS = ("allocated", "reserved", "fragmented", "free")


def pool_parts(result: Result) -> pd.DataFrame:
    """Per pool: GPUs allocated to jobs, reserved, free on partly used nodes (fragmented), free
    on unused nodes (free), and utilization (allocated / usable), from ``result.pools``."""
    pools = result.pools
    reserved = pools.gpus - pools.allocated - pools.free
    return pd.DataFrame({
        "pool": pools.pool, "allocated": pools.allocated, "reserved": reserved,
        "fragmented": pools.fragmented, "free": pools.free - pools.fragmented, "utilization": pools.utilization,
    })


def pool_utilization(results: ResultSet, *, ax: Axes | None = None) -> Axes:
    """Stacked bars per pool: GPUs allocated, reserved, free on partly used nodes (fragmented)
    and free on unused nodes, labelled with the pool's utilization (allocated / usable). Several
    results give one bar each per pool."""
    named = _named(results, table="pools")
    parts = {name: pool_parts(result) for name, result in named.items()}
    pools = list(next(iter(parts.values())).pool)
    ax = ax if ax is not None else _new_axes(figsize=(8, 1 + 0.5 * len(pools) * max(1, len(named) / 1.5)))
    height = 0.8 / len(named)
    y = np.arange(len(pools), dtype=float)
    for i, (name, table) in enumerate(parts.items()):
        table = table.set_index("pool").reindex(pools)
        offset = y - 0.4 + height * (i + 0.5)
        left = np.zeros(len(pools))
        for part in POOL_PARTS:
            ax.barh(offset, table[part], left=left, height=height * 0.9, color=COLORS[part],
                    label=part if i == 0 else "_" + part, edgecolor="white", linewidth=0.5)
            left += table[part].to_numpy(dtype=float)
        for yy, x, u in zip(offset, left, table.utilization):
            ax.text(x, yy, f" {u:.0%}" + (f" {name}" if len(named) > 1 else ""), va="center", fontsize="small")
    ax.set_yticks(y, pools)
    ax.invert_yaxis()
    ax.set_xlabel("GPUs")
    ax.set_xlim(0, ax.get_xlim()[1] * 1.2)
    ax.set_title("GPUs per pool: allocated, reserved, fragmented, free")
    _legend_below(ax)
    return ax


# ---------------------------------------------------------------- comparisons and sweeps


def metric_value(result: Result, metric: str) -> float:
    """``objective``, ``bound``, ``gap``, a KPI or a timing of ``result`` (NaN when absent)."""
    if metric in ("objective", "bound", "gap"):
        value = getattr(result, metric)
    else:
        value = result.kpis.get(metric, result.timings.get(metric))
    return float("nan") if value is None else float(value)


def compare(results: ResultSet, metric: str = "objective", *, ax: Axes | None = None,
            baseline: str | None = None) -> Axes:
    """One bar per result for ``metric`` (``objective``, a KPI such as ``gpu_utilization``, or a
    timing), labelled with its value and its change against ``baseline`` (default: the result
    whose method is greedy, else the first). For the objective, the proven bound of each solver
    result is drawn as a dashed tick over its bar (a heuristic's trivial bound is left out)."""
    named = _named(results)
    names = list(named)
    values = np.array([metric_value(r, metric) for r in named.values()])
    base = baseline if baseline is not None else next((n for n, r in named.items() if r.method == "greedy"), names[0])
    ax = ax if ax is not None else _new_axes(figsize=(1.5 + 1.3 * len(names), 3.6))
    x = np.arange(len(names))
    bars = ax.bar(x, values, color=[_series_color(i) for i in range(len(names))], width=0.6)
    ax.bar_label(bars, [_bar_text(v, values[names.index(base)], name == base) for name, v in zip(names, values)],
                 padding=2, fontsize="small")
    if metric == "objective":
        bounds = np.array([metric_value(r, "bound") if r.method != "greedy" else np.nan for r in named.values()])
        has = np.isfinite(bounds)
        if has.any():
            ax.hlines(bounds[has], x[has] - 0.35, x[has] + 0.35, colors=COLORS["bound"], linestyles="dashed",
                      label="bound")
            ax.legend(loc="upper left", fontsize="small")
    ax.set_xticks(x, names)
    ax.set_ylabel(metric)
    top = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    ax.set_ylim(min(0.0, np.nanmin(values) * 1.2) if np.isfinite(values).any() else 0, 1.2 * top or 1)
    ax.set_title(metric)
    return ax


def compare_kpis(results: ResultSet, metrics: Sequence[str] = ("objective", "gpu_utilization", "fragmented_gpus",
                                                              "placed_jobs"),
                 *, baseline: str | None = None, fig: Figure | None = None) -> Figure:
    """:func:`compare` for several metrics side by side, one panel each; returns the Figure."""
    fig = fig if fig is not None else plt.figure(figsize=(3.2 * len(metrics), 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        compare(results, metric, ax=ax, baseline=baseline)
    return fig


def sweep(frame: pd.DataFrame, x: str, y: str | Sequence[str] = "objective", *, hue: str | None = None,
          marks: Mapping[str, float] | None = None, ax: Axes | None = None) -> Axes:
    """Lines of ``y`` (one column or several) against ``x`` over the rows of ``frame``, e.g. the
    summary of ``solve_many`` joined with the swept parameters; ``hue`` draws one line per
    value of that column. Rows are sorted by ``x``. ``marks`` draws labelled vertical lines at
    given ``x`` values (e.g. ``{"default": 0.04}``)."""
    ys = [y] if isinstance(y, str) else list(y)
    ax = ax if ax is not None else _new_axes(figsize=(6, 3.6))
    groups = frame.groupby(hue, sort=True) if hue else [(None, frame)]
    for value, part in groups:
        part = part.sort_values(x)
        for column in ys:
            label = column if value is None else (f"{hue} = {value}" if len(ys) == 1 else f"{column}, {hue} = {value}")
            ax.plot(part[x], part[column], marker="o", label=label)
    for text, at in (marks or {}).items():
        ax.axvline(at, color="0.5", linestyle=":", linewidth=1, label="_mark")
        ax.annotate(text, (at, 1), xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
                    va="top", fontsize="small", color="0.35")
    ax.set_xlabel(x)
    ax.set_ylabel(ys[0] if len(ys) == 1 else "value")
    if hue or len(ys) > 1:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


# ---------------------------------------------------------------- schedules over a time grid
# Period t is drawn as the span [t, t+1) of the x axis, so that with a 1 h grid the axis reads
# in hours and a due time of d hours sits at d / period_hours.

TRAINING_CMAP = "Blues"
SERVICE_COLOR = "#fd8d3c"
NODES_ON_COLOR = "#252525"
DUE_COLOR = "#cb181d"
ENERGY_METRICS = ("energy_cost", "carbon_t", "peak_kw")
METRIC_LABELS = {"energy_cost": "energy cost", "carbon_t": "carbon (t)", "peak_kw": "peak (kW)"}


def energy_profile(result: Result, instance: Instance | None = None, *, ax: Axes | None = None) -> Axes:
    """Facility kW of each site per period (a step line), its grid limit dashed where the
    instance gives one, and the electricity price dotted on a twin Axes at the right (the one
    sibling of ``ax`` sharing its x axis). Lines come from ``result.energy``; ``instance`` only
    names the x axis (hours on a 1 h grid)."""
    result = _one_result(result, {"energy": ("site", "period", "facility_kw", "grid_limit_kw", "price_per_kwh")},
                         "energy_profile")
    energy = result.energy
    periods = _horizon(result, instance)
    ax = ax if ax is not None else _new_axes(figsize=(min(14, 5 + 0.08 * periods), 3.8))
    price_ax = ax.twinx()
    colors = _site_colors(result)
    for site, rows in energy.groupby("site", sort=False):
        rows = rows.sort_values("period")
        edges = np.append(rows.period.to_numpy(), rows.period.iloc[-1] + 1)
        ax.stairs(rows.facility_kw.to_numpy(float), edges, baseline=None, color=colors[site], linewidth=2,
                  label=f"{site}: facility kW")
        limit = rows.grid_limit_kw.to_numpy(float)
        if np.isfinite(limit).any():
            ax.stairs(limit, edges, baseline=None, color=colors[site], linestyle="--", label=f"{site}: grid limit")
        price_ax.stairs(rows.price_per_kwh.to_numpy(float), edges, baseline=None, color=colors[site], linestyle=":",
                        alpha=0.8, label=f"{site}: price")
    _time_axis(ax, instance, periods)
    ax.set_ylabel("facility power (kW)")
    price_ax.set_ylabel("electricity price per kWh (dotted)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Facility power, grid limit and price: {_result_label(result)}")
    handles, labels = (a + b for a, b in zip(ax.get_legend_handles_labels(), price_ax.get_legend_handles_labels()))
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(len(labels), 3),
              frameon=False, fontsize="small")
    return ax


def busy_gpus(result: Result) -> pd.DataFrame:
    """Busy GPUs per period (rows 0 .. the last period of the result's tables), one column per use:
    ``training (<power mode>)`` from ``result.placements`` (``full`` first) and ``services``
    from ``result.services``."""
    placements, services = result.placements, result.services
    periods = pd.RangeIndex(_horizon(result), name="period")
    modes = sorted(set(placements.power_mode), key=lambda m: (m != "full", m))
    training = placements.groupby(["power_mode", "period"]).gpus.sum()
    table = pd.DataFrame({f"training ({mode})": training[mode] for mode in modes}, index=periods)
    table["services"] = services.groupby("period").gpus.sum()
    return table.fillna(0).astype(int)


def gpu_use(result: Result, instance: Instance | None = None, *, ax: Axes | None = None) -> Axes:
    """Busy GPUs per period stacked by use (training jobs per power mode, then services; see
    :func:`busy_gpus`). With ``instance``, the GPUs of the nodes powered on (``result.nodes_on``
    times the instance's GPUs per node) are drawn as a dashed step line: the capacity the
    bars must fit in."""
    result = _one_result(result, {"placements": ("period", "gpus", "power_mode"), "services": ("period", "gpus"),
                                  "nodes_on": ("site", "gpu_type", "period", "nodes")}, "gpu_use")
    table = busy_gpus(result)
    ax = ax if ax is not None else _new_axes(figsize=(min(14, 5 + 0.08 * len(table)), 3.8))
    modes = [c for c in table.columns if c != "services"]
    shades = plt.get_cmap(TRAINING_CMAP)(np.linspace(0.85, 0.4, len(modes))) if modes else []
    colors = dict(zip(modes, shades), services=SERVICE_COLOR)
    bottom = np.zeros(len(table))
    for use in table.columns:
        ax.bar(table.index, table[use], width=1.0, align="edge", bottom=bottom, color=colors[use], label=use,
               edgecolor="white", linewidth=0.3)
        bottom += table[use].to_numpy(float)
    if instance is not None:
        on = gpus_on(result, instance).reindex(table.index, fill_value=0)
        ax.stairs(on.to_numpy(float), np.arange(len(on) + 1), baseline=None, color=NODES_ON_COLOR, linestyle="--",
                  label="GPUs of nodes on")
    _time_axis(ax, instance, _horizon(result, instance))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("GPUs")
    ax.set_title(f"Busy GPUs by use: {_result_label(result)}")
    _legend_below(ax)
    return ax


def gpus_on(result: Result, instance: Instance) -> pd.Series:
    """GPUs of the nodes powered on per period: ``result.nodes_on`` times the GPUs per node of
    ``instance.capacity`` (a later row of a (site, GPU type) wins, as in the index)."""
    per_node = {(r.site, r.gpu_type): r.gpus_per_node
                for r in sorted(instance.capacity, key=lambda r: r.period is not None)}
    on = result.nodes_on
    missing = sorted({(s, g) for s, g in zip(on.site, on.gpu_type)} - set(per_node))
    if missing:
        raise ValueError(f"instance '{instance.name}' has no capacity for site/GPU type "
                         f"{', '.join(f'{s}/{g}' for s, g in missing)} of the result's nodes_on")
    gpus = on.nodes.to_numpy(int) * np.array([per_node[s, g] for s, g in zip(on.site, on.gpu_type)], dtype=int)
    return pd.Series(gpus, index=on.period.to_numpy()).groupby(level=0).sum().rename_axis("period")


def job_runs(result: Result) -> pd.DataFrame:
    """``result.placements`` merged into runs: one row (job, site, first period, periods) per
    stretch of consecutive periods a job spends at one site. A split gang's rows of one period
    (several GPU types at a site, or several sites) count once per site."""
    rows = result.placements[["job", "site", "period"]].drop_duplicates().sort_values(["job", "site", "period"])
    new_run = ((rows.job != rows.job.shift()) | (rows.site != rows.site.shift())
               | (rows.period != rows.period.shift() + 1))
    runs = rows.groupby(new_run.cumsum().to_numpy()).agg(
        job=("job", "first"), site=("site", "first"), first=("period", "min"), periods=("period", "size"))
    return runs.reset_index(drop=True)


def job_timeline(result: Result, instance: Instance | None = None, *, max_jobs: int = 40,
                 ax: Axes | None = None) -> Axes:
    """A Gantt chart: one row per job (by start, jobs that never ran last; the first
    ``max_jobs``), a bar per run of periods at one site (see :func:`job_runs`) in the site's
    colour, and the due time as a red tick. Due times come from ``instance`` when given, else
    from the late jobs' finish minus tardiness (the only due times a Result holds)."""
    result = _one_result(result, {"placements": ("job", "site", "period"),
                                  "jobs": ("job", "state", "start", "finish", "tardiness_h")}, "job_timeline")
    jobs = result.jobs.sort_values("start", kind="stable", na_position="last")
    shown = jobs.head(max_jobs)
    row_of = {job: i for i, job in enumerate(shown.job)}
    runs = job_runs(result)
    runs = runs[runs.job.isin(row_of)]
    ax = ax if ax is not None else _new_axes(figsize=(9, 1.6 + 0.3 * len(shown)))
    for site, color in _site_colors(result).items():
        part = runs[runs.site == site]
        if len(part):
            ax.barh(part.job.map(row_of), part.periods, left=part["first"], height=0.7, color=color,
                    label=f"site {site}")
    due = _due_periods(result, instance).reindex(shown.job).to_numpy(float)
    y = np.arange(len(shown), dtype=float)
    has = np.isfinite(due)
    if has.any():
        ax.vlines(due[has], y[has] - 0.45, y[has] + 0.45, colors=DUE_COLOR, linewidth=2.5, label="due")
    ax.set_yticks(y, [_job_label(job) for job in shown.itertuples(index=False)])
    ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
    _time_axis(ax, instance, _horizon(result, instance))
    cut = f" (first {len(shown)} of {len(jobs)} jobs by start)" if len(shown) < len(jobs) else ""
    ax.set_title(f"Jobs over time: {_result_label(result)}{cut}")
    if ax.get_legend_handles_labels()[0]:  # no bars without jobs that ran
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return ax


def _due_periods(result: Result, instance: Instance | None) -> pd.Series:
    """Due time per job in periods (x-axis units)."""
    if instance is not None:
        h = instance.time.period_hours
        return pd.Series({job.id: job.due_h / h for job in instance.training_jobs if job.due_h is not None},
                         dtype=float)
    late = result.jobs[result.jobs.state == "late"].set_index("job")
    # A finished job ends with the end of its last period, so its finish in hours over that end
    # in periods is the period length.
    end = result.placements.groupby("job").period.max().reindex(late.index) + 1
    return (late.finish - late.tardiness_h) * end / late.finish


def _job_label(job) -> str:
    if job.state == "late":
        return f"{job.job}  late {job.tardiness_h:g} h"
    return job.job if job.state == "done" else f"{job.job}  {job.state}"


def compare_energy(results: ResultSet, metrics: Sequence[str] = ENERGY_METRICS, *, ax: Axes | None = None) -> Axes:
    """Grouped bars of schedule KPIs (energy cost, carbon in t, peak kW by default), one group
    per KPI and one bar per result (e.g. ``{"cost": a, "carbon": b}``). KPIs have different
    units, so a bar's height is its value over the largest magnitude of that KPI among the
    results; the label is the value itself."""
    named = _needing(results, {"energy": ()}, "compare_energy")   # the KPIs of a result with energy rows
    values = np.array([[metric_value(r, m) for m in metrics] for r in named.values()])
    largest = np.nanmax(np.abs(values), axis=0, initial=0.0)
    heights = values / np.where(largest > 0, largest, 1.0)
    ax = ax if ax is not None else _new_axes(figsize=(2 + 1.2 * len(metrics) * max(1, len(named) / 2), 3.8))
    x = np.arange(len(metrics), dtype=float)
    width = 0.8 / len(named)
    for i, name in enumerate(named):
        bars = ax.bar(x - 0.4 + width * (i + 0.5), heights[i], width=width * 0.9, color=_series_color(i), label=name)
        ax.bar_label(bars, [_bar_text(v, np.nan, True) for v in values[i]], padding=2, fontsize="small")
    ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in metrics])
    ax.set_ylabel("share of the largest result")
    ax.set_ylim(min(0.0, np.nanmin(heights, initial=0.0) * 1.2), 1.2)
    ax.set_title("Energy cost, carbon and peak power")
    _legend_below(ax)
    return ax


def _horizon(result: Result, instance: Instance | None = None) -> int:
    """Periods of the time grid: the instance's, else up to the last period any table of the
    result names."""
    if instance is not None:
        return instance.time.periods
    last = [getattr(result, spec.name).period.max() for spec in result.table_specs()
            if "period" in spec.columns and len(getattr(result, spec.name))]
    return int(max(last)) + 1 if last else 0


def _time_axis(ax: Axes, instance: Instance | None, periods: int) -> None:
    """The x axis over the whole grid, in whole periods, read as hours on a 1 h grid."""
    h = instance.time.period_hours if instance is not None else None
    ax.set_xlabel("period" if h is None else "hour" if h == 1 else f"period ({h:g} h each)")
    ax.set_xlim(0, max(periods, 1))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _site_colors(result: Result) -> dict:
    """One colour per site in the order of ``result.energy`` (then any other site placed), so
    that every schedule plot of a result colours a site alike."""
    sites = dict.fromkeys([*result.energy.site, *result.placements.site])
    return {site: _series_color(i) for i, site in enumerate(sites)}


def _one_result(result: Result, needs: Mapping[str, tuple[str, ...]], plot: str) -> Result:
    if not isinstance(result, Result):
        raise ValueError(f"{plot} draws one Result, not {type(result).__name__}")
    return next(iter(_needing(result, needs, plot).values()))


def _needing(results: ResultSet, needs: Mapping[str, tuple[str, ...]], plot: str) -> dict[str, Result]:
    """Results by display name (see :func:`_named`), each with a solution and, among the tables
    its problem declares, each table of ``needs`` with the columns given; ValueError naming the
    result and what it lacks otherwise. Columns count, not just names: every problem has its
    ``placements``, only some have a ``period`` in them."""
    named = _names(results)
    for name, result in named.items():
        declared = {spec.name: spec.columns for spec in result.table_specs()}
        missing = [table if table not in declared else
                   f"{table}({', '.join(c for c in columns if c not in declared[table])})"
                   for table, columns in needs.items()
                   if table not in declared or not set(columns) <= set(declared[table])]
        if missing:
            raise ValueError(f"{plot} needs {' and '.join(missing)}, which result '{name}' "
                             f"(problem {result.problem}) does not have")
        if not result.has_solution:
            raise ValueError(f"result '{name}' has no solution to plot (status {result.status})")
    return named


# ---------------------------------------------------------------- helpers


def _new_axes(figsize) -> Axes:
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _legend_below(ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=min(len(labels), 5),
              frameon=False, fontsize="small")


def _named(results: ResultSet, table: str | None = None) -> dict[str, Result]:
    """Results by display name: a mapping as given; a list named by method (and instance when
    they differ); a single Result by its method. With ``table``, every result must have it."""
    named = _names(results)
    for name, result in named.items():
        if table and not len(getattr(result, table)):
            raise ValueError(f"result '{name}' has no {table} to plot (status {result.status})")
    return named


def _names(results: ResultSet) -> dict[str, Result]:
    if isinstance(results, Result):
        return {results.method: results}
    if isinstance(results, Mapping):
        if not results:
            raise ValueError("no results to plot")
        return dict(results)
    results = list(results)
    if not results:
        raise ValueError("no results to plot")
    several = len({r.instance_name for r in results}) > 1
    named: dict[str, Result] = {}
    for r in results:
        name = f"{r.instance_name}\n{r.method}" if several else r.method
        base, k = name, 2
        while name in named:
            name, k = f"{base} ({k})", k + 1
        named[name] = r
    return named


def _result_label(result: Result) -> str:
    return f"{result.instance_name} ({result.method}, {result.status})"


def _series_color(i: int):
    return plt.get_cmap("tab10")(i % 10)


def _bar_text(value: float, base: float, is_base: bool) -> str:
    if not np.isfinite(value):
        return "-"
    text = f"{value:.3g}" if abs(value) < 1 else f"{value:,.4g}"
    if is_base or not np.isfinite(base) or base == 0:
        return text
    return f"{text}\n({(value - base) / abs(base):+.0%})"
