"""The gpuplan command line: thin commands over the Python API.

Exit codes: 0 success; 1 the work ran but found no solution (infeasible, time limit without
a solution, solver error) or a solution failed verification; 2 bad input (the message names
file, field and problem; nothing is written) or an output that cannot be written (nothing is
left half-written); 130 interrupted. :class:`OneLineErrors` is the one place that turns
errors into that line and code.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .errors import GpuplanError, InputError, OutputError, one_line

try:  # recent typer carries its own click, whose errors derive from TyperException
    from typer import TyperException as UsageProblem
except ImportError:  # older typer raises click's
    from click import ClickException as UsageProblem

TRACEBACK_ENV = "GPUPLAN_TRACEBACK"  # set to 1 to see the traceback of an internal error


class OneLineErrors(TyperGroup):
    """The one place where the command line turns errors into a line on stderr and an exit
    code: usage errors (unknown option, a value out of range), bad input, outputs that cannot
    be written, and (as a last resort) internal errors, none of them as a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except UsageProblem as exc:
            context = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":  # e.g. a bare `gpuplan generate`: help shown
                sys.exit(exc.exit_code)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            _error_line(f"{exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print(Text("aborted", style="red"))
            sys.exit(EXIT_INTERRUPTED)
        except (GpuplanError, ValueError) as exc:
            _error_line(str(exc))
            sys.exit(exit_code(exc))
        except Exception as exc:  # noqa: BLE001 - a bug: still one line, the traceback on request
            if os.environ.get(TRACEBACK_ENV):
                raise
            _error_line(f"internal error: {type(exc).__name__}: {exc} (set {TRACEBACK_ENV}=1 for the traceback)")
            sys.exit(EXIT_NO_SOLUTION)
        sys.exit(code or 0)


def exit_code(exc: Exception) -> int:
    """Bad input, a bad option value, a batch that cannot start and an output that cannot be
    written are all the user's to fix: 2. Any other gpuplan error (a solver missing): 1."""
    from .batch import BatchError

    if isinstance(exc, (InputError, OutputError, BatchError, ValueError)):
        return EXIT_BAD_INPUT
    return EXIT_NO_SOLUTION


def _error_line(message: str) -> None:
    """User data is never Rich markup: the message goes out as plain text, on one line."""
    err_console.print(Text.assemble(("error:", "red"), " ", one_line(message)), soft_wrap=True)


app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
generate_app = typer.Typer(no_args_is_help=True, help="Write synthetic instances.")
import_app = typer.Typer(no_args_is_help=True, help="Convert public benchmark files into instances.")
app.add_typer(generate_app, name="generate")
app.add_typer(import_app, name="import")

# Plain consoles: whatever is printed (ids, paths, messages) is shown as it is, never read as
# markup ("[/]" would crash, "node:x:1" become an emoji) and never re-coloured.
console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)

EXIT_OK, EXIT_NO_SOLUTION, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="instance files (.json, .yaml)")):
    """Check instance files; print one line per file."""
    from .instance import load

    for file in files:
        console.print(f"ok  {file}: {_describe(load(file))}", highlight=False)


def _describe(instance) -> str:
    """What an instance holds, in its problem's words."""
    from .problems import of_instance

    try:
        problem = of_instance(instance)
    except ValueError as none:
        return str(none)
    return problem.layer("describe")(instance)


@app.command()
def solve(
    file: Path = typer.Argument(..., help="instance file"),
    problem: Optional[str] = typer.Option(None, help="problem to solve (default: the instance's own, from its sections)"),
    objective: Optional[str] = typer.Option(None, help="the problem's objective (assignment: throughput|cost|utilization|fairness, default options.objective)"),
    method: Optional[str] = typer.Option(None, help="the problem's method: milp (exact, the default) or a baseline (assignment: greedy)"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="seconds"),
    mip_gap: float = typer.Option(1e-4, "--mip-gap", help="relative gap to stop at"),
    threads: Optional[int] = typer.Option(None, help="solver threads"),
    seed: int = typer.Option(0, help="solver random seed"),
    log: bool = typer.Option(False, "--log", help="show the solver log"),
    out: Optional[Path] = typer.Option(None, "--out", help="write solution.json and CSV tables here"),
):
    """Solve one instance and print a summary (and write it with --out)."""
    from .api import solve as solve_instance
    from .files import check_writable_folder
    from .results import SOLVED

    if out is not None:
        check_writable_folder(out)  # before the solve, which may take long
    result = solve_instance(file, problem, objective=objective, method=method, time_limit=time_limit,
                            mip_gap=mip_gap, threads=threads, seed=seed, log=log)
    path = result.save(out) if out is not None else None  # before printing: a closed pipe loses nothing
    print_summary(result)
    if path is not None:
        console.print(f"written: {path.parent}", highlight=False)
    raise typer.Exit(EXIT_OK if result.status in SOLVED and result.has_solution else EXIT_NO_SOLUTION)


