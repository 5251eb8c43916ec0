"""Completing a job plan exactly: with the training jobs' rows fixed, the services, nodes on and
energy that cost least, as a small MIP of the exact model's own blocks.

The jobs enter the nodes block as constant occupancies (their GPUs and board power per row), so
the rest of the model is the exact one: services (integer GPUs, unmet demand), nodes on, the
energy block's grid limits, peaks and prices. Used where the whole model is too large to hand to
HiGHS (gpuplan.model.schedule.large): a plan's jobs come from a heuristic, the rest from here.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd
import pyomo.environ as pyo

from ...index.schedule import ScheduleIndex
from ..build import BuiltModel
from ..energy import add_energy
from ..objective import add_objective
from .jobs import Occupancy
from .nodes import add_nodes
from .services import add_services


def build_completion(idx: ScheduleIndex, placements: pd.DataFrame, objective: str, sense: str,
                     weights) -> BuiltModel:
    """The exact model's services, nodes and energy around the fixed job rows ``placements``."""
    built = BuiltModel(pyo.ConcreteModel(name=f"{idx.instance.name or 'schedule'} completion"), idx,
                       objective, sense)
    # board power per GPU of each (job, site, type, mode): a row of a split gang holds fewer GPUs
    kw = {(job.id, o.site, o.gpu_type, o.mode): o.gpu_kw / o.gpus for job in idx.jobs for o in job.options}
    use = defaultdict(list)
    for job, site, gpu_type, period, gpus, mode in placements[
            ["job", "site", "gpu_type", "period", "gpus", "power_mode"]].itertuples(index=False):
        use[site, gpu_type].append(Occupancy(int(gpus), int(gpus) * kw[job, site, gpu_type, mode], 1,
                                             int(period), int(period)))
    built.job_use = use
    add_services(built)
    add_nodes(built)
    add_energy(built)
    add_objective(built, weights(built))
    return built


def complete_by_rounding(built, options, time_limit: float | None) -> bool:
    """Complete ``built`` from its LP relaxation: services' GPUs rounded to the nearest (a hard
    service topped up where its demand is short), nodes on the fewest that hold the busy GPUs, then HiGHS solves what is left (free GPUs, unmet demand,
    wakes, peaks: an LP) with those fixed. The variables hold the completion when True.

    HiGHS's own search on these small MIPs spends its time in root cuts (46 s at 2,000 GPUs for
    0.04%); the LP takes 2 s and the rounding loses little, the verifier values the result."""
    from ...solver import HighsSession

    idx, m = built.index, built.model
    session = HighsSession(m, options)
    if session.relaxation(time_limit, "choose").status != "optimal":
        return False
    busy = defaultdict(float)
    for (s, g), occupancies in built.job_use.items():
        for occ in occupancies:
            if not hasattr(occ.var, "value"):        # a fixed job row (constant)
                for t in range(occ.first, occ.last + 1):
                    busy[s, g, t] += occ.gpus * occ.var
    plans = {v.id: v for v in idx.services}
    by_period, fraction = defaultdict(list), {}
    for v, o, t in m.serve_keys:
        var = m.serving[v, o, t]
        value = max(0.0, var.value or 0.0)
        var.set_value(math.floor(value + 1e-6), skip_validation=True)
        fraction[v, o, t] = value - var.value
        by_period[v, t].append(o)
        option = plans[v].options[o]
        busy[option.site, option.gpu_type, t] += var.value
    for (v, t), chosen in by_period.items():   # top up, largest fractions first, what the floors left short
        service = plans[v]
        short = service.demand[t] - sum(service.options[o].capacity_per_gpu * m.serving[v, o, t].value for o in chosen)
        for o in sorted(chosen, key=lambda o: -fraction[v, o, t]):
            if short <= 1e-9 or (service.unmet_cost_per_gpu_hour is not None and fraction[v, o, t] <= 1e-6):
                break
            option = service.options[o]
            room = idx.cap_gpus(option.site, option.gpu_type, t) - busy[option.site, option.gpu_type, t]
            add = min(math.ceil(short / option.capacity_per_gpu - 1e-9), max(0, int(room)))
            if service.unmet_cost_per_gpu_hour is not None:
                add = min(add, 1)                  # a priced service: only what the LP had started
            if add > 0:
                m.serving[v, o, t].set_value(m.serving[v, o, t].value + add, skip_validation=True)
                busy[option.site, option.gpu_type, t] += add
                short -= add * option.capacity_per_gpu
    for s, g, t in m.capacity_keys:
        var = m.nodes_on[s, g, t]
        need = math.ceil(busy[s, g, t] / idx.gpus_per_node[s, g] - 1e-9)
        nodes = need if idx.power_off[s] else idx.cap_nodes[s, g, t]
        if need > idx.cap_nodes[s, g, t]:
            return False
        var.set_value(min(nodes, idx.cap_nodes[s, g, t]), skip_validation=True)
    return session.complete([*m.serving.values(), *m.nodes_on.values()], time_limit)
