"""Synthetic schedule instances: sites with day cycles, tidal inference, trace-like training jobs.

:func:`generate_schedule` builds ``sites`` sites over ``hours`` hourly periods with:

- outdoor temperature: a site mean (cold west to hot east, 8-28 C) plus a day cycle (amplitude
  4-7 K, warmest at 15:00) and noise, so the PUE curve (the tidal-week curve, 1.10 at <= 10 C
  to 1.50 at 35 C) moves during the day;
- price: a Chinese time-of-use map (valley 0-8 h, peak 10-12 h and 17-22 h, 1.6 : 1 : 0.4) on a
  site base of 0.45-0.75 CNY/kWh; every other site has the Mengxi-style midday valley instead;
- carbon: a site base (450-700 g/kWh) swinging +-20% (lowest at midday, solar);
- inference services: tidal demand, trough at 05:00 and peak at 20:00 (ServeGen's shape,
  peak/trough ~2), summing to about a quarter of the H-class GPUs on average;
- training jobs: GPU counts and lognormal durations as in gpuplan.datasets.tidal_week, capped so
  each fits one pool and its window; the total work is scaled down when needed so that work plus
  service demand stays below half of the capacity's GPU-hours: every job can finish.

Deterministic: ``numpy.random.default_rng(seed)``; vectorised, so 100,000 GPUs, 5,000 jobs,
50 services and 168 hours take a few seconds (pydantic validation dominates).
"""

from __future__ import annotations

import math

import numpy as np

from .datasets.tidal_week import GPU_TYPES, JOB_SIZE_P, JOB_SIZES, NODE_BUSY_W, NODE_IDLE_W, POWER_MODES, PUE_POINTS
from .instance.io import check
from .instance.schema import SCHEMA_VERSION, Instance

H_SHARE = 0.6                # share of each site's nodes that are H-class (the rest A800)
SERVICE_SHARE = 0.25         # mean service demand / H-class GPUs
FILL = 0.5                   # (training work + service demand) / capacity GPU-hours, at most
TOU_NIGHT_VALLEY = [0.4] * 8 + [1.0] * 2 + [1.6] * 3 + [1.0] * 4 + [1.6] * 5 + [1.0] * 2
TOU_MIDDAY_VALLEY = [1.0] * 6 + [1.6] * 2 + [1.0] * 3 + [0.4] * 5 + [1.0] * 2 + [1.6] * 4 + [1.0] * 2


def generate_schedule(gpus: int, jobs: int, services: int, sites: int, hours: int, seed: int) -> Instance:
    """A schedule instance of about ``gpus`` GPUs (8-GPU nodes, rounded), checked like a loaded file."""
    for name, value in (("gpus", gpus), ("jobs", jobs), ("services", services), ("sites", sites), ("hours", hours)):
        if value < (0 if name in ("jobs", "services") else 1):
            raise ValueError(f"{name} must be at least {0 if name in ('jobs', 'services') else 1}, not {value}")
    if gpus < 16 * sites:
        raise ValueError(f"gpus must be at least 16 per site (one H-class and one A800 node): {16 * sites}, not {gpus}")
    if hours < 4:
        raise ValueError(f"hours must be at least 4, not {hours}")
    rng = np.random.default_rng(seed)
    site_ids = [f"site-{i}" for i in range(sites)]
    capacity = _capacity(rng, site_ids, gpus)
    h_gpus = sum(c["nodes"] * 8 for c in capacity if c["gpu_type"] != "a800")
    service_rows, demand_rows, service_gpu_h = _services(rng, services, site_ids, hours, h_gpus)
    capacity_gpu_h = sum(c["nodes"] * 8 for c in capacity) * hours
    largest_pool = max(c["nodes"] * 8 for c in capacity if c["gpu_type"] != "a800")
    budget = max(0.0, FILL * capacity_gpu_h - service_gpu_h)
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": f"schedule_{gpus}g_{jobs}j_{services}v_{sites}s_{hours}h_seed{seed}",
        "gpu_types": GPU_TYPES,
        "sites": [{"id": s} for s in site_ids],
        "time": {"periods": hours, "period_hours": 1.0},
        "site_series": _series(rng, site_ids, hours, capacity),
        "pue_curve": [{"site": s, "outdoor_temp_c": x, "pue": y} for s in site_ids for x, y in PUE_POINTS],
        "facilities": [{"site": s, "node_idle_w": NODE_IDLE_W, "node_busy_w": NODE_BUSY_W,
                        "demand_charge_per_kw": 8.0, "power_off": i % 2 == 0,
                        "wake_cost_per_node": 4.0 if i % 2 == 0 else 0.0} for i, s in enumerate(site_ids)],
        "capacity": capacity,
        "power_modes": [{"gpu_type": g["id"], "id": m, "power_fraction": p, "throughput_fraction": q}
                        for g in GPU_TYPES for m, p, q in POWER_MODES],
        "training_jobs": _jobs(rng, jobs, hours, largest_pool, budget, site_ids),
        "services": service_rows,
        "service_demand": demand_rows,
        "schedule_options": {"carbon_price_per_t": 90.0},
    }
    return check(Instance.model_validate(data), "generate_schedule")


