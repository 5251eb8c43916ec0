"""The problem registry: what each problem is, what it needs and where its layers live.

Shared pieces (api, batch, CLI, verify, plots) know problems only through this table; a new
problem adds a :class:`Problem` here and one folder per layer (index/, heuristics/, model/,
verify/), never an ``if problem == ...`` elsewhere. Layers are named as ``"module:function"``
strings and imported on first use, so that reading the registry loads neither Pyomo nor the
problems one does not solve.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from .instance.schema import ASSIGNMENT_OBJECTIVES, Instance

SENSES = ("min", "max")


@dataclass(frozen=True)
class Table:
    """One of a problem's Result tables (``result.<name>``, ``<name>.csv``).

    ``solution``: the columns solution.json keeps for the verifier (None: the table is derived
    and saved as CSV only); ``optional``: solution columns left out of a row where null;
    ``integer``: nullable integer columns; ``shown``: in the text repr (the HTML repr shows all,
    the others folded)."""

    name: str
    columns: tuple[str, ...] = ()       # () = whatever columns the producer gives
    solution: tuple[str, ...] | None = None
    optional: tuple[str, ...] = ()
    integer: tuple[str, ...] = ()
    shown: bool = True
    decision: str | None = None         # a column null in derived-only rows, which solution.json leaves out


@dataclass(frozen=True)
class Problem:
    name: str
    summary: str
    objectives: dict[str, str]          # objective name -> sense ("min" / "max")
    methods: tuple[str, ...]            # the first is the default
    sections: tuple[str, ...]           # Instance tables that must not be empty
    solve: str                          # "module:function"(instance, request) -> Result
    build: str                          # "module:function"(instance, objective) -> BuiltModel
    verify: str                         # "module:function"(instance, solution dict, tol) -> [Violation]
    weights: str                        # "module:function"(BuiltModel) -> {term: weight} of its objective
    doc: str                            # the math, models/<doc>
    default_objective: Callable[[Instance], str] = field(repr=False, default=lambda instance: "cost")
    blocks: tuple[str, ...] = ()        # model blocks in build order, "module:function"
    tables: tuple[Table, ...] = ()      # the Result's tables, in display order
    describe: str = ""                  # "module:function"(instance) -> one line of what it holds

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def missing_sections(self, instance: Instance) -> list[str]:
        return [name for name in self.sections if not getattr(instance, name)]

    def check(self, instance: Instance, *, objective: str | None = None, method: str | None = None) -> str:
        """The objective to solve for; ValueError naming the problem and what is missing or unknown."""
        missing = self.missing_sections(instance)
        if missing:
            raise ValueError(self.lacking(missing))
        objective = objective or self.default_objective(instance)
        self.check_names(objective=objective, method=method)
        return objective

    def lacking(self, missing: list[str]) -> str:
        return f"problem '{self.name}' needs the section(s) {', '.join(missing)}, which the instance lacks or leaves empty"

    def check_names(self, *, objective: str | None = None, method: str | None = None) -> None:
        if objective is not None and objective not in self.objectives:
            raise ValueError(f"unknown objective '{objective}' for problem '{self.name}' "
                             f"(expected one of {', '.join(self.objectives)})")
        if method is not None and method not in self.methods:
            raise ValueError(f"unknown method '{method}' for problem '{self.name}' "
                             f"(expected one of {', '.join(self.methods)})")

    def sense(self, objective: str) -> str:
        return self.objectives[objective]

    def layer(self, name: str) -> Callable:
        """The function a layer string (``solve``, ``verify``) names, imported now."""
        return load_function(getattr(self, name))


def load_function(spec: str) -> Callable:
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


PROBLEMS: dict[str, Problem] = {}

# models/*.md files that document a shared block rather than a problem.
BLOCK_DOCS: dict[str, str] = {"energy.md": "gpuplan.model.energy:add_energy"}


def register(problem: Problem) -> Problem:
    assert all(sense in SENSES for sense in problem.objectives.values()), problem.objectives
    PROBLEMS[problem.name] = problem
    return problem


def of_instance(instance: Instance) -> Problem:
    """The problem an instance is for: the first registered one whose sections it holds;
    ValueError naming each problem's sections when it holds none's."""
    for problem in PROBLEMS.values():
        if not problem.missing_sections(instance):
            return problem
    raise ValueError("the instance is for no problem: "
                     + "; ".join(p.lacking(p.missing_sections(instance)) for p in PROBLEMS.values()))


def check_names_of_any(*, objective: str | None = None, method: str | None = None) -> None:
    """ValueError unless some registered problem knows the objective and the method (a batch of
    instances each solved as its own problem)."""
    for kind, name in (("objective", objective), ("method", method)):
        known = [n for p in PROBLEMS.values() for n in (p.objectives if kind == "objective" else p.methods)]
        if name is not None and name not in known:
            raise ValueError(f"unknown {kind} '{name}' for every problem (expected one of {', '.join(dict.fromkeys(known))})")


def get(name: str) -> Problem:
    """The registered problem ``name``; ValueError listing the known ones otherwise."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem '{name}' (expected one of {', '.join(PROBLEMS)})") from None


