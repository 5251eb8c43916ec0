"""Errors a user can act on.

Every problem with an input file becomes one :class:`InputError` whose message is a single
line: ``<file>: <field path>: <problem>``. The CLI prints that line and exits with code 2.
"""

from __future__ import annotations


class GpuplanError(Exception):
    """Base class of the errors gpuplan raises on purpose."""


class InputError(GpuplanError):
    """Bad input: names the file, the field path (or CSV row and column) and the problem."""

    def __init__(self, source: str | None, path: str | None, problem: str):
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(format_location(source, path, problem))


class SolverUnavailableError(GpuplanError):
    """The requested solver is not installed or cannot be loaded."""


def format_location(source: str | None, path: str | None, problem: str) -> str:
    parts = [p for p in (source, path) if p]
    one_line = " ".join(str(problem).split())
    return ": ".join([*parts, one_line])