def _capacity(rng, site_ids: list[str], gpus: int) -> list[dict]:
    nodes = max(2 * len(site_ids), round(gpus / 8))
    weights = rng.uniform(0.6, 1.4, len(site_ids))
    per_site = np.maximum(2, np.floor(nodes * weights / weights.sum())).astype(int)
    per_site[0] += nodes - per_site.sum()      # the remainder (either sign) on the first site
    rows = []
    for i, (site, n) in enumerate(zip(site_ids, per_site.tolist())):
        h = max(1, min(n - 1, round(H_SHARE * n)))
        rows.append({"site": site, "gpu_type": "h100" if i % 2 else "h800", "nodes": h, "gpus_per_node": 8})
        rows.append({"site": site, "gpu_type": "a800", "nodes": n - h, "gpus_per_node": 8})
    return rows


def _series(rng, site_ids: list[str], hours: int, capacity: list[dict]) -> list[dict]:
    t = np.arange(hours)
    hour_of_day = t % 24
    full_it_kw = {s: 0.0 for s in site_ids}
    power = {g["id"]: g["power_w"] for g in GPU_TYPES}
    for c in capacity:
        full_it_kw[c["site"]] += c["nodes"] * (8 * power[c["gpu_type"]] + NODE_BUSY_W) / 1000
    rows = []
    for i, site in enumerate(site_ids):
        share = i / max(1, len(site_ids) - 1)
        temp = (8 + 20 * share + rng.uniform(4, 7) * np.sin(2 * np.pi * (hour_of_day - 9) / 24)
                + rng.normal(0, 0.8, hours))
        ratio = np.array(TOU_MIDDAY_VALLEY if i % 2 else TOU_NIGHT_VALLEY)[hour_of_day]
        base = 0.45 + 0.30 * share
        price = 0.35 * base + 0.65 * base * ratio          # the ratio floats part of the price
        carbon = rng.uniform(450, 700) * (1 + 0.2 * np.cos(2 * np.pi * hour_of_day / 24))
        limit = None
        if i == 0:     # one site with a grid limit at 90% of its hottest full-load power
            limit = float(round(0.9 * full_it_kw[site] * max(_pue(x) for x in temp)))
        rows += [{"site": site, "period": int(k), "price_per_kwh": round(float(p), 4),
                  "carbon_g_per_kwh": round(float(c), 1), "outdoor_temp_c": round(float(x), 1),
                  "grid_limit_kw": limit} for k, p, c, x in zip(t, price, carbon, temp)]
    return rows


def _pue(temp_c: float) -> float:
    xs, ys = zip(*PUE_POINTS)
    return float(np.interp(temp_c, xs, ys))


