"""The building blocks every section of the instance shares: ids, bounded amounts, the strict
record base, and a job's GPU option (used by assignment jobs and schedule training jobs)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ..errors import escape_controls
from ..limits import MAX_AMOUNT, MAX_COUNT, MIN_AMOUNT

MAX_ID_CHARS = 200
MILLI_PER_GPU = 1000   # GPU shares are counted in thousandths of one GPU

# Control characters (C0, DEL, C1) and the Unicode line separators: an id is printed in
# one-line messages, tables and CSV files, where any of these would break the line.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"


def _plain_id(value: str) -> str:
    bad = next((ch for ch in value if not ch.isprintable() and ch != " "), None)
    if bad is not None:
        raise ValueError(f"an id cannot contain control characters (found {escape_controls(bad)})")
    if value != value.strip():
        raise ValueError("an id cannot start or end with whitespace")
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_CHARS),
    AfterValidator(_plain_id),
    Field(description="identifier: non-empty, at most 200 characters, no control characters, "
                      "no leading or trailing whitespace",
          json_schema_extra={"pattern": f"^[^\\s{_CONTROLS}](?:[^{_CONTROLS}]*[^\\s{_CONTROLS}])?$"}),
]


def _amount(value: float) -> float:
    if 0 < value < MIN_AMOUNT:
        raise ValueError(f"{value:g} is below {MIN_AMOUNT:g} (give 0 or a value of at least {MIN_AMOUNT:g}; "
                         f"change the unit if needed)")
    return value


# Amounts: finite (the model config), at most MAX_AMOUNT, 0 or at least MIN_AMOUNT (limits.py).
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_AMOUNT), AfterValidator(_amount)]
PosFloat = Annotated[float, Field(gt=0, le=MAX_AMOUNT), AfterValidator(_amount)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_COUNT)]
PosInt = Annotated[int, Field(ge=1, le=MAX_COUNT)]

class Record(BaseModel):
    # validate_assignment: a field set after construction is checked like one given to it.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, validate_assignment=True)


class GpuOption(Record):
    """How a job runs on one GPU type: GPU count, throughput, cost."""

    gpu_type: Id
    gpus: PosInt | None = Field(default=None, description="GPUs needed on this type; default job.gpus")
    throughput: NonNegFloat = Field(
        default=1.0, description="the whole job's throughput on this type (its own units)"
    )
    cost_per_hour: NonNegFloat = Field(
        default=0.0, description="cost of running the whole job on this type for an hour"
    )


def check_gpu_options(options: list[GpuOption], default_gpus: int | None) -> None:
    """The rules every job's GPU options keep: each type once, and a GPU count given on the
    option or as the job's default. ValueError naming the first option that breaks one."""
    seen: set[str] = set()
    for i, option in enumerate(options):
        if option.gpu_type in seen:
            raise ValueError(f"gpu_options[{i}]: GPU type '{option.gpu_type}' listed twice")
        seen.add(option.gpu_type)
        if option.gpus is None and default_gpus is None:
            raise ValueError(f"gpu_options[{i}]: gpus missing (set it here or job.gpus)")
