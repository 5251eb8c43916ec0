"""Monotonicity of the schedule's cost optimum on tiny random schedules (Hypothesis): more capacity,
a higher grid limit or a lower price never costs more. Every solve's plan passes the verifier.

More capacity is one more node at a site whose nodes can be powered off (in both instances):
where nodes cannot be off, a node more draws idle power in every period and may well cost
more. Prices stay non-negative (a lower price is half the price), as facility power is never
negative; with negative prices the MILP is known to disagree with brute force
(test_schedule_brute.py)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpuplan as gp
from gpuplan.errors import InputError
from gpuplan.instance.io import from_dict
from test_schedule_brute import tiny_schedules

MIP_GAP = 1e-4  # gp.solve's default: an optimum is known to within it
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def cost_optimum(data: dict):
    """The verified cost optimum of an instance dict; None when it is infeasible or refused."""
    try:
        instance = from_dict(data)
    except InputError:
        return None
    result = gp.solve(instance, problem="schedule", objective="cost")
    assert gp.verify(instance, result, raise_on_error=False) == []
    if result.status == "infeasible":
        return None
    assert result.status == "optimal", result.message
    return result.objective


def never_costs_more(base: dict, easier: dict) -> None:
    """The easier instance's optimum is no worse than the base's (both within the MIP gap)."""
    before = cost_optimum(base)
    if before is None:
        return  # no claim: an infeasible base may become feasible
    after = cost_optimum(easier)
    assert after is not None, easier
    assert after <= before + 2 * MIP_GAP * max(1.0, abs(before)), (before, after, base)


@SETTINGS
@given(tiny_schedules(), st.data())
def test_one_more_node_never_costs_more(data, draw):
    site = draw.draw(st.sampled_from([s["id"] for s in data["sites"]]))
    base = copy.deepcopy(data)
    facility = next(f for f in base["facilities"] if f["site"] == site)
    facility.setdefault("wake_cost_per_node", 0.0)
    facility["power_off"] = True
    bigger = copy.deepcopy(base)
    next(c for c in bigger["capacity"] if c["site"] == site)["nodes"] += 1
    never_costs_more(base, bigger)


@SETTINGS
@given(tiny_schedules(), st.data())
def test_a_higher_grid_limit_never_costs_more(data, draw):
    site = draw.draw(st.sampled_from([s["id"] for s in data["sites"]]))
    limit = draw.draw(st.sampled_from([0.5, 1.0, 2.0]))
    base = copy.deepcopy(data)
    for row in base["site_series"]:
        if row["site"] == site:
            row["grid_limit_kw"] = limit
    higher = copy.deepcopy(base)
    for row in higher["site_series"]:
        if row["site"] == site:
            row["grid_limit_kw"] = limit + draw.draw(st.sampled_from([0.5, 1.0]))
    never_costs_more(base, higher)


@SETTINGS
@given(tiny_schedules())
def test_a_lower_price_everywhere_never_costs_more(data):
    cheaper = copy.deepcopy(data)
    for row in cheaper["site_series"]:
        row["price_per_kwh"] = row["price_per_kwh"] / 2
    never_costs_more(data, cheaper)
