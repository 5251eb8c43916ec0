"""The real schedule case "tidal week": three Chinese sites, one summer week, hourly.

Built from the reference data in ``../shared/data`` (each source's SOURCE.md is cited in
``instances/schedule/README.md``, with every assumption made here):

- outdoor temperature: CSWD typical-year dry-bulb of Hohhot, Guiyang and Shanghai, the week of
  18-24 July (hour_of_year 4752-4919), the hottest July week of the three: PUE matters most;
- electricity price: each province's summer time-of-use map and floating ratios, priced as
  ``fixed part + floating base * ratio`` with assumed CNY/kWh parts (the ratios float only part
  of the price; only Beijing and Chongqing publish absolute prices);
- carbon: the MEE/NBS 2022 provincial average grid factor, flat over the week (only annual
  values exist; no hourly Chinese series is in the data);
- inference demand: the hourly mean of Alibaba ServeGen's 10-minute request rates per category
  (windows where no client sent a request are data gaps and are left out), divided by an assumed
  request rate per reference GPU;
- training jobs: sizes and durations shaped after the Acme / Helios trace summaries, seeded.

:func:`build_tidal_week` returns the Instance; :func:`write_tidal_week` writes it as YAML with
the two long tables (site series, service demand) as CSV next to it. Same data, same files.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..instance.io import check
from ..instance.schema import SCHEMA_VERSION, Instance
from .schedule_files import write_schedule_files

HOURS = 168
WEEK_START_HOUR = 4752           # hour_of_year of 2005-07-18 00:00 (a Monday in the nominal year)
WEEK_START = "2005-07-18T00:00:00+08:00"
SEED = 11
N_JOBS = 220

WEATHER = "energy/cswd-china-typical-year-weather/drybulb_hourly_12cities_derived.csv"
TARIFFS = "energy/china-provincial-tou-tariffs/tou_hourly_periods_derived.csv"
CO2 = "energy/china-grid-co2-factors-mee-2021-2022/grid_co2_factors_derived.csv"
SERVING = "energy/alibaba-servegen-llm-serving-rate/aggregate_rate_10min_derived.csv"


@dataclass(frozen=True)
class SiteSpec:
    id: str
    description: str
    temp_column: str
    tariff_province: str          # prefix of the tariff CSV's `province`
    co2_name: str                 # `name_en` in the CO2 CSV
    fixed_cny_per_kwh: float      # assumed non-floating part (network, funds, ...)
    floating_cny_per_kwh: float   # assumed floating base (the ratio multiplies this)
    demand_charge_cny_per_kw_month: float
    power_off: bool


SITES = [
    SiteSpec("hohhot", "Inner Mongolia hub (Mengxi grid), cold and windy, cheap power",
             "hohhot_drybulb_c", "Inner Mongolia", "Inner Mongolia", 0.10, 0.28, 28.0, True),
    SiteSpec("guiyang", "Guizhou hub (Gui'an), mild, hydro and coal",
             "guiyang_drybulb_c", "Guizhou", "Guizhou", 0.15, 0.40, 32.0, True),
    SiteSpec("shanghai", "Yangtze River Delta, next to the users, hot summer",
             "shanghai_drybulb_c", "Shanghai", "Shanghai", 0.27, 0.45, 40.0, False),
]

# GPU types: board power from the vendor data sheets (DESIGN.md: H100/H800 SXM 700 W, A800 SXM
# 400 W); idle ~17% of board power (DESIGN.md: 15-25%; Acme's A100 CDFs show ~100 W median draw).
GPU_TYPES = [
    {"id": "h100", "memory_gb": 80.0, "power_w": 700.0, "idle_power_w": 120.0},
    {"id": "h800", "memory_gb": 80.0, "power_w": 700.0, "idle_power_w": 120.0},
    {"id": "a800", "memory_gb": 80.0, "power_w": 400.0, "idle_power_w": 70.0},
]
POWER_MODES = [("full", 1.0, 1.0), ("cap80", 0.8, 0.96), ("cap60", 0.6, 0.85)]

# (site, gpu_type, nodes of 8 GPUs): 4,416 GPUs.
CAPACITY = [("hohhot", "h800", 160), ("hohhot", "a800", 120),
            ("guiyang", "h800", 96), ("guiyang", "a800", 80),
            ("shanghai", "h100", 64), ("shanghai", "a800", 32)]
MAINTENANCE = ("guiyang", "h800", 88, range(74, 82))   # 8 nodes down Thursday 02:00-10:00

# PUE of an air-cooled hall with economiser (free cooling below ~10 C, chillers above ~25 C);
# inside DESIGN.md's range 1.1 (cold) - 1.6 (hot). Same design at every site: the climate differs.
PUE_POINTS = [(10.0, 1.10), (18.0, 1.15), (25.0, 1.25), (30.0, 1.35), (35.0, 1.50)]
NODE_IDLE_W = 900.0      # non-GPU power of a powered-on 8-GPU node (CPUs, memory, NICs, fans)
NODE_BUSY_W = 2100.0     # ... with all GPUs busy: DGX H100 peak 10.2 kW minus 8 x 700 W = 4.6 kW
                         # at peak; Acme Seren GPU servers draw 2.5 kW median (whole server)
WAKE_COST_PER_NODE = 4.0
CARBON_PRICE_PER_T = 90.0   # China national ETS, ~90 CNY/t in 2024-2025 (assumption)
GRID_LIMIT_SHARE = {"shanghai": 0.90}          # of the site's full-load facility peak, all week
DEMAND_RESPONSE = ("hohhot", 0.75, [3 * 24 + h for h in range(18, 22)])  # Thu 18-22 h at 75%

# Services: (id, ServeGen category, days of the series, requests/s per reference GPU, sites,
# GPU types -> capacity per GPU, unmet cost per reference GPU-hour (None = hard), utilization).
H_CLASS = {"h100": 1.0, "h800": 1.0}
WITH_A800 = {"h100": 1.0, "h800": 1.0, "a800": 0.5}
SERVICES = [
    ("chat-small-east", "language/m-small", range(7, 14), 8.0, ["shanghai", "guiyang"], WITH_A800, None, 0.6),
    ("chat-small-north", "language/m-small", range(0, 7), 10.0, ["hohhot"], WITH_A800, 30.0, 0.6),
    ("chat-large-east", "language/m-large", range(7, 14), 0.6, ["shanghai", "guiyang"], WITH_A800, None, 0.6),
    ("chat-large-north", "language/m-large", range(0, 7), 1.0, ["hohhot", "guiyang"], WITH_A800, 30.0, 0.6),
    ("api-mid", "language/m-mid", range(0, 7), 12.0, None, WITH_A800, 20.0, 0.6),
    ("reasoning-r1", "reason/deepseek-r1", [0] * 7, 0.12, None, H_CLASS, 60.0, 0.7),
    ("multimodal-image", "multimodal/mm-image", [0] * 7, 0.1, ["shanghai", "guiyang"], WITH_A800, 40.0, 0.6),
]

TENANTS = ["pretrain", "multimodal", "research", "finetune"]


def build_tidal_week(data_dir: Path) -> Instance:
    """The tidal-week instance from the reference data in ``data_dir`` (``../shared/data``)."""
    data_dir = Path(data_dir)
    temps = _temperatures(data_dir)
    prices = _prices(data_dir)
    carbon = _carbon(data_dir)
    full_kw = _full_load_kw(temps)
    series = []
    for site in SITES:
        limit = _grid_limits(site.id, full_kw[site.id])
        for t in range(HOURS):
            series.append({"site": site.id, "period": t, "price_per_kwh": prices[site.id][t],
                           "carbon_g_per_kwh": carbon[site.id], "outdoor_temp_c": temps[site.id][t],
                           "grid_limit_kw": limit[t]})
    services, demand = _services(data_dir)
    instance = Instance(
        schema_version=SCHEMA_VERSION,
        name="tidal_week_3sites",
        description=("Three Chinese sites (Hohhot, Guiyang, Shanghai), 18-24 July of the CSWD typical year, "
                     "hourly: summer TOU prices, MEE 2022 grid CO2, ServeGen tidal inference demand, "
                     f"{N_JOBS} training jobs. Currency CNY. Built by gpuplan.datasets.tidal_week."),
        gpu_types=GPU_TYPES,
        sites=[{"id": s.id, "description": s.description} for s in SITES],
        tenants=[{"id": t} for t in TENANTS],
        time={"periods": HOURS, "period_hours": 1.0, "start": WEEK_START},
        site_series=series,
        pue_curve=[{"site": s.id, "outdoor_temp_c": x, "pue": y} for s in SITES for x, y in PUE_POINTS],
        facilities=[{"site": s.id, "node_idle_w": NODE_IDLE_W, "node_busy_w": NODE_BUSY_W,
                     "demand_charge_per_kw": round(s.demand_charge_cny_per_kw_month * 7 / 30, 2),
                     "power_off": s.power_off,
                     "wake_cost_per_node": WAKE_COST_PER_NODE if s.power_off else 0.0} for s in SITES],
        capacity=_capacity(),
        power_modes=[{"gpu_type": g["id"], "id": m, "power_fraction": p, "throughput_fraction": q}
                     for g in GPU_TYPES for m, p, q in POWER_MODES],
        training_jobs=_training_jobs(np.random.default_rng(SEED)),
        services=services,
        service_demand=demand,
        schedule_options={"carbon_price_per_t": CARBON_PRICE_PER_T, "initial_nodes_on": "all"},
    )
    return check(instance, "tidal_week")


def write_tidal_week(data_dir: Path, out_dir: Path) -> Path:
    """Build the instance and write ``tidal_week_3sites.yaml`` (+ CSV tables) into ``out_dir``."""
    return write_schedule_files(build_tidal_week(data_dir), Path(out_dir) / "tidal_week_3sites.yaml")


# ---------------------------------------------------------------- series


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _temperatures(data_dir: Path) -> dict[str, list[float]]:
    rows = _rows(data_dir / WEATHER)[WEEK_START_HOUR:WEEK_START_HOUR + HOURS]
    if (rows[0]["month"], rows[0]["day"], rows[0]["hour_ending"]) != ("7", "18", "1"):
        raise ValueError(f"{WEATHER}: row {WEEK_START_HOUR} is not 18 July 00:00-01:00 (another file version?)")
    return {s.id: [float(r[s.temp_column]) for r in rows] for s in SITES}


def _prices(data_dir: Path) -> dict[str, list[float]]:
    """Hour-by-hour July price: fixed + floating * ratio of the period covering that hour."""
    rows = _rows(data_dir / TARIFFS)
    prices = {}
    for site in SITES:
        ratio = {int(r["hour"]): float(r["float_ratio_vs_flat"]) for r in rows
                 if r["province"].startswith(site.tariff_province) and "7" in r["months"].split(",")}
        if sorted(ratio) != list(range(24)):
            raise ValueError(f"{TARIFFS}: no complete July hour map with ratios for {site.tariff_province}")
        day = [round(site.fixed_cny_per_kwh + site.floating_cny_per_kwh * ratio[h], 4) for h in range(24)]
        prices[site.id] = [day[t % 24] for t in range(HOURS)]
    return prices


def _carbon(data_dir: Path) -> dict[str, float]:
    rows = _rows(data_dir / CO2)
    factor = {r["name_en"]: float(r["kgco2_per_kwh"]) for r in rows
              if r["level"] == "province" and r["year"] == "2022"}
    return {s.id: round(factor[s.co2_name] * 1000, 1) for s in SITES}


def pue_at(temp_c: float) -> float:
    """The PUE curve, linear between the breakpoints, constant beyond the ends."""
    xs, ys = zip(*PUE_POINTS)
    return float(np.interp(temp_c, xs, ys))


def _full_load_kw(temps: dict[str, list[float]]) -> dict[str, list[float]]:
    """Facility kW per hour with every GPU busy at full power (the power model's upper end)."""
    power = {g["id"]: g["power_w"] for g in GPU_TYPES}
    it_kw = {s.id: 0.0 for s in SITES}
    for site, gpu_type, nodes in CAPACITY:
        it_kw[site] += nodes * (8 * power[gpu_type] + NODE_BUSY_W) / 1000
    return {s: [it_kw[s] * pue_at(x) for x in temps[s]] for s in it_kw}


def _grid_limits(site: str, full_kw: list[float]) -> list[float | None]:
    limits: list[float | None] = [None] * HOURS
    if site in GRID_LIMIT_SHARE:
        limits = [float(round(GRID_LIMIT_SHARE[site] * max(full_kw)))] * HOURS
    dr_site, share, hours = DEMAND_RESPONSE
    if site == dr_site:
        for t in hours:
            limits[t] = float(round(share * max(full_kw)))
    return limits


def _capacity() -> list[dict]:
    rows = [{"site": s, "gpu_type": g, "nodes": n, "gpus_per_node": 8} for s, g, n in CAPACITY]
    site, gpu_type, nodes, periods = MAINTENANCE
    rows += [{"site": site, "gpu_type": gpu_type, "nodes": nodes, "gpus_per_node": 8, "period": t} for t in periods]
    return rows


# ---------------------------------------------------------------- inference services


def _hourly_rates(rows: list[dict], category: str) -> dict[tuple[int, int], float]:
    """(day, hour) -> mean request rate over the hour's 10-min windows that are not gaps."""
    sums: dict[tuple[int, int], list[float]] = {}
    for r in rows:
        if r["category"] != category or int(r["clients_with_rate"]) == 0:
            continue   # every client idle in a window = a data gap (SOURCE.md), not zero demand
        key = (int(r["day_index"]), int(r["hour_of_day"]))
        sums.setdefault(key, []).append(float(r["total_rate_req_per_s"]))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _week_of(rates: dict[tuple[int, int], float], days) -> list[float]:
    by_hour: dict[int, list[float]] = {}
    for (_, h), v in rates.items():
        by_hour.setdefault(h, []).append(v)
    typical = {h: sum(v) / len(v) for h, v in by_hour.items()}   # fills an hour that is all gap
    return [rates.get((d, h), typical[h]) for d in days for h in range(24)]


def _services(data_dir: Path) -> tuple[list[dict], list[dict]]:
    rows = _rows(data_dir / SERVING)
    services, demand = [], []
    for sid, category, days, req_per_gpu, sites, options, unmet, util in SERVICES:
        week = _week_of(_hourly_rates(rows, category), days)
        services.append({"id": sid, "sites": sites, "unmet_cost_per_gpu_hour": unmet, "utilization": util,
                         "gpu_options": [{"gpu_type": g, "capacity_per_gpu": c} for g, c in options.items()]})
        demand += [{"service": sid, "period": t, "gpus": round(rate / req_per_gpu, 1)} for t, rate in enumerate(week)]
    return services, demand


# ---------------------------------------------------------------- training jobs

# GPUs per job: Helios/Seren medians are 1 GPU and means 3.7-5.7, Kalos (LLM) 26.8, max 1024-2048.
# Jobs shorter than an hour (most trace jobs: median run 2-4 min) are not planned hourly, so the
# mix here is that of hour-scale jobs, weighted toward 8-GPU multiples like the LLM clusters.
JOB_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
JOB_SIZE_P = [0.08, 0.06, 0.10, 0.22, 0.18, 0.14, 0.11, 0.07, 0.04]
DURATION_MEDIAN_H = 12.0     # lognormal: the traces' long tail (Helios mean 1.8 h over all jobs,
DURATION_SIGMA = 0.8         # max 50 days) cut to what a week can hold
DURATION_MAX_H = 72.0


def _training_jobs(rng: np.random.Generator) -> list[dict]:
    jobs = []
    for i in range(N_JOBS):
        gpus = int(rng.choice(JOB_SIZES, p=JOB_SIZE_P))
        hours = float(np.clip(round(rng.lognormal(math.log(DURATION_MEDIAN_H), DURATION_SIGMA), 1), 1.0, DURATION_MAX_H))
        latest_release = max(0, int(HOURS - 2.0 * hours - 6))
        release = 0 if rng.random() < 0.35 else int(rng.integers(0, latest_release + 1))
        slack = float(rng.uniform(1.3, 3.0))
        due = float(min(HOURS, release + math.ceil(hours * slack)))
        options = [{"gpu_type": "h800", "throughput": 0.95 if gpus >= 64 else 1.0}, {"gpu_type": "h100"}]
        if gpus <= 32:
            options.append({"gpu_type": "a800", "throughput": 0.45})
        job = {"id": f"job-{i:03d}", "tenant": TENANTS[int(rng.integers(0, len(TENANTS)))], "gpus": gpus,
               "gpu_options": options, "work_gpu_hours": round(gpus * hours, 1), "release_h": float(release),
               "due_h": due, "tardiness_cost_per_h": round(gpus * float(rng.uniform(2.0, 6.0)), 1),
               "restart_overhead_gpu_hours": round(0.25 * gpus, 2), "restart_cost": round(2.0 * gpus, 1)}
        draw = rng.random()
        if draw < 0.10:
            job["deadline_h"] = float(min(HOURS, release + math.ceil(2.0 * hours) + 4))
        if hours <= 24 and rng.random() < 0.20:
            job["preemptible"] = False
        elif gpus <= 64 and rng.random() < 0.25:
            job.update(migratable=True, migration_cost=round(5.0 * gpus, 1))
        if gpus <= 32 and rng.random() < 0.15:
            job["sites"] = ["shanghai"]     # data that may not leave the Shanghai site
        jobs.append(job)
    return jobs
