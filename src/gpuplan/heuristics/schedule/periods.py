"""Period-choice rules of the list scheduler: given a job, one of its options and the periods in
which that option fits (window, free GPUs, grid limit), which periods the job runs in.

A rule returns a :class:`Choice` (the periods up to the job's finish and a score, lower is
better, by which the scheduler compares the job's options) or None when the job cannot finish on
that option. Both rules keep the contract's work rule: a row does ``option.work`` GPU-hours; a
preemptible job needs its work plus its restart overhead for every resume; a non-preemptible job
runs in one contiguous block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ...index.schedule import TIME_EPS, JobOption, JobPlan, ScheduleIndex

WORK_TOL = 1e-6   # a job has finished once its work is within this of what it needs (the contract's)


@dataclass(frozen=True)
class Choice:
    periods: list[int]   # ascending, the last one is the finish period
    score: tuple         # lower is better


PeriodRule = Callable[[JobPlan, JobOption, np.ndarray], Optional[Choice]]   # (job, option, usable periods)


def until_finished(job: JobPlan, option: JobOption, periods) -> list[int] | None:
    """``periods`` (ascending) cut after the one in which the job's work, with the overhead of
    each resume so far, is done; None if they never get it done."""
    done, resumes, kept = 0.0, 0, []
    for t in periods:
        if kept and t > kept[-1] + 1:
            resumes += 1
        kept.append(t)
        done += option.work
        if done >= job.work + job.overhead * resumes - WORK_TOL:
            return kept
    return None


def run_length(job: JobPlan, option: JobOption) -> int:
    """Periods a contiguous run takes on ``option``."""
    return max(1, math.ceil((job.work - WORK_TOL) / option.work))


def contiguous_starts(job: JobPlan, option: JobOption, usable: np.ndarray) -> tuple[np.ndarray, int]:
    """Periods in which a contiguous run of the job can start, and its length."""
    length = run_length(job, option)
    if length > len(usable):
        return np.zeros(0, dtype=np.int64), length
    counts = np.convolve(usable.astype(np.int64), np.ones(length, dtype=np.int64), mode="valid")
    return np.flatnonzero(counts == length), length


# ---------------------------------------------------------------- as soon as possible


def earliest(job: JobPlan, option: JobOption, usable: np.ndarray) -> Choice | None:
    """The earliest periods in which the job can run: what a queue scheduler does. Options compare
    by finish, then start."""
    if job.preemptible:
        periods = until_finished(job, option, np.flatnonzero(usable).tolist())
    else:
        starts, length = contiguous_starts(job, option, usable)
        periods = list(range(int(starts[0]), int(starts[0]) + length)) if len(starts) else None
    return Choice(periods, (periods[-1], periods[0])) if periods else None


# ---------------------------------------------------------------- lowest carbon


class LowestCarbon:
    """Carbon-aware shifting ("Let's Wait Awhile"): the job's work goes to the periods of its window
    with the lowest carbon per kWh of IT power (the site's grid intensity x its PUE: a kWh of IT
    draws PUE kWh from the grid).

    The window a job is shifted in ends at its due time when it can finish by then (waiting for
    clean hours never makes a job late); a job that cannot finish by its due time runs as early as
    it can. Options compare by lateness, then the carbon of the job's GPUs over its periods, then
    finish."""

    def __init__(self, idx: ScheduleIndex):
        self.hours = idx.hours
        energy = idx.energy
        self.intensity = {s: np.array([energy.carbon_g[s, t] * energy.pue[s, t] for t in range(idx.periods)])
                          for s in idx.sites}
        ends = (np.arange(idx.periods) + 1) * idx.hours
        self.on_time = {job.id: ends <= job.due_h + TIME_EPS for job in idx.instance.training_jobs
                        if job.due_h is not None}

    def __call__(self, job: JobPlan, option: JobOption, usable: np.ndarray) -> Choice | None:
        intensity = self.intensity[option.site]
        on_time = usable & self.on_time[job.id] if job.id in self.on_time else usable
        periods = _cleanest(job, option, on_time, intensity)
        if periods is not None:
            return Choice(periods, (0, self._carbon_kg(option, intensity, periods), periods[-1]))
        fallback = earliest(job, option, usable)
        if fallback is None:
            return None
        return Choice(fallback.periods,
                      (1, fallback.periods[-1], self._carbon_kg(option, intensity, fallback.periods)))

    def _carbon_kg(self, option: JobOption, intensity: np.ndarray, periods: list[int]) -> float:
        return float(intensity[periods].sum()) * option.gpu_kw * self.hours / 1000


def _cleanest(job: JobPlan, option: JobOption, usable: np.ndarray, intensity: np.ndarray) -> list[int] | None:
    """The lowest-carbon periods: one contiguous block for a non-preemptible job; for a preemptible
    one the cleanest periods picked one by one, or the cleanest block where the overhead of the
    pauses makes the picked periods dirtier in all (a block wins ties)."""
    block = _cleanest_block(job, option, usable, intensity)
    if not job.preemptible:
        return block
    picked = _cleanest_periods(job, option, np.flatnonzero(usable).tolist(), intensity)
    if block is None or (picked is not None and intensity[picked].sum() < intensity[block].sum()):
        return picked
    return block


def _cleanest_block(job: JobPlan, option: JobOption, usable: np.ndarray, intensity: np.ndarray) -> list[int] | None:
    starts, length = contiguous_starts(job, option, usable)
    if not len(starts):
        return None
    window_carbon = np.convolve(intensity, np.ones(length), mode="valid")[starts]
    best = int(starts[int(np.argmin(window_carbon))])   # the first of the least: earliest on ties
    return list(range(best, best + length))


def _cleanest_periods(job: JobPlan, option: JobOption, candidates: list[int], intensity: np.ndarray):
    """Lowest-intensity periods one at a time until the work, with the overhead of every pause
    between them, is done. Among periods of equal intensity one next to a chosen period comes
    first (a pause costs its overhead), then the earliest."""
    remaining = sorted(candidates, key=lambda t: (intensity[t], t))
    chosen: set[int] = set()
    runs = 0                                  # contiguous blocks among the chosen periods
    while remaining:
        lowest = intensity[remaining[0]]
        ties = [i for i, t in enumerate(remaining) if intensity[t] == lowest]
        pick = next((i for i in ties if remaining[i] - 1 in chosen or remaining[i] + 1 in chosen), ties[0])
        t = remaining.pop(pick)
        runs += 1 - (t - 1 in chosen) - (t + 1 in chosen)
        chosen.add(t)
        if len(chosen) * option.work >= job.work + job.overhead * (runs - 1) - WORK_TOL:
            return until_finished(job, option, sorted(chosen))
    return None
