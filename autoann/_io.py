"""Atomic file and directory writes (nothing the user had is left half-written), JSON-safe values, and
reading the YAML users write."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import yaml

from autoann.errors import ExportError


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 does.

    YAML 1.1 wants a dot in a float, so PyYAML reads ``1e-3`` as the string
    "1e-3"; users write it in ``--set learning_rate=1e-3``, rule files and
    space files, and mean the number.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, except that ``1e-3`` (no dot) is a number: the one YAML reader for user files."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def check_creatable(path: Path, flag: str = "-o") -> None:
    """Raise :class:`ExportError` unless ``path`` can be created: its nearest existing folder is a writable folder.

    Checked before any work, so a run or a file is never half-made (and no
    ``PermissionError`` / ``NotADirectoryError`` traceback reaches the user).
    """
    ancestor = Path(path).absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ExportError(f"Cannot create {path}: {ancestor} is a file, not a folder. Choose another {flag}.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ExportError(f"Cannot create {path}: the folder {ancestor} is not writable. Choose another {flag}, "
                          "or make the folder writable.")


def check_output(path: Path, overwrite: bool, flag: str = "-o") -> None:
    """Refuse an output file that exists (unless ``overwrite``) or cannot be created: every command's ``-o`` door."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder; {flag} takes a file name.")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} already exists; choose another {flag}, or pass --overwrite to replace it.")
    check_creatable(path, flag)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) through a temporary file in the same folder."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        check_creatable(path)  # names the folder that is a file or not writable
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}. Check the folder exists and is writable.") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_dir(staging: Path, target: Path, overwrite: bool) -> None:
    """Move a finished ``staging`` directory to ``target`` in one rename.

    An existing ``target`` is only replaced when ``overwrite`` is true, and it is
    moved aside first so a failure leaves it intact.
    """
    backup = None
    if target.exists():
        if not overwrite:
            raise ExportError(f"{target} already exists; choose another output or pass --overwrite.")
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
    try:
        os.replace(staging, target)
    except OSError as exc:
        if backup is not None:
            os.replace(backup, target)
        raise ExportError(f"Cannot move the run into {target}: {exc.strerror or exc}.") from None
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def not_found(path: Path) -> str:
    """The message for a data path that does not exist: where it was looked for."""
    return f"File not found: {path} (looked in {Path(path).resolve().parent}). Check the path and spelling."


def read_user_text(path: Path, what: str, error: type[Exception]) -> str:
    """The UTF-8 text of a file the user named; ``error`` says which file failed and why."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"Cannot read {what.lower()} {path}: {exc}") from None


def check_keras_file(path: Path, what: str, fix: str, error: type[Exception]) -> None:
    """Raise ``error`` unless ``path`` is a file that can be a ``.keras`` model (a zip archive).

    Keras answers a truncated or foreign file with "File not found" although it
    exists; this says what the file is instead, without importing Keras.
    """
    if not path.is_file():
        raise error(f"No {what} at {path}. {fix}")
    if not zipfile.is_zipfile(path):
        raise error(f"{path} is not a Keras model file: a .keras file is a zip archive, and this one "
                    f"({path.stat().st_size} bytes) is truncated or another kind of file. {fix}")


def to_jsonable(obj: Any) -> Any:
    """A JSON-safe copy of ``obj``: numpy scalars/arrays, paths, dates, dataclasses converted;
    NaN and infinities become ``null`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_jsonable(v) for v in obj), key=str)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, (datetime, date, pd.Timestamp)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return str(obj)


def save_predictions(frame: pd.DataFrame, path: str | Path, overwrite: bool = False) -> Path:
    """Write predictions to CSV (or Parquet by suffix) atomically; never replace a file unless ``overwrite``."""
    path = Path(path)
    check_output(path, overwrite)
    if path.suffix.lower() not in (".parquet", ".pq"):
        write_text_atomic(path, frame.to_csv(index=False))
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")  # same folder: the rename is atomic
        try:
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except (OSError, ImportError) as exc:
        raise ExportError(f"Cannot write {path}: {exc}.") from None
    return path
