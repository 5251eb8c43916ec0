"""GPU-level cluster state, best-fit and FGD simulators, the FGD fragmentation measure."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import gpuplan as gp
from builders import skip_without_data
from gpuplan.fragmentation import (
    ClusterState, PlacementRow, Workload, best_fit, candidates, fgd, simulate, state_fragmentation, stranded_gpus,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRACE = DATA / "traces" / "alibaba-gpu-v2023"

TYPES = [
    {"id": "A", "memory_gb": 32, "power_w": 300, "idle_power_w": 60},
    {"id": "B", "memory_gb": 16, "power_w": 70, "idle_power_w": 14},
]


def _instance(pools, jobs, current=(), nodes=()) -> gp.Instance:
    return gp.from_dict({
        "schema_version": 1,
        "gpu_types": TYPES,
        "sites": [{"id": "s"}],
        "pods": [{"id": "p", "site": "s"}],
        "node_pools": [{"pod": "p", **pool} for pool in pools],
        "nodes": list(nodes),
        "tenants": [{"id": "t"}],
        "jobs": jobs,
        "current_placements": [dict(zip(("job", "node", "gpus", "gpu_index"), row)) for row in current],
        "options": {"objective": "utilization"},
    })


def _pool(id, gpu_type, gpus, count=1, cpu=100_000, mem=100_000):
    return {"id": id, "gpu_type": gpu_type, "gpus_per_node": gpus, "node_count": count,
            "cpu_milli_per_node": cpu, "host_memory_mib_per_node": mem}


def _job(id, gpus=1, share=1000, cpu=1000, mem=1000, types=("A", "B")):
    job = {"id": id, "tenant": "t", "scope": "node", "cpu_milli": cpu, "host_memory_mib": mem}
    if gpus:
        job["gpu_options"] = [{"gpu_type": t, "gpus": gpus} for t in types]
    if share < 1000:
        job["gpu_share_milli"] = share
    return job


def _workload(state: ClusterState, job_ids: list[str]) -> Workload:
    return Workload.from_tasks(state.tasks, np.array([state.tasks.index[j] for j in job_ids]))


def check_rows(instance: gp.Instance, rows) -> list[str]:
    """The Rules of models/assignment.md for jobs on one node each, written again from the text
    (independent of ClusterState): capacity per node and per shared GPU, CPU and memory,
    eligibility, gang size, row shape, one row per job."""
    pools = {pool.id: pool for pool in instance.node_pools}
    node_pool = {node.id: pools[node.pool] for node in instance.nodes}
    for pool in instance.node_pools:
        if not any(node.pool == pool.id for node in instance.nodes):
            width = max(2, len(str(max(pool.node_count - 1, 0))))
            node_pool.update({f"{pool.id}-{i:0{width}d}": pool for i in range(pool.node_count)})
    jobs = {job.id: job for job in instance.jobs}
    problems, seen = [], set()
    whole, shares = defaultdict(int), defaultdict(int)
    cpu, mem = defaultdict(int), defaultdict(int)
    for job_id, node, gpus, index in rows:
        job, pool = jobs[job_id], node_pool[node]
        if job_id in seen:
            problems.append(f"{job_id}: two rows")
        seen.add(job_id)
        cpu[node] += job.cpu_milli
        mem[node] += job.host_memory_mib
        if not job.gpu_options:
            if gpus != 0 or index is not None:
                problems.append(f"{job_id}: CPU-only row {gpus}, {index}")
            continue
        if pool.gpu_type not in {o.gpu_type for o in job.gpu_options}:
            problems.append(f"{job_id}: not eligible on {node}")
        if job.gpu_share_milli < 1000:
            if gpus != 1 or index is None or not 0 <= index < pool.gpus_per_node:
                problems.append(f"{job_id}: sharing row {gpus}, {index}")
            shares[node, index] += job.gpu_share_milli
        elif gpus != job.gpus_on(pool.gpu_type) or index is not None:
            problems.append(f"{job_id}: whole row {gpus}, {index}")
        else:
            whole[node] += gpus
    for (node, index), total in shares.items():
        if total > 1000:
            problems.append(f"{node} GPU {index}: shares {total}")
    for node, pool in node_pool.items():
        used = whole[node] + len({i for (n, i) in shares if n == node})
        if used > pool.gpus_per_node:
            problems.append(f"{node}: {used} GPUs used of {pool.gpus_per_node}")
        if cpu[node] > pool.cpu_milli_per_node or mem[node] > pool.host_memory_mib_per_node:
            problems.append(f"{node}: CPU {cpu[node]} / memory {mem[node]} over capacity")
    return problems


# ---------------------------------------------------------------- where best-fit and FGD differ


def test_sharing_pod_best_fit_packs_fgd_keeps_a_usable_gpu():
    """Node a's GPU has 600 free (a 400 pod runs there), node b's 700 (a 300 pod). The target
    workload is pods sharing 500 of a GPU. A 200 pod arrives:

    - best-fit takes a (400 left on the node, against 500 on b);
    - FGD sees that a's 400 left could host no 500 pod (F(a): 0 -> 400) while b keeps 500
      (F(b) stays 0), and takes b.

    Two 500 pods follow: FGD places both (one on a, one on b), best-fit only one."""
    instance = _instance(
        [_pool("a", "A", 1), _pool("b", "A", 1)],
        [_job("ra", share=400), _job("rb", share=300), _job("new", share=200),
         _job("typical", share=500), _job("typical2", share=500)],
        current=[("ra", "a-00", 1, 0), ("rb", "b-00", 1, 0)],
    )
    state = ClusterState.from_instance(instance)
    workload = _workload(state, ["typical"])
    bf = best_fit(instance, order=["new"], workload=workload)
    fg = fgd(instance, order=["new"], workload=workload)
    assert bf.rows[-1] == PlacementRow("new", "a-00", 1, 0)
    assert fg.rows[-1] == PlacementRow("new", "b-00", 1, 0)
    assert stranded_gpus(bf.state, workload) == pytest.approx(0.4)
    assert stranded_gpus(fg.state, workload) == pytest.approx(0.0)
    order = ["new", "typical", "typical2"]
    bf = best_fit(instance, order=order, workload=workload)
    fg = fgd(instance, order=order, workload=workload)
    assert bf.dropped == ["typical2"] and fg.dropped == []
    assert check_rows(instance, bf.rows) == [] and check_rows(instance, fg.rows) == []


def test_whole_gpu_pod_fgd_avoids_starving_a_node_of_cpu():
    """Node a: 2 idle GPUs but only 10 cores; node b: 3 idle GPUs, 100 cores. Typical pods
    want 1 GPU and 8 cores. A 1-GPU pod with 4 cores arrives:

    - best-fit takes a (1 GPU left, against 2 on b);
    - FGD: on a, 6 cores are left, so a typical pod no longer fits and a's last idle GPU is
      stranded (F(a): 0 -> 1000); on b nothing is stranded. It takes b."""
    instance = _instance(
        [_pool("a", "A", 2, cpu=10_000), _pool("b", "B", 3, cpu=100_000)],
        [_job("typical", cpu=8000), _job("new", cpu=4000)],
    )
    state = ClusterState.from_instance(instance)
    workload = _workload(state, ["typical"])
    bf = best_fit(instance, order=["new"], workload=workload)
    fg = fgd(instance, order=["new"], workload=workload)
    assert bf.rows == [PlacementRow("new", "a-00", 1)]
    assert fg.rows == [PlacementRow("new", "b-00", 1)]
    assert stranded_gpus(bf.state, workload) == pytest.approx(1.0)
    assert stranded_gpus(fg.state, workload) == pytest.approx(0.0)


def test_within_a_node_best_fit_takes_the_fullest_gpu_fgd_the_harmless_one():
    """One node, GPUs with 1000 / 600 / 300 free; typical pods share 500 or take a whole GPU
    (half each). F before = 0.5 * 300 (below 500) + 0.5 * (600 + 300) (below 1000) = 600.
    A 300 pod arrives:

    - best-fit: the fullest GPU that fits, GPU 2;
    - FGD: GPU 0 (-> 700/600/300) leaves no idle GPU, so the whole pods strand all 1600:
      F = 0.5 * 300 + 0.5 * 1600 = 950 (+350); GPU 1 (-> 1000/300/300): F = 0.5 * 600 +
      0.5 * 600 = 600 (+0); GPU 2 (-> 1000/600/0): F = 0 + 0.5 * 600 = 300 (-300). FGD
      takes GPU 2 as well: filling a fragment is what both want here."""
    instance = _instance(
        [_pool("a", "A", 3)],
        [_job("r1", share=400), _job("r2", share=700), _job("half", share=500), _job("one"), _job("new", share=300)],
        current=[("r1", "a-00", 1, 1), ("r2", "a-00", 1, 2)],
    )
    state = ClusterState.from_instance(instance)
    workload = _workload(state, ["half", "one"])
    assert best_fit(instance, order=["new"], workload=workload).rows[-1] == PlacementRow("new", "a-00", 1, 2)
    assert fgd(instance, order=["new"], workload=workload).rows[-1] == PlacementRow("new", "a-00", 1, 2)
    assert state_fragmentation(state, workload).tolist() == [600]
    c = candidates(state, state.tasks.index["new"])
    assert list(c.gpu) == [0, 1, 2]
    assert list(state_fragmentation_after(state, workload, c)) == pytest.approx([950, 600, 300])


def state_fragmentation_after(state, workload, c):
    from gpuplan.fragmentation import node_fragmentation

    return node_fragmentation(workload, state.node_type[c.node], c.cpu_free, c.mem_free, c.gpu_free)


def test_cpu_only_pods_go_to_cpu_only_nodes_under_both():
    instance = _instance(
        [_pool("g", "A", 2), {"id": "c", "gpus_per_node": 0, "node_count": 1, "cpu_milli_per_node": 8000,
                              "host_memory_mib_per_node": 8000}],
        [_job("typical"), _job("cpu1", gpus=0, cpu=4000), _job("cpu2", gpus=0, cpu=4000), _job("cpu3", gpus=0, cpu=4000)],
    )
    for sim in (best_fit(instance, order=["cpu1", "cpu2", "cpu3"]), fgd(instance, order=["cpu1", "cpu2", "cpu3"])):
        assert [(r.node, r.gpus, r.gpu_index) for r in sim.rows] == [("c-00", 0, None), ("c-00", 0, None), ("g-00", 0, None)]
        assert check_rows(instance, sim.rows) == []


def test_gpu_type_and_drop():
    instance = _instance(
        [_pool("a", "A", 1), _pool("b", "B", 4)],
        [_job("onlyA", types=("A",)), _job("onlyA2", types=("A",)), _job("big", gpus=8), _job("two", gpus=2)],
    )
    for policy in ("best_fit", "fgd"):
        sim = simulate(instance, policy)
        assert [(r.job, r.node) for r in sim.rows] == [("onlyA", "a-00"), ("two", "b-00")]
        assert sim.dropped == ["onlyA2", "big"]
        assert sim.decisions == 4


# ---------------------------------------------------------------- the measure, by hand


def test_fragmentation_by_hand():
    """Workload: a = 1 whole GPU on type A only, 4 cores (p 0.5); b = 300 of one GPU (p 0.25);
    c = 2 whole GPUs, 50 cores (p 0.25).

    - node x (A, 4 GPUs free 1000/700/200/0, 40 cores free): a fits, strands 700+200 = 900;
      b fits, strands the GPUs below 300: 200; c lacks CPU: strands all 1900.
      F = 0.5*900 + 0.25*200 + 0.25*1900 = 975.
    - node y (CPU-only): nothing to strand, F = 0.
    - node z (A, 2 idle GPUs, 100 cores): everything fits, nothing is below a demand: F = 0.
    - node w (B, free 1000/500): a may not use B: 1500; b fits, nothing below 300: 0; c needs
      2 idle GPUs, has 1: 1500. F = 0.5*1500 + 0.25*1500 = 1125.
    Stranded: (975 + 1125) / 1000 = 2.1 GPUs."""
    instance = _instance(
        [_pool("x", "A", 4, cpu=60_000), {"id": "y", "gpus_per_node": 0, "node_count": 1},
         _pool("z", "A", 2), _pool("w", "B", 2)],
        [_job("a", cpu=4000, types=("A",)), _job("b", share=300, cpu=1000), _job("c", gpus=2, cpu=50_000),
         _job("x-whole", cpu=10_000), _job("x-300", share=300, cpu=5000), _job("x-800", share=800, cpu=5000),
         _job("w-500", share=500)],
        current=[("x-whole", "x-00", 1, None), ("x-300", "x-00", 1, 1), ("x-800", "x-00", 1, 2), ("w-500", "w-00", 1, 1)],
    )
    state = ClusterState.from_instance(instance)
    assert state.gpu_free.tolist() == [[0, 700, 200, 1000], [0, 0, 0, 0], [1000, 1000, 0, 0], [1000, 500, 0, 0]]
    assert state.cpu_free[0] == 40_000
    ids = state.tasks.index
    workload = Workload.from_tasks(state.tasks, np.array([ids["a"], ids["a"], ids["b"], ids["c"]]))
    assert sorted(workload.popularity) == pytest.approx([0.25, 0.25, 0.5])
    assert state_fragmentation(state, workload).tolist() == pytest.approx([975, 0, 0, 1125])
    assert stranded_gpus(state, workload) == pytest.approx(2.1)


def test_cpu_only_types_count_only_when_asked():
    instance = _instance([_pool("g", "A", 1, cpu=2000)], [_job("gpu"), _job("cpu", gpus=0, cpu=4000)])
    state = ClusterState.from_instance(instance)
    assert stranded_gpus(state, Workload.from_state(state)) == 0.0
    # a CPU-only type that does not fit (4 cores on a 2-core node) strands the idle GPU for half the workload
    assert stranded_gpus(state, Workload.from_state(state, include_cpu_only=True)) == pytest.approx(0.5)


# ---------------------------------------------------------------- state from rows


def test_state_from_rows_and_bad_rows():
    instance = _instance([_pool("a", "A", 4)], [_job("w", gpus=2), _job("s", share=300), _job("c", gpus=0)])
    state = ClusterState.from_instance(instance, [("w", "a-00", 2), ("s", "a-00", 1, 0), {"job": "c", "node": "a-00", "gpus": 0}])
    assert state.gpu_free.tolist() == [[700, 0, 0, 1000]]     # sharing first on GPU 0, whole on 1 and 2
    assert state.cpu_free[0] == 100_000 - 3000
    for rows, message in [
        ([("w", "a-00", 3)], "needs 2 GPU"),
        ([("s", "a-00", 1)], "needs a gpu_index"),
        ([("s", "a-00", 1, 4)], "needs a gpu_index"),
        ([("w", "a-00", 2, 1)], "no gpu_index"),
        ([("x", "a-00", 1)], "unknown job"),
        ([("w", "a-00", 2), ("s", "a-00", 1, 0), ("w2", "a-00", 2)], "unknown job"),
    ]:
        with pytest.raises(ValueError, match=message):
            ClusterState.from_instance(instance, rows)


def test_jobs_with_different_gpu_counts_per_type_are_refused():
    instance = _instance([_pool("a", "A", 4)], [{"id": "j", "tenant": "t", "gpu_options": [
        {"gpu_type": "A", "gpus": 2}, {"gpu_type": "B", "gpus": 4}]}])
    with pytest.raises(ValueError, match="different GPU counts"):
        ClusterState.from_instance(instance)


# ---------------------------------------------------------------- a trace slice


def _trace_slice(pods: int):
    if not (TRACE / "openb_node_list_all_node.csv").is_file():
        skip_without_data(f"Alibaba trace not found at {TRACE} (the shared data folder is absent)")
    from gpuplan.importers.alibaba import read_alibaba

    return read_alibaba(TRACE / "openb_node_list_all_node.csv", TRACE / "openb_pod_list_default.csv", pods=pods)


@pytest.mark.parametrize("policy", ["best_fit", "fgd"])
def test_trace_slice_rows_are_valid(policy):
    instance = _trace_slice(3000)
    sim = simulate(instance, policy)
    assert sim.decisions == 3000 and not sim.dropped   # the cluster is far from full
    assert check_rows(instance, sim.rows) == []
    # The state after the rows is the simulator's final state.
    rebuilt = ClusterState.from_instance(instance, sim.rows)
    assert np.array_equal(np.sort(rebuilt.gpu_free, axis=1), np.sort(sim.state.gpu_free, axis=1))
    assert np.array_equal(rebuilt.cpu_free, sim.state.cpu_free)
    assert stranded_gpus(rebuilt, sim.workload) == pytest.approx(sim.stranded_gpus())
    # gpuplan's evaluator counts the same allocated GPUs (sharing pods count their share).
    allocated = sum(float(sim.state.tasks.gpus[sim.state.tasks.index[r.job]]) if r.gpu_index is None else
                    sim.state.tasks.milli[sim.state.tasks.index[r.job]] / 1000 for r in sim.rows)
    assert gp.evaluate(instance, [r._asdict() for r in sim.rows]).kpis["allocated_gpus"] == pytest.approx(allocated)
    assert sim.state.free_gpus() == pytest.approx(6212 - allocated)


def test_check_rows_rejects_mutations():
    instance = _trace_slice(400)
    rows = best_fit(instance).rows
    assert check_rows(instance, rows) == []
    share = next(i for i, r in enumerate(rows) if r.gpu_index is not None)
    whole = next(i for i, r in enumerate(rows) if r.gpu_index is None and r.gpus > 0)
    bad = list(rows)
    bad[share] = rows[share]._replace(gpu_index=None)
    assert check_rows(instance, bad)
    bad = list(rows)
    bad[whole] = rows[whole]._replace(gpus=rows[whole].gpus + 1)
    assert check_rows(instance, bad)
    bad = list(rows) + [rows[whole]._replace(job=rows[whole].job)]
    assert check_rows(instance, bad)


# ---------------------------------------------------------------- with the MILP and the verifier


def _rule_violations(instance, rows) -> list:
    """The independent verifier's rules 1-9 on bare rows (no claimed objective or KPIs)."""
    return gp.verify_rows(instance, rows, objective="utilization")


