"""Model layer: Pyomo blocks of the assignment problem (see models/assignment.md)."""

from .build import PROBLEMS, BuiltModel, build_model

__all__ = ["PROBLEMS", "BuiltModel", "build_model"]
