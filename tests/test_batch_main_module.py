"""solve_many from a script without ``if __name__ == "__main__":``: workers never import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "instances" / "small"

# Appends a line to RAN each time the script's body runs: once, in the process that was started.
SCRIPT = f"""\
import gpuplan as gp
with open("RAN", "a") as ran:
    ran.write("ran\\n")
frame = gp.solve_many([{str(SMALL)!r}], workers=2)
for row in frame.itertuples():
    print(row.instance, row.status, row.message)
"""


@pytest.mark.parametrize("how", ["file", "stdin", "module"])
def test_an_unguarded_script_runs_once_and_every_instance_is_solved(tmp_path, how):
    (tmp_path / "unguarded.py").write_text(SCRIPT)
    command = {"file": [sys.executable, "unguarded.py"], "stdin": [sys.executable, "-"],
               "module": [sys.executable, "-m", "unguarded"]}[how]
    with open(tmp_path / "unguarded.py") as script:
        done = subprocess.run(command, cwd=tmp_path, stdin=script if how == "stdin" else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line.split(maxsplit=2) for line in done.stdout.splitlines()]
    assert rows == [["all_features", "optimal"], ["quickstart", "optimal"]], done.stdout + done.stderr
    assert (tmp_path / "RAN").read_text() == "ran\n"
