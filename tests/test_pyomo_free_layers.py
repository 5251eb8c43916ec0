"""The heuristics and the index load without Pyomo: the greedy is the baseline and MIP start,
and must stay usable (and quick to import) where no model is built."""

import subprocess
import sys

import pytest

PYOMO_FREE = [
    "gpuplan.index.assignment",
    "gpuplan.index.node_grant",
    "gpuplan.heuristics.assignment.greedy",
    "gpuplan.heuristics.assignment.state",
    "gpuplan.heuristics.assignment.reasons",
]


@pytest.mark.parametrize("module", PYOMO_FREE)
def test_module_imports_without_pyomo(module):
    check = (f"import sys, {module}; "
             "loaded = sorted(m for m in sys.modules if m == 'pyomo' or m.startswith(('pyomo.', 'gpuplan.model'))); "
             "print(' '.join(loaded[:5]))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"{module} loads {done.stdout.strip()}"
