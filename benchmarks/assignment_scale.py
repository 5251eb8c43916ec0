"""Assignment at scale: generated clusters of 1,000 / 10,000 / 100,000 GPUs, and the largest
Yagiura GAP instances (up to 80 agents x 1,600 jobs) against their published optima.

For each size: Pyomo build (index + model), hand-off to HiGHS, solve, proven gap, and the
objective as a ratio to the greedy best-fit baseline run in the same process. For each GAP
instance: the time to the published optimum (or the gap left at the time limit).

    python benchmarks/assignment_scale.py                      # the standard rows
    python benchmarks/assignment_scale.py --sizes 10000:1000 --gap-instances none
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import gpuplan as gp
from gpuplan.generate import assignment_instance

STANDARD_SIZES = "1000:100,10000:1000,100000:10000"
GAP_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "orlib" / "gap"
STANDARD_GAP = "yagiura2004/c60900,yagiura2004/d60900,yagiura2004/e60900,yagiura2004/d201600,yagiura2004/d401600,yagiura2004/d801600,yagiura2004/e801600"


def run_size(gpus: int, jobs: int, seed: int, time_limit: float, mip_gap: float, threads: int | None) -> dict:
    instance = assignment_instance(gpus=gpus, jobs=jobs, seed=seed)
    tick = time.perf_counter()
    greedy = gp.solve(instance, method="greedy")
    greedy_s = time.perf_counter() - tick
    result = gp.solve(instance, time_limit=time_limit, mip_gap=mip_gap, threads=threads)
    if result.has_solution:
        gp.verify(instance, result)
    t = result.timings
    return {
        "gpus": gpus,
        "jobs": jobs,
        "build_s": t.get("index_s", 0) + t.get("greedy_s", 0) + t.get("build_s", 0),
        "handoff_s": t.get("handoff_s", 0),
        # relaxation, rounding, branch-and-bound and search: everything after the hand-off
        "solve_s": sum(t.get(key, 0) for key in ("relaxation_s", "rounding_s", "solve_s", "search_s")),
        "total_s": t.get("total_s", 0),
        "status": result.status,
        "gap": result.gap,
        "objective": result.objective,
        "greedy": greedy.objective,
        "ratio": (result.objective / greedy.objective) if result.objective and greedy.objective else None,
        "greedy_s": greedy_s,
    }


def markdown(rows: list[dict]) -> str:
    head = ("| GPUs | jobs | build s | hand-off s | solve s | total s | status | gap | objective / greedy | greedy s |\n"
            "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    lines = [head]
    for r in rows:
        gap = "-" if r["gap"] is None else f"{100 * r['gap']:.3f}%"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.4f}"
        lines.append(f"| {r['gpus']:,} | {r['jobs']:,} | {r['build_s']:.2f} | {r['handoff_s']:.2f} | {r['solve_s']:.2f} | "
                     f"{r['total_s']:.2f} | {r['status']} | {gap} | {ratio} | {r['greedy_s']:.2f} |")
    return "\n".join(lines)


def run_gap(path: str, time_limit: float) -> dict:
    from gpuplan.importers.gap import read_gap

    with (GAP_DATA / "optima.csv").open() as handle:
        known = {row["path"]: row for row in csv.DictReader(handle)}[path]
    instance = read_gap(GAP_DATA / path)
    result = gp.solve(instance, time_limit=time_limit, mip_gap=0)
    if result.has_solution:
        gp.verify(instance, result)
    best = int(known["min_best_known"])
    return {
        "instance": path.split("/")[-1],
        "size": f"{known['agents']} x {known['jobs']}",
        "status": result.status,
        "seconds": result.timings.get("total_s", 0),
        "objective": result.objective,
        "bound": result.bound,
        "published": best,
        "published_status": known["min_status"],
        "excess": None if result.objective is None else (result.objective - best) / best,
        "gap": result.gap,
    }


def gap_markdown(rows: list[dict]) -> str:
    lines = ["| instance | agents x jobs | status | s | objective | published (status) | over published | proven gap |",
             "|---|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        excess = "-" if r["excess"] is None else f"{100 * r['excess']:.3f}%"
        gap = "-" if r["gap"] is None else f"{100 * r['gap']:.3f}%"
        objective = "-" if r["objective"] is None else f"{r['objective']:.0f}"
        lines.append(f"| {r['instance']} | {r['size']} | {r['status']} | {r['seconds']:.1f} | {objective} | "
                     f"{r['published']} ({r['published_status']}) | {excess} | {gap} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=STANDARD_SIZES, help="comma-separated GPUS:JOBS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--mip-gap", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--gap-instances", default=STANDARD_GAP, help="comma-separated paths under orlib/gap, or 'none'")
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        gpus, jobs = (int(x) for x in size.split(":"))
        rows.append(run_size(gpus, jobs, args.seed, args.time_limit, args.mip_gap, args.threads))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(markdown(rows))
    if args.gap_instances != "none" and (GAP_DATA / "optima.csv").exists():
        gap_rows = []
        for path in args.gap_instances.split(","):
            gap_rows.append(run_gap(path, args.time_limit))
            print(gap_markdown(gap_rows[-1:]).splitlines()[-1], flush=True)
        print()
        print(gap_markdown(gap_rows))


if __name__ == "__main__":
    main()
