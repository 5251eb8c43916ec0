"""What the verifier reports: one :class:`Violation` per broken rule, and the error raising them."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GpuplanError

# Every rule code the verifier reports, with what it means (models/assignment.md, Rules).
RULES: dict[str, str] = {
    "format": "the solution is malformed (a missing key, a value of the wrong type, a bad row: gpus not "
    "a non-negative integer, gpu_index neither empty nor a non-negative integer)",
    "status": "a solution without a solution status (infeasible, unbounded, error) has placements, or "
    "status 'optimal' comes with a gap above the mip_gap the solution records",
    "unknown_job": "a row or a jobs[] entry names a job the instance does not have",
    "unknown_node": "a row names a node the instance does not have",
    "gpu_type": "a row's gpu_type is not the GPU type of its node",
    "node_capacity": "rule 1: reserved GPUs plus the GPUs held whole plus the GPUs shared (distinct "
    "GPU indices of sharing rows) exceed a node's GPUs",
    "gpu_share": "rule 1: the sharing jobs on one GPU (node and gpu_index) need more than 1000 milli",
    "node_cpu": "rule 1: the jobs with a row on a node need more CPU (cpu_milli) than the node has",
    "node_memory": "rule 1: the jobs with a row on a node need more host memory (host_memory_mib) than "
    "the node has",
    "sharing": "a row's gpu_index does not fit its job (A solution, rule 4): a sharing job's row names "
    "no GPU or one outside 0..C_n-1, or a non-sharing job's row names one (checked on every row)",
    "eligibility": "rule 3: a node's GPU type is not an option of the job or has too little memory (or "
    "the node is CPU-only), or a CPU-only job runs on a node that accounts for neither CPU nor memory",
    "gang_single_node": "rule 4: a job on one node holds other than its GPU count there (1 for a sharing "
    "job, 0 for a CPU-only job), a job that fits in one node is spread over several, or a sharing or "
    "CPU-only job runs on several nodes",
    "whole_node": "rules 1 and 5: a multi-node job holds part of a node or shares one, or a node a kept "
    "multi-node job holds whole runs another job",
    "coverage": "rule 5: a multi-node job's nodes do not cover its GPU need",
    "redundant_node": "rule 5: a multi-node job could drop a node and still be covered",
    "scope": "rule 5: a multi-node job's nodes break its topology scope",
    "mixed_types": "rule 5: a job mixes GPU types without allow_mixed_types",
    "duplicate_row": "rule 6: a job holds GPUs on one node in more than one row",
    "running_rules": "rule 7: a non-migratable job is moved or a non-preemptible job stopped",
    "required": "rule 8: a required job does not run",
    "tenant_cap": "rule 9: a tenant holds more GPUs than its cap (a sharing job holds s_j/1000)",
    "tenant_floor": "rule 9: a tenant holds fewer GPUs than min(guaranteed, demand)",
    "state": "a job's claimed state is not the one its rows give, or a job is missing from jobs[]",
    "reason": "a job's unplaced reason is missing, unknown or wrong",
    "job_value": "a job's claimed tenant, GPUs (s_j/1000 for a sharing job), throughput or cost is wrong",
    "objective_term": "an objective term is missing, unknown, or has a wrong weight, value or "
    "contribution",
    "objective": "the objective (or its sense) is not the one the placement gives",
    "kpi": "a KPI is missing or wrong",
    "bound": "the objective lies beyond the bound, or the gap does not match them",
}

# The schedule's codes (schedule contract, Rules). A code the assignment already has keeps its
# one entry, extended by the schedule's meaning: a code names one kind of failure in every
# problem (a row for an unknown job, an ineligible row, a required job left out), so reports
# and filters read the same across problems; a prefix would split one failure into two names.
_SCHEDULE_ALSO: dict[str, str] = {
    "format": "schedule: a row is not a mapping or lacks a column, or a count (period, gpus, nodes) is "
    "not a non-negative integer (within 1e-6)",
    "status": "schedule: a solution without a solution status has placements, services or nodes_on rows",
    "unknown_job": "schedule: a placement row names a training job the instance does not have",
    "eligibility": "schedule rules 2 and 8: a placement row at a site the job may not use, on a GPU type "
    "that is no option of the job, or in a period outside its release / deadline window; a service row "
    "at a site the service may not use or on a type that is no option of it",
    "duplicate_row": "schedule rule 3: two placement rows of one job in one period, two service rows of "
    "one service at one (site, GPU type, period), or two nodes_on rows for one (site, GPU type, period)",
    "required": "schedule rule 5: a required training job does not finish",
}
for _code, _meaning in _SCHEDULE_ALSO.items():
    RULES[_code] += f"; {_meaning}"

RULES.update({
    "unknown_site": "a schedule row names a site the instance does not have",
    "unknown_gpu_type": "a schedule row names a GPU type the instance does not have",
    "unknown_service": "a schedule service row names a service the instance does not have",
    "unknown_period": "a schedule row's period is outside the time grid 0..T-1",
    "power_mode": "schedule rule 1: a placement row's power_mode is missing or not a mode of its GPU type",
    "gang": "schedule rule 3: a placement row's gpus is not the job's GPU count on its GPU type",
    "capacity": "schedule rule 4: job and service GPUs exceed nodes_on x gpus_per_node at a (site, GPU type, "
    "period), or nodes_on exceeds the nodes available there",
    "power_off": "schedule rule 4: nodes_on differs from the nodes available at a site whose facility "
    "cannot power nodes off",
    "after_finish": "schedule rule 5: a training job has rows after the period in which it finished",
    "contiguous": "schedule rule 6: a non-preemptible training job pauses and resumes",
    "migration": "schedule rule 7: a non-migratable training job runs at more than one site",
    "service_demand": "schedule rule 8: a hard service (no unmet cost) is not fully served in a period",
    "grid_limit": "schedule rule 9: a site's facility power exceeds its grid limit in a period",
})


@dataclass(frozen=True)
class Violation:
    rule: str  # a key of RULES
    entity: str  # the job / node / tenant / term concerned ("" if none)
    message: str  # one readable line

    def __str__(self) -> str:
        where = f" '{self.entity}'" if self.entity else ""
        return f"[{self.rule}]{where}: {self.message}"


class VerificationError(GpuplanError):
    """A solution breaks the rules; ``violations`` lists every problem found."""

    SHOWN = 5

    def __init__(self, violations: list[Violation]):
        self.violations = list(violations)
        lines = [str(v) for v in self.violations[: self.SHOWN]]
        hidden = len(self.violations) - self.SHOWN
        if hidden > 0:
            lines.append(f"... and {hidden} more violation{'s' if hidden > 1 else ''}")
        super().__init__("\n".join(lines))
