"""One micro-instance per feature of the assignment model, with its optimum worked out by hand.

Each case names the constraint families that *bind* in it: switching any of them off must
strictly improve the model's optimum. ``test_every_constraint_binds_somewhere`` keeps the
union of those names equal to the constraint table of models/assignment.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from builders import cluster, job, placed_on, pool, reason_of, relaxed_solver_objective, solve_checked, state_of


@dataclass
class Case:
    name: str
    build: Callable
    optimum: float
    binds: tuple[str, ...] = ()
    objective: str | None = None
    check: Callable = field(default=lambda result: None)


CASES: list[Case] = []


def case(name, optimum, binds=(), objective=None):
    def register(fn):
        instance, check = fn()
        CASES.append(Case(name, lambda: instance, optimum, binds, objective, check))
        return fn
    return register


# ---------------------------------------------------------------- GPU types and packing


@case("heterogeneous_types", optimum=18, binds=("node_gpus_max",))
def _():
    # j1: 4 A (10) or 8 B (6); j2: 8 A (9) or 8 B (8). One node of each type.
    # j1->A, j2->B = 18 beats j1->B, j2->A = 15; both on A would need 12 GPUs.
    inst = cluster([pool("a", "A", 8, 1), pool("b", "B", 8, 1)],
                   [job("j1", {"A": (4, 10), "B": (8, 6)}), job("j2", {"A": (8, 9), "B": (8, 8)})])

    def check(r):
        assert placed_on(r, "j1") == [("a-00", 4)]
        assert placed_on(r, "j2") == [("b-00", 8)]
    return inst, check


@case("gang_and_node_packing", optimum=3, binds=("class_slots_max",))
def _():
    # Three 5-GPU jobs, two 8-GPU nodes: 15 <= 16 GPUs but a job stays inside one node,
    # so only two run (one per node). Job sizes differ in throughput: the best two run.
    inst = cluster([pool("a", "A", 8, 2)],
                   [job("j1", {"A": (5, 1)}), job("j2", {"A": (5, 2)}), job("j3", {"A": (5, 1)})])

    def check(r):
        assert state_of(r, "j2") == "placed"
        assert sorted(r.placements.node) == ["a-00", "a-01"]
    return inst, check


@case("utilization_packing_patterns", optimum=10, objective="utilization", binds=("class_slots_max",))
def _():
    # 5 + 5 + 4 GPUs on two 8-GPU nodes: no node holds 5 + 4, so {5} and {5} = 10 busy (not 14).
    inst = cluster([pool("a", "A", 8, 2)], [job("j5a", {"A": 5}), job("j5b", {"A": 5}), job("j4", {"A": 4})])

    def check(r):
        assert reason_of(r, "j4") == "capacity"
    return inst, check


@case("gpu_memory", optimum=6, binds=())
def _():
    # B has 40 GB: the 60 GB job may only use A, so the small job takes B.
    inst = cluster([pool("a", "A", 8, 1), pool("b", "B", 8, 1)],
                   [job("big_mem", {"A": (8, 5), "B": (8, 9)}, gpu_memory_gb=60), job("small", {"A": (8, 1), "B": (8, 1)})])

    def check(r):
        assert placed_on(r, "big_mem") == [("a-00", 8)]
    return inst, check


@case("shared_node_reserved_gpus", optimum=3, binds=("node_gpus_max",))
def _():
    # One 8-GPU node with 4 GPUs reserved: 4 usable. j3 (4 GPUs, 3) beats j1 + j2 (2 + 2 GPUs, 1 + 1).
    inst = cluster([pool("a", "A", 8, 1)],
                   [job("j1", {"A": (2, 1)}), job("j2", {"A": (2, 1)}), job("j3", {"A": (4, 3)})],
                   nodes=[{"id": "n1", "pool": "a", "reserved_gpus": 4}])

    def check(r):
        assert placed_on(r, "j3") == [("n1", 4)]
    return inst, check


# ---------------------------------------------------------------- whole nodes


@case("whole_nodes_block_packing", optimum=10, binds=("class_nodes_max",))
def _():
    # A 16-GPU job takes both 8-GPU nodes whole, so the 1-GPU job cannot run: 10 > 1.
    inst = cluster([pool("a", "A", 8, 2)], [job("big", {"A": (16, 10)}), job("small", {"A": (1, 1)})])

    def check(r):
        assert placed_on(r, "big") == [("a-00", 8), ("a-01", 8)]
        assert reason_of(r, "small") == "capacity"
    return inst, check


@case("pod_supply", optimum=5, binds=("pool_nodes_max",))
def _():
    # Two pod-scoped 16-GPU jobs, one pod with two 8-GPU nodes (the other pod has nodes of
    # another type): only one runs.
    inst = cluster([pool("a1", "A", 8, 2), pool("c2", "C", 8, 2, pod="p2")],
                   [job("j1", {"A": (16, 5)}, scope="pod"), job("j2", {"A": (16, 4)}, scope="pod")])

    def check(r):
        assert state_of(r, "j1") == "placed" and state_of(r, "j2") == "unplaced"
    return inst, check


@case("site_supply", optimum=5 + 3, binds=("site_nodes_max",))
def _():
    # Site s1 has two pods of two A nodes each: a pod-scoped 16-GPU job takes one pod, so only
    # one of the two site-scoped 16-GPU jobs still fits in the site.
    inst = cluster([pool("a1", "A", 8, 2), pool("a2", "A", 8, 2, pod="p2")],
                   [job("pod-job", {"A": (16, 3)}, scope="pod"),
                    job("site1", {"A": (16, 5)}, scope="site"), job("site2", {"A": (16, 2)}, scope="site")])

    def check(r):
        assert state_of(r, "site2") == "unplaced"
    return inst, check


@case("whole_nodes_cover_need", optimum=10, binds=("span_cover_min",))
def _():
    # A 12-GPU job needs two whole nodes (it holds 16); an 8-GPU job would take one node.
    inst = cluster([pool("a", "A", 8, 2)], [job("big", {"A": (12, 10)}), job("mid", {"A": (8, 6)})])

    def check(r):
        assert r.jobs.set_index("job").loc["big", "gpus"] == 16
    return inst, check


@case("no_redundant_node", optimum=16, objective="utilization", binds=("span_cover_max",))
def _():
    # Utilization would like all four nodes of the pod's two pools, but 12 GPUs need two.
    return cluster([pool("a1", "A", 8, 2), pool("a2", "A", 8, 2)], [job("big", {"A": 12}, scope="pod")]), lambda r: None


@case("no_redundant_node_mixed_ratios", optimum=24, objective="utilization",
      binds=("span_pool_cover_max", "span_used_link"))
def _():
    # Mixed job: 12 A (ratio 8/12 per node) or 24 B (ratio 8/24). Valid non-redundant sets:
    # 2 A (16 GPUs), 1 A + 1 B (16), 3 B (24). 1 A + 2 B is redundant (drop a B: coverage 1).
    inst = cluster([pool("a", "A", 8, 2), pool("b", "C", 8, 3)],
                   [job("mix", {"A": 12, "C": 24}, allow_mixed_types=True)])

    def check(r):
        assert sorted(r.placements.pool) == ["b", "b", "b"]
    return inst, check


# ---------------------------------------------------------------- topology scope


def _two_domains(scope_level: str, scope: str):
    """Two pods (or sites) of two A nodes; a pinned running job holds one node in each."""
    second = {"pod": dict(pod="p2", site="s1"), "site": dict(pod="p2", site="s2")}[scope_level]
    pinned = dict(migratable=False, preemptible=False)
    jobs = [job("r1", {"A": (8, 1)}, **pinned), job("r2", {"A": (8, 1)}, **pinned),
            job("big", {"A": (16, 10)}, scope=scope)]
    return cluster([pool("a1", "A", 8, 2), pool("a2", "A", 8, 2, **second)], jobs,
                   current=[("r1", "a1-00", 8), ("r2", "a2-00", 8)])


@case("scope_pod", optimum=2, binds=("span_pod_once", "span_pod_link"))
def _():
    # Each pod has one free node: a pod-scoped 16-GPU job cannot run (kept jobs: 1 + 1).
    inst = _two_domains("pod", "pod")

    def check(r):
        assert state_of(r, "big") == "unplaced"
        assert reason_of(r, "big") == "capacity"
    return inst, check


@case("scope_site", optimum=2, binds=("span_site_once", "span_site_link"))
def _():
    return _two_domains("site", "site"), lambda r: None


@case("scope_any_cross_site_penalty", optimum=1 + 1 + 10 * 0.96,
      binds=("span_cross_site_def", "span_site_loss_def", "span_site_link"))
def _():
    # Scope any: the job spans the two sites and loses 4% of its throughput.
    inst = _two_domains("site", "any")

    def check(r):
        assert sorted(r.placements[r.placements.job == "big"].site) == ["s1", "s2"]
        assert r.jobs.set_index("job").loc["big", "throughput"] == pytest.approx(9.6)
    return inst, check


@case("scope_node_too_large", optimum=0)
def _():
    inst = cluster([pool("a", "A", 8, 4)], [job("big", {"A": (16, 10)}, scope="node")])

    def check(r):
        assert reason_of(r, "big") == "too_large"
    return inst, check


# ---------------------------------------------------------------- GPU types on whole nodes


@case("mixed_types_penalty", optimum=(10 * 2 / 3 + 6 * 1 / 3) * 0.95,
      binds=("span_mixed_def", "span_mixed_loss_def", "span_type_link", "span_share_max", "span_share_def"))
def _():
    # 12 A or 12 C; one 8-GPU node of each: only mixing covers the job (2/3 + 2/3 >= 1).
    # The faster type runs all it can (2/3 of the work), C the rest: 10*2/3 + 6/3, minus 5%.
    inst = cluster([pool("a", "A", 8, 1), pool("c", "C", 8, 1)],
                   [job("mix", {"A": (12, 10), "C": (12, 6)}, allow_mixed_types=True)])

    def check(r):
        assert r.jobs.set_index("job").loc["mix", "throughput"] == pytest.approx((20 / 3 + 2) * 0.95)
    return inst, check


@case("one_type_unless_mixing", optimum=2, binds=("span_type_once",))
def _():
    # One free node of each type; the 16-GPU job may not mix, so it cannot run.
    pinned = dict(migratable=False, preemptible=False)
    inst = cluster([pool("a", "A", 8, 2), pool("c", "C", 8, 2)],
                   [job("r1", {"A": (8, 1)}, **pinned), job("r2", {"C": (8, 1)}, **pinned),
                    job("big", {"A": (16, 10), "C": (16, 10)})],
                   current=[("r1", "a-00", 8), ("r2", "c-00", 8)])

    def check(r):
        assert state_of(r, "big") == "unplaced"
    return inst, check


# ---------------------------------------------------------------- tenants


@case("tenant_cap", optimum=5, binds=("tenant_gpus_max",))
def _():
    inst = cluster([pool("a", "A", 8, 2)], [job("j1", {"A": (8, 5)}), job("j2", {"A": (8, 4)})],
                   tenants=[{"id": "t", "max_gpus": 8}])

    def check(r):
        assert reason_of(r, "j2") == "quota"
    return inst, check


@case("tenant_floor", optimum=1, binds=("tenant_gpus_min",))
def _():
    # One node: the floor of 'low' forces its slow job in instead of the fast one.
    inst = cluster([pool("a", "A", 8, 1)],
                   [job("slow", {"A": (8, 1)}, tenant="low"), job("fast", {"A": (8, 10)}, tenant="high")],
                   tenants=[{"id": "low", "guaranteed_gpus": 8}, {"id": "high"}])

    def check(r):
        assert state_of(r, "slow") == "placed"
    return inst, check


@case("fairness_min_share", optimum=1 + 1e-3 / 8 * 7, objective="fairness", binds=("tenant_share_min",))
def _():
    # Entitlements: t1 min(3, 4) = 3, t2 min(12, 4) = 4. Fair: t1's 3 + t2's 4 = 7 GPUs (both
    # at share 1) beats t2's 8-GPU job alone (share 0 for t1), although that fills the node.
    inst = cluster([pool("a", "A", 8, 1)],
                   [job("t1-job", {"A": 3}, tenant="t1"), job("t2-big", {"A": 8}, tenant="t2"),
                    job("t2-small", {"A": 4}, tenant="t2")],
                   tenants=[{"id": "t1"}, {"id": "t2"}])

    def check(r):
        assert set(r.placements.job) == {"t1-job", "t2-small"}
    return inst, check


@case("fairness_entitlement_capped", optimum=1 + 1e-3 / 8 * 6, objective="fairness", binds=("tenant_share_min",))
def _():
    # t1 asks for 4 GPUs but may hold 2 (its cap): E_t1 = min(4, 2, 4) = 2, E_t2 = min(12, 4) = 4.
    # Both at share 1 (t1's 2 + t2's 4-GPU job) beats t2's 8-GPU job alone. Were the cap left
    # out of E_t1, t1 could reach only 2 / 4 and t2's allocation would not matter above 2.
    inst = cluster([pool("a", "A", 8, 1)],
                   [job("t1-a", {"A": 2}, tenant="t1"), job("t1-b", {"A": 2}, tenant="t1"),
                    job("t2-big", {"A": (8, 10)}, tenant="t2"), job("t2-small", {"A": 4}, tenant="t2")],
                   tenants=[{"id": "t1", "max_gpus": 2}, {"id": "t2"}])

    def check(r):
        assert "t2-small" in set(r.placements.job) and r.tenants.set_index("tenant").loc["t1", "gpus"] == 2
    return inst, check


# ---------------------------------------------------------------- running jobs


def _running(**fields):
    # r runs on 4 GPUs of the A node; the new job needs the whole A node.
    return cluster([pool("a", "A", 8, 1), pool("b", "C", 8, 1)],
                   [job("r", {"A": (4, 4), "C": (4, 4)}, migration_cost=1, preemption_cost=10, **fields),
                    job("new", {"A": (8, 20)})],
                   current=[("r", "a-00", 4)])


@case("running_migrate", optimum=20 + 4 - 1, binds=("node_gpus_max", "job_once"))
def _():
    # keep r: 4; preempt r: 20 - 10 = 10; migrate r to C: 20 + 4 - 1 = 23.
    def check(r):
        assert state_of(r, "r") == "migrated" and placed_on(r, "r") == [("b-00", 4)]
    return _running(), check


@case("running_preempt", optimum=20 - 10)
def _():
    def check(r):
        assert state_of(r, "r") == "preempted"
    return _running(migratable=False), check


@case("running_keep_pinned", optimum=4)
def _():
    def check(r):
        assert state_of(r, "r") == "kept" and reason_of(r, "new") == "capacity"
    return _running(migratable=False, preemptible=False), check


# ---------------------------------------------------------------- objectives


@case("cost_objective", optimum=4 + 3, objective="cost", binds=("class_slots_max",))
def _():
    # Cheapest each: j1 on C (4), j2 on C (2) -- but C has one free node (the other is
    # reserved whole). j1->C + j2->A = 7 < 12. The optional job could use the spare A node but
    # costs money and earns nothing.
    inst = cluster([pool("a", "A", 8, 2), pool("b", "C", 8, 2)],
                   [job("j1", {"A": (8, 1, 10), "C": (8, 1, 4)}, required=True),
                    job("j2", {"A": (8, 1, 3), "C": (8, 1, 2)}, required=True),
                    job("optional", {"A": (1, 1, 1)})],
                   nodes=[{"id": "a1", "pool": "a"}, {"id": "a2", "pool": "a"},
                          {"id": "c1", "pool": "b"}, {"id": "c2", "pool": "b", "reserved_gpus": 8}])

    def check(r):
        assert reason_of(r, "optional") == "objective"
    return inst, check


@case("no_eligible_gpu", optimum=0)
def _():
    inst = cluster([pool("b", "B", 8, 1)], [job("needs_memory", {"B": 8}, gpu_memory_gb=70)])

    def check(r):
        assert reason_of(r, "needs_memory") == "no_eligible_gpu"
    return inst, check


# ---------------------------------------------------------------- CPU, memory, GPU sharing


def limited_pool(id, gpus, count=1, cpu=None, memory=None, gpu_type="A", **where):
    spec = pool(id, gpu_type, gpus, count, **where)
    if cpu is not None:
        spec["cpu_milli_per_node"] = cpu
    if memory is not None:
        spec["host_memory_mib_per_node"] = memory
    return spec


def sharing(id, share, throughput, **fields):
    return job(id, {"A": (1, throughput)}, gpu_share_milli=share, **fields)


@case("node_cpu", optimum=2, binds=("node_cpu_max",))
def _():
    # Four GPUs but 10 cores: two 6-core jobs cannot both run.
    return cluster([limited_pool("t", 4, cpu=10000)],
                   [job("j1", {"A": (1, 1)}, cpu_milli=6000), job("j2", {"A": (1, 2)}, cpu_milli=6000)]), lambda r: None


@case("node_memory", optimum=2, binds=("node_memory_max",))
def _():
    inst = cluster([limited_pool("t", 4, memory=65536)],
                   [job("j1", {"A": (1, 1)}, host_memory_mib=40000), job("j2", {"A": (1, 2)}, host_memory_mib=40000)])

    def check(r):
        assert state_of(r, "j2") == "placed" and reason_of(r, "j1") == "capacity"
    return inst, check


@case("cpu_only_jobs", optimum=0, objective="utilization", binds=("node_cpu_max",))
def _():
    # The required CPU-only job needs 40 cores: the CPU-only node has 20, so it takes 40 of
    # the GPU node's 48 and the GPU job (16 cores) cannot run there any more.
    inst = cluster([limited_pool("g", 1, cpu=48000), pool("c", None, 0, 1) | {"cpu_milli_per_node": 20000}],
                   [job("etl", {}, cpu_milli=40000, required=True), job("gpu", {"A": 1}, cpu_milli=16000)])

    def check(r):
        assert placed_on(r, "etl") == [("g-00", 0)] and reason_of(r, "gpu") == "capacity"
    return inst, check


@case("whole_node_runs_nothing_else", optimum=-5, binds=("node_jobs_max",))
def _():
    # A running 16-GPU job holds both nodes whole; the required CPU-only job fits their CPU,
    # but a node held whole runs nothing else: the big job is preempted (-10 kept, -5 cost).
    inst = cluster([limited_pool("t", 8, count=2, cpu=64000)],
                   [job("big", {"A": (16, 10)}, cpu_milli=8000, migratable=False, preemption_cost=5),
                    job("etl", {}, cpu_milli=8000, required=True)],
                   current=[("big", "t-00", 8), ("big", "t-01", 8)])

    def check(r):
        assert state_of(r, "big") == "preempted" and state_of(r, "etl") == "placed"
    return inst, check


@case("gpu_sharing_capacity", optimum=1.1 + 1.2, binds=("node_share_max",))
def _():
    # One GPU: three jobs of 400 milli share it, only two fit (1200 > 1000).
    inst = cluster([limited_pool("t", 1)], [sharing(f"s{i}", 400, 1 + i / 10) for i in range(3)])

    def check(r):
        assert sorted(r.placements.gpu_index.dropna()) == [0, 0]
    return inst, check


@case("gpu_sharing_big_shares", optimum=1.1 + 1.2, binds=("node_share_big_min",))
def _():
    # Two GPUs, three jobs of 600 milli: 1800 <= 2000, but no two share a GPU.
    return cluster([limited_pool("t", 2)], [sharing(f"s{i}", 600, 1 + i / 10) for i in range(3)]), lambda r: None


@case("gpu_sharing_bin_bound", optimum=8 + 4 + 4, binds=("node_share_bins_min",))
def _():
    # Two GPUs, shares 800, 400, 400, 400 (sum 2000): the 800 fills a GPU alone, the other
    # takes two 400s. Martello-Toth L2(400) = 1000 + 1200 > 2000 proves one must go.
    jobs = [sharing("big", 800, 8)] + [sharing(f"m{i}", 400, 4) for i in range(3)]
    return cluster([limited_pool("t", 2)], jobs), lambda r: None


@case("gpu_sharing_kept", optimum=2, binds=("node_share_kept_min", "node_share_active_min"))
def _():
    # Two running jobs share GPU 0 and GPU 1 (200 milli each): no GPU is free for the whole-GPU
    # job, although the shares would fit on one GPU; stopping one costs more than it gains.
    pinned = dict(migratable=False, preemption_cost=20)
    inst = cluster([limited_pool("t", 2)],
                   [sharing("r1", 200, 1, **pinned), sharing("r2", 200, 1, **pinned), job("whole", {"A": (1, 10)})],
                   current=[("r1", "t-00", 1, 0), ("r2", "t-00", 1, 1)])
    return inst, lambda r: None


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_micro_instance_optimum(c: Case):
    result = solve_checked(c.build(), objective=c.objective)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(c.optimum, abs=1e-9)
    assert result.solver_objective == pytest.approx(c.optimum, abs=1e-6)
    c.check(result)


BINDING = [(c, name) for c in CASES for name in c.binds]


@pytest.mark.parametrize("c,constraint", BINDING, ids=[f"{c.name}-{n}" for c, n in BINDING])
def test_constraint_binds(c: Case, constraint: str):
    relaxed = relaxed_solver_objective(c.build(), constraint, c.objective)
    if c.objective == "cost":
        assert relaxed is not None and relaxed < c.optimum - 1e-6
    else:
        assert relaxed is not None and relaxed > c.optimum + 1e-6


def test_every_constraint_binds_somewhere():
    from test_model_doc import documented_constraints

    bound = {name for c in CASES for name in c.binds}
    assert bound == set(documented_constraints("assignment"))
