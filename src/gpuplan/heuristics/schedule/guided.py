"""A plan guided by a relaxation's values: the list scheduler with the jobs in the order of their
relaxed mean period, each on the pool and in the periods the relaxation runs it most, in the power
mode the relaxation's GPUs deliver there.

The relaxation (gpuplan.model.schedule.fluid) says, per job, how much of a full-speed gang-period
it runs on each pool (site, GPU type) in each period, and per pool and period how many GPUs run
in each power mode. From that:

- order: jobs by their relaxed mean period (the alpha-point rule; jobs it does not run last);
- option: the pool with the most relaxed work, in the mode whose throughput fraction is nearest the
  mean the pool's GPUs deliver over the job's periods; full power, then any other mode, when that
  one cannot finish in time;
- periods: a preemptible job in the periods the relaxation runs it most (ties: cheaper energy,
  earlier), until its work with the overhead of every pause is done; a non-preemptible one in the
  contiguous run with the most relaxed work. Periods within the due time first, as the rules
  charge tardiness for the others.

Pyomo-free: it reads numpy arrays the caller takes from the relaxation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...index.schedule import FULL_POWER, TIME_EPS, JobOption, JobPlan, ScheduleIndex
from .capacity import CapacityTracker
from .list_schedule import PLACEMENT_COLUMNS, Plan, Unplaceable, list_schedule, nodes_frame, place_job
from .periods import Choice, contiguous_starts, until_finished


@dataclass
class Relaxed:
    """A relaxation's values: work share per (job, site, GPU type) and period; the mean
    throughput fraction its GPUs deliver per (site, GPU type) and period (NaN where none run)."""

    work_share: dict[tuple[str, str, str], np.ndarray]
    mean_throughput: dict[tuple[str, str], np.ndarray]

    @classmethod
    def of(cls, work_share, gpus: dict[tuple[str, str], np.ndarray], delivered: dict[tuple[str, str], np.ndarray]):
        """From the GPUs running jobs and the throughput fractions they deliver (summed), per pool and period."""
        mean = {pool: np.where(gpus[pool] > 1e-9, delivered[pool] / np.maximum(gpus[pool], 1e-12), np.nan)
                for pool in gpus}
        return cls(work_share, mean)


# objective -> weights of (energy price, carbon, the job's own restart and tardiness costs) in a
# job's cost (models/schedule.md, Objectives: cost charges carbon at its price, carbon counts tonnes)
OBJECTIVE_WEIGHTS = {"cost": (1.0, 1.0, 1.0), "carbon": (0.0, 1.0, 0.0), "value": (1.0, 1.0, 1.0)}


PLACE_FIRST_ATTEMPTS = 10   # times a required job that found no room is moved to the front and the plan redone


def guided(idx: ScheduleIndex, relaxed: Relaxed, objective: str = "cost", order: list[str] | None = None,
           passes: int = 1) -> Plan:
    """The guided plan, the jobs in ``order`` (ids; default: the relaxation's order), then
    ``passes`` rounds of re-placing each job with every other one in place (kept when cheaper)."""
    plan, rule, tracker = first_plan(idx, relaxed, objective, order)
    if plan.failed:
        return plan
    for _ in range(passes):
        if not reinsert(idx, plan, rule, tracker):
            break
    return plan


def improved(idx: ScheduleIndex, relaxed: Relaxed, objective: str, order: list[str], choose, passes: int,
             until: float | None = None) -> Plan:
    """Another rule's plan (e.g. asap: ``choose`` = earliest in deadline ``order``), then up to
    ``passes`` rounds of re-placing each job by the guided rule with the others in place (none
    begun after ``until``, perf_counter seconds): a plan whose order already keeps jobs on time,
    moved towards the guide's cheaper periods."""
    tracker = CapacityTracker(idx)
    plan = list_schedule(idx, order, choose, tracker=tracker)
    if plan.failed:
        return plan
    rule = Guided(idx, relaxed, objective, tracker)
    for _ in range(passes):
        if (until is not None and time.perf_counter() > until) or not reinsert(idx, plan, rule, tracker):
            break
    return plan


def first_plan(idx: ScheduleIndex, relaxed: Relaxed, objective: str = "cost", order: list[str] | None = None):
    """The list scheduler's plan by the guided rule, with the rule and the tracker holding it; a
    required job that finds no room moves to the front and the plan is redone (a few times)."""
    order = list(relaxed_order(idx, relaxed) if order is None else order)
    for _ in range(PLACE_FIRST_ATTEMPTS):
        tracker = CapacityTracker(idx)
        rule = Guided(idx, relaxed, objective, tracker)
        plan = list_schedule(idx, order, rule, rule.options, tracker)
        if plan.blocked is None or order[0] == plan.blocked:
            break
        order = [plan.blocked] + [j for j in order if j != plan.blocked]
    return plan, rule, tracker


def reinsert(idx: ScheduleIndex, plan: Plan, rule: "Guided", tracker: CapacityTracker) -> int:
    """Take each placed job out of the plan and place it again by ``rule`` with every other job in
    place; the new place stays when the rule's cost of the job is lower there. Returns how many
    jobs moved. ``plan.placements`` is rewritten (services and nodes follow the tracker)."""
    jobs = {job.id: job for job in idx.jobs}
    rows = {job: group for job, group in plan.placements.groupby("job", sort=False)}
    moved = 0
    for job_id, group in rows.items():
        job = jobs[job_id]
        site, gpu_type, gpus, mode = group.iloc[0][["site", "gpu_type", "gpus", "power_mode"]]
        option = next(o for o in job.options if (o.site, o.gpu_type, o.mode) == (site, gpu_type, mode))
        periods = sorted(group["period"].tolist())
        tracker.add(site, gpu_type, periods, -int(gpus), -option.gpu_kw)     # out of the plan
        old = rule._cost(job, option, periods)
        try:
            new_rows = place_job(idx, tracker, job, rule, rule.options(job))
        except Unplaceable:
            new_rows = None
        if new_rows:
            new_option = next(o for o in job.options if (o.site, o.gpu_type, o.mode) == (new_rows[0][1], new_rows[0][2],
                                                                                        new_rows[0][5]))
            new_periods = [r[3] for r in new_rows]
            tracker.add(new_option.site, new_option.gpu_type, new_periods, -new_option.gpus, -new_option.gpu_kw)
            if rule._cost(job, new_option, new_periods) < old - 1e-9 * max(1.0, abs(old)):
                tracker.add(new_option.site, new_option.gpu_type, new_periods, new_option.gpus, new_option.gpu_kw)
                rows[job_id] = pd.DataFrame(new_rows, columns=PLACEMENT_COLUMNS)
                moved += 1
                continue
        tracker.add(site, gpu_type, periods, int(gpus), option.gpu_kw)
    if moved:
        plan.placements = pd.concat(list(rows.values()), ignore_index=True)
        plan.nodes_on = nodes_frame(idx, tracker)
    return moved


def relaxed_order(idx: ScheduleIndex, relaxed: Relaxed) -> list[str]:
    """Job ids by their relaxed mean period (jobs the relaxation does not run last)."""
    return Guided(idx, relaxed).order()


class Guided:
    def __init__(self, idx: ScheduleIndex, relaxed: Relaxed, objective: str = "cost",
                 tracker: CapacityTracker | None = None):
        self.idx, self.relaxed = idx, relaxed
        energy = idx.energy
        ends = (np.arange(idx.periods) + 1) * idx.hours
        self.on_time = {job.id: ends <= job.due_h + TIME_EPS for job in idx.instance.training_jobs
                        if job.due_h is not None}
        self.zeros = np.zeros(idx.periods)
        self.tracker = tracker or CapacityTracker(idx)     # the plan so far (for the demand charge)
        self.site_of = {s: i for i, s in enumerate(self.tracker.sites)}
        # per kWh drawn from the grid: what the objective charges for energy and carbon
        weights = OBJECTIVE_WEIGHTS.get(objective, OBJECTIVE_WEIGHTS["cost"])
        self.unit_cost = {s: np.array([weights[0] * energy.price[s, t] * energy.pue[s, t]
                                       + weights[1] * energy.carbon_g[s, t] * energy.pue[s, t] / 1e6
                                       * (energy.carbon_price_per_t if weights[0] else 1.0)
                                       for t in idx.period_range]) for s in idx.sites}
        self.job_weight = weights[2]
        self.demand_charge = {s: weights[0] * energy.demand_charge.get(s, 0.0) for s in idx.sites}

    def share(self, job: JobPlan, option: JobOption) -> np.ndarray:
        return self.relaxed.work_share.get((job.id, option.site, option.gpu_type), self.zeros)

    def order(self) -> list[str]:
        def center(job: JobPlan) -> tuple:
            total = sum(self.share(job, o) for o in self._pool_options(job))
            mass = float(np.sum(total))
            if mass <= 1e-9:
                return (1, float(job.periods[-1]) if job.periods else 0.0, job.id)
            return (0, float(np.arange(self.idx.periods) @ total) / mass, job.id)
        return [job.id for job in sorted(self.idx.jobs, key=center)]

    def options(self, job: JobPlan) -> list[JobOption]:
        """Each pool's options, the mode nearest the relaxation's first, then full, then the others."""
        return sorted(job.options, key=lambda o: (self._mode_rank(job, o), o.site, o.gpu_type))

    def __call__(self, job: JobPlan, option: JobOption, usable: np.ndarray) -> Choice | None:
        best = None
        for periods in self._candidates(job, option, usable):
            cost = self._cost(job, option, periods)
            if best is None or cost < best[0]:
                best = (cost, periods)
        if best is None:
            return None
        cost, periods = best
        late = int(job.id in self.on_time and not self.on_time[job.id][periods[-1]])
        return Choice(periods, (late, self._pool_rank(job, option), self._mode_rank(job, option), cost, periods[-1]))

    def _candidates(self, job: JobPlan, option: JobOption, usable: np.ndarray):
        """Periods the job could take on ``option``: within its due time where it can finish by
        then, else anywhere; the relaxation's favourite contiguous run and the cheapest one, or
        where no run fits (a preemptible job) the periods the relaxation runs it most. Runs first:
        a plan whose jobs pause fragments the free GPUs the later jobs need (on 2,000 GPUs its
        restarts cost more than the energy the pauses saved)."""
        share, price = self.share(job, option), self.unit_cost[option.site]
        windows = [usable & self.on_time[job.id]] if job.id in self.on_time else []
        for window in windows + [usable]:
            found = [p for p in (_block(job, option, window, share, price), _block(job, option, window, -price, share))
                     if p is not None]
            if not found and job.preemptible:   # pauses only where no run fits: they fragment the
                found = [p for p in [_favourite(job, option, window, share, price)] if p is not None]   # room for later jobs
            if found:
                return found
        return []

    def _cost(self, job: JobPlan, option: JobOption, periods: list[int]) -> float:
        """The job's own cost on these periods: the energy (and carbon) its GPUs add, the rise of
        its site's peak under a demand charge, its resumes and its tardiness."""
        kw = self.tracker.marginal_kw(option.site, option.gpu_type, option.gpu_kw / option.gpus) * option.gpus
        resumes = sum(1 for a, b in zip(periods, periods[1:]) if b != a + 1)
        energy = float(self.unit_cost[option.site][periods].sum()) * kw * self.idx.hours
        peak = 0.0
        if self.demand_charge[option.site]:
            i = self.site_of[option.site]
            facility = self.tracker.pue[i] * self.tracker.site_it_kw[i]
            raised = facility.copy()
            raised[periods] += self.tracker.pue[i, periods] * kw
            peak = self.demand_charge[option.site] * max(0.0, float(raised.max() - facility.max()))
        return energy + peak + self.job_weight * (job.restart_cost * resumes + job.finish_cost.get(periods[-1], 0.0))

    # ------------------------------------------------------------ helpers

    def _pool_options(self, job: JobPlan) -> list[JobOption]:
        seen, pools = set(), []
        for option in job.options:
            if (option.site, option.gpu_type) not in seen:
                seen.add((option.site, option.gpu_type))
                pools.append(option)
        return pools

    def _pool_rank(self, job: JobPlan, option: JobOption) -> int:
        """0 on a pool where the relaxation does at least half as much of the job's work as on its
        favourite pool, else 1."""
        shares = [float(self.share(job, o).sum()) for o in self._pool_options(job)]
        most = max(shares, default=0.0)
        if most <= 1e-9:
            return 0
        return 0 if float(self.share(job, option).sum()) >= 0.5 * most else 1

    def _mode_rank(self, job: JobPlan, option: JobOption) -> int:
        share = self.share(job, option)
        beta = self.relaxed.mean_throughput.get((option.site, option.gpu_type))
        weight = float(share.sum())
        if beta is None or weight <= 1e-9:
            return 0 if option.mode == FULL_POWER else 2
        known = ~np.isnan(beta)
        mean = float(np.sum(share[known] * beta[known]) / max(float(share[known].sum()), 1e-12)) if known.any() else 1.0
        modes = {o.mode: o.work for o in job.options if (o.site, o.gpu_type) == (option.site, option.gpu_type)}
        full = modes.get(FULL_POWER, max(modes.values()))
        nearest = min(modes, key=lambda m: (abs(modes[m] / full - mean), m != FULL_POWER, m))
        return 0 if option.mode == nearest else 1 if option.mode == FULL_POWER else 2


def _block(job: JobPlan, option: JobOption, usable: np.ndarray, score: np.ndarray, tie: np.ndarray) -> list[int] | None:
    """The contiguous run of the job with the highest ``score`` summed (then lowest ``tie``, earliest)."""
    starts, length = contiguous_starts(job, option, usable)
    if not len(starts):
        return None
    ones = np.ones(length)
    total = np.convolve(score, ones, mode="valid")[starts]
    ties = np.convolve(tie, ones, mode="valid")[starts]
    best = int(starts[np.lexsort((starts, ties, -np.round(total, 6)))[0]])
    return list(range(best, best + length))


def _favourite(job: JobPlan, option: JobOption, usable: np.ndarray, share: np.ndarray, price: np.ndarray):
    """The periods the relaxation runs the job most (then cheaper, earlier) until its work, with
    the overhead of every pause, is done."""
    candidates = np.flatnonzero(usable)
    ranked = candidates[np.lexsort((candidates, price[candidates], -np.round(share[candidates], 6)))]
    chosen: list[int] = []
    for t in ranked.tolist():
        chosen.append(t)
        if len(chosen) * option.work >= job.work - 1e-9:
            periods = until_finished(job, option, sorted(chosen))
            if periods is not None:
                return periods
    return None
