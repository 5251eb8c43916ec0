"""Micro schedule instances for the model tests: one site "a" (and "b" where asked), one GPU
type "g" (1000 W busy, 100 W idle unless told; more types where asked, alike) on 1-GPU nodes,
no PUE curve, 1 h periods."""

from __future__ import annotations

from gpuplan.instance.io import from_dict


def micro(periods=4, nodes=1, prices=None, carbon=None, temps=None, limits=None, jobs=(), services=(),
          demand=(), sites=("a",), facilities=(), pue_curve=(), modes=(), capacity=None, options=None,
          idle_w=100.0, gpus_per_node=1, power_w=1000.0, types=("g",)):
    """An instance dict: ``prices`` etc. are per-period lists applied to every site (or a dict site -> list)."""
    def per_site(values):
        return values if isinstance(values, dict) else {s: values for s in sites}

    series = []
    for s in sites:
        for t in range(periods):
            row = {"site": s, "period": t}
            for name, values in (("price_per_kwh", prices), ("carbon_g_per_kwh", carbon),
                                 ("outdoor_temp_c", temps), ("grid_limit_kw", limits)):
                if values is not None and per_site(values).get(s) is not None:
                    row[name] = per_site(values)[s][t]
            series.append(row)
    data = {
        "schema_version": 1, "name": "micro",
        "gpu_types": [{"id": g, "memory_gb": 80, "power_w": power_w, "idle_power_w": idle_w} for g in types],
        "sites": [{"id": s} for s in sites],
        "time": {"periods": periods, "period_hours": 1.0},
        "site_series": series,
        "capacity": capacity if capacity is not None else
        [{"site": s, "gpu_type": g, "nodes": nodes, "gpus_per_node": gpus_per_node} for s in sites for g in types],
        "facilities": list(facilities), "pue_curve": list(pue_curve), "power_modes": list(modes),
        "training_jobs": [{"gpu_options": [{"gpu_type": "g"}], "gpus": 1, **job} for job in jobs],
        "services": [{"gpu_options": [{"gpu_type": "g"}], **service} for service in services],
        "service_demand": [{"service": v, "period": t, "gpus": x} for v, values in demand for t, x in enumerate(values)],
    }
    if options:
        data["schedule_options"] = options
    return from_dict(data)


def all_features():
    """Two sites and every kind of job, service and facility: builds every schedule constraint
    (job "resumes" may split its gang over sites and over GPU types g and h; h only at site b)."""
    jobs = [
        {"id": "resumes", "work_gpu_hours": 4, "restart_overhead_gpu_hours": 0.5, "restart_cost": 1, "gpus": 2,
         "migratable": True, "span_sites": True, "allow_mixed_types": True,
         "gpu_options": [{"gpu_type": "g"}, {"gpu_type": "h"}]},
        {"id": "one-site", "work_gpu_hours": 1, "required": False, "value": 3},
        {"id": "mover", "work_gpu_hours": 2, "migratable": True, "migration_cost": 1},
        {"id": "block", "work_gpu_hours": 2, "preemptible": False, "due_h": 2, "tardiness_cost_per_h": 1},
    ]
    capacity = [{"site": "a", "gpu_type": "g", "nodes": 2, "gpus_per_node": 1},
                {"site": "b", "gpu_type": "g", "nodes": 2, "gpus_per_node": 1},
                {"site": "b", "gpu_type": "h", "nodes": 1, "gpus_per_node": 1}]
    return micro(periods=4, nodes=2, sites=("a", "b"), prices={"a": [1, 2, 3, 1], "b": [2, 1, 1, 3]},
                 types=("g", "h"), capacity=capacity,
                 limits={"a": [5, 5, 5, 5], "b": None}, jobs=jobs,
                 services=[{"id": "chat", "unmet_cost_per_gpu_hour": 2}], demand=[("chat", [1, 1, 0, 1])],
                 facilities=[{"site": "a", "demand_charge_per_kw": 1},
                             {"site": "b", "power_off": True, "wake_cost_per_node": 0.5}])


# ---------------------------------------------------------------- split gangs (span_sites, allow_mixed_types)
# 1-GPU nodes, 1 kW busy, no idle or node power, price 1: a period's energy cost is its busy GPUs.


def spans_to_be_on_time(work=1.92):
    """A 2-GPU job due at 1 h (10 per hour late); site a has 2 GPUs but 1 in period 0, site b 1.
    Whole at a it runs in period 1, 1 h late: 2 + 10 = 12. Split over a and b in period 0 it does
    2 x 0.96 = 1.92 and is on time: 2 (work 1.93 and it is not: 12 again)."""
    capacity = [{"site": "a", "gpu_type": "g", "nodes": 2, "gpus_per_node": 1},
                {"site": "a", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1, "period": 0},
                {"site": "b", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1}]
    job = {"id": "j", "gpus": 2, "work_gpu_hours": work, "due_h": 1, "tardiness_cost_per_h": 10,
           "migratable": True, "span_sites": True}
    return micro(periods=2, sites=("a", "b"), prices=[1, 1], capacity=capacity, idle_w=0, jobs=[job])


def mixes_to_fit(work=2.85):
    """One site with one GPU of g (speed 1) and one of h (speed 0.5); a required 2-GPU job fits
    only mixed: (1 + 0.5) x 0.95 = 1.425 per period, 2.85 in both periods, cost 4 (each GPU at its
    own speed; at the slowest type's it would do 0.95). Work 2.86 cannot finish."""
    job = {"id": "j", "gpus": 2, "work_gpu_hours": work, "allow_mixed_types": True,
           "gpu_options": [{"gpu_type": "g"}, {"gpu_type": "h", "throughput": 0.5}]}
    return micro(periods=2, prices=[1, 1], types=("g", "h"), idle_w=0, jobs=[job])


def split_not_worth_it(work=2.0):
    """Site a: 2 GPUs at price 2; site b: 1 GPU at price 1; a 2-GPU job that may span sites.
    Whole at a: 2 x 2 = 4. Split (1 at a, 1 at b) costs 3 a period but does 1.92 < 2, so a second
    period: 3 + 3 or 3 + 4. Whole wins at 4; with work 1.92 the split wins at 3."""
    capacity = [{"site": "a", "gpu_type": "g", "nodes": 2, "gpus_per_node": 1},
                {"site": "b", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1}]
    job = {"id": "j", "gpus": 2, "work_gpu_hours": work, "migratable": True, "span_sites": True}
    return micro(periods=2, sites=("a", "b"), prices={"a": [2, 2], "b": [1, 1]}, capacity=capacity, idle_w=0,
                 jobs=[job])
