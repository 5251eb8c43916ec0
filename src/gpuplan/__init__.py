"""gpuplan: exact mixed-integer planning for AI compute, solved with HiGHS.

    import gpuplan as gp
    inst = gp.load("instances/small/quickstart.json")
    res = gp.solve(inst, problem="assignment", time_limit=30, mip_gap=1e-4)
    gp.verify(inst, res)
"""

from .errors import GpuplanError, InputError, OutputError
from .instance import Instance, dump, from_dict, load
from .results import Result
from .verify import VerificationError, Violation, evaluate, verify
from .verify import check_rows as verify_rows


def __getattr__(name):
    # The solver stack (Pyomo, HiGHS) loads on first use, so that the instance layer and the
    # independent verifier import without it.
    if name == "solve":
        from .api import solve

        return solve
    if name == "solve_many":
        from .batch import solve_many

        return solve_many
    raise AttributeError(f"module 'gpuplan' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "GpuplanError", "InputError", "OutputError", "Instance", "Result", "VerificationError", "Violation", "dump",
    "evaluate", "from_dict", "load", "solve", "solve_many", "verify", "verify_rows", "__version__",
]
