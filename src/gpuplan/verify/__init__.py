"""The independent verifier: checks a solution against the Rules of models/assignment.md.

It re-implements the rules from that text alone (never from the model), depends only on the
instance layer, numpy / pandas and the standard library, and never imports Pyomo.

- :func:`verify` checks validity (rules 1-9), states, reasons, objective terms, objective,
  KPIs and bound of a solution and reports every :class:`Violation`.
- :func:`evaluate` values a placement (states, job worth, terms, objective, KPIs) without
  checking it.

Placement rows are (job, node, gpus, gpu_index): ``gpu_index`` names the GPU a sharing job
(``gpu_share_milli`` < 1000) shares and is empty for every other job; a CPU-only job (no
``gpu_options``) has ``gpus`` 0. GPUs held count s_j/1000 for a sharing job, so ``H_t``,
``allocated_gpus`` and the pool and tenant tables are floats. Every rule code is in
:data:`RULES`.
"""

from .assignment.check import check_rows
from .check import verify
from .assignment.value import Evaluation, JobValue, evaluate
from .violations import RULES, VerificationError, Violation

__all__ = ["RULES", "check_rows", "Evaluation", "JobValue", "VerificationError", "Violation", "evaluate", "verify"]
