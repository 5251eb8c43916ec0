"""An importer's output is checked like a loaded file, and a failure names the input."""

from __future__ import annotations

from ..errors import InputError
from ..instance.io import from_dict
from ..instance.schema import Instance


def imported(data: dict, inputs: str) -> Instance:
    """The instance of ``data`` built from the files ``inputs``; when those files cannot make
    a valid instance, one InputError naming them and saying why (the instance field too)."""
    try:
        return from_dict(data, source=inputs)
    except InputError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise InputError(inputs, None, f"cannot make a valid instance: {where}{exc.problem}") from None
