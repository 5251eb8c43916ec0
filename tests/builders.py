"""Small instances written in a few lines, for tests."""

from __future__ import annotations

import copy
import os

import gpuplan as gp
from gpuplan.index.assignment import build_index
from gpuplan.model import build_model
from gpuplan.solver import SolveOptions, solve_model

GPU_TYPES = [
    {"id": "A", "memory_gb": 80, "power_w": 700, "idle_power_w": 100},
    {"id": "B", "memory_gb": 40, "power_w": 400, "idle_power_w": 70},
    {"id": "C", "memory_gb": 80, "power_w": 400, "idle_power_w": 70},
]


def pool(id, gpu_type, gpus, count, pod="p1", site="s1"):
    spec = {"id": id, "gpu_type": gpu_type, "gpus_per_node": gpus, "node_count": count, "pod": pod, "_site": site}
    return spec if gpu_type is not None else {k: v for k, v in spec.items() if k != "gpu_type"}


def job(id, options, tenant="t", **fields):
    """``options``: {gpu_type: gpus | (gpus, throughput) | (gpus, throughput, cost)}."""
    gpu_options = []
    for gpu_type, spec in options.items():
        spec = spec if isinstance(spec, tuple) else (spec,)
        option = {"gpu_type": gpu_type, "gpus": spec[0]}
        if len(spec) > 1:
            option["throughput"] = spec[1]
        if len(spec) > 2:
            option["cost_per_hour"] = spec[2]
        gpu_options.append(option)
    return {"id": id, "tenant": tenant, "gpu_options": gpu_options, **fields}


def cluster_data(pools, jobs, *, tenants=None, current=(), nodes=(), options=None, gpu_types=GPU_TYPES, name="test"):
    pod_site = {}
    for p in pools:
        pod_site[p["pod"]] = p["_site"]
    data = {
        "schema_version": 1,
        "name": name,
        "gpu_types": copy.deepcopy(list(gpu_types)),
        "sites": [{"id": s} for s in dict.fromkeys(pod_site.values())],
        "pods": [{"id": p, "site": s} for p, s in pod_site.items()],
        "node_pools": [{k: v for k, v in p.items() if k != "_site"} for p in pools],
        "tenants": tenants or [{"id": "t"}],
        "jobs": list(jobs),
        "current_placements": [_current_row(*row) for row in current],
        "nodes": list(nodes),
    }
    if options:
        data["options"] = options
    return data


def _current_row(job, node, gpus, gpu_index=None):
    row = {"job": job, "node": node, "gpus": gpus}
    if gpu_index is not None:
        row["gpu_index"] = gpu_index
    return row


def cluster(pools, jobs, **kwargs) -> gp.Instance:
    return gp.from_dict(cluster_data(pools, jobs, **kwargs))


GAP_TOL = 1e-9
REQUIRE_DATA = os.environ.get("GPUPLAN_REQUIRE_DATA") == "1"   # set by .ci/run: CI always has the data


def skip_without_data(reason: str) -> None:
    """Skip a test whose public data (../shared/data) is absent, with ``reason``; fail instead
    where the data is required (GPUPLAN_REQUIRE_DATA=1), so a silent skip cannot pass CI."""
    import pytest

    if REQUIRE_DATA:
        pytest.fail(f"{reason}, and GPUPLAN_REQUIRE_DATA=1 requires it")
    pytest.skip(reason)


def needs_data(present: bool, reason: str):
    """A skipif marker for data tests: skipped without the data, unless it is required (then the
    test runs and fails on the missing file)."""
    import pytest

    return pytest.mark.skipif(not present and not REQUIRE_DATA, reason=reason)



def check_result(instance, result: gp.Result, mip_gap: float = 1e-4) -> None:
    """The independent verifier accepts ``result`` (raises on any violation), and "optimal"
    is backed by a gap within ``mip_gap``. Every solve of the suite passes here (conftest.py)."""
    gp.verify(instance, result)
    if result.status == "optimal":
        assert result.gap is not None and result.gap <= mip_gap + GAP_TOL, (
            f"status optimal with gap {result.gap}, above mip_gap {mip_gap}: {result.message}")


def solve_checked(instance, **kwargs) -> gp.Result:
    """gp.solve, checked (as every solve of the suite is, see conftest.py)."""
    return gp.solve(instance, **kwargs)


def relaxed_solver_objective(instance, constraint: str, objective: str | None = None) -> float | None:
    """Optimum of the model with one constraint family switched off (to show that it binds)."""
    built = build_model(build_index(instance), objective)
    getattr(built.model, constraint).deactivate()
    return solve_model(built.model, SolveOptions()).objective


def placed_on(result, job_id) -> list[tuple[str, int]]:
    rows = result.placements[result.placements.job == job_id]
    return sorted(zip(rows.node, rows.gpus))


def state_of(result, job_id) -> str:
    return result.jobs.set_index("job").loc[job_id, "state"]


def reason_of(result, job_id):
    return result.jobs.set_index("job").loc[job_id, "reason"]
