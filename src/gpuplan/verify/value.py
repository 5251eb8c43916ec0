"""The value of a placement: job states, what each job is worth, objective terms and KPIs.

Re-implemented from models/assignment.md ("A solution", "What a placed job is worth",
"Objectives", "KPIs"). :func:`evaluate` values any placement and never checks validity; the
greedy heuristic uses it to value its own placements, :func:`~gpuplan.verify.verify` to
recompute what a solution claims.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..errors import GpuplanError
from ..instance.schema import Instance
from .facts import Facts, JobFacts, instance_facts

SENSE = {"throughput": "max", "cost": "min", "utilization": "max", "fairness": "max"}
STATES = ("placed", "unplaced", "kept", "migrated", "preempted")
RUNS = ("placed", "kept", "migrated")  # the states of a job that holds GPUs
TIE_BREAK = 1e-3  # fairness: weight of the tie-break terms, per usable GPU

Row = tuple[str, str, int]  # (job, node, gpus)


@dataclass(frozen=True)
class JobValue:
    """One job's state and worth. ``throughput`` / ``cost`` are effective (after losses), from
    the split the objective prefers; where several splits are equally good for the objective,
    the other quantity may lie anywhere in its ``*_range``."""

    job: str
    tenant: str
    state: str
    gpus: int
    raw_throughput: float = 0.0
    raw_cost: float = 0.0
    spans_sites: bool = False
    mixes_types: bool = False
    loss: float = 0.0  # lambda_site + lambda_mix
    throughput: float = 0.0
    cost: float = 0.0
    throughput_range: tuple[float, float] = (0.0, 0.0)
    cost_range: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Evaluation:
    objective_name: str
    sense: str
    jobs: dict[str, JobValue]
    tenant_gpus: dict[str, int]  # H_t
    terms: dict[str, tuple[float, float]]  # term -> (weight, value)
    objective: float
    kpis: dict[str, float]
    kpi_ranges: dict[str, tuple[float, float]]  # KPIs that depend on a tie in the split
    tenant_rows: tuple[dict, ...] = field(repr=False, default=())
    pool_rows: tuple[dict, ...] = field(repr=False, default=())

    @property
    def states(self) -> dict[str, str]:
        return {job: value.state for job, value in self.jobs.items()}

    @property
    def throughput(self) -> dict[str, float]:
        return {job: value.throughput for job, value in self.jobs.items()}

    @property
    def cost(self) -> dict[str, float]:
        return {job: value.cost for job, value in self.jobs.items()}

    @property
    def job_gpus(self) -> dict[str, int]:
        return {job: value.gpus for job, value in self.jobs.items()}

    def job_table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(value) for value in self.jobs.values()])

    def tenant_table(self) -> pd.DataFrame:
        """Per tenant: GPUs held, share of usable GPUs, floor, cap, demand, jobs placed / total,
        weighted throughput."""
        return pd.DataFrame(list(self.tenant_rows))

    def pool_table(self) -> pd.DataFrame:
        """Per pool: nodes, GPUs, allocated, free, fragmented, utilization."""
        return pd.DataFrame(list(self.pool_rows))


def evaluate(instance: Instance, placements, *, objective: str | None = None, facts: Facts | None = None) -> Evaluation:
    """Value ``placements`` ((job, node, gpus) tuples or a DataFrame with those columns) under
    ``objective`` (default: the instance's). Validity is not checked. ``facts`` (from
    :func:`instance_facts` of the same instance) saves re-deriving them when valuing many
    placements of one instance."""
    facts = facts or instance_facts(instance)
    return evaluate_rows(facts, placement_rows(placements), objective or facts.objective)


def placement_rows(placements) -> list[Row]:
    if isinstance(placements, pd.DataFrame):
        table = placements[["job", "node", "gpus"]]
        return [(job, node, int(gpus)) for job, node, gpus in table.itertuples(index=False)]
    rows = []
    for row in placements:
        if isinstance(row, Mapping):
            row = (row["job"], row["node"], row["gpus"])
        job, node, gpus = row
        rows.append((job, node, int(gpus)))
    return rows


def evaluate_rows(facts: Facts, rows: Iterable[Row], objective: str) -> Evaluation:
    if objective not in SENSE:
        raise GpuplanError(f"unknown objective '{objective}' (known: {', '.join(SENSE)})")
    by_job = group_rows(facts, rows)
    values = {jid: _job_value(facts, job, by_job.get(jid, []), objective) for jid, job in facts.jobs.items()}
    tenant_gpus = {tenant: 0 for tenant in facts.tenants}
    for value in values.values():
        tenant_gpus[value.tenant] = tenant_gpus.get(value.tenant, 0) + value.gpus
    terms = _terms(facts, values, tenant_gpus, objective)
    node_used = _node_used(facts, by_job)
    kpis, kpi_ranges = _kpis(facts, values, node_used)
    return Evaluation(
        objective_name=objective,
        sense=SENSE[objective],
        jobs=values,
        tenant_gpus=tenant_gpus,
        terms=terms,
        objective=sum(weight * value for weight, value in terms.values()),
        kpis=kpis,
        kpi_ranges=kpi_ranges,
        tenant_rows=tuple(_tenant_rows(facts, values, tenant_gpus)),
        pool_rows=tuple(_pool_rows(facts, by_job, node_used)),
    )


def group_rows(facts: Facts, rows: Iterable[Row]) -> dict[str, list[tuple[str, int]]]:
    by_job: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for job, node, gpus in rows:
        if job not in facts.jobs:
            raise GpuplanError(f"placement row names unknown job '{job}'")
        if node not in facts.nodes:
            raise GpuplanError(f"placement row of job '{job}' names unknown node '{node}'")
        by_job[job].append((node, gpus))
    return dict(by_job)


def job_state(job: JobFacts, rows: list[tuple[str, int]]) -> str:
    if not job.running:
        return "placed" if rows else "unplaced"
    if not rows:
        return "preempted"
    return "kept" if tuple(sorted(rows)) == job.current else "migrated"


# ---------------------------------------------------------------- one job


def _job_value(facts: Facts, job: JobFacts, rows: list[tuple[str, int]], objective: str) -> JobValue:
    state = job_state(job, rows)
    if not rows:
        return JobValue(job.id, job.tenant, state, 0)
    nodes = [facts.nodes[node] for node, _ in rows]
    held_on: Counter[str] = Counter()
    for node, gpus in rows:
        held_on[facts.nodes[node].gpu_type] += gpus
    cover = {g: held / job.options[g].gpus for g, held in held_on.items() if g in job.options}
    best, other = _splits(job, cover, objective)
    raw_t = [sum(job.options[g].throughput * u for g, u in split.items()) for split in (best, other)]
    raw_c = [sum(job.options[g].cost_per_hour * u for g, u in split.items()) for split in (best, other)]
    spans = len({node.site for node in nodes}) >= 2
    mixes = len({node.gpu_type for node in nodes}) >= 2
    loss = facts.cross_site_penalty * spans + facts.mixed_type_penalty * mixes
    eff_t = [t * (1 - loss) for t in raw_t]
    eff_c = [c * (1 + loss) for c in raw_c]
    return JobValue(
        job=job.id,
        tenant=job.tenant,
        state=state,
        gpus=sum(gpus for _, gpus in rows),
        raw_throughput=raw_t[0],
        raw_cost=raw_c[0],
        spans_sites=spans,
        mixes_types=mixes,
        loss=loss,
        throughput=eff_t[0],
        cost=eff_c[0],
        throughput_range=(min(eff_t), max(eff_t)),
        cost_range=(min(eff_c), max(eff_c)),
    )


def _splits(job: JobFacts, cover: dict[str, float], objective: str) -> tuple[dict, dict]:
    """The objective's best split of the work, twice: ties in the objective's quantity broken
    for and against the other quantity (the range the other quantity may take)."""
    speed = {g: job.options[g].throughput for g in cover}
    price = {g: job.options[g].cost_per_hour for g in cover}
    if objective == "cost":  # cheapest first
        best = sorted(cover, key=lambda g: (price[g], -speed[g], g))
        other = sorted(cover, key=lambda g: (price[g], speed[g], g))
    else:  # fastest first
        best = sorted(cover, key=lambda g: (-speed[g], price[g], g))
        other = sorted(cover, key=lambda g: (-speed[g], -price[g], g))
    return _fill(cover, best), _fill(cover, other)


def _fill(cover: dict[str, float], order: list[str]) -> dict[str, float]:
    """Fractional knapsack: u_g = coverage of each type in order until the work sums to 1. A job
    whose coverage is below 1 (possible only for an invalid placement, or a kept job running
    short-handed) is valued for the part it covers."""
    left, split = 1.0, {}
    for g in order:
        split[g] = min(cover[g], left)
        left -= split[g]
        if left <= 0:
            break
    return split


# ---------------------------------------------------------------- objective terms


def _terms(facts: Facts, values: dict[str, JobValue], tenant_gpus: dict[str, int], objective: str):
    running = [v for v in values.values() if v.state in RUNS]
    migration = float(sum(facts.jobs[v.job].migration_cost for v in values.values() if v.state == "migrated"))
    preemption = float(sum(facts.jobs[v.job].preemption_cost for v in values.values() if v.state == "preempted"))
    if objective in ("throughput", "cost"):
        sign = 1.0 if objective == "cost" else -1.0
        main = "job_cost" if objective == "cost" else "throughput"
        if objective == "cost":
            raw = {v.job: v.raw_cost for v in running}
        else:
            raw = {v.job: facts.jobs[v.job].priority * v.raw_throughput for v in running}
        return {
            main: (1.0, float(sum(raw.values()))),
            "cross_site_loss": (sign, facts.cross_site_penalty * sum(raw[v.job] for v in running if v.spans_sites)),
            "mixed_type_loss": (sign, facts.mixed_type_penalty * sum(raw[v.job] for v in running if v.mixes_types)),
            "migration_cost": (sign, migration),
            "preemption_cost": (sign, preemption),
        }
    allocated = float(sum(tenant_gpus.values()))
    if objective == "utilization":
        return {
            "allocated_gpus": (1.0, allocated),
            "migration_cost": (-1.0, migration),
            "preemption_cost": (-1.0, preemption),
        }
    tie = TIE_BREAK / (facts.usable_gpus or 1)
    return {
        "min_tenant_share": (1.0, min_tenant_share(facts, tenant_gpus)),
        "allocated_gpus": (tie, allocated),
        "migration_cost": (-tie, migration),
        "preemption_cost": (-tie, preemption),
    }


def entitlements(facts: Facts) -> dict[str, float]:
    """E_t = min(D_t, GPUs * w_t / sum w) over the tenants with demand."""
    wanting = [t for t in facts.tenants.values() if facts.demand[t.id] > 0]
    total_weight = sum(t.weight for t in wanting)
    return {t.id: min(facts.demand[t.id], facts.usable_gpus * t.weight / total_weight) for t in wanting}


def min_tenant_share(facts: Facts, tenant_gpus: dict[str, int]) -> float:
    """min_t min(1, H_t / E_t) over tenants with demand; 1 when no tenant has demand, and a
    tenant with zero entitlement (no usable GPUs) counts as fully served."""
    shares = [
        min(1.0, tenant_gpus.get(t, 0) / e) if e > 0 else 1.0 for t, e in entitlements(facts).items()
    ]
    return min(shares, default=1.0)


# ---------------------------------------------------------------- KPIs


def _node_used(facts: Facts, by_job: dict[str, list[tuple[str, int]]]) -> dict[str, int]:
    used = {node_id: node.reserved_gpus for node_id, node in facts.nodes.items()}
    for rows in by_job.values():
        for node, gpus in rows:
            used[node] += gpus
    return used


def _kpis(facts: Facts, values: dict[str, JobValue], used: dict[str, int]):
    usable = facts.usable_gpus
    allocated = sum(v.gpus for v in values.values())
    counts = Counter(v.state for v in values.values())
    weighted = [(facts.jobs[v.job].priority, v) for v in values.values() if v.state in RUNS]
    kpis = {
        "usable_gpus": float(usable),
        "allocated_gpus": float(allocated),
        "gpu_utilization": allocated / usable if usable else 0.0,
        "fragmented_gpus": float(sum(_fragmented(facts.nodes[n].gpus, u) for n, u in used.items())),
        "free_nodes": float(sum(1 for u in used.values() if u == 0)),
        "weighted_throughput": sum(w * v.throughput for w, v in weighted),
        **{f"{state}_jobs": float(counts[state]) for state in STATES},
    }
    ranges = {
        "weighted_throughput": (
            sum(w * v.throughput_range[0] for w, v in weighted),
            sum(w * v.throughput_range[1] for w, v in weighted),
        )
    }
    return kpis, ranges


def _fragmented(gpus: int, used: int) -> int:
    """Free GPUs of a node where some GPUs are held or reserved and some are free."""
    return gpus - used if 0 < used < gpus else 0


def _tenant_rows(facts: Facts, values: dict[str, JobValue], tenant_gpus: dict[str, int]):
    usable = facts.usable_gpus
    for tenant in facts.tenants.values():
        jobs = [v for v in values.values() if v.tenant == tenant.id]
        yield {
            "tenant": tenant.id,
            "gpus": tenant_gpus.get(tenant.id, 0),
            "share": tenant_gpus.get(tenant.id, 0) / usable if usable else 0.0,
            "floor": tenant.guaranteed_gpus,
            "cap": tenant.max_gpus,
            "demand": facts.demand[tenant.id],
            "jobs_placed": sum(1 for v in jobs if v.state in RUNS),
            "jobs": len(jobs),
            "weighted_throughput": sum(facts.jobs[v.job].priority * v.throughput for v in jobs),
        }


def _pool_rows(facts: Facts, by_job: dict[str, list[tuple[str, int]]], used: dict[str, int]):
    held: Counter[str] = Counter()
    for rows in by_job.values():
        for node, gpus in rows:
            held[node] += gpus
    for pool in facts.pools.values():
        usable = sum(node.usable_gpus for node in pool.nodes)
        allocated = sum(held[node.id] for node in pool.nodes)
        yield {
            "pool": pool.id,
            "nodes": len(pool.nodes),
            "gpus": pool.gpus_per_node * len(pool.nodes),
            "allocated": allocated,
            "free": sum(max(0, node.gpus - used[node.id]) for node in pool.nodes),
            "fragmented": sum(_fragmented(node.gpus, used[node.id]) for node in pool.nodes),
            "utilization": allocated / usable if usable else 0.0,
        }
