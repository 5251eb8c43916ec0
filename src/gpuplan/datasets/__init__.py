"""Instances built from the public reference data in ``../shared/data`` (never shipped in the
wheel: the builders read the data where it is and write instance files under ``instances/``)."""

from .tidal_week import build_tidal_week, write_tidal_week

__all__ = ["build_tidal_week", "write_tidal_week"]
