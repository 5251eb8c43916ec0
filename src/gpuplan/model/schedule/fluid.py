"""The fluid relaxation of the schedule: a compact LP whose optimum bounds every plan from below
(above, for a maximized objective), for instances whose exact model is too large to solve.

What it keeps and what it relaxes (models/schedule.md, "Large instances"):

- a job's work per period on a pool (site, GPU type) is one column ``effective[j, p, t]`` in
  [0, 1]: the share of a full-speed gang-period it gets done. Power modes are chosen per pool,
  not per job: ``mode_gpus[s, g, m, t]`` GPUs run jobs in mode m, and the work the jobs do on a
  pool is at most what those GPUs deliver (sum_j n_j effective_j <= sum_m beta_m mode_gpus_m).
  Every plan maps into it (effective = beta of the job's mode while it runs, mode_gpus = the
  GPUs of the jobs in each mode), so its LP optimum is a valid bound;
- one gang per period, completion (``done``, monotone) and progress, the window, tardiness,
  required jobs and job value are as in the exact model;
- dropped, each a relaxation: contiguity of non-preemptible jobs, restart overhead and cost,
  one site per job and migration cost (they only add work or cost to a plan).

Services, nodes and the energy block are the exact model's blocks, unchanged; with their
integers relaxed the LP has one job column per (job, pool, period) instead of one per (job,
site, type, mode, period) plus the begin binaries of every start.
"""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from ...index.schedule import ScheduleIndex, mode_fractions, power_modes
from ..build import BuiltModel, InfeasibleInstance
from ..objective import add_objective
from .jobs import Occupancy, _can_finish
from .nodes import add_nodes
from .services import add_services


def pools_of(job, modes_of: dict[str, dict[str, float]]) -> dict[tuple[str, str], tuple[int, float]]:
    """(site, GPU type) -> (GPUs, work per period at full speed) of ``job``'s options."""
    pools = {}
    for option in job.options:
        beta = modes_of[option.gpu_type][option.mode]
        pools.setdefault((option.site, option.gpu_type), (option.gpus, option.work / beta))
    return pools


def build_fluid(idx: ScheduleIndex, objective: str, sense: str, weights) -> BuiltModel:
    """The fluid relaxation as a Pyomo model (jobs relaxed; services, nodes, energy exact blocks)."""
    from ..energy import add_energy

    built = BuiltModel(pyo.ConcreteModel(name=f"{idx.instance.name or 'schedule'} fluid"), idx, objective, sense)
    add_fluid_jobs(built)
    add_services(built)
    add_nodes(built)
    add_energy(built)
    add_objective(built, weights(built))
    return built


