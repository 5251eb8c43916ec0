"""SolveRequest: what the caller asked of one solve, checked against the problem's registry entry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .solver import SolveOptions


@dataclass
class SolveRequest:
    problem: str
    objective: str
    method: str
    options: SolveOptions
    start: Any = None                   # a placement of the caller's (rows, DataFrame or Result)
    max_patterns: int | None = None     # assignment: whole-node patterns per job and pool
    started: float = field(default_factory=time.perf_counter)
