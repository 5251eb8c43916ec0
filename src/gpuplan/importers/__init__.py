"""Importers: turn public benchmark and trace formats into gpuplan instances.

- :mod:`gpuplan.importers.gap`: OR-Library Generalized Assignment Problem files.
"""

from .gap import read_gap, write_gap_instance

__all__ = ["read_gap", "write_gap_instance"]
