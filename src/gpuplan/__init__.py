"""gpuplan: exact mixed-integer planning for AI compute, solved with HiGHS.

    import gpuplan as gp
    inst = gp.load("instances/small/quickstart.json")
    res = gp.solve(inst, problem="assignment", time_limit=30, mip_gap=1e-4)
    gp.verify(inst, res)
"""

from .api import solve
from .errors import GpuplanError, InputError
from .instance import Instance, dump, from_dict, load
from .results import Result
from .verify import VerificationError, Violation, evaluate, verify

__version__ = "0.1.0"

__all__ = [
    "GpuplanError", "InputError", "Instance", "Result", "VerificationError", "Violation", "dump",
    "evaluate", "from_dict", "load", "solve", "verify", "__version__",
]
