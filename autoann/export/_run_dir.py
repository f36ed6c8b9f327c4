"""Write a finished search into a run directory, atomically.

A run directory is what ``autoann train`` leaves behind and what
:func:`autoann.predict._predictor.load` reads:

``model.keras``
    preprocessing + network as one Keras model on the raw named columns; loads
    with ``keras.models.load_model(path, safe_mode=True)`` once
    ``autoann.search._preprocessing`` (its custom layers) is imported.
``saved_model/1/``
    a TensorFlow SavedModel, in the numbered version folder TensorFlow
    Serving's ``--model_base_path`` expects (run directories written before
    autoann 0.2 have it directly in ``saved_model/``; :func:`saved_model_path`
    finds either), whose ``serving_default`` signature takes the raw
    columns by name (``[None]`` float32 / string) and returns
    ``probabilities`` + ``label`` (classification) or ``prediction``
    (regression). It needs TensorFlow only, not autoann. An image model's
    signature takes one input, ``image``: ``[None, height, width, channels]``
    of the stored pixel type (uint8 for image files).
``metadata.json``
    :class:`autoann.fitted_run.RunMetadata` as JSON: schema, task, classes,
    metrics, versions, rationale (``format`` 1).
``leaderboard.csv``, ``report.md``, ``learning_curves.png``, ``search_progress.png``.

Files are written into a staging folder that :func:`finalize_run` moves into
place in one rename; if writing fails, what was written is removed again and
the user's existing run directory is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import platform
import re
import shutil
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Callable

import keras

from autoann._io import replace_dir, to_jsonable, write_text_atomic
from autoann.data import CLASSIFICATION
from autoann.errors import ExportError
from autoann.fitted_run import FORMAT, METADATA_FILE, MODEL_FILE, FittedRun, RunMetadata
from autoann.schema import Column, model_input_names, unique_names

SAVED_MODEL_DIR = "saved_model"
SAVED_MODEL_VERSION = 1  # TF Serving serves the highest numbered folder under its --model_base_path
HISTORY_FILE = "history.json"  # the final model's per-epoch training and validation curves
LEADERBOARD_FILE = "leaderboard.csv"
SIGNATURE = "serving_default"
#: distribution name -> metadata key under ``versions``
VERSIONED = {"tensorflow": "tensorflow", "keras": "keras", "keras-tuner": "keras_tuner", "numpy": "numpy",
             "pandas": "pandas", "scikit-learn": "sklearn"}
#: TensorFlow renames a signature argument that is not a Python identifier (``2nd`` -> ``arg_2nd``, ``b-c`` ->
#: ``b_c``) and refuses the export when two renamed arguments clash, so signature names are identifiers.
_VALID_ARG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: the signature's outputs; an input named like one would clash with it in ONNX, where all names share one graph
OUTPUT_NAMES = ("probabilities", "label", "prediction")


def serving_names(columns: list[str]) -> dict[str, str]:
    """Column name -> the SavedModel signature's argument name.

    Names that are ASCII identifiers (not Python keywords, not an output's
    name) are kept as they are; in the others every other character becomes
    ``_`` (``"b c"`` -> ``"b_c"``), with an ``x`` in front where the result
    would still not be one (``"2nd"`` -> ``"x2nd"``, ``"label"`` -> ``"xlabel"``)
    and a numeric suffix when two columns would collide. The mapping is stored
    in ``metadata.json`` under ``serving.inputs``.
    """
    return unique_names(columns, _valid_arg, "x", allowed="A-Za-z0-9_")


def _valid_arg(name: str) -> bool:
    return bool(_VALID_ARG.match(name)) and not keyword.iskeyword(name) and name not in OUTPUT_NAMES


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for dist, key in VERSIONED.items():
        try:
            versions[key] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            versions[key] = None
    return versions


def complete_metadata(metadata: RunMetadata) -> RunMetadata:
    """The search's metadata plus what the export knows: format, versions, time, serving names."""
    import autoann

    outputs = list(OUTPUT_NAMES[:2] if metadata.is_classification else OUTPUT_NAMES[2:])
    return dataclasses.replace(
        metadata,
        format=FORMAT,
        autoann_version=autoann.__version__,
        versions=_versions(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        serving={"signature": SIGNATURE, "inputs": serving_names([c.name for c in metadata.schema]),
                 "outputs": outputs, "model_inputs": model_input_names(metadata.schema)},
    )


def _tensor_spec(column: Column, name: str):
    """The serving signature's input for one schema column: a batch of values, or of stored images."""
    import tensorflow as tf

    if column.kind == "image":
        return tf.TensorSpec([None, *(column.shape or ())], tf.as_dtype(column.dtype), name=name)
    return tf.TensorSpec([None], tf.float32 if column.kind == "numeric" else tf.string, name=name)


def write_saved_model(model: keras.Model, metadata: RunMetadata, path: Path) -> None:
    """Write the TF SavedModel whose ``serving_default`` takes the raw columns by name
    (``metadata`` completed by :func:`complete_metadata`)."""
    import tensorflow as tf

    names = metadata.serving["inputs"]
    schema = metadata.schema
    keys = model_input_names(schema)
    spec = {names[c.name]: _tensor_spec(c, names[c.name]) for c in schema}

    def raw(inputs: dict[str, Any]) -> dict[str, Any]:
        return {keys[c.name]: inputs[names[c.name]] for c in schema}

    if metadata.is_classification:
        classes = [str(c) for c in metadata.classes]

        def serve(inputs: dict[str, Any]) -> dict[str, Any]:
            out = tf.cast(model(raw(inputs), training=False), tf.float32)
            if len(classes) == 2 and out.shape[-1] == 1:
                out = tf.concat([1.0 - out, out], axis=1)
            label = tf.gather(tf.constant(classes), tf.argmax(out, axis=1))
            return {"probabilities": out, "label": label}
    else:

        def serve(inputs: dict[str, Any]) -> dict[str, Any]:
            return {"prediction": tf.cast(model(raw(inputs), training=False), tf.float32)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)


def saved_model_path(run_dir: str | Path) -> Path:
    """The SavedModel of a run directory: its highest numbered version folder, or ``saved_model/`` itself
    in a run directory written before the version folder existed."""
    base = Path(run_dir) / SAVED_MODEL_DIR
    versions = [p for p in base.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()]
    return max(versions, key=lambda p: int(p.name)) if versions else base


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n")


def write_run_files(run: FittedRun, directory: Path) -> None:
    """Write every run file of ``run`` into the existing (staging) ``directory``.

    Any OSError (disk full, permission, ...) becomes an :class:`ExportError`;
    the files written so far are removed, and so is ``directory`` if nothing
    else is in it (a caller's search state, kept for ``--resume``, stays).
    """
    import tensorflow as tf

    from autoann.export import _report as report

    directory = Path(directory)
    if not directory.is_dir():
        raise ExportError(f"Cannot export into {directory}: the folder does not exist.")
    run = dataclasses.replace(run, metadata=complete_metadata(run.metadata))
    steps: list[tuple[str, Callable[[Path], Any]]] = [
        (MODEL_FILE, lambda p: keras.saving.save_model(run.model, p)),
        (SAVED_MODEL_DIR, lambda p: write_saved_model(run.model, run.metadata, p / str(SAVED_MODEL_VERSION))),
        (LEADERBOARD_FILE, lambda p: write_text_atomic(p, run.leaderboard.to_csv(index=False))),
        (HISTORY_FILE, lambda p: _write_json(p, to_jsonable(run.history or {}))),
        (report.REPORT_FILE, lambda p: report.write_report(run, directory)),
        (METADATA_FILE, lambda p: _write_json(p, run.metadata.to_json())),  # last: a run dir with metadata is complete
    ]
    written: list[Path] = []
    try:
        for step, write in steps:
            names = report.REPORT_FILES if step == report.REPORT_FILE else (step,)
            written.extend(directory / name for name in names)
            write(directory / step)
    except BaseException as exc:
        _discard(directory, written)
        if isinstance(exc, ExportError):
            raise
        if isinstance(exc, (OSError, tf.errors.OpError)):
            reason = getattr(exc, "strerror", None) or getattr(exc, "message", None) or str(exc)
            raise ExportError(
                f"Cannot write the run files into {directory} (failed on {step}): {reason}. "
                "Free disk space or choose a writable folder; nothing half-written was left behind."
            ) from exc
        raise


def _discard(directory: Path, written: list[Path]) -> None:
    """Remove ``written`` paths, then ``directory`` itself if it is left empty."""
    for path in written:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for leftover in directory.glob(".*.*"):  # write_text_atomic's temporary files
        if leftover.is_file() and any(leftover.name.startswith(f".{p.name}.") for p in written):
            leftover.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass  # not empty: it holds the caller's own files


def finalize_run(staging: Path, run_dir: Path, overwrite: bool) -> None:
    """Move the finished ``staging`` folder to ``run_dir`` in one rename (:func:`autoann._io.replace_dir`).

    An existing ``run_dir`` is replaced only with ``overwrite``, and is kept
    intact if the move fails.
    """
    staging, run_dir = Path(staging), Path(run_dir)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(staging, run_dir, overwrite)
    except ExportError:
        raise
    except OSError as exc:
        raise ExportError(f"Cannot move the run into {run_dir}: {exc.strerror or exc}. "
                          "Check the folder is writable.") from exc
