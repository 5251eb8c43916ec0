"""Alibaba GPU trace v2023: how many GPUs can be allocated before the cluster is stuck, and how
many are stranded by fragmentation? (The question of Weng et al., USENIX ATC'23, "Beware of
Fragmentation".)

For each pod list (``default``, ``gpushare100``, ``multigpu50``) the pods are submitted in
arrival order, the list repeated ("inflation") until the submitted GPU demand reaches
``--inflation`` times the cluster's 6,212 GPUs, so that the cluster fills up. Then:

- ``best_fit``: greedy best-fit, one pod at a time, a pod that fits nowhere is dropped;
- ``fgd``: the FGD-style fragmentation-aware greedy (gpuplan.fragmentation), same protocol;
- ``milp``: the MILP over all submitted pods at once, offline (``gpuplan.solve``, objective
  ``utilization``): its solution and its proven bound on the GPUs any placement can allocate;
- ``batch``: the pods in arrival batches of ``--batch-size``, each batch re-optimised by the
  MILP with the pods placed earlier kept where they are (``current_placements``, not
  migratable, not preemptible).

Per policy: GPUs allocated (whole GPUs, shares of shared GPUs, total), stranded GPUs (the FGD
fragmentation of the final state for the pod list's task-type popularity), pods placed, time
per decision (simulators: per pod; MILP: solve wall time over the submitted pods), each also
as a ratio to best-fit. Every MILP solution goes through ``gpuplan.verify``; the simulators'
rows through the verifier's rules. The tables are printed and, unless ``--no-readme``, added
with the date and the machine load to the Alibaba section of benchmarks/README.md.

    python benchmarks/alibaba_fragmentation.py                                  # everything
    python benchmarks/alibaba_fragmentation.py --variants best_fit fgd          # simulators only (~1 min)
    python benchmarks/alibaba_fragmentation.py --lists default --milp-time-limit 60 \\
        --batch-size 2000 --batch-time-limit 20 --no-readme                    # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import gpuplan as gp
from gpuplan.fragmentation import ClusterState, NodeGrant, Workload, placement_rows, simulate, stranded_gpus
from gpuplan.importers.alibaba import TracePod, instance_data, read_nodes, read_pods

TRACE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "traces" / "alibaba-gpu-v2023"
README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Alibaba GPU trace: fragmentation"
LISTS = ("default", "gpushare100", "multigpu50")
VARIANTS = ("best_fit", "fgd", "milp", "batch")
LABELS = {"best_fit": "best-fit", "fgd": "FGD", "milp": "MILP offline", "batch": "MILP batches"}


@dataclass
class Outcome:
    policy: str
    whole: float = 0.0          # GPUs held whole
    shared: float = 0.0         # shares of shared GPUs, in GPUs
    placed: int = 0
    stranded: float = float("nan")
    seconds_per_decision: float = float("nan")
    bound: float | None = None
    note: str = ""

    @property
    def total(self) -> float:
        return self.whole + self.shared


# ---------------------------------------------------------------- the pod stream


def pod_stream(pods: tuple[TracePod, ...], capacity: int, inflation: float) -> list[TracePod]:
    """Pods in arrival order, the list repeated (copies named ``<name>@<k>``), until the submitted
    GPU demand reaches ``inflation`` x ``capacity``."""
    target, demand, stream = inflation * capacity, 0.0, []
    if not any(pod.gpu_demand > 0 for pod in pods):
        raise ValueError("the pod list asks for no GPU")
    for repeat in range(10**6):
        for pod in pods:
            if demand >= target:
                return stream
            stream.append(pod if repeat == 0 else replace(pod, name=f"{pod.name}@{repeat}"))
            demand += pod.gpu_demand
    return stream


def allocated(state: ClusterState, rows: list[NodeGrant]) -> tuple[float, float]:
    """(GPUs held whole, GPU shares held by sharing pods) of the rows."""
    tasks = state.tasks
    whole = sum(row.gpus for row in rows if row.gpu_index is None)
    shared = sum(int(tasks.milli[tasks.index[row.job]]) for row in rows if row.gpu_index is not None) / 1000
    return float(whole), shared


def check_rows(instance: gp.Instance, rows: list[NodeGrant], expected_total: float) -> str:
    """The verifier's rules (models/assignment.md, rules 1-9) on the rows, and its count of
    allocated GPUs against ours. Returns "" when both agree, else what went wrong."""
    violations = gp.verify_rows(instance, rows, objective="utilization")
    evaluation = gp.evaluate(instance, rows, objective="utilization")
    if violations:
        return f"{len(violations)} rule violations, first: {violations[0]}"
    if abs(evaluation.kpis["allocated_gpus"] - expected_total) > 1e-6:
        return f"verifier counts {evaluation.kpis['allocated_gpus']} allocated GPUs, we count {expected_total}"
    return ""


# ---------------------------------------------------------------- policies


def run_simulator(policy: str, instance: gp.Instance, workload: Workload) -> tuple[Outcome, list]:
    sim = simulate(instance, policy, workload=workload)
    whole, shared = allocated(sim.state, sim.rows)
    problem = check_rows(instance, sim.rows, whole + shared)
    if problem:
        raise AssertionError(f"{policy}: {problem}")
    times = sim.decision_times * 1e3
    return Outcome(policy, whole, shared, len(sim.placed), stranded_gpus(sim.state, workload),
                   sim.seconds_per_decision,
                   note=f"median {np.median(times):.2f} ms, p99 {np.percentile(times, 99):.2f} ms, "
                        f"max {times.max():.1f} ms per decision"), sim.rows


def run_offline(instance: gp.Instance, workload: Workload, args, start=None) -> Outcome:
    began = time.perf_counter()
    result = gp.solve(instance, objective="utilization", time_limit=args.milp_time_limit, mip_gap=args.mip_gap,
                      threads=args.threads, start=start)
    seconds = time.perf_counter() - began
    pods = len(instance.jobs)
    if not result.has_solution:
        return Outcome("milp", bound=result.bound, seconds_per_decision=seconds / pods,
                       note=f"{result.status}, no solution: {result.message}")
    gp.verify(instance, result)
    rows = placement_rows(result.placements)
    state = ClusterState.from_instance(instance, rows)
    whole, shared = allocated(state, rows)
    gap = "-" if result.gap is None else f"{100 * result.gap:.3f}%"
    return Outcome("milp", whole, shared, len({row.job for row in rows}), stranded_gpus(state, workload),
                   seconds / pods, bound=result.bound,
                   note=f"{result.status}, gap {gap}, {seconds:.0f} s (build {_build_s(result):.0f} s)")


def run_batches(nodes, stream: list[TracePod], workload: Workload, args) -> Outcome:
    placed: list[TracePod] = []
    rows: list[NodeGrant] = []
    statuses: dict[str, int] = {}
    worst_gap, seconds = 0.0, 0.0
    for start in range(0, len(stream), args.batch_size):
        batch = stream[start:start + args.batch_size]
        began = time.perf_counter()
        instance = batch_instance(nodes, placed, batch, rows)
        # The batch placed by FGD from the current state is offered as a start: the MILP keeps
        # it when nothing better is proven (every batch fits while the cluster fills up).
        fgd_rows = simulate(instance, "fgd", workload=workload).rows
        result = gp.solve(instance, objective="utilization", time_limit=args.batch_time_limit,
                          mip_gap=args.mip_gap, threads=args.threads, start=fgd_rows)
        seconds += time.perf_counter() - began
        statuses[result.status] = statuses.get(result.status, 0) + 1
        if not result.has_solution:
            continue          # the batch is dropped, like pods that fit nowhere
        gp.verify(instance, result)
        new_rows = placement_rows(result.placements)
        kept = {row for row in new_rows if row.job in {pod.name for pod in placed}}
        if kept != set(rows):
            raise AssertionError(f"batch at pod {start}: pods placed earlier were not kept as they were")
        rows = sorted(new_rows, key=lambda row: row.job)
        holders = {row.job for row in rows}
        placed += [pod for pod in batch if pod.name in holders]
        worst_gap = max(worst_gap, result.gap or 0.0)
        print(f"    batch {start // args.batch_size + 1}: {result.status}, {len(placed)} pods placed, "
              f"{time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    state = ClusterState.from_instance(gp.from_dict(instance_data(nodes, stream)), rows)
    whole, shared = allocated(state, rows)
    status_text = ", ".join(f"{status} {count}" for status, count in statuses.items())
    return Outcome("batch", whole, shared, len(placed), stranded_gpus(state, workload), seconds / len(stream),
                   note=f"{sum(statuses.values())} batches of {args.batch_size}: {status_text}; "
                        f"worst gap {100 * worst_gap:.3f}%; {seconds:.0f} s")


def batch_instance(nodes, placed: list[TracePod], batch: list[TracePod], rows: list[NodeGrant]) -> gp.Instance:
    """The cluster with the pods placed so far running where they are (kept: neither migratable
    nor preemptible) and the batch's pods queued."""
    data = instance_data(nodes, placed + batch, name="alibaba-batch")
    running = {pod.name for pod in placed}
    for job in data["jobs"]:
        if job["id"] in running:
            job["migratable"] = job["preemptible"] = False
    data["current_placements"] = [
        {"job": row.job, "node": row.node, "gpus": row.gpus,
         **({"gpu_index": row.gpu_index} if row.gpu_index is not None else {})}
        for row in rows
    ]
    return gp.from_dict(data)


