"""HighsSession.certify: a bound proved by HiGHS finding no solution better than a target."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from gpuplan.solver import HighsSession, SolveOptions, proved

WEIGHTS = (3, 5, 7, 9, 11)


def cover(sense=pyo.minimize, scale: float = 1e-5) -> pyo.ConcreteModel:
    """Pick items of weights 3..11 to reach at least half their sum plus one half; cost in steps
    of ``scale`` (tiny, as tonnes of carbon are), with a constant."""
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(len(WEIGHTS)), domain=pyo.Binary)
    model.reach = pyo.Constraint(expr=sum(w * model.x[i] for i, w in enumerate(WEIGHTS)) >= sum(WEIGHTS) / 2 + 0.5)
    sign = 1 if sense == pyo.minimize else -1
    model.objective = pyo.Objective(expr=sign * sum(scale * w * model.x[i] for i, w in enumerate(WEIGHTS)) + 3 * scale,
                                    sense=sense)
    return model


@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_the_optimum_is_certified_within_half_the_gap(sense):
    model = cover(sense)
    session = HighsSession(model, SolveOptions(warm_start=False))
    outcome = session.solve(None)
    optimum = outcome.objective
    bound = session.certify(optimum, None)
    assert bound is not None and proved(optimum, bound, session.options.mip_gap)
    assert (bound < optimum) if sense == pyo.minimize else (bound > optimum)
    # the added row is gone: the same session still finds the optimum
    assert session.solve(None).objective == pytest.approx(optimum, abs=1e-15)


@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_a_value_a_better_solution_beats_is_not_certified(sense):
    model = cover(sense)
    session = HighsSession(model, SolveOptions(warm_start=False))
    optimum = session.solve(None).objective
    worse = optimum + 2e-5 if sense == pyo.minimize else optimum - 2e-5
    assert session.certify(worse, None) is None


def test_no_gap_asked_means_no_certificate():
    session = HighsSession(cover(), SolveOptions(warm_start=False, mip_gap=0.0))
    assert session.certify(session.solve(None).objective, None) is None
