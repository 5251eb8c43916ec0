"""Where a CSV table of an instance file may be: a regular file inside the instance file's
folder (or a folder below it). No absolute path, no ``..`` out of the folder, no symbolic
link that leads out of it: an instance file names its own tables, never other files of the
machine (whose first line would otherwise be echoed in an error message)."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..errors import InputError, shown


def csv_reference(ref: Any, base_dir: str | os.PathLike, source: str, field: str) -> Path:
    """The resolved path of the CSV file ``ref`` names, relative to ``base_dir``; else InputError."""
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(source, field, "must be a file path relative to the instance file")
    if "\x00" in ref or PurePosixPath(ref).is_absolute() or PureWindowsPath(ref).is_absolute() \
            or PureWindowsPath(ref).drive:
        raise InputError(source, field, f"{shown(ref)} is not a path relative to the instance file's folder")
    base = Path(base_dir).resolve()
    try:
        target = (base / ref).resolve(strict=True)
        info = target.stat()
    except FileNotFoundError:
        raise InputError(source, field, f"cannot read CSV file {shown(ref)}: no such file") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        raise InputError(source, field, f"cannot read CSV file {shown(ref)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not target.is_relative_to(base):
        raise InputError(source, field, f"{shown(ref)} leads outside the instance file's folder "
                                        f"(a CSV table must be in that folder or below it)")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(source, field, f"{shown(ref)} is not a regular file")
    return target
