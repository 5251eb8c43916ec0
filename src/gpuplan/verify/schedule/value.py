"""The value of a schedule: objective terms, objectives, KPIs and the derived tables jobs,
services and energy, from the decisions alone (schedule contract, "Power and terms").

:func:`evaluate` values any decisions of known ids and never checks validity (the rules do).
Decisions the contract leaves open, taken here:

- a row's work and power use the ``gpus`` it carries (rule 3 reports a wrong gang size);
- a job is *late* when it finishes after its due time by more than 1e-9 h; ``tardiness_h`` is
  ``max(0, finish_h - due_h)`` for a finished job (0 without a due time), NaN for an unfinished
  one; restart and migration costs count for every job with rows, finished or not;
- ``deadline_misses``: required jobs left unfinished plus jobs finishing after their deadline
  (both impossible in a valid solution); a non-required job left unfinished is no miss;
- ``gpu_utilization`` is 0 when the capacity has no GPU-hours; ``mean_pue`` None at 0 IT energy;
- the services table has one row per service row, with ``served`` that row's own
  ``gpus * capacity_per_gpu``; the (service, period)'s demand and unmet demand are split over
  its rows in proportion to what each serves (equally when none serves anything), so every
  column sums right over any grouping; a period with demand and no row gets one row with
  ``site`` and ``gpu_type`` empty and 0 GPUs;
- the energy table's ``grid_limit_kw`` is NaN where the site has no limit in that period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import GpuplanError
from ..claims import ObjectiveValue
from .decisions import Decisions, coded_decisions
from .facts import ScheduleFacts, schedule_facts
from .power import Power, site_power, wakes
from .progress import NONE, Progress, job_progress

# the registry names evaluate and schedule_facts here (value:evaluate, value:schedule_facts)
__all__ = ["ScheduleEvaluation", "evaluate", "schedule_facts", "weights", "SENSE", "TERMS", "KPIS"]

SENSE = {"cost": "min", "carbon": "min", "value": "max"}
TERMS = ("energy_cost", "demand_charge", "carbon_kg", "carbon_cost", "tardiness_cost", "unmet_service_cost",
         "restart_cost", "migration_cost", "wake_cost", "job_value")
COST_TERMS = tuple(t for t in TERMS if t not in ("carbon_kg", "job_value"))
KPIS = ("energy_mwh", "it_energy_mwh", "energy_cost", "carbon_t", "mean_pue", "peak_kw", "finished_jobs",
        "late_jobs", "unfinished_jobs", "deadline_misses", "gpu_hours", "gpu_utilization", "unmet_gpu_hours")
LATE_TOL = 1e-9  # hours
JOB_COLUMNS = ["job", "state", "site", "start", "finish", "tardiness_h", "gpu_hours", "resumes", "migrations"]
SERVICE_COLUMNS = ["service", "site", "gpu_type", "period", "demand", "served", "unmet", "gpus"]
ENERGY_COLUMNS = ["site", "period", "it_kw", "pue", "facility_kw", "grid_limit_kw", "price_per_kwh",
                  "energy_cost", "carbon_kg", "busy_gpus", "capacity_gpus", "gpu_utilization"]


def weights(objective: str) -> dict[str, float]:
    """Each term's weight in ``objective``: cost = every cost term 1 and job_value -1; carbon =
    carbon_kg 0.001 (tonnes); value = job_value 1; all other weights 0."""
    if objective not in SENSE:
        raise GpuplanError(f"unknown objective '{objective}' for the schedule (known: {', '.join(SENSE)})")
    if objective == "cost":
        return {t: 1.0 if t in COST_TERMS else (-1.0 if t == "job_value" else 0.0) for t in TERMS}
    if objective == "carbon":
        return {t: 1e-3 if t == "carbon_kg" else 0.0 for t in TERMS}
    return {t: 1.0 if t == "job_value" else 0.0 for t in TERMS}


@dataclass(frozen=True, eq=False)
class ScheduleEvaluation:
    terms: dict[str, float]
    kpis: dict[str, float | None]
    jobs: pd.DataFrame
    services: pd.DataFrame
    energy: pd.DataFrame
    # what the rules read
    decisions: Decisions = field(repr=False)
    power: Power = field(repr=False)
    progress: Progress = field(repr=False)
    served: np.ndarray = field(repr=False)  # [service, period]
    unmet: np.ndarray = field(repr=False)  # [service, period]

    @staticmethod
    def weights(objective: str) -> dict[str, float]:
        return weights(objective)

    def objective_value(self, objective: str) -> float:
        w = weights(objective)
        return float(sum(w[t] * self.terms[t] for t in TERMS))

    def valued(self, objective: str) -> ObjectiveValue:
        """The objective's name, sense, value and (weight, value) terms, as the claims read them."""
        w = weights(objective)
        return ObjectiveValue(objective_name=objective, sense=SENSE[objective],
                              objective=self.objective_value(objective),
                              terms={t: (w[t], self.terms[t]) for t in TERMS})


