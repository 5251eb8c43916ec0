"""The schedule's sequence local search (model/schedule/sequence_search.py): its decoded plans
pass the verifier and are valued as the verifier values their job terms, the search never
worsens its surrogate, it finds the brute-force optimum of small 1||sum w_j T_j cases, and
through gp.solve it reaches wt40 optima the LP-guided rounding alone did not."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import gpuplan as gp
from builders import skip_without_data
from gpuplan.importers.wt import WtData, read_wt, read_wt_optimum, wt_instance
from gpuplan.model.schedule.sequence_search import SequenceSearch, search_seconds, sequence_problem
from gpuplan.model.schedule.solve import build_schedule, schedule_weights
from gpuplan.verify.schedule.facts import schedule_facts
from gpuplan.verify.schedule.rules import schedule_violations
from gpuplan.verify.schedule.value import evaluate
from schedule_cases import micro

WT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "orlib" / "wt"
WT40, OPTIMA = WT_DIR / "wt40.txt", WT_DIR / "wtopt40.txt"
SECONDS = 30.0   # a cap only: these searches stop by stalling long before


def random_jobs(rng, n: int, periods: int) -> list[dict]:
    """Non-preemptible jobs of 1-2 GPUs with release, due dates, deadlines and values, some optional."""
    jobs = []
    for i in range(n):
        work = int(rng.integers(1, 4))
        release = int(rng.integers(0, 3))
        job = {"id": f"j{i}", "work_gpu_hours": work, "gpus": int(rng.integers(1, 3)), "preemptible": False,
               "release_h": release, "due_h": release + work + int(rng.integers(0, 3)),
               "tardiness_cost_per_h": int(rng.integers(1, 6)), "required": bool(rng.random() < 0.4),
               "value": int(rng.integers(0, 12))}
        if rng.random() < 0.3:
            job["deadline_h"] = min(periods, release + work + int(rng.integers(1, 5)))
        jobs.append(job)
    return jobs


def random_instance(seed: int):
    """Two sites of two 2-GPU nodes (one of them down in some periods), crowded: the search has choices."""
    rng = np.random.default_rng(seed)
    periods = 8
    capacity = [{"site": "a", "gpu_type": "g", "nodes": 2, "gpus_per_node": 2},
                {"site": "b", "gpu_type": "g", "nodes": 1, "gpus_per_node": 2}]
    return micro(periods=periods, sites=("a", "b"), capacity=capacity, jobs=random_jobs(rng, 9, periods),
                 idle_w=0.0, power_w=100.0)


def searched(instance, sequence=None, seed: int = 0) -> SequenceSearch:
    built = build_schedule(instance)
    problem = sequence_problem(built, schedule_weights(built), "min")
    assert problem is not None
    return SequenceSearch(problem, range(problem.jobs) if sequence is None else sequence, seed), built


def plan_rows(built, search: SequenceSearch) -> list[dict]:
    rows = []
    for job, placed in zip(built.index.jobs, search.placements):
        if placed is None:
            continue
        o, start = placed
        option = job.options[o]
        rows += [{"job": job.id, "site": option.site, "gpu_type": option.gpu_type, "period": start + i,
                  "gpus": option.gpus, "power_mode": option.mode} for i in range(job.duration(option))]
    return rows


def wt_micro(processing, weights, due):
    return wt_instance(WtData("micro", [int(x) for x in processing], [int(x) for x in weights], [int(x) for x in due]))


def brute_force_wt(processing, weights, due) -> float:
    best = float("inf")
    for order in itertools.permutations(range(len(processing))):
        finish, total = 0, 0
        for j in order:
            finish += processing[j]
            total += weights[j] * max(0, finish - due[j])
        best = min(best, total)
    return best


# ------------------------------------------------------------------ the decoder


@pytest.mark.parametrize("seed", range(6))
def test_decoded_plans_pass_the_verifier_and_are_valued_as_it_values_their_jobs(seed):
    instance = random_instance(seed)
    search, built = searched(instance, seed=seed)
    search.run(SECONDS)
    facts = schedule_facts(instance)
    ev = evaluate(facts, plan_rows(built, search), [], [])
    required = {job.id for job in built.index.jobs if job.required}
    unplaced = {job.id for job, placed in zip(built.index.jobs, search.placements) if placed is None}
    if required & unplaced:   # the surrogate's penalty: the completion would reject it; never so here
        pytest.fail(f"required jobs left out: {sorted(required & unplaced)}")
    assert schedule_violations(facts, ev) == []
    assert search.value == pytest.approx(ev.terms["tardiness_cost"] - ev.terms["job_value"])


@pytest.mark.parametrize("seed", range(6))
def test_solve_with_the_search_is_verified(seed):
    # the autouse fixture sends this result through the verifier
    result = gp.solve(random_instance(seed), problem="schedule", time_limit=30)
    assert result.has_solution


def test_the_search_skips_preemptible_jobs():
    instance = micro(periods=4, jobs=[{"id": "p", "work_gpu_hours": 2}])
    built = build_schedule(instance)
    assert sequence_problem(built, schedule_weights(built), "min") is None


def test_the_search_budget_is_a_small_share_of_the_time_left():
    assert search_seconds(20.0) == pytest.approx(6.0)
    assert search_seconds(100.0) == search_seconds(None) == pytest.approx(10.0)


# ------------------------------------------------------------------ the search


@pytest.mark.parametrize("seed", range(8))
def test_the_search_never_worsens_the_surrogate_and_its_value_is_the_decoded_one(seed):
    rng = np.random.default_rng(100 + seed)
    instance = random_instance(seed) if seed % 2 else wt_micro(rng.integers(1, 10, 8), rng.integers(1, 10, 8),
                                                              rng.integers(0, 30, 8))
    start = list(rng.permutation(len(instance.training_jobs)))
    search, _ = searched(instance, start, seed)
    before = search.decode(start)[0]
    assert search.value == pytest.approx(before)
    after = search.run(SECONDS)
    assert after <= before + 1e-9
    # the incremental values (kept trackers, early stops, cutoffs) agree with a decoding from scratch
    assert search.decode(search.sequence)[0] == pytest.approx(after)


def test_interchange_and_insertion_find_the_optimum_of_a_hand_made_case():
    # shortest-weighted-first and due-date order both miss here; the local optimum from due-date
    # order, without any kick, is the brute-force optimum
    processing, weights, due = [4, 3, 7, 2, 5, 6, 3], [2, 5, 1, 4, 3, 2, 6], [6, 5, 10, 3, 12, 15, 9]
    optimum = brute_force_wt(processing, weights, due)
    edd = sorted(range(7), key=lambda j: due[j])
    search, _ = searched(wt_micro(processing, weights, due), edd)
    assert search.value > optimum
    search.local_optimum(deadline=float("inf"))
    assert search.value == pytest.approx(optimum)


@pytest.mark.parametrize("seed", range(5))
def test_the_iterated_search_finds_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    processing, weights = rng.integers(1, 10, 7).tolist(), rng.integers(1, 10, 7).tolist()
    due = rng.integers(0, int(0.7 * sum(processing)), 7).tolist()
    search, _ = searched(wt_micro(processing, weights, due), seed=seed)
    assert search.run(SECONDS) == pytest.approx(brute_force_wt(processing, weights, due))


def test_the_search_is_deterministic():
    rng = np.random.default_rng(7)
    instance = wt_micro(rng.integers(1, 10, 12), rng.integers(1, 10, 12), rng.integers(0, 40, 12))
    runs = []
    for _ in range(2):
        search, _ = searched(instance, seed=3)
        search.run(SECONDS, stall_kicks=15)
        runs.append((search.value, search.sequence))
    assert runs[0] == runs[1]


# ------------------------------------------------------------------ wt40 through gp.solve


def reached(problem: int, time_limit: float):
    if not (WT40.is_file() and OPTIMA.is_file()):
        skip_without_data(f"reference data not found at {WT_DIR} (the shared data folder is absent)")
    instance = read_wt(WT40, problem=problem)
    result = gp.solve(instance, problem="schedule", time_limit=time_limit)
    assert result.objective == pytest.approx(read_wt_optimum(OPTIMA, problem=problem), abs=1e-6), result.message


def test_wt40_problem_81_optimum_is_now_reached():
    # before the search: 834 against 684 (benchmarks/README.md, 25-problem sample); at the LP bound,
    # so proved and returned without the MIP (about 25 s); the limit leaves room for a loaded machine
    reached(81, time_limit=120)


@pytest.mark.slow
@pytest.mark.parametrize("problem", [6, 31, 61])
def test_wt40_optima_the_rounding_missed_are_now_reached(problem):
    # before the search: 7137, 7162, 20889 against 6955, 6575, 20281; not proved, so these run to the limit
    reached(problem, time_limit=60)
