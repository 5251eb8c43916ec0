"""The instance layer without a solver: every bad input gets one line naming file, path and problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import gpuplan as gp
from builders import cluster_data, job, pool, solve_checked
from gpuplan.instance.schema import file_json_schema

ROOT = Path(__file__).resolve().parents[1]


def base() -> dict:
    return cluster_data(
        [pool("a", "A", 8, 2), pool("b", "B", 8, 1, pod="p2", site="s2")],
        [job("j1", {"A": 4, "B": 8}), job("j2", {"A": 8}, tenant="u")],
        tenants=[{"id": "t"}, {"id": "u", "max_gpus": 8}],
        current=[("j2", "a-00", 8)],
    )


def error_of(data: dict, tmp_path: Path, name="inst.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    with pytest.raises(gp.InputError) as info:
        gp.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_base_instance_is_valid(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(base()))
    instance = gp.load(path)
    assert [j.id for j in instance.jobs] == ["j1", "j2"]


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["jobs"][0].update(colour="red"), "jobs[0](j1).colour: unknown field"),
    (lambda d: d["jobs"][0].pop("tenant"), "jobs[0](j1).tenant: missing required field"),
    (lambda d: d["jobs"][0]["gpu_options"][0].update(gpus="eight"), "jobs[0](j1).gpu_options[0].gpus"),
    (lambda d: d["jobs"][0]["gpu_options"][0].update(gpus="8"), "jobs[0](j1).gpu_options[0].gpus"),
    (lambda d: d["jobs"][0]["gpu_options"][0].update(gpus=True), "jobs[0](j1).gpu_options[0].gpus"),
    (lambda d: d["jobs"][0].update(priority=float("nan")), "jobs[0](j1).priority: Input should be a finite number"),
    (lambda d: d["jobs"][0].update(priority=float("inf")), "jobs[0](j1).priority: Input should be a finite number"),
    (lambda d: d["node_pools"][0].update(node_count=-1), "node_pools[0](a).node_count: Input should be greater than or equal to 0"),
    (lambda d: d["gpu_types"][0].update(memory_gb=0), "gpu_types[0](A).memory_gb: Input should be greater than 0"),
    (lambda d: d["jobs"][1].update(id="j1"), "jobs[1](j1).id: duplicate id 'j1' in jobs"),
    (lambda d: d["jobs"][0].update(tenant="nobody"), "jobs[0](j1).tenant: unknown tenant 'nobody'"),
    (lambda d: d["jobs"][0]["gpu_options"][1].update(gpu_type="H200"), "jobs[0](j1).gpu_options[1].gpu_type: unknown GPU type 'H200'"),
    (lambda d: d["node_pools"][0].update(pod="nowhere"), "node_pools[0](a).pod: unknown pod 'nowhere'"),
    (lambda d: d["node_pools"][0].update(site="s2"), "node_pools[0](a).site: site 's2' but pod 'p1' is in site 's1'"),
    (lambda d: d["pods"][0].update(site="mars"), "pods[0](p1).site: unknown site 'mars'"),
    (lambda d: d["current_placements"][0].update(node="a-99"), "current_placements[0].node: unknown node 'a-99'"),
    (lambda d: d["current_placements"][0].update(gpus=9), "current_placements[0].gpus: node 'a-00' has 8 GPUs but 9 are held"),
    (lambda d: d["current_placements"].append({"job": "j1", "node": "a-00", "gpus": 4}),
     "current_placements[1].gpus: node 'a-00' has 8 GPUs but 12 are held"),
    (lambda d: d["current_placements"][0].update(node="b-00"), "current_placements[0].node: job 'j2' runs on B, which is not among its gpu_options"),
    (lambda d: d["tenants"][1].update(guaranteed_gpus=9), "tenants[1](u): guaranteed_gpus (9) exceeds max_gpus (8)"),
    (lambda d: d["gpu_types"][0].update(idle_power_w=800), "gpu_types[0](A): idle_power_w (800.0) exceeds power_w (700.0)"),
    (lambda d: d["jobs"][0]["gpu_options"].append({"gpu_type": "A", "gpus": 2}), "GPU type 'A' listed twice"),
    (lambda d: d["jobs"].append({"id": "j3", "tenant": "t", "gpu_options": [{"gpu_type": "A"}]}), "gpus missing"),
    (lambda d: d.update(nodes=[{"id": "n1", "pool": "a"}]), "nodes[0](n1).pool: pool 'a' lists 1 nodes but its node_count is 2"),
    (lambda d: d.update(nodes=[{"id": "n1", "pool": "zz"}]), "nodes[0](n1).pool: unknown node pool 'zz'"),
    (lambda d: d.pop("schema_version"), "schema_version: missing"),
    (lambda d: d.update(schema_version=2), "schema_version: 2 is newer than this gpuplan reads"),
    (lambda d: d.update(options={"objective": "speed"}), "options.objective: Input should be 'throughput', 'cost', 'utilization' or 'fairness'"),
    (lambda d: d.update(options={"cross_site_penalty": 1.5}), "options.cross_site_penalty: Input should be less than 1"),
])
def test_bad_input_names_file_path_and_problem(tmp_path, mutate, expected):
    data = base()
    mutate(data)
    assert expected in error_of(data, tmp_path)


def test_more_problems_are_counted(tmp_path):
    data = base()
    data["jobs"][0]["priority"] = -1
    data["jobs"][1]["priority"] = -1
    assert "(and 1 more problem)" in error_of(data, tmp_path)


def test_malformed_json_and_yaml(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"schema_version": 1,, }')
    with pytest.raises(gp.InputError, match=r"bad.json: line 1, column 22: malformed JSON"):
        gp.load(bad_json)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("schema_version: 1\njobs: [a, b\n")
    with pytest.raises(gp.InputError, match=r"bad.yaml: line \d+, column \d+: malformed YAML"):
        gp.load(bad_yaml)


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("schema_version: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(gp.InputError, match="malformed YAML"):
        gp.load(path)


def test_unreadable_and_unknown_files(tmp_path):
    with pytest.raises(gp.InputError, match="missing.json: cannot read file"):
        gp.load(tmp_path / "missing.json")
    other = tmp_path / "inst.toml"
    other.write_text("x")
    with pytest.raises(gp.InputError, match="unknown file type '.toml'"):
        gp.load(other)
    top = tmp_path / "list.json"
    top.write_text("[]")
    with pytest.raises(gp.InputError, match="the top level must be a mapping"):
        gp.load(top)


def test_yaml_round_trip(tmp_path):
    instance = gp.load(ROOT / "instances" / "small" / "quickstart.json")
    gp.dump(instance, tmp_path / "copy.yaml")
    gp.dump(instance, tmp_path / "copy.json")
    assert gp.load(tmp_path / "copy.yaml") == instance
    assert gp.load(tmp_path / "copy.json") == instance


# ---------------------------------------------------------------- CSV tables

JOBS_CSV = """id,tenant,priority,gpu_type,gpus,throughput,scope,required
j1,t,1,A,4,10,pod,false
j1,t,1,B,8,6,pod,false
j2,u,2,A,8,9,site,true
"""


def csv_instance(tmp_path, jobs_csv=JOBS_CSV, pools_csv=None) -> Path:
    data = base()
    data["current_placements"] = []
    (tmp_path / "jobs.csv").write_text(jobs_csv)
    data["jobs"] = {"csv": "jobs.csv"}
    if pools_csv is not None:
        (tmp_path / "pools.csv").write_text(pools_csv)
        data["node_pools"] = {"csv": "pools.csv"}
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(data))
    return path


def test_jobs_from_long_csv(tmp_path):
    instance = gp.load(csv_instance(tmp_path))
    j1, j2 = instance.jobs
    assert [(o.gpu_type, o.gpus, o.throughput) for o in j1.gpu_options] == [("A", 4, 10.0), ("B", 8, 6.0)]
    assert j1.scope == "pod" and j2.required and j2.priority == 2.0


def test_cpu_only_job_in_the_long_csv(tmp_path):
    jobs = "id,tenant,gpu_type,gpus,cpu_milli,host_memory_mib\netl,t,,,4000,8192\nj1,t,A,4,1000,\n"
    pools = "id,pod,gpu_type,gpus_per_node,node_count,cpu_milli_per_node,host_memory_mib_per_node\na,p1,A,8,2,64000,262144\nb,p2,B,8,1,64000,262144\n"
    instance = gp.load(csv_instance(tmp_path, jobs, pools))
    etl, j1 = instance.jobs
    assert etl.gpu_options == [] and etl.cpu_milli == 4000 and etl.host_memory_mib == 8192
    assert [(o.gpu_type, o.gpus) for o in j1.gpu_options] == [("A", 4)]
    assert solve_checked(instance).jobs.set_index("job").loc["etl", "state"] == "placed"


def test_pools_from_csv(tmp_path):
    pools = "id,pod,gpu_type,gpus_per_node,node_count\na,p1,A,8,2\nb,p2,B,8,1\n"
    instance = gp.load(csv_instance(tmp_path, pools_csv=pools))
    assert [(p.id, p.node_count) for p in instance.node_pools] == [("a", 2), ("b", 1)]


@pytest.mark.parametrize("jobs_csv,expected", [
    (JOBS_CSV.replace("j2,u,2,A,8,9", "j2,u,2,A,eight,9"), "jobs.csv: line 4, column 'gpus': Input should be a valid integer"),
    (JOBS_CSV.replace("j2,u,2,A,8,9", "j2,u,2,A,-8,9"), "jobs.csv: line 4, column 'gpus': Input should be greater than or equal to 1"),
    (JOBS_CSV.replace("j2,u,2,A,8,9", "j2,u,2,A,8,nan"), "jobs.csv: line 4, column 'throughput': Input should be a finite number"),
    (JOBS_CSV.replace("j1,t,1,B", "j1,u,1,B"), "jobs.csv: line 3, column 'tenant': job 'j1' has another value here than on line 2"),
    (JOBS_CSV.replace("j2,u,2,A", "j2,zz,2,A"), "jobs.csv: line 4, column 'tenant': unknown tenant 'zz'"),
    (JOBS_CSV.replace("j1,t,1,B,8", "j1,t,1,Q,8"), "jobs.csv: line 3, column 'gpu_type': unknown GPU type 'Q'"),
    (JOBS_CSV.replace("required\n", "required,colour\n", 1), "jobs.csv: line 1, column 'colour': unknown column"),
    (JOBS_CSV.replace("j2,u,2,A,8,9,site,true", "j2,u,2,A,8,9,site"), "jobs.csv: line 4: 7 cells but the header has 8"),
    (JOBS_CSV.replace("j2,u,2,A,8,9,site,true", "j2,u,2,A,8,9,site,maybe"), "jobs.csv: line 4, column 'required': Input should be a valid boolean"),
    (JOBS_CSV.replace("j1,t,1,B,8", "j1,t,1,A,8"), "jobs.csv: line 3, column 'gpu_type': GPU type 'A' listed twice for job 'j1' (first on line 2)"),
    (JOBS_CSV + "j1,t,1,,,,pod,false\n", "jobs.csv: line 5, column 'gpu_type': job 'j1' has GPU options on line 2"),
    (JOBS_CSV + "j3,t,1,,,,pod,false\nj3,t,1,A,8,,pod,false\n", "jobs.csv: line 6, column 'gpu_type': job 'j3' is CPU-only on line 5"),
])
def test_bad_csv_names_file_line_and_column(tmp_path, jobs_csv, expected):
    with pytest.raises(gp.InputError) as info:
        gp.load(csv_instance(tmp_path, jobs_csv))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_csv(tmp_path):
    path = csv_instance(tmp_path)
    (tmp_path / "jobs.csv").unlink()
    with pytest.raises(gp.InputError, match=r"inst.json: jobs.csv: cannot read CSV file .*jobs.csv"):
        gp.load(path)


# ---------------------------------------------------------------- schema


def test_json_schema_describes_files():
    schema = file_json_schema()
    assert schema["properties"]["jobs"]["anyOf"][1]["required"] == ["csv"]
    assert "Job" in schema["$defs"]


def test_json_schema_accepts_the_shipped_instances():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for path in sorted((ROOT / "instances").rglob("*")):
        if path.suffix in (".json", ".yaml"):
            data = yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
            jsonschema.validate(data, file_json_schema())


def test_instances_can_be_built_in_python():
    data = base()
    instance = gp.Instance.model_validate(copy.deepcopy(data))
    assert instance.tenants[1].max_gpus == 8


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["jobs"][0].update(tenant="nobody"), "<instance>: jobs[0](j1).tenant: unknown tenant 'nobody'"),
    (lambda d: d["jobs"][1].update(id="j1"), "<instance>: jobs[1](j1).id: duplicate id 'j1' in jobs"),
    (lambda d: d["node_pools"][0].update(pod="zz"), "<instance>: node_pools[0](a).pod: unknown pod 'zz'"),
    (lambda d: d["current_placements"][0].update(gpus=9), "<instance>: current_placements[0].gpus: node 'a-00' has 8"),
])
def test_instances_built_in_python_are_checked_before_solving_or_verifying(mutate, expected):
    data = base()
    mutate(data)
    instance = gp.Instance.model_validate(data)  # each field is valid; the tables do not agree
    for call in (lambda: gp.solve(instance), lambda: gp.verify(instance, {"placements": []})):
        with pytest.raises(gp.InputError) as info:
            call()
        assert str(info.value).startswith(expected)


def test_fields_set_after_construction_are_validated():
    from pydantic import ValidationError

    instance = gp.Instance.model_validate(base())
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        instance.jobs[0].gpu_options[0].gpus = -3
    instance.options.cross_site_penalty = 0.1  # a valid change is taken
    assert instance.options.cross_site_penalty == 0.1


def test_a_running_job_holds_a_node_whole_where_it_has_all_its_gpus_on_two_or_more_nodes(tmp_path):
    # 'w' asks for 2 GPUs but runs on 4 + 4 of two 4-GPU nodes: as it runs, it holds both whole
    # (the verifier's reading of rule 1), so 'c' cannot run beside it, whatever its options say.
    data = cluster_data([pool("a", "A", 4, 2)], [job("w", {"A": 2}), job("c", {}, cpu_milli=1)],
                        current=[("w", "a-00", 4), ("w", "a-01", 4), ("c", "a-01", 0)])
    assert "current_placements[2].node: node 'a-01' is held whole by multi-node job 'w'" in error_of(data, tmp_path)
