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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

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
