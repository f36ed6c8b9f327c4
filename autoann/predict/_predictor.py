"""Load a run directory and predict on raw rows, checked against the training schema.

``autoann.load(run_dir)`` reads ``metadata.json`` as a
:class:`~autoann.fitted_run.RunMetadata` and returns a :class:`Predictor`.
Rows go in as a DataFrame, a dict of columns, a list of records or a
CSV/Parquet path; they are checked against the schema the model was trained
on before any model call (:mod:`autoann.predict._inputs`).

Labels come back in the type the target had in training (int, bool, float or
str), from ``metadata.json``'s ``classes`` and ``class_dtype``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import pandas as pd

from autoann import metrics
from autoann.data import image_rows
from autoann.errors import DataError, ExportError, ParameterError, SchemaError
from autoann.export import METADATA_FILE, MODEL_FILE
from autoann.fitted_run import RunMetadata, check_run_dir
from autoann.predict._inputs import BATCH_SIZE, call_eagerly, check_frame, read_data, warn
from autoann.schema import Column, image_column

#: Rows per direct model call in :meth:`Predictor.raw_output` with ``eager=True``.
EAGER_CHUNK = 8192


def load_keras_model(path: str | Path) -> keras.Model:
    """A saved autoann model, for prediction: its layers registered, safe mode on, not compiled.

    The file keeps the optimizer of the trial it came from, which prediction
    never uses; Keras' warning that it skipped those variables is dropped.
    """
    import autoann.layers  # noqa: F401  (registers the package="autoann" layers model.keras uses)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.models.load_model(path, safe_mode=True, compile=False)


def load(run_dir: str | Path) -> "Predictor":
    """Open a run directory written by ``autoann train`` (or an estimator's ``export``)."""
    run_dir = check_run_dir(run_dir)
    try:
        data = json.loads((run_dir / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"Cannot read {run_dir / METADATA_FILE}: {exc}.") from None
    metadata = RunMetadata.from_json(data, run_dir / METADATA_FILE)
    try:
        model = load_keras_model(run_dir / MODEL_FILE)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError for a bad or foreign file
        raise ExportError(f"Cannot load {run_dir / MODEL_FILE}: {exc}. It was written with "
                          f"{metadata.versions}; load it with compatible versions.") from exc
    return Predictor(model, metadata, run_dir)


def _typed(classes: list[str], class_dtype: str | None) -> np.ndarray:
    """The class labels back in the target's own type (``"3"`` -> 3 for an int target)."""
    try:
        if class_dtype == "int":
            return np.array([int(float(c)) for c in classes], dtype="int64")
        if class_dtype == "float":
            return np.array([float(c) for c in classes], dtype="float64")
        if class_dtype == "bool" and set(classes) <= {"True", "False"}:
            return np.array([c == "True" for c in classes], dtype=bool)
    except ValueError:
        pass
    return np.array(classes, dtype=object)


class Predictor:
    """A trained autoann model with its metadata: predict, predict_proba, predict_frame, evaluate.

    Attributes: ``model`` (Keras, raw named inputs), ``metadata`` (the
    run's :class:`~autoann.fitted_run.RunMetadata`; ``metadata.to_json()`` is
    the ``metadata.json`` dict), ``task``, ``classes`` (labels in the target's
    type; None for regression), ``schema`` (list of :class:`Column`),
    ``target_names``, ``run_dir``. ``metadata`` may also be given as the
    ``metadata.json`` dict (an estimator's ``metadata_``); it is checked as
    :func:`load` checks the file.
    """

    def __init__(self, model: keras.Model, metadata: RunMetadata | dict[str, Any], run_dir: Path | None = None):
        if not isinstance(metadata, RunMetadata):
            metadata = RunMetadata.from_json(metadata)
        self.model = model
        self.metadata = metadata
        self.run_dir = run_dir
        self.task: str = metadata.task
        self.schema: list[Column] = list(metadata.schema)
        self.target_names: list[str] = list(metadata.target_names)
        self._class_text: list[str] | None = [str(c) for c in metadata.classes] if metadata.classes else None
        self.classes = None if self._class_text is None else _typed(self._class_text, metadata.class_dtype)
        self._vocabularies = metadata.vocabularies
        #: an image model's one input (the stored size and pixel type), None for tables
        self.image: Column | None = image_column(self.schema)
        #: column names of a model fitted on a bare array (an estimator's export), in order
        self.feature_names: list[str] | None = metadata.feature_names
        #: Monte Carlo dropout passes per prediction (G-REG-5; ``--uncertainty``), 0 = one deterministic pass
        self.mc_samples = int(metadata.best_hyperparameters.get("mc_dropout_samples") or 0)
        if self.mc_samples and not self.has_dropout:
            self.mc_samples = 0  # dropout 0 was chosen: every pass would be the same

    def __repr__(self) -> str:
        return f"Predictor(task={self.task!r}, targets={self.target_names}, run_dir={str(self.run_dir)!r})"

    @property
    def is_classifier(self) -> bool:
        return self.task in metrics.CLASSIFICATION

    def rows(self, X: Any) -> pd.DataFrame:
        """``X`` as a frame (:func:`read_data`); a 2-D array is accepted when the model was fitted on one."""
        if isinstance(X, np.ndarray) and X.ndim == 2 and self.feature_names is not None:
            if X.shape[1] != len(self.feature_names):
                raise SchemaError(f"X has {X.shape[1]} columns, but this model was fitted on "
                                  f"{len(self.feature_names)}; pass the same columns, in the same order.")
            return pd.DataFrame(X, columns=self.feature_names).infer_objects()
        return read_data(X)

    def raw_output(self, X: Any, *, eager: bool = False) -> np.ndarray:
        """The model's raw output for the rows of ``X``, shape (N, units), after the schema checks
        (warnings are emitted).

        ``eager=True`` makes one deterministic pass that calls the model
        directly, chunk by chunk (:func:`~autoann.predict.call_eagerly`):
        10-50x faster than ``model.predict`` for the small batches
        scikit-learn hands the estimators, and never Monte Carlo dropout.
        """
        frame, inputs, _ = self._read(X)
        if eager:
            return call_eagerly(self.model, inputs, len(frame), chunk=EAGER_CHUNK)
        return self._passes(inputs, len(frame)).mean(axis=0)

    def _read(self, X: Any, ignore: Sequence[str] = (), from_file: bool | None = None
              ) -> tuple[pd.DataFrame, dict[str, np.ndarray], Any]:
        """``X`` as (a frame indexing its rows, the model's checked inputs, the labels the data carries).

        Tables: the frame is the rows themselves and carry no separate labels.
        Images (a folder, a ``.npz``, an array): conformed to the stored size
        and channels as training did; the frame holds each image's ``file``
        (folders); the labels are the class sub-folders or the ``.npz``'s ``y``.
        ``from_file`` (default: whether ``X`` is a path) quotes file lines in errors.
        """
        if self.image is not None:
            from autoann.data import load_images

            shape = self.image.shape or ()
            batch = load_images(X, labeled=False, size=(shape[0], shape[1]), channels=shape[2])
            for note in batch.notes:
                warn(note)
            frame = image_rows(batch)
            return frame, {self.image.name: np.asarray(batch.images, dtype=self.image.dtype)}, batch.labels
        frame = self.rows(X)
        from_file = isinstance(X, (str, Path)) if from_file is None else from_file
        inputs, notes = check_frame(frame, self.schema, self._vocabularies, ignore, from_file)
        for note in notes:
            warn(note)
        return frame, inputs, None

    def _layers(self) -> list[keras.layers.Layer]:
        """Every layer of the model, nested models (the trained network inside the served model) opened."""
        from autoann.layers import walk_layers

        return walk_layers(self.model)

    @property
    def has_dropout(self) -> bool:
        return any(isinstance(layer, (keras.layers.Dropout, keras.layers.AlphaDropout)) and layer.rate > 0
                   for layer in self._layers())

    def _passes(self, inputs: dict[str, np.ndarray], n_rows: int, samples: int | None = None) -> np.ndarray:
        """Raw outputs, shape (passes, N, units): one deterministic pass, or Monte Carlo dropout passes.

        A Monte Carlo pass runs the model with dropout on (``training=True``),
        batch normalization frozen to its learned statistics and image
        augmentation off.
        """
        from autoann.layers import Augmentation

        samples = self.mc_samples if samples is None else samples
        if n_rows == 0:
            return np.zeros((1, 0, int(self.model.output_shape[-1])), dtype="float32")
        if not samples and n_rows <= BATCH_SIZE:  # a served request: model.predict's set-up costs ~15x the call
            return call_eagerly(self.model, inputs, n_rows).reshape(1, n_rows, -1)
        if not samples:
            out = self.model.predict(inputs, batch_size=BATCH_SIZE, verbose=0)
            return np.asarray(out).reshape(1, n_rows, -1)
        for layer in self._layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # Keras runs a frozen BatchNormalization in inference mode
            elif isinstance(layer, Augmentation):
                layer.enabled = False
        return np.stack([call_eagerly(self.model, inputs, n_rows, training=True) for _ in range(samples)])

    def predict_uncertainty(self, X: Any, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Monte Carlo dropout (G-REG-5): the mean and standard deviation over ``samples`` passes.

        Classification: of the class probabilities, (N, K) each; regression: of
        the values, shaped as :meth:`predict`. ``samples`` defaults to the
        run's ``mc_dropout_samples`` (``--uncertainty`` sets 50).
        """
        samples = samples or self.mc_samples
        if samples < 2 or not self.has_dropout:
            raise ParameterError(
                "Monte Carlo dropout needs a model with dropout and at least 2 passes; this model has "
                f"{'dropout' if self.has_dropout else 'no dropout'} and samples={samples}. Train with "
                "--uncertainty (which keeps a dropout rate of at least 10%), or pass samples=N.")
        frame, inputs, _ = self._read(X)
        passes = self._passes(inputs, len(frame), samples=samples)
        if self.is_classifier:
            passes = np.stack([metrics.probabilities(p, len(self._class_text)) for p in passes])
        mean, std = passes.mean(axis=0), passes.std(axis=0)
        if not self.is_classifier and mean.shape[1] == 1:
            return mean[:, 0], std[:, 0]
        return mean, std

    def _require_classifier(self, method: str) -> None:
        if not self.is_classifier:
            raise TypeError(f"{method} is for classifiers; this is a {self.task} model. Use predict().")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (N, K), columns in ``classes`` order (binary too: [1 - p, p])."""
        self._require_classifier("predict_proba")
        return metrics.probabilities(self.raw_output(X), len(self._class_text))

    def predict(self, X: Any) -> np.ndarray:
        """Labels (in the target's type) or values: (N,) for one target, (N, n_targets) for several."""
        if self.is_classifier:
            return self.classes[self.predict_proba(X).argmax(axis=1)]
        out = self.raw_output(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_frame(self, X: Any) -> pd.DataFrame:
        """Predictions as a table, one row per input row (same index): classification gives
        ``label`` and one ``proba_<class>`` column per class; regression one column per target.
        A run trained with ``--uncertainty`` averages its Monte Carlo dropout passes and adds a
        ``<column>_std`` column for each (G-REG-5). Images read from a folder get a first ``file`` column."""
        frame, inputs, _ = self._read(X)
        passes = self._passes(inputs, len(frame))
        if self.is_classifier:
            passes = np.stack([metrics.probabilities(p, len(self._class_text)) for p in passes])
            names = [f"proba_{name}" for name in self._class_text]
        else:
            names = self.target_names
            if len(names) != passes.shape[2]:
                names = [f"target_{i}" for i in range(passes.shape[2])]
        out = pd.DataFrame(passes.mean(axis=0), columns=names, index=frame.index)
        if self.is_classifier:
            out.insert(0, "label", self.classes[out.to_numpy().argmax(axis=1)])
        if len(passes) > 1:  # Monte Carlo dropout: the spread of each column over the passes
            out = out.join(pd.DataFrame(passes.std(axis=0), columns=[f"{n}_std" for n in names], index=frame.index))
        if self.image is not None and "file" in frame:
            out.insert(0, "file", frame["file"].to_numpy())
        return out

    def evaluate(self, X: Any, y: Any = None, *, target: str | Sequence[str] | None = None) -> dict[str, float]:
        """Metrics of the model on labelled rows (:func:`autoann.metrics.evaluate_predictions`).

        The truth is ``y`` (labels or values, one per row), or the ``target``
        column(s) of ``X`` (a str ``y`` is read as a column name too); by
        default, the target column(s) the model was trained on. For images the
        truth is ``y`` or the labels the images carry (class sub-folders, a
        ``.npz``'s ``y``). Rows whose target is missing are dropped, with a warning.
        """
        if isinstance(y, str):
            y, target = None, y
        if self.image is not None:
            frame, inputs, labels = self._read(X)
            if y is None and labels is None:
                raise SchemaError("These images carry no labels to evaluate against: pass y, a .npz with 'y', or a "
                                  "folder with one sub-folder per class.")
            truth = labels if y is None else y
        else:
            frame = self.rows(X)
            truth, ignore = (y, ()) if y is not None else self._target_columns(frame, target)
        values = truth.to_numpy(dtype=object) if isinstance(truth, pd.DataFrame) else np.asarray(truth, dtype=object)
        values = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
        if len(values) != len(frame):
            raise DataError(f"{len(frame)} rows but {len(values)} target values; pass one target value per row.")
        known = pd.DataFrame(values).notna().all(axis=1).to_numpy()
        if not known.all():
            warn(f"Dropped {int((~known).sum())} row(s) whose target is missing.")
        if self.image is None:
            frame, inputs, _ = self._read(frame[known], ignore, isinstance(X, (str, Path)))
        else:
            frame, inputs = frame[known], {k: v[known] for k, v in inputs.items()}
        output = self._passes(inputs, len(frame)).mean(axis=0)
        values = values[known]
        values = values[:, 0] if self.is_classifier or values.shape[1] == 1 else values
        return metrics.evaluate_predictions(self.task, values, output, self._class_text)

    def _target_columns(self, frame: pd.DataFrame, target: str | Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
        """The truth columns of ``frame`` (by default the training target's), and their names."""
        names = self.target_names if target is None else [target] if isinstance(target, str) else list(target)
        absent = [n for n in names if n not in frame.columns]
        if absent:
            raise SchemaError(f"The target column(s) {', '.join(map(repr, absent))} are not in the data; its "
                              f"columns are: {', '.join(map(repr, map(str, frame.columns[:20])))}. "
                              "Name the target column(s) (CLI: --target).")
        return frame[names], names
