"""Schedule baselines (no Pyomo): one list scheduler (:mod:`.list_schedule`) with pluggable
period rules (:mod:`.periods`); ``asap`` and ``carbon_aware`` are its two settings."""

from .baselines import asap, carbon_aware, deadline_order
from .list_schedule import Plan, list_schedule
from .periods import Choice, LowestCarbon, PeriodRule, earliest

__all__ = ["Choice", "LowestCarbon", "PeriodRule", "Plan", "asap", "carbon_aware", "deadline_order", "earliest",
           "list_schedule"]
