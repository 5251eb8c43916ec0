"""The folder a corpus case runs in: the instance folder ``work/``, a secret file beside it
(outside the instance's folder: it must never be read or echoed) and the output paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from .samples import SAMPLES, valid

SECRET_MARKER = "SECRET-MARKER-7f3a"
TINY_GAP = "2 3\n1 2 3\n3 2 1\n2 2 2\n1 1 1\n4 3\n"  # m n, costs, uses, capacities
ALIBABA_NODES = "sn,cpu_milli,memory_mib,gpu,model\nn1,96000,393216,8,G2\nn2,32000,65536,0,\n"
ALIBABA_PODS = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,qos\np1,8000,30000,1,1000,LS\n"
                "p2,4000,10000,1,500,BE\n")


class Workspace:
    def __init__(self, root: Path, problem: str):
        self.root = root
        self.dir = root / "work"
        self.dir.mkdir()
        self.problem = problem
        self.sample = SAMPLES[problem]
        self.secret = root / "secret.csv"
        self.secret.write_text(f"{SECRET_MARKER},x\n{SECRET_MARKER},y\n")
        self.paths: dict[str, Path] = {"dir": self.dir, "out": root / "out", "secret": self.secret}

    def data(self) -> dict:
        return valid(self.problem)

    def file(self, name: str, content: str | bytes, key: str | None = None) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        if key:
            self.paths[key] = path
        return path

    def instance(self, data: dict | None = None, name: str = "inst.json") -> Path:
        data = self.data() if data is None else data
        text = yaml.safe_dump(data) if name.endswith((".yaml", ".yml")) else json.dumps(data)
        return self.file(name, text, key="inst")

    def raw_instance(self, content: str | bytes, name: str = "inst.json") -> Path:
        return self.file(name, content, key="inst")

    def csv_instance(self, csv_content: str | bytes, ref: str = "table.csv", name: str = "inst.json") -> Path:
        """An instance whose sample table is the CSV ``csv_content`` written at ``ref``."""
        data = self.data()
        data[self.sample.csv_table] = {"csv": ref}
        self.file(ref, csv_content, key="csv")
        return self.instance(data, name)

    def csv_reference(self, ref) -> Path:
        """An instance whose sample table refers to ``ref`` (nothing is written there)."""
        data = self.data()
        data[self.sample.csv_table] = {"csv": ref}
        return self.instance(data)

    def symlink(self, name: str, target: Path | str) -> Path:
        link = self.dir / name
        os.symlink(target, link)
        return link

    def gap(self, text: str | bytes = TINY_GAP) -> Path:
        return self.file("tiny.gap", text, key="src")

    def alibaba(self, nodes: str | bytes = ALIBABA_NODES, pods: str | bytes = ALIBABA_PODS) -> None:
        self.file("nodes.csv", nodes, key="nodes")
        self.file("pods.csv", pods, key="pods")

    def fill(self, args) -> list[str]:
        values = {k: str(v) for k, v in self.paths.items()} | {"method": self.sample.method, "problem": self.problem}
        return [str(a).format(**values) for a in args]

    def snapshot(self) -> set[Path]:
        return {p for p in self.root.rglob("*")}
