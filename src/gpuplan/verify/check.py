"""verify(): read a solution and hand it to the verifier of the problem it names.

Each problem's verifier (``gpuplan.verify.<problem>``, named in the registry) re-implements
that problem's rules from its models/<problem>.md alone and never imports the model layer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..instance.io import check as check_instance
from ..instance.io import from_dict, load
from ..instance.schema import Instance
from ..problems import PROBLEMS
from ..results import read_solution_data
from .violations import VerificationError, Violation


def verify(instance, solution, *, raise_on_error: bool = True, tol: float = 1e-6) -> list[Violation]:
    """Check ``solution`` against the rules of its problem (models/<problem>.md).

    ``instance``: an Instance (or a path / dict to load one). ``solution``: a solution dict, a
    path to a ``solution.json`` or to a folder holding one, or an object with
    ``to_solution_dict()``. Returns [] when the solution is valid; otherwise raises
    :class:`VerificationError` (or, with ``raise_on_error=False``, returns the violations).
    """
    violations = check_solution(as_instance(instance), solution_dict(solution), tol)
    if violations and raise_on_error:
        raise VerificationError(violations)
    return violations


def check_solution(instance: Instance, data: dict, tol: float = 1e-6) -> list[Violation]:
    """The violations of a solution dict, by the verifier of the problem it names."""
    problem = data.get("problem")
    if problem not in PROBLEMS:
        return [Violation("format", "", f"problem is {problem!r}, expected one of {', '.join(PROBLEMS)}")]
    return PROBLEMS[problem].layer("verify")(instance, data, tol)


def solution_dict(solution) -> dict:
    if hasattr(solution, "to_solution_dict"):
        return solution.to_solution_dict()
    if isinstance(solution, Mapping):
        return dict(solution)
    if isinstance(solution, (str, os.PathLike)):
        return read_solution_data(Path(solution))
    raise TypeError(f"a solution is a dict, a path or has to_solution_dict(), not {type(solution).__name__}")


def as_instance(instance) -> Instance:
    if isinstance(instance, Instance):
        return check_instance(instance)
    if isinstance(instance, Mapping):
        return from_dict(dict(instance))
    return load(instance)
