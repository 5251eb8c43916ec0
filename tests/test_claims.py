"""No claim beyond the proof: every Result is checked before it is returned, "optimal" stands
only within mip_gap of a valid bound, and the index decides "could run" by the rules."""

from __future__ import annotations

import pytest
import pyomo.environ as pyo
from typer.testing import CliRunner

import gpuplan as gp
import gpuplan.api
import gpuplan.model.assignment.solve
from builders import cluster, job, placed_on, pool, reason_of, state_of
from gpuplan.cli import app
from gpuplan.heuristics.assignment import greedy
from gpuplan.index.assignment import build_index
from gpuplan.model import build_model
from gpuplan.model.assignment.warm_start import apply_start
from gpuplan.results import Result

# The instance of issue 8: with the default warm start gpuplan said "optimal" for 13 with a
# bound of 0.5 (gap 96%).
TINY = {
    "schema_version": 1, "name": "tiny",
    "gpu_types": [{"id": "A", "memory_gb": 40, "power_w": 400, "idle_power_w": 50},
                  {"id": "B", "memory_gb": 16, "power_w": 400, "idle_power_w": 50}],
    "sites": [{"id": "s0"}, {"id": "s1"}],
    "pods": [{"id": "p0", "site": "s0"}, {"id": "p1", "site": "s1"}, {"id": "p2", "site": "s0"}],
    "node_pools": [{"id": "k0", "pod": "p1", "gpus_per_node": 3, "node_count": 2, "gpu_type": "A"},
                   {"id": "k1", "pod": "p2", "gpus_per_node": 3, "node_count": 3, "gpu_type": "B"}],
    "tenants": [{"id": "t0", "weight": 0.5}, {"id": "t1", "guaranteed_gpus": 2}],
    "jobs": [
        {"id": "j0", "tenant": "t1", "gpu_options": [{"gpu_type": "B", "gpus": 8, "throughput": 0, "cost_per_hour": 0}],
         "gpu_memory_gb": 60},
        {"id": "j1", "tenant": "t1", "gpu_options": [{"gpu_type": "B", "gpus": 6, "throughput": 2, "cost_per_hour": 5},
                                                    {"gpu_type": "A", "gpus": 3, "throughput": 12}],
         "gpu_memory_gb": 0},
        {"id": "j2", "tenant": "t1", "gpu_options": [{"gpu_type": "A", "gpus": 4, "throughput": 1, "cost_per_hour": 0},
                                                    {"gpu_type": "B", "gpus": 6, "throughput": 3, "cost_per_hour": 13}],
         "scope": "any", "allow_mixed_types": True, "priority": 3, "preemption_cost": 0.5},
    ],
    "nodes": [{"id": "k0n0", "pool": "k0", "reserved_gpus": 0}, {"id": "k0n1", "pool": "k0", "reserved_gpus": 3}],
    "options": {"cross_site_penalty": 0.5, "mixed_type_penalty": 0.0},
    "current_placements": [{"job": "j2", "node": "k1-00", "gpus": 3}, {"job": "j2", "node": "k1-01", "gpus": 3}],
}


@pytest.mark.parametrize("warm_start", [True, False])
def test_issue_instance_is_solved_to_its_true_optimum(warm_start):
    # By hand: keeping j2 on its two B nodes costs 13. j1 fits k0n0 (3 A GPUs, cost 0), and
    # j0 (8 B GPUs, 60 GB) can run nowhere; j1 alone meets t1's floor of 2 GPUs. Preempting j2
    # costs 0.5, moving it onto A nodes would take k0n0 (k0n1 is reserved) and 4 > 3 GPUs, with
    # the other A node reserved it cannot be covered. So: preempt j2, place j1: 0.5.
    instance = gp.from_dict(TINY)
    result = gp.solve(instance, objective="cost", warm_start=warm_start)
    assert result.status == "optimal" and result.gap <= 1e-4
    assert result.objective == pytest.approx(0.5)
    assert placed_on(result, "j1") == [("k0n0", 3)]
    assert state_of(result, "j2") == "preempted"


