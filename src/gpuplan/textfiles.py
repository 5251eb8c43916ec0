"""Reading a user's file into text or data, whatever the file holds: every problem is one
:class:`~gpuplan.errors.InputError`, never a traceback, a hang or an exhausted memory.

- only regular files are read (a FIFO would block, ``/dev/zero`` never ends), and at most
  :data:`~gpuplan.limits.MAX_FILE_BYTES` of them;
- text is UTF-8; a leading byte-order mark (as spreadsheet programs write) is dropped;
- JSON and YAML objects with a key given twice are rejected (parsers keep the last one
  silently), naming the key and the path of the object;
- nesting deeper than :data:`~gpuplan.limits.MAX_NESTING` is rejected before any recursive
  code (a parser, pydantic) could exhaust the stack.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, shown
from .limits import MAX_FILE_BYTES, MAX_NESTING

YAML_SUFFIXES = (".yaml", ".yml")


def read_text(path: str | os.PathLike, source: str | None = None, limit: int = MAX_FILE_BYTES) -> str:
    """The text of a regular UTF-8 file (BOM dropped) of at most ``limit`` bytes."""
    data = read_bytes(path, source, limit)
    source = source or str(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, None, f"cannot read file: not UTF-8 text (byte {exc.start + 1} cannot be decoded)") from None


def read_bytes(path: str | os.PathLike, source: str | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    source = source or str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(source, None, "cannot read file: not a regular file")
        if info.st_size > limit:
            raise InputError(source, None, f"file too large ({info.st_size:,} bytes; at most {limit:,})")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # the size may change after the stat
    except OSError as exc:
        raise InputError(source, None, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(source, None, f"file too large (more than {limit:,} bytes)")
    return data


def parse_json(text: str, source: str) -> Any:
    """JSON with duplicate keys and deep nesting rejected (one line naming key / path)."""
    try:
        data = json.loads(text, object_pairs_hook=_Pairs.of)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"line {exc.lineno}, column {exc.colno}", f"malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise _too_deep(source, None) from None
    check_tree(data, source)
    return data


def parse_yaml(text: str, source: str) -> Any:
    """YAML (safe loading: plain data, no tags that build objects), strict like :func:`parse_json`."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # checks the characters already
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise InputError(source, where, f"malformed YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise _too_deep(source, None) from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_file(path: str | os.PathLike, source: str | None = None) -> Any:
    """Read and parse a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    source = source or str(path)
    suffix = path.suffix.lower()
    if suffix != ".json" and suffix not in YAML_SUFFIXES:
        raise InputError(source, None, f"unknown file type '{suffix}' (expected .json, .yaml or .yml)")
    text = read_text(path, source)
    return parse_yaml(text, source) if suffix in YAML_SUFFIXES else parse_json(text, source)


# ---------------------------------------------------------------- the checks


class _Pairs(dict):
    """A JSON object that remembers the first key it was given twice."""

    duplicate: str | None = None

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> dict:
        data = cls(pairs)
        if len(data) != len(pairs):
            seen: set[str] = set()
            data.duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        return data


def check_tree(data: Any, source: str) -> None:
    """Depth-first without recursion: nesting depth, then duplicate keys, with the path."""
    stack = [(data, (), 0)]
    while stack:
        value, loc, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep(source, _path(loc))
        if isinstance(value, dict):
            if getattr(value, "duplicate", None) is not None:
                raise InputError(source, _path(loc) or None, f"duplicate key {shown(value.duplicate)}")
            stack.extend((item, loc + (key,), depth + 1) for key, item in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((item, loc + (i,), depth + 1) for i, item in reversed(list(enumerate(value))))


def _check_nodes(root: yaml.Node, source: str) -> None:
    """The YAML node tree before anything is built: nesting depth, duplicate keys (merge keys
    ``<<`` may be overridden, as YAML intends). Aliases are visited once."""
    stack = [(root, (), 0)]
    visited: set[int] = set()
    while stack:
        node, loc, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep(source, _path(loc))
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    stack.append((value_node, loc, depth + 1))
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    where = ", ".join(p for p in (_path(loc), f"line {line}") if p)
                    raise InputError(source, where, f"duplicate key {shown(key)}")
                seen.add(key)
                stack.append((value_node, loc + (key,), depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, loc + (i,), depth + 1) for i, item in enumerate(node.value))


def _too_deep(source: str, where: str | None) -> InputError:
    return InputError(source, where or None, f"nested deeper than {MAX_NESTING} levels")


def _path(loc: tuple) -> str:
    text = ""
    for element in loc:
        text += f"[{element}]" if isinstance(element, int) else ("." if text else "") + shown(element, quote=False)
    return text
