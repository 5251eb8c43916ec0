"""Heuristics, one package per problem; no Pyomo import."""