def _build_s(result) -> float:
    t = result.timings
    return sum(t.get(key, 0.0) for key in ("index_s", "greedy_s", "build_s", "handoff_s"))


# ---------------------------------------------------------------- one pod list


def run_list(name: str, nodes, args) -> tuple[str, list[Outcome]]:
    pod_list = read_pods(TRACE / f"openb_pod_list_{name}.csv")
    capacity = sum(node.gpus for node in nodes)
    stream = pod_stream(pod_list.pods, capacity, args.inflation)
    instance = gp.from_dict(instance_data(nodes, stream, name=f"alibaba-{name}-x{args.inflation:g}"))
    # The target workload of FGD and of the stranded measure: the pod list's own task types.
    target = ClusterState.from_instance(gp.from_dict(instance_data(nodes, list(pod_list.pods))))
    workload = Workload.from_state(target)
    demand = sum(pod.gpu_demand for pod in stream)
    header = (f"`{name}`: {len(pod_list.pods):,} pods in the list, {len(stream):,} submitted "
              f"({demand:,.1f} GPUs asked = {demand / capacity:.2f} x {capacity:,}); "
              f"{len(workload)} GPU task types")
    print(header, file=sys.stderr, flush=True)
    outcomes, starts = [], []
    for variant in args.variants:
        began = time.perf_counter()
        if variant in ("best_fit", "fgd"):
            outcome, rows = run_simulator(variant, instance, workload)
            starts.append((outcome.total, rows))
        elif variant == "milp":
            # The best simulator placement is offered as the MILP's start.
            outcome = run_offline(instance, workload, args, start=max(starts, key=lambda s: s[0])[1] if starts else None)
        else:
            outcome = run_batches(nodes, stream, workload, args)
        outcomes.append(outcome)
        print(f"  {LABELS[variant]}: {outcome.total:,.2f} GPUs, {outcome.placed:,} pods, "
              f"stranded {outcome.stranded:,.1f} ({time.perf_counter() - began:.0f} s) {outcome.note}",
              file=sys.stderr, flush=True)
    return header, outcomes


