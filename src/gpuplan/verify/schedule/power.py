"""GPUs in use and power per (site, GPU type, period), by the power model of
:mod:`gpuplan.instance.schedule`:

    it_kw[s,t] = sum_g ( job GPUs * power_w * power_fraction(mode)
                       + service GPUs * (idle_w + utilization * (power_w - idle_w))
                       + (nodes_on * gpn - busy) * idle_w
                       + nodes_on * node_idle_w + busy / gpn * (node_busy_w - node_idle_w) ) / 1000
    facility_kw[s,t] = PUE[s,t] * it_kw[s,t]

Sums over rows are ``np.bincount`` over the flat (site, type, period) cell, so the cost grows
with the rows, not with GPUs x periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decisions import Decisions
from .facts import ScheduleFacts


@dataclass(frozen=True, eq=False)
class Power:
    job_gpus: np.ndarray  # [site, type, period]
    service_gpus: np.ndarray  # [site, type, period]
    nodes_on: np.ndarray  # [site, type, period]
    it_kw: np.ndarray  # [site, period]
    facility_kw: np.ndarray  # [site, period]

    @property
    def busy(self) -> np.ndarray:
        return self.job_gpus + self.service_gpus


def cell_sum(facts: ScheduleFacts, site, gpu_type, period, weights) -> np.ndarray:
    """sum of ``weights`` per (site, type, period) cell, as a [site, type, period] array."""
    S, G, T = len(facts.sites), len(facts.gpu_types), facts.periods
    cells = (site * G + gpu_type) * T + period
    sums = np.bincount(cells, weights=np.asarray(weights, dtype=float), minlength=S * G * T)
    return sums.astype(float).reshape(S, G, T)  # float even without rows


def site_power(facts: ScheduleFacts, d: Decisions) -> Power:
    power_w, idle_w = facts.power_w, facts.idle_w
    job_gpus = cell_sum(facts, d.site, d.gpu_type, d.period, d.gpus)
    job_w = cell_sum(facts, d.site, d.gpu_type, d.period,
                     d.gpus * power_w[d.gpu_type] * facts.power_fraction[d.mode])
    g = d.service_type
    serving_w = idle_w[g] + facts.utilization[d.service] * (power_w[g] - idle_w[g])
    service_gpus = cell_sum(facts, d.service_site, g, d.service_period, d.service_gpus)
    service_w = cell_sum(facts, d.service_site, g, d.service_period, d.service_gpus * serving_w)
    busy = job_gpus + service_gpus
    on = d.nodes_on.astype(float)
    gpn = facts.gpn[:, :, None].astype(float)
    # a (site, type) without nodes has gpn 0: its busy GPUs break capacity and add no node power
    busy_share = np.divide(busy, gpn, out=np.zeros_like(busy), where=gpn > 0)
    node_w = (on * facts.node_idle_w[:, None, None]
              + busy_share * (facts.node_busy_w - facts.node_idle_w)[:, None, None])
    idle_gpus_w = (on * gpn - busy) * idle_w[None, :, None]
    it_kw = (job_w + service_w + idle_gpus_w + node_w).sum(axis=1) / 1000.0
    return Power(job_gpus=job_gpus, service_gpus=service_gpus, nodes_on=d.nodes_on, it_kw=it_kw,
                 facility_kw=facts.pue * it_kw)


def wakes(facts: ScheduleFacts, nodes_on: np.ndarray) -> np.ndarray:
    """[site, type, period] nodes powered on at the start of each period: max(0, on[t] - on[t-1]),
    with on[-1] = cap_nodes[.., 0] when options.initial_nodes_on is "all", else 0."""
    before = facts.cap_nodes[:, :, :1] if facts.initial_nodes_on == "all" else np.zeros_like(nodes_on[:, :, :1])
    return np.maximum(0, np.diff(nodes_on, axis=2, prepend=before))
