"""The corpus of hostile and broken input: one row a kind of bad input or fault.

A row names how its input is built (from the problem's Sample, so generic rows run for every
registered problem), what runs (a CLI command, an API call, a batch), the documented exit
code and a fragment of the one line it must give. ``tests/test_corpus.py`` runs each row and
checks the rest of the contract: one line naming the file, no traceback, nothing written,
no file outside the instance's folder read or echoed. A new problem adds its Sample in
``samples.py`` and, where it has fields of its own, rows here with ``problems=("name",)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import gpuplan as gp

from .samples import with_value
from .workspace import ALIBABA_NODES, ALIBABA_PODS, TINY_GAP, Workspace

VALIDATE = ("validate", "{inst}")
SOLVE = ("solve", "{inst}", "--method", "{method}", "--out", "{out}")
BATCH = ("batch", "{inst}", "--out", "{out}", "--workers", "1", "--problem", "{problem}", "--method", "{method}")
GAP = ("import", "gap", "{src}", "-o", "{out}.json")
ALIBABA = ("import", "alibaba", "{nodes}", "{pods}", "-o", "{out}.json")
GENERATE = ("generate", "assignment", "--gpus", "16", "--jobs", "4", "-o", "{out}.json")


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Workspace], object]
    run: tuple | Callable[[Workspace], object]   # CLI arguments, or an API call
    code: int                                    # exit code; API: 2 = raises an InputError / OutputError
    fragment: str                                # in the error line (or, on success, in the output)
    names: str = "{inst}"                        # the file the line must name
    fault: str | None = None                     # disk_full | read_only (see test_corpus.py)
    writes: bool = False                         # outputs are expected (a success, a batch)
    problems: tuple | None = None                # None: every registered problem
    kind: str = field(init=False, default="")

    def __post_init__(self):
        if callable(self.run):
            kind = "api"
        elif self.run[0] in ("import", "generate", "batch"):
            kind = self.run[0] if self.run[0] != "import" else f"import {self.run[1]}"
        else:
            kind = "cli"
        object.__setattr__(self, "kind", kind)


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def _set(path_attr: str, value):
    """Build: the sample with the field the Sample names ``path_attr`` set to ``value``."""
    return lambda ws: ws.instance(with_value(ws.data(), getattr(ws.sample, path_attr), value))


def _json_text(ws: Workspace, replace: tuple[str, str]) -> object:
    import json

    text = json.dumps(ws.data())
    return ws.raw_instance(text.replace(*replace, 1))


def _fifo(ws: Workspace):
    path = ws.dir / "inst.json"
    os.mkfifo(path)
    ws.paths["inst"] = path


def _sparse(ws: Workspace, name: str, key: str, size: int = 257 * 1024 * 1024):
    path = ws.dir / name
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: no disk space used
    ws.paths[key] = path


def _csv_sparse(ws: Workspace):
    data = ws.data()
    data[ws.sample.csv_table] = {"csv": "big.csv"}
    ws.instance(data)
    _sparse(ws, "big.csv", "csv")


def _deep_field(ws: Workspace):
    return ws.instance(with_value(ws.data(), ws.sample.amount_path, eval(nested(100))))  # noqa: S307 - a literal


def _yaml_block_nesting(ws: Workspace, depth: int = 120):
    lines = ["schema_version: 1"] + [" " * i + f"k{i}:" for i in range(depth)] + [" " * depth + "x: 1"]
    return ws.raw_instance("\n".join(lines) + "\n", "inst.yaml")


def _two_pools(count: int, gpus: int):
    def build(ws: Workspace):
        data = ws.data()
        pool = dict(data["node_pools"][0], node_count=count, gpus_per_node=gpus)
        data["node_pools"] = [dict(pool, id="big1"), dict(pool, id="big2")]
        return ws.instance(data)
    return build


def _solution(ws: Workspace, content: str | bytes):
    ws.instance()
    ws.file("solution.json", content, key="sol")


def _bom_csv(ws: Workspace):
    return ws.csv_instance(b"\xef\xbb\xbf" + ws.sample.csv_text.encode())


def _secret_cell(ws: Workspace):
    header, first, *rest = ws.sample.csv_text.splitlines()
    columns = header.split(",")
    cells = first.split(",")
    cells[columns.index(ws.sample.csv_int_column)] = "SECRET-MARKER-7f3a"
    return ws.csv_instance("\n".join([header, ",".join(cells), *rest]) + "\n")


def _inside_dotdot(ws: Workspace):
    (ws.dir / "sub").mkdir()
    return ws.csv_instance(ws.sample.csv_text, ref="sub/../table.csv")


def _symlink_out(ws: Workspace):
    ws.symlink("table.csv", ws.secret)
    return ws.csv_reference("table.csv")


def _symlink_dev_zero(ws: Workspace):
    ws.symlink("zero.csv", "/dev/zero")
    return ws.csv_reference("zero.csv")


def _csv_fifo(ws: Workspace):
    os.mkfifo(ws.dir / "fifo.csv")
    return ws.csv_reference("fifo.csv")


def _csv_folder(ws: Workspace):
    (ws.dir / "folder.csv").mkdir()
    return ws.csv_reference("folder.csv")


def _markup_file_name(ws: Workspace):
    return ws.instance(name="a[/x]:x:.json")


def _markup_ids(ws: Workspace):
    data = with_value(ws.data(), ws.sample.id_path, "[/]")
    data["name"] = "[bold]node:x:1[/]"
    return ws.instance(data)


def _out_file(ws: Workspace):
    ws.instance()
    ws.paths["out"].write_text("in the way")


def _out_folder_json(ws: Workspace):
    (ws.root / "out.json").mkdir()


def _gap_out_folder(ws: Workspace):
    ws.gap()
    (ws.root / "out.json").mkdir()


def _markup_out(ws: Workspace):
    ws.instance()
    ws.paths["out"] = ws.root / "out[/x]"


def _api_load(ws: Workspace):
    return gp.load(ws.paths["inst"])


def _api_from_dict_deep(ws: Workspace):
    data = ws.data()
    value = []
    for _ in range(5000):
        value = [value]
    data["name"] = value
    return gp.from_dict(data)


def _api_solve(ws: Workspace):
    return gp.solve(ws.paths["inst"], ws.problem, method=ws.sample.method)


def _api_save_onto_file(ws: Workspace):
    result = gp.solve(ws.paths["inst"], ws.problem, method=ws.sample.method)
    return result.save(ws.paths["out"])


def _api_result_load(ws: Workspace):
    return gp.Result.load(ws.paths["sol"])


CONTROL_ID = "a\nb"
LONG_ID = "x" * 10_000

CASES: list[Case] = [
    # ---- files and formats
    Case("json-deep-nesting", lambda ws: ws.raw_instance(nested(2000)), VALIDATE, 2, "nested deeper than 64 levels"),
    Case("yaml-deep-flow-nesting", lambda ws: ws.raw_instance(nested(2000), "inst.yaml"), VALIDATE, 2, "nested deeper than 64 levels"),
    Case("yaml-deep-block-nesting", _yaml_block_nesting, VALIDATE, 2, "nested deeper than 64 levels"),
    Case("json-object-nesting", lambda ws: ws.raw_instance(nested(3000, '{"a":', "}").replace('{"a":}', "1")), VALIDATE, 2, "nested deeper"),
    Case("deep-value-in-a-field", _deep_field, VALIDATE, 2, "nested deeper than 64 levels"),
    Case("json-duplicate-top-key", lambda ws: _json_text(ws, ('"name": "tiny"', '"name": "tiny", "name": "x"')), VALIDATE, 2, "duplicate key 'name'"),
    Case("json-duplicate-nested-key", lambda ws: _json_text(ws, ('"tenant": "t"', '"tenant": "t", "tenant": "u"')), VALIDATE, 2, "jobs[0]: duplicate key 'tenant'", problems=("assignment",)),
    Case("yaml-duplicate-key", lambda ws: ws.raw_instance("schema_version: 1\nname: a\nname: b\n", "inst.yaml"), VALIDATE, 2, "duplicate key 'name'"),
    Case("yaml-duplicate-nested-key", lambda ws: ws.raw_instance("schema_version: 1\nsites:\n- id: a\n  id: b\n", "inst.yaml"), VALIDATE, 2, "sites[0], line 4: duplicate key 'id'"),
    Case("instance-not-utf8", lambda ws: ws.raw_instance(b'{"schema_version": 1, "name": "\xff"}'), VALIDATE, 2, "not UTF-8"),
    Case("instance-json-bom", lambda ws: ws.raw_instance(b"\xef\xbb\xbf" + __import__("json").dumps(ws.data()).encode()), VALIDATE, 0, "ok"),
    Case("instance-yaml-bom", lambda ws: ws.raw_instance(b"\xef\xbb\xbf" + __import__("yaml").safe_dump(ws.data()).encode(), "inst.yaml"), VALIDATE, 0, "ok"),
    Case("empty-json", lambda ws: ws.raw_instance(""), VALIDATE, 2, "malformed JSON"),
    Case("empty-yaml", lambda ws: ws.raw_instance("", "inst.yaml"), VALIDATE, 2, "the top level must be a mapping"),
    Case("top-level-list", lambda ws: ws.raw_instance("[1, 2]"), VALIDATE, 2, "the top level must be a mapping"),
    Case("malformed-json", lambda ws: ws.raw_instance('{"schema_version": 1,'), VALIDATE, 2, "malformed JSON"),
    Case("malformed-yaml", lambda ws: ws.raw_instance("a: [}\n", "inst.yaml"), VALIDATE, 2, "malformed YAML"),
    Case("yaml-python-tag", lambda ws: ws.raw_instance("a: !!python/object/apply:os.system ['true']\n", "inst.yaml"), VALIDATE, 2, "malformed YAML"),
    Case("unknown-suffix", lambda ws: ws.raw_instance("{}", "inst.txt"), VALIDATE, 2, "unknown file type '.txt'"),
    Case("missing-file", lambda ws: ws.paths.update(inst=ws.dir / "absent.json"), VALIDATE, 2, "cannot read file: No such file"),
    Case("instance-is-a-folder", lambda ws: (ws.dir / "d.json").mkdir() or ws.paths.update(inst=ws.dir / "d.json"), VALIDATE, 2, "not a regular file"),
    Case("instance-is-a-fifo", _fifo, VALIDATE, 2, "not a regular file"),
    Case("instance-is-dev-zero", lambda ws: ws.paths.update(inst=ws.symlink("zero.json", "/dev/zero")), VALIDATE, 2, "not a regular file"),
    Case("instance-too-large", lambda ws: _sparse(ws, "big.json", "inst"), VALIDATE, 2, "file too large"),
    Case("schema-version-missing", lambda ws: ws.raw_instance('{"name": "x"}'), VALIDATE, 2, "schema_version: missing"),
    Case("schema-version-newer", lambda ws: ws.instance(dict(ws.data(), schema_version=99)), VALIDATE, 2, "99 is newer"),
    Case("schema-version-string", lambda ws: ws.instance(dict(ws.data(), schema_version="1")), VALIDATE, 2, "schema_version: must be an integer, not '1'"),
    Case("unknown-field", lambda ws: ws.instance(dict(ws.data(), colour="red")), VALIDATE, 2, "colour: unknown field"),
    # ---- CSV tables: location, size, encoding, content never echoed
    Case("csv-absolute-path", lambda ws: ws.csv_reference(str(ws.secret)), VALIDATE, 2, "is not a path relative to the instance file's folder"),
    Case("csv-dotdot-escape", lambda ws: ws.csv_reference("../secret.csv"), VALIDATE, 2, "leads outside the instance file's folder"),
    Case("csv-deep-dotdot-escape", lambda ws: ws.csv_reference("../../../../../../etc/passwd"), VALIDATE, 2, "leads outside"),
    Case("csv-symlink-out", _symlink_out, VALIDATE, 2, "leads outside the instance file's folder"),
    Case("csv-dev-zero", lambda ws: ws.csv_reference("/dev/zero"), VALIDATE, 2, "is not a path relative"),
    Case("csv-symlink-dev-zero", _symlink_dev_zero, VALIDATE, 2, "leads outside"),
    Case("csv-fifo", _csv_fifo, VALIDATE, 2, "is not a regular file"),
    Case("csv-folder", _csv_folder, VALIDATE, 2, "is not a regular file"),
    Case("csv-missing", lambda ws: ws.csv_reference("absent.csv"), VALIDATE, 2, "cannot read CSV file 'absent.csv': no such file"),
    Case("csv-not-a-string", lambda ws: ws.csv_reference(5), VALIDATE, 2, ".csv: must be a file path"),
    Case("csv-nul-in-path", lambda ws: ws.csv_reference("a\x00b.csv"), VALIDATE, 2, "is not a path relative"),
    Case("csv-too-large", _csv_sparse, VALIDATE, 2, "file too large", names="{csv}"),
    Case("csv-not-utf8", lambda ws: ws.csv_instance(b"id,tenant\n\xff\xfe,t\n"), VALIDATE, 2, "not UTF-8", names="{csv}"),
    Case("csv-bom", _bom_csv, VALIDATE, 0, "ok"),
    Case("csv-dotdot-inside", _inside_dotdot, VALIDATE, 0, "ok"),
    Case("csv-empty", lambda ws: ws.csv_instance(""), VALIDATE, 2, "empty CSV file", names="{csv}"),
    Case("csv-nul-byte", lambda ws: ws.csv_instance("id,tenant\n\x00,t\n"), VALIDATE, 2, "", names="{csv}"),
    Case("csv-unknown-long-column", lambda ws: ws.csv_instance("id," + "c" * 5000 + "\n"), VALIDATE, 2, "unknown column", names="{csv}"),
    Case("csv-cell-not-echoed", _secret_cell, VALIDATE, 2, "line 2, column", names="{csv}"),
    Case("csv-ragged-row", lambda ws: ws.csv_instance(ws.sample.csv_text + "a,b\n"), VALIDATE, 2, "cells but the header has", names="{csv}"),
    # ---- ids
    Case("id-newline", _set("id_path", CONTROL_ID), VALIDATE, 2, "an id cannot contain control characters (found \\n)"),
    Case("id-escape-sequence", _set("id_path", "a\x1b[31mb"), VALIDATE, 2, "control characters (found \\x1b)"),
    Case("id-line-separator", _set("id_path", "a\u2028b"), VALIDATE, 2, "control characters"),
    Case("id-nul", _set("id_path", "a\x00b"), VALIDATE, 2, "control characters"),
    Case("id-leading-space", _set("id_path", " a"), VALIDATE, 2, "cannot start or end with whitespace"),
    Case("id-10000-characters", _set("id_path", LONG_ID), VALIDATE, 2, "at most 200 characters"),
    Case("reference-10000-characters", _set("reference_path", LONG_ID), VALIDATE, 2, "at most 200 characters"),
    Case("reference-markup", _set("reference_path", "[/]"), VALIDATE, 2, "'[/]'"),
    Case("unknown-field-with-newline", lambda ws: ws.instance(dict(ws.data(), **{"bad\nkey": 1})), VALIDATE, 2, "bad\\nkey: unknown field"),
    # ---- Rich markup never interpreted
    Case("markup-in-file-name", _markup_file_name, VALIDATE, 0, "a[/x]:x:.json"),
    Case("markup-in-ids-solve", _markup_ids, SOLVE, 0, "[bold]node:x:1[/]", writes=True),
    Case("markup-in-out-path", _markup_out, SOLVE, 0, "out[/x]", writes=True),
    Case("markup-in-batch-table", lambda ws: ws.instance(name="b[/x]:x:.json"), BATCH, 0, ":x:", writes=True),
    # ---- numbers
    Case("count-10**30", _set("count_path", 10**30), VALIDATE, 2, "less than or equal to 1000000"),
    Case("size-10**30", _set("size_path", 10**30), VALIDATE, 2, "less than or equal to 100000"),
    Case("count-10**30-solve", _set("count_path", 10**30), SOLVE, 2, "less than or equal to 1000000"),
    Case("integer-400-digits", _set("count_path", 10**400), VALIDATE, 2, "less than or equal to"),
    Case("too-many-nodes", _two_pools(600_000, 1), VALIDATE, 2, "more than 1,000,000 nodes", problems=("assignment",)),
    Case("too-many-gpus", _two_pools(100_000, 64), VALIDATE, 2, "more than 10,000,000 GPUs", problems=("assignment",)),
    Case("amount-1e300", _set("amount_path", 1e300), VALIDATE, 2, "less than or equal to 1000000000"),
    Case("amount-1e300-solve", _set("amount_path", 1e300), SOLVE, 2, "less than or equal to 1000000000"),
    Case("amount-1e-12", _set("amount_path", 1e-12), VALIDATE, 2, "below 1e-09"),
    Case("amount-range", lambda ws: ws.instance(with_value(with_value(ws.data(), ws.sample.amount_path, 1e6),
                                                           ws.sample.small_amount_path, 1e-4)), VALIDATE, 2, "span more than 1e+09"),
    Case("amount-nan", lambda ws: _json_text(ws, ('"throughput": 4.0', '"throughput": NaN')), VALIDATE, 2, "finite number", problems=("assignment",)),
    Case("amount-infinity", lambda ws: _json_text(ws, ('"throughput": 4.0', '"throughput": 1e400')), VALIDATE, 2, "finite number", problems=("assignment",)),
    Case("count-as-float", _set("count_path", 2.0), VALIDATE, 2, "valid integer"),
    Case("count-as-bool", _set("count_path", True), VALIDATE, 2, "valid integer"),
    Case("count-negative", _set("count_path", -1), VALIDATE, 2, "greater than or equal to 0"),
    Case("count-as-string", _set("count_path", "2"), VALIDATE, 2, "valid integer"),
    # ---- verify: the solution file
    Case("solution-not-utf8", lambda ws: _solution(ws, b'{"format": "\xff"}'), ("verify", "{inst}", "{sol}"), 2, "not UTF-8", names="{sol}"),
    Case("solution-duplicate-key", lambda ws: _solution(ws, '{"format": "gpuplan-solution", "format": "x"}'), ("verify", "{inst}", "{sol}"), 2, "duplicate key 'format'", names="{sol}"),
    Case("solution-deep-nesting", lambda ws: _solution(ws, nested(2000)), ("verify", "{inst}", "{sol}"), 2, "nested deeper", names="{sol}"),
    Case("solution-foreign-json", lambda ws: _solution(ws, '{"a": 1}'), ("verify", "{inst}", "{sol}"), 2, "not a gpuplan solution file", names="{sol}"),
    Case("solution-folder-empty", lambda ws: ws.instance() and ws.paths.update(sol=ws.dir), ("verify", "{inst}", "{sol}"), 2, "cannot read file", names="{dir}"),
    # ---- writers
    Case("solve-out-onto-file", _out_file, SOLVE, 2, "cannot write: a file is in the way", names="{out}"),
    Case("solve-out-read-only", lambda ws: ws.instance(), SOLVE, 2, "cannot write: permission denied", names="{out}", fault="read_only"),
    Case("solve-out-disk-full", lambda ws: ws.instance(), SOLVE, 2, "cannot write: No space left on device", names="{out}", fault="disk_full"),
    Case("generate-onto-folder", _out_folder_json, GENERATE, 2, "cannot write: a folder is in the way", names="{out}.json"),
    Case("generate-disk-full", lambda ws: None, GENERATE, 2, "No space left on device", names="{out}.json", fault="disk_full"),
    Case("generate-read-only", lambda ws: None, GENERATE, 2, "cannot write: Permission denied", names="{out}.json", fault="read_only"),
    Case("generate-bad-suffix", lambda ws: ws.paths.update(out=ws.root / "out.json.txt"), ("generate", "assignment", "--gpus", "16", "--jobs", "4", "-o", "{out}"), 2, "unknown file type", names="{out}"),
    Case("import-gap-read-only", lambda ws: ws.gap(), GAP, 2, "cannot write: Permission denied", names="{out}.json", fault="read_only"),
    Case("import-gap-onto-folder", _gap_out_folder, GAP, 2, "a folder is in the way", names="{out}.json"),
    Case("import-alibaba-disk-full", lambda ws: ws.alibaba(), ALIBABA, 2, "No space left on device", names="{out}.json", fault="disk_full"),
    # ---- importers: OR-Library GAP
    Case("gap-400-digit-cost", lambda ws: ws.gap(TINY_GAP.replace("1 2 3\n", "9" * 400 + " 2 3\n", 1)), GAP, 2, "line 2, token 3: number too large (400 digits", names="{src}"),
    Case("gap-5000-digit-number", lambda ws: ws.gap("9" * 5000 + " 3\n"), GAP, 2, "number too large (5000 digits", names="{src}"),
    Case("gap-capacity-too-large", lambda ws: ws.gap(TINY_GAP.replace("4 3\n", "400000 3\n")), GAP, 2, "cannot make a valid instance: node_pools[0](agent-0).gpus_per_node", names="{src}"),
    Case("gap-not-utf8", lambda ws: ws.gap(b"2 3\n\xff\n"), GAP, 2, "not UTF-8", names="{src}"),
    Case("gap-empty", lambda ws: ws.gap(""), GAP, 2, "expected 'm n'", names="{src}"),
    Case("gap-negative", lambda ws: ws.gap(TINY_GAP.replace("1 2 3", "1 -2 3", 1)), GAP, 2, "negative value -2", names="{src}"),
    Case("gap-truncated", lambda ws: ws.gap(TINY_GAP[:-4]), GAP, 2, "expected 16 numbers", names="{src}"),
    Case("gap-bom", lambda ws: ws.gap("\ufeff" + TINY_GAP), GAP, 0, "written", writes=True),
    Case("gap-is-dev-zero", lambda ws: ws.paths.update(src=ws.symlink("zero.gap", "/dev/zero")), GAP, 2, "not a regular file", names="{src}"),
    # ---- importers: Alibaba trace
    Case("alibaba-header-only-nodes", lambda ws: ws.alibaba(nodes="sn,cpu_milli,memory_mib,gpu,model\n"), ALIBABA, 2, "line 2: no nodes", names="{nodes}"),
    Case("alibaba-400-digit-cpu", lambda ws: ws.alibaba(nodes=ALIBABA_NODES.replace("96000", "9" * 400)), ALIBABA, 2, "column 'cpu_milli': number too large", names="{nodes}"),
    Case("alibaba-gpus-per-node-too-large", lambda ws: ws.alibaba(nodes=ALIBABA_NODES.replace(",8,G2", ",800000,G2")), ALIBABA, 2, "cannot make a valid instance", names="{nodes}"),
    Case("alibaba-control-in-name", lambda ws: ws.alibaba(pods=ALIBABA_PODS.replace("p1,", "p\x1b1,")), ALIBABA, 2, "control characters", names="{pods}"),
    Case("alibaba-bom", lambda ws: ws.alibaba(nodes="\ufeff" + ALIBABA_NODES, pods="\ufeff" + ALIBABA_PODS), ALIBABA, 0, "written", writes=True),
    Case("alibaba-pods-not-utf8", lambda ws: ws.alibaba(pods=b"name\n\xff\n"), ALIBABA, 2, "not UTF-8", names="{pods}"),
    Case("alibaba-missing-column", lambda ws: ws.alibaba(pods="name,cpu_milli\np,1\n"), ALIBABA, 2, "column 'memory_mib': missing", names="{pods}"),
    # ---- batch: bad rows become one-line messages; the batch's own failures one line
    Case("batch-csv-escape-row", lambda ws: ws.csv_reference("../secret.csv"), BATCH, 1, "leads outside", writes=True),
    Case("batch-deep-nesting-row", lambda ws: ws.raw_instance(nested(2000)), BATCH, 1, "nested deeper", writes=True),
    Case("batch-id-newline-row", _set("id_path", CONTROL_ID), BATCH, 1, "control characters", writes=True),
    Case("batch-out-onto-file", _out_file, BATCH, 2, "a file is in the way", names="{out}"),
    Case("batch-out-read-only", lambda ws: ws.instance(), BATCH, 2, "permission denied", names="{out}", fault="read_only"),
    # ---- API
    Case("api-load-deep", lambda ws: ws.raw_instance(nested(2000)), _api_load, 2, "nested deeper"),
    Case("api-from-dict-deep", lambda ws: None, _api_from_dict_deep, 2, "nested deeper", names="<instance>"),
    Case("api-solve-1e300", _set("amount_path", 1e300), _api_solve, 2, "less than or equal to 1000000000"),
    Case("api-solve-csv-escape", lambda ws: ws.csv_reference("../secret.csv"), _api_solve, 2, "leads outside"),
    Case("api-save-onto-file", _out_file, _api_save_onto_file, 2, "a file is in the way", names="{out}"),
    Case("api-result-load-not-utf8", lambda ws: _solution(ws, b"\xff"), _api_result_load, 2, "not UTF-8", names="{sol}"),
]
