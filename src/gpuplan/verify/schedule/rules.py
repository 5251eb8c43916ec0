"""Validity of a schedule: rules 2-9 of the schedule contract, one function per rule family.

Every function takes the facts and the decisions' evaluation (rows of known ids only; rule 1,
the rows' format and ids, is :mod:`.rows`' job) and returns the violations it finds, one per
offending row, job, service period or (site, GPU type, period) cell. Unmet hard demand must be
at most ``tol`` (absolute, reference GPUs) and facility power at most the grid limit plus
``tol * max(1, limit)``; the contract's ``tol`` is 1e-6. Whether a job finished is the
evaluation's (a fixed 1e-6 GPU-hours, see :mod:`.progress`): it decides the value, so it does
not move with ``tol``.

Where the contract is silent: a row on a GPU type that is no option of its job or service is
an eligibility violation and does no work / serves no demand, but its GPUs count for capacity
and power; the gang size is judged only on option types. A (site, type, period) above its
nodes is a capacity violation only, not also a power_off one. A job that may split its gang
(span_sites, allow_mixed_types) is judged per (job, period): its rows' GPUs sum to its count,
lie at one site unless it may span sites, on one type unless it may mix them, in one power mode
(a break of these is a "gang" violation: the violation codes are shared, see
:mod:`gpuplan.verify.violations`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..violations import Violation
from .facts import ScheduleFacts
from .value import ScheduleEvaluation


def schedule_violations(facts: ScheduleFacts, ev: ScheduleEvaluation, tol: float = 1e-6) -> list[Violation]:
    return (placement_eligibility(facts, ev) + service_eligibility(facts, ev) + gang(facts, ev)
            + duplicate_rows(facts, ev) + capacity(facts, ev, tol) + work(facts, ev) + contiguity(facts, ev)
            + migration(facts, ev) + service_demand(facts, ev, tol) + grid_limit(facts, ev, tol))


def _slack(limit: np.ndarray, tol: float) -> np.ndarray:
    return tol * np.maximum(1.0, np.abs(limit))


def placement_eligibility(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 2: the job may use the site, the type is an option, the period lies in its window."""
    d = ev.decisions
    found = []
    for i in np.flatnonzero(~facts.job_sites[d.job, d.site]):
        found.append(Violation("eligibility", facts.jobs[d.job[i]],
                               f"placements[{d.placement_row[i]}]: site '{facts.sites[d.site[i]]}' is not allowed"))
    for i in np.flatnonzero(facts.gang[d.job, d.gpu_type] == 0):
        found.append(Violation("eligibility", facts.jobs[d.job[i]], f"placements[{d.placement_row[i]}]: "
                               f"{facts.gpu_types[d.gpu_type[i]]} is not a GPU option of the job"))
    first, last = facts.first_period[d.job], facts.last_period[d.job]
    for i in np.flatnonzero((d.period < first) | (d.period > last)):
        j = d.job[i]
        window = (f"periods {first[i]}..{last[i]}" if first[i] <= last[i] else "no period")
        found.append(Violation("eligibility", facts.jobs[j], f"placements[{d.placement_row[i]}]: period "
                               f"{d.period[i]} outside its release / deadline window ({window})"))
    return found


