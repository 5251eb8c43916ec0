"""Why a job does not run: structural reasons from the index, then quota, capacity or objective
judged against the final placement."""

from __future__ import annotations

from collections import defaultdict

from . import ClusterState, job_options, still_fits
from ...index.assignment import AssignmentIndex


def smallest_need(idx: AssignmentIndex, job_id: str) -> float:
    """Fewest GPUs the job needs in any way it could run (the demand rule of the Rules)."""
    run = idx.running.get(job_id)
    job = idx.instance_job(job_id)
    if run is not None and not run.migratable:
        return run.gpus
    if job.fractional or job.cpu_only:
        return job.gpu_share_milli / 1000 if job.fractional else 0.0
    needs = [pair.size for pair in idx.pack_pairs_of_job(job_id)]
    if job_id in idx.span:
        needs += list(idx.span[job_id].need.values())
    if run is not None:
        needs.append(run.gpus)
    return min(needs)


def unplaced_reasons(idx: AssignmentIndex, rows, not_running: list[str]) -> dict[str, str]:
    """Reason for each job in ``not_running`` (unplaced or preempted) given the final ``rows``."""
    if not not_running:
        return {}
    state = ClusterState(idx, list(rows))
    held = defaultdict(float)
    for row in rows:
        job = idx.instance_job(row.job)
        held[job.tenant] += job.gpu_share_milli / 1000 if row.gpu_index is not None else row.gpus
    caps = {t.id: t.max_gpus for t in idx.instance.tenants}
    reasons = {}
    for job_id in not_running:
        if job_id in idx.reasons:
            reasons[job_id] = idx.reasons[job_id]
            continue
        tenant = idx.instance_job(job_id).tenant
        if caps[tenant] is not None and held[tenant] + smallest_need(idx, job_id) > caps[tenant]:
            reasons[job_id] = "quota"
        elif job_options(idx, state, job_id, idx.pack_pairs_of_job(job_id), "utilization") or _fits_where_it_was(idx, state, job_id):
            reasons[job_id] = "objective"
        else:
            reasons[job_id] = "capacity"
    return reasons


def _fits_where_it_was(idx, state, job_id: str) -> bool:
    run = idx.running.get(job_id)
    return run is not None and still_fits(state, idx.instance_job(job_id), run)