def test_the_start_written_into_the_model_is_the_start_valued():
    instance = gp.from_dict(TINY)
    idx = build_index(instance)
    start = greedy(idx, "cost")
    value = gp.evaluate(instance, start.rows, objective="cost").objective
    built = build_model(idx, "cost")
    assert apply_start(built, start.rows, value)
    assert pyo.value(built.model.objective.expr) == pytest.approx(value)   # 13: j2 kept
    assert value == pytest.approx(13)
    # a start the model would value otherwise is refused, and the variables are left as they were
    before = {v.name: v.value for v in built.model.component_data_objects(pyo.Var)}
    assert not apply_start(built, [], value)
    assert {v.name: v.value for v in built.model.component_data_objects(pyo.Var)} == before


def test_a_whole_node_job_over_several_pools_and_types_can_run():
    # j0 needs 6 A or 6 B GPUs inside one pod; the pod has one 3-GPU A node and three 1-GPU B
    # nodes (two pools): all four whole cover 3/6 + 3/6 = 1 (exactly; in floats the sum is
    # 0.999...). Throughput 1 less the 5% mixed-type loss: 0.95. The floor of 2 GPUs needs it.
    instance = cluster([pool("k0", "A", 3, 1), pool("k1", "B", 1, 2), pool("k2", "B", 1, 1)],
                       [job("j0", {"A": 6, "B": 6}, scope="pod", allow_mixed_types=True)],
                       tenants=[{"id": "t", "guaranteed_gpus": 2}])
    assert "j0" not in build_index(instance).reasons
    for warm_start in (True, False):
        result = gp.solve(instance, warm_start=warm_start)
        assert result.status == "optimal" and result.objective == pytest.approx(0.95)
        assert [node for node, _ in placed_on(result, "j0")] == ["k0-00", "k1-00", "k1-01", "k2-00"]


def test_a_whole_node_job_short_of_coverage_is_too_large():
    # one B node fewer: 3/6 + 2/6 < 1, so j0 can never run (too_large), and the floor is void
    instance = cluster([pool("k0", "A", 3, 1), pool("k1", "B", 1, 2)],
                       [job("j0", {"A": 6, "B": 6}, scope="pod", allow_mixed_types=True)],
                       tenants=[{"id": "t", "guaranteed_gpus": 2}])
    result = gp.solve(instance)
    assert result.status == "optimal" and reason_of(result, "j0") == "too_large"


def _quickstart():
    return gp.load(gpuplan.api.__file__.rsplit("/src/", 1)[0] + "/instances/small/quickstart.json")


def _bound_on_the_wrong_side(monkeypatch):
    """A bug: the greedy's trivial bound below what the greedy itself reaches (a max problem)."""
    monkeypatch.setattr(gpuplan.model.assignment.solve, "trivial_bound", lambda idx, objective: -1.0)


def test_a_failed_claim_is_an_error_with_the_violation(monkeypatch):
    _bound_on_the_wrong_side(monkeypatch)
    result = gp.solve(_quickstart(), method="greedy")
    assert result.status == "error" and not result.has_solution and result.placements.empty
    assert "fails its own check" in result.message and "above the bound" in result.message


def test_verifier_rejects_optimal_beyond_mip_gap():
    instance = gp.from_dict(TINY)
    result = gp.solve(instance, objective="cost")
    data = result.to_solution_dict()
    assert data["mip_gap"] == 1e-4
    data["bound"], data["gap"] = 0.25, 0.5   # a valid bound farther than mip_gap: |0.25 - 0.5| / 0.5
    violations = gp.verify(instance, data, raise_on_error=False)
    assert [v.rule for v in violations] == ["status"] and "above mip_gap" in violations[0].message
    data["status"] = "feasible"
    assert gp.verify(instance, data, raise_on_error=False) == []


