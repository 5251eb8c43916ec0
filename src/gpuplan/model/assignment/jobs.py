"""Each job runs at most once (exactly once when required or when a running job may not be
stopped); a group of identical jobs runs at most as many times as it has members. Moving or
stopping a running job costs what the instance says."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from ..build import InfeasibleInstance


def placed_parts(m) -> dict[str, list]:
    """Per job group, the variables whose sum counts its members that run."""
    parts: dict[str, list] = defaultdict(list)
    for r in m.RUNNING:
        parts[r].append(m.keep[r])
    for g, c in m.PACK:
        parts[g].append(m.assign[g, c])
    for g, n in m.NODE_PACK:
        parts[g].append(m.place[g, n])
    for j in m.SPAN_JOBS:
        parts[j].append(m.spanned[j])
    return parts


def add_jobs(built) -> None:
    m, idx = built.model, built.index
    jobs = {job.id: job for job in built.instance.jobs}
    parts = placed_parts(m)
    m.JOB_GROUPS = pyo.Set(initialize=list(idx.groups), ordered=True, doc="jobs that may run, identical ones grouped")

    def must_run(g):
        return idx.groups[g].required or (g in idx.running and not jobs[g].preemptible)

    # A job may have no placement left at all: its nodes are all taken by running jobs that must
    # stay. If it must run, the instance is infeasible, said before any solver sees it.
    stuck = [g for g in idx.groups if not parts[g] and must_run(g)]
    if stuck:
        raise InfeasibleInstance(f"job(s) that must run have no room left: {', '.join(stuck[:5])}")

    def rule(_, g):
        if not parts[g]:
            return pyo.Constraint.Skip
        if must_run(g):
            return sum(parts[g]) == idx.groups[g].count
        return sum(parts[g]) <= idx.groups[g].count

    m.job_once = pyo.Constraint(m.JOB_GROUPS, rule=rule, doc="a job runs at most once (exactly once when it must)")

    running = [jobs[r] for r in m.RUNNING]
    built.add_term("migration_cost", sum(
        r.migration_cost * (sum(parts[r.id]) - m.keep[r.id]) for r in running if r.migratable and r.migration_cost))
    built.add_term("preemption_cost", sum(
        r.preemption_cost * (1 - sum(parts[r.id])) for r in running if r.preemption_cost))
