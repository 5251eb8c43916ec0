"""Importers: turn public benchmark and trace formats into gpuplan instances.

- :mod:`gpuplan.importers.gap`: OR-Library Generalized Assignment Problem files.
- :mod:`gpuplan.importers.wt`: OR-Library single-machine weighted tardiness files (schedule).
- :mod:`gpuplan.importers.alibaba`: the Alibaba GPU cluster trace v2023 (node and pod lists).
"""

from .alibaba import read_alibaba, write_alibaba_instance
from .gap import read_gap, write_gap_instance
from .wt import read_wt, read_wt_optimum, write_wt_instance

__all__ = ["read_alibaba", "read_gap", "read_wt", "read_wt_optimum", "write_alibaba_instance", "write_gap_instance",
           "write_wt_instance"]