def test_highs_misvaluing_its_solution_is_not_believed(monkeypatch):
    """The solver's objective is replaced by its solution's value: HiGHS claiming 0.5 for the
    start it hands back (13) gives 'feasible' at the true gap, never 'optimal'."""
    from gpuplan import solver

    real = solver._outcome_from_results

    def lying(results, model, mip_gap):
        results.incumbent_objective = 0.5 if results.incumbent_objective is not None else None
        return real(results, model, mip_gap)

    monkeypatch.setattr(solver, "_outcome_from_results", lying)
    instance = cluster([pool("k0", "A", 4, 1)], [job("j0", {"A": (4, 3, 13)})],
                       current=[("j0", "k0-00", 4)], options={"objective": "cost"})
    built = build_model(build_index(instance), "cost")
    outcome = solver.solve_model(built.model, solver.SolveOptions(warm_start=False))
    assert outcome.misreported and outcome.objective == pytest.approx(pyo.value(built.model.objective.expr))


# ---------------------------------------------------------------- exit code 1


runner = CliRunner()


def _instance_file(tmp_path):
    path = tmp_path / "tiny.json"
    gp.from_dict(TINY)  # valid
    import json

    path.write_text(json.dumps(TINY))
    return path


def _fake_solve(status, message):
    def solve(instance, *args, **kwargs):
        return Result(instance_name="tiny", problem="assignment", method="milp", objective_name="cost", sense="min",
                      status=status, message=message)
    return solve


@pytest.mark.parametrize("status,message", [("time_limit", "time limit before any solution"),
                                            ("error", "solver stopped: error")])
def test_cli_exits_1_without_a_solution(tmp_path, monkeypatch, status, message):
    monkeypatch.setattr(gpuplan.api, "solve", _fake_solve(status, message))
    result = runner.invoke(app, ["solve", str(_instance_file(tmp_path))])
    assert result.exit_code == 1 and status in result.output


def test_cli_exits_1_on_a_failed_claim(tmp_path, monkeypatch):
    _bound_on_the_wrong_side(monkeypatch)
    result = runner.invoke(app, ["solve", str(_instance_file(tmp_path)), "--method", "greedy", "--objective", "utilization"])
    assert result.exit_code == 1, result.output
    assert "error" in result.output and "fails its own check" in " ".join(result.output.split())


def test_batch_records_a_failed_claim_as_a_failed_row(tmp_path, monkeypatch):
    from gpuplan.batch.outputs import has_solution
    from gpuplan.batch.worker import Task, run_task

    _bound_on_the_wrong_side(monkeypatch)
    task = Task(name="tiny", path=str(_instance_file(tmp_path)), instance=None,
                options={"method": "greedy", "objective": "utilization"})
    outcome = run_task(task)
    assert outcome.status == "error" and "fails its own check" in outcome.message
    assert not has_solution({"status": outcome.status, "objective": outcome.result.objective})


def test_fairness_weights_sum_over_tenants_with_demand():
    # models/assignment.md: t (weight 1) with four 1-GPU jobs, u (weight 3) without any job, one
    # 4-GPU node. The weight sum runs over tenants with demand, so E_t = min(D_t = 4, GPUs x 1/1
    # = 4) = 4 (over all tenants it would be 4 x 1/4 = 1): one job placed holds 1 of 4, share 1/4.
    from gpuplan.index.assignment import tenant_entitlements

    instance = cluster([pool("k0", "A", 4, 1)], [job(f"j{i}", {"A": 1}) for i in range(4)],
                       tenants=[{"id": "t", "weight": 1}, {"id": "u", "weight": 3}], options={"objective": "fairness"})
    assert tenant_entitlements(instance, build_index(instance)) == {"t": 4}
    evaluation = gp.evaluate(instance, [("j0", "k0-00", 1)], objective="fairness")
    assert evaluation.terms["min_tenant_share"][1] == pytest.approx(0.25)
