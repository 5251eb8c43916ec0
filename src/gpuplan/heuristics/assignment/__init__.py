"""Heuristics on concrete nodes: the greedy best-fit baseline (also the MIP start) and its
LP-guided variant."""

from .greedy import GreedyOutcome, LpGuide, greedy, job_options, still_fits
from .state import ClusterState

__all__ = ["ClusterState", "GreedyOutcome", "LpGuide", "greedy", "job_options", "still_fits"]