def markdown(header: str, outcomes: list[Outcome]) -> str:
    base = next((o for o in outcomes if o.policy == "best_fit"), None)

    def ratio(value: float, reference: float | None) -> str:
        if reference is None or not reference or value != value:
            return "-"
        return f"{value / reference:.3f}"

    lines = [
        header, "",
        "| policy | allocated: whole | fractional | total | vs BF | stranded GPUs | vs BF | pods placed | vs BF "
        "| ms / decision | vs BF | bound | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        ms = o.seconds_per_decision * 1e3
        lines.append(
            f"| {LABELS[o.policy]} | {o.whole:,.0f} | {o.shared:,.2f} | {o.total:,.2f} | "
            f"{ratio(o.total, base and base.total)} | {o.stranded:,.1f} | {ratio(o.stranded, base and base.stranded)} | "
            f"{o.placed:,} | {ratio(o.placed, base and base.placed)} | {ms:.3g} | "
            f"{ratio(ms, base and base.seconds_per_decision * 1e3)} | "
            f"{'-' if o.bound is None else f'{o.bound:,.2f}'} | {o.note} |")
    return "\n".join(lines)


def machine() -> str:
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; uptime: {load}"


def add_to_readme(block: str) -> None:
    """Insert ``block`` at the end of the Alibaba section (created when missing)."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{SECTION} (`python benchmarks/alibaba_fragmentation.py`)\n\n{block}\n"
    else:
        following = text.find("\n## ", start + len(SECTION))
        end = len(text) if following < 0 else following + 1
        text = text[:end].rstrip("\n") + f"\n\n{block}\n" + ("\n" + text[end:] if following >= 0 else "")
    README.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lists", nargs="+", choices=LISTS, default=list(LISTS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--inflation", type=float, default=1.2,
                        help="submit pods until their GPU demand reaches this multiple of the cluster's GPUs")
    parser.add_argument("--milp-time-limit", type=float, default=600.0, help="seconds for the offline MILP")
    parser.add_argument("--batch-size", type=int, default=500, help="pods per re-optimised batch")
    parser.add_argument("--batch-time-limit", type=float, default=30.0, help="seconds per batch MILP")
    parser.add_argument("--mip-gap", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--title", default="", help="a few words for the README heading")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args()
    if not (TRACE / "openb_node_list_all_node.csv").is_file():
        sys.exit(f"trace not found at {TRACE}")
    before = machine()
    nodes = read_nodes(TRACE / "openb_node_list_all_node.csv")
    tables = [markdown(*run_list(name, nodes, args)) for name in args.lists]
    options = (f"inflation {args.inflation:g}, variants {' '.join(args.variants)}, MILP time limit "
               f"{args.milp_time_limit:g} s, batches of {args.batch_size} with {args.batch_time_limit:g} s each, "
               f"mip gap {args.mip_gap:g}")
    title = f"### {datetime.date.today().isoformat()}" + (f", {args.title}" if args.title else "")
    block = "\n\n".join([title, f"Options: {options}.  \nMachine before: {before}.  \nAfter: {machine()}.", *tables])
    print(block)
    if not args.no_readme:
        add_to_readme(block)
        print(f"\nadded to {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
