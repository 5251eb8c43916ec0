"""Sequence local search for the schedule's non-preemptible jobs: a better MIP start than the
LP-guided rounding's list schedule.

A plan is coded as a job sequence; the decoder places each job, in sequence order, at the
earliest start that fits the free-GPU tracker of its (site, GPU type) on the option where it
costs least (earliest start first, as ``rounding._place_contiguous``): a list schedule, so
every plan it decodes respects capacity and windows. The surrogate is the jobs' own share of
the objective (tardiness, minus job value under ``cost``), energy left out. From the best
LP order, first-improvement sweeps of adjacent interchange and insertion (forward and back)
reach a local optimum; seeded random interchanges then kick it and the search goes on from
the best (iterated local search), within a small time budget.

A move changes positions lo..hi only, so it is valued from the tracker kept before lo, and
its decoding stops once, past hi, the tracker equals the kept one: the rest of the plan is
then the same (on one machine an interchange costs two placements, not n).

``SequenceProblem`` and ``SequenceSearch`` are numpy only; ``searched_rounding`` is the thin
adapter that reads the index and sets the Pyomo begin binaries, as ``rounding.py`` does.
HiGHS then completes the plan and the verifier values it: nothing here is trusted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ...index.schedule import ScheduleIndex

# Of the time left after the LP: the search finds better plans than the MIP search does from the
# rounding (wt40), but the MIP still needs time to prove them.
BUDGET_SHARE = 0.3
BUDGET_MAX_S = 10.0
MAX_TRACKER_CELLS = 20_000_000   # (jobs + 1) x pools x periods kept: skip the search beyond
STALL_KICKS = 40           # kicks without a new best before the search stops
IMPROVE_TOL = 1e-9


@dataclass
class JobOptionArrays:
    """One way to run one job: ``gpus`` GPUs of pool ``row`` for ``duration`` periods from any
    start where ``allowed`` is True (length periods - duration + 1); ``cost[t]`` is the
    surrogate value of the run started at t."""

    option: int
    row: int
    gpus: float
    duration: int
    allowed: np.ndarray
    cost: np.ndarray


@dataclass
class SequenceProblem:
    """The jobs as arrays: ``capacity[row, t]`` free GPUs, per job its options, whether it must
    finish and the surrogate of leaving it out (0, or ``penalty`` when required)."""

    capacity: np.ndarray
    options: list[list[JobOptionArrays]]
    required: list[bool]
    penalty: float

    @property
    def jobs(self) -> int:
        return len(self.options)


class SequenceSearch:
    """The decoder, the surrogate and the moves on one problem; ``sequence``, ``placements``
    (per job: (option, start) or None) and ``value`` hold the current plan."""

    def __init__(self, problem: SequenceProblem, sequence, seed: int = 0):
        self.problem = problem
        self.rng = np.random.default_rng(seed)
        self.sequence = list(sequence)
        self.evaluations = 0
        self._adopt(self.sequence, 0)

    # ---------------------------------------------------------------- decoder

    def place(self, job: int, free: np.ndarray):
        """Place ``job`` on ``free`` (changed in place): (its surrogate, (option, start) or None)."""
        problem = self.problem
        best = None
        for arrays in problem.options[job]:
            p = arrays.duration
            fits = free[arrays.row] >= arrays.gpus - 1e-9
            window = np.concatenate(([0], np.cumsum(fits)))
            runs = (window[p:] - window[:-p]) == p
            ok = np.flatnonzero(runs & arrays.allowed)
            if ok.size == 0:
                continue
            t = int(ok[0])   # tardiness never falls with a later finish: the earliest start is the best
            key = (arrays.cost[t], t + p, arrays.option)
            if best is None or key < best[0]:
                best = (key, arrays, t)
        if best is None:
            return (problem.penalty if problem.required[job] else 0.0), None
        (value, _, _), arrays, t = best
        if not problem.required[job] and value >= 0:   # an optional job only where it pays
            return 0.0, None
        free[arrays.row, t:t + arrays.duration] -= arrays.gpus
        return float(value), (arrays.option, t)

    def decode(self, sequence) -> tuple[float, list]:
        """The whole plan of ``sequence``: (surrogate, placements by job)."""
        free = self.problem.capacity.copy()
        placements, total = [None] * self.problem.jobs, 0.0
        for job in sequence:
            value, placements[job] = self.place(job, free)
            total += value
        return total, placements

    def _adopt(self, sequence, lo: int) -> None:
        """Make ``sequence`` current, re-decoding from position ``lo`` (the trackers before it stand)."""
        if lo == 0:
            self.trackers = [self.problem.capacity.copy()]
            self.prefix = [0.0]
            self.placements = [None] * self.problem.jobs
        else:
            del self.trackers[lo + 1:], self.prefix[lo + 1:]
        free = self.trackers[lo].copy()
        for job in sequence[lo:]:
            value, self.placements[job] = self.place(job, free)
            self.trackers.append(free.copy())
            self.prefix.append(self.prefix[-1] + value)
        self.sequence = list(sequence)
        self.value = self.prefix[-1]

    def value_of(self, sequence, lo: int, hi: int) -> float:
        """The surrogate of ``sequence``, which differs from the current one in positions lo..hi only."""
        self.evaluations += 1
        free = self.trackers[lo].copy()
        total = self.prefix[lo]
        n = len(sequence)
        for k in range(lo, n):
            value, _ = self.place(sequence[k], free)
            total += value
            if k >= hi and np.array_equal(free, self.trackers[k + 1]):
                return total + self.prefix[n] - self.prefix[k + 1]
        return total

    # ---------------------------------------------------------------- moves

    def _try(self, candidate, lo: int, hi: int) -> bool:
        if self.value_of(candidate, lo, hi) < self.value - IMPROVE_TOL:
            self._adopt(candidate, lo)
            return True
        return False

    def interchange_sweep(self, deadline: float) -> bool:
        """Adjacent pairwise interchanges, first improvement; True when one improved."""
        improved = False
        for i in range(len(self.sequence) - 1):
            if time.perf_counter() > deadline:
                break
            s = self.sequence
            candidate = s[:i] + [s[i + 1], s[i]] + s[i + 2:]
            improved |= self._try(candidate, i, i + 1)
        return improved

    def insertion_sweep(self, deadline: float) -> bool:
        """Each job moved to every other position (forward and backward), first improvement."""
        improved = False
        n = len(self.sequence)
        for i in range(n):
            for j in range(n):
                if abs(i - j) < 2:   # no move, or an adjacent interchange (the other sweep's)
                    continue
                if time.perf_counter() > deadline:
                    return improved
                s = self.sequence
                rest = s[:i] + s[i + 1:]
                candidate = rest[:j] + [s[i]] + rest[j:]
                improved |= self._try(candidate, min(i, j), max(i, j))
        return improved

    def local_optimum(self, deadline: float) -> None:
        while time.perf_counter() <= deadline:
            while self.interchange_sweep(deadline):
                pass
            if not self.insertion_sweep(deadline):
                break

    def kick(self, swaps: int = 3) -> None:
        """A few random interchanges of any two positions (the iterated search's perturbation)."""
        s = list(self.sequence)
        for _ in range(swaps):
            i, j = self.rng.choice(len(s), size=2, replace=False)
            s[i], s[j] = s[j], s[i]
        self._adopt(s, 0)

    def run(self, seconds: float, stall_kicks: int = STALL_KICKS) -> float:
        """Local search, then kicks from the best until ``stall_kicks`` in a row bring nothing
        new or ``seconds`` pass; leaves the best plan current and returns its surrogate."""
        deadline = time.perf_counter() + seconds
        self.local_optimum(deadline)
        best = (self.value, list(self.sequence))
        stalled = 0
        while len(self.sequence) > 2 and stalled < stall_kicks and time.perf_counter() <= deadline:
            self.kick()
            self.local_optimum(deadline)
            if self.value < best[0] - IMPROVE_TOL:
                best, stalled = (self.value, list(self.sequence)), 0
            else:
                stalled += 1
                self._adopt(best[1], 0)
        if self.value != best[0]:
            self._adopt(best[1], 0)
        return self.value


# ------------------------------------------------------------------ the adapter


def search_seconds(remaining_s: float | None) -> float:
    """The search's share of the time left: min(30% of it, 10 s)."""
    return BUDGET_MAX_S if remaining_s is None else min(BUDGET_SHARE * remaining_s, BUDGET_MAX_S)


def sequence_problem(built, weights: dict[str, float], sense: str) -> SequenceProblem | None:
    """The jobs of ``built`` as a SequenceProblem, or None when the search does not apply:
    some job is preemptible, no job term counts in the objective, or the trackers would be too big."""
    idx: ScheduleIndex = built.index
    if not idx.jobs or any(job.preemptible for job in idx.jobs):
        return None
    w_tardiness, w_value = weights.get("tardiness_cost", 0.0), weights.get("job_value", 0.0)
    if not (w_tardiness or w_value):
        return None
    rows, periods = len(idx.pairs), idx.periods
    if (len(idx.jobs) + 1) * rows * periods > MAX_TRACKER_CELLS or periods == 0:
        return None
    sign = 1.0 if sense == "min" else -1.0    # the surrogate is always minimised
    pair = {key: i for i, key in enumerate(idx.pairs)}
    capacity = np.array([[idx.cap_gpus(s, g, t) for t in idx.period_range] for s, g in idx.pairs], dtype=float)
    options, worst = [], 0.0
    for job in idx.jobs:
        listed = []
        for o, option in enumerate(job.options):
            p = job.duration(option)
            starts = built.contiguous_starts.get((job.id, o), ())
            if (option.site, option.gpu_type) not in pair or p > periods or not starts:
                continue
            allowed = np.zeros(periods - p + 1, dtype=bool)
            cost = np.zeros(periods - p + 1)
            for t in starts:
                allowed[t] = True
                cost[t] = sign * (w_tardiness * job.finish_cost[t + p - 1] + w_value * job.value)
            worst += float(np.abs(cost).max())
            listed.append(JobOptionArrays(o, pair[option.site, option.gpu_type], float(option.gpus), p, allowed, cost))
        options.append(listed)
    return SequenceProblem(capacity, options, [job.required for job in idx.jobs], penalty=10.0 * worst + 1e6)


def searched_rounding(built, lp: dict[int, float], orders, weights: dict[str, float], sense: str,
                      seconds: float, seed: int = 0) -> int | None:
    """Set the begin binaries of ``built`` to the plan of the locally searched job sequence,
    started from the best of the LP ``orders`` (every other variable to None, as lp_rounding
    does); the number of jobs placed, or None (variables untouched) when the search does not apply."""
    problem = sequence_problem(built, weights, sense)
    if problem is None:
        return None
    idx: ScheduleIndex = built.index
    starts = []
    for order in orders:
        sequence = sorted(range(problem.jobs), key=lambda k: order(built, idx.jobs[k], lp))
        search = SequenceSearch(problem, sequence, seed)
        starts.append((search.value, len(starts), search))
    search = min(starts, key=lambda s: s[:2])[2]
    search.run(seconds)
    m = built.model
    for var in m.component_data_objects(pyo.Var, active=True):
        var.set_value(None, skip_validation=True)
    for var in m.begin.values():
        var.set_value(0, skip_validation=True)
    placed = 0
    for k, job in enumerate(idx.jobs):
        if search.placements[k] is not None:
            o, t = search.placements[k]
            m.begin[job.id, o, t].set_value(1, skip_validation=True)
            placed += 1
    return placed
