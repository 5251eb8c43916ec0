"""OR-Library GAP importer: counts and values against the raw files, the mapping, bad files."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

import gpuplan
from builders import skip_without_data
from gpuplan.errors import InputError
from gpuplan.importers.gap import gap_instance, parse_gap, read_gap, read_gap_data, write_gap_instance
from gpuplan.instance.nodes import node_infos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GAP_DIR = DATA / "orlib" / "gap"


def _need_data() -> None:
    if not (GAP_DIR / "optima.csv").is_file():
        skip_without_data(f"reference data not found at {GAP_DIR} (the shared data folder is absent)")


def _optima() -> dict[str, dict]:
    with (GAP_DIR / "optima.csv").open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def _raw(path: Path) -> list[int]:
    return [int(token) for token in path.read_text().split()]


def _cattrysse_files() -> list[Path]:
    return sorted((GAP_DIR / "cattrysse1994").iterdir()) if GAP_DIR.is_dir() else []


# ---------------------------------------------------------------- the OR-Library files


def test_every_cattrysse_file_has_the_published_size():
    _need_data()
    optima = _optima()
    files = _cattrysse_files()
    assert len(files) == 60
    for path in files:
        instance = read_gap(path)
        row = optima[f"cattrysse1994/{path.name}"]
        assert instance.name == path.name
        assert len(instance.node_pools) == int(row["agents"]), path.name
        assert len(instance.jobs) == int(row["jobs"]), path.name
        assert all(len(job.gpu_options) == int(row["agents"]) for job in instance.jobs)


@pytest.mark.parametrize("name", ["cattrysse1994/gap1-0", "cattrysse1994/gap7-3", "cattrysse1994/gap12-4",
                                  "chu1997/a05100"])
def test_values_match_the_raw_file(name):
    _need_data()
    path = GAP_DIR / name
    raw = _raw(path)
    m, n = raw[0], raw[1]
    costs, uses, capacities = raw[2:2 + m * n], raw[2 + m * n:2 + 2 * m * n], raw[2 + 2 * m * n:]
    instance = read_gap(path)
    pools = {pool.id: pool for pool in instance.node_pools}
    first, last = instance.jobs[0], instance.jobs[-1]
    assert first.option("agent-0").cost_per_hour == costs[0]  # c_11
    assert last.option(f"agent-{m - 1}").cost_per_hour == costs[-1]  # c_mn
    assert first.gpus_on("agent-0") == uses[0]  # a_11
    assert last.gpus_on(f"agent-{m - 1}") == uses[-1]  # a_mn
    assert pools["agent-0"].gpus_per_node == capacities[0]  # b_1
    assert pools[f"agent-{m - 1}"].gpus_per_node == capacities[-1]  # b_m
    # c_ij of an inner cell: job j's option on agent i (rows are agents, columns jobs).
    i, j = m // 2, n // 3
    assert instance.jobs[j].option(f"agent-{i}").cost_per_hour == costs[i * n + j]
    assert instance.jobs[j].gpus_on(f"agent-{i}") == uses[i * n + j]


def test_mapping_of_a_file():
    _need_data()
    instance = read_gap(GAP_DIR / "cattrysse1994" / "gap1-0")
    assert instance.options.objective == "cost"
    assert [site.id for site in instance.sites] == ["site"]
    assert [pod.id for pod in instance.pods] == ["pod"]
    assert [tenant.id for tenant in instance.tenants] == ["gap"]
    assert all(job.required and job.scope == "node" for job in instance.jobs)
    assert all(option.throughput == 1.0 for job in instance.jobs for option in job.gpu_options)
    assert all(pool.node_count == 1 and pool.gpu_type == pool.id for pool in instance.node_pools)
    assert [info.id for info in node_infos(instance)][:2] == ["agent-0-00", "agent-1-00"]


def test_write_gap_instance_round_trips(tmp_path):
    _need_data()
    source = GAP_DIR / "cattrysse1994" / "gap3-2"
    for suffix in (".json", ".yaml"):
        target = tmp_path / f"gap3-2{suffix}"
        written = write_gap_instance(source, target)
        assert gpuplan.load(target) == written == read_gap(source)


# ---------------------------------------------------------------- wiring, by brute force

# 2 agents x 8 jobs, written by hand. Capacities bind: the cheapest agent of every job is
# agent 0, which cannot take them all.
HAND = """2 8
 1 2 3 4 5 6 7 8
 9 9 9 9 9 9 9 9
 3 3 3 3 3 3 3 3
 2 2 2 2 2 2 2 2
 12 16
