"""What a batch solves: PATH arguments -> instance files (or Instance objects), names, content hashes.

A PATH is a file, a folder (searched recursively for ``*.json``, ``*.yaml``, ``*.yml``; hidden
entries, the output folder and gpuplan's own output files are skipped) or a glob. Files are
sorted within each PATH and kept in the order of the PATHs; a file named twice is solved once.

gpuplan's own output files are ``solution.json`` starting as a gpuplan solution
(``"format": "gpuplan-solution"``) and ``batch.json`` starting as a batch record
(``"format": "gpuplan-batch"``); only their first bytes are read to tell. So a folder holding
results of an earlier run (a batch's ``DIR/<name>/``, a ``gpuplan solve --out`` folder) can be
searched; the other files of such a folder are still taken, so that a result written beside
its instance file does not hide the instance. A file named as a PATH, or matched by a glob, is
always taken.

Each instance gets a *name*, its output folder: the file's path relative to the common root
of the PATHs, without the suffix, separators replaced by ``__`` (``instances/`` ->
``small__quickstart``). Names are stable (they depend on the PATHs, not on what else a folder
holds) and never collide silently: where two files differ only by suffix the suffix is kept
(``small__a.json``, ``small__a.yaml``); any other collision stops the batch before it starts.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from ..errors import GpuplanError, InputError
from ..instance.references import csv_reference
from ..textfiles import read_bytes
from ..instance.schema import TABLES, Instance

INSTANCE_SUFFIXES = (".json", ".yaml", ".yml")
RESERVED_NAMES = ("summary.csv", "summary.parquet")
HASH_VERSION = b"gpuplan-batch-hash-1"
OUTPUT_HEAD_BYTES = 256  # gpuplan writes "format" first
_GLOB_MAGIC = re.compile(r"[*?\[]")
_UNSAFE = re.compile(r"[^\w.+=-]+")


class BatchError(GpuplanError):
    """The batch cannot start: one line saying why (bad PATH, option, output folder, scheduler)."""


@dataclass
class Item:
    """One instance of the batch, in input order."""

    index: int
    name: str
    path: Path | None = None          # the instance file (None for an Instance object)
    instance: Instance | None = None  # the Instance object (None for a file)
    digest: str = ""                  # content + options hash, see content_hash
    unreadable: str = ""              # one-line message when the file's bytes cannot be read

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else ""


# ---------------------------------------------------------------- PATH arguments -> items


def collect(paths, exclude: Path | None = None) -> list[Item]:
    """Expand ``paths`` (one PATH / Instance or a list of them) into named items."""
    if isinstance(paths, (str, os.PathLike, Instance)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise BatchError("no instances given")
    exclude = exclude.resolve() if exclude is not None else None
    entries: list[Path | Instance] = []  # in input order
    roots: list[str] = []
    seen: set[Path] = set()
    for arg in paths:
        if isinstance(arg, Instance):
            entries.append(arg)
            continue
        if not isinstance(arg, (str, os.PathLike)):
            raise TypeError(f"an instance is a path or an Instance, not {type(arg).__name__}")
        root, found = _expand(os.path.expanduser(os.fspath(arg)), exclude)
        roots.append(root)
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                entries.append(file)
    files = [(i, e) for i, e in enumerate(entries) if isinstance(e, Path)]
    objects = [(i, e) for i, e in enumerate(entries) if isinstance(e, Instance)]
    names: dict[int, str] = {}
    names.update(zip((i for i, _ in files), _file_names([f for _, f in files], roots)))
    names.update(zip((i for i, _ in objects), _object_names(objects)))
    _refuse_collisions([names[i] for i in range(len(entries))])
    return [Item(i, names[i], path=e) if isinstance(e, Path) else Item(i, names[i], instance=e)
            for i, e in enumerate(entries)]


def _expand(arg: str, exclude: Path | None) -> tuple[str, list[Path]]:
    """One PATH -> (its root folder, its instance files sorted)."""
    path = Path(arg)
    if path.is_dir():
        found = _walk(path, exclude)
        if not found:
            raise BatchError(f"no instance files (*.json, *.yaml, *.yml) in folder {arg}")
        return os.path.abspath(path), found
    if path.exists():
        return os.path.abspath(path.parent), [path]
    if not _GLOB_MAGIC.search(arg):
        raise BatchError(f"no such file or folder: {arg}")
    found = []
    for match in sorted(glob.glob(arg, recursive=True)):
        match = Path(match)
        if match.is_dir():
            found += _walk(match, exclude)
        elif match.suffix.lower() in INSTANCE_SUFFIXES and not _inside(match, exclude):
            found.append(match)
    if not found:
        raise BatchError(f"no instance files (*.json, *.yaml, *.yml) match '{arg}'")
    return os.path.abspath(_glob_root(arg)), found


def _walk(folder: Path, exclude: Path | None) -> list[Path]:
    """Instance files under ``folder``, sorted by path; an unreadable folder stops the batch."""
    if exclude is not None and folder.resolve() == exclude:
        return []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise BatchError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found += _walk(Path(entry.path), exclude)
        elif entry.name.lower().endswith(INSTANCE_SUFFIXES) and not _is_own_output(entry):
            found.append(Path(entry.path))
    return found


def _is_own_output(entry: os.DirEntry) -> bool:
    """Whether a file met in a folder is a solution.json or batch.json written by gpuplan."""
    marker = _own_outputs().get(entry.name)
    if marker is None:
        return False
    try:
        with open(entry.path, "rb") as file:
            head = file.read(OUTPUT_HEAD_BYTES)
    except OSError:
        return False  # taken: the batch reports it as unreadable
    return marker.search(head) is not None


@cache
def _own_outputs() -> dict[str, re.Pattern[bytes]]:
    """File name -> the pattern its first bytes match when gpuplan wrote it."""
    from ..results import SOLUTION_FILE, SOLUTION_FORMAT
    from .outputs import BATCH_FILE, BATCH_FORMAT  # outputs imports this module

    return {name: re.compile(rb'"format"\s*:\s*"' + re.escape(marker.encode()) + rb'"')
            for name, marker in ((SOLUTION_FILE, SOLUTION_FORMAT), (BATCH_FILE, BATCH_FORMAT))}


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder)


def _glob_root(pattern: str) -> str:
    """The folder a glob searches from: its leading components without wildcards."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if _GLOB_MAGIC.search(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