def test_simulator_rows_pass_the_verifier_rules():
    instance = _trace_slice(1500)
    for policy in ("best_fit", "fgd"):
        rows = simulate(instance, policy).rows
        assert _rule_violations(instance, rows) == []
    bad = list(rows)
    share = next(i for i, r in enumerate(rows) if r.gpu_index is not None)
    bad[share] = rows[share]._replace(gpu_index=rows[share].gpu_index + 8)   # no such GPU
    assert _rule_violations(instance, bad)


def test_milp_places_what_fgd_places_and_its_rows_make_a_state():
    """The sharing example above, offline: the MILP puts the 500 pods on a and b and the 200
    pod beside the one on b, holding every share (0.4 + 0.3 running, 1.2 new)."""
    instance = _instance(
        [_pool("a", "A", 1), _pool("b", "A", 1)],
        [_job("ra", share=400), _job("rb", share=300), _job("new", share=200),
         _job("typical", share=500), _job("typical2", share=500)],
        current=[("ra", "a-00", 1, 0), ("rb", "b-00", 1, 0)],
    )
    result = gp.solve(instance, objective="utilization", time_limit=30)
    gp.verify(instance, result)
    assert result.objective == pytest.approx(1.9)
    state = ClusterState.from_instance(instance, result.placements)   # a DataFrame with gpu_index
    assert sorted(state.gpu_free[:, 0].tolist()) == [0, 100]
    assert fgd(instance).state.free_gpus() == pytest.approx(state.free_gpus())
    assert best_fit(instance).state.free_gpus() == pytest.approx(state.free_gpus() + 0.5)


def test_simulation_frame_and_cpu_only_instance():
    instance = _instance([{"id": "c", "gpus_per_node": 0, "node_count": 2}], [_job("x", gpus=0), _job("y", gpus=0)])
    sim = best_fit(instance)
    frame = sim.frame()
    assert list(frame.columns) == ["job", "node", "gpus", "gpu_index"]
    assert frame[["job", "node", "gpus"]].values.tolist() == [["x", "c-00", 0], ["y", "c-00", 0]]
    assert frame["gpu_index"].isna().all() and str(frame["gpu_index"].dtype) == "Int64"
    with pytest.raises(ValueError, match="no GPU job"):
        fgd(instance)
    with pytest.raises(ValueError, match="unknown policy"):
        simulate(instance, "first_fit")
