"""The independent verifier: hand-made valid solutions pass with hand-computed values, and every
rule rejects a solution that breaks exactly that rule. No solver is involved."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from functools import cache

import pandas as pd
import pytest

import gpuplan
from gpuplan.instance import node_infos
from gpuplan.verify import VerificationError, Violation, evaluate, verify

RUNS = ("placed", "kept", "migrated")

# ---------------------------------------------------------------- instances and solutions
#
# The cluster used by most tests (12 nodes of 8 GPUs, 94 usable):
#   site s1: pod p1: h1-00..02 (H100), a1-00..02 (A100, 40 GB);  pod p2: h2-00..02 (H100)
#   site s2: pod p3: h3-x, h3-y (2 GPUs reserved), h3-z (H100)

GPU_TYPES = [
    {"id": "H100", "memory_gb": 80, "power_w": 700, "idle_power_w": 100},
    {"id": "A100", "memory_gb": 40, "power_w": 400, "idle_power_w": 50},
]
TOPOLOGY = {
    "sites": [{"id": "s1"}, {"id": "s2"}],
    "pods": [{"id": "p1", "site": "s1"}, {"id": "p2", "site": "s1"}, {"id": "p3", "site": "s2"}],
    "node_pools": [
        {"id": "h1", "pod": "p1", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 3},
        {"id": "a1", "pod": "p1", "gpu_type": "A100", "gpus_per_node": 8, "node_count": 3},
        {"id": "h2", "pod": "p2", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 3},
        {"id": "h3", "pod": "p3", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 3},
    ],
    "nodes": [
        {"id": "h3-x", "pool": "h3"},
        {"id": "h3-y", "pool": "h3", "reserved_gpus": 2},
        {"id": "h3-z", "pool": "h3"},
    ],
}

JOBS = {
    "sub": {"tenant": "t1", "priority": 2, "gpus": 4, "gpu_memory_gb": 60,
            "gpu_options": [{"gpu_type": "H100", "throughput": 10}, {"gpu_type": "A100", "throughput": 6}]},
    "wide": {"tenant": "t1", "gpus": 16, "scope": "pod", "gpu_options": [{"gpu_type": "H100", "throughput": 50}]},
    "mix": {"tenant": "t2", "gpu_memory_gb": 40, "scope": "site", "allow_mixed_types": True,
            "gpu_options": [{"gpu_type": "H100", "gpus": 12, "throughput": 90, "cost_per_hour": 30},
                            {"gpu_type": "A100", "gpus": 12, "throughput": 60, "cost_per_hour": 15}]},
    "far": {"tenant": "t2", "gpus": 16, "scope": "any",
            "gpu_options": [{"gpu_type": "H100", "throughput": 40}, {"gpu_type": "A100", "throughput": 25}]},
    "kept": {"tenant": "t1", "gpus": 4, "migratable": False, "preemptible": False,
             "gpu_options": [{"gpu_type": "A100", "throughput": 5}, {"gpu_type": "H100", "throughput": 9}]},
    "moved": {"tenant": "t2", "gpus": 4, "migration_cost": 2,
              "gpu_options": [{"gpu_type": "A100", "throughput": 5}, {"gpu_type": "H100", "throughput": 8}]},
    "stopped": {"tenant": "t1", "gpus": 8, "preemption_cost": 4,
                "gpu_options": [{"gpu_type": "H100", "throughput": 7}]},
    "must": {"tenant": "t2", "gpus": 2, "required": True, "gpu_options": [{"gpu_type": "A100", "throughput": 1}]},
    "spare": {"tenant": "t2", "gpus": 4,
              "gpu_options": [{"gpu_type": "H100", "throughput": 2}, {"gpu_type": "A100", "throughput": 1}]},
    "huge": {"tenant": "t1", "gpus": 64, "scope": "pod", "gpu_options": [{"gpu_type": "H100", "throughput": 100}]},
    "fat": {"tenant": "t2", "gpus": 1, "gpu_memory_gb": 100, "gpu_options": [{"gpu_type": "H100", "throughput": 1}]},
    "extra": {"tenant": "t3", "gpus": 4, "gpu_options": [{"gpu_type": "A100", "throughput": 3}]},
}
CURRENT = {"kept": [("a1-01", 4)], "moved": [("a1-01", 4)], "stopped": [("h3-x", 8)]}
TENANTS = [{"id": "t1"}, {"id": "t2"}, {"id": "t3"}]


def cluster(jobs, *, tenants=TENANTS, objective="throughput"):
    """The test cluster with the named jobs of JOBS (and their current rows)."""
    data = {
        "schema_version": 1,
        "gpu_types": GPU_TYPES,
        **copy.deepcopy(TOPOLOGY),
        "tenants": tenants,
        "jobs": [{"id": name, **JOBS[name]} for name in jobs],
        "current_placements": [
            {"job": name, "node": node, "gpus": gpus} for name in jobs for node, gpus in CURRENT.get(name, [])
        ],
        "options": {"objective": objective},
    }
    return gpuplan.from_dict(data)


def solution(instance, rows, states=None, reasons=None, *, objective=None, status="optimal", bound=None):
    """A solution file dict for ``rows`` ((job, node, gpus) or (job, node, gpus, gpu_index)).
    States and reasons are given by hand (``states=None``: take the states the rows give, for
    mutations aimed at a validity rule; unplaced jobs then default to reason 'capacity').
    Terms, KPIs and job values come from evaluate()."""
    ev = evaluate(instance, rows, objective=objective)
    node_type = {node.id: node.gpu_type for node in node_infos(instance)}
    reasons = reasons or {}
    jobs = []
    for job in instance.jobs:
        value = ev.jobs[job.id]
        state = states[job.id] if states is not None else value.state
        reason = None if state in RUNS else reasons.get(job.id, None if states is not None else "capacity")
        jobs.append({"job": job.id, "tenant": job.tenant, "state": state, "reason": reason,
                     "gpus": value.gpus, "throughput": value.throughput, "cost": value.cost})
    return {
        "format": "gpuplan-solution", "version": 1, "problem": "assignment", "method": "milp",
        "status": status, "objective_name": ev.objective_name, "sense": ev.sense,
        "objective": ev.objective, "bound": ev.objective if bound is None else bound, "gap": 0.0,
        "objective_terms": [
            {"term": name, "weight": weight, "value": value, "contribution": weight * value}
            for name, (weight, value) in ev.terms.items()
        ],
        "kpis": dict(ev.kpis),
        "placements": [
            {"job": row[0], "node": row[1], "gpu_type": node_type[row[1]], "gpus": row[2],
             "gpu_index": row[3] if len(row) > 3 else None}
            for row in rows
        ],
        "jobs": jobs,
        "message": "hand-made",
        "timings": {"solve_s": 0.0},
    }


def rules(violations):
    return {v.rule for v in violations}


def check(instance, sol):
    return verify(instance, sol, raise_on_error=False)


# ---------------------------------------------------------------- the rich solution
# Every feature at once on the test cluster. Tenants: t1 capped at 24 (binding), t2 guaranteed
# 36 (demand 38), t3 capped at 2.

RICH_TENANTS = [{"id": "t1", "max_gpus": 24}, {"id": "t2", "guaranteed_gpus": 36}, {"id": "t3", "max_gpus": 2}]
RICH_ROWS = [
    ("sub", "h1-00", 4),
    ("wide", "h1-01", 8), ("wide", "h1-02", 8),
    ("mix", "h2-00", 8), ("mix", "a1-00", 8),
    ("far", "h2-01", 8), ("far", "h3-x", 8),
    ("kept", "a1-01", 4),
    ("moved", "h3-y", 4),
    ("must", "a1-01", 2),
]
RICH_STATES = {
    "sub": "placed", "wide": "placed", "mix": "placed", "far": "placed", "kept": "kept", "moved": "migrated",
    "stopped": "preempted", "must": "placed", "spare": "unplaced", "huge": "unplaced", "fat": "unplaced",
    "extra": "unplaced",
}
RICH_REASONS = {"stopped": "capacity", "spare": "capacity", "huge": "too_large", "fat": "no_eligible_gpu",
                "extra": "quota"}


@cache
def rich():
    return cluster(list(JOBS), tenants=RICH_TENANTS)


def rich_solution():
    return solution(rich(), RICH_ROWS, RICH_STATES, RICH_REASONS)


def mutated_rows(drop=(), add=()):
    """RICH_ROWS without the rows of the jobs in ``drop``, plus ``add``."""
    return [row for row in RICH_ROWS if row[0] not in drop] + list(add)


def test_rich_solution_is_valid_with_hand_computed_value():
    assert verify(rich(), rich_solution()) == []
    ev = evaluate(rich(), RICH_ROWS)
    # w*T: sub 2*10 + wide 50 + mix 80 + far 40 + kept 5 (A100) + moved 8 (H100) + must 1 = 204;
    # mix mixes types: 0.05*80 = 4; far spans sites: 0.04*40 = 1.6; moved costs 2, stopped 4.
    assert ev.terms["throughput"] == (1.0, pytest.approx(204))
    assert ev.terms["cross_site_loss"] == (-1.0, pytest.approx(1.6))
    assert ev.terms["mixed_type_loss"] == (-1.0, pytest.approx(4))
    assert ev.terms["migration_cost"] == (-1.0, 2)
    assert ev.terms["preemption_cost"] == (-1.0, 4)
    assert ev.objective == pytest.approx(204 - 1.6 - 4 - 2 - 4)  # 192.4
    assert ev.states == RICH_STATES
    assert ev.tenant_gpus == {"t1": 24, "t2": 38, "t3": 0}


def test_rich_kpis_by_hand():
    kpis = evaluate(rich(), RICH_ROWS).kpis
    assert kpis["usable_gpus"] == 94  # 12 nodes * 8 - 2 reserved
    assert kpis["allocated_gpus"] == 62
    assert kpis["gpu_utilization"] == pytest.approx(62 / 94)
    # h1-00 4 free, a1-01 2 free (kept 4 + must 2), h3-y 2 free (2 reserved + moved 4)
    assert kpis["fragmented_gpus"] == 8
    assert kpis["free_nodes"] == 3  # a1-02, h2-02, h3-z
    assert kpis["shared_gpus"] == 0  # no sharing job
    assert kpis["weighted_throughput"] == pytest.approx(204 - 1.6 - 4)
    assert all(isinstance(value, float) for value in kpis.values())
    assert (kpis["placed_jobs"], kpis["unplaced_jobs"], kpis["kept_jobs"]) == (5, 4, 1)
    assert (kpis["migrated_jobs"], kpis["preempted_jobs"]) == (1, 1)


def test_rich_tables():
    ev = evaluate(rich(), RICH_ROWS)
    tenants = ev.tenant_table().set_index("tenant")
    assert tenants.loc["t2", "demand"] == 38  # mix 12 + far 16 + moved 4 + must 2 + spare 4 + fat 0
    assert tenants.loc["t1", "demand"] == 32  # sub 4 + wide 16 + kept 4 + stopped 8 + huge 0
    assert tenants.loc["t1", "jobs_placed"] == 3 and tenants.loc["t1", "jobs"] == 5
    pools = ev.pool_table().set_index("pool")
    assert pools.loc["h3", "free"] == 10 and pools.loc["h3", "fragmented"] == 2
    assert pools.loc["a1", "allocated"] == 14


# ---------------------------------------------------------------- one valid solution per feature


def test_sub_node_job():
    inst = cluster(["sub"])
    rows = [("sub", "h1-00", 4)]
    assert verify(inst, solution(inst, rows, {"sub": "placed"})) == []
    ev = evaluate(inst, rows)
    assert ev.objective == pytest.approx(20)  # priority 2 x throughput 10
    assert ev.kpis["fragmented_gpus"] == 10  # 4 on h1-00 and 6 on h3-y (2 reserved)
    assert ev.kpis["free_nodes"] == 10


def test_multi_node_whole_node_job():
    inst = cluster(["wide"])
    rows = [("wide", "h1-01", 8), ("wide", "h1-02", 8)]
    assert verify(inst, solution(inst, rows, {"wide": "placed"})) == []
    assert evaluate(inst, rows).objective == pytest.approx(50)  # 16 GPUs on 2 whole nodes of pod p1


def test_mixed_type_job_throughput_split():
    inst = cluster(["mix"])
    rows = [("mix", "h2-00", 8), ("mix", "a1-00", 8)]
    assert verify(inst, solution(inst, rows, {"mix": "placed"})) == []
    ev = evaluate(inst, rows)
    # coverage 8/12 on each type; fastest first: u_H100 = 2/3, u_A100 = 1/3
    # T = 90*2/3 + 60*1/3 = 80, effective 80*(1-0.05) = 76; cost 30*2/3 + 15*1/3 = 25 -> 26.25
    assert ev.jobs["mix"].raw_throughput == pytest.approx(80)
    assert ev.jobs["mix"].throughput == pytest.approx(76)
    assert ev.jobs["mix"].cost == pytest.approx(26.25)
    assert ev.terms["mixed_type_loss"] == (-1.0, pytest.approx(4))
    assert ev.objective == pytest.approx(76)


def test_mixed_type_job_cost_split():
    inst = cluster(["mix"], objective="cost")
    rows = [("mix", "h2-00", 8), ("mix", "a1-00", 8)]
    assert verify(inst, solution(inst, rows, {"mix": "placed"})) == []
    ev = evaluate(inst, rows)
    # cheapest first: u_A100 = 2/3, u_H100 = 1/3: K = 15*2/3 + 30*1/3 = 20, +5% mixed = 21;
    # the throughput of that split is 60*2/3 + 90*1/3 = 70, effective 66.5
    assert ev.terms["job_cost"] == (1.0, pytest.approx(20))
    assert ev.terms["mixed_type_loss"] == (1.0, pytest.approx(1))
    assert ev.objective == pytest.approx(21)
    assert ev.jobs["mix"].throughput == pytest.approx(66.5)


def test_cross_site_job_with_scope_any():
    inst = cluster(["far"])
    rows = [("far", "h2-01", 8), ("far", "h3-x", 8)]
    assert verify(inst, solution(inst, rows, {"far": "placed"})) == []
    ev = evaluate(inst, rows)
    assert ev.terms["cross_site_loss"] == (-1.0, pytest.approx(1.6))  # 0.04 * 40
    assert ev.objective == pytest.approx(38.4)


def test_kept_migrated_and_preempted_jobs():
    inst = cluster(["kept", "moved", "stopped"])
    rows = [("kept", "a1-01", 4), ("moved", "h1-00", 4)]
    states = {"kept": "kept", "moved": "migrated", "stopped": "preempted"}
    assert verify(inst, solution(inst, rows, states, {"stopped": "objective"})) == []
    # kept on A100 (5) + moved to H100 (8) - migration 2 - preemption 4
    assert evaluate(inst, rows).objective == pytest.approx(7)


def test_kept_job_is_valued_from_its_current_rows_even_if_short():
    # a running job holding fewer GPUs than its option asks is kept as it is (rule 2) and worth
    # the part it covers
    data = {"schema_version": 1, "gpu_types": GPU_TYPES, **copy.deepcopy(TOPOLOGY), "tenants": TENANTS,
            "jobs": [{"id": "old", "tenant": "t1", "gpus": 8, "gpu_options": [{"gpu_type": "A100", "throughput": 10}]}],
            "current_placements": [{"job": "old", "node": "a1-00", "gpus": 4}]}
    inst = gpuplan.from_dict(data)
    rows = [("old", "a1-00", 4)]
    assert verify(inst, solution(inst, rows, {"old": "kept"})) == []
    assert evaluate(inst, rows).objective == pytest.approx(5)


FLOOR_JOBS = [
    {"id": "a1job", "tenant": "t1", "gpus": 8, "gpu_options": [{"gpu_type": "H100", "throughput": 10}]},
    {"id": "a2job", "tenant": "t1", "gpus": 8, "gpu_options": [{"gpu_type": "H100", "throughput": 12}]},
    {"id": "b", "tenant": "t2", "gpus": 8, "gpu_options": [{"gpu_type": "H100", "throughput": 1}]},
]


@cache
def floor_instance():
    tenants = [{"id": "t1", "max_gpus": 8}, {"id": "t2", "guaranteed_gpus": 8}]
    data = {"schema_version": 1, "gpu_types": GPU_TYPES, **copy.deepcopy(TOPOLOGY), "tenants": tenants,
            "jobs": FLOOR_JOBS}
    return gpuplan.from_dict(data)


FLOOR_ROWS = [("a2job", "h1-00", 8), ("b", "h1-01", 8)]
FLOOR_STATES = {"a1job": "unplaced", "a2job": "placed", "b": "placed"}


def test_tenant_floor_and_cap_binding():
    inst = floor_instance()
    # t1 holds 8 = its cap, so a1job is out on quota (room 0 < 8); t2 holds 8 = min(8, demand 8)
    sol = solution(inst, FLOOR_ROWS, FLOOR_STATES, {"a1job": "quota"})
    assert verify(inst, sol) == []
    assert evaluate(inst, FLOOR_ROWS).objective == pytest.approx(13)  # 12 + 1


def test_floor_missed():
    inst = floor_instance()
    sol = solution(inst, FLOOR_ROWS[:1], None, {"a1job": "quota", "b": "capacity"})
    assert rules(check(inst, sol)) == {"tenant_floor"}


def test_cap_exceeded():
    inst = floor_instance()
    sol = solution(inst, FLOOR_ROWS + [("a1job", "h1-02", 8)])
    assert rules(check(inst, sol)) == {"tenant_cap"}


# ---------------------------------------------------------------- the four objectives
# Pools h (H100, 2 nodes) and a (A100, 1 node): 24 usable GPUs. Tenants t1 (weight 1) and t2
# (weight 3). j1 (t1) and j2 (t2) are new, r (t2) runs on a-00 and moves to h-00, q (t1) runs on
# a-00 and is preempted.

OBJ_JOBS = [
    {"id": "j1", "tenant": "t1", "priority": 2, "gpus": 4,
     "gpu_options": [{"gpu_type": "H100", "throughput": 10, "cost_per_hour": 4},
                     {"gpu_type": "A100", "throughput": 6, "cost_per_hour": 2}]},
    {"id": "j2", "tenant": "t2", "gpus": 8,
     "gpu_options": [{"gpu_type": "H100", "throughput": 20, "cost_per_hour": 8}]},
    {"id": "r", "tenant": "t2", "gpus": 4, "migration_cost": 1.5,
     "gpu_options": [{"gpu_type": "A100", "throughput": 5, "cost_per_hour": 1},
                     {"gpu_type": "H100", "throughput": 8, "cost_per_hour": 3}]},
    {"id": "q", "tenant": "t1", "gpus": 4, "preemption_cost": 2,
     "gpu_options": [{"gpu_type": "A100", "throughput": 3, "cost_per_hour": 1}]},
]
OBJ_ROWS = [("j1", "h-00", 4), ("r", "h-00", 4), ("j2", "h-01", 8)]
OBJ_STATES = {"j1": "placed", "j2": "placed", "r": "migrated", "q": "preempted"}


def objective_instance(objective):
    data = {
        "schema_version": 1, "gpu_types": GPU_TYPES, "sites": [{"id": "s"}], "pods": [{"id": "p", "site": "s"}],
        "node_pools": [{"id": "h", "pod": "p", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 2},
                       {"id": "a", "pod": "p", "gpu_type": "A100", "gpus_per_node": 8, "node_count": 1}],
        "tenants": [{"id": "t1", "weight": 1}, {"id": "t2", "weight": 3}],
        "jobs": OBJ_JOBS,
        "current_placements": [{"job": "r", "node": "a-00", "gpus": 4}, {"job": "q", "node": "a-00", "gpus": 4}],
        "options": {"objective": objective},
    }
    return gpuplan.from_dict(data)


@pytest.mark.parametrize(("objective", "value"), [
    # j1 2*10 + j2 20 + r 8 (on H100) = 48, minus migration 1.5 and preemption 2
    ("throughput", 44.5),
    # j1 4 + j2 8 + r 3 = 15, plus migration 1.5 and preemption 2
    ("cost", 18.5),
    # 16 GPUs held, minus 1.5 and 2
    ("utilization", 12.5),
    # demand t1 = j1 4 + q 4 = 8, t2 = j2 8 + r 4 = 12; entitlements t1 min(8, 24*1/4) = 6,
    # t2 min(12, 24*3/4) = 12; shares 4/6 and 12/12 -> 2/3; tie-breaks (16 - 1.5 - 2)*1e-3/24
    ("fairness", 2 / 3 + 12.5e-3 / 24),
])
def test_objectives(objective, value):
    inst = objective_instance(objective)
    sol = solution(inst, OBJ_ROWS, OBJ_STATES, {"q": "objective"})
    assert verify(inst, sol) == []
    assert sol["sense"] == ("min" if objective == "cost" else "max")
    assert evaluate(inst, OBJ_ROWS).objective == pytest.approx(value, rel=1e-12)


def test_fairness_terms():
    ev = evaluate(objective_instance("fairness"), OBJ_ROWS)
    assert ev.terms["min_tenant_share"] == (1.0, pytest.approx(2 / 3))
    assert ev.terms["allocated_gpus"] == (pytest.approx(1e-3 / 24), 16)
    assert ev.terms["migration_cost"] == (pytest.approx(-1e-3 / 24), 1.5)
    assert ev.terms["preemption_cost"] == (pytest.approx(-1e-3 / 24), 2)


def test_evaluate_objective_override_and_dataframe():
    inst = objective_instance("throughput")
    frame = pd.DataFrame(OBJ_ROWS, columns=["job", "node", "gpus"])
    assert evaluate(inst, frame, objective="cost").objective == pytest.approx(18.5)
    assert evaluate(inst, frame).objective == pytest.approx(44.5)


def test_objective_name_of_solution_is_used():
    # the instance says throughput, the solution was solved for cost: valued as cost
    inst = objective_instance("throughput")
    assert verify(inst, solution(inst, OBJ_ROWS, OBJ_STATES, {"q": "objective"}, objective="cost")) == []


# ---------------------------------------------------------------- validity mutations


@pytest.mark.parametrize(("rule", "rows"), [
    ("node_capacity", mutated_rows(add=[("spare", "h3-y", 4)])),  # 2 reserved + 4 + 4 > 8
    ("gang_single_node", mutated_rows(drop=["sub"], add=[("sub", "h1-00", 3)])),
    ("whole_node", mutated_rows(drop=["wide"], add=[("wide", "h1-01", 8), ("wide", "h1-02", 4)])),
    ("redundant_node", mutated_rows(add=[("far", "h3-z", 8)])),
    ("scope", mutated_rows(drop=["wide"], add=[("wide", "h1-01", 8), ("wide", "h2-02", 8)])),  # pod
    ("scope", mutated_rows(drop=["mix"], add=[("mix", "h3-z", 8), ("mix", "a1-00", 8)])),  # site
    ("mixed_types", mutated_rows(drop=["far"], add=[("far", "h2-01", 8), ("far", "a1-02", 8)])),
    ("eligibility", mutated_rows(drop=["sub"], add=[("sub", "a1-02", 4)])),  # 40 GB < 60 GB
    ("duplicate_row", mutated_rows(drop=["sub"], add=[("sub", "h1-00", 2), ("sub", "h1-00", 2)])),
    ("running_rules", mutated_rows(drop=["kept"], add=[("kept", "a1-02", 4)])),  # not migratable
    ("running_rules", mutated_rows(drop=["kept"])),  # not preemptible
    ("required", mutated_rows(drop=["must"])),
    ("tenant_cap", mutated_rows(add=[("extra", "a1-02", 4)])),
    ("tenant_floor", mutated_rows(drop=["far"])),
], ids=lambda x: x if isinstance(x, str) else "")
def test_one_broken_rule_is_reported_alone(rule, rows):
    sol = solution(rich(), rows, reasons=RICH_REASONS)  # claims follow the rows: only the rule breaks
    assert rules(check(rich(), sol)) == {rule}
    with pytest.raises(VerificationError) as info:
        verify(rich(), sol)
    assert any(v.rule == rule for v in info.value.violations)


def test_job_that_fits_a_node_split_over_two():
    rows = mutated_rows(drop=["sub"], add=[("sub", "h1-00", 2), ("sub", "h2-02", 2)])
    sol = solution(rich(), rows, reasons=RICH_REASONS)
    assert "gang_single_node" in rules(check(rich(), sol))


def test_mixed_type_job_with_redundant_node():
    # a third node adds coverage 2/3; without any one of them it stays >= 1
    sol = solution(rich(), mutated_rows(add=[("mix", "a1-02", 8)]), reasons=RICH_REASONS)
    found = check(rich(), sol)
    assert rules(found) == {"redundant_node"}
    assert {v.entity for v in found} == {"mix"}


@cache
def micro():
    data = {
        "schema_version": 1, "gpu_types": GPU_TYPES, "sites": [{"id": "s"}], "pods": [{"id": "p", "site": "s"}],
        "node_pools": [{"id": "n", "pod": "p", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 4}],
        "tenants": [{"id": "t"}],
        "jobs": [{"id": "big", "tenant": "t", "gpus": 24, "scope": "pod", "gpu_options": [{"gpu_type": "H100"}]},
                 {"id": "nodey", "tenant": "t", "gpus": 16, "scope": "node", "gpu_options": [{"gpu_type": "H100"}]}],
    }
    return gpuplan.from_dict(data)


@pytest.mark.parametrize(("rule", "rows"), [
    ("coverage", [("big", "n-00", 8), ("big", "n-01", 8)]),  # 16 of 24
    ("gang_single_node", [("big", "n-00", 8)]),  # needs more than one node
    ("scope", [("nodey", "n-00", 8), ("nodey", "n-01", 8)]),  # scope node forbids whole nodes
])
def test_micro_rules(rule, rows):
    sol = solution(micro(), rows, reasons={"big": "capacity", "nodey": "too_large"})
    assert rules(check(micro(), sol)) == {rule}


def test_micro_reasons_valid():
    # big: 4 nodes of 8 cover 24; nodey (16 GPUs, scope node) fits no node -> too_large
    sol = solution(micro(), [("big", "n-00", 8), ("big", "n-01", 8), ("big", "n-02", 8)],
                   {"big": "placed", "nodey": "unplaced"}, {"nodey": "too_large"})
    assert verify(micro(), sol) == []


# ---------------------------------------------------------------- claim mutations


def claim_violations(mutate):
    sol = rich_solution()
    mutate(sol)
    return check(rich(), sol)


def job_entry(sol, job):
    return next(entry for entry in sol["jobs"] if entry["job"] == job)


def term_entry(sol, term):
    return next(entry for entry in sol["objective_terms"] if entry["term"] == term)


@pytest.mark.parametrize(("rule", "mutate"), [
    ("state", lambda s: job_entry(s, "sub").update(state="kept")),
    ("state", lambda s: job_entry(s, "kept").update(state="migrated")),
    ("state", lambda s: s["jobs"].pop()),
    ("reason", lambda s: job_entry(s, "huge").update(reason="capacity")),  # could not run
    ("reason", lambda s: job_entry(s, "fat").update(reason="too_large")),  # no memory: no_eligible_gpu
    ("reason", lambda s: job_entry(s, "huge").update(reason="no_eligible_gpu")),
    ("reason", lambda s: job_entry(s, "spare").update(reason="too_large")),  # spare could run
    ("reason", lambda s: job_entry(s, "spare").update(reason="quota")),  # t2 has no cap
    ("reason", lambda s: job_entry(s, "stopped").update(reason=None)),
    ("reason", lambda s: job_entry(s, "stopped").update(reason="bad luck")),
    ("reason", lambda s: job_entry(s, "sub").update(reason="capacity")),  # runs
    ("job_value", lambda s: job_entry(s, "mix").update(throughput=80)),  # raw, not effective
    ("job_value", lambda s: job_entry(s, "far").update(gpus=8)),
    ("job_value", lambda s: job_entry(s, "far").update(tenant="t1")),
    ("objective", lambda s: s.update(objective=s["objective"] + 1)),
    ("objective", lambda s: s.update(sense="min")),
    ("objective", lambda s: s.update(objective=None)),
    ("objective_term", lambda s: term_entry(s, "throughput").update(value=205)),
    ("objective_term", lambda s: term_entry(s, "cross_site_loss").update(weight=1)),
    ("objective_term", lambda s: term_entry(s, "migration_cost").update(contribution=2)),
    ("objective_term", lambda s: s["objective_terms"].pop()),
    ("objective_term", lambda s: s["objective_terms"].append(
        {"term": "energy_cost", "weight": 1, "value": 0, "contribution": 0})),
    ("kpi", lambda s: s["kpis"].update(fragmented_gpus=7)),
    ("kpi", lambda s: s["kpis"].update(weighted_throughput=204)),
    ("kpi", lambda s: s["kpis"].pop("free_nodes")),
    ("kpi", lambda s: s["kpis"].pop("shared_gpus")),
    ("bound", lambda s: s.update(bound=s["objective"] - 1)),  # a max problem's bound is above
    ("bound", lambda s: s.update(bound=s["objective"] + 10, gap=0.0)),
    ("unknown_job", lambda s: s["placements"].append({"job": "ghost", "node": "h1-00", "gpu_type": "H100", "gpus": 1})),
    ("unknown_job", lambda s: s["jobs"].append({**job_entry(s, "sub"), "job": "ghost"})),
    ("unknown_node", lambda s: s["placements"][0].update(node="h9-00")),
    ("gpu_type", lambda s: s["placements"][0].update(gpu_type="A100")),
    ("format", lambda s: s["placements"][0].update(gpus=-1)),
    ("format", lambda s: s["placements"][0].update(gpus=1.5)),
    ("format", lambda s: s["placements"][0].update(gpu_index=-1)),
    ("format", lambda s: s["placements"][0].update(gpu_index="0")),
    ("gang_single_node", lambda s: s["placements"][0].update(gpus=0)),  # gpus 0 is for CPU-only jobs
    ("sharing", lambda s: s["placements"][0].update(gpu_index=0)),  # sub does not share a GPU
    ("format", lambda s: s.update(format="something")),
    ("status", lambda s: s.update(status="infeasible")),
])
def test_wrong_claim_is_reported(rule, mutate):
    found = claim_violations(mutate)
    assert rule in rules(found)
    assert all(isinstance(v, Violation) for v in found)


def test_claim_mutations_report_only_their_rule():
    found = claim_violations(lambda s: job_entry(s, "sub").update(state="kept"))
    assert found == [Violation("state", "sub", "claimed 'kept', its rows make it 'placed'")]
    assert rules(claim_violations(lambda s: s["kpis"].update(fragmented_gpus=7))) == {"kpi"}


def test_consistent_bound_and_gap_pass():
    sol = rich_solution()
    sol.update(status="time_limit", bound=sol["objective"] + 10, gap=10 / sol["objective"])
    assert verify(rich(), sol) == []


def test_a_bound_equal_to_the_objective_up_to_rounding_has_gap_0():
    # HiGHS reports gap 0 when objective and bound agree to 1e-9; at objective 0 a bound of
    # -1.1e-16 is such a case, not a gap of 1.1e-6.
    sol = rich_solution()
    sol.update(bound=sol["objective"] * (1 + 1e-12), gap=0.0)
    assert verify(rich(), sol) == []
    sol.update(bound=sol["objective"] * (1 + 1e-4), gap=0.0)
    assert rules(check(rich(), sol)) == {"bound"}


def test_min_problem_bound_must_be_below():
    inst = objective_instance("cost")
    sol = solution(inst, OBJ_ROWS, OBJ_STATES, {"q": "objective"})
    sol.update(bound=sol["objective"] + 1, gap=None)
    assert rules(check(inst, sol)) == {"bound"}
    sol.update(bound=sol["objective"] - 1)
    assert check(inst, sol) == []


def test_no_solution_statuses():
    for status in ("infeasible", "unbounded", "error"):
        empty = {"format": "gpuplan-solution", "version": 1, "problem": "assignment", "status": status,
                 "objective": None, "bound": None, "gap": None, "placements": [], "message": "no solution"}
        assert verify(rich(), empty) == []
    empty.update(status="time_limit")  # a time limit without an incumbent
    assert verify(rich(), empty) == []


# ---------------------------------------------------------------- inputs and the error


def test_solution_from_path_folder_and_object(tmp_path):
    sol = rich_solution()
    (tmp_path / "solution.json").write_text(json.dumps(sol))
    assert verify(rich(), tmp_path) == []
    assert verify(rich(), str(tmp_path / "solution.json")) == []

    class Result:
        def to_solution_dict(self):
            return sol

    assert verify(rich(), Result()) == []


def test_missing_solution_file_is_an_input_error(tmp_path):
    with pytest.raises(gpuplan.InputError):
        verify(rich(), tmp_path)


def test_error_message_lists_first_violations():
    sol = rich_solution()
    for entry in sol["jobs"]:
        entry["state"] = "kept"
    with pytest.raises(VerificationError) as info:
        verify(rich(), sol)
    lines = str(info.value).splitlines()
    assert len(info.value.violations) == 11  # every job but kept
    assert len(lines) == VerificationError.SHOWN + 1
    assert lines[0].startswith("[state] 'sub':")
    assert lines[-1] == "... and 6 more violations"


def _loaded_after(code: str) -> set[str]:
    """The modules of interest loaded after running ``code`` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint(' '.join(m for m in sys.modules if m in WATCHED))"
    out = subprocess.run([sys.executable, "-c", f"WATCHED = {WATCHED!r}\n{probe}"],
                         check=True, capture_output=True, text=True)
    return set(out.stdout.split())


WATCHED = ("pyomo", "gpuplan.solve", "gpuplan.model")

# Load gpuplan.verify without running gpuplan/__init__.py: the verifier's own import closure.
_BARE_PACKAGE = """
import importlib.util, types
spec = importlib.util.find_spec("gpuplan")
package = types.ModuleType("gpuplan")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["gpuplan"] = package
import gpuplan.verify
"""


def test_verifier_never_imports_pyomo():
    assert _loaded_after(_BARE_PACKAGE) == set()


def test_importing_gpuplan_verify_does_not_import_pyomo():
    loaded = _loaded_after("import gpuplan.verify")
    if "pyomo" in loaded and loaded & {"gpuplan.solve", "gpuplan.model"}:
        pytest.xfail("gpuplan/__init__.py imports the solver layer (pyomo) eagerly")
    assert "pyomo" not in loaded
