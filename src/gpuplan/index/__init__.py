"""Pyomo-free derived sets, one module per problem (assignment.py, with its row type in
node_grant.py)."""
