"""Nodes on and IT power (models/schedule.md, "Capacity and power"): the GPUs busy in each
(site, GPU type, period) fit on the nodes powered on, and the IT power they all draw, which
this block publishes as ``it_power_kw[site, period]`` for the energy (and heat) blocks.

Capacity is an equality with the idle GPUs ``free[s, g, t]`` on the nodes that are on:
busy + free = C * nodes_on. It is written for the first period as is and for every later
period as its difference with the period before ("capacity flow"): an occupancy then appears
only in the period it starts and the period after it ends, which keeps a contiguous run's
begin binary at two nonzeros and the LP's rows few (one per site, type and period).

Per (s, g, t): busy GPUs draw their job's or service's power, idle GPUs on nodes that are on
draw idle power, each node on draws its idle non-GPU power plus the busy share of the rest.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo


def add_nodes(built) -> None:
    idx, m = built.index, built.model
    keys = [(s, g, t) for s, g in idx.pairs for t in idx.period_range]
    m.capacity_keys = pyo.Set(initialize=keys, dimen=3, doc="(site, GPU type, period)")
    m.nodes_on = pyo.Var(m.capacity_keys, within=pyo.NonNegativeIntegers, doc="nodes powered on",
                         bounds=lambda m, s, g, t: (0 if idx.power_off[s] else idx.cap_nodes[s, g, t],
                                                    idx.cap_nodes[s, g, t]))
    m.free = pyo.Var(m.capacity_keys, within=pyo.NonNegativeReals, doc="idle GPUs on the nodes that are on")

    starting, ending = defaultdict(list), defaultdict(list)   # (s, g, t) -> occupancies starting / ended the period before
    active = defaultdict(list)                                # (s, t) -> occupancies running in t (for power)
    for (s, g), occupancies in built.job_use.items():
        for occ in occupancies:
            starting[s, g, occ.first].append(occ)
            ending[s, g, occ.last + 1].append(occ)
            for t in range(occ.first, occ.last + 1):
                active[s, g, t].append(occ)

    def balance(m, s, g, t):
        gpn = idx.gpus_per_node[s, g]
        change = sum(o.gpus * o.var for o in starting[s, g, t]) - sum(o.gpus * o.var for o in ending[s, g, t])
        if t == 0:
            return change + m.free[s, g, t] == gpn * m.nodes_on[s, g, t]
        return change + m.free[s, g, t] - m.free[s, g, t - 1] == gpn * (m.nodes_on[s, g, t] - m.nodes_on[s, g, t - 1])
    m.gpu_balance = pyo.Constraint(m.capacity_keys, rule=balance,
                                   doc="busy plus idle GPUs fill the nodes on (as a change from the period before)")

    it_kw = defaultdict(float)
    for s, g, t in keys:
        gpn, extra = idx.gpus_per_node[s, g], idx.node_busy_extra_kw[s]
        jobs = sum(o.gpu_kw * o.var for o in active[s, g, t] if o.gpu_kw)
        # idle GPUs draw idle power; every node on its idle non-GPU power plus the busy share of the rest
        it_kw[s, t] = it_kw[s, t] + jobs + (idx.idle_kw[g] - extra / gpn) * m.free[s, g, t] \
            + (idx.node_idle_kw[s] + extra) * m.nodes_on[s, g, t]
    built.publish("it_power_kw", dict(it_kw))

    woken = [(s, g, t) for s, g, t in keys if idx.wake_cost[s] > 0]
    m.wake_keys = pyo.Set(initialize=woken, dimen=3, doc="(site, GPU type, period) where waking a node costs")
    m.woken = pyo.Var(m.wake_keys, within=pyo.NonNegativeReals, doc="nodes powered on since the period before")
    m.wake_def = pyo.Constraint(
        m.wake_keys, doc="nodes woken: the rise of nodes on",
        rule=lambda m, s, g, t: m.woken[s, g, t] >= m.nodes_on[s, g, t]
        - (m.nodes_on[s, g, t - 1] if t else idx.initial_on[s, g]))
    built.add_term("wake_cost", sum(idx.wake_cost[s] * m.woken[s, g, t] for s, g, t in woken))
