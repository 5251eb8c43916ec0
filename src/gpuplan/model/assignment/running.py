"""Running jobs: keep each where it is, or let it go (migrate or preempt, see jobs.py)."""

from __future__ import annotations

import pyomo.environ as pyo

from .objectives import value_kind


def add_running(built) -> None:
    m, idx, instance = built.model, built.index, built.instance
    options = instance.options
    priority = {job.id: job.priority for job in instance.jobs}
    m.RUNNING = pyo.Set(initialize=sorted(idx.running), ordered=True, doc="running jobs")
    m.keep = pyo.Var(m.RUNNING, domain=pyo.Binary, doc="running job stays where it is")

    runs = [idx.running[r] for r in m.RUNNING]
    built.add_term("throughput", sum(priority[r.job] * r.throughput * m.keep[r.job] for r in runs))
    built.add_term("job_cost", sum(r.cost * m.keep[r.job] for r in runs))
    built.add_term("allocated_gpus", sum(r.gpus * m.keep[r.job] for r in runs))
    kind = value_kind(built.objective)
    if kind is not None:
        for name, flag, penalty in (
            ("cross_site_loss", "spans_sites", options.cross_site_penalty),
            ("mixed_type_loss", "mixes_types", options.mixed_type_penalty),
        ):
            built.add_term(name, sum(
                _loss_weight(kind, priority[r.job]) * penalty * _value(r, kind) * m.keep[r.job]
                for r in runs if getattr(r, flag)
            ))


def _value(run, kind: str) -> float:
    return run.throughput if kind == "throughput" else run.cost


def _loss_weight(kind: str, priority: float) -> float:
    """Throughput losses are weighted by priority like throughput; cost losses are not."""
    return priority if kind == "throughput" else 1.0
