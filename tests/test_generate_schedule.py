"""The synthetic schedule generator: sizes, determinism, work that fits, a valid instance."""

import pytest

import gpuplan as gp
from gpuplan.generate_schedule import FILL, generate_schedule


def _capacity_gpus(inst):
    return sum(c.nodes * c.gpus_per_node for c in inst.capacity if c.period is None)


def test_sizes_follow_the_arguments():
    inst = generate_schedule(gpus=800, jobs=40, services=5, sites=3, hours=48, seed=3)
    assert _capacity_gpus(inst) == 800
    assert len(inst.training_jobs) == 40 and len(inst.services) == 5 and len(inst.sites) == 3
    assert inst.time.periods == 48 and len(inst.site_series) == 3 * 48 and len(inst.service_demand) == 5 * 48
    assert not inst.pods and not inst.node_pools and not inst.jobs


def test_same_seed_same_instance_other_seed_other_instance():
    a = generate_schedule(400, 20, 3, 2, 24, seed=7)
    b = generate_schedule(400, 20, 3, 2, 24, seed=7)
    c = generate_schedule(400, 20, 3, 2, 24, seed=8)
    assert a.model_dump() == b.model_dump()
    assert a.model_dump() != c.model_dump()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_total_work_and_demand_fit_the_capacity(seed):
    inst = generate_schedule(2000, 300, 6, 3, 72, seed=seed)
    capacity_gpu_h = _capacity_gpus(inst) * 72
    work = sum(j.work_gpu_hours for j in inst.training_jobs)
    demand = sum(d.gpus for d in inst.service_demand)
    assert work + demand <= FILL * capacity_gpu_h * 1.01    # rounding of durations to 0.1 h
    largest = max(c.nodes * c.gpus_per_node for c in inst.capacity if c.gpu_type != "a800")
    for j in inst.training_jobs:
        assert j.gpus <= largest
        end = j.deadline_h if j.deadline_h is not None else 72
        assert j.work_gpu_hours / j.gpus <= end - j.release_h


def test_the_series_swing_within_a_day():
    inst = generate_schedule(400, 5, 2, 2, 24, seed=1)
    rows = [r for r in inst.site_series if r.site == "site-0"]
    prices = [r.price_per_kwh for r in rows]
    carbon = [r.carbon_g_per_kwh for r in rows]
    temps = [r.outdoor_temp_c for r in rows]
    assert max(prices) / min(prices) > 2.2 and max(carbon) / min(carbon) > 1.3 and max(temps) - min(temps) > 5
    assert any(r.grid_limit_kw is not None for r in rows)


def test_the_generated_instance_passes_the_loader_checks(tmp_path):
    inst = generate_schedule(400, 30, 4, 2, 24, seed=5)
    gp.dump(inst, tmp_path / "s.json")
    assert gp.load(tmp_path / "s.json").model_dump() == inst.model_dump()


def test_bad_sizes_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="gpus"):
        generate_schedule(8, 1, 1, 3, 24, seed=0)
    with pytest.raises(ValueError, match="hours"):
        generate_schedule(400, 1, 1, 1, 0, seed=0)


@pytest.mark.slow
def test_full_scale_builds():
    inst = generate_schedule(100_000, 5000, 50, 4, 168, seed=1)
    assert _capacity_gpus(inst) == 100_000 and len(inst.training_jobs) == 5000
