"""Each problem's models/<problem>.md and its built model name the same constraints and
variables, both ways, and each constraint row names the function that builds it."""

from __future__ import annotations

import inspect
import re
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

import pyomo.environ as pyo
import pytest

import gpuplan as gp
from gpuplan.problems import PROBLEMS
from schedule_cases import all_features

ROOT = Path(__file__).resolve().parents[1]
ALL_FEATURES = ROOT / "instances" / "small" / "all_features.yaml"

# Per problem: an instance that builds every constraint family, and the objectives that
# together do (no single objective uses every family).
DOC_EXAMPLES = {
    "assignment": (lambda: gp.load(ALL_FEATURES), ("throughput", "fairness")),
    "schedule": (all_features, ("cost",)),
}


def test_every_problem_has_a_doc_example():
    assert set(DOC_EXAMPLES) == set(PROBLEMS)


def doc_text(problem: str) -> str:
    return (ROOT / "models" / PROBLEMS[problem].doc).read_text(encoding="utf-8")


def documented_constraints(problem: str) -> dict[str, str]:
    """Constraint name -> the function named in its row's last column."""
    table = doc_text(problem).split("### Constraints", 1)[1].split("\n###", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \|.*\| `([a-z_]+\.[a-z_]+)` \|$", table, flags=re.MULTILINE))


def built_models(problem: str):
    example, objectives = DOC_EXAMPLES[problem]
    build = PROBLEMS[problem].layer("build")
    return [build(example(), objective) for objective in objectives]


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_doc_lists_constraints(problem):
    table = doc_text(problem).split("### Constraints", 1)[1].split("\n###", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert len(rows) >= 5 and len(documented_constraints(problem)) == len(rows), "a row without its function"


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_doc_and_model_name_the_same_constraints(problem):
    built = set()
    for model in built_models(problem):
        built |= {c.name for c in model.model.component_objects(pyo.Constraint) if len(c) > 0}
    documented = set(documented_constraints(problem))
    assert built - documented == set(), f"constraints in the model but not in models/{PROBLEMS[problem].doc}"
    assert documented - built == set(), f"constraints in models/{PROBLEMS[problem].doc} but not built"


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_each_constraint_is_built_where_the_doc_says(problem):
    package = PROBLEMS[problem].build.split(":")[0].rsplit(".", 1)[0]   # gpuplan.model.<problem>
    for name, where in documented_constraints(problem).items():
        module, function = where.split(".")
        # a problem's own block, else a shared one (gpuplan.model.energy)
        home = f"{package}.{module}" if find_spec(f"{package}.{module}") else f"gpuplan.model.{module}"
        source = inspect.getsource(getattr(import_module(home), function))
        assert re.search(rf"\bm\.{name} = pyo\.Constraint", source), f"{name} is not built by {where}"


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_every_component_has_a_doc(problem):
    for built in built_models(problem):
        for component in built.model.component_objects((pyo.Var, pyo.Constraint, pyo.Set)):
            assert component.doc, f"{component.name} has no doc"


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_documented_variables_exist(problem):
    table = doc_text(problem).split("### Variables", 1)[1].split("\n###", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)\[?", table, flags=re.MULTILINE))
    built = set()
    for model in built_models(problem):
        built |= {v.name for v in model.model.component_objects(pyo.Var)}
    assert documented == built
