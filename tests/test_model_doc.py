"""models/assignment.md and the built model name the same constraints, both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pyomo.environ as pyo

import gpuplan as gp
from gpuplan.index.assignment import build_index
from gpuplan.model import build_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "models" / "assignment.md"
ALL_FEATURES = ROOT / "instances" / "small" / "all_features.yaml"


def documented_constraints() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("### Constraints", 1)[1].split("\n###", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))


def built_constraints(objective: str) -> set[str]:
    built = build_model(build_index(gp.load(ALL_FEATURES)), objective)
    return {c.name for c in built.model.component_objects(pyo.Constraint) if len(c) > 0}


def test_doc_lists_constraints():
    assert len(documented_constraints()) >= 20


def test_doc_and_model_name_the_same_constraints():
    # No single objective uses every family: the losses exist for value objectives, the
    # share only for fairness. Together they must cover the table exactly.
    built = built_constraints("throughput") | built_constraints("fairness")
    documented = documented_constraints()
    assert built - documented == set(), "constraints in the model but not in models/assignment.md"
    assert documented - built == set(), "constraints in models/assignment.md but not built for all_features"


def test_every_component_has_a_doc():
    built = build_model(build_index(gp.load(ALL_FEATURES)), "throughput")
    for component in built.model.component_objects((pyo.Var, pyo.Constraint)):
        assert component.doc, f"{component.name} has no doc"


def test_documented_variables_exist():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("### Variables", 1)[1].split("\n###", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)\[?", table, flags=re.MULTILINE))
    built = set()
    for objective in ("throughput", "fairness"):
        model = build_model(build_index(gp.load(ALL_FEATURES)), objective).model
        built |= {v.name for v in model.component_objects(pyo.Var)}
    assert documented == built
