"""gpuplan: exact mixed-integer planning for AI compute, solved with HiGHS."""

from .errors import GpuplanError, InputError
from .instance import Instance, dump, from_dict, load

__version__ = "0.1.0"

__all__ = ["GpuplanError", "InputError", "Instance", "dump", "from_dict", "load", "__version__"]
