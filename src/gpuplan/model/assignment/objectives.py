"""The assignment's objectives: their senses, the weight of each named term, and what a job's
value means for the losses (see the Objectives table in models/assignment.md)."""

from __future__ import annotations

from ...instance.schema import ASSIGNMENT_OBJECTIVES

SENSE = ASSIGNMENT_OBJECTIVES

# Tie-break weight of the fairness objective, divided by the cluster's usable GPUs so that all
# tie-breaks together stay far below one unit of the minimum share.
FAIRNESS_TIEBREAK = 1e-3


def objective_weights(objective: str, usable_gpus: int) -> dict[str, float]:
    """Term name -> weight for ``objective``."""
    if objective == "throughput":
        return {"throughput": 1.0, "cross_site_loss": -1.0, "mixed_type_loss": -1.0,
                "migration_cost": -1.0, "preemption_cost": -1.0}
    if objective == "cost":
        return {"job_cost": 1.0, "cross_site_loss": 1.0, "mixed_type_loss": 1.0,
                "migration_cost": 1.0, "preemption_cost": 1.0}
    if objective == "utilization":
        return {"allocated_gpus": 1.0, "migration_cost": -1.0, "preemption_cost": -1.0}
    if objective == "fairness":
        tie = FAIRNESS_TIEBREAK / max(1, usable_gpus)
        return {"min_tenant_share": 1.0, "allocated_gpus": tie, "migration_cost": -tie,
                "preemption_cost": -tie}
    raise ValueError(f"unknown objective '{objective}' (expected one of {', '.join(SENSE)})")


def value_kind(objective: str) -> str | None:
    """What a job's value V_j means for the losses: throughput, cost, or nothing to lose."""
    return {"throughput": "throughput", "cost": "cost"}.get(objective)
