"""Completing a job plan exactly: with the training jobs' rows fixed, the services, nodes on and
energy that cost least, as a small MIP of the exact model's own blocks.

The jobs enter the nodes block as constant occupancies (their GPUs and board power per row), so
the rest of the model is the exact one: services (integer GPUs, unmet demand), nodes on, the
energy block's grid limits, peaks and prices. Used where the whole model is too large to hand to
HiGHS (gpuplan.model.schedule.large): a plan's jobs come from a heuristic, the rest from here.
"""

from __future__ import annotations

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
    kw = {(job.id, o.site, o.gpu_type, o.mode): o.gpu_kw for job in idx.jobs for o in job.options}
    use = defaultdict(list)
    for job, site, gpu_type, period, gpus, mode in placements[
            ["job", "site", "gpu_type", "period", "gpus", "power_mode"]].itertuples(index=False):
        use[site, gpu_type].append(Occupancy(int(gpus), kw[job, site, gpu_type, mode], 1, int(period), int(period)))
    built.job_use = use
    add_services(built)
    add_nodes(built)
    add_energy(built)
    add_objective(built, weights(built))
    return built
