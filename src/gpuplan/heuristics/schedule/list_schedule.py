"""The list scheduler every schedule baseline shares: services first, then training jobs one at a
time in a priority order, each on the option and periods a pluggable rule picks.

1. Services, period by period (hard ones first): each takes GPUs on its cheapest option in that
   period (energy price x PUE x the IT power a serving GPU adds, per reference GPU it carries),
   then the next, up to its demand. A hard service that cannot be covered fails the plan.
2. Jobs in ``order``: each on one option at full power (one site, one GPU type, one mode for the
   whole run, which keeps non-migratable and non-preemptible jobs valid) in the periods ``choose``
   picks among those where the option fits: inside the job's window, its whole gang free, the
   site's facility power within the grid limit. Of the options the one with the lowest score
   wins. A required job that fits nowhere fails the plan; any other is left out.
3. Nodes: every node on where nodes cannot be powered off, else just the nodes the busy GPUs need.

The seam for other strategies (an LP-guided rounding, say) is ``list_schedule(idx, order,
choose)``: its own order of job ids and its own period rule (see :mod:`.periods`), e.g. one
that scores an option by how much of the job the LP puts there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ...index.schedule import FULL_POWER, JobOption, JobPlan, ScheduleIndex, ServicePlan
from .capacity import CapacityTracker
from .periods import Choice, PeriodRule

PLACEMENT_COLUMNS = ["job", "site", "gpu_type", "period", "gpus", "power_mode"]
SERVICE_COLUMNS = ["service", "site", "gpu_type", "period", "gpus"]
NODES_COLUMNS = ["site", "gpu_type", "period", "nodes"]
DEMAND_TOL = 1e-6   # reference GPUs of hard demand left unmet that still count as covered (the contract's)


@dataclass
class Plan:
    """The baseline's decisions as the contract's three tables, or why it found none."""

    placements: pd.DataFrame
    services: pd.DataFrame
    nodes_on: pd.DataFrame
    message: str = ""                                     # why there is no plan; empty when there is one
    left_out: list[str] = field(default_factory=list)     # jobs that need not finish and found no room
    blocked: str | None = None                            # the required job that found no room, if that failed it

    @property
    def failed(self) -> bool:
        return bool(self.message)

    @classmethod
    def failure(cls, message: str, blocked: str | None = None) -> "Plan":
        return cls(pd.DataFrame(columns=PLACEMENT_COLUMNS), pd.DataFrame(columns=SERVICE_COLUMNS),
                   pd.DataFrame(columns=NODES_COLUMNS), message, blocked=blocked)


class Unplaceable(Exception):
    """A hard service or a required job the baseline cannot place (its message says which)."""

    def __init__(self, message: str, job: str | None = None):
        super().__init__(message)
        self.job = job      # the required job, when it is one


def full_power(job: JobPlan) -> list[JobOption]:
    """The options a queue scheduler knows: full power only."""
    return [option for option in job.options if option.mode == FULL_POWER]


def list_schedule(idx: ScheduleIndex, order: list[str], choose: PeriodRule,
                  options: Callable[[JobPlan], list[JobOption]] = full_power,
                  tracker: CapacityTracker | None = None) -> Plan:
    """Services, then the jobs ``order`` names (every job of ``idx`` once), by the rule ``choose``
    over the options ``options`` offers of each job (full power by default), into ``tracker``
    (a fresh one by default; a rule that reads the plan so far shares it)."""
    jobs = {job.id: job for job in idx.jobs}
    if sorted(order) != sorted(jobs):
        raise ValueError("list_schedule: order must name every training job of the instance once")
    tracker = tracker or CapacityTracker(idx)
    try:
        _check_idle_power(tracker)
        service_rows = _place_services(idx, tracker)
        placement_rows, left_out = [], []
        for job_id in order:
            rows = place_job(idx, tracker, jobs[job_id], choose, options(jobs[job_id]))
            if rows is None:
                left_out.append(job_id)
            placement_rows += rows or []
    except Unplaceable as reason:
        return Plan.failure(str(reason), reason.job)
    return Plan(pd.DataFrame(placement_rows, columns=PLACEMENT_COLUMNS),
                pd.DataFrame(service_rows, columns=SERVICE_COLUMNS),
                nodes_frame(idx, tracker), left_out=left_out)


def _check_idle_power(tracker: CapacityTracker) -> None:
    """Nodes that cannot be powered off draw their idle power whatever the plan."""
    over = tracker.over_limit()
    if over:
        site, t, kw, limit = over[0]
        raise Unplaceable(f"site '{site}' period {t}: its nodes that cannot be powered off draw {kw:.6g} kW "
                           f"idle, above the grid limit of {limit:.6g} kW")


# ---------------------------------------------------------------- services


def _place_services(idx: ScheduleIndex, tracker: CapacityTracker) -> list[tuple]:
    rows = []
    services = sorted(idx.services, key=lambda v: v.unmet_cost_per_gpu_hour is not None)   # hard first, stable
    for t in idx.period_range:
        for service in services:
            rows += _serve(idx, tracker, service, t)
    return rows


def _serve(idx: ScheduleIndex, tracker: CapacityTracker, service: ServicePlan, t: int) -> list[tuple]:
    remaining = service.demand[t]
    rows = []
    for option in sorted(service.options, key=lambda o: _serving_cost(idx, tracker, o, t)):
        if remaining <= DEMAND_TOL:
            break
        free = int(tracker.free(option.site, option.gpu_type)[t])
        wanted = min(math.ceil(remaining / option.capacity_per_gpu - 1e-9), free)
        gpus = _most_that_fit(tracker, option, t, wanted)
        if gpus > 0:
            tracker.add(option.site, option.gpu_type, [t], gpus, gpus * option.gpu_kw)
            rows.append((service.id, option.site, option.gpu_type, t, gpus))
            remaining -= gpus * option.capacity_per_gpu
    if service.unmet_cost_per_gpu_hour is None and remaining > DEMAND_TOL:
        raise Unplaceable(f"hard service '{service.id}' cannot be covered in period {t}: {remaining:.6g} of its "
                           f"{service.demand[t]:.6g} reference GPUs find no free GPU within the grid limits")
    return rows


def _serving_cost(idx: ScheduleIndex, tracker: CapacityTracker, option, t: int) -> tuple[float, float]:
    """Energy cost, then IT power, of one more serving GPU per reference GPU it carries."""
    kw = tracker.marginal_kw(option.site, option.gpu_type, option.gpu_kw) / option.capacity_per_gpu
    energy = idx.energy
    return energy.price[option.site, t] * energy.pue[option.site, t] * kw, kw


def _most_that_fit(tracker: CapacityTracker, option, t: int, wanted: int) -> int:
    """The most GPUs (at most ``wanted``) the grid limit admits in period ``t`` (power grows with GPUs)."""
    def fits(gpus: int) -> bool:
        return bool(tracker.fits(option.site, option.gpu_type, gpus, gpus * option.gpu_kw)[t])

    low, high = 0, max(0, wanted)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


# ---------------------------------------------------------------- jobs


def place_job(idx: ScheduleIndex, tracker: CapacityTracker, job: JobPlan, choose: PeriodRule,
               options: list[JobOption]) -> list[tuple] | None:
    """The job's rows on its best option, or None for a job that need not finish and fits nowhere."""
    window = np.zeros(idx.periods, dtype=bool)
    window[job.periods] = True
    best: tuple[Choice, object] | None = None
    for option in options:
        usable = window & tracker.fits(option.site, option.gpu_type, option.gpus, option.gpu_kw)
        choice = choose(job, option, usable)
        if choice is not None and (best is None or choice.score < best[0].score):
            best = (choice, option)
    if best is None:
        if job.required:
            raise Unplaceable(f"required job '{job.id}' cannot be placed: no option it may use has its "
                               f"GPUs free within the grid limits for long enough in its window "
                               f"({_window_text(idx, job)})", job.id)
        return None
    choice, option = best
    tracker.add(option.site, option.gpu_type, choice.periods, option.gpus, option.gpu_kw)
    return [(job.id, option.site, option.gpu_type, t, option.gpus, option.mode) for t in choice.periods]


def _window_text(idx: ScheduleIndex, job: JobPlan) -> str:
    return f"periods {job.periods[0]}..{job.periods[-1]}" if job.periods else "no period"


def nodes_frame(idx: ScheduleIndex, tracker: CapacityTracker) -> pd.DataFrame:
    """Nodes on as the tracker has them: all where nodes cannot be off, else as many as the busy GPUs need."""
    rows = []
    for s, g in idx.pairs:
        on = tracker.nodes_on(s, g)
        rows += [(s, g, t, int(on[t])) for t in idx.period_range]
    return pd.DataFrame(rows, columns=NODES_COLUMNS)
