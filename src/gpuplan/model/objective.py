"""The objective: the weighted sum of the named terms the chosen objective lists, with the
weights of the problem's registry entry."""

from __future__ import annotations

import pyomo.environ as pyo


def add_objective(built, weights: dict[str, float]) -> None:
    """``weights``: term name -> weight, from the problem's weights layer (registry)."""
    for name, weight in weights.items():
        if name not in built.terms:
            built.add_term(name, 0)
        built.terms[name].weight = weight
    # Terms the objective does not use are still registered by the blocks; drop them so that
    # only what is optimised is reported.
    for name in [n for n in built.terms if n not in weights]:
        del built.terms[name]
    expr = sum(term.weight * term.expr for term in built.terms.values())
    sense = pyo.maximize if built.sense == "max" else pyo.minimize
    built.model.objective = pyo.Objective(expr=expr, sense=sense, doc=f"{built.objective} objective")
