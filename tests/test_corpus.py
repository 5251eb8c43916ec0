"""Hostile and broken input, row by row (tests/corpus/cases.py), for every registered problem.

Each row must give: the documented exit code; on failure exactly one line on stderr, naming
the file and the problem; no traceback; nothing written (no output file or folder left);
and no file outside the instance's folder opened or echoed (an audit hook records every
file the process opens while the row runs)."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import gpuplan.files as files
from gpuplan.cli import app
from gpuplan.errors import GpuplanError
from gpuplan.problems import PROBLEMS

from corpus.cases import CASES
from corpus.samples import SAMPLES
from corpus.workspace import SECRET_MARKER, Workspace

FORBIDDEN = (Path("/etc/passwd"), Path("/dev/zero"))
MAX_LINE_CHARS = 1500  # a file path, a field path and a capped problem

_opened: list[str] | None = None


def _audit(event: str, args) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes)):
        _opened.append(args[0] if isinstance(args[0], str) else args[0].decode(errors="replace"))


sys.addaudithook(_audit)


def _rows():
    for case in CASES:
        for problem in case.problems or tuple(PROBLEMS):
            yield pytest.param(case, problem, id=f"{case.kind}:{case.id}:{problem}")


def test_every_registered_problem_has_a_sample():
    assert set(PROBLEMS) <= set(SAMPLES), "add a Sample in tests/corpus/samples.py for each new problem"


def test_the_corpus_has_at_least_60_kinds_over_every_target():
    kinds = {case.id for case in CASES}
    assert len(kinds) == len(CASES) >= 60
    assert {"cli", "api", "batch", "import gap", "import alibaba", "generate"} <= {case.kind for case in CASES}


@pytest.fixture
def fault(monkeypatch):
    def apply(name: str | None) -> None:
        if name == "disk_full":
            def full(handle, data):
                raise OSError(errno.ENOSPC, "No space left on device")
            monkeypatch.setattr(files, "_write_all", full)
        elif name == "read_only":
            def denied(*args, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied")
            monkeypatch.setattr(files, "_writable", lambda folder: False)
            monkeypatch.setattr(files.tempfile, "mkstemp", denied)
        elif name is not None:
            raise ValueError(name)
    return apply


@pytest.mark.parametrize("case, problem", list(_rows()))
def test_corpus(case, problem, tmp_path, fault):
    global _opened
    ws = Workspace(tmp_path, problem)
    case.build(ws)
    before = ws.snapshot()
    fault(case.fault)
    _opened = []
    try:
        code, out, err = _run(case, ws)
    finally:
        opened, _opened = _opened, None

    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code == case.code, f"exit {code}, expected {case.code}: {out}{err}"
    _nothing_outside_read(ws, opened, out + err, before)
    if case.code == 0:
        assert case.fragment in out, out
    elif case.kind == "batch" and case.code == 1:
        _batch_row_is_one_line(ws, case)
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        line = lines[0]
        assert len(line) <= MAX_LINE_CHARS
        assert case.fragment in line, line
        assert ws.fill([case.names])[0] in line, line
    if not case.writes:
        assert ws.snapshot() == before, sorted(map(str, ws.snapshot() - before))


def _run(case, ws: Workspace) -> tuple[int, str, str]:
    if callable(case.run):
        try:
            case.run(ws)
        except GpuplanError as exc:
            return 2, "", f"error: {exc}\n"
        return 0, "ok", ""
    result = CliRunner().invoke(app, ws.fill(case.run))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _nothing_outside_read(ws: Workspace, opened: list[str], printed: str, before: set[Path]) -> None:
    """The secret beside the instance folder is never opened, printed or copied into an
    output (a batch's summary.csv); the marker may sit in a CSV cell *inside* the folder,
    whose content must not be echoed either."""
    forbidden = {ws.secret.resolve(), *FORBIDDEN}
    for path in opened:
        assert Path(path).resolve() not in forbidden, f"opened {path}"
    assert SECRET_MARKER not in printed
    for written in ws.snapshot() - before:
        if written.is_file() and not written.is_symlink():
            assert SECRET_MARKER.encode() not in written.read_bytes(), written


def _batch_row_is_one_line(ws: Workspace, case) -> None:
    summary = pd.read_csv(ws.paths["out"] / "summary.csv", keep_default_na=False)
    assert len(summary) == 1 and summary.status[0] == "invalid", summary
    message = summary.message[0]
    assert "\n" not in message and case.fragment in message and len(message) <= MAX_LINE_CHARS, message
    assert str(ws.paths["inst"]) in message
