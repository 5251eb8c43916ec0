"""Synthetic instance generator: determinism, validity, size distribution, structure, and the
cheap feasibility guarantees (required work fits, floors below demand, placements valid)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuplan
from gpuplan.generate import (
    JOB_SIZE_WEIGHTS,
    JOB_SIZES,
    assignment_instance,
    write_assignment,
)
from gpuplan.instance import checks
from gpuplan.instance.nodes import node_info_by_id


@pytest.fixture(scope="module")
def inst10k():
    """10,000 GPUs, 1,000 jobs: mean size load * gpus / jobs = 13, a trace-like mix."""
    return assignment_instance(10_000, 1_000, seed=3)


def _capacity(instance) -> int:
    return sum(pool.gpus_per_node * pool.node_count for pool in instance.node_pools)


def _present_types(instance) -> dict[str, int]:
    """GPU type -> largest node of that type (types with at least one node)."""
    sizes: dict[str, int] = {}
    for pool in instance.node_pools:
        if pool.node_count > 0:
            sizes[pool.gpu_type] = max(sizes.get(pool.gpu_type, 0), pool.gpus_per_node)
    return sizes


def _single_node_options(instance, job) -> list[int]:
    """GPU counts of the job's options that fit in one node of a present type with enough memory."""
    memory = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}
    node = _present_types(instance)
    return [
        job.gpus_on(o.gpu_type) for o in job.gpu_options
        if o.gpu_type in node and memory[o.gpu_type] >= job.gpu_memory_gb
        and job.gpus_on(o.gpu_type) <= node[o.gpu_type]
    ]


def _demand_lower_bound(instance) -> dict[str, int]:
    """Per tenant, a lower bound of the demand D_t (models/assignment.md rule 9): jobs with a
    single-node option could run, and count at least their fewest GPUs."""
    bound: dict[str, int] = defaultdict(int)
    for job in instance.jobs:
        options = _single_node_options(instance, job)
        if options:
            bound[job.tenant] += min(options)
    return bound


def _running_gpus(instance) -> dict[str, int]:
    held: dict[str, int] = defaultdict(int)
    for row in instance.current_placements:
        held[row.job] += row.gpus
    return held


def _assert_placements_valid(instance) -> None:
    """The current placement obeys the rules a placed job obeys (models/assignment.md)."""
    assert checks.first_problem(instance) is None
    nodes = node_info_by_id(instance)
    memory = {gpu.id: gpu.memory_gb for gpu in instance.gpu_types}
    jobs = {job.id: job for job in instance.jobs}
    used: Counter = Counter()
    rows_of = defaultdict(list)
    for row in instance.current_placements:
        used[row.node] += row.gpus
        rows_of[row.job].append(row)
    for node_id, gpus in used.items():
        assert gpus <= nodes[node_id].gpus, node_id
    for job_id, rows in rows_of.items():
        job = jobs[job_id]
        assert not job.required
        infos = [nodes[row.node] for row in rows]
        gpu_type = infos[0].gpu_type
        assert {info.gpu_type for info in infos} == {gpu_type}
        assert memory[gpu_type] >= job.gpu_memory_gb
        need = job.gpus_on(gpu_type)
        if len(rows) == 1:
            assert rows[0].gpus == need <= infos[0].gpus
        else:
            assert job.scope != "node"
            assert len({info.pool for info in infos}) == 1  # one type, one pod
            size = infos[0].gpus
            assert all(row.gpus == size for row in rows)  # whole nodes
            assert need > size and len(rows) == math.ceil(need / size)  # none redundant
            assert all(used[row.node] == size for row in rows)  # nothing else on them


# ---------------------------------------------------------------- determinism and files


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    write_assignment(a, 3_000, 300, seed=11)
    write_assignment(b, 3_000, 300, seed=11)
    write_assignment(c, 3_000, 300, seed=12)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_written_file_loads_back(tmp_path, suffix):
    path = tmp_path / f"synthetic{suffix}"
    written = write_assignment(path, 2_000, 200, seed=5, running_fraction=0.4)
    assert gpuplan.load(path) == written


def test_name_and_description():
    instance = assignment_instance(64, 10, seed=1)
    assert instance.name == "synthetic-64g-10j-s1"
    assert "seed=1" in instance.description
    assert assignment_instance(64, 10, seed=1, name="mine").name == "mine"


# ---------------------------------------------------------------- cluster


