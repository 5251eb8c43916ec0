"""The only module that talks to a solver.

HiGHS is embedded (highspy) and driven through Pyomo's persistent HiGHS interface: the model
is handed over in memory (no LP file), a MIP start is passed with ``setSolution``, and the
solver's answer is mapped to one status of optimal | feasible | infeasible | unbounded |
time_limit | error, always with the best bound and the relative gap. Other Pyomo solvers may
be named with ``solver=`` where they are installed; they are never required.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.common.tee import TeeStream, capture_output

from .errors import SolverUnavailableError

VALUE_TOL = 1e-6        # relative: a solver objective farther than this from its solution's value is misreported
_scheduler_threads: int | None = None  # threads HiGHS's process-wide scheduler was started with


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float | None = None       # seconds; None = no limit
    mip_gap: float = 1e-4                 # relative gap at which the search stops
    threads: int | None = None            # None = HiGHS's default
    seed: int = 0                         # HiGHS random_seed: same seed, same run
    log: bool = False                     # echo the solver log to the terminal
    solver: str = "highs"                 # or any Pyomo solver name available here
    warm_start: bool = True               # hand the greedy solution to the solver

    def __post_init__(self):
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be positive, not {self.time_limit}")
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip_gap must be in [0, 1), not {self.mip_gap}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")


@dataclass
class SolverOutcome:
    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    has_solution: bool = False
    handoff_s: float = 0.0
    solve_s: float = 0.0
    log: str = ""
    message: str = ""
    start_accepted: bool | None = None
    misreported: bool = False   # the solver's objective is not the value of the solution it returned
    extra: dict = field(default_factory=dict)


ABS_AGREEMENT = 1e-9   # objective and bound closer than this (relative above 1) agree: gap 0


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """HiGHS's gap: |bound - objective| / |objective| (0 when they agree)."""
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    difference = abs(bound - objective)
    if difference <= ABS_AGREEMENT * max(1.0, abs(objective)):
        return 0.0
    return difference / max(abs(objective), 1e-10)


def proved(value: float | None, bound: float | None, mip_gap: float) -> bool:
    """The value is within ``mip_gap`` of a valid bound: what "optimal" means."""
    gap = relative_gap(value, bound)
    return gap is not None and gap <= mip_gap


