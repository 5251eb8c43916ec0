"""OR-Library GAP gap1-gap12 (60 instances): every published minimisation optimum reproduced
exactly, and the verifier accepts every solution."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import gpuplan as gp
from builders import needs_data

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "orlib" / "gap"


def _cases():
    if not (DATA / "optima.csv").exists():
        return []
    with (DATA / "optima.csv").open() as handle:
        return [(row["path"], int(row["min_optimum"])) for row in csv.DictReader(handle)
                if row["dataset"] == "cattrysse1994"]


CASES = _cases()


@needs_data(bool(CASES), f"OR-Library GAP data not found at {DATA}")
def test_all_sixty_instances_present():
    assert len(CASES) == 60


@needs_data(bool(CASES), f"OR-Library GAP data not found at {DATA}")
@pytest.mark.parametrize("path,optimum", CASES, ids=[p.split("/")[-1] for p, _ in CASES])
def test_gap_optimum_reproduced(path, optimum):
    from gpuplan.importers.gap import read_gap

    instance = read_gap(DATA / path)
    result = gp.solve(instance, mip_gap=0)
    gp.verify(instance, result)
    assert result.status == "optimal"
    assert result.objective == optimum
    assert (result.jobs.state == "placed").all()
