"""Alibaba GPU trace v2023 importer: counts against the raw CSV files, the mapping, bad files."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gpuplan
from builders import skip_without_data
from gpuplan.cli import app
from gpuplan.errors import InputError
from gpuplan.importers.alibaba import (
    GPU_MODELS, pool_id, read_alibaba, read_nodes, read_pods, write_alibaba_instance,
)
from gpuplan.instance.nodes import node_infos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRACE = DATA / "traces" / "alibaba-gpu-v2023"
NODES = TRACE / "openb_node_list_all_node.csv"


def _need_data() -> None:
    if not NODES.is_file():
        skip_without_data(f"Alibaba trace not found at {TRACE} (the shared data folder is absent)")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _arrival(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: int(row["creation_time"])) if "creation_time" in rows[0] else rows


def _kind(row: dict) -> str:
    k, milli = int(row["num_gpu"]), int(row["gpu_milli"])
    return "cpu_only" if k == 0 else "sharing" if milli < 1000 else "whole"


def _job_kind(job) -> str:
    return "cpu_only" if job.cpu_only else "sharing" if job.fractional else "whole"


# ---------------------------------------------------------------- the trace files


def test_nodes_gpus_and_pools_match_the_node_list():
    _need_data()
    raw = _rows(NODES)
    instance = read_alibaba(NODES, TRACE / "openb_pod_list_default.csv", pods=200)
    infos = node_infos(instance)
    assert len(raw) == len(infos) == len(instance.nodes) == 1523
    assert [node.id for node in instance.nodes] != []
    assert {node.id for node in instance.nodes} == {row["sn"] for row in raw}
    gpus_by_model = Counter()
    for row in raw:
        gpus_by_model[row["model"] or None] += int(row["gpu"])
    by_model = Counter()
    for info in infos:
        by_model[info.gpu_type] += info.gpus
    assert by_model == gpus_by_model
    assert sum(by_model.values()) == 6212 and by_model["G2"] == 4392 and by_model["A10"] == 2
    shapes = {(row["model"] or None, int(row["gpu"]), int(row["cpu_milli"]), int(row["memory_mib"])) for row in raw}
    assert len(instance.node_pools) == len(shapes) == 27
    cpu_only = [pool for pool in instance.node_pools if pool.gpus_per_node == 0]
    assert all(pool.gpu_type is None for pool in cpu_only)
    assert sum(pool.node_count for pool in cpu_only) == sum(1 for row in raw if not row["model"]) == 310
    # Every node keeps its own shape: its pool's CPU, memory, GPUs and model are its row's.
    by_sn = {row["sn"]: row for row in raw}
    for info in infos:
        row = by_sn[info.id]
        assert (info.gpu_type, info.gpus, info.cpu_milli, info.host_memory_mib) == (
            row["model"] or None, int(row["gpu"]), int(row["cpu_milli"]), int(row["memory_mib"]))
        assert info.pool == pool_id(row["model"] or None, int(row["gpu"]), int(row["cpu_milli"]), int(row["memory_mib"]))
    assert [gpu.id for gpu in instance.gpu_types] == ["T4", "P100", "V100M16", "V100M32", "A10", "G2", "G3"]


@pytest.mark.parametrize("name, count", [("default", 500), ("gpushare100", 400), ("multigpu50", 700)])
def test_first_pods_match_the_pod_list(name, count):
    _need_data()
    path = TRACE / f"openb_pod_list_{name}.csv"
    expected = _arrival(_rows(path))[:count]
    instance = read_alibaba(NODES, path, pods=count)
    assert [job.id for job in instance.jobs] == [row["name"] for row in expected]
    assert Counter(_job_kind(job) for job in instance.jobs) == Counter(_kind(row) for row in expected)
    models = [gpu.id for gpu in instance.gpu_types]
    for job, row in zip(instance.jobs, expected):
        assert job.cpu_milli == int(row["cpu_milli"]) and job.host_memory_mib == int(row["memory_mib"])
        assert job.scope == "node" and not job.required
        if job.cpu_only:
            continue
        k, milli = int(row["num_gpu"]), int(row["gpu_milli"])
        assert [option.gpu_type for option in job.gpu_options] == models
        assert all(job.gpus_on(m) == k and job.option(m).throughput == pytest.approx(k * milli / 1000) for m in models)
        assert job.gpu_share_milli == (milli if milli < 1000 else 1000)
    tenants = [tenant.id for tenant in instance.tenants]
    if "qos" in expected[0]:
        assert tenants == list(dict.fromkeys(row["qos"] for row in expected))
        assert [job.tenant for job in instance.jobs] == [row["qos"] for row in expected]
    else:
        assert tenants == ["all"]
    assert instance.options.objective == "utilization"


def test_whole_default_list_counts():
    _need_data()
    instance = read_alibaba(NODES, TRACE / "openb_pod_list_default.csv")
    assert len(instance.jobs) == 8152
    raw = _rows(TRACE / "openb_pod_list_default.csv")
    assert Counter(_job_kind(job) for job in instance.jobs) == Counter(_kind(row) for row in raw)
    assert Counter(_kind(row) for row in raw) == {"whole": 3986, "sharing": 3078, "cpu_only": 1088}
    assert Counter(job.tenant for job in instance.jobs) == {"LS": 4647, "BE": 3398, "Burstable": 100, "Guaranteed": 7}


def test_pods_alive_at_a_time():
    _need_data()
    path = TRACE / "openb_pod_list_default.csv"
    at = 10_000_000
    expected = [row for row in _arrival(_rows(path)) if int(row["creation_time"]) <= at < int(row["deletion_time"])]
    instance = read_alibaba(NODES, path, at=at)
    assert len(expected) > 20
    assert [job.id for job in instance.jobs] == [row["name"] for row in expected]
    first = read_alibaba(NODES, path, at=at, pods=10)
    assert [job.id for job in first.jobs] == [row["name"] for row in expected[:10]]


def test_gpu_spec_restricts_the_options():
    _need_data()
    path = TRACE / "openb_pod_list_gpuspec33.csv"
    expected = _arrival(_rows(path))[:1000]
    instance = read_alibaba(NODES, path, pods=1000)
    constrained = 0
    for job, row in zip(instance.jobs, expected):
        if job.cpu_only:
            continue
        spec = list(dict.fromkeys(row["gpu_spec"].split("|"))) if row["gpu_spec"] else [g.id for g in instance.gpu_types]
        constrained += bool(row["gpu_spec"])
        assert [option.gpu_type for option in job.gpu_options] == spec
    assert constrained > 100


def test_arrival_order_sorts_by_creation_time():
    """gpushare100 is not in creation order in the file; the import is."""
    _need_data()
    pods = read_pods(TRACE / "openb_pod_list_gpushare100.csv").pods
    times = [pod.creation_time for pod in pods]
    assert times == sorted(times)
    assert [pod.line for pod in pods] != sorted(pod.line for pod in pods)


def test_imported_slice_validates_and_round_trips(tmp_path):
    _need_data()
    target = tmp_path / "slice.json"
    written = write_alibaba_instance(NODES, TRACE / "openb_pod_list_default.csv", target, pods=300)
    assert gpuplan.load(target) == written
    assert target.stat().st_size < 400_000


# ---------------------------------------------------------------- the mapping, on hand-made files

NODE_CSV = """sn,cpu_milli,memory_mib,gpu,model
n0,32000,65536,0,
n1,96000,393216,8,G2
n2,64000,262144,2,P100
n3,96000,393216,8,G2
n4,32000,65536,0,
"""

POD_CSV = """name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p-late,4000,8192,2,1000,,LS,Running,50,90,50
p-share,2000,4096,1,250,P100|P100,BE,Running,10,20,
p-cpu,1000,1024,0,0,,BE,Succeeded,10,30,10
p-whole,8000,16384,1,1000,G2,LS,Running,5,100,5
"""


def _write(tmp_path, nodes=NODE_CSV, pods=POD_CSV) -> tuple[Path, Path]:
    node_path, pod_path = tmp_path / "nodes.csv", tmp_path / "pods.csv"
    node_path.write_text(nodes)
    pod_path.write_text(pods)
    return node_path, pod_path


def test_hand_made_mapping(tmp_path):
    instance = read_alibaba(*_write(tmp_path))
    assert [(p.id, p.gpu_type, p.gpus_per_node, p.node_count, p.cpu_milli_per_node, p.host_memory_mib_per_node)
            for p in instance.node_pools] == [
        ("cpu-32c-64g", None, 0, 2, 32000, 65536),
        ("G2x8-96c-384g", "G2", 8, 2, 96000, 393216),
        ("P100x2-64c-256g", "P100", 2, 1, 64000, 262144),
    ]
    assert [(n.id, n.pool) for n in instance.nodes] == [
        ("n0", "cpu-32c-64g"), ("n4", "cpu-32c-64g"), ("n1", "G2x8-96c-384g"), ("n3", "G2x8-96c-384g"),
        ("n2", "P100x2-64c-256g")]
    assert [g.id for g in instance.gpu_types] == ["P100", "G2"]
    assert instance.gpu_types[0].memory_gb == GPU_MODELS["P100"].memory_gb
    # arrival order: creation 5, 10 (file order: p-share before p-cpu), 50
    assert [j.id for j in instance.jobs] == ["p-whole", "p-share", "p-cpu", "p-late"]
    whole, share, cpu, late = instance.jobs
    assert [(o.gpu_type, o.gpus, o.throughput) for o in whole.gpu_options] == [("G2", 1, 1.0)]
    assert [(o.gpu_type, o.gpus, o.throughput) for o in share.gpu_options] == [("P100", 1, 0.25)]
    assert share.gpu_share_milli == 250 and share.fractional
    assert cpu.cpu_only and cpu.cpu_milli == 1000 and cpu.host_memory_mib == 1024
    assert [(o.gpu_type, o.gpus, o.throughput) for o in late.gpu_options] == [("P100", 2, 2.0), ("G2", 2, 2.0)]
    assert [t.id for t in instance.tenants] == ["LS", "BE"]
    assert [j.tenant for j in instance.jobs] == ["LS", "BE", "BE", "LS"]
    assert gpuplan.from_dict(instance.model_dump(mode="json")) == instance


def test_hand_made_selection(tmp_path):
    nodes, pods = _write(tmp_path)
    assert [j.id for j in read_alibaba(nodes, pods, pods=2).jobs] == ["p-whole", "p-share"]
    assert [j.id for j in read_alibaba(nodes, pods, at=10).jobs] == ["p-whole", "p-share", "p-cpu"]
    assert [j.id for j in read_alibaba(nodes, pods, at=20).jobs] == ["p-whole", "p-cpu"]   # p-share deleted at 20
    assert [j.id for j in read_alibaba(nodes, pods, at=200).jobs] == []
    assert read_alibaba(nodes, pods, at=200).tenants[0].id == "all"


def test_spec_model_without_nodes_is_a_type_without_pools(tmp_path):
    nodes, pods = _write(tmp_path, pods=POD_CSV.replace("P100|P100", "G1|P100"))
    instance = read_alibaba(nodes, pods)
    assert [g.id for g in instance.gpu_types] == ["P100", "G1", "G2"]
    assert [o.gpu_type for o in instance.jobs[1].gpu_options] == ["G1", "P100"]


def test_list_without_time_and_qos_columns(tmp_path):
    pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nb,1,1,1,1000\na,1,1,0,0\n"
    instance = read_alibaba(*_write(tmp_path, pods=pods))
    assert [j.id for j in instance.jobs] == ["b", "a"]    # file order
    assert [t.id for t in instance.tenants] == ["all"]
    with pytest.raises(InputError, match="needs the columns 'creation_time' and 'deletion_time'"):
        read_alibaba(*_write(tmp_path, pods=pods), at=0)


# ---------------------------------------------------------------- bad input


def _pods_error(tmp_path, text: str) -> InputError:
    nodes, pods = _write(tmp_path, pods=text)
    with pytest.raises(InputError) as info:
        read_alibaba(nodes, pods)
    error = info.value
    assert error.source == str(pods)
    assert "\n" not in str(error)
    return error


def _nodes_error(tmp_path, text: str) -> InputError:
    nodes, pods = _write(tmp_path, nodes=text)
    with pytest.raises(InputError) as info:
        read_alibaba(nodes, pods)
    assert info.value.source == str(nodes)
    return info.value


POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"


@pytest.mark.parametrize("row, where, problem", [
    ("p,-4000,8192,1,1000,,LS,Running,5,9,5", "line 2, column 'cpu_milli'", "negative value -4000"),
    ("p,4000,8.5,1,1000,,LS,Running,5,9,5", "line 2, column 'memory_mib'", "not a non-negative integer: '8.5'"),
    ("p,4000,8192,one,1000,,LS,Running,5,9,5", "line 2, column 'num_gpu'", "not a non-negative integer: 'one'"),
    ("p,4000,8192,1,,,LS,Running,5,9,5", "line 2, column 'gpu_milli'", "empty"),
    ("p,4000,8192,1,1000,H100,LS,Running,5,9,5", "line 2, column 'gpu_spec'", "unknown GPU model 'H100'"),
    ("p,4000,8192,1,1000,T4||P100,LS,Running,5,9,5", "line 2, column 'gpu_spec'", "unknown GPU model an empty name"),
    ("p,4000,8192,1,0,,LS,Running,5,9,5", "line 2, column 'gpu_milli'", "a GPU pod needs 1..1000"),
    ("p,4000,8192,1,1200,,LS,Running,5,9,5", "line 2, column 'gpu_milli'", "a GPU pod needs 1..1000"),
    ("p,4000,8192,2,500,,LS,Running,5,9,5", "line 2, column 'gpu_milli'", "a share of several GPUs"),
    ("p,4000,8192,0,500,,LS,Running,5,9,5", "line 2, column 'gpu_milli'", "a CPU-only pod asks for no GPU share"),
    ("p,4000,8192,0,0,T4,LS,Running,5,9,5", "line 2, column 'gpu_spec'", "on a pod with num_gpu 0"),
    ("p,4000,8192,1,1000,,,Running,5,9,5", "line 2, column 'qos'", "empty"),
    ("p,4000,8192,1,1000,,LS,Running,9,5,5", "line 2, column 'deletion_time'", "is before creation_time 9"),
    ("p,4000,8192,1,1000,,LS,Running,x,9,5", "line 2, column 'creation_time'", "not a non-negative integer"),
    (",4000,8192,1,1000,,LS,Running,5,9,5", "line 2, column 'name'", "empty"),
    ("p,4000,8192,1,1000,,LS,Running,5,9", "line 2", "expected 11 fields, found 10"),
])
def test_bad_pod_rows(tmp_path, row, where, problem):
    error = _pods_error(tmp_path, POD_HEADER + row + "\n")
    assert error.path == where
    assert problem in error.problem


def test_bad_pod_row_names_its_line(tmp_path):
    text = POD_HEADER + "a,1,1,0,0,,LS,R,1,2,1\nb,1,1,0,0,,LS,R,1,2,1\nc,1,1,0,0,,LS,R,1,-2,1\n"
    assert _pods_error(tmp_path, text).path == "line 4, column 'deletion_time'"


def test_duplicate_pod_name(tmp_path):
    error = _pods_error(tmp_path, POD_HEADER + "a,1,1,0,0,,LS,R,1,2,1\na,1,1,0,0,,LS,R,1,2,1\n")
    assert error.path == "line 3, column 'name'" and "first on line 2" in error.problem


@pytest.mark.parametrize("column", ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"])
def test_missing_pod_column(tmp_path, column):
    header = [c for c in POD_HEADER.strip().split(",") if c != column]
    error = _pods_error(tmp_path, ",".join(header) + "\n")
    assert error.path == f"line 1, column '{column}'" and error.problem.startswith("missing")


@pytest.mark.parametrize("text, where, problem", [
    ("sn,cpu_milli,memory_mib,gpu\nn,1,1,0\n", "line 1, column 'model'", "missing"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,8,H100\n", "line 2, column 'model'", "unknown GPU model 'H100'"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,8,\n", "line 2, column 'model'", "empty on a node with 8 GPUs"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,0,T4\n", "line 2, column 'model'", "on a node with 0 GPUs"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,0,1,0,\n", "line 2, column 'cpu_milli'", "must be at least 1"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,-8,T4\n", "line 2, column 'gpu'", "negative value -8"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1e3,0,\n", "line 2, column 'memory_mib'", "not a non-negative integer"),
    ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,0,\nn,1,1,0,\n", "line 3, column 'sn'", "duplicate node 'n'"),
    ("", "line 1", "empty file"),
])
def test_bad_node_files(tmp_path, text, where, problem):
    error = _nodes_error(tmp_path, text)
    assert error.path == where
    assert problem in error.problem


def test_unreadable_files(tmp_path):
    nodes, pods = _write(tmp_path)
    with pytest.raises(InputError, match="cannot read file"):
        read_alibaba(tmp_path / "absent.csv", pods)
    with pytest.raises(InputError, match="cannot read file"):
        read_alibaba(nodes, tmp_path)       # a folder
    (tmp_path / "latin1.csv").write_bytes(b"sn,cpu_milli,memory_mib,gpu,model\n\xe9,1,1,0,\n")
    with pytest.raises(InputError, match="cannot read file"):
        read_nodes(tmp_path / "latin1.csv")


# ---------------------------------------------------------------- the command


def test_cli_writes_an_instance(tmp_path):
    nodes, pods = _write(tmp_path)
    target = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["import", "alibaba", str(nodes), str(pods), "-o", str(target), "--pods", "3"])
    assert result.exit_code == 0, result.output
    assert [j.id for j in gpuplan.load(target).jobs] == ["p-whole", "p-share", "p-cpu"]
    result = CliRunner().invoke(app, ["import", "alibaba", str(nodes), str(pods), "-o", str(target), "--at", "60"])
    assert result.exit_code == 0, result.output
    assert [j.id for j in gpuplan.load(target).jobs] == ["p-whole", "p-late"]


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path):
    nodes, pods = _write(tmp_path, pods=POD_HEADER + "p,4000,8192,1,1000,V100,LS,Running,5,9,5\n")
    target = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["import", "alibaba", str(nodes), str(pods), "-o", str(target)])
    assert result.exit_code == 2
    assert not target.exists()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"{pods}: line 2, column 'gpu_spec': unknown GPU model 'V100'" in " ".join(result.output.split())
