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


# Import closures without gpuplan/__init__.py (which may load the solver): module -> the
# package prefixes it must not load.
BARE = {
    "gpuplan.heuristics.schedule": ("pyomo", "gpuplan.model", "gpuplan.solver"),
    "gpuplan.verify.schedule.check": ("pyomo", "gpuplan.model", "gpuplan.index", "gpuplan.solver"),
    "gpuplan.verify.schedule.value": ("pyomo", "gpuplan.model", "gpuplan.index", "gpuplan.solver"),
}
_BARE_IMPORT = """
import importlib.util, sys, types
spec = importlib.util.find_spec("gpuplan")
package = types.ModuleType("gpuplan")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["gpuplan"] = package
import {module}
print(" ".join(sorted(m for m in sys.modules if m == "pyomo" or m.startswith({prefixes!r}))))
"""


@pytest.mark.parametrize("module", sorted(BARE))
def test_bare_import_closure(module):
    prefixes = tuple(p + "." if p == "pyomo" else p for p in BARE[module])
    code = _BARE_IMPORT.format(module=module, prefixes=prefixes)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split() == [], f"{module} loads {out.stdout.strip()}"
