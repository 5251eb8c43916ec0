"""The schedule at scale: generated instances and the tidal week, the MILP strategy against the two
baselines (asap, carbon_aware) run in the same process.

    python benchmarks/schedule_scale.py                          # the standard rows
    python benchmarks/schedule_scale.py --rows 2k,10k --time-limit 300 --energy-bound

Each row runs in its own process (so the peak memory is the row's): the baselines, then
``gp.solve(problem="schedule", time_limit=...)``. Reported: the strategy (exact model or the
large-instance path), build/hand-off/relaxation/plan seconds, objective, bound and proven gap,
energy per day (MWh), and per baseline the ratio MILP / baseline of objective, energy cost,
carbon, deadline misses and mean utilization, and utilization by hour of day (each of the 24
hours' busy over available GPUs, and its ratio to each baseline's). With ``--energy-bound`` a second fluid relaxation
bounds the energy-and-carbon part alone (energy cost + demand charge + carbon cost) over plans
that finish the jobs the MILP's plan finishes, and the part's own gap is reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import gpuplan as gp

ROOT = Path(__file__).resolve().parents[1]
# label -> generate_schedule arguments (gpus, jobs, services, sites, hours), or a file
ROWS = {
    "2k": (2000, 100, 6, 3, 168),
    "10k": (10000, 500, 12, 3, 168),
    "100k": (100000, 5000, 50, 4, 168),
    "tidal_week": ROOT / "instances" / "schedule" / "tidal_week_3sites.yaml",
}
ENERGY_TERMS = ("energy_cost", "demand_charge", "carbon_cost")


def instance_of(label: str):
    spec = ROWS[label]
    if isinstance(spec, Path):
        return gp.load(spec)
    from gpuplan.generate_schedule import generate_schedule

    return generate_schedule(*spec, seed=1)


def run_row(label: str, time_limit: float, energy_bound: bool) -> dict:
    instance = instance_of(label)
    baselines = {}
    for method in ("asap", "carbon_aware"):
        tick = time.perf_counter()
        baselines[method] = (gp.solve(instance, problem="schedule", method=method), time.perf_counter() - tick)
    tick = time.perf_counter()
    result = gp.solve(instance, problem="schedule", time_limit=time_limit)
    seconds = time.perf_counter() - tick
    if result.has_solution:
        gp.verify(instance, result)
    t = result.timings
    row = {
        "row": label, "gpus": sum(c.nodes * c.gpus_per_node for c in instance.capacity if c.period is None),
        "jobs": len(instance.training_jobs), "periods": instance.time.periods,
        "strategy": "large" if result.message.startswith("large instance") else "exact",
        "status": result.status, "seconds": round(seconds, 1),
        **{k: round(t.get(k, 0.0), 1) for k in ("build_s", "handoff_s", "relaxation_s", "plans_s", "solve_s")},
        "objective": result.objective, "bound": result.bound, "gap": result.gap,
        "energy_mwh_per_day": result.kpis.get("energy_mwh", 0.0) * 24 / (instance.time.periods * instance.time.period_hours)
        if result.has_solution else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "message": result.message,
    }
    for method, (base, base_s) in baselines.items():
        row[f"{method}_s"] = round(base_s, 1)
        row[f"{method}_objective"] = base.objective
        if result.has_solution and base.has_solution:
            for kpi in ("energy_cost", "carbon_t", "deadline_misses", "gpu_utilization"):
                ours, theirs = result.kpis.get(kpi, 0.0), base.kpis.get(kpi, 0.0)
                row[f"vs_{method}_{kpi}"] = ours / theirs if theirs else (1.0 if ours == theirs else None)
            row[f"vs_{method}_objective"] = result.objective / base.objective if base.objective else None
    if result.has_solution:
        ours = hourly_utilization(instance, result)
        for method, (base, _) in baselines.items():
            if base.has_solution:
                theirs = hourly_utilization(instance, base)
                ratio = [a / b if b else None for a, b in zip(ours, theirs)]
                row[f"vs_{method}_utilization_by_hour"] = [None if r is None else round(r, 3) for r in ratio]
        row["utilization_by_hour"] = [round(u, 3) for u in ours]
    if energy_bound and result.has_solution:
        row.update(energy_part(instance, result, time_limit))
    return row


def hourly_utilization(instance, result) -> list[float]:
    """Busy over available GPUs per hour of the day (0-23, local to the grid's start), all sites."""
    import pandas as pd

    start = pd.Timestamp(instance.time.start) if instance.time.start else pd.Timestamp("2000-01-01")
    energy = result.energy
    hours = (start + pd.to_timedelta(energy["period"] * instance.time.period_hours, unit="h")).dt.hour
    by_hour = energy.groupby(hours)[["busy_gpus", "capacity_gpus"]].sum()
    return [float(by_hour.busy_gpus.get(h, 0.0) / by_hour.capacity_gpus.get(h, 1.0)) if by_hour.capacity_gpus.get(h, 0)
            else 0.0 for h in range(24)]


def energy_part(instance, result, time_limit: float) -> dict:
    """The energy-and-carbon part's value, a bound on it over plans that finish the jobs this
    plan finishes (the fluid relaxation with those terms only and those jobs required), its gap."""
    from gpuplan.index.schedule import build_schedule_index
    from gpuplan.model.schedule.fluid import build_fluid
    from gpuplan.solver import HighsSession, SolveOptions, relative_gap

    terms = dict(zip(result.objective_terms.term, result.objective_terms.value))
    value = sum(terms.get(name, 0.0) for name in ENERGY_TERMS)
    finished = set(result.jobs.loc[result.jobs["state"] != "unfinished", "job"])
    idx = build_schedule_index(instance)
    for job in idx.jobs:
        job.required = job.required or job.id in finished
    built = build_fluid(idx, "cost", "min", lambda built: {name: 1.0 for name in ENERGY_TERMS})
    tick = time.perf_counter()
    relaxation = HighsSession(built.model, SolveOptions(time_limit=time_limit)).relaxation(time_limit, "ipm")
    bound = relaxation.bound if relaxation.status == "optimal" else None
    return {"energy_part": value, "energy_part_bound": bound, "energy_part_gap": relative_gap(value, bound),
            "energy_bound_s": round(time.perf_counter() - tick, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2k,10k,tidal_week,100k", help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--energy-bound", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON lines here too")
    parser.add_argument("--one", help=argparse.SUPPRESS)      # run one row in this process, print it
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_row(args.one, args.time_limit, args.energy_bound)))
        return 0
    for label in args.rows.split(","):
        command = [sys.executable, __file__, "--one", label, "--time-limit", str(args.time_limit)]
        if args.energy_bound:
            command.append("--energy-bound")
        done = subprocess.run(command, capture_output=True, text=True)
        line = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else json.dumps(
            {"row": label, "failed": done.stderr.strip().splitlines()[-1:] or ["no output"]})
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as out:
                out.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
