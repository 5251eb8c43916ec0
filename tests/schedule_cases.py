"""Micro schedule instances for the model tests: one site "a" (and "b" where asked), one GPU
type "g" (1000 W busy, 100 W idle) on 1-GPU nodes, no PUE curve, 1 h periods."""

from __future__ import annotations

from gpuplan.instance.io import from_dict


def micro(periods=4, nodes=1, prices=None, carbon=None, temps=None, limits=None, jobs=(), services=(),
          demand=(), sites=("a",), facilities=(), pue_curve=(), modes=(), capacity=None, options=None,
          idle_w=100.0, gpus_per_node=1):
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
        "gpu_types": [{"id": "g", "memory_gb": 80, "power_w": 1000.0, "idle_power_w": idle_w}],
        "sites": [{"id": s} for s in sites],
        "time": {"periods": periods, "period_hours": 1.0},
        "site_series": series,
        "capacity": capacity if capacity is not None else
        [{"site": s, "gpu_type": "g", "nodes": nodes, "gpus_per_node": gpus_per_node} for s in sites],
        "facilities": list(facilities), "pue_curve": list(pue_curve), "power_modes": list(modes),
        "training_jobs": [{"gpu_options": [{"gpu_type": "g"}], "gpus": 1, **job} for job in jobs],
        "services": [{"gpu_options": [{"gpu_type": "g"}], **service} for service in services],
        "service_demand": [{"service": v, "period": t, "gpus": x} for v, values in demand for t, x in enumerate(values)],
    }
    if options:
        data["schedule_options"] = options
    return from_dict(data)
