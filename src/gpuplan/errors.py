"""Errors a user can act on.

Every problem with an input file becomes one :class:`InputError` whose message is a single
line: ``<file>: <field path>: <problem>``; every failure to write an output one
:class:`OutputError`: ``<path>: cannot write: <reason>``. The CLI turns them into that line
and an exit code in one place (:func:`gpuplan.cli.exit_code`).
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_CHARS = 500  # a message echoing user data never grows with it


class GpuplanError(Exception):
    """Base class of the errors gpuplan raises on purpose."""


class InputError(GpuplanError):
    """Bad input: names the file, the field path (or CSV row and column) and the problem."""

    def __init__(self, source: str | None, path: str | None, problem: str):
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(format_location(source, path, problem))


class OutputError(GpuplanError):
    """An output cannot be written (exists, read-only, full disk, a folder in the way);
    nothing is left half-written."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(format_location(str(path), None, f"cannot write: {reason}"))


class SolverUnavailableError(GpuplanError):
    """The requested solver is not installed or cannot be loaded."""


def format_location(source: str | None, path: str | None, problem: str) -> str:
    """One line, whatever the parts hold: control characters escaped, whitespace runs folded,
    the problem capped at MAX_MESSAGE_CHARS."""
    parts = [one_line(p) for p in (source, path) if p]
    problem = one_line(problem)
    if len(problem) > MAX_MESSAGE_CHARS:
        problem = problem[:MAX_MESSAGE_CHARS] + "..."
    return ": ".join([*parts, problem])


def one_line(text: Any) -> str:
    return escape_controls(" ".join(str(text).split()))


def escape_controls(text: str) -> str:
    """Control and line-separator characters as escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


def shown(value: Any, limit: int = 60, quote: bool = True) -> str:
    """A piece of user data as a message may echo it: control characters escaped, at most
    ``limit`` characters (a 10,000-character id is not repeated in full)."""
    text = str(value)
    cut = text[:limit] + "..." if len(text) > limit else text
    escaped = escape_controls(cut)
    return f"'{escaped}'" if quote else escaped
