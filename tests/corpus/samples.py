"""One small valid instance per registered problem, and where its typical fields are.

A problem added to the registry adds a Sample here (a test fails until it does); every
generic row of the corpus (files, formats, nesting, duplicate keys, CSV locations, ids,
counts, amounts, writers) then runs for it without new machinery.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Sample:
    data: Callable[[], dict]      # a valid instance, as parsed data
    id_path: tuple                # an id field
    reference_path: tuple         # a field naming another entity by id
    count_path: tuple             # an integer count (nodes, periods, ...)
    size_path: tuple              # a per-unit size (GPUs per node, ...)
    amount_path: tuple            # an objective coefficient (throughput, cost, ...)
    small_amount_path: tuple      # a second coefficient, for the range rule
    csv_table: str                # a table that may come from CSV
    csv_text: str                 # that table as CSV (header and rows)
    csv_int_column: str           # an integer column of that CSV
    method: str                   # the fastest method of the problem (a baseline where it has one)


def _assignment() -> dict:
    return {
        "schema_version": 1,
        "name": "tiny",
        "gpu_types": [{"id": "A", "memory_gb": 80, "power_w": 700, "idle_power_w": 100}],
        "sites": [{"id": "s1"}],
        "pods": [{"id": "p1", "site": "s1"}],
        "node_pools": [{"id": "pool", "pod": "p1", "gpu_type": "A", "gpus_per_node": 4, "node_count": 2}],
        "tenants": [{"id": "t"}],
        "jobs": [
            {"id": "j1", "tenant": "t", "gpu_options": [{"gpu_type": "A", "gpus": 4, "throughput": 4.0}]},
            {"id": "j2", "tenant": "t", "gpu_options": [{"gpu_type": "A", "gpus": 2, "throughput": 1.0}]},
        ],
    }


def _schedule() -> dict:
    return {
        "schema_version": 1,
        "name": "tiny",
        "gpu_types": [{"id": "A", "memory_gb": 80, "power_w": 700, "idle_power_w": 100}],
        "sites": [{"id": "s1"}],
        "time": {"periods": 3, "period_hours": 1.0},
        "capacity": [{"site": "s1", "gpu_type": "A", "nodes": 2, "gpus_per_node": 4}],
        "site_series": [{"site": "s1", "period": t, "price_per_kwh": p} for t, p in enumerate((0.2, 0.1, 0.3))],
        "training_jobs": [
            {"id": "j1", "gpus": 4, "gpu_options": [{"gpu_type": "A"}], "work_gpu_hours": 8.0, "value": 4.0},
            {"id": "j2", "gpus": 2, "gpu_options": [{"gpu_type": "A"}], "work_gpu_hours": 2.0, "value": 1.0},
        ],
    }


SAMPLES: dict[str, Sample] = {
    "assignment": Sample(
        data=_assignment,
        id_path=("jobs", 0, "id"),
        reference_path=("jobs", 0, "tenant"),
        count_path=("node_pools", 0, "node_count"),
        size_path=("node_pools", 0, "gpus_per_node"),
        amount_path=("jobs", 0, "gpu_options", 0, "throughput"),
        small_amount_path=("jobs", 1, "gpu_options", 0, "throughput"),
        csv_table="jobs",
        csv_text="id,tenant,gpu_type,gpus,throughput\nj1,t,A,4,4\nj2,t,A,2,1\n",
        csv_int_column="gpus",
        method="greedy",
    ),
    "schedule": Sample(
        data=_schedule,
        id_path=("training_jobs", 0, "id"),
        reference_path=("capacity", 0, "site"),
        count_path=("capacity", 0, "nodes"),
        size_path=("capacity", 0, "gpus_per_node"),
        amount_path=("training_jobs", 0, "value"),
        small_amount_path=("training_jobs", 1, "value"),
        csv_table="site_series",
        csv_text="site,period,price_per_kwh\ns1,0,0.2\ns1,1,0.1\ns1,2,0.3\n",
        csv_int_column="period",
        method="milp",
    ),
}


def valid(problem: str) -> dict:
    return copy.deepcopy(SAMPLES[problem].data())


def with_value(data: dict, path: tuple, value) -> dict:
    """``data`` with the field at ``path`` set to ``value``."""
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data
