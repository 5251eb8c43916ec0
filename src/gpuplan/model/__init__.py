"""Model layer: the shared build (blocks of a problem over one Pyomo model, named terms, the
objective) and one package per problem (see models/<problem>.md)."""

from .build import BuiltModel, InfeasibleInstance, build_model

__all__ = ["BuiltModel", "InfeasibleInstance", "build_model"]
