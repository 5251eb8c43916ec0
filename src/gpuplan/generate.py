"""Synthetic assignment instances: heterogeneous GPU clusters and trace-like job mixes.

:func:`assignment_instance` builds a cluster of several sites, pods and GPU types and a queue
of jobs whose sizes, GPU-type speed-ups, memory needs, tenants and running placements follow
published traces (sources next to each constant below). The same arguments always give the
same instance (``numpy.random.default_rng(seed)``), so a dumped file is byte-identical.

Rounding of the cluster size: the cluster is built from 8-GPU units (one 8-GPU node, or two
4-GPU inference nodes), ``round(gpus / 8)`` of them (at least one), so the capacity is exactly
``gpus`` when it is a multiple of 8 and the nearest multiple of 8 otherwise.

Feasibility by construction (the defaults keep a wide margin; :func:`assignment_instance`
documents the rules): required jobs are small, run on every GPU type present and together
need at most 2% of the GPUs; running jobs fill ``running_fraction`` of the GPUs with a valid
current placement, so the non-preemptible ones can stay where they are; tenant floors are at
most half of what the tenant's single-node jobs need and sum to at most 30% of the GPUs; caps
leave room for the floor plus everything the tenant must run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .instance.io import dump
from .instance.nodes import generated_node_ids
from .instance.schema import SCHEMA_VERSION, Instance


# ---------------------------------------------------------------- reference data


@dataclass(frozen=True)
class GpuSpec:
    """A GPU type the generator can put in a cluster.

    ``speed`` is the throughput of one GPU relative to an H100 for a job of median
    heterogeneity (rough dense BF16 training ratios, moderated by memory bandwidth); a job's
    own spread scales it (see :data:`GAVEL_V100_K80_SPEEDUPS`). ``fleet_share`` is the share of
    the cluster's GPUs of this type. ``cuda`` is False for chips that need a ported software
    stack (only some jobs may use them).
    """

    id: str
    memory_gb: float
    power_w: float
    idle_power_w: float
    gpus_per_node: int
    speed: float
    price_per_gpu_hour: float
    fleet_share: float
    cuda: bool = True


# Board powers from vendor data sheets (DESIGN.md: H100 SXM 700 W, A800 SXM 400 W); idle
# powers ~15-20% of board power (Acme CDFs); prices are rent in CNY per GPU-hour, in line with
# the seed report's 200-300k CNY per day for 1,000 GPUs (~8-12 CNY per GPU-hour).
GPU_CATALOG: tuple[GpuSpec, ...] = (
    GpuSpec("H100", 80, 700, 120, 8, speed=1.00, price_per_gpu_hour=12.0, fleet_share=0.35),
    GpuSpec("A800", 80, 400, 70, 8, speed=0.45, price_per_gpu_hour=8.0, fleet_share=0.25),
    GpuSpec("910B", 64, 400, 80, 8, speed=0.40, price_per_gpu_hour=6.0, fleet_share=0.20, cuda=False),
    GpuSpec("H20", 96, 400, 70, 8, speed=0.35, price_per_gpu_hour=7.0, fleet_share=0.16),
    # 4-GPU PCIe inference nodes; only small jobs may use them.
    GpuSpec("L40S", 48, 350, 60, 4, speed=0.30, price_per_gpu_hour=5.0, fleet_share=0.04),
)
INFERENCE_TYPE = "L40S"

# GPUs per job. Production traces (data/traces/acme/cluster_summary.csv: Acme Seren/Kalos,
# Philly, Helios, PAI; Hu et al., NSDI'24, CC BY 4.0) have median 1 GPU, a long tail up to
# 1,024 (2,048 on Helios) and a mean of 5.7 (Seren) to 26.8 (Kalos) GPUs per job. These
# weights give median 1 and mean 14.0 (between the two Acme clusters); 88% of jobs fit in
# one 8-GPU node. Sizes above the largest pool are dropped and the rest renormalized, then
# the weights are tilted to meet the requested load (see _size_weights).
JOB_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
JOB_SIZE_WEIGHTS: tuple[float, ...] = (
    0.600, 0.080, 0.080, 0.120, 0.040, 0.030, 0.020, 0.015, 0.008, 0.004, 0.003,
)

# V100 / K80 throughput ratio of Gavel's 26 single-GPU job configurations
# (data/traces/gavel/isolated_throughputs.csv; Narayanan et al., OSDI'20, MIT licence).
# A job draws one; its speed-up exponent is log(ratio) / log(median ratio), so a job with
# the median ratio sees the catalog speeds, ResNet-18 (11.6x) a spread 1.75 times wider, and
# the input-bound recommendation models (measured *slower* on V100) are clipped to a nearly
# flat profile: a newer GPU is never slower here.
GAVEL_V100_K80_SPEEDUPS: tuple[float, ...] = (
    2.09, 8.77, 3.43, 3.78, 3.93, 4.28, 4.66, 0.66, 0.72, 0.74, 0.71, 1.05, 9.96,
    6.75, 11.63, 4.17, 3.42, 7.19, 4.95, 6.30, 7.10, 5.55, 2.02, 3.48, 3.03, 4.92,
)
SPREAD_MIN, SPREAD_MAX = 0.25, 1.75

# East-Data-West-Computing style sites (id, short prefix of pod ids).
SITE_NAMES: tuple[tuple[str, str], ...] = (
    ("beijing", "bj"), ("ulanqab", "uq"), ("guiyang", "gy"), ("qingyang", "qy"),
    ("zhongwei", "zw"), ("wuhu", "wh"), ("shaoguan", "sg"), ("hohhot", "hh"),
)
TENANT_NAMES: tuple[str, ...] = (
    "llm-pretrain", "search", "ads", "multimodal", "speech", "recsys", "research", "interns",
)

POD_GPUS = 4096  # target GPUs per pod (network domain); 2-8 pods per site
MAX_PODS_PER_SITE = 8
SCALING_EFFICIENCY = 0.9  # throughput kept when a job runs on twice the GPUs of a slower type
REQUIRED_SHARE_MAX = 0.02  # required jobs need at most this share of the GPUs
FLOOR_SHARE_MAX = 0.30  # tenant floors sum to at most this share of the GPUs
CAP_SLACK_GPUS = 64  # a cap leaves at least this much room above floor + must-run work


# ---------------------------------------------------------------- public API


def assignment_instance(
    gpus: int,
    jobs: int,
    seed: int,
    *,
    load: float = 1.3,
    running_fraction: float = 0.3,
    sites: int | None = None,
    tenants: int | None = None,
    required_fraction: float = 0.01,
    inference_nodes: bool = True,
    name: str | None = None,
) -> Instance:
    """A synthetic assignment instance with about ``gpus`` GPUs and exactly ``jobs`` jobs.

    Knobs:

    - ``load``: GPUs requested by all jobs (at their fastest type) / cluster GPUs; default
      1.3, so the optimizer must choose. Met within ~2% when ``jobs`` allows it: the mean job
      size is ``load * gpus / jobs``; for trace-like mixes (median 1, mean 5-27) pick
      ``jobs`` near ``load * gpus / 14``.
    - ``running_fraction``: share of the GPUs already busy with running jobs (0 to 0.9).
    - ``sites``: number of sites (at most one per 8 GPUs); default 1 below 1,000 GPUs, 2
      below 10,000, 3 below 50,000, else 4 (6 from 200,000). Each site has 2-8 pods of about
      4,096 GPUs; a pod holds one or two GPU types, so pools stay few (~40 at 100,000 GPUs).
    - ``tenants``: number of tenants, 1-8; default 3-8 growing with the cluster.
    - ``required_fraction``: share of jobs that must run (small jobs only, at most 2% of GPUs).
    - ``inference_nodes``: add a few 4-GPU L40S nodes (clusters of 256 GPUs or more).
    - ``name``: instance name; default ``synthetic-<gpus>g-<jobs>j-s<seed>``.
    """
    _check_arguments(gpus, jobs, load, running_fraction, sites, tenants, required_fraction)
    rng = np.random.default_rng(seed)
    units = max(1, int(gpus / 8 + 0.5))
    capacity = 8 * units
    n_sites = min(units, sites if sites is not None else _default_sites(capacity))
    cluster = _build_cluster(rng, units, n_sites, inference_nodes)
    queue = _build_jobs(rng, cluster, jobs, load * capacity, required_fraction)
    running = _place_running(rng, cluster, queue, running_fraction * capacity)
    n_tenants = tenants if tenants is not None else _default_tenants(capacity)
    tenant_rows, owners = _build_tenants(rng, cluster, queue, running, n_tenants)
    call = (
        f"gpuplan.generate.assignment_instance(gpus={gpus}, jobs={jobs}, seed={seed}, load={load}, "
        f"running_fraction={running_fraction}, sites={sites}, tenants={tenants}, "
        f"required_fraction={required_fraction}, inference_nodes={inference_nodes})"
    )
    return Instance.model_validate({
        "schema_version": SCHEMA_VERSION,
        "name": name or f"synthetic-{gpus}g-{jobs}j-s{seed}",
        "description": (
            f"Synthetic cluster and job mix from {call}. Job sizes after the Acme/Philly/Helios "
            f"trace summaries (Hu et al., NSDI'24), GPU-type speed-ups after Gavel (Narayanan et "
            f"al., OSDI'20)."
        ),
        **_cluster_rows(cluster),
        "tenants": tenant_rows,
        "jobs": _job_rows(queue, running, owners),
        "current_placements": [
            {"job": queue.ids[j], "node": node, "gpus": n} for j, node, n in running.rows
        ],
    })


def write_assignment(path: str | Path, gpus: int, jobs: int, seed: int, **knobs) -> Instance:
    """Generate with :func:`assignment_instance` and write it (JSON, or YAML by the suffix)."""
    instance = assignment_instance(gpus, jobs, seed, **knobs)
    dump(instance, path)
    return instance


# ---------------------------------------------------------------- arguments and defaults


def _check_arguments(gpus, jobs, load, running_fraction, sites, tenants, required_fraction) -> None:
    for label, value in (("gpus", gpus), ("jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{label} must be an integer, not {value!r}")
    if gpus < 4:
        raise ValueError(f"gpus must be at least 4 (one 8-GPU node), not {gpus}")
    if jobs < 0:
        raise ValueError(f"jobs must be non-negative, not {jobs}")
    if not load > 0:
        raise ValueError(f"load must be positive, not {load}")
    if not 0 <= running_fraction <= 0.9:
        raise ValueError(f"running_fraction must be in [0, 0.9], not {running_fraction}")
    if sites is not None and not 1 <= sites <= 64:
        raise ValueError(f"sites must be in 1..64, not {sites}")
    if tenants is not None and not 1 <= tenants <= len(TENANT_NAMES):
        raise ValueError(f"tenants must be in 1..{len(TENANT_NAMES)}, not {tenants}")
    if not 0 <= required_fraction <= 0.2:
        raise ValueError(f"required_fraction must be in [0, 0.2], not {required_fraction}")


def _default_sites(capacity: int) -> int:
    if capacity < 1_000:
        return 1
    if capacity < 10_000:
        return 2
    if capacity < 50_000:
        return 3
    return 4 if capacity < 200_000 else 6


def _default_tenants(capacity: int) -> int:
    if capacity <= 1_000:
        return 3
    return min(len(TENANT_NAMES), 3 + round(math.log2(capacity / 1_000)))


def _site_name(i: int) -> tuple[str, str]:
    return SITE_NAMES[i] if i < len(SITE_NAMES) else (f"site-{i}", f"s{i}")


def _apportion(total: int, weights, minimum: int = 0) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights``, each at least ``minimum``
    (largest remainders; ties go to the earlier part)."""
    weights = np.asarray(weights, dtype=float)
    rest = total - minimum * len(weights)
    if rest < 0:
        raise ValueError(f"cannot give {len(weights)} parts at least {minimum} of {total}")
    exact = rest * weights / weights.sum()
    parts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[: rest - parts.sum()]] += 1
    return [int(p) + minimum for p in parts]


