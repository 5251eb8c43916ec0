"""Each job runs at most once (exactly once when required or when a running job may not be
stopped); moving or stopping a running job costs what the instance says."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo


def placed_parts(m, idx) -> dict[str, list]:
    """Variables whose sum is 1 when the job runs: keep, one assign per pool, spanned."""
    parts: dict[str, list] = defaultdict(list)
    for r in m.RUNNING:
        parts[r].append(m.keep[r])
    for j, k in m.PACK:
        parts[j].append(m.assign[j, k])
    for j in m.SPAN_JOBS:
        parts[j].append(m.spanned[j])
    return parts


def add_jobs(built) -> None:
    m, idx = built.model, built.index
    jobs = {job.id: job for job in built.instance.jobs}
    parts = placed_parts(m, idx)
    m.JOBS = pyo.Set(initialize=idx.jobs, ordered=True, doc="jobs that may run")

    def must_run(j):
        return jobs[j].required or (j in idx.running and not jobs[j].preemptible)

    m.job_once = pyo.Constraint(
        m.JOBS, rule=lambda _, j: sum(parts[j]) == 1 if must_run(j) else sum(parts[j]) <= 1,
        doc="a job runs at most once (exactly once when it must)")

    running = [jobs[r] for r in m.RUNNING]
    built.add_term("migration_cost", sum(
        r.migration_cost * (sum(parts[r.id]) - m.keep[r.id]) for r in running if r.migratable and r.migration_cost))
    built.add_term("preemption_cost", sum(
        r.preemption_cost * (1 - sum(parts[r.id])) for r in running if r.preemption_cost))
