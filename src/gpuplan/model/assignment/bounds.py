"""A bound that needs no solver: used when the solver stops before it has one of its own
(e.g. a time limit inside presolve), so that every result still carries a proven bound."""

from __future__ import annotations

from .objectives import FAIRNESS_TIEBREAK


def trivial_bound(idx, objective: str) -> float:
    """Valid for the whole problem: no solution can beat it.

    throughput: every job that could run at its best option, no losses or costs;
    cost: every required job not yet running at its cheapest option (costs are non-negative);
    utilization: every usable GPU busy; fairness: full shares and every GPU busy."""
    jobs = [idx.instance_job(j) for j in idx.jobs]
    if objective == "throughput":
        return sum(job.best_worth for job in jobs)  # a CPU-only job is worth nothing
    if objective == "cost":
        # A running job kept on fewer GPUs than an option asks for costs that share of it, so
        # only required jobs that are not running yet count (at their cheapest option).
        return sum(min((option.cost_per_hour for option in job.gpu_options), default=0.0)
                   for job in jobs if job.required and job.id not in idx.running)
    if objective == "utilization":
        return float(idx.usable_gpus)
    if objective == "fairness":
        return 1.0 + FAIRNESS_TIEBREAK
    raise ValueError(f"unknown objective '{objective}'")
