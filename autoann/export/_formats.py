"""Other runtimes' formats of a run's SavedModel (``autoann export RUN_DIR --format onnx|litert``), verified.

Each converter reads the run's SavedModel (the same ``serving_default``
signature TF Serving runs: raw columns in, ``probabilities`` + ``label`` or
``prediction`` out), writes one file into the run directory and runs it in its
own runtime on verification rows: the rows given, or rows made from the schema
(numbers with NaN, every known category, a missing and an unseen one; random
pixels for images). Every output must equal the SavedModel's to
:data:`TOLERANCE`, or the file is removed and an :class:`ExportError` says
which output differs and by how much.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from autoann._extras import require
from autoann._io import write_bytes_atomic
from autoann.errors import ExportError, ParameterError
from autoann.export._run_dir import METADATA_FILE, SIGNATURE, saved_model_path
from autoann.fitted_run import RunMetadata
from autoann.schema import category_strings

TOLERANCE = 1e-5
FORMATS = ("onnx", "litert")
#: rows made from the schema when none are given
VERIFY_ROWS = 64


def run_metadata(run_dir: Path) -> RunMetadata:
    """A run directory's checked ``metadata.json``, or an :class:`ExportError` saying what is wrong."""
    import json

    path = Path(run_dir) / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"Cannot read {path}: {exc}. Pass a run directory written by `autoann train`.") from None
    return RunMetadata.from_json(data, path)


def signature_inputs(metadata: RunMetadata, rows: pd.DataFrame | np.ndarray | None = None,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """The signature's inputs (by signature name) for ``rows``, or for rows made from the schema."""
    schema = metadata.schema
    names = (metadata.serving or {}).get("inputs") or {c.name: c.name for c in schema}
    rng = np.random.default_rng(seed)
    if schema[0].kind == "image":
        shape, dtype = tuple(schema[0].shape or ()), np.dtype(schema[0].dtype)
        if rows is None:
            size = (VERIFY_ROWS, *shape)
            rows = rng.integers(0, 256, size=size) if dtype.kind == "u" else rng.random(size)
        return {names[schema[0].name]: np.asarray(rows, dtype=dtype)}
    if rows is None:
        levels = metadata.vocabularies
        rows = pd.DataFrame({c.name: _made_column(c.kind, levels.get(c.name, []), rng) for c in schema})
    inputs = {}
    for column in schema:
        if column.kind == "numeric":
            inputs[names[column.name]] = pd.to_numeric(rows[column.name], errors="coerce").to_numpy("float32")
        else:
            inputs[names[column.name]] = category_strings(rows[column.name]).astype(str).astype(object)
    return inputs


def _made_column(kind: str, levels: list[str], rng: np.random.Generator) -> np.ndarray:
    """Verification values: normal numbers with NaN in every 7th row; known levels, "" and an unseen one."""
    if kind == "numeric":
        values = rng.normal(size=VERIFY_ROWS) * 3
        values[::7] = np.nan
        return values
    choices = np.asarray([*levels, "", "never seen in training"], dtype=object)
    return choices[np.arange(VERIFY_ROWS) % len(choices)]


def saved_model_outputs(run_dir: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The SavedModel's ``serving_default`` outputs for ``inputs`` (the reference every format must match)."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(saved_model_path(run_dir))).signatures[SIGNATURE]
    out = serve(**{k: tf.constant(v.astype(bytes) if v.dtype == object else v) for k, v in inputs.items()})
    return {k: _plain(v.numpy()) for k, v in out.items()}


def _plain(values: np.ndarray) -> np.ndarray:
    """Strings as ``str`` whatever the runtime gave (bytes or str), numbers as they are."""
    if values.dtype.kind in "OSU":
        return np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()],
                          dtype=object).reshape(values.shape)
    return values


def check_outputs(fmt: str, got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> dict[str, float]:
    """The largest absolute difference per numeric output; an :class:`ExportError` if any exceeds the tolerance
    or a label differs where the SavedModel's probabilities are not tied."""
    gaps: dict[str, float] = {}
    for name, reference in want.items():
        if name not in got:
            raise ExportError(f"The {fmt} model has no output {name!r}; it has {sorted(got)}.")
        value = _plain(np.asarray(got[name]))
        if reference.dtype == object:
            continue  # labels: checked through the probabilities they are the argmax of
        gaps[name] = float(np.nanmax(np.abs(value.astype("float64") - reference), initial=0.0))
        same_nan = np.array_equal(np.isnan(value.astype("float64")), np.isnan(reference.astype("float64")))
        if not same_nan or gaps[name] > TOLERANCE:
            raise ExportError(f"The {fmt} model's {name!r} differs from the SavedModel's by up to {gaps[name]:.3g} "
                              f"(NaN in the same places: {same_nan}); more than the {TOLERANCE} allowed, so it was "
                              "not kept. Please report this with the run's metadata.json.")
    if "label" in want and "label" in got:
        labels = _plain(np.asarray(got["label"]))
        probabilities = np.sort(want["probabilities"], axis=1)
        clear = probabilities[:, -1] - probabilities[:, -2] > TOLERANCE if probabilities.shape[1] > 1 else True
        if (labels[clear] != want["label"][clear]).any():
            raise ExportError(f"The {fmt} model's labels differ from the SavedModel's; it was not kept.")
    return gaps


#: format -> the file written into the run directory
FILES = {"onnx": "model.onnx", "litert": "model.tflite"}


def check_formats(formats: Sequence[str]) -> None:
    """Refuse, before any training, an unknown format or one whose optional extra is not installed."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise ParameterError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
        require(fmt)  # the extra is named after the format


def export_format(run_dir: str | Path, fmt: str, output: str | Path | None = None,
                  rows: pd.DataFrame | np.ndarray | None = None) -> tuple[Path, dict[str, float]]:
    """Convert a run's SavedModel to ``fmt`` (``onnx`` or ``litert``), verify it, and return (file, gaps).

    The file goes to ``output`` or into the run directory (``model.onnx`` /
    ``model.tflite``); ``gaps`` is the largest absolute difference of each
    numeric output from the SavedModel's on the verification rows (``rows``,
    else rows made from the schema). A file that fails verification is removed.
    """
    if fmt not in FORMATS:
        raise ParameterError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    run_dir = Path(run_dir)
    source = saved_model_path(run_dir)
    if not (source / "saved_model.pb").exists():
        raise ExportError(f"{run_dir} holds no SavedModel (saved_model/1/saved_model.pb); pass a run directory "
                          "written by `autoann train`.")
    if fmt == "onnx":
        from autoann.export._onnx import convert, run
    else:
        from autoann.export._litert import convert, run
    metadata = run_metadata(run_dir)
    inputs = signature_inputs(metadata, rows)
    path = Path(output) if output is not None else run_dir / FILES[fmt]
    write_bytes_atomic(path, convert(source))
    try:
        gaps = check_outputs(fmt, run(path, inputs), saved_model_outputs(run_dir, inputs))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, gaps
