"""Batch throughput: the same generated instances solved serially, by 2 local worker processes
and by a 2-worker Dask LocalCluster.

Reports wall seconds, instances per minute and the speed-up against the serial run measured
in the same process (machines are noisy; ratios travel better than times), the sum of the
per-instance solve seconds and "busy workers" (that sum / wall seconds: how well the engine
keeps its workers fed, whatever else shares the CPUs), checks that the three runs found
identical objectives, and prints the load average before and after.

    python benchmarks/batch_throughput.py                      # 50 instances of 2,000 GPUs / 200 jobs
    python benchmarks/batch_throughput.py --instances 10 --no-dask
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import gpuplan as gp
from gpuplan.generate import write_assignment


def generate(folder: Path, count: int, gpus: int, jobs: int) -> Path:
    for seed in range(count):
        write_assignment(folder / f"g{gpus}-s{seed:03d}.json", gpus=gpus, jobs=jobs, seed=seed)
    for seed in range(2):  # one per worker
        write_assignment(folder.parent / "warmup" / f"tiny{seed}.json", gpus=64, jobs=6, seed=seed)
    return folder


def timed(label: str, size: int, folder: Path, out: Path, **engine) -> dict:
    # Warm up first: the local fork server / the Dask workers import the solver stack once.
    gp.solve_many(folder.parent / "warmup", out=None, **engine)
    tick = time.perf_counter()
    frame = gp.solve_many(folder, out=out, **engine)
    wall = time.perf_counter() - tick
    return {"engine": label, "workers": size, "wall_s": wall, "per_min": 60 * len(frame) / wall,
            "solve_s": frame.total_s.sum(), "statuses": frame.status.value_counts().to_dict(),
            "objectives": list(frame.objective)}


def markdown(rows: list[dict], count: int, gpus: int, jobs: int) -> str:
    serial = rows[0]["wall_s"]
    lines = [f"{count} instances of {gpus:,} GPUs / {jobs:,} jobs (seeds 0-{count - 1}), one thread per solve.",
             "",
             "| engine | workers | wall s | instances / min | speed-up vs serial | sum of solve s | busy workers | statuses |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        statuses = ", ".join(f"{k} {v}" for k, v in r["statuses"].items())
        lines.append(f"| {r['engine']} | {r['workers']} | {r['wall_s']:.1f} | {r['per_min']:.1f} | "
                     f"{serial / r['wall_s']:.2f}x | {r['solve_s']:.1f} | {r['solve_s'] / r['wall_s']:.2f} | {statuses} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--gpus", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gpuplan-batch-bench-") as tmp:
        folder = generate(Path(tmp) / "instances", args.instances, args.gpus, args.jobs)
        rows = [timed("serial (--workers 1)", 1, folder, Path(tmp) / "serial", workers=1)]
        print(markdown(rows, args.instances, args.gpus, args.jobs).splitlines()[-1], flush=True)
        rows.append(timed(f"local processes (--workers {args.workers})", args.workers, folder, Path(tmp) / "local",
                          workers=args.workers))
        print(markdown(rows, args.instances, args.gpus, args.jobs).splitlines()[-1], flush=True)
        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                rows.append(timed(f"Dask LocalCluster ({args.workers} workers)", args.workers, folder,
                                  Path(tmp) / "dask", scheduler=cluster.scheduler_address))
            print(markdown(rows, args.instances, args.gpus, args.jobs).splitlines()[-1], flush=True)
    load_after = os.getloadavg()
    identical = all(r["objectives"] == rows[0]["objectives"] for r in rows)
    print()
    print(f"### {date.today().isoformat()}, {os.cpu_count()} cores")
    print()
    print(markdown(rows, args.instances, args.gpus, args.jobs))
    print()
    print(f"Objectives identical across engines: {'yes' if identical else 'NO'}. Load average (1, 5, 15 min) "
          f"before: {', '.join(f'{x:.2f}' for x in load_before)}; after: {', '.join(f'{x:.2f}' for x in load_after)}.")


if __name__ == "__main__":
    main()