def print_summary(result) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in result.summary_lines():
        table.add_row(key, value)
    console.print(table)
    if len(result.objective_terms):
        terms = Table("term", "weight", "value", "contribution", box=None)
        for row in result.objective_terms.itertuples(index=False):
            terms.add_row(row.term, f"{row.weight:g}", f"{row.value:.6g}", f"{row.contribution:.6g}")
        console.print(terms)



def batch(
    paths: list[str] = typer.Argument(..., help="instance files, folders (searched recursively for *.json, *.yaml, *.yml; gpuplan's own solution.json and batch.json are skipped) or globs"),
    out: Path = typer.Option(..., "--out", help="output folder: DIR/<name>/ per instance, DIR/summary.csv and .parquet"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local worker processes (default: the number of cores)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="solve on an existing Dask cluster: tcp://HOST:PORT (or another Dask protocol: tls://, inproc://, ucx://)"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="seconds per instance"),
    mip_gap: float = typer.Option(1e-4, "--mip-gap", help="relative gap to stop at"),
    resume: bool = typer.Option(False, "--resume", help="skip instances finished earlier with the same content and options"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace finished results"),
    problem: Optional[str] = typer.Option(None, help="problem every instance is solved as (default: each instance's own, from its sections)"),
    objective: Optional[str] = typer.Option(None, help="the objective of every instance (default: each instance's own; assignment: throughput|cost|utilization|fairness, schedule: cost|carbon|value)"),
    method: str = typer.Option("milp", help="milp (exact, the default) or a problem's baseline (assignment: greedy; schedule: asap, carbon_aware)"),
):
    """Solve many instances, each in its own worker process, into one folder each plus a summary.

    A bad file, an infeasible instance, a solver error or a crashed worker becomes a row of the
    summary (status invalid / infeasible / error / crashed and a message) and the batch goes
    on. A finished result is never replaced unless --overwrite is given; --resume skips the
    instances whose folder holds a finished result for the same content and options, so a
    rerun after Ctrl-C or a crash solves only the rest.

    Exit codes: 0 every instance has a solution (optimal, feasible, or time_limit with a
    solution); 1 the batch ran but some instance has none (invalid, infeasible, unbounded,
    error, crashed, time_limit without a solution); 2 the batch could not start (bad argument
    or option value, a PATH matching nothing, an unreadable folder, an unreachable scheduler,
    finished results in the way) — one line, nothing written; 130 interrupted (Ctrl-C):
    finished results and the summary are kept, rerun with --resume for the rest.
    """
    from .batch import Batch
    from .batch.outputs import SUMMARY_CSV, has_solution
    from .batch.report import print_summary as print_batch_summary

    plan = Batch.prepare(paths, out, problem=problem, workers=workers, scheduler=scheduler,
                         time_limit=time_limit, mip_gap=mip_gap, objective=objective, method=method,
                         resume=resume, overwrite=overwrite)
    written = str(out / SUMMARY_CSV)
    try:
        frame = plan.run(progress=True, console=console)
    except KeyboardInterrupt:
        frame = plan.frame()
        print_batch_summary(frame, console, skipped=plan.skipped, total=len(plan.items), written=written)
        _error_line(f"interrupted: {len(frame)} of {len(plan.items)} instances finished; rerun with --resume "
                    f"to solve the rest")
        raise typer.Exit(EXIT_INTERRUPTED)
    print_batch_summary(frame, console, skipped=plan.skipped, written=written)
    solved = all(has_solution(row) for row in frame.to_dict("records"))
    raise typer.Exit(EXIT_OK if solved else EXIT_NO_SOLUTION)


def _unwrap(doc: str) -> str:
    """A docstring as help text: paragraphs kept, lines inside a paragraph joined."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


app.command(help=_unwrap(batch.__doc__))(batch)


@app.command()
def verify(
    instance_file: Path = typer.Argument(..., metavar="INSTANCE"),
    solution: Path = typer.Argument(..., metavar="SOLUTION", help="solution.json or the folder holding it"),
):
    """Check a solution independently of the model: every rule, the objective, the KPIs."""
    from .instance import load
    from .results import read_solution
    from .verify import verify as verify_solution

    instance = load(instance_file)
    violations = verify_solution(instance, read_solution(solution), raise_on_error=False)
    if not violations:
        console.print(f"valid: {solution}")
        raise typer.Exit(EXIT_OK)
    for violation in violations:
        err_console.print(one_line(f"{violation.rule}: {violation.entity}: {violation.message}"), soft_wrap=True)
    raise typer.Exit(EXIT_NO_SOLUTION)


@app.command()
def schema():
    """Print the JSON Schema of instance files."""
    from .instance.schema import file_json_schema

    sys.stdout.write(json.dumps(file_json_schema(), indent=1) + "\n")


@generate_app.command("assignment")
def generate_assignment(
    gpus: int = typer.Option(..., "--gpus", min=8, help="GPUs in the cluster (about: whole nodes of 4-8 GPUs)"),
    jobs: int = typer.Option(..., "--jobs", min=1, help="jobs in the queue and running"),
    seed: int = typer.Option(0, "--seed"),
    output: Path = typer.Option(..., "-o", "--output", help="instance file to write (.json or .yaml)"),
):
    """A synthetic heterogeneous cluster and job mix (sizes after production traces)."""
    from .generate import write_assignment

    _write_instance(output, lambda: write_assignment(output, gpus=gpus, jobs=jobs, seed=seed))


@generate_app.command("schedule")
def generate_schedule(
    gpus: int = typer.Option(..., "--gpus", min=1, help="GPUs over all sites (8-GPU nodes, rounded; at least 16 a site)"),
    jobs: int = typer.Option(..., "--jobs", min=0, help="training jobs"),
    services: int = typer.Option(0, "--services", min=0, help="inference services with tidal demand"),
    sites: int = typer.Option(1, "--sites", min=1, help="sites"),
    hours: int = typer.Option(24, "--hours", min=1, help="hourly periods (at least 4)"),
    seed: int = typer.Option(0, "--seed"),
    output: Path = typer.Option(..., "-o", "--output", help="instance file to write (.yaml: site_series and "
                                "service_demand as CSV files beside it; .json: one file)"),
):
    """A synthetic schedule: sites with day cycles of price, carbon and temperature, tidal inference, trace-like jobs."""
    from .datasets.schedule_files import write_schedule_files
    from .generate_schedule import generate_schedule as schedule_instance
    from .instance.io import YAML_SUFFIXES, dump

    def write():
        instance = schedule_instance(gpus=gpus, jobs=jobs, services=services, sites=sites, hours=hours, seed=seed)
        if output.suffix.lower() in YAML_SUFFIXES:
            write_schedule_files(instance, output)  # a week of hourly series reads better as CSV
        else:
            dump(instance, output)
        return instance

    _write_instance(output, write)


def _write_instance(output: Path, write) -> None:
    """Run an instance writer (it writes atomically, so a failure leaves nothing behind);
    success names the file and what it holds."""
    from .instance.io import check_output_suffix

    check_output_suffix(output)
    instance = write()
    console.print(f"written: {output} ({_describe(instance)})", highlight=False)


@import_app.command("gap")
def import_gap(
    source: Path = typer.Argument(..., metavar="ORLIB_FILE", help="an OR-Library GAP instance file"),
    output: Path = typer.Option(..., "-o", "--output", help="instance file to write (.json or .yaml)"),
    problem: Optional[int] = typer.Option(None, "--problem", min=0,
                                          help="which problem (0-based) of a file holding several"),
):
    """OR-Library generalised assignment: one agent = one node; cost objective; all jobs required."""
    from .importers.gap import write_gap_instance

    _write_instance(output, lambda: write_gap_instance(source, output, problem))


@import_app.command("wt")
def import_wt(
    source: Path = typer.Argument(..., metavar="ORLIB_FILE", help="an OR-Library weighted tardiness file (wt40.txt)"),
    output: Path = typer.Option(..., "-o", "--output", help="instance file to write (.json or .yaml)"),
    problem: Optional[int] = typer.Option(None, "--problem", min=1,
                                          help="which problem (1-based, as OR-Library numbers them) of the file"),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="jobs a problem (default: N of the name wtN.txt)"),
):
    """OR-Library weighted tardiness 1||sum w_j T_j: one GPU, one period per time unit; cost = weighted tardiness."""
    from .importers.wt import write_wt_instance

    _write_instance(output, lambda: write_wt_instance(source, output, problem, jobs))


@import_app.command("alibaba")
def import_alibaba(
    nodes_csv: Path = typer.Argument(..., metavar="NODES_CSV", help="openb_node_list_*.csv"),
    pods_csv: Path = typer.Argument(..., metavar="PODS_CSV", help="openb_pod_list_*.csv"),
    output: Path = typer.Option(..., "-o", "--output", help="instance file to write (.json or .yaml)"),
    pods: Optional[int] = typer.Option(None, "--pods", min=0, help="only the first N pods (in arrival order)"),
    at: Optional[int] = typer.Option(None, "--at", min=0, help="only the pods alive at TIME (s): creation <= TIME < deletion"),
):
    """Alibaba GPU trace v2023: all nodes, the pods in arrival order; utilization objective."""
    from .importers.alibaba import write_alibaba_instance

    _write_instance(output, lambda: write_alibaba_instance(nodes_csv, pods_csv, output, pods=pods, at=at))


def main() -> None:  # pragma: no cover - console entry point
    app()