register(Problem(
    name="assignment",
    summary="which jobs run on which GPUs now",
    objectives=dict(ASSIGNMENT_OBJECTIVES),
    methods=("milp", "greedy"),
    sections=("pods", "node_pools", "tenants"),
    solve="gpuplan.model.assignment.solve:solve_assignment",
    build="gpuplan.model.assignment.solve:build_assignment",
    verify="gpuplan.verify.assignment.check:check_solution",
    weights="gpuplan.model.assignment.solve:assignment_weights",
    describe="gpuplan.instance.nodes:describe_assignment",
    doc="assignment.md",
    default_objective=lambda instance: instance.options.objective,
    tables=(
        Table("placements", ("job", "node", "gpu_type", "gpus", "gpu_index", "pool", "pod", "site"),
              solution=("job", "node", "gpu_type", "gpus", "gpu_index"), optional=("gpu_index",),
              integer=("gpu_index",)),
        Table("jobs", ("job", "tenant", "state", "reason", "gpus", "throughput", "cost"),
              solution=("job", "tenant", "state", "reason", "gpus", "throughput", "cost")),
        Table("tenants", shown=False),
        Table("pools", shown=False),
    ),
    blocks=("gpuplan.model.assignment.running:add_running", "gpuplan.model.assignment.spanning:add_spanning",
            "gpuplan.model.assignment.packing:add_packing", "gpuplan.model.assignment.jobs:add_jobs",
            "gpuplan.model.assignment.tenants:add_tenants"),
))


register(Problem(
    name="schedule",
    summary="when and where over the next day or week: jobs, services, energy, carbon",
    objectives={"cost": "min", "carbon": "min", "value": "max"},
    methods=("milp", "asap", "carbon_aware"),
    sections=("time", "capacity"),
    solve="gpuplan.model.schedule.solve:solve_schedule",
    build="gpuplan.model.schedule.solve:build_schedule",
    verify="gpuplan.verify.schedule.check:check_solution",
    weights="gpuplan.model.schedule.solve:schedule_weights",
    describe="gpuplan.instance.schedule:describe_schedule",
    doc="schedule.md",
    tables=(
        Table("placements", ("job", "site", "gpu_type", "period", "gpus", "power_mode"),
              solution=("job", "site", "gpu_type", "period", "gpus", "power_mode")),
        Table("services", ("service", "site", "gpu_type", "period", "demand", "served", "unmet", "gpus"),
              solution=("service", "site", "gpu_type", "period", "gpus"), decision="site"),
        Table("nodes_on", ("site", "gpu_type", "period", "nodes"), solution=("site", "gpu_type", "period", "nodes"),
              shown=False),
        Table("jobs", ("job", "state", "site", "start", "finish", "tardiness_h", "gpu_hours", "resumes", "migrations")),
        Table("energy", ("site", "period", "it_kw", "pue", "facility_kw", "grid_limit_kw", "price_per_kwh",
                         "energy_cost", "carbon_kg", "busy_gpus", "capacity_gpus", "gpu_utilization"), shown=False),
    ),
    blocks=("gpuplan.model.schedule.jobs:add_jobs", "gpuplan.model.schedule.services:add_services",
            "gpuplan.model.schedule.nodes:add_nodes", "gpuplan.model.energy:add_energy"),
))
