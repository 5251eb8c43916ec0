"""The inference services' block (models/schedule.md, "Services"): GPUs per (service, site,
GPU type, period), and the demand they leave unmet (priced, or zero for a hard service)."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from ..build import InfeasibleInstance
from .jobs import Occupancy


def add_services(built) -> None:
    idx, m = built.index, built.model
    plans = {service.id: service for service in idx.services}
    # Beyond demand a serving GPU only costs, unless power can earn money (negative prices).
    keys = [(v.id, o, t) for v in idx.services for o, option in enumerate(v.options) for t in idx.period_range
            if (v.demand[t] > 0 or idx.energy_can_pay) and idx.cap_nodes[option.site, option.gpu_type, t] > 0]
    demand_keys = [(v.id, t) for v in idx.services for t in idx.period_range if v.demand[t] > 0]
    m.serve_keys = pyo.Set(initialize=keys, dimen=3, doc="(service, option, period it may serve in)")
    m.demand_keys = pyo.Set(initialize=demand_keys, dimen=2, doc="(service, period with demand)")
    m.serving = pyo.Var(m.serve_keys, within=pyo.NonNegativeIntegers, doc="GPUs serving the service on the option",
                        bounds=lambda m, v, o, t: (0, idx.cap_gpus(plans[v].options[o].site, plans[v].options[o].gpu_type, t)))
    m.unmet = pyo.Var(m.demand_keys, within=pyo.NonNegativeReals, doc="reference GPUs of demand not served",
                      bounds=lambda m, v, t: (0, plans[v].demand[t] if plans[v].unmet_cost_per_gpu_hour is not None else 0))
    by_period = defaultdict(list)
    use = built.job_use
    for v, o, t in keys:
        option = plans[v].options[o]
        by_period[v, t].append(o)
        use[option.site, option.gpu_type].append(Occupancy(1, option.gpu_kw, m.serving[v, o, t], t, t))
    for v, t in demand_keys:
        if not by_period[v, t] and plans[v].unmet_cost_per_gpu_hour is None:
            raise InfeasibleInstance(f"hard service '{v}' has demand in period {t} but no GPUs it may use")
    m.demand_met = pyo.Constraint(
        m.demand_keys, doc="served plus unmet covers the demand",
        rule=lambda m, v, t: sum(plans[v].options[o].capacity_per_gpu * m.serving[v, o, t] for o in by_period[v, t])
        + m.unmet[v, t] >= plans[v].demand[t])
    built.add_term("unmet_service_cost", sum(
        plans[v].unmet_cost_per_gpu_hour * idx.hours * m.unmet[v, t]
        for v, t in demand_keys if plans[v].unmet_cost_per_gpu_hour))
