"""Every solve a test makes is checked: the suite's one promise about solutions.

The autouse fixture routes ``gpuplan.solve`` (and so the CLI and the in-process batch, which
call it) through :func:`builders.check_result`: the independent verifier accepts the result,
and a status ``optimal`` comes with a gap within the ``mip_gap`` asked for."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

import gpuplan
import gpuplan.api
from builders import check_result

_solve = gpuplan.api.solve

# No "explain" phase: it traces every line a failing example runs, which slowed one shrinking
# brute-force failure to 15 minutes in CI; the shrunk example and its reproduce blob remain.
settings.register_profile("gpuplan", phases=[p for p in Phase if p != Phase.explain])
settings.load_profile("gpuplan")


def _checked_solve(instance, *args, **kwargs):
    result = _solve(instance, *args, **kwargs)
    check_result(instance, result, kwargs.get("mip_gap", 1e-4))
    return result


@pytest.fixture(autouse=True)
def every_solve_checked(monkeypatch):
    monkeypatch.setattr(gpuplan.api, "solve", _checked_solve)
    monkeypatch.setattr(gpuplan, "solve", _checked_solve)
