"""gp.solve end to end: statuses, the greedy baseline, the MIP start, results and their files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyomo.environ as pyo
import pytest

import gpuplan as gp
from builders import cluster, job, pool, solve_checked
from gpuplan.index.assignment import build_index
from gpuplan.model import build_model

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "instances" / "small" / "quickstart.json"
ALL_FEATURES = ROOT / "instances" / "small" / "all_features.yaml"


@pytest.fixture(scope="module")
def quickstart():
    return gp.load(QUICKSTART)


@pytest.fixture(scope="module")
def quickstart_result(quickstart):
    return solve_checked(quickstart, time_limit=30, mip_gap=1e-4)


def test_quickstart_api(quickstart_result):
    res = quickstart_result
    assert res.status == "optimal"
    assert res.gap == pytest.approx(0, abs=1e-4)
    assert res.bound >= res.objective - 1e-6
    assert {"build_s", "handoff_s", "solve_s", "total_s"} <= set(res.timings)
    assert list(res.placements.columns[:4]) == ["job", "node", "gpu_type", "gpus"]
    assert set(res.jobs.state) <= {"placed", "unplaced", "kept", "migrated", "preempted"}
    assert res.jobs.loc[res.jobs.state.isin(["unplaced", "preempted"]), "reason"].notna().all()
    assert res.jobs.loc[~res.jobs.state.isin(["unplaced", "preempted"]), "reason"].isna().all()
    assert set(res.objective_terms.term) == {"throughput", "cross_site_loss", "mixed_type_loss",
                                            "migration_cost", "preemption_cost"}
    assert res.objective == pytest.approx(res.objective_terms.contribution.sum())
    assert {"allocated_gpus", "gpu_utilization", "fragmented_gpus", "weighted_throughput"} <= set(res.kpis)
    assert len(res.tenants) == 3 and len(res.pools) == 4


def test_milp_never_below_greedy(quickstart, quickstart_result):
    greedy = solve_checked(quickstart, method="greedy")
    assert greedy.status == "feasible" and quickstart_result.objective >= greedy.objective - 1e-9
    # The greedy's bound is the trivial one (every job at its best option), weaker than the MILP's.
    never = set(greedy.jobs.job[greedy.jobs.reason.isin(["no_eligible_gpu", "too_large"])])
    best = sum(j.priority * max(o.throughput for o in j.gpu_options) for j in quickstart.jobs if j.id not in never)
    assert greedy.bound == pytest.approx(best) and greedy.bound >= quickstart_result.bound
    assert greedy.gap == pytest.approx((best - greedy.objective) / greedy.objective)


def test_greedy_is_the_mip_start(quickstart):
    built = build_model(build_index(quickstart))
    from gpuplan.heuristics.assignment import greedy
    from gpuplan.model.assignment.warm_start import apply_start
    from gpuplan.solver import SolveOptions, solve_model

    start = greedy(build_index(quickstart), "throughput")
    value = gp.evaluate(quickstart, start.rows, objective="throughput").objective
    assert start.complete and apply_start(built, start.rows, value)
    assert pyo.value(built.model.objective.expr) == pytest.approx(value)
    assert not apply_start(built, start.rows, value + 1)   # the model must value the start as the rules do
    outcome = solve_model(built.model, SolveOptions())
    assert outcome.start_accepted
    assert "MIP start" in outcome.log or "mip start" in outcome.log.lower()


@pytest.mark.parametrize("objective", ["throughput", "cost", "utilization", "fairness"])
def test_every_objective_on_all_features(objective):
    instance = gp.load(ALL_FEATURES)
    res = solve_checked(instance, objective=objective)
    assert res.status == "optimal"
    greedy = solve_checked(instance, objective=objective, method="greedy")
    better = res.objective >= greedy.objective - 1e-9 if res.sense == "max" else res.objective <= greedy.objective + 1e-9
    assert better


def test_same_seed_same_answer(quickstart):
    first = gp.solve(quickstart, seed=3, threads=1)
    second = gp.solve(quickstart, seed=3, threads=1)
    assert first.objective == second.objective
    assert first.placements.equals(second.placements)


def test_threads_can_change_between_solves(quickstart):
    # HiGHS keeps one thread pool per process; a later call asking for another size gets it.
    for threads in (1, 2, 1):
        res = solve_checked(quickstart, threads=threads)
        assert res.status == "optimal", res.message
        assert "already been initialized" not in res.solver_log


def test_log_echoes_the_solver_log_to_stdout(quickstart, capfd):
    quiet = solve_checked(quickstart, log=False)
    assert capfd.readouterr().out == ""
    loud = solve_checked(quickstart, log=True)
    echoed = capfd.readouterr().out
    lines = [line.strip() for line in echoed.splitlines() if line.strip()]
    assert len(lines) > 5 and all(line in loud.solver_log for line in lines)  # the log, as recorded
    assert loud.objective == quiet.objective


def test_infeasible_is_a_result_not_an_exception():
    # Two required 8-GPU jobs, one node.
    instance = cluster([pool("a", "A", 8, 1)], [job("j1", {"A": 8}, required=True), job("j2", {"A": 8}, required=True)])
    res = gp.solve(instance)
    assert res.status == "infeasible"
    assert res.objective is None and res.gap is None and len(res.placements) == 0
    assert gp.verify(instance, res) == []


def test_required_job_that_can_never_run():
    instance = cluster([pool("a", "A", 8, 1)], [job("huge", {"A": 64}, required=True, scope="node")])
    res = gp.solve(instance)
    assert res.status == "infeasible"
    assert "'huge' (too_large)" in res.message


def test_a_floor_that_pinned_work_leaves_no_room_for_is_infeasible():
    # 'old' holds the only node and may neither move nor stop; 't2' is owed its demand, half a
    # GPU. The sharing job's (job, node) pair is left out of the model as hopeless, so the
    # floor has no terms at all: infeasible before any solver is called.
    instance = cluster([pool("a", "A", 4, 1)],
                       [job("old", {"A": 4}, tenant="t1", migratable=False, preemptible=False),
                        job("small", {"A": 1}, tenant="t2", gpu_share_milli=500)],
                       tenants=[{"id": "t1"}, {"id": "t2", "guaranteed_gpus": 1}], current=[("old", "a-00", 4)])
    for objective in ("throughput", "cost", "utilization", "fairness"):
        res = gp.solve(instance, objective=objective)
        assert res.status == "infeasible" and "t2 (floor 0.5 GPUs)" in res.message
        assert gp.verify(instance, res) == []


def test_time_limit_status():
    from gpuplan.generate import assignment_instance

    instance = assignment_instance(gpus=2000, jobs=400, seed=5)
    res = gp.solve(instance, time_limit=0.05)
    assert res.status in ("time_limit", "optimal")
    if res.has_solution:
        gp.verify(instance, res)
        assert res.bound is not None and res.gap is not None


def test_bad_options_are_rejected(quickstart):
    with pytest.raises(ValueError, match="unknown objective"):
        gp.solve(quickstart, objective="speed")
    with pytest.raises(ValueError, match="unknown method"):
        gp.solve(quickstart, method="magic")
    with pytest.raises(ValueError, match="mip_gap"):
        gp.solve(quickstart, mip_gap=2)
    with pytest.raises(ValueError, match="unknown problem"):
        gp.solve(quickstart, problem="schedule-next-year")


# ---------------------------------------------------------------- the verifier on real solutions


def test_mutated_solver_solution_is_rejected(quickstart, quickstart_result):
    good = quickstart_result.to_solution_dict()
    assert gp.verify(quickstart, good) == []

    crowded = copy.deepcopy(good)
    row = next(r for r in crowded["placements"] if r["gpus"] < 8)
    other = next(r for r in crowded["placements"] if r["node"] != row["node"] and r["gpu_type"] == row["gpu_type"])
    row["node"] = other["node"]
    rules = {v.rule for v in gp.verify(quickstart, crowded, raise_on_error=False)}
    assert "node_capacity" in rules

    inflated = copy.deepcopy(good)
    inflated["objective"] += 1
    assert "objective" in {v.rule for v in gp.verify(quickstart, inflated, raise_on_error=False)}

    overstated = copy.deepcopy(good)
    overstated["solver_objective"] = good["objective"] + 5
    found = gp.verify(quickstart, overstated, raise_on_error=False)
    assert any(v.entity == "solver_objective" for v in found)

    with pytest.raises(gp.VerificationError):
        gp.verify(quickstart, crowded)


# ---------------------------------------------------------------- results


def test_save_and_load(quickstart, quickstart_result, tmp_path):
    path = quickstart_result.save(tmp_path / "out")
    assert path.name == "solution.json"
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["jobs.csv", "objective_terms.csv", "placements.csv", "pools.csv", "solution.json",
                     "solver.log", "tenants.csv"]
    data = json.loads(path.read_text())
    assert data["status"] == "optimal" and data["format"] == "gpuplan-solution"
    assert gp.verify(quickstart, tmp_path / "out") == []
    loaded = gp.Result.load(tmp_path / "out")
    assert loaded.objective == quickstart_result.objective
    assert len(loaded.placements) == len(quickstart_result.placements)
    assert gp.verify(quickstart, loaded) == []


def test_saving_over_a_result_never_leaves_its_old_solution_beside_new_tables(quickstart_result, tmp_path,
                                                                             monkeypatch):
    import errno

    import gpuplan.files as files

    quickstart_result.save(tmp_path / "out")
    written = []

    def full_after_two(handle, data):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(data)
        handle.write(data)

    monkeypatch.setattr(files, "_write_all", full_after_two)
    with pytest.raises(gp.OutputError, match="cannot write: No space left on device"):
        quickstart_result.save(tmp_path / "out")
    assert not (tmp_path / "out" / "solution.json").exists()  # incomplete, and it shows
    assert not [p for p in (tmp_path / "out").iterdir()]  # the new files written are gone too


def test_save_leaves_no_temporary_files(quickstart_result, tmp_path):
    quickstart_result.save(tmp_path)
    quickstart_result.save(tmp_path)  # overwriting is atomic too
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_text_and_html_repr(quickstart_result):
    text = repr(quickstart_result)
    assert "status: optimal" in text and "objective: throughput (max)" in text
    page = quickstart_result._repr_html_()
    assert "<table" in page and "objective terms" in page


# ---------------------------------------------------------------- structure


def test_model_size_is_sparse():
    """Counts for a fixed instance: a dense JOBS x POOLS index would show up here."""
    built = build_model(build_index(gp.load(ALL_FEATURES)), "throughput")
    counts = {c.name: len(c) for c in built.model.component_objects(pyo.Constraint) if len(c)}
    assert built.model.nvariables() == 92
    assert built.model.nconstraints() == 108
    assert counts["job_once"] == 18        # 19 jobs, the two identical sharing jobs are one group
    assert counts["class_slots_max"] == 7
    # Sub-node pairs per GPU class, not per pool: 2 + 2 + 2 + 1 + 2 for 5 jobs over 3 classes
    # (11 jobs x 5 pools would be 55). Whole-node pairs per pool only for the pod-scoped job,
    # per site class for the others: 3 + 2 + 3 + 3 + 2.
    assert len(built.model.PACK) == 9
    assert len(built.model.SPAN) == 14
    # Per-node pairs only for the assign-mode classes (T4 with CPU limits, CPU-only): 6 groups
    # on 2 T4 nodes, the CPU-only job also on the CPU node.
    assert len(built.model.NODE_PACK) == 13


# ---------------------------------------------------------------- GPU sharing


def test_shares_that_do_not_pack_are_dropped_and_reported():
    from test_assignment_features import limited_pool, sharing

    # Two GPUs; shares 550, 550, 300, 300, 300 sum to 2000 and pass every bound of the model,
    # but no packing exists (each 550 leaves room for one 300): one 300 must go.
    jobs = [sharing("big1", 550, 5.5), sharing("big2", 550, 5.5)] + [sharing(f"s{i}", 300, 3) for i in range(3)]
    instance = cluster([limited_pool("t", 2)], jobs)
    result = solve_checked(instance)
    assert result.status == "feasible"
    assert "did not pack onto GPUs" in result.message
    assert result.objective == pytest.approx(17)
    assert result.bound == pytest.approx(20)
    assert result.solver_objective is None


def test_sharing_greedy_start_is_used():
    from test_assignment_features import limited_pool, sharing

    jobs = [sharing(f"s{i}", 250 + 50 * (i % 4), 1 + i / 10, cpu_milli=2000) for i in range(12)]
    instance = cluster([limited_pool("t", 2, count=2, cpu=16000)], jobs)
    result = solve_checked(instance)
    assert result.status == "optimal"
    assert "no MIP start" not in result.message
    assert result.placements.gpu_index.notna().all()


# ---------------------------------------------------------------- a start of one's own


def test_a_start_given_is_used_and_checked(quickstart):
    greedy = gp.solve(quickstart, method="greedy")
    result = solve_checked(quickstart, start=greedy)            # a Result
    assert result.objective >= greedy.objective - 1e-9
    rows = list(greedy.placements[["job", "node", "gpus"]].itertuples(index=False, name=None))
    assert solve_checked(quickstart, start=rows).status == "optimal"
    broken = rows + [(rows[0][0], rows[0][1], rows[0][2])]        # the same row twice
    with pytest.raises(ValueError, match="start is not a valid placement"):
        gp.solve(quickstart, start=broken)


def test_check_rows_is_public(quickstart):
    greedy = gp.solve(quickstart, method="greedy")
    assert gp.verify_rows(quickstart, greedy.placements) == []
    crowded = greedy.placements.copy()
    crowded.loc[:, "node"] = crowded.node.iloc[0]
    assert {v.rule for v in gp.verify_rows(quickstart, crowded)} & {"node_capacity", "eligibility", "whole_node"}


# ---------------------------------------------------------------- running jobs against caps and whole nodes


def test_a_running_job_over_its_tenants_cap_is_not_kept_by_any_start():
    # 'r' runs on 4 GPUs but its tenant may now hold 2: keeping it breaks the cap, so neither the
    # greedy nor the LP-bound shortcut may return it kept.
    instance = cluster([pool("a", "A", 8, 1)], [job("r", {"A": (4, 1)}), job("q", {"A": (2, 1)})],
                       tenants=[{"id": "t", "max_gpus": 2}], current=[("r", "a-00", 4)])
    for method in ("milp", "greedy"):
        res = solve_checked(instance, method=method, mip_gap=0)
        states = dict(zip(res.jobs.job, res.jobs.state))
        assert states == {"r": "preempted", "q": "placed"} and res.objective == 1


def test_greedy_reports_pinned_work_over_a_cap_instead_of_claiming_a_solution():
    instance = cluster([pool("a", "A", 8, 1)], [job("r", {"A": 4}, migratable=False, preemptible=False)],
                       tenants=[{"id": "t", "max_gpus": 2}], current=[("r", "a-00", 4)])
    greedy = gp.solve(instance, method="greedy")
    assert greedy.status == "error" and "cap of tenant(s) t" in greedy.message
    assert gp.solve(instance).status == "infeasible"


@pytest.mark.parametrize("pool_cpu, job_cpu", [(None, 1000), (8000, 0)])
def test_a_kept_job_that_uses_nothing_counted_still_keeps_its_node_from_going_whole(pool_cpu, job_cpu):
    # 'cpu' runs on a-01 and may neither move nor stop; 'big' needs both nodes whole. The node's
    # GPU, CPU and memory rows do not see 'cpu', yet rule 1 says a node held whole runs nothing else.
    limited = {**pool("a", "A", 4, 2), **({"cpu_milli_per_node": pool_cpu} if pool_cpu else {})}
    instance = cluster([limited], [job("cpu", {}, cpu_milli=job_cpu, migratable=False, preemptible=False),
                                   job("big", {"A": (8, 1)}, scope="pod")], current=[("cpu", "a-01", 0)])
    res = solve_checked(instance, mip_gap=0)
    assert set(res.placements.job) == {"cpu"} and res.objective == 0


def test_greedy_cost_bound_counts_running_jobs_at_nothing():
    # 'r' is required and kept on 2 of the 4 GPUs its option asks for: it costs half its option.
    instance = cluster([pool("a", "A", 8, 1)], [job("r", {"A": (4, 1, 3.0)}, required=True, migratable=False)],
                       current=[("r", "a-00", 2)], options={"objective": "cost"})
    greedy = solve_checked(instance, method="greedy")
    assert greedy.bound <= greedy.objective


@pytest.mark.parametrize("scope", ["site", "any"])
def test_whole_nodes_of_one_class_but_other_cpu_are_not_one_supply(scope):
    # Two 8 x A pools in one site, 4000 and 8000 milli CPU per node; 'big' needs two whole
    # nodes with 5000 milli each: only one node has that, so it cannot run.
    lo = {**pool("lo", "A", 8, 1, pod="p1"), "cpu_milli_per_node": 4000}
    hi = {**pool("hi", "A", 8, 1, pod="p2"), "cpu_milli_per_node": 8000}
    instance = cluster([lo, hi], [job("big", {"A": (16, 1)}, scope=scope, cpu_milli=5000),
                                  job("fits", {"A": (16, 1)}, scope=scope, cpu_milli=4000)])
    for method in ("milp", "greedy"):
        res = solve_checked(instance, method=method, mip_gap=0)
        assert set(res.placements.job) == {"fits"}
