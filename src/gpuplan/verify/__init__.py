"""The independent verifier: checks a solution against the Rules of models/assignment.md.

It re-implements the rules from that text alone (never from the model), depends only on the
instance layer, numpy / pandas and the standard library, and never imports Pyomo.

- :func:`verify` checks validity (rules 1-9), states, reasons, objective terms, objective,
  KPIs and bound of a solution and reports every :class:`Violation`.
- :func:`evaluate` values a placement (states, job worth, terms, objective, KPIs) without
  checking it.
"""

from .check import verify
from .value import Evaluation, JobValue, evaluate
from .violations import RULES, VerificationError, Violation

__all__ = ["RULES", "Evaluation", "JobValue", "VerificationError", "Violation", "evaluate", "verify"]