def service_eligibility(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 8: a service row at a site the service may use, on one of its GPU types."""
    d = ev.decisions
    found = []
    for i in np.flatnonzero(~facts.service_sites[d.service, d.service_site]):
        found.append(Violation("eligibility", facts.services[d.service[i]],
                               f"services[{d.service_row[i]}]: site '{facts.sites[d.service_site[i]]}' is not allowed"))
    for i in np.flatnonzero(facts.capacity_per_gpu[d.service, d.service_type] == 0):
        found.append(Violation("eligibility", facts.services[d.service[i]], f"services[{d.service_row[i]}]: "
                               f"{facts.gpu_types[d.service_type[i]]} is not a GPU option of the service"))
    return found


def gang(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 3: a row holds exactly the job's GPU count on its type (judged on option types only);
    for a job that may split its gang, the rows of a period together: one violation per row whose
    type's count their sum misses, and one per (job, period) whose rows break the split rules."""
    d = ev.decisions
    need = facts.gang[d.job, d.gpu_type]
    whole = ~facts.may_split[d.job]
    found = [Violation("gang", facts.jobs[d.job[i]], f"placements[{d.placement_row[i]}]: {d.gpus[i]} GPUs, "
                       f"the job holds {need[i]} on {facts.gpu_types[d.gpu_type[i]]}")
             for i in np.flatnonzero(whole & (need > 0) & (d.gpus != need))]
    split = np.flatnonzero(~whole)
    if not len(split):
        return found
    rows = pd.DataFrame({"job": d.job[split], "period": d.period[split], "site": d.site[split],
                         "gpu_type": d.gpu_type[split], "mode": np.array(facts.mode_id, dtype=object)[d.mode[split]],
                         "gpus": d.gpus[split]})
    total = rows.groupby(["job", "period"]).gpus.transform("sum").to_numpy()
    found += [Violation("gang", facts.jobs[d.job[i]], f"placements[{d.placement_row[i]}]: the job's rows in "
                        f"period {d.period[i]} hold {total[k]} GPUs, the job holds {need[i]} on "
                        f"{facts.gpu_types[d.gpu_type[i]]}")
              for k, i in enumerate(split) if need[i] > 0 and total[k] != need[i]]
    steps = rows.groupby(["job", "period"])
    job = rows.job.to_numpy()
    broken = {what: (steps[column].transform("nunique").to_numpy() > 1) & ~allowed[job]
              for what, column, allowed in (("sites", "site", facts.span_sites),
                                            ("GPU types", "gpu_type", facts.mix_types),
                                            ("power modes", "mode", np.zeros(len(facts.jobs), dtype=bool)))}
    first = ~rows.duplicated(["job", "period"]).to_numpy()
    for k in np.flatnonzero(first & np.any(list(broken.values()), axis=0)):
        kinds = " and ".join(what for what, bad in broken.items() if bad[k])
        found.append(Violation("gang", facts.jobs[job[k]], f"period {rows.period.iat[k]}: its gang lies over "
                               f"several {kinds}, which the job may not"))
    return found


def duplicate_rows(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 3: one placement row per (job, period), per (job, site, type, period) for a job that
    may split its gang; one service row per (service, site, type, period)."""
    d = ev.decisions
    found = []
    T, S, G = facts.periods, len(facts.sites), len(facts.gpu_types)
    pool = np.where(facts.may_split[d.job], d.site * G + d.gpu_type, -1)
    job_cell = (d.job * (S * G + 1) + pool + 1) * T + d.period
    for i in _repeats(job_cell):
        where = (f" at '{facts.sites[d.site[i]]}' / {facts.gpu_types[d.gpu_type[i]]}"
                 if facts.may_split[d.job[i]] else "")
        found.append(Violation("duplicate_row", facts.jobs[d.job[i]],
                               f"placements[{d.placement_row[i]}]: a second row{where} in period {d.period[i]}"))
    service_cell = ((d.service * S + d.service_site) * G + d.service_type) * T + d.service_period
    for i in _repeats(service_cell):
        found.append(Violation("duplicate_row", facts.services[d.service[i]], f"services[{d.service_row[i]}]: a "
                               f"second row at '{facts.sites[d.service_site[i]]}' / "
                               f"{facts.gpu_types[d.service_type[i]]} in period {d.service_period[i]}"))
    return found


def _repeats(cells: np.ndarray) -> np.ndarray:
    """Positions of every row whose cell an earlier row already has."""
    _, first = np.unique(cells, return_index=True)
    repeated = np.ones(len(cells), dtype=bool)
    repeated[first] = False
    return np.flatnonzero(repeated)


def capacity(facts: ScheduleFacts, ev: ScheduleEvaluation, tol: float) -> list[Violation]:
    """Rule 4: busy GPUs <= nodes_on x gpn; nodes_on <= cap_nodes; nodes_on == cap_nodes where
    the site cannot power nodes off."""
    on, cap = ev.power.nodes_on, facts.cap_nodes
    room = on * facts.gpn[:, :, None]
    busy = ev.power.busy
    found = []

    def cell(s, g, _t) -> str:
        return f"{facts.sites[s]}/{facts.gpu_types[g]}"

    for s, g, t in zip(*np.nonzero(busy > room)):
        found.append(Violation("capacity", cell(s, g, t), f"period {t}: {busy[s, g, t]:g} GPUs busy "
                               f"({ev.power.job_gpus[s, g, t]:g} jobs + {ev.power.service_gpus[s, g, t]:g} "
                               f"services), {on[s, g, t]} nodes on hold {room[s, g, t]}"))
    for s, g, t in zip(*np.nonzero(on > cap)):
        found.append(Violation("capacity", cell(s, g, t), f"period {t}: {on[s, g, t]} nodes on, "
                               f"{cap[s, g, t]} available"))
    always_on = ~facts.power_off[:, None, None] & (on != cap)
    for s, g, t in zip(*np.nonzero(always_on & (on <= cap))):
        found.append(Violation("power_off", cell(s, g, t), f"period {t}: {on[s, g, t]} of {cap[s, g, t]} "
                               f"nodes on, but site '{facts.sites[s]}' cannot power nodes off"))
    return found


def work(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 5: no rows after the finish period; every required job finishes."""
    d, progress = ev.decisions, ev.progress
    done = np.bincount(d.job, weights=progress.work, minlength=len(facts.jobs))
    found = [Violation("after_finish", facts.jobs[d.job[i]], f"placements[{d.placement_row[i]}]: period "
                       f"{d.period[i]} after the job finished in period {progress.finish_period[d.job[i]]}")
             for i in np.flatnonzero(progress.after_finish)]
    for j in np.flatnonzero(facts.required & ~progress.finished):
        needed = facts.work_gpu_hours[j] + facts.restart_overhead_gpu_hours[j] * progress.resumes[j]
        found.append(Violation("required", facts.jobs[j], f"required but unfinished: {done[j]:.6g} of "
                               f"{needed:.6g} GPU-hours of work done"))
    return found


def contiguity(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 6: a non-preemptible job's rows occupy consecutive periods, on one site, GPU type and
    power mode."""
    d, resumes = ev.decisions, ev.progress.resumes
    found = [Violation("contiguous", facts.jobs[j], f"not preemptible, yet it resumes {resumes[j]} time(s)")
             for j in np.flatnonzero(~facts.preemptible & (resumes > 0))]
    rows = pd.DataFrame({"job": d.job, "site": d.site, "gpu_type": d.gpu_type, "mode": d.mode})
    rows = rows[~facts.preemptible[rows.job.to_numpy()]] if len(rows) else rows
    if len(rows):
        ways = rows.drop_duplicates().groupby("job").size()
        found += [Violation("contiguous", facts.jobs[j], f"not preemptible, yet it runs {n} ways (site, GPU type, "
                            "power mode) over its run") for j, n in ways[ways > 1].items()]
    return found


def migration(facts: ScheduleFacts, ev: ScheduleEvaluation) -> list[Violation]:
    """Rule 7: a non-migratable job runs at one site (in every period: a gang split over sites
    that never changes them is no migration, yet two sites)."""
    d = ev.decisions
    sites_used = np.zeros((len(facts.jobs), len(facts.sites)), dtype=bool)
    sites_used[d.job, d.site] = True
    moving = np.flatnonzero(~facts.migratable & ((ev.progress.migrations > 0) | (sites_used.sum(axis=1) > 1)))
    rows = np.isin(d.job, moving)
    sites_of = pd.Series(d.site[rows]).groupby(d.job[rows]).unique() if rows.any() else {}
    return [Violation("migration", facts.jobs[j], "not migratable, yet it runs at "
                      + ", ".join(sorted(facts.sites[s] for s in sites_of[j]))) for j in moving]


def service_demand(facts: ScheduleFacts, ev: ScheduleEvaluation, tol: float) -> list[Violation]:
    """Rule 8: a hard service's demand is served in every period."""
    short = facts.hard_services[:, None] & (ev.unmet > tol)  # absolute, as the contract says
    return [Violation("service_demand", facts.services[v], f"period {t}: {ev.served[v, t]:.6g} of "
                      f"{facts.demand[v, t]:.6g} reference GPUs served; the demand is hard")
            for v, t in zip(*np.nonzero(short))]


def grid_limit(facts: ScheduleFacts, ev: ScheduleEvaluation, tol: float) -> list[Violation]:
    """Rule 9: facility power within the site's grid limit."""
    limit = facts.grid_limit
    kw = ev.power.facility_kw
    over = np.isfinite(limit) & (kw > limit + _slack(np.where(np.isfinite(limit), limit, 0.0), tol))
    return [Violation("grid_limit", facts.sites[s], f"period {t}: {kw[s, t]:.6g} kW facility power, "
                      f"limit {limit[s, t]:.6g} kW") for s, t in zip(*np.nonzero(over))]
