"""Pyomo-free derived sets, one module per problem."""
