"""OR-Library weighted tardiness importer: sizes and values against the raw file, the
published optima, the mapping to 1||sum w_j T_j, the command line, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import gpuplan as gp
from builders import skip_without_data
from gpuplan.cli import app
from gpuplan.errors import InputError
from gpuplan.importers.wt import parse_wt, read_wt, read_wt_data, read_wt_optimum, write_wt_instance

WT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "orlib" / "wt"
WT40, OPTIMA = WT_DIR / "wt40.txt", WT_DIR / "wtopt40.txt"
PROBLEMS, JOBS = 125, 40


def _need_data() -> None:
    if not (WT40.is_file() and OPTIMA.is_file()):
        skip_without_data(f"reference data not found at {WT_DIR} (the shared data folder is absent)")


def _raw() -> list[int]:
    return [int(token) for token in WT40.read_text().split()]


def _weighted_tardiness(instance, order: list[int]) -> float:
    """sum w_j max(0, C_j - d_j) of running the training jobs back to back in ``order``,
    from the instance's fields (work = processing time on the 1-GPU machine)."""
    jobs, finish, total = instance.training_jobs, 0.0, 0.0
    for j in order:
        finish += jobs[j].work_gpu_hours
        total += jobs[j].tardiness_cost_per_h * max(0.0, finish - jobs[j].due_h)
    return total


# ---------------------------------------------------------------- the OR-Library files


def test_every_problem_has_40_jobs_on_one_gpu_over_its_total_processing_time():
    _need_data()
    horizons = []
    for k in range(1, PROBLEMS + 1):
        instance = read_wt(WT40, problem=k)
        jobs = instance.training_jobs
        assert instance.name == f"wt40-{k}"
        assert len(jobs) == JOBS
        assert instance.time.periods == sum(job.work_gpu_hours for job in jobs)
        assert instance.time.period_hours == 1.0
        horizons.append(instance.time.periods)
    # SOURCE.md's figures: total processing time per instance 1,463-2,467 time units
    assert (min(horizons), max(horizons)) == (1463, 2467)


def test_the_mapping_is_a_single_machine_without_energy():
    _need_data()
    instance = read_wt(WT40, problem=1)
    assert [(g.id, g.power_w, g.idle_power_w) for g in instance.gpu_types] == [("machine", 0.0, 0.0)]
    assert [(c.site, c.gpu_type, c.nodes, c.gpus_per_node, c.period) for c in instance.capacity] == \
        [("site", "machine", 1, 1, None)]
    assert not instance.site_series and not instance.facilities and not instance.power_modes and not instance.services
    for job in instance.training_jobs:
        assert job.gpus_on("machine") == 1 and job.gpu_options[0].throughput == 1.0
        assert job.required and not job.preemptible and not job.migratable
        assert job.release_h == 0.0 and job.deadline_h is None
        assert job.restart_overhead_gpu_hours == 0.0 and job.value == 0.0


def test_first_and_last_problem_hold_the_numbers_of_the_raw_file():
    _need_data()
    raw = _raw()
    assert len(raw) == PROBLEMS * 3 * JOBS
    first = read_wt(WT40, problem=1).training_jobs
    assert [job.id for job in first[:2]] == ["job-1", "job-2"]
    assert [job.work_gpu_hours for job in first] == raw[:40]                  # p_j
    assert [job.tardiness_cost_per_h for job in first] == raw[40:80]          # w_j
    assert [job.due_h for job in first] == raw[80:120]                        # d_j
    assert (first[0].work_gpu_hours, first[0].tardiness_cost_per_h, first[0].due_h) == (26, 1, 1588)
    last = read_wt_data(WT40, problem=PROBLEMS)
    assert (last.processing[0], last.weights[-1], last.due[-1]) == (raw[-120], raw[-41], raw[-1])


def test_published_optima():
    _need_data()
    assert read_wt_optimum(OPTIMA, 1) == 913
    assert read_wt_optimum(OPTIMA, 19) == 77122       # wtinfo: the best known value, not proven
    assert read_wt_optimum(OPTIMA, PROBLEMS) == 104531
    optima = [read_wt_optimum(OPTIMA, k) for k in range(1, PROBLEMS + 1)]
    assert sum(value == 0 for value in optima) == 18  # SOURCE.md: 18 instances have optimum 0
    with pytest.raises(InputError, match="--problem 126: the file holds problems 1 to 125"):
        read_wt_optimum(OPTIMA, PROBLEMS + 1)


def test_earliest_due_date_order_is_never_better_than_the_optimum():
    """EDD's weighted tardiness, computed from the instance's fields, is an upper bound of the
    optimum; where the optimum is 0, EDD reaches it (EDD minimises the largest lateness, so it
    is on time whenever some order is)."""
    _need_data()
    for k in range(1, PROBLEMS + 1):
        instance = read_wt(WT40, problem=k)
        edd = sorted(range(JOBS), key=lambda j: instance.training_jobs[j].due_h)
        optimum = read_wt_optimum(OPTIMA, k)
        value = _weighted_tardiness(instance, edd)
        assert value >= optimum, k
        if optimum == 0:
            assert value == 0, k
    assert _weighted_tardiness(read_wt(WT40, problem=1), list(range(JOBS))) > read_wt_optimum(OPTIMA, 1)


def test_write_wt_instance_round_trips(tmp_path):
    _need_data()
    for suffix in (".json", ".yaml"):
        target = tmp_path / f"wt40-7{suffix}"
        written = write_wt_instance(WT40, target, problem=7)
        assert gp.load(target) == written == read_wt(WT40, problem=7)


