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
    (job "resumes" may span sites: a split gang)."""
    jobs = [
        {"id": "resumes", "work_gpu_hours": 4, "restart_overhead_gpu_hours": 0.5, "restart_cost": 1, "gpus": 2,
         "migratable": True, "span_sites": True},
        {"id": "one-site", "work_gpu_hours": 1, "required": False, "value": 3},
        {"id": "mover", "work_gpu_hours": 2, "migratable": True, "migration_cost": 1},
        {"id": "block", "work_gpu_hours": 2, "preemptible": False, "due_h": 2, "tardiness_cost_per_h": 1},
    ]
    return micro(periods=4, nodes=2, sites=("a", "b"), prices={"a": [1, 2, 3, 1], "b": [2, 1, 1, 3]},
                 limits={"a": [5, 5, 5, 5], "b": None}, jobs=jobs,
                 services=[{"id": "chat", "unmet_cost_per_gpu_hour": 2}], demand=[("chat", [1, 1, 0, 1])],
                 facilities=[{"site": "a", "demand_charge_per_kw": 1},
                             {"site": "b", "power_off": True, "wake_cost_per_node": 0.5}])
