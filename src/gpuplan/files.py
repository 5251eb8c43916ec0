"""Every output gpuplan writes goes through here: atomic files, folders that are complete or
absent, and one :class:`~gpuplan.errors.OutputError` line for any failure (exists, read-only,
full disk, a folder in the way) instead of a traceback.

Each file is written to a temporary file in the target's folder, flushed to disk and renamed
over the target (``os.replace`` is atomic on POSIX and Windows), so a crash or Ctrl-C never
leaves a half-written file. :func:`output_folder` removes, on failure, the files it wrote and
the folders it created, so a failed ``solve --out`` leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    target = Path(path)
    if target.is_dir():
        raise OutputError(str(target), "a folder is in the way")
    created = _make_folder(target.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            _write_all(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        _remove_folders(created)
        if isinstance(exc, OSError):
            raise OutputError(str(target), _reason(exc)) from None
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def output_folder(directory: str | os.PathLike):
    """A folder to write files into with ``write_text(name, text)``; if anything fails, the
    files written and the folders created are removed again and the error raised."""
    folder = Path(directory)
    created = _make_folder(folder)
    writer = _FolderWriter(folder)
    try:
        yield writer
    except BaseException:
        for path in reversed(writer.written):
            path.unlink(missing_ok=True)
        _remove_folders(created)
        raise


def check_writable_folder(folder: str | os.PathLike) -> None:
    """Fail early, before any work, where an output folder can never be written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(str(folder), "a file is in the way (an output folder is needed)")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(str(folder), f"{existing} is a file")
    if not _writable(existing):
        raise OutputError(str(folder), f"permission denied on {existing}")


class _FolderWriter:
    def __init__(self, folder: Path):
        self.folder = folder
        self.written: list[Path] = []

    def write_text(self, name: str, text: str) -> Path:
        path = self.folder / name
        atomic_write_text(path, text)
        self.written.append(path)
        return path

    def remove(self, name: str) -> None:
        try:
            (self.folder / name).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(str(self.folder / name), _reason(exc)) from None


def _write_all(handle, data: bytes) -> None:
    handle.write(data)


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, deepest first."""
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(missing)
        raise OutputError(str(folder), _reason(exc)) from None
    return missing


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; only empty ones go
        try:
            folder.rmdir()
        except OSError:
            return


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileExistsError) or isinstance(exc, NotADirectoryError):
        return "a file is in the way"
    if isinstance(exc, IsADirectoryError):
        return "a folder is in the way"
    return exc.strerror or str(exc)
