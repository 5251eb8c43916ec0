"""The assignment problem's Pyomo blocks and the solve-time algorithms around them (see models/assignment.md)."""
