"""LP-guided rounding: the relaxation's values steer the greedy to a near-optimal start.

When the rounded solution is within the requested gap of the LP bound, that is a proof of
(near-)optimality and no branch-and-bound is needed; otherwise it is the MIP start.
"""

from __future__ import annotations

import pyomo.environ as pyo

from ...heuristics.assignment import LpGuide


def lp_guide(built) -> LpGuide:
    """Read the relaxation's values of the placement variables from the model."""
    m = built.model

    def values(component) -> dict:
        return {key: pyo.value(var, exception=False) or 0.0 for key, var in component.items()}

    pack = values(m.assign)
    idx = built.index
    node = values(m.place)
    for (g, n), value in node.items():     # assign mode: per class too, like the others
        key = (g, idx.pools[idx.nodes[n].pool].gpu_class)
        pack[key] = pack.get(key, 0.0) + value
    return LpGuide(keep=values(m.keep), pack=pack, node=node, span=values(m.span_nodes), spanned=values(m.spanned))