@pytest.mark.parametrize("gpus, expected", [(10_000, 10_000), (8, 8), (1_001, 1_000), (1_004, 1_008), (4, 8)])
def test_capacity_is_gpus_rounded_to_a_multiple_of_8(gpus, expected):
    assert _capacity(assignment_instance(gpus, 5, seed=0)) == expected


def test_structure_of_a_10k_cluster(inst10k):
    pods_per_site = Counter(pod.site for pod in inst10k.pods)
    assert len(inst10k.sites) >= 2
    assert all(count >= 2 for count in pods_per_site.values())
    assert len(_present_types(inst10k)) >= 3
    assert len(inst10k.node_pools) <= 30
    node_sizes = {pool.gpus_per_node for pool in inst10k.node_pools}
    assert node_sizes == {8, 4}  # training nodes and a few 4-GPU inference nodes
    inference = sum(p.gpus_per_node * p.node_count for p in inst10k.node_pools if p.gpus_per_node == 4)
    assert 0 < inference <= 0.06 * _capacity(inst10k)


def test_large_clusters_have_four_sites_and_few_pools():
    instance = assignment_instance(100_000, 200, seed=2)
    assert _capacity(instance) == 100_000
    assert len(instance.sites) >= 4
    assert len(instance.node_pools) <= 60
    assert len(assignment_instance(50_000, 50, seed=2).sites) >= 4


# ---------------------------------------------------------------- jobs


def test_size_calibration_constants():
    weights = np.array(JOB_SIZE_WEIGHTS)
    sizes = np.array(JOB_SIZES)
    assert weights.sum() == pytest.approx(1.0)
    assert 5 <= weights @ sizes <= 27  # Acme Seren 5.7 .. Kalos 26.8 GPUs per job
    assert weights[0] > 0.5  # median 1 GPU
    assert sizes.max() == 1024


def test_size_distribution_on_10k_gpus(inst10k):
    sizes = np.array([job.gpus for job in inst10k.jobs])
    assert 5 <= sizes.mean() <= 27
    assert np.median(sizes) == 1
    assert 0.5 <= (sizes == 1).mean() <= 0.75
    assert set(sizes) <= set(JOB_SIZES)
    assert sizes.max() >= 256  # the long tail is there
    assert sizes.sum() == pytest.approx(1.3 * _capacity(inst10k), rel=0.021)


def test_load_knob():
    instance = assignment_instance(10_000, 1_000, seed=4, load=0.8)
    assert sum(job.gpus for job in instance.jobs) == pytest.approx(8_000, rel=0.021)


def test_large_jobs_are_capped_to_the_largest_pool():
    instance = assignment_instance(256, 100, seed=6)
    largest = max(p.gpus_per_node * p.node_count for p in instance.node_pools)
    assert max(job.gpus_on(o.gpu_type) for job in instance.jobs for o in job.gpu_options) <= largest


def test_options_use_present_types_with_heterogeneous_speed(inst10k):
    present = _present_types(inst10k)
    memory = {gpu.id: gpu.memory_gb for gpu in inst10k.gpu_types}
    ratios = []
    for job in inst10k.jobs:
        types = [o.gpu_type for o in job.gpu_options]
        assert set(types) <= set(present)
        assert any(memory[t] >= job.gpu_memory_gb for t in types)  # never memory-starved
        if {"H100", "A800"} <= set(types):
            h100, a800 = job.option("H100"), job.option("A800")
            per_gpu = (h100.throughput / job.gpus_on("H100")) / (a800.throughput / job.gpus_on("A800"))
            ratios.append(per_gpu)
            assert h100.throughput > a800.throughput or job.gpus_on("A800") == job.gpus_on("H100")
    low, high = np.percentile(ratios, [10, 90])
    assert low < 1.5 and high > 2.5  # Gavel-like spread of speed-ups across job types
    assert any(len(job.gpu_options) == 1 for job in inst10k.jobs)  # type-restricted jobs
    assert any(o.gpus is not None for job in inst10k.jobs for o in job.gpu_options)  # more GPUs on slow types
    assert any(memory[o.gpu_type] < job.gpu_memory_gb for job in inst10k.jobs for o in job.gpu_options)
    assert any(job.allow_mixed_types for job in inst10k.jobs)
    assert {"pod", "site", "any"} <= {job.scope for job in inst10k.jobs}


def test_multi_node_jobs_never_have_node_scope(inst10k):
    node = _present_types(inst10k)
    for job in inst10k.jobs:
        if job.scope == "node":
            assert all(job.gpus_on(o.gpu_type) <= node[o.gpu_type] for o in job.gpu_options)