def _services(rng, count: int, site_ids: list[str], hours: int, h_gpus: int):
    if count == 0:
        return [], [], 0.0
    t = np.arange(hours)
    # tidal: trough 05:00, peak 20:00 (two harmonics give ServeGen's asymmetric day)
    shape = (1 + 0.30 * np.sin(2 * np.pi * (t % 24 - 11) / 24) + 0.08 * np.sin(4 * np.pi * (t % 24 - 14.5) / 24))
    means = rng.dirichlet(np.ones(count)) * SERVICE_SHARE * h_gpus
    services, demand, total = [], [], 0.0
    for v in range(count):
        noise = rng.normal(1.0, 0.05, hours).clip(0.8, 1.2)
        gpus = np.round(means[v] * shape * noise, 1)
        sid = f"svc-{v:03d}"
        hard = v % 3 == 0      # a hard service may use every site, so its demand always fits
        allowed = None if hard or rng.random() < 0.5 or len(site_ids) == 1 else sorted(
            rng.choice(site_ids, size=int(rng.integers(1, len(site_ids))), replace=False).tolist())
        services.append({"id": sid, "sites": allowed,
                         "unmet_cost_per_gpu_hour": None if hard else float(rng.choice([20.0, 30.0, 60.0])),
                         "gpu_options": [{"gpu_type": "h100"}, {"gpu_type": "h800"},
                                         {"gpu_type": "a800", "capacity_per_gpu": 0.5}]})
        demand += [{"service": sid, "period": k, "gpus": g} for k, g in enumerate(gpus.tolist())]
        total += float(gpus.sum())
    return services, demand, total


def _jobs(rng, count: int, hours: int, largest_pool: int, budget_gpu_h: float, site_ids: list[str]) -> list[dict]:
    if count == 0:
        return []
    sizes = np.array(JOB_SIZES)[rng.choice(len(JOB_SIZES), size=count, p=JOB_SIZE_P)]
    sizes = np.minimum(sizes, max(1, largest_pool // 2))
    longest = max(1.0, (hours - 2) / 2.5)
    duration = np.clip(rng.lognormal(math.log(12.0), 0.8, count), 1.0, longest)
    work = sizes * duration
    if work.sum() > budget_gpu_h:        # fit the fleet: shorten every job alike (not below 1 h)
        duration = np.maximum(1.0, duration * budget_gpu_h / work.sum())
    duration = np.round(duration, 1)
    latest = np.maximum(0, np.floor(hours - 2.0 * duration - 1)).astype(int)
    release = np.where(rng.random(count) < 0.35, 0, np.floor(rng.random(count) * (latest + 1))).astype(int)
    due = np.minimum(hours, release + np.ceil(duration * rng.uniform(1.3, 3.0, count)))
    deadline = np.minimum(hours, release + np.ceil(2.0 * duration) + 1)
    hard = rng.random(count) < 0.10
    rigid = (duration <= 24) & (rng.random(count) < 0.20)
    migratable = ~rigid & (sizes <= 64) & (rng.random(count) < 0.25)
    cost_rate = rng.uniform(2.0, 6.0, count)
    pinned = rng.integers(0, len(site_ids), count)
    pin = (sizes <= 8) & (rng.random(count) < 0.1)
    rows = []
    for i in range(count):
        g = int(sizes[i])
        options = [{"gpu_type": "h800"}, {"gpu_type": "h100"}]
        if g <= 32:
            options.append({"gpu_type": "a800", "throughput": 0.45})
        job = {"id": f"job-{i:05d}", "gpus": g, "gpu_options": options,
               "work_gpu_hours": round(g * float(duration[i]), 1), "release_h": float(release[i]),
               "due_h": float(due[i]), "tardiness_cost_per_h": round(g * float(cost_rate[i]), 1),
               "restart_overhead_gpu_hours": round(0.25 * g, 2), "restart_cost": round(2.0 * g, 1)}
        if hard[i]:
            job["deadline_h"] = float(deadline[i])
        if rigid[i]:
            job["preemptible"] = False
        if migratable[i]:
            job.update(migratable=True, migration_cost=round(5.0 * g, 1))
        if pin[i]:
            job["sites"] = [site_ids[int(pinned[i])]]
        rows.append(job)
    return rows
