"""The training jobs' block (models/schedule.md, "Jobs"): when, where and in which power mode
each job runs, its completion, tardiness, restarts and migrations.

A preemptible job has a binary ``run`` per (job, option, period) and a monotone ``done`` per
period; one that may split its gang (span_sites, allow_mixed_types) also a binary ``split`` per
(job, split choice, period) with integer GPUs ``gang`` per pool of the choice (``_add_splits``). A non-preemptible job keeps one option through one contiguous run, so it is one binary
``begin[j, o, t]`` per allowed start: it occupies periods t .. t + p - 1 (p = its duration on o).

The block leaves ``built.job_use``: (site, GPU type) -> [Occupancy], each a variable that holds
``gpus`` GPUs drawing ``gpu_kw`` from period ``first`` to ``last``. The nodes block writes its
capacity rows as differences of consecutive periods, where a begin binary appears only where
its run starts and ends: two nonzeros instead of p (the plain time-indexed rows, whose LP HiGHS
could not even bound on 40-job weighted-tardiness instances).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import pyomo.environ as pyo

from ...index.schedule import JobPlan
from ..build import InfeasibleInstance

FINISH_TOL = 1e-6   # GPU-hours: the rules' slack on "the work is done" (models/schedule.md rule 5)
# "Not done yet" in stop_when_done is progress at least this far below the work: HiGHS accepts rows
# violated by its MIP feasibility tolerance (1e-6), which let a job that had just finished run on
# where negative prices pay. Ten times that keeps the row binding; it forbids only plans within
# 1e-5 GPU-hours of done that run one period more.
STOP_MARGIN = 1e-5


@dataclass(frozen=True)
class Occupancy:
    gpus: int
    gpu_kw: float
    var: object     # the Pyomo variable (binary run or begin, or an integer GPU count with gpus 1)
    first: int
    last: int


def add_jobs(built) -> None:
    idx, m = built.index, built.model
    preemptible = [job for job in idx.jobs if job.preemptible]
    contiguous = [job for job in idx.jobs if not job.preemptible]
    for job in idx.jobs:
        if job.required and not _can_finish(job):
            raise InfeasibleInstance(f"required job '{job.id}' cannot finish in its window on any option")
    use: dict[tuple[str, str], list[Occupancy]] = defaultdict(list)
    built.job_use = use
    finished = {}
    _add_preemptible(built, preemptible, use, finished)
    _add_contiguous(built, contiguous, use, finished)
    m.required_jobs = pyo.Set(initialize=[job.id for job in idx.jobs if job.required], doc="jobs that must finish")
    m.job_required = pyo.Constraint(m.required_jobs, rule=lambda m, j: finished[j] == 1,
                                    doc="a required job finishes")
    built.add_term("job_value", sum(job.value * finished[job.id] for job in idx.jobs if job.value))
    built.job_finished = finished


def _can_finish(job: JobPlan) -> bool:
    if not job.options or not job.periods:
        return False
    best = max(option.work for option in job.options)
    return best * len(job.periods) >= job.work - 1e-9


# ------------------------------------------------------------------ preemptible jobs


def _add_preemptible(built, jobs: list[JobPlan], use, finished) -> None:
    m = built.model
    plans = {job.id: job for job in jobs}
    run_keys = [(j.id, o, t) for j in jobs for o in range(len(j.options)) for t in j.periods]
    period_keys = [(j.id, t) for j in jobs for t in j.periods]
    m.run_keys = pyo.Set(initialize=run_keys, dimen=3, doc="(preemptible job, option, allowed period)")
    m.job_periods = pyo.Set(initialize=period_keys, dimen=2, doc="(preemptible job, allowed period)")
    m.run = pyo.Var(m.run_keys, within=pyo.Binary, doc="the job runs on the option in the period")
    m.done = pyo.Var(m.job_periods, within=pyo.Binary, doc="the job has finished by the end of the period")
    m.progress = pyo.Var(m.job_periods, within=pyo.NonNegativeReals, doc="reference GPU-hours done by the period's end")

    by_period = defaultdict(list)
    for j, o, t in run_keys:
        by_period[j, t].append(o)
        option = plans[j].options[o]
        use[option.site, option.gpu_type].append(Occupancy(option.gpus, option.gpu_kw, m.run[j, o, t], t, t))
    split_work = _add_splits(built, jobs, use)

    def on(j, t):
        return (sum(m.run[j, o, t] for o in by_period[j, t])
                + sum(m.split[j, c, t] for c in range(len(plans[j].splits))))

    previous = {(j.id, t): (j.id, j.periods[i - 1]) if i else None for j in jobs for i, t in enumerate(j.periods)}
    m.run_until_done = pyo.Constraint(
        m.job_periods, doc="one option per period, and none once finished",
        rule=lambda m, j, t: on(j, t) + (m.done[previous[j, t]] if previous[j, t] else 0) <= 1)
    m.later_periods = pyo.Set(initialize=[key for key in period_keys if previous[key]], dimen=2,
                              doc="(preemptible job, allowed period after its first)")
    m.done_stays = pyo.Constraint(
        m.later_periods, doc="a finished job stays finished",
        rule=lambda m, j, t: m.done[j, t] >= m.done[previous[j, t]])
    m.progress_def = pyo.Constraint(
        m.job_periods, doc="work done so far",
        rule=lambda m, j, t: m.progress[j, t] == (m.progress[previous[j, t]] if previous[j, t] else 0)
        + sum(plans[j].options[o].work * m.run[j, o, t] for o in by_period[j, t]) + split_work(j, t))

    resumed = [j for j in jobs if j.overhead > 0 or j.restart_cost > 0]
    m.resumed_jobs = pyo.Set(initialize=[j.id for j in resumed], doc="jobs whose resumes cost work or money")
    m.start_keys = pyo.Set(initialize=[k for k in period_keys if k[0] in set(m.resumed_jobs)], dimen=2,
                           doc="(job with costly resumes, allowed period)")
    m.start = pyo.Var(m.start_keys, within=pyo.NonNegativeReals, doc="the job starts or resumes in the period")
    m.resumes = pyo.Var(m.resumed_jobs, within=pyo.NonNegativeReals, doc="resumes after a pause")
    m.start_def = pyo.Constraint(
        m.start_keys, doc="a start wherever the job runs and did not run the period before",
        rule=lambda m, j, t: m.start[j, t] >= on(j, t) - (on(*previous[j, t]) if previous[j, t] else 0))
    m.resumes_def = pyo.Constraint(
        m.resumed_jobs, doc="every start but the first is a resume",
        rule=lambda m, j: m.resumes[j] >= sum(m.start[j, t] for t in plans[j].periods) - 1)

    def work_done(m, j, t):
        job = plans[j]
        needed = job.work * m.done[j, t]
        if job.overhead > 0:   # overhead counts only once done: big-M over the most resumes possible
            most = math.ceil(len(job.periods) / 2)
            needed = needed + job.overhead * (m.resumes[j] - most * (1 - m.done[j, t]))
        return m.progress[j, t] >= needed
    m.work_done = pyo.Constraint(m.job_periods, rule=work_done, doc="finished only once the work (and overhead) is done")

    # Where energy can earn money (negative prices) a job would run on past its finish, which the
    # rules forbid: a job that runs in t had not done its work (and overhead) by the end of t - 1.
    eager = [(j, t) for j, t in m.later_periods if built.index.energy_can_pay]
    m.eager_periods = pyo.Set(initialize=eager, dimen=2, doc="(job, period) where running on could pay")

    def needed_and_most(j):
        """The work (with overhead) that finishes job j, and a bound on its progress (the big-M)."""
        job = plans[j]
        most = max(o.work for o in job.options) * len(job.periods) + job.work
        return job.work + (job.overhead * m.resumes[j] if job.overhead > 0 else 0), most

    def stop_when_done(m, j, t):
        needed, most = needed_and_most(j)
        return m.progress[previous[j, t]] <= needed - STOP_MARGIN + most * (1 - on(j, t))
    m.stop_when_done = pyo.Constraint(m.eager_periods, rule=stop_when_done, doc="no run once the work is done")

    # There, too, a job could run without counting as finished, and so escape its tardiness:
    # a job whose work (and overhead) is done by the end of t is finished in t.
    worked = [(j, t) for j, t in m.job_periods if built.index.energy_can_pay]
    m.worked_periods = pyo.Set(initialize=worked, dimen=2, doc="(job, period) where running unfinished could pay")

    def done_when_worked(m, j, t):
        needed, most = needed_and_most(j)
        return m.progress[j, t] <= needed - STOP_MARGIN + most * m.done[j, t]
    m.done_when_worked = pyo.Constraint(m.worked_periods, rule=done_when_worked,
                                        doc="finished as soon as the work is done")

    _add_sites(built, jobs, by_period)
    for job in jobs:
        last = job.periods[-1] if job.periods else None
        finished[job.id] = m.done[job.id, last] if last is not None else 0
    built.add_term("tardiness_cost", sum(
        job.finish_cost[t] * (m.done[job.id, t] - (m.done[previous[job.id, t]] if previous[job.id, t] else 0))
        for job in jobs for t in job.periods if job.finish_cost[t]))
    built.add_term("restart_cost", sum(job.restart_cost * m.resumes[job.id] for job in resumed if job.restart_cost))


def _add_splits(built, jobs: list[JobPlan], use):
    """Split gangs (models/schedule.md, "Split gangs"): per job, split choice c and period, a
    binary ``split`` and integer GPUs ``gang`` per pool of the choice, at most n - 1 each, summing
    to n when the split is on: so a "sites" split uses two sites or more, a "types" split two
    types or more, and (with the rows split_site_max, split_type_max) a "both" split both; its
    work per GPU carries the choice's loss as a constant. Returns the work expression of (job,
    period)."""
    m = built.model
    plans = {job.id: job for job in jobs}
    split_keys = [(j.id, c, t) for j in jobs for c in range(len(j.splits)) for t in j.periods]
    gang_keys = [(j, c, o, t) for j, c, t in split_keys for o in plans[j].splits[c].options]
    m.split_keys = pyo.Set(initialize=split_keys, dimen=3, doc="(job that may split its gang, split choice, period)")
    m.gang_keys = pyo.Set(initialize=gang_keys, dimen=4, doc="(job, split choice, option of the choice, period)")
    m.split = pyo.Var(m.split_keys, within=pyo.Binary, doc="the job runs split this way in the period")
    m.gang = pyo.Var(m.gang_keys, within=pyo.NonNegativeIntegers, doc="GPUs of the split gang on the option's pool",
                     bounds=lambda m, j, c, o, t: (0, plans[j].splits[c].gpus - 1))
    m.split_gang_def = pyo.Constraint(
        m.split_keys, doc="a split gang holds the job's GPU count over its pools",
        rule=lambda m, j, c, t: sum(m.gang[j, c, o, t] for o in plans[j].splits[c].options)
        == plans[j].splits[c].gpus * m.split[j, c, t])
    # A "both" split spans sites and mixes types: no site and no type holds the whole gang (rows
    # only where a site / type has two pools of the choice; one pool is held to n - 1 by its bound).
    def groups(job, choice, attr):
        found = defaultdict(list)
        for o in choice.options:
            found[getattr(job.options[o], attr)].append(o)
        return {key: members for key, members in found.items() if len(members) > 1}

    both = {(j, c): (groups(plans[j], plans[j].splits[c], "site"), groups(plans[j], plans[j].splits[c], "gpu_type"))
            for j, c, _ in split_keys if plans[j].splits[c].kind == "both"}
    m.split_site_keys = pyo.Set(initialize=[(j, c, s, t) for j, c, t in split_keys if (j, c) in both
                                            for s in both[j, c][0]], dimen=4,
                                doc="(job, split choice over sites and types, site with two pools of it, period)")
    m.split_site_max = pyo.Constraint(
        m.split_site_keys, doc="a split over sites and types holds fewer than its GPUs at any one site",
        rule=lambda m, j, c, s, t: sum(m.gang[j, c, o, t] for o in both[j, c][0][s])
        <= (plans[j].splits[c].gpus - 1) * m.split[j, c, t])
    m.split_type_keys = pyo.Set(initialize=[(j, c, g, t) for j, c, t in split_keys if (j, c) in both
                                            for g in both[j, c][1]], dimen=4,
                                doc="(job, split choice over sites and types, GPU type with two pools of it, period)")
    m.split_type_max = pyo.Constraint(
        m.split_type_keys, doc="a split over sites and types holds fewer than its GPUs on any one type",
        rule=lambda m, j, c, g, t: sum(m.gang[j, c, o, t] for o in both[j, c][1][g])
        <= (plans[j].splits[c].gpus - 1) * m.split[j, c, t])
    for j, c, o, t in gang_keys:
        option = plans[j].options[o]
        use[option.site, option.gpu_type].append(Occupancy(1, option.gpu_kw / option.gpus, m.gang[j, c, o, t], t, t))

    def work(j, t):
        job = plans[j]
        return sum((1 - choice.loss) * job.options[o].work / job.options[o].gpus * m.gang[j, c, o, t]
                   for c, choice in enumerate(job.splits) for o in choice.options)
    return work


def _add_sites(built, jobs: list[JobPlan], by_period) -> None:
    """A non-migratable job picks one site; a migratable one pays each change of site. Of split
    gangs only a "types" split (one site) meets these rows: a job that spans sites is migratable
    without a migration cost (input checks), so it has neither."""
    m = built.model
    plans = {job.id: job for job in jobs}

    def at(j, s, t):
        return (sum(m.run[j, o, t] for o in by_period[j, t] if plans[j].options[o].site == s)
                + sum(m.split[j, c, t] for c, choice in enumerate(plans[j].splits) if choice.site == s))

    fixed = [(j.id, s) for j in jobs if not j.migratable and len(j.sites) > 1 for s in j.sites]
    m.site_choices = pyo.Set(initialize=fixed, dimen=2, doc="(non-migratable job, allowed site)")
    m.site = pyo.Var(m.site_choices, within=pyo.Binary, doc="the site a non-migratable job runs at")
    m.site_jobs = pyo.Set(initialize=sorted({j for j, _ in fixed}), doc="non-migratable jobs with several sites")
    m.one_site = pyo.Constraint(
        m.site_jobs, doc="a non-migratable job runs at one site",
        rule=lambda m, j: sum(m.site[j, s] for s in plans[j].sites) <= 1)
    m.site_periods = pyo.Set(initialize=[(j, s, t) for j, s in fixed for t in plans[j].periods], dimen=3,
                             doc="(non-migratable job, allowed site, allowed period)")
    m.at_its_site = pyo.Constraint(
        m.site_periods, doc="it runs only at that site",
        rule=lambda m, j, s, t: at(j, s, t) <= m.site[j, s])

    moving = [j for j in jobs if j.migratable and j.migration_cost > 0 and len(j.sites) > 1]
    m.location_keys = pyo.Set(initialize=[(j.id, s, t) for j in moving for s in j.sites for t in j.periods],
                              dimen=3, doc="(migratable job, site, period)")
    m.location = pyo.Var(m.location_keys, within=pyo.Binary, doc="the site a migratable job is at (kept across pauses)")
    m.move_keys = pyo.Set(initialize=[(j.id, t) for j in moving for t in j.periods[1:]], dimen=2,
                          doc="(migratable job, period after its first)")
    m.moved = pyo.Var(m.move_keys, within=pyo.NonNegativeReals, doc="the job changed site since the period before")
    m.location_periods = pyo.Set(initialize=[(j.id, t) for j in moving for t in j.periods], dimen=2,
                                 doc="(migratable job, allowed period)")
    m.one_location = pyo.Constraint(
        m.location_periods, doc="a migratable job is at one site",
        rule=lambda m, j, t: sum(m.location[j, s, t] for s in plans[j].sites) == 1)
    m.runs_at_location = pyo.Constraint(
        m.location_keys, doc="it runs where it is", rule=lambda m, j, s, t: at(j, s, t) <= m.location[j, s, t])
    before = {(j.id, t): j.periods[i] for j in moving for i, t in enumerate(j.periods[1:])}
    m.move_site_keys = pyo.Set(initialize=[(j.id, s, t) for j in moving for s in j.sites for t in j.periods[1:]],
                               dimen=3, doc="(migratable job, site, period after its first)")
    m.move_def = pyo.Constraint(
        m.move_site_keys, doc="a change of site is a move",
        rule=lambda m, j, s, t: m.moved[j, t] >= m.location[j, s, t] - m.location[j, s, before[j, t]])
    built.add_term("migration_cost", sum(plans[j].migration_cost * m.moved[j, t] for j, t in m.move_keys))


# ------------------------------------------------------------------ non-preemptible jobs


def _add_contiguous(built, jobs: list[JobPlan], use, finished) -> None:
    m = built.model
    starts = {}   # (job, option) -> allowed start periods, ascending
    for job in jobs:
        window = set(job.periods)
        for o, option in enumerate(job.options):
            p = job.duration(option)
            starts[job.id, o] = [t for t in job.periods if all(t + i in window for i in range(p))]
    plans = {job.id: job for job in jobs}
    keys = [(j, o, t) for (j, o), ts in starts.items() for t in ts]
    m.begin_keys = pyo.Set(initialize=keys, dimen=3, doc="(non-preemptible job, option, allowed start period)")
    m.begin = pyo.Var(m.begin_keys, within=pyo.Binary, doc="the job's one run starts on the option in the period")
    for job in jobs:
        if job.required and not any(starts[job.id, o] for o in range(len(job.options))):
            raise InfeasibleInstance(f"required job '{job.id}' has no contiguous run that fits its window")
    # Where energy can earn money, a job that need not finish may run part of its run and stop for
    # good (the rules allow it: it stays unfinished): one binary per start and shorter length.
    partial = [(job.id, o, t, k) for job in jobs if not job.required and built.index.energy_can_pay
               for o, option in enumerate(job.options) for k in range(1, job.duration(option))
               for t in job.periods if all(t + i in set(job.periods) for i in range(k))]
    m.partial_keys = pyo.Set(initialize=partial, dimen=4,
                             doc="(non-preemptible job that need not finish, option, start, periods short of done)")
    m.partial = pyo.Var(m.partial_keys, within=pyo.Binary, doc="the job runs k periods from t on the option, unfinished")
    partial_of = defaultdict(list)
    for j, o, t, k in partial:
        partial_of[j].append(m.partial[j, o, t, k])
        option = plans[j].options[o]
        use[option.site, option.gpu_type].append(Occupancy(option.gpus, option.gpu_kw, m.partial[j, o, t, k], t, t + k - 1))
    m.contiguous_jobs = pyo.Set(initialize=[job.id for job in jobs if partial_of[job.id] or any(
                                    starts[job.id, o] for o in range(len(job.options)))],
                                doc="non-preemptible jobs with a run that fits their window")
    m.one_start = pyo.Constraint(
        m.contiguous_jobs, doc="a non-preemptible job starts at most once, on one option",
        rule=lambda m, j: sum(m.begin[j, o, t] for o in range(len(plans[j].options)) for t in starts[j, o])
        + sum(partial_of[j]) <= 1)

    tardiness = 0
    for job in jobs:
        ended = 0
        for o, option in enumerate(job.options):
            p = job.duration(option)
            for t in starts[job.id, o]:
                var = m.begin[job.id, o, t]
                use[option.site, option.gpu_type].append(Occupancy(option.gpus, option.gpu_kw, var, t, t + p - 1))
                ended = ended + var
                if job.finish_cost[t + p - 1]:
                    tardiness = tardiness + job.finish_cost[t + p - 1] * var
        finished[job.id] = ended
    built.contiguous_starts = starts
    built.add_term("tardiness_cost", tardiness)