# ---------------------------------------------------------------- feasibility, cheaply


def test_required_jobs_fit_easily(inst10k):
    capacity = _capacity(inst10k)
    required = [job for job in inst10k.jobs if job.required]
    assert required
    for job in required:
        assert _single_node_options(inst10k, job)  # fits inside one node somewhere
    must_stay = sum(
        gpus for job_id, gpus in _running_gpus(inst10k).items()
        if not next(j for j in inst10k.jobs if j.id == job_id).preemptible
    )
    free = capacity - must_stay
    assert sum(min(_single_node_options(inst10k, job)) for job in required) <= 0.05 * free


def test_tenant_floors_and_caps(inst10k):
    capacity = _capacity(inst10k)
    assert 3 <= len(inst10k.tenants) <= 8
    bound = _demand_lower_bound(inst10k)
    floors = {t.id: t.guaranteed_gpus for t in inst10k.tenants}
    assert 0 < sum(floors.values()) <= 0.3 * capacity
    for tenant, floor in floors.items():
        assert floor <= bound[tenant], tenant
    held = _running_gpus(inst10k)
    jobs = {job.id: job for job in inst10k.jobs}
    capped = [t for t in inst10k.tenants if t.max_gpus is not None]
    assert capped
    for tenant in capped:
        own = [job for job in inst10k.jobs if job.tenant == tenant.id]
        must = sum(max(_single_node_options(inst10k, job)) for job in own if job.required)
        must += sum(g for j, g in held.items() if jobs[j].tenant == tenant.id and not jobs[j].preemptible)
        assert tenant.max_gpus >= tenant.guaranteed_gpus + must


def test_running_jobs_fill_the_running_fraction(inst10k):
    busy = sum(row.gpus for row in inst10k.current_placements)
    assert 0.95 * 3_000 <= busy <= 3_000
    _assert_placements_valid(inst10k)
    running = {row.job for row in inst10k.current_placements}
    shared = Counter(row.node for row in inst10k.current_placements)
    assert max(shared.values()) >= 2  # small jobs share nodes
    assert any(len([r for r in inst10k.current_placements if r.job == j]) > 1 for j in running)
    jobs = [job for job in inst10k.jobs if job.id in running]
    assert all(job.migration_cost > 0 and job.preemption_cost > 0 for job in jobs)
    assert any(not job.migratable for job in jobs) and any(not job.preemptible for job in jobs)
    idle = [job for job in inst10k.jobs if job.id not in running]
    assert all(job.migratable and job.preemptible and job.preemption_cost == 0 for job in idle)


# ---------------------------------------------------------------- knobs and arguments


def test_knobs():
    instance = assignment_instance(
        4_000, 200, seed=8, running_fraction=0, sites=2, tenants=3, required_fraction=0,
        inference_nodes=False,
    )
    assert instance.current_placements == []
    assert len(instance.sites) == 2 and len(instance.tenants) == 3
    assert not any(job.required for job in instance.jobs)
    assert {pool.gpus_per_node for pool in instance.node_pools} == {8}


@pytest.mark.parametrize(
    "kwargs",
    [dict(gpus=3), dict(jobs=-1), dict(load=0), dict(running_fraction=0.95), dict(tenants=9),
     dict(sites=0), dict(required_fraction=0.5)],
)
def test_bad_arguments(kwargs):
    arguments = dict(gpus=100, jobs=10, seed=0) | kwargs
    with pytest.raises(ValueError):
        assignment_instance(**arguments)


def test_unknown_knob_is_rejected():
    with pytest.raises(TypeError):
        assignment_instance(100, 10, 0, lod=1.2)


@settings(max_examples=25, deadline=None)
@given(
    gpus=st.integers(8, 3_000),
    jobs=st.integers(0, 120),
    seed=st.integers(0, 2**32 - 1),
    running_fraction=st.sampled_from([0.0, 0.3, 0.7]),
)
def test_any_small_instance_is_valid(gpus, jobs, seed, running_fraction):
    instance = assignment_instance(gpus, jobs, seed, running_fraction=running_fraction)
    assert len(instance.jobs) == jobs
    _assert_placements_valid(instance)
    bound = _demand_lower_bound(instance)
    for tenant in instance.tenants:
        assert tenant.guaranteed_gpus <= bound[tenant.id]
    for job in instance.jobs:
        if job.required:
            assert _single_node_options(instance, job)
