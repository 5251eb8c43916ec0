"""Hypothesis fuzzing of the loader and the CSV reader: whatever the bytes, loading gives an
Instance or one InputError whose message is one bounded line; never another exception.
The CSV fuzzer also checks that a numeric cell's content is never echoed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpuplan as gp

from corpus.samples import SAMPLES, valid

PROBLEM = "assignment"
MAX_MESSAGE = 1500
MARKER = "Zq9MARK"
# GPUPLAN_FUZZ_EXAMPLES=5000 for a longer hunt (the suite runs the default).
EXAMPLES = int(os.environ.get("GPUPLAN_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _load_file(name: str, content: bytes, extra: dict[str, bytes] | None = None):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        for other, data in (extra or {}).items():
            (Path(folder) / other).write_bytes(data)
        return _outcome(lambda: gp.load(path))


def _outcome(load) -> str | None:
    """None when it loaded; the message when it was rejected (any other exception fails)."""
    try:
        load()
    except gp.InputError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message and len(message) <= MAX_MESSAGE, message
        assert len(message.splitlines()) == 1, message
        return message
    return None


@FUZZ
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".json", ".yaml"]))
def test_loader_survives_any_bytes(content, suffix):
    _load_file("inst" + suffix, content)


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".json", ".yaml"]))
def test_loader_survives_a_mangled_valid_file(data, suffix):
    text = json.dumps(valid(PROBLEM), indent=1)
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.text(max_size=12) | st.sampled_from(['"', "[", "{", "}", ",", "\ufeff", "- ", ": ", "&a", "*a"]))
    _load_file("inst" + suffix, (text[:at] + insert + text[at + cut:]).encode("utf-8", "surrogatepass"))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


@FUZZ
@given(data=st.data())
def test_from_dict_survives_any_value_anywhere(data):
    instance = valid(PROBLEM)
    path = data.draw(st.sampled_from([p for p in _paths(instance) if p]))
    value = data.draw(json_values)
    target = instance
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _outcome(lambda: gp.from_dict(instance))


_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10)


@settings(max_examples=EXAMPLES + 100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), bom=st.booleans())
def test_csv_reader_survives_any_table_and_never_echoes_a_number_cell(data, bom):
    sample = SAMPLES[PROBLEM]
    header = sample.csv_text.splitlines()[0].split(",")
    columns = data.draw(st.lists(st.sampled_from(header + ["priority", "cost_per_hour", "bogus"]),
                                 min_size=1, max_size=7))
    rows = data.draw(st.lists(st.lists(_cells, min_size=len(columns), max_size=len(columns)), max_size=4))
    numeric = [i for i, c in enumerate(columns) if c in ("gpus", "throughput", "priority", "cost_per_hour")]
    if rows and numeric:
        rows[0][data.draw(st.sampled_from(numeric))] = MARKER
    lines = [",".join(columns)] + [",".join(_quoted(cell) for cell in row) for row in rows]
    table = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    instance = valid(PROBLEM)
    instance[sample.csv_table] = {"csv": "table.csv"}
    message = _load_file("inst.json", json.dumps(instance).encode(), {"table.csv": table.encode()})
    assert message is None or MARKER not in message, message


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"\n\r') else cell