def evaluate(facts: ScheduleFacts, placements, services, nodes_on) -> ScheduleEvaluation:
    """Value decisions (DataFrames or lists of mappings, see :mod:`.decisions`). ``facts`` may
    also be the Instance (its facts are derived then)."""
    if not isinstance(facts, ScheduleFacts):
        facts = schedule_facts(facts)
    d = coded_decisions(facts, placements, services, nodes_on)
    power = site_power(facts, d)
    progress = job_progress(facts, d)
    served = _served(facts, d)
    unmet = np.maximum(0.0, facts.demand - served)
    jobs = _jobs_table(facts, progress)
    terms = _terms(facts, power, progress, unmet)
    return ScheduleEvaluation(
        terms=terms, kpis=_kpis(facts, power, jobs, progress, unmet, terms), jobs=jobs,
        services=_services_table(facts, d, served, unmet), energy=_energy_table(facts, power),
        decisions=d, power=power, progress=progress, served=served, unmet=unmet,
    )


def _served(facts: ScheduleFacts, d: Decisions) -> np.ndarray:
    V, T = len(facts.services), facts.periods
    carried = d.service_gpus * facts.capacity_per_gpu[d.service, d.service_type]
    served = np.bincount(d.service * T + d.service_period, weights=carried, minlength=V * T)
    return served.astype(float).reshape(V, T)  # float even without rows


def _tardiness_h(facts: ScheduleFacts, progress: Progress) -> np.ndarray:
    """max(0, finish_h - due_h) of finished jobs (0 without due time), NaN when unfinished."""
    finish_h = np.where(progress.finished, (progress.finish_period + 1) * facts.period_hours, np.nan)
    late_by = np.where(np.isnan(facts.due_h), 0.0, np.maximum(0.0, finish_h - np.nan_to_num(facts.due_h)))
    return np.where(progress.finished, late_by, np.nan)


def _terms(facts: ScheduleFacts, power: Power, progress: Progress, unmet: np.ndarray) -> dict[str, float]:
    h = facts.period_hours
    energy_kwh = power.facility_kw * h
    carbon_kg = float((energy_kwh * facts.carbon).sum() / 1000.0)
    finished = progress.finished
    tardiness = np.nan_to_num(_tardiness_h(facts, progress))
    soft = ~facts.hard_services
    values = {
        "energy_cost": float((energy_kwh * facts.price).sum()),
        "demand_charge": float((facts.demand_charge_per_kw * power.facility_kw.max(axis=1, initial=0.0)).sum()),
        "carbon_kg": carbon_kg,
        "carbon_cost": carbon_kg / 1000.0 * facts.carbon_price_per_t,
        "tardiness_cost": float((facts.tardiness_cost_per_h * tardiness)[finished].sum()),
        "unmet_service_cost": float((unmet[soft] * h * facts.unmet_cost_per_gpu_hour[soft, None]).sum()),
        "restart_cost": float((facts.restart_cost * progress.resumes).sum()),
        "migration_cost": float((facts.migration_cost * progress.migrations).sum()),
        "wake_cost": float((facts.wake_cost_per_node[:, None, None] * wakes(facts, power.nodes_on)).sum()),
        "job_value": float(facts.value[finished].sum()),
    }
    return {t: values[t] for t in TERMS}


def _kpis(facts, power: Power, jobs: pd.DataFrame, progress: Progress, unmet, terms) -> dict[str, float | None]:
    h = facts.period_hours
    it_mwh = float(power.it_kw.sum() * h / 1000.0)
    facility_mwh = float(power.facility_kw.sum() * h / 1000.0)
    busy_gpu_h = float(power.busy.sum() * h)
    capacity_gpu_h = float(facts.cap_gpus.sum() * h)
    finish_h = (progress.finish_period + 1) * h
    after_deadline = progress.finished & ~np.isnan(facts.deadline_h) & (
        finish_h > np.nan_to_num(facts.deadline_h) + LATE_TOL)
    unfinished = ~progress.finished
    return {
        "energy_mwh": facility_mwh,
        "it_energy_mwh": it_mwh,
        "energy_cost": terms["energy_cost"],
        "carbon_t": terms["carbon_kg"] / 1000.0,
        "mean_pue": facility_mwh / it_mwh if it_mwh > 0 else None,
        "peak_kw": float(power.facility_kw.sum(axis=0).max(initial=0.0)),
        "finished_jobs": float(progress.finished.sum()),
        "late_jobs": float((jobs.state == "late").sum()),
        "unfinished_jobs": float(unfinished.sum()),
        "deadline_misses": float((unfinished & facts.required).sum() + after_deadline.sum()),
        "gpu_hours": busy_gpu_h,
        "gpu_utilization": busy_gpu_h / capacity_gpu_h if capacity_gpu_h > 0 else 0.0,
        "unmet_gpu_hours": float(unmet.sum() * h),
    }


