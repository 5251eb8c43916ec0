"""The two schedule baselines of the issue, both the list scheduler in the same job order:

- ``asap``: each job runs as early as capacity allows, at full power (what a queue scheduler does);
- ``carbon_aware``: each job's work goes to the lowest-carbon periods of its window ("Let's Wait
  Awhile", Wiesner et al., Middleware 2021).

The order is earliest deadline first, then due time, then release, then id (a job without a
deadline or due time comes after those that have one).

Both place whole gangs only: a job that may span sites or mix GPU types (``span_sites``,
``allow_mixed_types``) is placed on one (site, GPU type) pool per period, which the rules always
allow; a job that fits only when split is left out (or, when required, the baseline fails).
"""

from __future__ import annotations

from ...index.schedule import ScheduleIndex
from .list_schedule import Plan, list_schedule
from .periods import LowestCarbon, earliest


def deadline_order(idx: ScheduleIndex) -> list[str]:
    """Job ids, earliest deadline first, then due time, release and id."""
    inf = float("inf")

    def key(job):
        return (job.deadline_h if job.deadline_h is not None else inf,
                job.due_h if job.due_h is not None else inf, job.release_h, job.id)

    return [job.id for job in sorted(idx.instance.training_jobs, key=key)]


def asap(idx: ScheduleIndex) -> Plan:
    return list_schedule(idx, deadline_order(idx), earliest)


def carbon_aware(idx: ScheduleIndex) -> Plan:
    return list_schedule(idx, deadline_order(idx), LowestCarbon(idx))
