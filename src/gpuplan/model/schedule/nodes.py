"""Nodes on and IT power (models/schedule.md, "Capacity and power"): the GPUs busy in each
(site, GPU type, period) fit on the nodes powered on, and the IT power they all draw, which
this block publishes as ``it_power_kw[site, period]`` for the energy (and heat) blocks.

Per (s, g, t): busy GPUs draw their job's or service's power, idle GPUs on nodes that are on
draw idle power, each node on draws its idle non-GPU power plus the busy share of the rest.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo


def add_nodes(built) -> None:
    idx, m = built.index, built.model
    use = built.job_use
    keys = [(s, g, t) for s, g in idx.pairs for t in idx.period_range]
    m.capacity_keys = pyo.Set(initialize=keys, dimen=3, doc="(site, GPU type, period)")
    m.nodes_on = pyo.Var(m.capacity_keys, within=pyo.NonNegativeIntegers, doc="nodes powered on",
                         bounds=lambda m, s, g, t: (0 if idx.power_off[s] else idx.cap_nodes[s, g, t],
                                                    idx.cap_nodes[s, g, t]))

    def busy(s, g, t):
        return sum(gpus * expr for gpus, _, expr in use.get((s, g, t), ()))

    m.gpu_capacity = pyo.Constraint(
        m.capacity_keys, doc="busy GPUs fit on the nodes that are on",
        rule=lambda m, s, g, t: busy(s, g, t) <= idx.gpus_per_node[s, g] * m.nodes_on[s, g, t]
        if use.get((s, g, t)) else pyo.Constraint.Skip)

    it_kw = defaultdict(float)
    for s, g, t in keys:
        gpn, idle = idx.gpus_per_node[s, g], idx.idle_kw[g]
        drawn = sum((kw - gpus * idle + gpus * idx.node_busy_extra_kw[s] / gpn) * expr
                    for gpus, kw, expr in use.get((s, g, t), ()))
        it_kw[s, t] = it_kw[s, t] + drawn + (gpn * idle + idx.node_idle_kw[s]) * m.nodes_on[s, g, t]
    built.publish("it_power_kw", dict(it_kw))

    woken = [(s, g, t) for s, g, t in keys if idx.wake_cost[s] > 0]
    m.wake_keys = pyo.Set(initialize=woken, dimen=3, doc="(site, GPU type, period) where waking a node costs")
    m.woken = pyo.Var(m.wake_keys, within=pyo.NonNegativeReals, doc="nodes powered on since the period before")
    m.wake_def = pyo.Constraint(
        m.wake_keys, doc="nodes woken: the rise of nodes on",
        rule=lambda m, s, g, t: m.woken[s, g, t] >= m.nodes_on[s, g, t]
        - (m.nodes_on[s, g, t - 1] if t else idx.initial_on[s, g]))
    built.add_term("wake_cost", sum(idx.wake_cost[s] * m.woken[s, g, t] for s, g, t in woken))