def _jobs_table(facts: ScheduleFacts, progress: Progress) -> pd.DataFrame:
    h = facts.period_hours
    finished = progress.finished
    tardiness = _tardiness_h(facts, progress)
    late = finished & (tardiness > LATE_TOL)
    sites = np.array(facts.sites + (None,), dtype=object)  # position NONE (-1) reads None
    ran = progress.start_period != NONE
    return pd.DataFrame({
        "job": list(facts.jobs),
        "state": np.where(~finished, "unfinished", np.where(late, "late", "done")),
        "site": sites[progress.first_site],
        "start": np.where(ran, progress.start_period * h, np.nan),
        "finish": np.where(finished, (progress.finish_period + 1) * h, np.nan),
        "tardiness_h": tardiness,
        "gpu_hours": progress.gpu_hours,
        "resumes": progress.resumes,
        "migrations": progress.migrations,
    }, columns=JOB_COLUMNS)


def _services_table(facts: ScheduleFacts, d: Decisions, served: np.ndarray, unmet: np.ndarray) -> pd.DataFrame:
    T = facts.periods
    cell = d.service * T + d.service_period
    carried = d.service_gpus * facts.capacity_per_gpu[d.service, d.service_type]
    rows_in_cell = np.bincount(cell, minlength=served.size)[cell]
    total = served.reshape(-1)[cell]
    share = np.divide(carried, total, out=1.0 / np.maximum(rows_in_cell, 1), where=total > 0)
    rows = pd.DataFrame({
        "service": np.array(facts.services, dtype=object)[d.service],
        "site": np.array(facts.sites, dtype=object)[d.service_site],
        "gpu_type": np.array(facts.gpu_types, dtype=object)[d.service_type],
        "period": d.service_period,
        "demand": facts.demand.reshape(-1)[cell] * share,
        "served": carried,
        "unmet": unmet.reshape(-1)[cell] * share,
        "gpus": d.service_gpus,
        "_position": d.service,
    })
    without_rows = (facts.demand > 0) & (np.bincount(cell, minlength=served.size).reshape(served.shape) == 0)
    v, t = np.nonzero(without_rows)
    alone = pd.DataFrame({
        "service": np.array(facts.services, dtype=object)[v], "site": None, "gpu_type": None, "period": t,
        "demand": facts.demand[v, t], "served": 0.0, "unmet": unmet[v, t], "gpus": 0, "_position": v,
    })
    both = pd.concat([rows, alone], ignore_index=True) if len(alone) else rows
    both = both.sort_values(["_position", "period"], kind="stable")
    return both[SERVICE_COLUMNS].reset_index(drop=True)


def _energy_table(facts: ScheduleFacts, power: Power) -> pd.DataFrame:
    S, T, h = len(facts.sites), facts.periods, facts.period_hours
    energy_kwh = power.facility_kw * h
    busy, capacity = power.busy.sum(axis=1), facts.cap_gpus.sum(axis=1)   # [site, period], over GPU types
    return pd.DataFrame({
        "site": np.repeat(np.array(facts.sites, dtype=object), T),
        "period": np.tile(np.arange(T), S),
        "it_kw": power.it_kw.reshape(-1),
        "pue": facts.pue.reshape(-1),
        "facility_kw": power.facility_kw.reshape(-1),
        "grid_limit_kw": np.where(np.isinf(facts.grid_limit), np.nan, facts.grid_limit).reshape(-1),
        "price_per_kwh": facts.price.reshape(-1),
        "energy_cost": (energy_kwh * facts.price).reshape(-1),
        "carbon_kg": (energy_kwh * facts.carbon / 1000.0).reshape(-1),
        "busy_gpus": busy.reshape(-1),
        "capacity_gpus": capacity.reshape(-1),
        # utilization by site and hour; 0 where the site has no GPUs in the period (as the KPI)
        "gpu_utilization": np.divide(busy, capacity, out=np.zeros(busy.shape), where=capacity > 0).reshape(-1),
    }, columns=ENERGY_COLUMNS)
