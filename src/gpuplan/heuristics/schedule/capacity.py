"""Free GPUs and facility power per (site, GPU type, period) while a plan is being built.

The power is the schedule's power model (models/schedule.md, Power), cell by cell:

    it_kw[s,g,t] = board_kw + (gpus_per_node * on - busy) * idle_kw[g]
                   + on * node_idle_kw[s] + busy / gpus_per_node * node_busy_extra_kw[s]

with ``on`` all the nodes where nodes cannot be powered off, else ceil(busy / gpus_per_node);
``board_kw`` sums the job and service GPUs' board power. Facility power is PUE x the site's sum
over GPU types, and must stay within the grid limit wherever the energy data give one.
"""

from __future__ import annotations

import numpy as np

from ...index.schedule import ScheduleIndex

GRID_SLACK = 1e-9   # relative slack on the grid limit: float noise only, well inside the verifier's 1e-6


class CapacityTracker:
    def __init__(self, idx: ScheduleIndex):
        self.sites = list(idx.sites)
        self.gpu_types = sorted({g for _, g in idx.pairs})
        self.site_of = {s: i for i, s in enumerate(self.sites)}
        self.type_of = {g: i for i, g in enumerate(self.gpu_types)}
        S, G, T = len(self.sites), len(self.gpu_types), idx.periods
        self.periods = T
        self.gpn = np.zeros((S, G), dtype=np.int64)
        self.cap_nodes = np.zeros((S, G, T), dtype=np.int64)
        for s, g in idx.pairs:
            i, k = self.site_of[s], self.type_of[g]
            self.gpn[i, k] = idx.gpus_per_node[s, g]
            self.cap_nodes[i, k] = [idx.cap_nodes[s, g, t] for t in range(T)]
        self.idle_kw = np.array([idx.idle_kw[g] for g in self.gpu_types])
        self.node_idle_kw = np.array([idx.node_idle_kw[s] for s in self.sites])
        self.node_busy_extra_kw = np.array([idx.node_busy_extra_kw[s] for s in self.sites])
        self.power_off = np.array([idx.power_off[s] for s in self.sites])
        energy = idx.energy
        self.pue = np.array([[energy.pue[s, t] for t in range(T)] for s in self.sites])
        self.grid_limit_kw = np.array([[energy.grid_limit_kw.get((s, t), np.inf) for t in range(T)]
                                       for s in self.sites])
        self.busy = np.zeros((S, G, T), dtype=np.int64)
        self.board_kw = np.zeros((S, G, T))
        self.site_it_kw = np.zeros((S, T))
        for i in range(S):
            for k in range(G):
                self.site_it_kw[i] += self._cell_it_kw(i, k, self.busy[i, k], self.board_kw[i, k])

    # ---------------------------------------------------------------- reading

    def free(self, site: str, gpu_type: str) -> np.ndarray:
        """Free GPUs per period."""
        i, k = self.site_of[site], self.type_of[gpu_type]
        return self.cap_nodes[i, k] * self.gpn[i, k] - self.busy[i, k]

    def fits(self, site: str, gpu_type: str, gpus: int, gpu_kw: float) -> np.ndarray:
        """Per period: ``gpus`` more GPUs drawing ``gpu_kw`` in all fit the free GPUs and the grid limit."""
        i, k = self.site_of[site], self.type_of[gpu_type]
        room = self.free(site, gpu_type) >= gpus
        return room & (self._facility_with(i, k, gpus, gpu_kw) <= self._limit(i))

    def nodes_on(self, site: str, gpu_type: str) -> np.ndarray:
        i, k = self.site_of[site], self.type_of[gpu_type]
        return self._on(i, k, self.busy[i, k])

    def over_limit(self) -> list[tuple[str, int, float, float]]:
        """(site, period, facility kW, limit kW) wherever the plan so far already draws too much."""
        facility = self.pue * self.site_it_kw
        bad = np.argwhere(facility > self._limits())
        return [(self.sites[i], int(t), float(facility[i, t]), float(self.grid_limit_kw[i, t])) for i, t in bad]

    def marginal_kw(self, site: str, gpu_type: str, gpu_kw_each: float) -> float:
        """IT power one more busy GPU adds: its board power instead of an idle GPU where nodes stay on,
        its board power plus its share of a woken node where nodes power off."""
        i, k = self.site_of[site], self.type_of[gpu_type]
        gpn = self.gpn[i, k]
        if self.power_off[i]:
            return gpu_kw_each + (self.node_idle_kw[i] + self.node_busy_extra_kw[i]) / gpn
        return gpu_kw_each - self.idle_kw[k] + self.node_busy_extra_kw[i] / gpn

    # ---------------------------------------------------------------- writing

    def add(self, site: str, gpu_type: str, periods, gpus: int, gpu_kw: float) -> None:
        """Take ``gpus`` GPUs drawing ``gpu_kw`` in all in each of ``periods``."""
        i, k = self.site_of[site], self.type_of[gpu_type]
        periods = np.asarray(periods, dtype=np.int64)
        before = self._cell_it_kw(i, k, self.busy[i, k], self.board_kw[i, k])
        self.busy[i, k, periods] += gpus
        self.board_kw[i, k, periods] += gpu_kw
        self.site_it_kw[i] += self._cell_it_kw(i, k, self.busy[i, k], self.board_kw[i, k]) - before

    # ---------------------------------------------------------------- power

    def _on(self, i: int, k: int, busy: np.ndarray) -> np.ndarray:
        if self.power_off[i]:
            return -(-busy // max(1, self.gpn[i, k]))   # ceil without floats
        return self.cap_nodes[i, k]

    def _cell_it_kw(self, i: int, k: int, busy: np.ndarray, board_kw: np.ndarray) -> np.ndarray:
        gpn = self.gpn[i, k]
        on = self._on(i, k, busy)
        return (board_kw + (gpn * on - busy) * self.idle_kw[k] + on * self.node_idle_kw[i]
                + busy / max(1, gpn) * self.node_busy_extra_kw[i])

    def _facility_with(self, i: int, k: int, gpus: int, gpu_kw: float) -> np.ndarray:
        busy, board = self.busy[i, k], self.board_kw[i, k]
        change = self._cell_it_kw(i, k, busy + gpus, board + gpu_kw) - self._cell_it_kw(i, k, busy, board)
        return self.pue[i] * (self.site_it_kw[i] + change)

    def _limit(self, i: int) -> np.ndarray:
        return self._limits()[i]

    def _limits(self) -> np.ndarray:
        return self.grid_limit_kw + GRID_SLACK * np.maximum(1.0, np.abs(self.grid_limit_kw))
