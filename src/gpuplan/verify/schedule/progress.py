"""Each training job's progress through its rows (rules 5-7 of the schedule contract).

Rows are taken in period order per job. A row does ``gpus * throughput(g) *
throughput_fraction(mode) * h`` GPU-hours of work at reference speed (0 on a type that is no
option of the job: rule 2 reports it). A row whose period is more than one after the previous
row's is a *resume*; a row at another site than the previous row's is a *migration* (across
pauses too). The job needs ``work_gpu_hours + restart_overhead_gpu_hours * resumes`` (resumes
counted over all its rows) and finishes in the first period after which its cumulative work
reaches that, within 1e-6; ``finish_h = (t + 1) * h``.

A job that may split its gang (``span_sites`` / ``allow_mixed_types``) may have several rows in
a period, one per (site, type) pool: they are one step (no resume among them), their work is
reduced by ``cross_site_penalty`` when they lie at two sites or more and by
``mixed_type_penalty`` when they hold two GPU types or more (both when both), and a migration
is a change of the *set* of sites between its successive periods.

Where the contract is silent: rows after the finish period (rule 5 rejects them) still count
for resumes, migrations, restart and migration costs and power, as the decisions say; two rows
of one job in one period (rule 3 rejects them for a job that may not split) are no resume, and
both do work (without a loss: the losses are for jobs that may split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .decisions import Decisions
from .facts import ScheduleFacts

WORK_TOL = 1e-6  # GPU-hours (contract, rule 5)
NONE = -1  # no period / no site


@dataclass(frozen=True, eq=False)
class Progress:
    work: np.ndarray  # [row] work done by each placement row
    resumes: np.ndarray  # [job]
    migrations: np.ndarray  # [job]
    finish_period: np.ndarray  # [job] NONE = unfinished
    start_period: np.ndarray  # [job] NONE = no rows
    first_site: np.ndarray  # [job] NONE = no rows
    gpu_hours: np.ndarray  # [job] GPU-hours held by its rows
    after_finish: np.ndarray  # [row] bool: the row's period is after its job's finish period

    @property
    def finished(self) -> np.ndarray:
        return self.finish_period != NONE


def job_progress(facts: ScheduleFacts, d: Decisions) -> Progress:
    J, h = len(facts.jobs), facts.period_hours
    work = d.gpus * facts.throughput[d.job, d.gpu_type] * facts.throughput_fraction[d.mode] * h
    spans, mixes = split_rows(facts, d)
    work = work * (1 - facts.cross_site_penalty * spans - facts.mixed_type_penalty * mixes)
    order = np.lexsort((d.period, d.job))
    job, period, site = d.job[order], d.period[order], d.site[order]
    first = np.r_[True, job[1:] != job[:-1]] if len(job) else np.zeros(0, dtype=bool)
    previous_period = np.r_[0, period[:-1]] if len(job) else period
    previous_site = np.r_[0, site[:-1]] if len(job) else site
    resumed = ~first & (period > previous_period + 1)
    moved = ~first & (site != previous_site) & ~facts.may_split[job]
    resumes = np.bincount(job, weights=resumed, minlength=J).astype(np.int64)
    migrations = np.bincount(job, weights=moved, minlength=J).astype(np.int64) + _site_set_changes(facts, d)
    needed = facts.work_gpu_hours + facts.restart_overhead_gpu_hours * resumes
    cumulative = pd.Series(work[order]).groupby(job).cumsum().to_numpy()
    reached = np.flatnonzero(cumulative >= needed[job] - WORK_TOL)
    finish = np.full(J, NONE, dtype=np.int64)
    done_jobs, first_reached = np.unique(job[reached], return_index=True)
    finish[done_jobs] = period[reached[first_reached]]
    start = np.full(J, NONE, dtype=np.int64)
    first_site = np.full(J, NONE, dtype=np.int64)
    start[job[first]] = period[first]
    first_site[job[first]] = site[first]
    after = np.zeros(len(order), dtype=bool)
    after[order] = (finish[job] != NONE) & (period > finish[job])
    return Progress(
        work=work, resumes=resumes, migrations=migrations, finish_period=finish, start_period=start,
        first_site=first_site, gpu_hours=np.bincount(d.job, weights=d.gpus * h, minlength=J),
        after_finish=after,
    )


def split_rows(facts: ScheduleFacts, d: Decisions) -> tuple[np.ndarray, np.ndarray]:
    """[row] bool, twice: the row belongs to a (job, period) of a job that may split whose rows lie
    at two sites or more / hold two GPU types or more."""
    spans, mixes = np.zeros(len(d.job), dtype=bool), np.zeros(len(d.job), dtype=bool)
    rows = np.flatnonzero(facts.may_split[d.job])
    if len(rows):
        frame = pd.DataFrame({"job": d.job[rows], "period": d.period[rows], "site": d.site[rows],
                              "gpu_type": d.gpu_type[rows]})
        steps = frame.groupby(["job", "period"])
        spans[rows] = steps.site.transform("nunique").to_numpy() > 1
        mixes[rows] = steps.gpu_type.transform("nunique").to_numpy() > 1
    return spans, mixes


def _site_set_changes(facts: ScheduleFacts, d: Decisions) -> np.ndarray:
    """[job] migrations of the jobs that may split: changes of the set of sites between their
    successive periods with rows (0 for the other jobs)."""
    changes = np.zeros(len(facts.jobs), dtype=np.int64)
    rows = np.flatnonzero(facts.may_split[d.job])
    if not len(rows):
        return changes
    frame = pd.DataFrame({"job": d.job[rows], "period": d.period[rows], "site": d.site[rows]}).drop_duplicates()
    # each period's set of sites as one key: a bit per site (a sorted tuple beyond 62 sites)
    if len(facts.sites) <= 62:
        sets = (frame.assign(bit=np.left_shift(np.int64(1), frame.site.to_numpy(dtype=np.int64)))
                .groupby(["job", "period"]).bit.sum())
    else:
        sets = frame.groupby(["job", "period"]).site.agg(lambda s: tuple(sorted(s)))
    jobs = sets.index.get_level_values("job").to_numpy()
    values = sets.to_numpy()
    changed = (jobs[1:] == jobs[:-1]) & (values[1:] != values[:-1])
    np.add.at(changes, jobs[1:][changed], 1)
    return changes
