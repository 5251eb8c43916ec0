"""Named objective terms, shared by every problem.

Blocks register term *expressions* by name; the objective block weighs the ones the problem's
objective lists (each problem keeps its weights in model/<problem>/). Every term is reported
with its value, weight and contribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Term:
    expr: Any
    weight: float