# ---------------------------------------------------------------- names


def _file_names(files: list[Path], roots: list[str]) -> list[str]:
    if not files:
        return []
    root = os.path.commonpath(roots)
    relative = [Path(os.path.relpath(os.path.abspath(f), root)) for f in files]
    names = ["__".join(r.with_suffix("").parts) for r in relative]
    counts = _counts(names)
    # Files differing only by suffix keep it, so that neither silently replaces the other.
    return ["__".join(r.parts) if counts[n] > 1 else n for n, r in zip(names, relative)]


def _object_names(objects: list[tuple[int, Instance]]) -> list[str]:
    names = [_UNSAFE.sub("_", inst.name or "").strip("._") for _, inst in objects]
    counts = _counts(names)
    return [n if n and counts[n] == 1 else f"{n or 'instance'}-{position}"
            for n, (position, _) in zip(names, objects)]


def _counts(names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def _refuse_collisions(names: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in RESERVED_NAMES or name in (".", ".."):
            raise BatchError(f"instance name '{name}' is reserved; rename the file")
        if name in seen:
            raise BatchError(f"two instances would share the output folder '{name}'; rename one of them")
        seen[name] = i


# ---------------------------------------------------------------- content hash


def content_hash(item: Item, options: dict) -> str:
    """sha256 of the instance content (file bytes and the bytes of the CSV tables it names, or
    the Instance's data) and the solve options; sets ``item.unreadable`` when the file cannot
    be read."""
    digest = hashlib.sha256(HASH_VERSION)
    _feed(digest, json.dumps(options, sort_keys=True).encode())
    if item.instance is not None:
        _feed(digest, item.instance.model_dump_json().encode())
        return "sha256:" + digest.hexdigest()
    try:  # bounded, regular files only: the same rules as the loader's
        data = read_bytes(item.path)
    except InputError as exc:
        item.unreadable = str(exc)
        data = b""
    _feed(digest, data)
    for ref in _csv_refs(item.path, data):
        _feed(digest, ref.encode())
        try:  # only a table the loader would read (inside the instance's folder) is hashed
            _feed(digest, read_bytes(csv_reference(ref, item.path.parent, str(item.path), "csv")))
        except InputError:
            _feed(digest, b"<unreadable>")  # the loader reports it; the hash only has to differ
    return "sha256:" + digest.hexdigest()


def _feed(digest, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def _csv_refs(path: Path, data: bytes) -> list[str]:
    """The CSV files an instance file names (``jobs: {csv: jobs.csv}``); [] if it does not parse."""
    if b"csv" not in data:
        return []
    try:
        if path.suffix.lower() == ".json":
            parsed = json.loads(data)
        else:
            parsed = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError, RecursionError):  # the loader reports it
        return []
    if not isinstance(parsed, dict):
        return []
    refs = []
    for table in TABLES:
        value = parsed.get(table)
        if isinstance(value, dict) and isinstance(value.get("csv"), str):
            refs.append(value["csv"])
    return refs
