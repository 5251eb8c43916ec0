"""Batch solving: folders and names, the summary, failure rows, resume, Ctrl-C, engines."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import gpuplan as gp
from gpuplan.batch import BatchError
from gpuplan.batch.inputs import collect
from gpuplan.batch.run import CRASH_ENV, HANG_ENV
from gpuplan.cli import app
from gpuplan.generate import assignment_instance, write_assignment

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "instances" / "small" / "quickstart.json"
SOLVED_NAMES = ["cluster__big__g256", "cluster__g128", "cluster__g64", "csv__tenants"]
KPI_SAMPLE = ["allocated_gpus", "gpu_utilization", "placed_jobs"]
FIXED_COLUMNS = ["instance", "path", "problem", "status", "objective", "bound", "gap", "build_s",
                 "handoff_s", "solve_s", "total_s"]

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def write_good(folder: Path) -> Path:
    """Four small instances that solve to optimality, one of them with a CSV table."""
    write_assignment(folder / "cluster" / "g64.json", gpus=64, jobs=6, seed=1)
    write_assignment(folder / "cluster" / "g128.yaml", gpus=128, jobs=10, seed=2)
    write_assignment(folder / "cluster" / "big" / "g256.json", gpus=256, jobs=20, seed=3)
    data = json.loads(QUICKSTART.read_text())
    (folder / "csv").mkdir()
    (folder / "csv" / "tenants_table.csv").write_text(
        "id,weight,guaranteed_gpus,max_gpus\nresearch,1,16,\nproduct,2,,64\ninterns,0.5,,8\n")
    data["tenants"] = {"csv": "tenants_table.csv"}
    (folder / "csv" / "tenants.json").write_text(json.dumps(data))
    return folder


def write_bad(folder: Path) -> None:
    data = json.loads(QUICKSTART.read_text())
    for job in data["jobs"]:
        job["required"] = True
    (folder / "bad").mkdir()
    (folder / "bad" / "infeasible.json").write_text(json.dumps(data))
    (folder / "bad" / "malformed.yaml").write_text("schema_version: 1\ngpu_types: [}\n")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return write_good(tmp_path_factory.mktemp("good"))


def summary(out: Path) -> pd.DataFrame:
    frame = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=[""])
    parquet = pd.read_parquet(out / "summary.parquet")
    assert list(parquet.columns) == list(frame.columns)
    assert list(parquet.instance) == list(frame.instance) and list(parquet.status) == list(frame.status)
    return frame


def instance_file(row) -> Path:
    return Path(row.path)


def verify_solved(out: Path, frame: pd.DataFrame) -> None:
    """Every instance with a solution passes the independent verifier."""
    for row in frame.itertuples(index=False):
        if row.status in ("optimal", "feasible", "time_limit"):
            assert gp.verify(gp.load(instance_file(row)), out / row.instance) == []


def mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/batch.json")}


# ---------------------------------------------------------------- the CLI end to end


def test_batch_folder_writes_every_instance_and_the_summary(tmp_path):
    inputs = write_good(tmp_path / "in")
    write_bad(inputs)
    out = tmp_path / "out"
    result = run(inputs, "--out", out, "--workers", 2)
    assert result.exit_code == 1, result.output
    frame = summary(out)
    assert list(frame.columns[:11]) == FIXED_COLUMNS and frame.columns[-1] == "message"
    assert set(KPI_SAMPLE) <= set(frame.columns)
    assert list(frame.instance) == ["bad__infeasible", "bad__malformed", *SOLVED_NAMES]
    status = dict(zip(frame.instance, frame.status))
    assert status == {"bad__infeasible": "infeasible", "bad__malformed": "invalid",
                      **{name: "optimal" for name in SOLVED_NAMES}}
    with pytest.raises(gp.InputError) as bad_input:
        gp.load(inputs / "bad" / "malformed.yaml")
    assert frame.set_index("instance").loc["bad__malformed", "message"] == str(bad_input.value)
    solved = frame[frame.status == "optimal"]
    assert solved[["objective", "bound", "gap", "build_s", "handoff_s", "solve_s", "total_s"]].notna().all().all()
    verify_solved(out, frame)
    for name in SOLVED_NAMES + ["bad__infeasible"]:
        assert {"solution.json", "placements.csv", "jobs.csv", "solver.log", "batch.json"} <= {
            p.name for p in (out / name).iterdir()}
    record = json.loads((out / "bad__malformed" / "batch.json").read_text())
    assert record["status"] == "invalid" and record["hash"].startswith("sha256:")
    # problem None: each instance is solved as its own (from its sections)
    assert record["options"] == {"problem": None, "objective": None, "method": "milp", "time_limit": None,
                                 "mip_gap": 0.0001, "threads": 1, "seed": 0}
    assert not (out / "bad__malformed" / "solution.json").exists()
    # The terminal gets the summary table, not progress lines (CliRunner is not a terminal). A
    # progress line reads "solving ━━━━ 3/6 optimal 2 ... eta 0:00:01"; the table may wrap long
    # paths onto any number of lines, so lines are not counted.
    assert [line for line in result.output.splitlines() if "solving" in line or "━" in line] == []
    assert "bad__malformed" in result.output and "invalid" in result.output


def test_all_solved_exit_0_then_collision_refused_then_resume_and_overwrite(tmp_path):
    inputs = write_good(tmp_path / "in")
    out = tmp_path / "out"
    assert run(inputs, "--out", out).exit_code == 0
    first = mtimes(out)

    refused = run(inputs, "--out", out)
    assert refused.exit_code == 2
    assert f"{out / SOLVED_NAMES[0]} holds a finished result (and 3 more)" in one_line(refused)
    assert mtimes(out) == first

    resumed = run(inputs, "--out", out, "--resume")
    assert resumed.exit_code == 0 and "4 finished in an earlier run" in resumed.output
    assert mtimes(out) == first and len(summary(out)) == 4

    # Changing an instance file or a CSV table it reads makes only that instance stale.
    write_assignment(inputs / "cluster" / "g64.json", gpus=64, jobs=6, seed=9)
    table = inputs / "csv" / "tenants_table.csv"
    table.write_text(table.read_text().replace("research,1,", "research,3,"))
    assert run(inputs, "--out", out, "--resume").exit_code == 0
    changed = {name for name, stamp in mtimes(out).items() if stamp != first[name]}
    assert changed == {"cluster__g64", "csv__tenants"}
    verify_solved(out, summary(out))

    # Other options are other results; --overwrite solves everything again.
    second = mtimes(out)
    assert run(inputs, "--out", out, "--resume", "--method", "greedy").exit_code == 0
    third = mtimes(out)
    assert all(third[name] != second[name] for name in SOLVED_NAMES)
    assert set(summary(out).status) == {"feasible"}
    assert run(inputs, "--out", out, "--overwrite").exit_code == 0
    assert all(stamp != third[name] for name, stamp in mtimes(out).items())
    assert set(summary(out).status) == {"optimal"}


def test_readme_command_on_the_shipped_instances(tmp_path):
    out = tmp_path / "results"
    for _ in range(2):  # the README command passes --overwrite, so it can run again
        result = run(ROOT / "instances", "--out", out, "--overwrite")
        assert result.exit_code == 0, result.output
    frame = summary(out)
    shipped = sorted(p for p in (ROOT / "instances").rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    assert list(frame.instance) == ["__".join(p.relative_to(ROOT / "instances").with_suffix("").parts) for p in shipped]
    # each instance solved as its own problem: the assignment ones proved optimal, the schedule's
    # real case (a week of 4,416 GPUs, the large-instance path) with its proven gap
    assert "small__quickstart" in set(frame.instance)
    assert set(frame.problem) == {"assignment", "schedule"}
    assert set(frame.loc[frame.problem == "assignment", "status"]) == {"optimal"}
    week = frame.set_index("instance").loc["schedule__tidal_week_3sites"]
    assert week.status in ("optimal", "feasible") and week.bound <= week.objective and week.gap < 0.25
    verify_solved(out, frame)
    # The terminal table shows every solved instance with its status, objective and gap.
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if "__" in line}
    for row in frame.itertuples():
        assert lines[row.instance][1:4] == [row.status, f"{row.objective:,.6g}", f"{row.gap:.2%}"]


@pytest.mark.parametrize("args, message", [
    (["nowhere", "--out", "OUT"], "no such file or folder: nowhere"),
    (["IN/*.csv", "--out", "OUT"], "no instance files (*.json, *.yaml, *.yml) match 'IN/*.csv'"),
    (["EMPTY", "--out", "OUT"], "no instance files (*.json, *.yaml, *.yml) in folder EMPTY"),
    (["IN", "--out", "OUT", "--objective", "speed"], "unknown objective 'speed'"),
    (["IN", "--out", "OUT", "--method", "exact"], "unknown method 'exact'"),
    (["IN", "--out", "OUT", "--problem", "schedul"], "unknown problem 'schedul'"),
    (["IN", "--out", "OUT", "--mip-gap", "2"], "mip_gap must be in [0, 1)"),
    (["IN", "--out", "OUT", "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    (["IN", "--out", "OUT", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
    (["IN", "--out", "OUT", "--scheduler", "nonsense"], "scheduler address 'nonsense' is not of the form tcp://HOST:PORT"),
    (["IN", "--out", "OUT", "--scheduler", "tcp://host:99999"], "is not of the form tcp://HOST:PORT"),
    (["IN", "--out", "OUT", "--scheduler", "nowhere://host:1"], "unknown address scheme 'nowhere'"),
    (["IN", "--out", "OUT", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "--workers and --scheduler exclude"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, good, monkeypatch, args, message):
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "EMPTY" / "notes.txt").write_text("no instances here")
    paths = {"IN": str(good), "OUT": str(tmp_path / "out"), "EMPTY": str(tmp_path / "EMPTY")}
    args = [paths.get(a, a).replace("IN/", f"{good}/") for a in args]
    message = message.replace("IN/", f"{good}/").replace("EMPTY", paths["EMPTY"])
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert message in one_line(result)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def not_dask():
    """A TCP server that answers every connection in HTTP, not in Dask's protocol."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed at teardown
                return
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("scheduler", ["nonsense", "tcp://127.0.0.1:9", "not-dask"])
def test_a_bad_scheduler_is_one_line_and_the_process_ends(tmp_path, good, not_dask, scheduler):
    """A failed connection leaves no half-made Client behind to block and complain at exit."""
    scheduler = not_dask if scheduler == "not-dask" else scheduler
    command = [sys.executable, "-c", "from gpuplan.cli import main; main()", "batch", str(good),
               "--out", str(tmp_path / "out"), "--scheduler", scheduler]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert scheduler in done.stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_folder_exit_2(tmp_path, good, monkeypatch):
    real_scandir = os.scandir
    locked = good / "cluster" / "big"

    def scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run(good, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert f"cannot read folder {locked}: Permission denied" in one_line(result)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- names


def test_names_are_relative_to_the_common_root_and_never_collide(tmp_path):
    for rel in ["x/a.json", "x/a.yaml", "x/sub/b.yml", "x/.hidden/c.json", "y/d.json", "x/out/solution.json"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    names = [item.name for item in collect([tmp_path / "x", tmp_path / "y"], exclude=tmp_path / "x" / "out")]
    assert names == ["x__a.json", "x__a.yaml", "x__sub__b", "y__d"]
    assert [item.name for item in collect(tmp_path / "x" / "sub" / "b.yml")] == ["b"]
    assert [item.name for item in collect(str(tmp_path / "x" / "*" / "*.yml"))] == ["sub__b"]
    # The same file twice is one instance.
    assert len(collect([tmp_path / "y", tmp_path / "y" / "d.json"])) == 1
    (tmp_path / "x__sub__b.yml").write_text("{}")
    with pytest.raises(BatchError, match=r"two instances would share the output folder 'x__sub__b\.yml'"):
        collect([tmp_path / "x", tmp_path / "x__sub__b.yml"])


def test_folder_walks_skip_gpuplan_outputs_but_not_instances_beside_them(tmp_path):
    inputs = write_good(tmp_path / "in")
    assert run(inputs / "cluster", "--out", inputs / "earlier").exit_code == 0  # a batch's folders
    gp.solve(QUICKSTART).save(inputs / "beside")                                  # gpuplan solve --out
    (inputs / "beside" / "quickstart.json").write_bytes(QUICKSTART.read_bytes())   # ... next to its instance
    (inputs / "named").mkdir()                                                    # instances that merely
    (inputs / "named" / "solution.json").write_bytes(QUICKSTART.read_bytes())      # have an output's name
    (inputs / "named" / "batch.json").write_bytes(QUICKSTART.read_bytes())
    walked = ["beside__quickstart", *SOLVED_NAMES, "named__batch", "named__solution"]
    assert [item.name for item in collect(inputs)] == walked
    assert [item.name for item in collect(str(inputs / "*"))] == walked  # folders matched by a glob are walked
    # A file named or matched explicitly is taken whatever it holds.
    assert [item.name for item in collect(inputs / "beside" / "solution.json")] == ["solution"]
    assert [item.name for item in collect(str(inputs / "earlier" / "*" / "*.json"))] == [
        f"{name}__{file}" for name in ("big__g256", "g128", "g64") for file in ("batch", "solution")]
    out = tmp_path / "out"
    result = run(inputs, "--out", out)
    assert result.exit_code == 0, result.output
    assert list(summary(out).instance) == walked


def test_solve_many_in_memory_with_instance_objects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = assignment_instance(64, 6, seed=4)
    loose = base.model_copy(update={"options": base.options.model_copy(update={"mixed_type_penalty": 0.0})})
    quick = gp.load(QUICKSTART)
    frame = gp.solve_many([base, loose, quick], workers=2)
    assert list(tmp_path.iterdir()) == []
    assert list(frame.instance) == [f"{base.name}-0", f"{base.name}-1", "quickstart"]
    assert list(frame.status) == ["optimal"] * 3 and list(frame.path) == [""] * 3
    results = frame.attrs["results"]
    for instance, name in zip([base, loose, quick], frame.instance):
        assert gp.verify(instance, results[name]) == []
    assert frame[frame.objective > 0].attrs["results"] is results


# ---------------------------------------------------------------- failures


def test_a_crashing_worker_is_a_row_and_the_batch_goes_on(tmp_path, good, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv(CRASH_ENV, "cluster__g128")
    result = run(good, "--out", out, "--workers", 2)
    assert result.exit_code == 1
    frame = summary(out).set_index("instance")
    assert frame.loc["cluster__g128", "status"] == "crashed"
    assert frame.loc["cluster__g128", "message"] == "worker process killed by SIGKILL"
    assert (frame.drop("cluster__g128").status == "optimal").all()
    before = mtimes(out)
    monkeypatch.delenv(CRASH_ENV)
    assert run(good, "--out", out, "--resume").exit_code == 0
    assert {name for name, stamp in mtimes(out).items() if stamp != before[name]} == {"cluster__g128"}
    verify_solved(out, summary(out))


def test_an_unreadable_file_is_an_invalid_row(tmp_path, monkeypatch):
    import builtins

    import gpuplan.textfiles

    locked = write_assignment(tmp_path / "locked.json", gpus=64, jobs=6, seed=1) and tmp_path / "locked.json"
    real_open = builtins.open

    def open_file(path, *args, **kwargs):   # every instance read goes through textfiles
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(gpuplan.textfiles, "open", open_file, raising=False)
    frame = gp.solve_many(locked)
    assert (frame.instance[0], frame.status[0]) == ("locked", "invalid")
    assert frame.message[0] == f"{locked}: cannot read file: Permission denied"


def test_an_exception_in_a_solve_is_an_error_row(monkeypatch):
    import gpuplan.api
    from gpuplan.batch import worker

    def broken(*args, **kwargs):
        raise RuntimeError("solver\nfell over")

    monkeypatch.setattr(gpuplan.api, "solve", broken)
    outcome = worker.run_task(worker.Task("x", str(QUICKSTART), None, {}))
    assert (outcome.status, outcome.message, outcome.result) == ("error", "RuntimeError: solver fell over", None)


def test_ctrl_c_keeps_finished_results_and_resume_does_the_rest(tmp_path, good):
    out = tmp_path / "out"
    env = {**os.environ, HANG_ENV: "cluster__g128"}
    command = [sys.executable, "-c", "from gpuplan.cli import main; main()", "batch", str(good),
               "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    first = out / SOLVED_NAMES[0] / "batch.json"  # inputs are solved in order; the second one hangs
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists(), process.communicate()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted: 1 of 4 instances finished; rerun with --resume" in stderr
    frame = summary(out)
    assert list(frame.instance) == [SOLVED_NAMES[0]] and list(frame.status) == ["optimal"]
    verify_solved(out, frame)
    assert not (out / "cluster__g128" / "solution.json").exists()
    stamp = first.stat().st_mtime_ns

    result = run(good, "--out", out, "--resume")
    assert result.exit_code == 0 and "1 finished in an earlier run" in result.output
    assert first.stat().st_mtime_ns == stamp
    frame = summary(out)
    assert list(frame.instance) == SOLVED_NAMES and set(frame.status) == {"optimal"}
    verify_solved(out, frame)


# ---------------------------------------------------------------- engines give identical results


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    yield cluster
    cluster.close()


def test_serial_parallel_and_dask_give_identical_results(tmp_path, good, dask_cluster):
    runs = {"serial": ["--workers", 1], "parallel": ["--workers", 2],
            "dask": ["--scheduler", dask_cluster.scheduler_address]}
    outcomes = {}
    for label, args in runs.items():
        out = tmp_path / label
        result = run(good, "--out", out, *args)
        assert result.exit_code == 0, result.output
        frame = summary(out)
        verify_solved(out, frame)
        placements = {name: pd.read_csv(out / name / "placements.csv") for name in frame.instance}
        outcomes[label] = (list(frame.instance), list(frame.objective), placements)
    serial = outcomes["serial"]
    for label in ("parallel", "dask"):
        names, objectives, placements = outcomes[label]
        assert names == serial[0] and objectives == serial[1]
        for name in names:
            pd.testing.assert_frame_equal(placements[name], serial[2][name])


def test_import_gpuplan_loads_neither_pyomo_nor_dask():
    code = ("import sys, gpuplan; heavy = lambda: [m for m in ('pyomo', 'distributed') if m in sys.modules]; "
            "print(heavy()); assert callable(gpuplan.solve_many); print(heavy())")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["[]", "[]"]


def test_a_batch_without_a_problem_takes_names_some_problem_knows(tmp_path):
    from gpuplan.batch import Batch

    # asap is the schedule's baseline: a mixed batch may ask for it (an assignment instance then
    # reports the unknown method in its own row); a name no problem knows stops the batch first
    Batch.prepare([QUICKSTART], tmp_path / "a", method="asap")
    with pytest.raises(ValueError, match="unknown method 'bogus' for every problem"):
        Batch.prepare([QUICKSTART], tmp_path / "b", method="bogus")
    with pytest.raises(ValueError, match="unknown objective 'speed' for every problem"):
        Batch.prepare([QUICKSTART], tmp_path / "c", objective="speed")
