"""The value of a placement: job states, what each job is worth, objective terms and KPIs.

Re-implemented from models/assignment.md ("A solution", "What a placed job is worth",
"Objectives", "KPIs"). :func:`evaluate` values any placement and never checks validity; the
greedy heuristic uses it to value its own placements, :func:`~gpuplan.verify.verify` to
recompute what a solution claims.

GPUs held are summed exactly in thousandths (a sharing job holds s_j/1000 of a GPU) and
reported as floats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ...errors import GpuplanError
from ...instance.schema import ASSIGNMENT_OBJECTIVES, Instance
from .facts import MILLI, Facts, JobFacts, as_gpus, instance_facts

SENSE = ASSIGNMENT_OBJECTIVES
STATES = ("placed", "unplaced", "kept", "migrated", "preempted")
RUNS = ("placed", "kept", "migrated")  # the states of a job that runs
TIE_BREAK = 1e-3  # fairness: weight of the tie-break terms, per usable GPU

Row = tuple[str, str, int, "int | None"]  # (job, node, gpus, gpu_index)
JobRow = tuple[str, int, "int | None"]  # (node, gpus, gpu_index) of one job


@dataclass(frozen=True)
class JobValue:
    """One job's state and worth. ``gpus`` is what the job holds: the ``gpus`` of its rows, or
    s_j/1000 (a float) for a sharing job, 0 for a CPU-only job. ``throughput`` / ``cost`` are
    effective (after losses), from the split the objective prefers; where several splits are
    equally good for the objective, the other quantity may lie anywhere in its ``*_range``."""

    job: str
    tenant: str
    state: str
    gpus: int | float
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
    tenant_gpus: dict[str, float]  # H_t
    terms: dict[str, tuple[float, float]]  # term -> (weight, value)
    objective: float
    kpis: dict[str, float]
    kpi_ranges: dict[str, tuple[float, float]]  # KPIs that depend on a tie in the split
    tenant_rows: tuple[dict, ...] = field(repr=False, default=())
    pool_rows: tuple[dict, ...] = field(repr=False, default=())
    tenant_milli: dict[str, int] = field(repr=False, default_factory=dict)  # H_t in milli (exact)

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
    def job_gpus(self) -> dict[str, int | float]:
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
    """Value ``placements`` under ``objective`` (default: the instance's). Rows are
    (job, node, gpus) or (job, node, gpus, gpu_index) tuples, mappings with those keys
    (``gpu_index`` optional), or a DataFrame with those columns (``gpu_index`` optional, NaN or
    None for none). Validity is not checked. ``facts`` (from :func:`instance_facts` of the same
    instance) saves re-deriving them when valuing many placements of one instance."""
    facts = facts or instance_facts(instance)
    return evaluate_rows(facts, placement_rows(placements), objective or facts.objective)


def placement_rows(placements) -> list[Row]:
    if isinstance(placements, pd.DataFrame):
        jobs = placements["job"].tolist()
        nodes = placements["node"].tolist()
        gpus = [int(g) for g in placements["gpus"].tolist()]
        if "gpu_index" in placements.columns:
            column = placements["gpu_index"]
            missing = column.isna().tolist()
            index = [None if gone else int(i) for i, gone in zip(column.tolist(), missing)]
        else:
            index = [None] * len(jobs)
        return list(zip(jobs, nodes, gpus, index))
    rows = []
    for row in placements:
        if isinstance(row, Mapping):
            rows.append((row["job"], row["node"], int(row["gpus"]), _index(row.get("gpu_index"))))
        elif len(row) == 4:
            job, node, gpus, index = row
            rows.append((job, node, int(gpus), _index(index)))
        else:
            job, node, gpus = row
            rows.append((job, node, int(gpus), None))
    return rows


def _index(value) -> int | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    return None if pd.isna(value) else int(value)


def evaluate_rows(facts: Facts, rows: Iterable, objective: str) -> Evaluation:
    """Value rows (job, node, gpus[, gpu_index]) of known jobs and nodes."""
    if objective not in SENSE:
        raise GpuplanError(f"unknown objective '{objective}' (known: {', '.join(SENSE)})")
    by_job = group_rows(facts, rows)
    values = {}
    tenant_milli = {tenant: 0 for tenant in facts.tenants}
    for jid, job in facts.jobs.items():
        job_rows = by_job.get(jid, ())
        values[jid] = _job_value(facts, job, job_rows, objective)
        if job_rows:
            milli = job.held_milli(sum(gpus for _, gpus, _ in job_rows))
            tenant_milli[job.tenant] = tenant_milli.get(job.tenant, 0) + milli
    tenant_gpus = {t: as_gpus(milli) for t, milli in tenant_milli.items()}
    terms = _terms(facts, values, tenant_milli, objective)
    usage = NodeUsage.of(facts, by_job)
    kpis, kpi_ranges = _kpis(facts, values, tenant_milli, usage)
    return Evaluation(
        objective_name=objective,
        sense=SENSE[objective],
        jobs=values,
        tenant_gpus=tenant_gpus,
        terms=terms,
        objective=sum(weight * value for weight, value in terms.values()),
        kpis=kpis,
        kpi_ranges=kpi_ranges,
        tenant_rows=tuple(_tenant_rows(facts, values, tenant_milli)),
        pool_rows=tuple(_pool_rows(facts, usage)),
        tenant_milli=tenant_milli,
    )


def group_rows(facts: Facts, rows: Iterable) -> dict[str, list[JobRow]]:
    """Rows (job, node, gpus[, gpu_index]) by job, as (node, gpus, gpu_index)."""
    by_job: dict[str, list[JobRow]] = defaultdict(list)
    jobs, nodes = facts.jobs, facts.nodes
    for row in rows:
        if len(row) == 4:
            job, node, gpus, index = row
        else:
            (job, node, gpus), index = row, None
        if job not in jobs:
            raise GpuplanError(f"placement row names unknown job '{job}'")
        if node not in nodes:
            raise GpuplanError(f"placement row of job '{job}' names unknown node '{node}'")
        by_job[job].append((node, gpus, index))
    return dict(by_job)


def job_state(job: JobFacts, rows) -> str:
    """The state its rows (node, gpus, gpu_index) give a job."""
    if not job.running:
        return "placed" if rows else "unplaced"
    if not rows:
        return "preempted"
    return "kept" if job.same_rows(rows) else "migrated"


# ---------------------------------------------------------------- one job


def _job_value(facts: Facts, job: JobFacts, rows, objective: str) -> JobValue:
    state = job_state(job, rows)
    if not rows:
        return JobValue(job.id, job.tenant, state, 0)
    total = sum(gpus for _, gpus, _ in rows)
    held = as_gpus(job.held_milli(total)) if job.sharing else job.held_milli(total) // MILLI
    if job.cpu_only:  # worth nothing
        return JobValue(job.id, job.tenant, state, held)
    nodes = [facts.nodes[node] for node, _, _ in rows]
    if job.sharing:  # worth its option on the type it shares: coverage 1
        cover = {node.gpu_type: 1.0 for node in nodes if node.gpu_type in job.options}
    else:
        held_on: Counter[str] = Counter()
        for node, (_, gpus, _) in zip(nodes, rows):
            held_on[node.gpu_type] += gpus
        cover = {g: held / job.options[g].gpus for g, held in held_on.items() if g in job.options}
    best, other = _splits(job, cover, objective)
    raw_t = [sum(job.options[g].throughput * u for g, u in split.items()) for split in (best, other)]
    raw_c = [sum(job.options[g].cost_per_hour * u for g, u in split.items()) for split in (best, other)]
    spans = len({node.site for node in nodes}) >= 2
    mixes = len({node.gpu_type for node in nodes if node.gpu_type is not None}) >= 2
    loss = facts.cross_site_penalty * spans + facts.mixed_type_penalty * mixes
    eff_t = [t * (1 - loss) for t in raw_t]
    eff_c = [c * (1 + loss) for c in raw_c]
    return JobValue(
        job=job.id,
        tenant=job.tenant,
        state=state,
        gpus=held,
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


def _terms(facts: Facts, values: dict[str, JobValue], tenant_milli: dict[str, int], objective: str):
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
    allocated = as_gpus(sum(tenant_milli.values()))
    if objective == "utilization":
        return {
            "allocated_gpus": (1.0, allocated),
            "migration_cost": (-1.0, migration),
            "preemption_cost": (-1.0, preemption),
        }
    tie = TIE_BREAK / (facts.usable_gpus or 1)
    return {
        "min_tenant_share": (1.0, min_tenant_share(facts, {t: as_gpus(m) for t, m in tenant_milli.items()})),
        "allocated_gpus": (tie, allocated),
        "migration_cost": (-tie, migration),
        "preemption_cost": (-tie, preemption),
    }


def _demand_milli(facts: Facts) -> dict[str, int]:
    if facts.demand_milli is not None:
        return facts.demand_milli
    return {t: round(d * MILLI) for t, d in facts.demand.items()}


def entitlements(facts: Facts) -> dict[str, float]:
    """E_t = min(D_t, M_t, GPUs * w_t / sum w) over the tenants with demand (M_t: the cap)."""
    demand = _demand_milli(facts)
    wanting = [t for t in facts.tenants.values() if demand.get(t.id, 0) > 0]
    total_weight = sum(t.weight for t in wanting)
    no_cap = float("inf")
    return {t.id: min(facts.demand[t.id], no_cap if t.max_gpus is None else t.max_gpus,
                      facts.usable_gpus * t.weight / total_weight) for t in wanting}


def min_tenant_share(facts: Facts, tenant_gpus: dict[str, float]) -> float:
    """min_t min(1, H_t / E_t) over tenants with demand; 1 when no tenant has demand, and a
    tenant with zero entitlement (no usable GPUs) counts as fully served."""
    shares = [
        min(1.0, tenant_gpus.get(t, 0) / e) if e > 0 else 1.0 for t, e in entitlements(facts).items()
    ]
    return min(shares, default=1.0)


# ---------------------------------------------------------------- KPIs


@dataclass
class NodeUsage:
    """What the rows put on each node: GPUs held (milli; sharing rows s_j, CPU-only rows 0),
    the nodes some job runs on, and the GPUs (node, gpu_index) sharing jobs use."""

    held_milli: dict[str, int]
    occupied: set[str]
    shared: set[tuple[str, int]]

    @classmethod
    def of(cls, facts: Facts, by_job: dict[str, list[JobRow]]) -> NodeUsage:
        held: dict[str, int] = defaultdict(int)
        shared: set[tuple[str, int]] = set()
        for job_id, rows in by_job.items():
            job = facts.jobs[job_id]
            for node, gpus, index in rows:
                held[node] += job.held_milli(gpus)
                if job.sharing and index is not None:
                    shared.add((node, index))
        return cls(dict(held), set(held), shared)

    def free_milli(self, node) -> int:
        """C_n - R_n minus the GPUs its jobs hold, in milli (negative when over-used)."""
        return (node.gpus - node.reserved_gpus) * MILLI - self.held_milli.get(node.id, 0)

    def fragmented_milli(self, node) -> int:
        """Free GPU capacity of a node where some job runs or GPUs are reserved and some GPU
        capacity is free (0 otherwise)."""
        if node.id not in self.occupied and not node.reserved_gpus:
            return 0
        return max(0, self.free_milli(node))


def _kpis(facts: Facts, values: dict[str, JobValue], tenant_milli: dict[str, int], usage: NodeUsage):
    usable = facts.usable_gpus
    allocated = as_gpus(sum(tenant_milli.values()))
    counts = Counter(v.state for v in values.values())
    weighted = [(facts.jobs[v.job].priority, v) for v in values.values() if v.state in RUNS]
    nodes = facts.nodes
    fragmented = sum(usage.fragmented_milli(nodes[n]) for n in usage.occupied)
    fragmented += sum(
        usage.fragmented_milli(node) for node in nodes.values() if node.reserved_gpus and node.id not in usage.occupied
    )
    free_nodes = sum(1 for node in nodes.values() if not node.reserved_gpus and node.id not in usage.occupied)
    kpis = {
        "usable_gpus": float(usable),
        "allocated_gpus": allocated,
        "gpu_utilization": allocated / usable if usable else 0.0,
        "fragmented_gpus": as_gpus(fragmented),
        "shared_gpus": float(len(usage.shared)),
        "free_nodes": float(free_nodes),
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


def _tenant_rows(facts: Facts, values: dict[str, JobValue], tenant_milli: dict[str, int]):
    usable = facts.usable_gpus
    placed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    throughput: dict[str, float] = defaultdict(float)
    for v in values.values():
        total[v.tenant] += 1
        placed[v.tenant] += v.state in RUNS
        throughput[v.tenant] += facts.jobs[v.job].priority * v.throughput
    for tenant in facts.tenants.values():
        held = as_gpus(tenant_milli.get(tenant.id, 0))
        yield {
            "tenant": tenant.id,
            "gpus": held,
            "share": held / usable if usable else 0.0,
            "floor": tenant.guaranteed_gpus,
            "cap": tenant.max_gpus,
            "demand": facts.demand[tenant.id],
            "jobs_placed": placed[tenant.id],
            "jobs": total[tenant.id],
            "weighted_throughput": throughput[tenant.id],
        }


def _pool_rows(facts: Facts, usage: NodeUsage):
    held = usage.held_milli
    for pool in facts.pools.values():
        usable = sum(node.usable_gpus for node in pool.nodes)
        allocated = as_gpus(sum(held.get(node.id, 0) for node in pool.nodes))
        yield {
            "pool": pool.id,
            "nodes": len(pool.nodes),
            "gpus": pool.gpus_per_node * len(pool.nodes),
            "allocated": allocated,
            "free": as_gpus(sum(max(0, usage.free_milli(node)) for node in pool.nodes)),
            "fragmented": as_gpus(sum(usage.fragmented_milli(node) for node in pool.nodes)),
            "utilization": allocated / usable if usable else 0.0,
        }