def _round4(x: float) -> float:
    """Four significant digits: short, stable JSON numbers."""
    return float(f"{float(x):.4g}")


# ---------------------------------------------------------------- cluster


@dataclass
class Pool:
    id: str
    pod: str
    site: str
    gpu: GpuSpec
    node_count: int


@dataclass
class Cluster:
    sites: list[str]
    pods: list[tuple[str, str]]  # (pod, site)
    pools: list[Pool]
    types: list[GpuSpec]  # present types, catalog order

    @property
    def capacity(self) -> int:
        return sum(p.gpu.gpus_per_node * p.node_count for p in self.pools)


def _build_cluster(rng, units: int, n_sites: int, inference_nodes: bool) -> Cluster:
    """Sites -> pods -> (pod, GPU type) pools, in 8-GPU units. Each pod has a primary type
    (types spread over pods by fleet share) and maybe a secondary one; a few pods also get
    4-GPU inference nodes."""
    site_units = _apportion(units, rng.uniform(0.8, 1.2, n_sites), minimum=1)
    sites, pods, pod_units = [], [], []
    for s, su in enumerate(site_units):
        site, short = _site_name(s)
        sites.append(site)
        n_pods = min(su, max(2, min(MAX_PODS_PER_SITE, math.ceil(8 * su / POD_GPUS))))
        for p, pu in enumerate(_apportion(su, rng.uniform(0.8, 1.2, n_pods), minimum=1)):
            pods.append((f"{short}-{chr(ord('a') + p)}" if p < 26 else f"{short}-{p}", site))
            pod_units.append(pu)
    training = [g for g in GPU_CATALOG if g.gpus_per_node == 8]
    shares = np.array([g.fleet_share for g in training])
    primary = [training[t] for t, k in enumerate(_apportion(len(pods), shares)) for _ in range(k)]
    primary = [primary[i] for i in rng.permutation(len(primary))]
    missing = [g for g in training if g not in primary]
    pod_pools: list[dict[GpuSpec, int]] = []
    for gpu, pu in zip(primary, pod_units):
        mix = {gpu: pu}
        if pu >= 2 and (missing or rng.random() < 0.4):
            if missing:
                second = missing.pop(0)
            else:
                others = [g for g in training if g is not gpu]
                weights = np.array([g.fleet_share for g in others])
                second = others[rng.choice(len(others), p=weights / weights.sum())]
            k = min(pu - 1, max(1, round(pu * rng.uniform(0.2, 0.45))))
            mix = {gpu: pu - k, second: k}
        pod_pools.append(mix)
    if inference_nodes and units >= 32:
        _add_inference_nodes(units, pods, primary, pod_pools)
    pools = [
        Pool(f"{pod}-{gpu.id.lower()}", pod, site, gpu, k * (8 // gpu.gpus_per_node))
        for (pod, site), mix in zip(pods, pod_pools)
        for gpu, k in mix.items()
        if k > 0
    ]
    present = {p.gpu.id for p in pools}
    return Cluster(sites, pods, pools, [g for g in GPU_CATALOG if g.id in present])


def _add_inference_nodes(units, pods, primary, pod_pools) -> None:
    """About 4% of the GPUs as 4-GPU L40S nodes, taken from the primary pool of the first pod
    of up to two sites."""
    inference = next(g for g in GPU_CATALOG if g.id == INFERENCE_TYPE)
    first_pods, seen = [], set()
    for i, (_, site) in enumerate(pods):
        if site not in seen and len(first_pods) < 2:
            seen.add(site)
            first_pods.append(i)
    wanted = _apportion(max(1, round(inference.fleet_share * units)), np.ones(len(first_pods)))
    for i, k in zip(first_pods, wanted):
        k = min(k, pod_pools[i][primary[i]] - 1)
        if k > 0:
            pod_pools[i][primary[i]] -= k
            pod_pools[i][inference] = k


def _cluster_rows(cluster: Cluster) -> dict[str, list[dict]]:
    return {
        "gpu_types": [
            {"id": g.id, "memory_gb": float(g.memory_gb), "power_w": float(g.power_w),
             "idle_power_w": float(g.idle_power_w)}
            for g in cluster.types
        ],
        "sites": [{"id": site} for site in cluster.sites],
        "pods": [{"id": pod, "site": site} for pod, site in cluster.pods],
        "node_pools": [
            {"id": p.id, "pod": p.pod, "gpu_type": p.gpu.id, "gpus_per_node": p.gpu.gpus_per_node,
             "node_count": p.node_count}
            for p in cluster.pools
        ],
    }


# ---------------------------------------------------------------- jobs


@dataclass
class Queue:
    """The job table as arrays (jobs x present types), before tenants and running state."""

    ids: list[str]
    sizes: np.ndarray  # GPUs on the fastest type (job.gpus)
    gpus: np.ndarray  # int, jobs x types: GPUs needed on each type
    allowed: np.ndarray  # bool, jobs x types: listed in gpu_options
    eligible: np.ndarray  # bool: allowed and enough memory
    throughput: np.ndarray  # float, jobs x types
    memory_gb: np.ndarray
    priority: np.ndarray
    required: np.ndarray
    scope: list[str | None]  # None = the schema default
    mixed: np.ndarray
    types: list[GpuSpec]


def _size_weights(cap: int, target_mean: float) -> tuple[np.ndarray, np.ndarray]:
    """The trace weights up to ``cap``, exponentially tilted (w_k t^log2(size_k)) so that the
    mean is ``target_mean`` when 1 <= target_mean <= cap (clamped otherwise). A mild tilt keeps
    median 1: up to a mean of about 30 (full catalogue) P(1 GPU) stays above one half."""
    sizes = np.array([s for s in JOB_SIZES if s <= cap])
    base = np.array(JOB_SIZE_WEIGHTS[: len(sizes)])
    base = base / base.sum()
    steps = np.log2(sizes)

    def tilted(log_t: float) -> np.ndarray:
        w = base * np.exp(log_t * (steps - steps.mean()))
        return w / w.sum()

    lo, hi = -20.0, 20.0
    for _ in range(100):  # bisection: the mean grows with the tilt
        mid = (lo + hi) / 2
        if tilted(mid) @ sizes < target_mean:
            lo = mid
        else:
            hi = mid
    return sizes, tilted((lo + hi) / 2)


def _job_sizes(rng, n: int, cap: int, target_total: float) -> np.ndarray:
    """Sample n sizes, then halve or double random jobs until the total is within 2% of the
    target (the heavy tail makes the raw total noisy on small queues)."""
    if n == 0:
        return np.zeros(0, dtype=int)
    sizes, weights = _size_weights(cap, target_total / n)
    out = sizes[rng.choice(len(sizes), size=n, p=weights)].astype(np.int64)
    tolerance = max(1.0, 0.02 * target_total)
    total = int(out.sum())
    for _ in range(10 * n):
        excess = total - target_total
        if abs(excess) <= tolerance:
            break
        if excess > 0:  # halve a job whose halving does not overshoot by more than the tolerance
            pick = np.flatnonzero((out > 1) & (out / 2 <= excess + tolerance))
        else:
            pick = np.flatnonzero((out * 2 <= cap) & (out <= -excess + tolerance))
        if len(pick) == 0:
            break
        j = pick[rng.integers(len(pick))]
        total += int(-out[j] // 2 if excess > 0 else out[j])
        out[j] = out[j] // 2 if excess > 0 else out[j] * 2
    return out


def _build_jobs(rng, cluster: Cluster, n: int, target_total: float, required_fraction: float) -> Queue:
    types = cluster.types
    node_gpus = np.array([g.gpus_per_node for g in types])
    largest_pool = max(p.gpu.gpus_per_node * p.node_count for p in cluster.pools)
    cap = min(JOB_SIZES[-1], 1 << (largest_pool.bit_length() - 1))
    sizes = _job_sizes(rng, n, cap, target_total)
    required = _pick_required(rng, sizes, required_fraction, cluster.capacity)
    allowed = _allowed_types(rng, types, n)

    # Per-GPU speed relative to the fastest type, with the job's own Gavel spread.
    spread = np.clip(
        np.log(np.array(GAVEL_V100_K80_SPEEDUPS)) / np.log(np.median(GAVEL_V100_K80_SPEEDUPS)),
        SPREAD_MIN, SPREAD_MAX,
    )[rng.integers(len(GAVEL_V100_K80_SPEEDUPS), size=n)]
    per_gpu_speed = np.array([g.speed for g in types])[None, :] ** spread[:, None]

    # A quarter of the jobs need twice the GPUs on types where they run at half speed or
    # less (e.g. 4 H100 or 8 A800); twice the GPUs never beat the fastest option.
    doubles = ((rng.random(n) < 0.25) & (2 * sizes <= cap))[:, None] & (per_gpu_speed <= 0.5)
    doubles[required] = False
    gpus = np.where(doubles, 2 * sizes[:, None], sizes[:, None])
    allowed &= ~(np.array([g.id == INFERENCE_TYPE for g in types])[None, :] & (gpus > 4))
    allowed[required] = gpus[required] <= node_gpus[None, :]  # required: every type that fits
    allowed[~allowed.any(axis=1)] = True  # nothing left (e.g. only 910B present): anything

    memory_gb = _memory_needs(rng, n, required)
    memory = np.array([g.memory_gb for g in types], dtype=float)
    best_memory = np.where(allowed, memory[None, :], 0).max(axis=1)
    memory_gb = np.minimum(memory_gb, best_memory)  # at least one listed type has the memory
    eligible = allowed & (memory[None, :] >= memory_gb[:, None])

    scale = np.where(doubles, 2 * SCALING_EFFICIENCY, 1.0)
    throughput = (
        sizes[:, None] * rng.lognormal(0, 0.15, n)[:, None] * per_gpu_speed * scale
        * rng.lognormal(0, 0.05, (n, len(types)))
    )
    fastest = throughput[:, int(np.argmax([g.speed for g in types]))]
    throughput = np.where(doubles, np.minimum(throughput, 0.95 * fastest[:, None]), throughput)
    priority = rng.choice([0.5, 1.0, 2.0, 3.0, 5.0], size=n, p=[0.10, 0.55, 0.20, 0.10, 0.05])
    priority[required] = rng.choice([3.0, 5.0], size=int(required.sum()))
    multi_node = (allowed & (gpus > node_gpus[None, :])).any(axis=1)
    width = len(str(max(n - 1, 0)))
    return Queue(
        ids=[f"job-{j:0{width}d}" for j in range(n)],
        sizes=sizes, gpus=gpus, allowed=allowed, eligible=eligible, throughput=throughput,
        memory_gb=memory_gb, priority=priority, required=required,
        scope=_scopes(rng, multi_node),
        mixed=multi_node & (eligible.sum(axis=1) >= 2) & (rng.random(n) < 0.1),
        types=types,
    )


def _allowed_types(rng, types: list[GpuSpec], n: int) -> np.ndarray:
    """Which present types each job lists (framework compatibility): 910B needs a ported
    stack (40% of jobs); 8% need H100 (e.g. FP8); 15% avoid the compute-light H20; half may
    use the L40S inference nodes (small jobs only, applied by the caller)."""
    is_type = {g.id: np.array([t.id == g.id for t in types]) for g in GPU_CATALOG}
    cuda = np.array([g.cuda for g in types])
    allowed = np.ones((n, len(types)), dtype=bool)
    allowed &= cuda[None, :] | (rng.random(n) < 0.4)[:, None]
    allowed &= ~((rng.random(n) < 0.15)[:, None] & is_type["H20"][None, :])
    allowed &= ~((rng.random(n) < 0.5)[:, None] & is_type[INFERENCE_TYPE][None, :])
    h100_only = (rng.random(n) < 0.08) & bool(is_type["H100"].any())
    allowed[h100_only] = is_type["H100"]
    return allowed


def _memory_needs(rng, n: int, required: np.ndarray) -> np.ndarray:
    """GPU memory per GPU, whole GB: 35% 4-24, 30% 24-48, 20% 48-64 (excludes L40S), 12%
    64-80 (excludes 910B), 3% 80-96 (H20 only). Required jobs need at most 24 GB."""
    bands = np.array([[4, 24], [24, 48], [48, 64], [64, 80], [80, 96]], dtype=float)
    band = rng.choice(len(bands), size=n, p=[0.35, 0.30, 0.20, 0.12, 0.03])
    memory_gb = np.round(rng.uniform(bands[band, 0], bands[band, 1]))
    memory_gb[required] = np.minimum(memory_gb[required], 24)
    return memory_gb


def _scopes(rng, multi_node: np.ndarray) -> list[str | None]:
    """Jobs that may span nodes: 50% pod, 35% site, 15% any. Jobs that fit in a node (scope
    is moot): 30% say node, the rest keep the default. None = the default (site)."""
    n = len(multi_node)
    spanning = rng.choice(["pod", "site", "any"], size=n, p=[0.5, 0.35, 0.15])
    node = rng.random(n) < 0.3
    scopes = [str(spanning[j]) if multi_node[j] else ("node" if node[j] else "site") for j in range(n)]
    return [None if s == "site" else s for s in scopes]


def _pick_required(rng, sizes: np.ndarray, fraction: float, capacity: int) -> np.ndarray:
    """About ``fraction`` of the jobs, among those of at most 4 GPUs, together at most 2% of
    the GPUs."""
    required = np.zeros(len(sizes), dtype=bool)
    wanted = round(fraction * len(sizes))
    if fraction > 0 and len(sizes) >= 10:
        wanted = max(1, wanted)
    budget = REQUIRED_SHARE_MAX * capacity
    for j in rng.permutation(np.flatnonzero(sizes <= 4)):
        if wanted <= 0:
            break
        if sizes[j] <= budget:
            required[j] = True
            budget -= sizes[j]
            wanted -= 1
    return required


def _job_rows(queue: Queue, running: "Running", owners: list[str]) -> list[dict]:
    """Job records; ``gpus`` is the job's size, options override it where they differ, and
    fields at their schema default are left out (smaller files)."""
    rows = []
    for j, job_id in enumerate(queue.ids):
        size = int(queue.sizes[j])
        options = []
        for t in np.flatnonzero(queue.allowed[j]):
            gpu = queue.types[t]
            n = int(queue.gpus[j, t])
            option = {"gpu_type": gpu.id}
            if n != size:
                option["gpus"] = n
            option["throughput"] = _round4(queue.throughput[j, t])
            option["cost_per_hour"] = _round4(n * gpu.price_per_gpu_hour)
            options.append(option)
        row = {"id": job_id, "tenant": owners[j], "gpus": size}
        if queue.priority[j] != 1.0:
            row["priority"] = float(queue.priority[j])
        if queue.memory_gb[j] > 0:
            row["gpu_memory_gb"] = float(queue.memory_gb[j])
        row["gpu_options"] = options
        if queue.scope[j] is not None:
            row["scope"] = queue.scope[j]
        if queue.mixed[j]:
            row["allow_mixed_types"] = True
        if queue.required[j]:
            row["required"] = True
        row.update(running.job_fields.get(j, {}))
        rows.append(row)
    return rows


# ---------------------------------------------------------------- running jobs


@dataclass
class Running:
    rows: list[tuple[int, str, int]]  # (job index, node id, GPUs)
    type_of: dict[int, int]  # job index -> type index it runs on
    job_fields: dict[int, dict]  # migratable, preemptible and their costs


def _place_running(rng, cluster: Cluster, queue: Queue, budget: float) -> Running:
    """Give random non-required jobs a valid current placement until ``budget`` GPUs are busy.

    A job that fits in one node goes on one node with room (70% of the time a partly used
    one, so small jobs share nodes, else any); a larger job takes whole free nodes of one
    pool (one type, one pod). Only eligible types (listed, enough memory) are used."""
    free = {p.id: np.full(p.node_count, p.gpu.gpus_per_node) for p in cluster.pools}
    node_ids = {p.id: generated_node_ids(p.id, p.node_count) for p in cluster.pools}
    pools_of_type = [[p for p in cluster.pools if p.gpu.id == g.id] for g in queue.types]
    rows: list[tuple[int, str, int]] = []
    type_of: dict[int, int] = {}
    busy = 0
    for j in rng.permutation(len(queue.ids)):
        if budget - busy < 1:
            break
        if queue.required[j]:
            continue
        for t in rng.permutation(np.flatnonzero(queue.eligible[j])):
            n = int(queue.gpus[j, t])
            if n > budget - busy:
                continue
            placed = _place_one(rng, pools_of_type[t], free, n)
            if placed:
                rows.extend((int(j), node_ids[pool][i], g) for pool, i, g in placed)
                type_of[int(j)] = int(t)
                busy += sum(g for _, _, g in placed)
                break
    rows.sort(key=lambda r: (r[0], r[1]))
    return Running(rows, type_of, _running_fields(rng, queue, type_of))


def _place_one(rng, pools: list[Pool], free: dict[str, np.ndarray], n: int):
    """Rows (pool, node index, GPUs) for a job of n GPUs on these pools, or None."""
    if not pools:
        return None
    size = pools[0].gpu.gpus_per_node
    if n <= size:
        counts = np.array([(free[p.id] >= n).sum() for p in pools])
        if counts.sum() == 0:
            return None
        pool = pools[rng.choice(len(pools), p=counts / counts.sum())]
        room = free[pool.id]
        partial = np.flatnonzero((room >= n) & (room < size))
        if len(partial) == 0 or rng.random() >= 0.7:
            partial = np.flatnonzero(room >= n)
        i = int(partial[rng.integers(len(partial))])
        room[i] -= n
        return [(pool.id, i, n)]
    k = -(-n // size)
    counts = np.array([(free[p.id] == size).sum() for p in pools])
    counts = np.where(counts >= k, counts, 0)
    if counts.sum() == 0:
        return None
    pool = pools[rng.choice(len(pools), p=counts / counts.sum())]
    room = free[pool.id]
    nodes = np.sort(rng.choice(np.flatnonzero(room == size), size=k, replace=False))
    room[nodes] = 0
    return [(pool.id, int(i), size) for i in nodes]


def _running_fields(rng, queue: Queue, type_of: dict[int, int]) -> dict[int, dict]:
    """Migration cost 5-25% and preemption cost 30-100% of the job's weighted throughput where
    it runs; 15% of running jobs are not migratable, 15% not preemptible."""
    fields: dict[int, dict] = {}
    for j in sorted(type_of):
        value = queue.priority[j] * queue.throughput[j, type_of[j]]
        row: dict = {}
        if rng.random() < 0.15:
            row["migratable"] = False
        row["migration_cost"] = _round4(rng.uniform(0.05, 0.25) * value)
        if rng.random() < 0.15:
            row["preemptible"] = False
        row["preemption_cost"] = _round4(rng.uniform(0.3, 1.0) * value)
        fields[j] = row
    return fields


# ---------------------------------------------------------------- tenants


def _single_node_demand(queue_gpus: np.ndarray, eligible_single: np.ndarray) -> np.ndarray:
    """Per job: the fewest GPUs over its eligible types if some eligible type fits in one
    node, else 0. Summed over a tenant's jobs this is a lower bound of the tenant's demand
    D_t (models/assignment.md, rule 9): these jobs could run, and D_t counts at least this."""
    fits = eligible_single.any(axis=1)
    smallest = np.where(eligible_single, queue_gpus, np.iinfo(np.int64).max).min(axis=1)
    return np.where(fits, smallest, 0)


def _build_tenants(
    rng, cluster: Cluster, queue: Queue, running: Running, n_tenants: int
) -> tuple[list[dict], list[str]]:
    """Tenants with Dirichlet shares of the jobs, weights from the shares, floors at 20-50%
    of their single-node demand (together at most 30% of the GPUs) and caps on about a third
    of them that leave room for the floor and all must-run work."""
    n = len(queue.ids)
    names = list(TENANT_NAMES[:n_tenants])
    shares = np.sort(rng.dirichlet(np.full(n_tenants, 1.5)))[::-1]
    owner = rng.choice(n_tenants, size=n, p=shares) if n else np.zeros(0, dtype=int)

    node_gpus = np.array([g.gpus_per_node for g in queue.types])
    lower = _single_node_demand(queue.gpus, queue.eligible & (queue.gpus <= node_gpus[None, :]))
    must_run = np.zeros(n, dtype=np.int64)
    must_run[queue.required] = queue.gpus[queue.required].max(axis=1)
    for j, t in running.type_of.items():
        if running.job_fields[j].get("preemptible", True) is False:
            must_run[j] = queue.gpus[j, t]
    capacity = cluster.capacity

    demand_lb = np.bincount(owner, weights=lower, minlength=n_tenants)
    requested = np.bincount(owner, weights=queue.sizes, minlength=n_tenants)
    mandatory = np.bincount(owner, weights=must_run, minlength=n_tenants)
    floors = np.floor(rng.uniform(0.2, 0.5, n_tenants) * demand_lb)
    if floors.sum() > FLOOR_SHARE_MAX * capacity:
        floors = np.floor(floors * FLOOR_SHARE_MAX * capacity / floors.sum())
    floors[rng.random(n_tenants) < 0.2] = 0  # some tenants have no guarantee
    capped = rng.permutation(n_tenants)[: max(1, n_tenants // 3)] if n_tenants >= 3 else []
    rows = []
    for t, tenant in enumerate(names):
        row: dict = {"id": tenant, "weight": max(0.5, round(2 * shares[t] * n_tenants) / 2)}
        if floors[t] > 0:
            row["guaranteed_gpus"] = int(floors[t])
        if t in capped:
            cap = max(floors[t] + mandatory[t] + CAP_SLACK_GPUS,
                      8 * math.ceil(rng.uniform(0.4, 0.8) * requested[t] / 8))
            row["max_gpus"] = int(cap)
        rows.append(row)
    return rows, [names[t] for t in owner]
