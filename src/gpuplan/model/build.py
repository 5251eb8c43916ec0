"""build_model: a problem is a short list of blocks, each adding its sets, variables,
constraints and named objective terms to one Pyomo model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyomo.environ as pyo

from ..index.assignment import AssignmentIndex
from ..instance.schema import Instance
from .assignment import jobs, packing, running, spanning, tenants
from .objective import add_objective
from .terms import SENSE, Term, value_kind


@dataclass
class BuiltModel:
    """The Pyomo model with what the blocks share: the index and the registered terms."""

    model: pyo.ConcreteModel
    index: AssignmentIndex
    objective: str
    terms: dict[str, Term] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)   # jobs that must run but have nowhere to go
    unmet_floors: list[str] = field(default_factory=list)  # tenants owed GPUs none of whose jobs has room

    @property
    def infeasible_reason(self) -> str | None:
        """Why the model is infeasible before any solver sees it, or None."""
        if self.stuck:
            return f"job(s) that must run have no room left: {', '.join(self.stuck[:5])}"
        if self.unmet_floors:
            return (f"tenant floor(s) cannot be met, no job of theirs has room left (e.g. running jobs that "
                    f"may neither move nor stop hold it): {', '.join(self.unmet_floors[:5])}")
        return None

    @property
    def instance(self) -> Instance:
        return self.index.instance

    @property
    def sense(self) -> str:
        return SENSE[self.objective]

    @property
    def value_kind(self) -> str | None:
        return value_kind(self.objective)

    def add_term(self, name: str, expr) -> None:
        """Add ``expr`` to term ``name``; several blocks may contribute to one term."""
        if name in self.terms:
            self.terms[name].expr = self.terms[name].expr + expr
        else:
            self.terms[name] = Term(expr=expr, weight=0.0)


# Order matters only where a block uses another's variables: running defines keep, spanning the
# whole-node variables that packing's pool supply sums, and jobs and tenants sum them all.
PROBLEMS = {
    "assignment": [running.add_running, spanning.add_spanning, packing.add_packing, jobs.add_jobs, tenants.add_tenants],
}


def build_model(index: AssignmentIndex, objective: str | None = None, problem: str = "assignment") -> BuiltModel:
    if problem not in PROBLEMS:
        raise ValueError(f"unknown problem '{problem}' (expected one of {', '.join(PROBLEMS)})")
    objective = objective or index.instance.options.objective
    built = BuiltModel(pyo.ConcreteModel(name=index.instance.name or "gpuplan"), index, objective)
    for add_block in PROBLEMS[problem]:
        add_block(built)
    add_objective(built)
    return built
