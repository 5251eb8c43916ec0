"""Every real writer is atomic: a write interrupted mid-way (the new bytes are in a temporary
file, not yet renamed) leaves the old file as it was, and no temporary file behind."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import gpuplan as gp
import gpuplan.files
from gpuplan.batch.outputs import write_folder, write_summary
from gpuplan.cli import app

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "instances" / "small" / "quickstart.json"


class Interrupted(BaseException):
    """Stands for Ctrl-C or a kill arriving during a write."""


@pytest.fixture
def interrupt_writes(monkeypatch):
    """Every atomic write stops after its bytes reach the temporary file, before the rename."""
    def stop(fd):
        raise Interrupted

    monkeypatch.setattr(gpuplan.files.os, "fsync", stop)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _no_temporary_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_instance_writer_keeps_the_old_file(tmp_path, interrupt_writes):
    target = tmp_path / "instance.json"
    target.write_text("old")
    with pytest.raises(Interrupted):
        gp.dump(gp.load(QUICKSTART), target)
    assert target.read_text() == "old"
    _no_temporary_files(tmp_path)


@pytest.mark.parametrize("command", [["generate", "assignment", "--gpus", "16", "--jobs", "4"]])
def test_cli_output_keeps_the_old_file(tmp_path, monkeypatch, command):
    target = tmp_path / "out.json"
    target.write_text("old")

    def stop(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(gpuplan.files.os, "fsync", stop)
    result = CliRunner().invoke(app, [*command, "-o", str(target)])
    assert result.exit_code != 0
    assert target.read_text() == "old"
    _no_temporary_files(tmp_path)


def test_result_save_interrupted_leaves_no_mixed_folder(tmp_path, monkeypatch):
    """Saving over an earlier result: each file is old or new, never half; solution.json (the
    mark of a complete folder) is gone until the new one is written whole."""
    folder = tmp_path / "result"
    first = gp.solve(QUICKSTART, method="greedy")
    first.save(folder)
    old = _snapshot(folder)
    calls = {"n": 0}

    def stop_on_third(fd):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupted

    monkeypatch.setattr(gpuplan.files.os, "fsync", stop_on_third)
    with pytest.raises(Interrupted):
        gp.solve(QUICKSTART).save(folder)
    now = _snapshot(folder)
    assert "solution.json" not in now
    new_files = {name for name in now if now[name] != old.get(name)}
    assert len(new_files) <= 2 and all(now[name] == old[name] for name in now if name not in new_files)
    _no_temporary_files(folder)


def test_batch_summary_and_record_keep_the_old_files(tmp_path, interrupt_writes):
    (tmp_path / "summary.csv").write_text("old")
    with pytest.raises(Interrupted):
        write_summary(tmp_path, pd.DataFrame({"instance": ["a"], "status": ["optimal"]}))
    assert (tmp_path / "summary.csv").read_text() == "old"
    _no_temporary_files(tmp_path)


def test_batch_folder_record_is_old_or_new(tmp_path, monkeypatch):
    from gpuplan.batch.inputs import Item
    from gpuplan.batch.worker import Outcome

    folder = tmp_path / "quickstart"
    folder.mkdir()
    (folder / "batch.json").write_text(json.dumps({"old": True}))
    item = Item(index=0, name="quickstart", path=QUICKSTART, digest="x")

    def stop(fd):
        raise Interrupted

    monkeypatch.setattr(gpuplan.files.os, "fsync", stop)
    with pytest.raises(Interrupted):
        write_folder(folder, item, Outcome("quickstart", "infeasible", "none"), {}, {"status": "infeasible"})
    # clear() removed the old record first (a half-cleared folder is never taken as finished),
    # and the interrupted write left neither a partial record nor a temporary file.
    assert not (folder / "batch.json").exists()
    _no_temporary_files(folder)