# ---------------------------------------------------------------- command line


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_import_wt_then_load(tmp_path):
    _need_data()
    out = tmp_path / "wt40-19.yaml"
    result = run("import", "wt", WT40, "--problem", 19, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"written: {out} (1 sites, 1 GPUs, 40 training jobs, 0 services, 2,303 periods of 1 h)" in " ".join(result.output.split())
    loaded = gp.load(out)
    assert loaded == read_wt(WT40, problem=19)
    assert loaded.name == "wt40-19"


@pytest.mark.parametrize("args,message", [
    (["--problem", 126], "wt40.txt: --problem 126: the file holds problems 1 to 125"),
    ([], "wt40.txt: the file holds 125 problems: pick one with --problem K (1 to 125)"),
])
def test_import_wt_bad_problem_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    _need_data()
    out = tmp_path / "out.yaml"
    result = run("import", "wt", WT40, *args, "-o", out)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert not out.exists()


def test_import_wt_problem_numbers_start_at_1(tmp_path):
    out = tmp_path / "out.yaml"
    result = run("import", "wt", tmp_path / "wt40.txt", "--problem", 0, "-o", out)
    assert result.exit_code == 2
    assert "Invalid value for '--problem': Input should be greater than or equal to 1" in result.output
    assert not out.exists()


def test_import_wt_malformed_file_exit_2(tmp_path):
    bad = tmp_path / "wt2.txt"
    bad.write_text("3 4\n1 2\n5 x\n")
    out = tmp_path / "out.json"
    result = run("import", "wt", bad, "-o", out)
    assert result.exit_code == 2
    assert f"{bad}: line 3, token 6: not an integer: 'x'" in result.output
    assert not out.exists()


# ---------------------------------------------------------------- hand-written files

# Two problems of 3 jobs: processing times, weights, due dates.
HAND = """ 3 2 1   1 5 2   2 2 6
 4 4 4   1 1 1   0 4 12
"""


def _error(tmp_path, text: str, name: str = "wt3.txt", **kwargs) -> InputError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_wt(path, **kwargs)
    assert info.value.source == str(path)
    assert "\n" not in str(info.value)
    return info.value


def test_hand_file_problems_and_their_optimum(tmp_path):
    path = tmp_path / "wt3.txt"
    path.write_text(HAND)
    first, second = read_wt_data(path, problem=1), read_wt_data(path, problem=2)
    assert (first.name, first.processing, first.weights, first.due) == ("wt3-1", [3, 2, 1], [1, 5, 2], [2, 2, 6])
    assert (second.name, second.processing, second.weights, second.due) == ("wt3-2", [4, 4, 4], [1, 1, 1], [0, 4, 12])
    instance = read_wt(path, problem=1)
    assert instance.time.periods == 6
    # By hand: job-2 first (done at 2, on time), then job-1 (done at 5, 3 late, weight 1), then
    # job-3 (done at 6, on time): 3. Every other order costs more.
    assert _weighted_tardiness(instance, [1, 0, 2]) == 3
    assert min(_weighted_tardiness(instance, order) for order in
               ([0, 1, 2], [0, 2, 1], [1, 2, 0], [2, 0, 1], [2, 1, 0])) > 3


def test_number_of_numbers_must_fit_the_jobs(tmp_path):
    error = _error(tmp_path, HAND + " 7\n", problem=1)
    assert error.path is None
    assert error.problem == ("expected a multiple of 9 numbers (processing times, weights and due dates of 3 jobs "
                             "a problem), found 19")


def test_the_number_of_jobs_comes_from_the_name_or_is_given(tmp_path):
    error = _error(tmp_path, HAND, name="tardiness.txt", problem=1)
    assert "the number of jobs is not in the file" in error.problem
    path = tmp_path / "tardiness.txt"
    assert len(read_wt(path, problem=2, jobs=3).training_jobs) == 3
    with pytest.raises(InputError, match="expected a multiple of 12 numbers"):
        read_wt(path, problem=1, jobs=4)


@pytest.mark.parametrize("text,where,problem", [
    (HAND.replace("3 2 1", "3 -2 1"), "line 1, token 2", "negative value -2"),
    (HAND.replace("3 2 1", "3 2.5 1"), "line 1, token 2", "not an integer: '2.5'"),
    (HAND.replace("4 4 4", "4 0 4"), "line 2, token 11", "processing time 0 (problem 2, job 2)"),
    (HAND.replace("1 5 2", "1 0 2"), "line 1, token 5", "weight 0 (problem 1, job 2)"),
])
def test_bad_numbers_name_line_and_token(tmp_path, text, where, problem):
    error = _error(tmp_path, text, problem=2 if "problem 2" in problem else 1)
    assert error.path == where
    assert problem in error.problem


def test_one_problem_needs_no_choice(tmp_path):
    path = tmp_path / "wt3.txt"
    path.write_text(HAND.splitlines()[0])
    assert read_wt(path).name == "wt3-1"
    assert parse_wt("1 1 1 2 2 0", jobs=2).due == [2, 0]


def test_malformed_optima_file(tmp_path):
    path = tmp_path / "wtopt3.txt"
    path.write_text("913\n\n12x\n5 6\n")
    assert read_wt_optimum(path, 1) == 913
    with pytest.raises(InputError, match=r"wtopt3.txt: line 3: not an integer: '12x'"):
        read_wt_optimum(path, 2)
    with pytest.raises(InputError, match=r"wtopt3.txt: line 4: expected one value a line"):
        read_wt_optimum(path, 3)
    with pytest.raises(InputError, match=r"--problem 4: the file holds problems 1 to 3"):
        read_wt_optimum(path, 4)
