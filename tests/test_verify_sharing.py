"""The verifier on GPU sharing, CPU-only jobs and node CPU / memory: hand-made valid solutions
with hand-computed values, and one mutation per new rule. No solver is involved."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import gpuplan
from gpuplan.verify import RULES, evaluate, verify
from gpuplan.verify.assignment.facts import instance_facts
from test_verify import check, job_entry, rules, solution

# ---------------------------------------------------------------- the sharing cluster
#
# Pod p: pool g (H100, 4 GPUs, CPU 16000 milli, 65536 MiB): g-00, g-01 (1 GPU reserved), g-02;
#        pool c (CPU-only, 8000 milli, 32768 MiB): c-00, c-01.   Usable GPUs: 4 + 3 + 4 = 11.
# Tenants: t1 guaranteed 1 GPU, t2 capped at 3, t3.

H100 = [{"id": "H100", "memory_gb": 80, "power_w": 700, "idle_power_w": 100}]
SHARE_TOPOLOGY = {
    "sites": [{"id": "s"}],
    "pods": [{"id": "p", "site": "s"}],
    "node_pools": [
        {"id": "g", "pod": "p", "gpu_type": "H100", "gpus_per_node": 4, "node_count": 3,
         "cpu_milli_per_node": 16000, "host_memory_mib_per_node": 65536},
        {"id": "c", "pod": "p", "gpus_per_node": 0, "node_count": 2,
         "cpu_milli_per_node": 8000, "host_memory_mib_per_node": 32768},
    ],
    "nodes": [{"id": "g-00", "pool": "g"}, {"id": "g-01", "pool": "g", "reserved_gpus": 1},
              {"id": "g-02", "pool": "g"}],
}


def sharing(tenant, milli, throughput, **more):
    return {"tenant": tenant, "gpus": 1, "gpu_share_milli": milli,
            "gpu_options": [{"gpu_type": "H100", "throughput": throughput}], **more}


def cpu_only(tenant, cpu=0, memory=0, **more):
    return {"tenant": tenant, "cpu_milli": cpu, "host_memory_mib": memory, **more}


SHARE_JOBS = {
    "sA": sharing("t1", 500, 4, cpu_milli=2000, host_memory_mib=8192),
    "sB": sharing("t1", 300, 3, cpu_milli=1000, host_memory_mib=4096),
    "sC": sharing("t2", 250, 2, cpu_milli=1000, host_memory_mib=4096),
    "w": {"tenant": "t2", "gpus": 2, "cpu_milli": 4000, "host_memory_mib": 16384,
          "gpu_options": [{"gpu_type": "H100", "throughput": 10}]},
    "cpu2": cpu_only("t3", 8000, 32768),  # fills g-00's CPU and memory exactly
    "cpu1": cpu_only("t3", 8000, 32768),  # fills c-00 exactly
    "kS": sharing("t2", 400, 5, migration_cost=1.5),  # runs on GPU 1 of g-01
    "sD": sharing("t3", 600, 6),  # shares GPU 1 of g-01 with kS: 1000 milli exactly
    "sE": sharing("t2", 400, 1),  # t2's cap leaves 0.35 GPUs: quota
    "sF": sharing("t2", 300, 1),
    "cpu_extra": cpu_only("t3", cpu=1000),
    "mem_extra": cpu_only("t3", memory=1024),
    "cpuhog": cpu_only("t3", cpu=20000),  # more CPU than any node: too_large
    "memfat": sharing("t1", 100, 1, host_memory_mib=70000),  # more host memory than any node
}
SHARE_CURRENT = [{"job": "kS", "node": "g-01", "gpus": 1, "gpu_index": 1}]
SHARE_TENANTS = [{"id": "t1", "guaranteed_gpus": 1}, {"id": "t2", "max_gpus": 3}, {"id": "t3"}]


def share_instance(objective="throughput", *, jobs=SHARE_JOBS, current=SHARE_CURRENT, tenants=SHARE_TENANTS):
    data = {
        "schema_version": 1, "gpu_types": H100, **copy.deepcopy(SHARE_TOPOLOGY), "tenants": tenants,
        "jobs": [{"id": name, **spec} for name, spec in jobs.items()],
        "current_placements": copy.deepcopy(current),
        "options": {"objective": objective},
    }
    return gpuplan.from_dict(data)


SHARE = share_instance()
SHARE_ROWS = [
    ("sA", "g-00", 1, 0), ("sB", "g-00", 1, 0), ("sC", "g-00", 1, 1), ("w", "g-00", 2), ("cpu2", "g-00", 0),
    ("cpu1", "c-00", 0),
    ("kS", "g-01", 1, 1), ("sD", "g-01", 1, 1),
]
SHARE_STATES = {
    "sA": "placed", "sB": "placed", "sC": "placed", "w": "placed", "cpu2": "placed", "cpu1": "placed",
    "kS": "kept", "sD": "placed", "sE": "unplaced", "sF": "unplaced", "cpu_extra": "unplaced",
    "mem_extra": "unplaced", "cpuhog": "unplaced", "memfat": "unplaced",
}
SHARE_REASONS = {"sE": "quota", "sF": "capacity", "cpu_extra": "objective", "mem_extra": "objective",
                 "cpuhog": "too_large", "memfat": "too_large"}


def share_solution(rows=SHARE_ROWS, states=SHARE_STATES, instance=SHARE, **kw):
    return solution(instance, rows, states, SHARE_REASONS, **kw)


def share_mutation(drop=(), add=(), **reasons):
    """SHARE_ROWS without the rows of the jobs in ``drop``, plus ``add``; claims follow the rows."""
    rows = [row for row in SHARE_ROWS if row[0] not in drop] + list(add)
    return solution(SHARE, rows, reasons={**SHARE_REASONS, **reasons})


# ---------------------------------------------------------------- valid, by hand


def test_sharing_solution_is_valid():
    assert verify(SHARE, share_solution()) == []


def test_sharing_objective_and_states_by_hand():
    ev = evaluate(SHARE, SHARE_ROWS)
    assert ev.states == SHARE_STATES
    # a sharing job is worth its option (coverage 1): sA 4 + sB 3 + sC 2 + w 10 + kS 5 + sD 6;
    # CPU-only jobs are worth nothing
    assert ev.terms["throughput"] == (1.0, pytest.approx(30))
    assert ev.objective == pytest.approx(30)
    assert ev.jobs["cpu1"].throughput == ev.jobs["cpu1"].cost == 0


def test_sharing_kpis_by_hand():
    kpis = evaluate(SHARE, SHARE_ROWS).kpis
    assert kpis["usable_gpus"] == 11
    assert kpis["allocated_gpus"] == pytest.approx(4.05)  # 0.5 + 0.3 + 0.25 + 2 + 0.4 + 0.6
    assert kpis["gpu_utilization"] == pytest.approx(4.05 / 11)
    # g-00: 4 - 3.05 = 0.95 free; g-01: 4 - 1 reserved - 1.0 shared = 2 free
    assert kpis["fragmented_gpus"] == pytest.approx(2.95)
    assert kpis["shared_gpus"] == 3  # GPU 0 and 1 of g-00, GPU 1 of g-01
    assert kpis["free_nodes"] == 2  # g-02 and c-01 (c-00 runs a CPU-only job)
    assert kpis["weighted_throughput"] == pytest.approx(30)
    assert (kpis["placed_jobs"], kpis["kept_jobs"], kpis["unplaced_jobs"]) == (7, 1, 6)
    assert all(isinstance(value, float) for value in kpis.values())


def test_sharing_tables_and_held_gpus():
    ev = evaluate(SHARE, SHARE_ROWS)
    # the GPUs a job holds: s/1000 for a sharing job, 0 for a CPU-only job
    assert ev.job_gpus["sA"] == pytest.approx(0.5) and ev.job_gpus["w"] == 2 and ev.job_gpus["cpu2"] == 0
    jobs = ev.job_table().set_index("job")
    assert jobs.loc["sC", "gpus"] == pytest.approx(0.25)
    assert ev.tenant_gpus == {"t1": pytest.approx(0.8), "t2": pytest.approx(2.65), "t3": pytest.approx(0.6)}
    tenants = ev.tenant_table().set_index("tenant")
    # demand: t1 sA 0.5 + sB 0.3 (memfat could not run); t2 w 2 + sC 0.25 + kS 0.4 + sE 0.4 + sF 0.3;
    # t3 sD 0.6 (CPU-only jobs need no GPU)
    assert tenants["demand"].to_dict() == {
        "t1": pytest.approx(0.8), "t2": pytest.approx(3.35), "t3": pytest.approx(0.6)}
    assert tenants.loc["t1", "gpus"] == pytest.approx(0.8)  # the floor min(1, 0.8) is met with shares
    pools = ev.pool_table().set_index("pool")
    assert pools.loc["g", "allocated"] == pytest.approx(4.05)
    assert pools.loc["g", "free"] == pytest.approx(6.95)
    assert pools.loc["g", "fragmented"] == pytest.approx(2.95)
    assert pools.loc["c"].to_dict() == {"nodes": 2, "gpus": 0, "allocated": 0, "free": 0, "fragmented": 0,
                                        "utilization": 0}


@pytest.mark.parametrize(("objective", "value"), [
    ("utilization", 4.05),
    # entitlements (11 GPUs, equal weights: 11/3 each, capped by demand and max_gpus) t1 0.8,
    # t2 min(3.35, 3, 11/3) = 3, t3 0.6; shares 1, 2.65/3, 1; tie-break 4.05 * 1e-3 / 11
    ("fairness", 2.65 / 3 + 4.05e-3 / 11),
])
def test_sharing_objectives(objective, value):
    inst = share_instance(objective)
    assert verify(inst, share_solution(instance=inst)) == []
    assert evaluate(inst, SHARE_ROWS).objective == pytest.approx(value, rel=1e-12)


def test_could_run_needs_cpu_and_memory():
    facts = instance_facts(SHARE)
    assert facts.jobs["cpu_extra"].eligible_pools == ("g", "c")  # a CPU-only job may use any pool
    assert facts.jobs["cpu2"].eligible_pools == ("g", "c")  # 8000 milli and 32768 MiB fit both exactly
    assert facts.jobs["w"].eligible_pools == ("g",)
    assert facts.jobs["cpuhog"].cannot_run_reason == "too_large"  # never no_eligible_gpu
    assert facts.jobs["memfat"].cannot_run_reason == "too_large"  # its GPU fits, its memory does not
    assert facts.jobs["sA"].fewest_gpus == pytest.approx(0.5)
    assert facts.jobs["cpu1"].fewest_gpus == 0


def test_unlimited_cpu_and_memory_when_absent():
    topology = copy.deepcopy(SHARE_TOPOLOGY)
    for pool in topology["node_pools"]:
        del pool["cpu_milli_per_node"], pool["host_memory_mib_per_node"]
    data = {"schema_version": 1, "gpu_types": H100, **topology, "tenants": [{"id": "t"}],
            "jobs": [{"id": "hog", **cpu_only("t", 10**6, 10**7)},
                     {"id": "big", **sharing("t", 500, 1, cpu_milli=10**6)}]}
    inst = gpuplan.from_dict(data)
    assert instance_facts(inst).jobs["hog"].eligible_pools == ("c",)  # g no longer accounts for CPU
    rows = [("hog", "c-01", 0), ("big", "g-00", 1, 3)]
    assert verify(inst, solution(inst, rows, {"hog": "placed", "big": "placed"})) == []
    # a CPU-only job runs only where CPU or memory is accounted for: not on pool g now
    found = check(inst, solution(inst, [("hog", "g-02", 0), ("big", "g-00", 1, 3)]))
    assert [str(v) for v in found] == ["[eligibility] 'hog': node 'g-02' accounts for neither CPU nor memory"]


def test_cpu_only_job_without_any_accounting_pool_is_too_large():
    topology = copy.deepcopy(SHARE_TOPOLOGY)
    topology["node_pools"] = topology["node_pools"][:1]
    del topology["node_pools"][0]["cpu_milli_per_node"], topology["node_pools"][0]["host_memory_mib_per_node"]
    data = {"schema_version": 1, "gpu_types": H100, **topology, "tenants": [{"id": "t"}],
            "jobs": [{"id": "idle", **cpu_only("t")}]}
    inst = gpuplan.from_dict(data)
    assert instance_facts(inst).jobs["idle"].cannot_run_reason == "too_large"
    assert verify(inst, solution(inst, [], {"idle": "unplaced"}, {"idle": "too_large"})) == []
    sol = solution(inst, [], {"idle": "unplaced"}, {"idle": "no_eligible_gpu"})  # never for a CPU-only job
    assert rules(check(inst, sol)) == {"reason"}


def test_cpu_only_job_on_a_gpu_node_counts_as_running_there():
    # a GPU node running only a CPU-only job is not free, and its idle GPUs are fragmented
    inst = share_instance(jobs={"cpu1": SHARE_JOBS["cpu1"]}, current=[], tenants=[{"id": "t3"}])
    rows = [("cpu1", "g-02", 0)]
    assert verify(inst, solution(inst, rows, {"cpu1": "placed"})) == []
    kpis = evaluate(inst, rows).kpis
    assert kpis["free_nodes"] == 3  # g-00, c-00, c-01 (g-01 has a reserved GPU)
    assert kpis["fragmented_gpus"] == 4 + 3  # g-02 runs a job; g-01 has GPUs reserved
    assert kpis["allocated_gpus"] == 0 and kpis["shared_gpus"] == 0


# ---------------------------------------------------------------- input forms of evaluate


def _padded(rows):
    return [(*row, None) if len(row) == 3 else row for row in rows]


@pytest.mark.parametrize("form", ["tuples", "dicts", "dicts_without_index", "frame_nan", "frame_nullable"])
def test_evaluate_accepts_every_row_form(form):
    rows = _padded(SHARE_ROWS)
    if form == "tuples":
        given = SHARE_ROWS  # three- and four-field tuples mixed
    elif form == "dicts":
        given = [{"job": j, "node": n, "gpus": g, "gpu_index": i} for j, n, g, i in rows]
    elif form == "dicts_without_index":
        given = [{"job": j, "node": n, "gpus": g, **({} if i is None else {"gpu_index": i})} for j, n, g, i in rows]
    else:
        given = pd.DataFrame(rows, columns=["job", "node", "gpus", "gpu_index"])
        assert given["gpu_index"].isna().sum() == 3
        if form == "frame_nullable":
            given = given.astype({"gpu_index": "Int64"})
    ev = evaluate(SHARE, given)
    assert ev.objective == pytest.approx(30)
    assert ev.states == SHARE_STATES
    assert ev.kpis["shared_gpus"] == 3


def test_evaluate_with_facts_keyword():
    facts = instance_facts(SHARE)
    assert evaluate(SHARE, SHARE_ROWS, facts=facts, objective="utilization").objective == pytest.approx(4.05)


# ---------------------------------------------------------------- one broken rule each


@pytest.mark.parametrize(("rule", "sol"), [
    # GPU 0 of g-00 shared by sA 500 + sB 300 + sC 250 = 1050 milli
    ("gpu_share", share_mutation(drop=["sC"], add=[("sC", "g-00", 1, 0)])),
    # g-00: w's 2 GPUs whole + 3 distinct shared GPUs (0, 1, 2) = 5 > 4
    ("node_capacity", share_mutation(drop=["sD"], add=[("sD", "g-00", 1, 2)])),
    ("node_cpu", share_mutation(add=[("cpu_extra", "g-00", 0)])),  # 16000 + 1000 milli
    ("node_memory", share_mutation(add=[("mem_extra", "c-00", 0)])),  # 32768 + 1024 MiB
    ("sharing", share_mutation(drop=["sD"], add=[("sD", "g-01", 1)])),  # a sharing job without index
    ("sharing", share_mutation(drop=["sD"], add=[("sD", "g-01", 1, 4)])),  # g-01 has GPUs 0..3
    ("sharing", share_mutation(drop=["w"], add=[("w", "g-00", 2, 2)])),  # a whole-GPU job with index
    ("gang_single_node", share_mutation(drop=["cpu2"], add=[("cpu2", "g-02", 1)])),  # CPU-only holds a GPU
    ("gang_single_node", share_mutation(drop=["sC"], add=[("sC", "g-00", 2, 1)])),  # shares 2 GPUs
    ("gang_single_node", share_mutation(drop=["sD"], add=[("sD", "g-01", 1, 1), ("sD", "g-02", 1, 0)])),
    ("gang_single_node", share_mutation(drop=["cpu1"], add=[("cpu1", "c-00", 0), ("cpu1", "c-01", 0)])),
    # a GPU job on a CPU-only node (it holds 0 GPUs there, so t2's cap no longer keeps sE out)
    ("eligibility", share_mutation(drop=["w"], add=[("w", "c-01", 0)], sE="capacity")),
    ("tenant_floor", share_mutation(drop=["sB"])),  # t1 holds 0.5 < min(1, 0.8)
    ("tenant_cap", share_mutation(add=[("sF", "g-02", 1, 0), ("sE", "g-02", 1, 0)])),  # t2: 2.65 + 0.7 > 3
], ids=lambda x: x if isinstance(x, str) else "")
def test_one_new_rule_broken(rule, sol):
    assert rules(check(SHARE, sol)) == {rule}


def test_cap_met_exactly_with_shares():
    # sF on a free GPU: t2 holds 2.65 + 0.3 = 2.95 <= 3, and sE (0.4) is still out on quota
    assert check(SHARE, share_mutation(add=[("sF", "g-02", 1, 0)])) == []


def test_over_shared_gpu_message():
    found = check(SHARE, share_mutation(drop=["sC"], add=[("sC", "g-00", 1, 0)]))
    assert [str(v) for v in found] == ["[gpu_share] 'g-00': GPU 0 is shared by jobs needing 1050 milli, above 1000"]


def test_kept_sharing_job_moved_to_another_gpu_is_migrated():
    rows = [row for row in SHARE_ROWS if row[0] != "kS"] + [("kS", "g-01", 1, 2)]
    ev = evaluate(SHARE, rows)
    assert ev.jobs["kS"].state == "migrated"
    assert ev.objective == pytest.approx(30 - 1.5)  # its migration cost
    assert ev.kpis["shared_gpus"] == 4
    assert verify(SHARE, share_solution(rows, {**SHARE_STATES, "kS": "migrated"})) == []
    found = check(SHARE, share_solution(rows, SHARE_STATES))  # still claimed kept
    assert [(v.rule, v.entity) for v in found] == [("state", "kS")]


def test_kept_sharing_job_that_may_not_move():
    jobs = {**SHARE_JOBS, "kS": sharing("t2", 400, 5, migratable=False)}
    inst = share_instance(jobs=jobs)
    rows = [row for row in SHARE_ROWS if row[0] != "kS"] + [("kS", "g-01", 1, 2)]
    assert rules(check(inst, solution(inst, rows, reasons=SHARE_REASONS))) == {"running_rules"}


def test_kept_whole_gpu_job_with_an_index_stays_kept_and_is_reported():
    inst = share_instance(jobs={"r": {"tenant": "t3", "gpus": 2, "gpu_options": [{"gpu_type": "H100"}]}},
                          current=[{"job": "r", "node": "g-00", "gpus": 2}], tenants=[{"id": "t3"}])
    rows = [("r", "g-00", 2, 0)]
    assert evaluate(inst, rows).jobs["r"].state == "kept"  # the index counts only for sharing jobs
    assert rules(check(inst, solution(inst, rows))) == {"sharing"}


@pytest.mark.parametrize(("rule", "mutate"), [
    ("kpi", lambda s: s["kpis"].update(shared_gpus=2)),
    ("kpi", lambda s: s["kpis"].pop("shared_gpus")),
    ("kpi", lambda s: s["kpis"].update(allocated_gpus=4)),  # sharing jobs count s/1000
    ("kpi", lambda s: s["kpis"].update(free_nodes=3)),  # c-00 runs a CPU-only job
    ("job_value", lambda s: job_entry(s, "sA").update(gpus=1)),  # it holds 0.5
    ("reason", lambda s: job_entry(s, "cpuhog").update(reason="no_eligible_gpu")),
    ("reason", lambda s: job_entry(s, "sF").update(reason="quota")),  # room 0.35 >= 0.3
    ("gpu_type", lambda s: next(p for p in s["placements"] if p["node"] == "c-00").update(gpu_type="H100")),
    ("objective_term", lambda s: s["objective_terms"][0].update(value=31)),
])
def test_wrong_sharing_claim(rule, mutate):
    sol = share_solution()
    mutate(sol)
    assert rule in rules(check(SHARE, sol))


def test_sharing_job_claims_its_share_of_a_gpu():
    sol = share_solution()
    assert job_entry(sol, "sA")["gpus"] == pytest.approx(0.5)
    assert next(p for p in sol["placements"] if p["job"] == "sA") == {
        "job": "sA", "node": "g-00", "gpu_type": "H100", "gpus": 1, "gpu_index": 0}
    del next(p for p in sol["placements"] if p["job"] == "w")["gpu_index"]  # absent = null
    assert verify(SHARE, sol) == []


# ---------------------------------------------------------------- rule 1: nodes held whole


@pytest.fixture(scope="module")
def whole():
    data = {
        "schema_version": 1, "gpu_types": H100, "sites": [{"id": "s"}], "pods": [{"id": "p", "site": "s"}],
        "node_pools": [{"id": "n", "pod": "p", "gpu_type": "H100", "gpus_per_node": 8, "node_count": 3,
                        "cpu_milli_per_node": 64000}],
        "tenants": [{"id": "t"}],
        "jobs": [{"id": "big", "tenant": "t", "gpus": 16, "scope": "pod", "gpu_options": [{"gpu_type": "H100"}]},
                 {"id": "new", "tenant": "t", "gpus": 16, "scope": "pod", "gpu_options": [{"gpu_type": "H100"}]},
                 {"id": "cpu", **cpu_only("t", 100)}],
        "current_placements": [{"job": "big", "node": "n-00", "gpus": 8}, {"job": "big", "node": "n-01", "gpus": 8}],
    }
    return gpuplan.from_dict(data)


@pytest.mark.parametrize(("rows", "found"), [
    ([("big", "n-00", 8), ("big", "n-01", 8), ("cpu", "n-02", 0)], set()),
    ([("big", "n-00", 8), ("big", "n-01", 8), ("cpu", "n-01", 0)], {"whole_node"}),  # kept: rule 1
    ([("new", "n-01", 8), ("new", "n-02", 8), ("cpu", "n-02", 0)], {"whole_node"}),  # placed: rule 5
    ([("new", "n-01", 8), ("new", "n-02", 8), ("cpu", "n-00", 0)], set()),
])
def test_node_held_whole_runs_nothing_else(whole, rows, found):
    sol = solution(whole, rows, reasons={"big": "objective", "new": "capacity", "cpu": "objective"})
    assert rules(check(whole, sol)) == found


def test_every_new_rule_is_documented():
    for code in ("gpu_share", "node_cpu", "node_memory", "sharing"):
        assert code in RULES
    assert "sharing" in RULES["gang_single_node"] and "CPU-only" in RULES["gang_single_node"]


def test_a_job_on_whole_nodes_needs_its_cpu_and_memory_on_each():
    # 12 GPUs on 8-GPU nodes: whole nodes, each needing the job's 5000 milli CPU; the nodes
    # have 4000. The verifier and the model agree it cannot run (and so adds no demand).
    from builders import cluster, job, pool, solve_checked

    limited = {**pool("k", "A", 8, 2), "cpu_milli_per_node": 4000}
    inst = cluster([limited], [job("big", {"A": 12}, cpu_milli=5000), job("fits", {"A": 12}, cpu_milli=4000)],
                   tenants=[{"id": "t"}])
    facts = instance_facts(inst)
    assert facts.jobs["big"].cannot_run_reason == "too_large" and facts.jobs["big"].eligible_pools == ()
    assert facts.jobs["fits"].eligible_pools == ("k",)
    for objective in ("throughput", "fairness"):
        res = solve_checked(inst, objective=objective, mip_gap=0)
        jobs = res.jobs.set_index("job")
        assert jobs.loc["big", "reason"] == "too_large" and jobs.loc["fits", "state"] == "placed"
