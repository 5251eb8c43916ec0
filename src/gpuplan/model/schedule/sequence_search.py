"""Sequence local search for the schedule's non-preemptible jobs: a better MIP start than the
LP-guided rounding's list schedule.

A plan is coded as a job sequence; the decoder places each job, in sequence order, at the
earliest start that fits the free-GPU tracker of its (site, GPU type) on the option where it
costs least (earliest start first, as ``rounding._place_contiguous``): a list schedule, so
every plan it decodes respects capacity and windows. The surrogate is the jobs' own share of
the objective (tardiness, minus job value under ``cost``), energy left out. From the best
LP order, first improvement over each job's moves (insertion at any other position, forward
or back, and interchange with the job there; nearest positions first) reaches a local optimum;
seeded random interchanges of nearby jobs then kick it and the search goes on from the best
(iterated local search), within a small time budget. A job whose moves all fail is not tried
again until a move or a kick near it (don't-look bits): after a kick only the kicked region is
searched.

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

    def __post_init__(self):
        self.first = int(self.allowed.argmax())   # the first allowed start


@dataclass
class SequenceProblem:
    """The jobs as arrays: ``capacity[row, t]`` free GPUs, per job its options, whether it must
    finish and the surrogate of leaving it out (0, or ``penalty`` when required)."""

    capacity: np.ndarray
    options: list[list[JobOptionArrays]]
    required: list[bool]
    penalty: float

    def __post_init__(self):
        # the least surrogate each job can have anywhere: a bound on what the jobs left can add
        self.least = [min([float(a.cost[a.allowed].min()) for a in listed]
                          + ([] if required else [0.0]), default=self.penalty if required else 0.0)
                      for listed, required in zip(self.options, self.required)]

    @property
    def jobs(self) -> int:
        return len(self.options)


def _earliest_start(free_row: np.ndarray, arrays: JobOptionArrays) -> int | None:
    """The earliest allowed start where ``arrays.gpus`` stay free for the whole run (tardiness
    never falls with a later finish, so it is also the cheapest). The first free period from the
    first allowed start is tried first: in a list schedule it is nearly always the answer."""
    need, p = arrays.gpus - 1e-9, arrays.duration
    fits = free_row[arrays.first:] >= need
    t = arrays.first + int(fits.argmax())
    if not fits[t - arrays.first] or t >= len(arrays.allowed):
        return None
    if arrays.allowed[t] and free_row[t:t + p].min() >= need:
        return t
    fits = fits[t - arrays.first:]
    window = np.concatenate(([0], np.cumsum(fits)))
    ok = np.flatnonzero(((window[p:] - window[:-p]) == p) & arrays.allowed[t:])
    return t + int(ok[0]) if ok.size else None


class SequenceSearch:
    """The decoder, the surrogate and the moves on one problem; ``sequence``, ``placements``
    (per job: (option, start) or None) and ``value`` hold the current plan."""

    def __init__(self, problem: SequenceProblem, sequence, seed: int = 0):
        self.problem = problem
        self.rng = np.random.default_rng(seed)
        self.sequence = list(sequence)
        self.evaluations, self.kicks, self.best_after_s = 0, 0, 0.0   # for the record
        self.marked = set(self.sequence)   # jobs whose moves are still to be tried
        self._adopt(self.sequence, 0)

    # ---------------------------------------------------------------- decoder

    def place(self, job: int, free: np.ndarray):
        """Place ``job`` on ``free`` (changed in place): (its surrogate, (option, start) or None)."""
        problem = self.problem
        best = None
        for arrays in problem.options[job]:
            t = _earliest_start(free[arrays.row], arrays)
            if t is None:
                continue
            p = arrays.duration
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
        least = self.problem.least
        self.least_left = np.cumsum([0.0] + [least[job] for job in reversed(sequence)])[::-1].tolist()

    def value_of(self, sequence, lo: int, hi: int) -> float:
        """The surrogate of ``sequence``, which differs from the current one in positions lo..hi
        only; inf as soon as it cannot beat the current value (each job left costs at least its
        ``least``)."""
        self.evaluations += 1
        free = self.trackers[lo].copy()
        total, left = self.prefix[lo], self.least_left[lo]
        n, least = len(sequence), self.problem.least
        for k in range(lo, n):
            value, _ = self.place(sequence[k], free)
            total += value
            left -= least[sequence[k]]
            if total + left >= self.value - IMPROVE_TOL:
                return float("inf")
            if k >= hi and np.array_equal(free, self.trackers[k + 1]):
                return total + self.prefix[n] - self.prefix[k + 1]
        return total

    # ---------------------------------------------------------------- moves

    def _try(self, candidate, lo: int, hi: int) -> bool:
        if self.value_of(candidate, lo, hi) < self.value - IMPROVE_TOL:
            self._adopt(candidate, lo)
            return True
        return False

    def moves_of(self, i: int):
        """The moves of the job at position ``i``, nearest first: to position j by insertion, and
        by interchange with the job there (the same move when adjacent); (candidate, lo, hi) each."""
        s, n = self.sequence, len(self.sequence)
        for d in range(1, n):
            for j in (i - d, i + d):
                if not 0 <= j < n:
                    continue
                lo, hi = min(i, j), max(i, j)
                rest = s[:i] + s[i + 1:]
                yield rest[:j] + [s[i]] + rest[j:], lo, hi
                if d > 1:
                    swapped = list(s)
                    swapped[i], swapped[j] = s[j], s[i]
                    yield swapped, lo, hi

    def local_optimum(self, deadline: float) -> None:
        """First improvement over the moves of the jobs still marked (don't-look bits): a job
        whose moves all fail is unmarked; one that moves marks itself and its old and new
        neighbours, so after a kick only the kicked region is searched again."""
        while self.marked and time.perf_counter() <= deadline:
            for job in [job for job in self.sequence if job in self.marked]:
                if time.perf_counter() > deadline:
                    return
                i = self.sequence.index(job)
                for candidate, lo, hi in self.moves_of(i):
                    if self._try(candidate, lo, hi):
                        self._mark_around(i)
                        self._mark_around(self.sequence.index(job))
                        break
                else:
                    self.marked.discard(job)

    def _mark_around(self, i: int) -> None:
        self.marked.update(self.sequence[max(0, i - 1):i + 2])

    def kick(self, swaps: int = 3, reach: int = 6) -> None:
        """A few random interchanges of jobs at most ``reach`` positions apart (the iterated
        search's perturbation); marks the jobs around them."""
        s, n = list(self.sequence), len(self.sequence)
        moved = []
        for _ in range(swaps):
            i = int(self.rng.integers(n))
            j = min(n - 1, max(0, i + int(self.rng.integers(-reach, reach + 1))))
            s[i], s[j] = s[j], s[i]
            moved += [i, j]
        self._adopt(s, min(moved))
        for i in moved:
            self._mark_around(i)

    def run(self, seconds: float, stall_kicks: int = STALL_KICKS) -> float:
        """Local search, then kicks from the best until ``stall_kicks`` in a row bring nothing
        new or ``seconds`` pass; leaves the best plan current and returns its surrogate."""
        began = time.perf_counter()
        deadline = began + seconds
        self.local_optimum(deadline)
        best = (self.value, list(self.sequence))
        stalled = 0
        while len(self.sequence) > 2 and stalled < stall_kicks and time.perf_counter() <= deadline:
            self.kick()
            self.kicks += 1
            self.local_optimum(deadline)
            if self.value < best[0] - IMPROVE_TOL:
                best, stalled = (self.value, list(self.sequence)), 0
                self.best_after_s = time.perf_counter() - began
            else:
                stalled += 1
                self._adopt(best[1], 0)
                self.marked.clear()   # the best is a local optimum
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
