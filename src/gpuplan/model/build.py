"""build_model: a problem is a short list of blocks, each adding its sets, variables,
constraints and named objective terms to one Pyomo model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyomo.environ as pyo

from typing import Any

from ..instance.schema import Instance
from .objective import add_objective
from .terms import Term

# The expressions through which blocks meet (a block reads another's results only through
# these, never its variables). A block publishes one with BuiltModel.publish; a block that
# needs one that is absent (no data for it) adds nothing, so no rule ever asks "if heat:".
INTERFACES = {
    "it_power_kw": "IT power per (site, period) in kW: the energy and heat blocks read only this and the time grid",
}


@dataclass
class BuiltModel:
    """The Pyomo model with what the blocks share: the index and the registered terms (their
    weights come from the problem's registry entry when the objective is added)."""

    model: pyo.ConcreteModel
    index: Any                      # the problem's Pyomo-free index (gpuplan.index.<problem>)
    objective: str
    sense: str                      # "min" or "max", from the registry
    terms: dict[str, Term] = field(default_factory=dict)
    interfaces: dict[str, Any] = field(default_factory=dict)

    def publish(self, name: str, expressions) -> None:
        """Offer an interface expression (a dict keyed like its index) to the blocks after this one."""
        if name not in INTERFACES:
            raise KeyError(f"'{name}' is not a declared interface ({', '.join(INTERFACES)})")
        self.interfaces[name] = expressions

    def interface(self, name: str):
        """The published expressions of ``name``, or None when no block published them."""
        return self.interfaces.get(name)

    @property
    def instance(self) -> Instance:
        return self.index.instance

    def add_term(self, name: str, expr) -> None:
        """Add ``expr`` to term ``name``; several blocks may contribute to one term."""
        if name in self.terms:
            self.terms[name].expr = self.terms[name].expr + expr
        else:
            self.terms[name] = Term(expr=expr, weight=0.0)


class InfeasibleInstance(Exception):
    """Raised by a block that finds the instance impossible before any solver sees it; the
    message is the reason the Result reports."""


def build_model(index, objective: str | None = None, problem: str = "assignment") -> BuiltModel:
    """The problem's blocks (in the registry's order: a block may use the variables of the
    blocks before it) over one Pyomo model, then the objective of the named terms. Raises
    :class:`InfeasibleInstance` when a block proves the instance impossible."""
    from ..problems import get, load_function

    entry = get(problem)
    objective = objective or entry.default_objective(index.instance)
    entry.check_names(objective=objective)
    built = BuiltModel(pyo.ConcreteModel(name=index.instance.name or "gpuplan"), index, objective,
                       entry.sense(objective))
    for block in entry.blocks:
        load_function(block)(built)
    add_objective(built, entry.layer("weights")(built))
    return built
