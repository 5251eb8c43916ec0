"""The shipped tidal-week case: it loads, has the stated sizes, and the builder reproduces it."""

from pathlib import Path

import pytest

import gpuplan as gp

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "instances" / "schedule"
DATA = ROOT.parent / "shared" / "data"
SHIPPED = ["tidal_week_3sites.yaml", "site_series.csv", "service_demand.csv"]


def test_shipped_case_loads_with_the_stated_sizes():
    inst = gp.load(CASE / "tidal_week_3sites.yaml")
    assert [s.id for s in inst.sites] == ["hohhot", "guiyang", "shanghai"]
    assert inst.time.periods == 168 and inst.time.period_hours == 1.0
    assert len(inst.site_series) == 3 * 168
    assert sum(c.nodes * c.gpus_per_node for c in inst.capacity if c.period is None) == 4416
    assert len(inst.training_jobs) == 220 and len(inst.services) == 7
    assert len(inst.service_demand) == 7 * 168
    assert not inst.pods and not inst.node_pools and not inst.jobs
    # the grid limit is not all slack: Shanghai all week, Hohhot in a demand-response window
    limited = {r.site for r in inst.site_series if r.grid_limit_kw is not None}
    assert limited == {"hohhot", "shanghai"}
    assert any(not j.preemptible for j in inst.training_jobs)
    assert any(j.deadline_h is not None for j in inst.training_jobs)


def test_training_work_fits_the_capacity_left_by_the_services():
    inst = gp.load(CASE / "tidal_week_3sites.yaml")
    capacity_gpu_h = 4416 * 168
    service_gpu_h = sum(d.gpus for d in inst.service_demand)      # reference GPUs (H-class = 1)
    work = sum(j.work_gpu_hours for j in inst.training_jobs)
    assert work + service_gpu_h < 0.5 * capacity_gpu_h
    for j in inst.training_jobs:    # each job alone fits between release and its limit at full speed
        end = j.deadline_h if j.deadline_h is not None else 168
        assert j.work_gpu_hours / j.gpus <= end - j.release_h


@pytest.mark.skipif(not DATA.is_dir(), reason=f"reference data absent ({DATA})")
def test_rebuilding_from_the_reference_data_gives_the_shipped_files(tmp_path):
    from gpuplan.datasets import write_tidal_week

    write_tidal_week(DATA, tmp_path)
    for name in SHIPPED:
        assert (tmp_path / name).read_bytes() == (CASE / name).read_bytes(), name