def tighter_bound(a, b, sense: str):
    """The better of two valid bounds (the smaller for a maximisation)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b) if sense == "max" else max(a, b)


def remaining(options: SolveOptions, started: float, reserve: float = 0.0) -> float | None:
    """Seconds left of the time limit since ``started`` (None without a limit)."""
    if options.time_limit is None:
        return None
    return max(1e-3, options.time_limit - (time.perf_counter() - started) - reserve)


def solve_model(model: pyo.ConcreteModel, options: SolveOptions, lp_method: str = "choose") -> SolverOutcome:
    """Solve ``model`` (a MIP start is read from the variables' current values); ``lp_method``
    solves the MIP's LPs (HiGHS only)."""
    if model.nvariables() == 0:
        value = pyo.value(model.objective.expr)
        return SolverOutcome("optimal", value, value, 0.0, has_solution=True, message="nothing to decide")
    if options.solver == "highs":
        return _solve_highs(model, options, lp_method)
    return _solve_other(model, options)


# ---------------------------------------------------------------- HiGHS


def _highs():
    from pyomo.contrib.solver.solvers.highs import Highs

    solver = Highs()
    if not solver.available():
        raise SolverUnavailableError("HiGHS (highspy) is not installed")
    return solver


def _solve_highs(model, options: SolveOptions, lp_method: str = "choose") -> SolverOutcome:
    session = HighsSession(model, options)
    start_accepted = session.pass_start() if options.warm_start else None
    outcome = session.solve(options.time_limit, lp_method)
    outcome.start_accepted = start_accepted
    return outcome


@dataclass
class Improvement:
    objective: float            # of the best solution found (the model's value)
    rounds: int
    seconds: float


@dataclass
class Relaxation:
    status: str                 # optimal | infeasible | unbounded | time_limit | error
    bound: float | None         # the LP optimum: a bound on every integer solution
    seconds: float


class HighsSession:
    """One model handed to HiGHS once, then solved as an LP relaxation and/or as the MIP.

    The LP relaxation's values are loaded into the Pyomo variables (to guide a rounding
    heuristic); integrality is restored before the MIP solve."""

    def __init__(self, model, options: SolveOptions):
        self.model, self.options = model, options
        self.solver = _highs()
        _match_scheduler(options.threads)
        self.log = io.StringIO()
        self.solver.config.tee = [self.log]
        tick = time.perf_counter()
        self.solver.set_instance(model)
        self.handoff_s = time.perf_counter() - tick
        # Nothing changes between set_instance and solve: skip Pyomo's change detection.
        for flag in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                     "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                     "update_vars", "update_parameters", "update_named_expressions", "update_objective"):
            setattr(self.solver.config.auto_updates, flag, False)

    @property
    def columns(self) -> dict[int, int]:
        """id(Pyomo variable) -> HiGHS column."""
        return self.solver._pyomo_var_to_solver_var_map

    @property
    def _tee(self):
        return TeeStream(*self._log_streams())

    def _log_streams(self) -> list:
        # sys.stdout as it is now: Pyomo's capture_output re-points a stream whose file
        # descriptor it redirects at the original descriptor, so the echo cannot loop.
        return [self.log, sys.stdout] if self.options.log else [self.log]

    def relaxation(self, time_limit: float | None, method: str = "choose") -> Relaxation:
        highs = self.solver._solver_model
        columns = highs.getNumCol()
        index = np.arange(columns, dtype=np.int32)
        integrality = np.array(highs.getLp().integrality_)
        tick = time.perf_counter()
        with capture_output(output=self._tee, capture_fd=True):
            highs.setOptionValue("log_to_console", True)
            if len(integrality):
                highs.changeColsIntegrality(columns, index, np.zeros(columns, dtype=integrality.dtype))
            self._set_common_options(highs, time_limit)
            # The caller picks the LP method ("choose", "simplex", "ipm"): it knows its model.
            highs.setOptionValue("solver", method)
            highs.run()
            highs.setOptionValue("solver", "choose")
        status = highs.getModelStatus()
        outcome = Relaxation(_lp_status(status), None, time.perf_counter() - tick)
        if outcome.status == "optimal":
            outcome.bound = highs.getInfo().objective_function_value
            values = highs.getSolution().col_value
            for var in self.model.component_data_objects(pyo.Var, active=True):
                column = self.solver._pyomo_var_to_solver_var_map.get(id(var))
                if column is not None:
                    var.set_value(values[column], skip_validation=True)
        if len(integrality):
            highs.changeColsIntegrality(columns, index, integrality)
        return outcome

    def complete(self, fixed, time_limit: float | None) -> bool:
        """Fix the Pyomo variables ``fixed`` at their current values, solve what is left and load
        the solution into every variable; the bounds are restored after. True when a solution
        was found (the variables then hold a complete MIP start)."""
        highs = self.solver._solver_model
        column_of = self.solver._pyomo_var_to_solver_var_map
        fixed = [v for v in fixed if id(v) in column_of and v.value is not None]
        columns = np.array([column_of[id(v)] for v in fixed], dtype=np.int32)
        values = np.array([float(v.value) for v in fixed])
        lp = highs.getLp()
        lower, upper = np.array(lp.col_lower_)[columns], np.array(lp.col_upper_)[columns]
        with capture_output(output=self._tee, capture_fd=True):
            highs.changeColsBounds(len(columns), columns, values, values)
            self._set_common_options(highs, time_limit)
            highs.run()
        found = highs.getInfo().primal_solution_status == 2   # kSolutionStatusFeasible
        if found:
            solution = highs.getSolution().col_value
            for var in self.model.component_data_objects(pyo.Var, active=True):
                column = column_of.get(id(var))
                if column is not None:
                    var.set_value(solution[column], skip_validation=True)
        highs.changeColsBounds(len(columns), columns, lower, upper)
        highs.clearSolver()
        return found

    def _set_common_options(self, highs, time_limit):
        highs.setOptionValue("time_limit", float(time_limit) if time_limit is not None else np.inf)
        highs.setOptionValue("random_seed", int(self.options.seed))
        if self.options.threads is not None:
            highs.setOptionValue("threads", int(self.options.threads))

    def pass_start(self) -> bool | None:
        return _pass_mip_start(self.solver, self.model)

    def improve(self, neighborhoods, sense: str, seconds: float, step_seconds: float = 3.0,
                patience: int = 30, repair=None) -> Improvement:
        """Large-neighbourhood search from the variables' current values (a complete solution).

        Each neighbourhood is a list of Pyomo variables left free; every other variable is
        fixed at the incumbent, and HiGHS solves what is left (presolve removes the fixed part)
        starting from the incumbent. Better solutions are kept. Stops after ``seconds``, or
        after ``patience`` neighbourhoods in a row without a gain. The variables end holding
        the best solution found. ``neighborhoods`` yields (label, variables); ``repair(x,
        label)``, when given, turns a candidate into a valid one before it is judged."""
        highs = self.solver._solver_model
        column_of = self.solver._pyomo_var_to_solver_var_map
        variables = [v for v in self.model.component_data_objects(pyo.Var, active=True) if id(v) in column_of]
        columns = np.array([column_of[id(v)] for v in variables], dtype=np.int32)
        incumbent = np.zeros(highs.getNumCol())
        incumbent[columns] = [v.value or 0.0 for v in variables]
        lp = highs.getLp()
        lower, upper = np.array(lp.col_lower_), np.array(lp.col_upper_)
        cost, offset = np.array(lp.col_cost_), lp.offset_

        def objective(x):
            return float(cost @ x + offset)

        best = objective(incumbent)
        sign = 1.0 if sense == "max" else -1.0
        started, rounds, idle = time.perf_counter(), 0, 0
        all_columns = np.arange(highs.getNumCol(), dtype=np.int32)
        with capture_output(output=self._tee, capture_fd=True):
            highs.setOptionValue("log_to_console", False)
            for label, free_vars in neighborhoods:
                left = seconds - (time.perf_counter() - started)
                if left <= 0.5 or idle >= patience:
                    break
                free = np.array([column_of[id(v)] for v in free_vars if id(v) in column_of], dtype=np.int32)
                fixed_lower, fixed_upper = incumbent.copy(), incumbent.copy()
                fixed_lower[free], fixed_upper[free] = lower[free], upper[free]
                highs.changeColsBounds(len(all_columns), all_columns, fixed_lower, fixed_upper)
                highs.setSolution(len(all_columns), all_columns, incumbent)
                self._set_common_options(highs, min(step_seconds, left))
                highs.setOptionValue("mip_rel_gap", 1e-6)
                highs.run()
                rounds += 1
                solution = highs.getSolution()
                if highs.getInfo().primal_solution_status == 2:
                    candidate = np.array(solution.col_value)
                    if repair is not None:
                        candidate = repair(np.round(candidate, 9), label)
                    value = objective(candidate)
                    if sign * (value - best) > 1e-9 * max(1.0, abs(best)):
                        incumbent, best, idle = np.round(candidate, 9), value, 0
                        continue
                idle += 1
            highs.changeColsBounds(len(all_columns), all_columns, lower, upper)
        for var, column in zip(variables, columns):
            var.set_value(float(incumbent[column]), skip_validation=True)
        return Improvement(best, rounds, time.perf_counter() - started)


    def solve(self, time_limit: float | None, lp_method: str = "choose", presolve: bool = True) -> SolverOutcome:
        """The MIP; ``lp_method`` ("choose", "simplex", "ipm") solves its LPs and ``presolve``
        says whether HiGHS presolves: the caller picks them, knowing its model."""
        tick = time.perf_counter()
        results = self.solver.solve(
            self.model,
            tee=self._log_streams(),
            time_limit=time_limit,
            rel_gap=self.options.mip_gap,
            threads=self.options.threads,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            # HiGHS also stops within mip_abs_gap (default 1e-6) of the bound: for an objective
            # in tonnes of carbon that is a relative gap of whole percents, which relative_gap
            # (and so "optimal") does not accept; search on to the absolute agreement it does
            solver_options={"random_seed": int(self.options.seed), "mip_lp_solver": lp_method,
                            "presolve": "choose" if presolve else "off", "mip_abs_gap": ABS_AGREEMENT},
        )
        outcome = _outcome_from_results(results, self.model, self.options.mip_gap)
        if outcome.status == "optimal" and not proved(outcome.objective, outcome.bound, self.options.mip_gap):
            left = None if time_limit is None else time_limit - (time.perf_counter() - tick)
            certified = self.certify(outcome.objective, left)
            if certified is not None:
                outcome.bound, outcome.gap = certified, relative_gap(outcome.objective, certified)
        outcome.handoff_s, outcome.solve_s = self.handoff_s, time.perf_counter() - tick
        outcome.log = self.log.getvalue()
        return outcome

    def certify(self, value: float, time_limit: float | None) -> float | None:
        """A bound within half of mip_gap of ``value``, proved by HiGHS finding no solution
        that good (None when it does not prove it in time).

        HiGHS stops a search as "optimal" when it knows the objective takes only multiples of
        some step (objective integrality): no better solution exists, but the dual bound it
        reports is the LP's, which may lie farther than mip_gap (tonnes of carbon: 0.00028
        against 0.000279). "optimal" here means within the gap of a bound the Result holds,
        so the proof is asked for as a bound: the MIP with its objective at most that target."""
        if self.options.mip_gap <= 0 or (time_limit is not None and time_limit <= 0.5):
            return None
        highs = self.solver._solver_model
        lp = highs.getLp()
        cost = np.array(lp.col_cost_)
        step = 0.5 * self.options.mip_gap * max(abs(value), 1e-9)
        minimise = self.model.objective.sense == pyo.minimize
        target = value - step if minimise else value + step
        # one unit of the row is the step, so the feasibility tolerance cannot admit the incumbent
        columns = np.flatnonzero(cost).astype(np.int32)
        limit = (target - lp.offset_) / step
        lower, upper = (-np.inf, limit) if minimise else (limit, np.inf)
        row = highs.getNumRow()
        with capture_output(output=self._tee, capture_fd=True):
            highs.addRow(lower, upper, len(columns), columns, cost[columns] / step)
            self._set_common_options(highs, time_limit)
            highs.run()
            infeasible = _lp_status(highs.getModelStatus()) == "infeasible"
            highs.deleteRows(1, np.array([row], dtype=np.int32))
        return target if infeasible else None


def solve_without_start(model, sense: str, options: SolveOptions, timings: dict, first: SolverOutcome,
                        time_limit: float | None, **search) -> SolverOutcome:
    """HiGHS (1.16, presolve on) can value a MIP start in its presolved space and return the
    start itself under that value: the solve "proves" a solution it never valued. Solve again
    from scratch, and keep the better of the two solutions by their true values (``search``:
    the caller's lp_method / presolve for the new run)."""
    sign = 1 if sense == "max" else -1
    kept = {id(var): var.value for var in model.component_data_objects(pyo.Var)}
    tick = time.perf_counter()
    retry = HighsSession(model, options).solve(time_limit, **search)
    timings["retry_s"] = time.perf_counter() - tick
    note = f"the solver misvalued its solution from the MIP start ({first.message}); solved again without it"
    if retry.has_solution and not retry.misreported and sign * retry.objective >= sign * first.objective:
        retry.message = "; ".join(filter(None, [retry.message, note]))
        return retry
    for var in model.component_data_objects(pyo.Var):
        var.set_value(kept[id(var)], skip_validation=True)
    first.message = "; ".join(filter(None, [first.message, note + ", which did no better"]))
    return first


def _match_scheduler(threads: int | None) -> None:
    """HiGHS starts one thread pool per process, sized by the first run's ``threads``, and
    ignores (with only a log line) a later run that asks for another size: restart the pool
    when the size asked for changes, so ``threads`` means the same in every call."""
    global _scheduler_threads
    import highspy

    wanted = int(threads or 0)  # 0 = HiGHS's own choice
    if _scheduler_threads is not None and _scheduler_threads != wanted:
        highspy.Highs.resetGlobalScheduler(True)
    _scheduler_threads = wanted


def _lp_status(status) -> str:
    import highspy

    names = {highspy.HighsModelStatus.kOptimal: "optimal", highspy.HighsModelStatus.kInfeasible: "infeasible",
             highspy.HighsModelStatus.kUnbounded: "unbounded", highspy.HighsModelStatus.kTimeLimit: "time_limit"}
    return names.get(status, "error")


def _pass_mip_start(solver, model) -> bool | None:
    """Hand the variables' current values to HiGHS as a (possibly partial) MIP start."""
    column_of = solver._pyomo_var_to_solver_var_map
    index, values = [], []
    for var in model.component_data_objects(pyo.Var, active=True):
        if var.value is not None and id(var) in column_of:
            index.append(column_of[id(var)])
            values.append(float(var.value))
    if not index:
        return None
    status = solver._solver_model.setSolution(len(index), np.array(index, dtype=np.int32), np.array(values))
    return str(status).endswith("kOk")


def _outcome_from_results(results, model, mip_gap: float) -> SolverOutcome:
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition as TC

    term = results.termination_condition
    has_solution = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if term == TC.convergenceCriteriaSatisfied:
        status = "optimal"
    elif term == TC.maxTimeLimit:
        status = "time_limit"
    elif term in (TC.provenInfeasible, TC.locallyInfeasible, TC.infeasibleOrUnbounded):
        status = "infeasible"
    elif term == TC.unbounded:
        status = "unbounded"
    elif term == TC.error:
        status = "error"
    else:
        status = "feasible" if has_solution else "error"
    objective = results.incumbent_objective if has_solution else None
    bound = results.objective_bound
    if bound is not None and not np.isfinite(bound):
        bound = None
    message = {"infeasible": "the solver proved the instance infeasible",
               "error": f"solver stopped: {term.name}"}.get(status, "")
    misreported = False
    if has_solution:
        results.solution_loader.load_vars()
        # Trust the values, not the report: the objective is that of the solution returned.
        value = pyo.value(model.objective.expr)
        if objective is None or abs(value - objective) > VALUE_TOL * max(1.0, abs(value)):
            misreported = True
            message = "; ".join(filter(None, [message, f"the solver reported {objective} for a solution worth {value:.9g}"]))
            objective = value
            gap = relative_gap(objective, bound)
            if status == "optimal" and (gap is None or gap > mip_gap):
                status = "feasible"
    return SolverOutcome(status, objective, bound, relative_gap(objective, bound), has_solution, message=message,
                         misreported=misreported)


# ---------------------------------------------------------------- other Pyomo solvers


def _solve_other(model, options: SolveOptions) -> SolverOutcome:
    solver = pyo.SolverFactory(options.solver)
    if solver is None or not solver.available(exception_flag=False):
        raise SolverUnavailableError(f"solver '{options.solver}' is not available here")
    tick = time.perf_counter()
    results = solver.solve(model, tee=options.log, load_solutions=False)
    solve_s = time.perf_counter() - tick
    term = str(results.solver.termination_condition)
    has_solution = len(results.solution) > 0
    if has_solution:
        model.solutions.load_from(results)
    status = {"optimal": "optimal", "maxTimeLimit": "time_limit", "infeasible": "infeasible",
              "unbounded": "unbounded"}.get(term, "feasible" if has_solution else "error")
    objective = pyo.value(model.objective.expr) if has_solution else None
    bound = objective if status == "optimal" else None
    return SolverOutcome(status, objective, bound, relative_gap(objective, bound), has_solution,
                         solve_s=solve_s, message=f"solver '{options.solver}': {term}")