"""


def _brute_force_min_cost(instance) -> float:
    """Cheapest assignment of every job to one agent node within its GPUs, by enumeration."""
    capacity = {pool.id: pool.gpus_per_node * pool.node_count for pool in instance.node_pools}
    agents = sorted(capacity)
    gpus = [{a: job.gpus_on(a) for a in agents} for job in instance.jobs]
    cost = [{a: job.option(a).cost_per_hour for a in agents} for job in instance.jobs]
    best = float("inf")
    for choice in itertools.product(agents, repeat=len(instance.jobs)):
        used = dict.fromkeys(agents, 0)
        for j, agent in enumerate(choice):
            used[agent] += gpus[j][agent]
        if all(used[a] <= capacity[a] for a in agents):
            best = min(best, sum(cost[j][a] for j, a in enumerate(choice)))
    return best


def test_hand_instance_brute_force_optimum(tmp_path):
    path = tmp_path / "hand2x8"
    path.write_text(HAND)
    instance = read_gap(path)
    # Agent 0 holds 4 jobs (12 / 3): the cheapest ones, 1+2+3+4; the other 4 cost 9 each.
    assert _brute_force_min_cost(instance) == 1 + 2 + 3 + 4 + 4 * 9
    data = read_gap_data(path)
    assert data.costs == [[1, 2, 3, 4, 5, 6, 7, 8], [9] * 8]
    assert data.capacities == [12, 16]


def test_brute_force_on_a_reduced_file():
    """gap1-0 cut to its first 7 jobs (all 5 agents, capacities as published; they bind:
    the optimum 112 exceeds the 110 of every job on its cheapest agent) is solved by
    enumeration twice, from the raw numbers and from the instance: the wiring of c, a, b."""
    _need_data()
    raw = _raw(GAP_DIR / "cattrysse1994" / "gap1-0")
    m, n, k = raw[0], raw[1], 7
    costs = [raw[2 + i * n: 2 + i * n + k] for i in range(m)]
    uses = [raw[2 + m * n + i * n: 2 + m * n + i * n + k] for i in range(m)]
    capacities = raw[2 + 2 * m * n:]
    text = f"{m} {k}\n" + "\n".join(" ".join(map(str, row)) for row in costs + uses)
    text += "\n" + " ".join(map(str, capacities)) + "\n"
    best_raw = min(
        sum(costs[i][j] for j, i in enumerate(choice))
        for choice in itertools.product(range(m), repeat=k)
        if all(sum(uses[i][j] for j, a in enumerate(choice) if a == i) <= capacities[i] for i in range(m))
    )
    assert best_raw == 112
    assert _brute_force_min_cost(gap_instance(parse_gap(text))) == best_raw


# ---------------------------------------------------------------- malformed files


def _error(tmp_path, text: str) -> InputError:
    path = tmp_path / "bad"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_gap(path)
    error = info.value
    assert error.source == str(path)
    assert "\n" not in str(error)
    return error


def test_too_few_numbers(tmp_path):
    error = _error(tmp_path, "2 2\n1 2 3 4\n1 1 1 1\n5\n")
    assert error.path is None
    assert "expected 12 numbers" in error.problem and "found 11" in error.problem


def test_too_many_numbers(tmp_path):
    error = _error(tmp_path, "2 2\n1 2 3 4\n1 1 1 1\n5 5 7\n")
    assert "expected 12 numbers" in error.problem and "found 13" in error.problem


TWO_PROBLEMS = "2\n2 2\n1 2 3 4\n1 1 1 1\n5 5\n1 3\n9 8 7\n2 2 2\n4\n"


def test_a_file_of_several_problems_needs_a_choice(tmp_path):
    error = _error(tmp_path, TWO_PROBLEMS)
    assert error.problem == "the file holds 2 problems: pick one with --problem K (0 to 1)"
    path = tmp_path / "bad"
    first, second = read_gap_data(path, problem=0), read_gap_data(path, problem=1)
    assert (first.name, first.costs, first.uses, first.capacities) == ("bad-0", [[1, 2], [3, 4]], [[1, 1], [1, 1]], [5, 5])
    assert (second.name, second.costs, second.uses, second.capacities) == ("bad-1", [[9, 8, 7]], [[2, 2, 2]], [4])
    with pytest.raises(InputError, match="--problem 2: the file holds problems 0 to 1"):
        read_gap_data(path, problem=2)


def test_one_problem_files_take_no_other_choice(tmp_path):
    path = tmp_path / "one"
    path.write_text("2 2\n1 2 3 4\n1 1 1 1\n5 5\n")
    assert read_gap_data(path, problem=0).capacities == [5, 5]
    with pytest.raises(InputError, match="--problem 1: the file holds one problem"):
        read_gap_data(path, problem=1)


def test_orlib_multi_problem_file_matches_its_split_copies(tmp_path):
    _need_data()
    parts = [GAP_DIR / "cattrysse1994" / f"gap1-{k}" for k in range(5)]
    whole = tmp_path / "gap1"
    whole.write_text("5\n" + "".join(part.read_text() for part in parts))  # OR-Library's own layout
    for k, part in enumerate(parts):
        assert read_gap(whole, problem=k) == read_gap(part)


def test_non_integer_names_line_and_token(tmp_path):
    error = _error(tmp_path, "2 2\n1 2 3 4\n1 1.5 1 1\n5 5\n")
    assert error.path == "line 3, token 8"
    assert "not an integer" in error.problem and "'1.5'" in error.problem


def test_word_instead_of_number(tmp_path):
    error = _error(tmp_path, "2 two\n")
    assert error.path == "line 1, token 2"


def test_negative_value(tmp_path):
    error = _error(tmp_path, "2 2\n1 2 3 4\n1 1 1 1\n5 -5\n")
    assert error.path == "line 4, token 12"
    assert error.problem == "negative value -5"


def test_zero_resource_use(tmp_path):
    error = _error(tmp_path, "2 2\n1 2 3 4\n1 0 1 1\n5 5\n")
    assert error.path == "line 3, token 8"
    assert "resource use 0" in error.problem


@pytest.mark.parametrize("text", ["", "3", "0 4\n", "2 0\n5 5\n"])
def test_empty_or_degenerate_header(tmp_path, text):
    _error(tmp_path, text)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_gap(tmp_path / "absent")
    assert "cannot read file" in str(info.value)


def test_zero_capacity_agent_has_no_nodes(tmp_path):
    path = tmp_path / "zero-cap"
    path.write_text("2 1\n3 4\n1 1\n0 2\n")
    instance = read_gap(path)
    assert [pool.node_count for pool in instance.node_pools] == [0, 1]
    assert _brute_force_min_cost(instance) == 4