def add_fluid_jobs(built) -> None:
    idx: ScheduleIndex = built.index
    m = built.model
    for job in idx.jobs:
        if job.required and not _can_finish(job):
            raise InfeasibleInstance(f"required job '{job.id}' cannot finish in its window on any option")
    betas = mode_fractions(idx)
    jobs = [job for job in idx.jobs if job.options and job.periods]
    pools = {job.id: pools_of(job, betas) for job in jobs}
    plans = {job.id: job for job in jobs}

    keys = [(j.id, s, g, t) for j in jobs for (s, g) in pools[j.id] for t in j.periods]
    period_keys = [(j.id, t) for j in jobs for t in j.periods]
    m.fluid_keys = pyo.Set(initialize=keys, dimen=4, doc="(job, site, GPU type, allowed period)")
    m.fluid_periods = pyo.Set(initialize=period_keys, dimen=2, doc="(job, allowed period)")
    m.effective = pyo.Var(m.fluid_keys, bounds=(0, 1), doc="share of a full-speed gang-period of work done")
    m.done = pyo.Var(m.fluid_periods, bounds=(0, 1), doc="the job has finished by the end of the period")
    m.progress = pyo.Var(m.fluid_periods, within=pyo.NonNegativeReals, doc="reference GPU-hours done by the period's end")

    on = defaultdict(list)          # (job, t) -> its effective columns
    on_pool = defaultdict(list)     # (s, g, t) -> (GPUs, column) of the jobs there
    for j, s, g, t in keys:
        var = m.effective[j, s, g, t]
        on[j, t].append((pools[j][s, g][1], var))
        on_pool[s, g, t].append((pools[j][s, g][0], var))
    previous = {(j.id, t): (j.id, j.periods[i - 1]) if i else None for j in jobs for i, t in enumerate(j.periods)}

    m.fluid_one_gang = pyo.Constraint(
        m.fluid_periods, doc="at most one gang-period of work per period, none once finished",
        rule=lambda m, j, t: sum(v for _, v in on[j, t]) + (m.done[previous[j, t]] if previous[j, t] else 0) <= 1)
    m.fluid_later = pyo.Set(initialize=[k for k in period_keys if previous[k]], dimen=2, doc="(job, later period)")
    m.fluid_done_stays = pyo.Constraint(m.fluid_later, doc="a finished job stays finished",
                                        rule=lambda m, j, t: m.done[j, t] >= m.done[previous[j, t]])
    m.fluid_progress = pyo.Constraint(
        m.fluid_periods, doc="work done so far",
        rule=lambda m, j, t: m.progress[j, t] == (m.progress[previous[j, t]] if previous[j, t] else 0)
        + sum(rate * v for rate, v in on[j, t]))
    m.fluid_work_done = pyo.Constraint(m.fluid_periods, doc="finished only once the work is done",
                                       rule=lambda m, j, t: m.progress[j, t] >= plans[j].work * m.done[j, t])

    # Power modes per pool: GPUs in each mode deliver beta of a full GPU's work.
    gpu_types = {g.id: g for g in idx.instance.gpu_types}
    modes = {g: list(ms) for g, ms in betas.items()}
    alpha = {g: {mode.id: mode.power_fraction for mode in ms} for g, ms in power_modes(idx.instance).items()}
    mode_keys = [(s, g, mode, t) for (s, g, t) in sorted(on_pool) for mode in modes[g]]
    m.pool_mode_keys = pyo.Set(initialize=mode_keys, dimen=4, doc="(site, GPU type, power mode, period) with jobs")
    m.mode_gpus = pyo.Var(m.pool_mode_keys, within=pyo.NonNegativeReals, doc="GPUs running jobs in the mode")
    m.pool_periods = pyo.Set(initialize=sorted(on_pool), dimen=3, doc="(site, GPU type, period) with jobs")
    m.fluid_delivered = pyo.Constraint(
        m.pool_periods, doc="jobs' work on a pool within what its GPUs deliver in their modes",
        rule=lambda m, s, g, t: sum(n * v for n, v in on_pool[s, g, t])
        <= sum(betas[g][mode] * m.mode_gpus[s, g, mode, t] for mode in modes[g]))
    use = defaultdict(list)
    for s, g, mode, t in mode_keys:
        kw = gpu_types[g].power_w * alpha[g][mode] / 1000
        use[s, g].append(Occupancy(1, kw, m.mode_gpus[s, g, mode, t], t, t))
    built.job_use = use

    finished = {j.id: m.done[j.id, j.periods[-1]] for j in jobs}
    required = [job.id for job in idx.jobs if job.required]
    m.required_jobs = pyo.Set(initialize=required, doc="jobs that must finish")
    m.job_required = pyo.Constraint(m.required_jobs, rule=lambda m, j: finished.get(j, 0) == 1,
                                    doc="a required job finishes")
    built.add_term("job_value", sum(job.value * finished[job.id] for job in jobs if job.value))
    built.add_term("tardiness_cost", sum(
        job.finish_cost[t] * (m.done[job.id, t] - (m.done[previous[job.id, t]] if previous[job.id, t] else 0))
        for job in jobs for t in job.periods if job.finish_cost[t]))
    built.fluid_pools = pools
