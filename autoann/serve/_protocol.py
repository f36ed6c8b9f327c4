"""TF Serving's REST API v1 for autoann's models: request bodies -> checked rows, predictions -> response bodies.

Nothing here imports FastAPI: this is the protocol, the app in
:mod:`autoann.serve._app` only routes to it. Rows are checked with the
predictor's own schema checks (:func:`autoann.predict.check_frame`, the ones
``autoann predict`` runs) before they join a batch, so one bad request is
refused alone, with TF Serving's ``{"error": "..."}`` body, and never fails the
requests batched with it.

Request bodies (https://www.tensorflow.org/tfx/serving/api_rest):

* row format, ``{"instances": [{"col": value, ...}, ...]}``, answered with
  ``{"predictions": [...]}``: one entry per row, a dict of the outputs (or the
  bare value when the model has one output);
* columnar format, ``{"inputs": {"col": [...], ...}}``, answered with
  ``{"outputs": {...}}`` (or the bare value list when there is one output).

Columns may be named as in the training data (``"b c"``) or as the
SavedModel's signature names them (``"b_c"``); an image model takes one
``image`` input, an (H, W) or (H, W, C) nested list per row. The outputs are the
SavedModel's: ``probabilities`` (classes in ``metadata``'s order) and ``label``
(in the target's own type) for a classifier, ``prediction`` ((N, n_targets), in
target units) for a regression, plus ``probabilities_std`` / ``prediction_std``
for a run trained with ``--uncertainty`` (Monte Carlo dropout).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoann.data import load_images
from autoann.errors import AutoANNError
from autoann.export import SAVED_MODEL_VERSION, SIGNATURE, to_jsonable
from autoann.predict import Predictor, SchemaWarning, check_frame

ROW_KEY, COLUMN_KEY = "instances", "inputs"
BODY_KEYS = (ROW_KEY, COLUMN_KEY, "signature_name")
log = logging.getLogger("autoann.serve")
SCALARS = (str, int, float, bool, type(None))
EXAMPLES = 5  # names quoted per message


class RequestError(AutoANNError, ValueError):
    """A request the server refuses: ``status`` is the HTTP code (400, 404, 413), the message says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class ServedModel:
    """One model the server answers for: its URL name, the predictor and the names its inputs go by."""

    name: str
    predictor: Predictor
    version: str = str(SAVED_MODEL_VERSION)
    #: every name a request may use for a column (its own, its signature name) -> the column
    names: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        serving = (self.predictor.metadata.serving or {}).get("inputs") or {}
        self.names = {serving.get(c.name, c.name): c.name for c in self.predictor.schema}
        self.names.update({c.name: c.name for c in self.predictor.schema})

    @property
    def outputs(self) -> list[str]:
        """The response's output names, as in the SavedModel's signature (plus ``_std`` with MC dropout)."""
        base = ["probabilities", "label"] if self.predictor.is_classifier else ["prediction"]
        spread = [f"{base[0]}_std"] if self.predictor.mc_samples else []
        return base + spread


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (``NaN`` allowed, as TF Serving does), or a 400 saying what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"The request body is not valid JSON: {exc}. Send a JSON object such as "
                           '{"instances": [{"column": value, ...}]}.') from None
    if not isinstance(body, dict):
        raise RequestError(f"The request body must be a JSON object; got a JSON {type(body).__name__}. Send "
                           '{"instances": [...]} (row format) or {"inputs": {...}} (columnar format).')
    unknown = [k for k in body if k not in BODY_KEYS]
    if unknown:
        raise RequestError(f"Unknown key(s) in the request body: {', '.join(map(repr, unknown))}. "
                           f"Expected one of {', '.join(map(repr, BODY_KEYS))}.")
    signature = body.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise RequestError(f"Unknown signature_name {signature!r}: autoann models have one signature, "
                           f"{SIGNATURE!r}. Leave signature_name out or set it to {SIGNATURE!r}.")
    if (ROW_KEY in body) == (COLUMN_KEY in body):
        raise RequestError('Give exactly one of "instances" (row format) or "inputs" (columnar format); '
                           f"the body has {'both' if ROW_KEY in body else 'neither'}.")
    return body


def read_request(body: dict[str, Any], model: ServedModel) -> tuple[pd.DataFrame | np.ndarray, bool]:
    """The rows of a parsed body, checked as ``autoann predict`` checks them, and whether it was columnar.

    Tables come back as a frame of the model's columns; images as an
    (N, H, W, C) array already conformed to the stored size and channels.
    """
    columnar = COLUMN_KEY in body
    if model.predictor.image is not None:
        return _images(body, model, columnar), columnar
    frame = _columns(body[COLUMN_KEY], model) if columnar else _rows(body[ROW_KEY], model)
    try:
        _, notes = check_frame(frame, model.predictor.schema, model.predictor.metadata.vocabularies)
    except AutoANNError as exc:
        raise RequestError(str(exc)) from None
    for note in notes:  # unseen categories are allowed, as in `autoann predict`
        log.info("model %s: %s", model.name, note)
    return frame, columnar


def _column_of(key: Any, model: ServedModel) -> str:
    if key not in model.names:
        known = list(dict.fromkeys(model.names.values()))
        raise RequestError(f"Unknown column {key!r}: model {model.name!r} takes {', '.join(map(repr, known))} "
                           "(signature names such as 'b_c' for 'b c' work too).")
    return model.names[key]


def _nonempty_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(f"{what} must be a JSON list; got a JSON {type(value).__name__}.")
    if not value:
        raise RequestError(f"{what} is empty: send at least one row.")
    return value


def _scalar(value: Any, where: str) -> Any:
    if not isinstance(value, SCALARS):
        raise RequestError(f"{where} holds a JSON {type(value).__name__}; each value must be one number, "
                           "string or null (null or NaN for a missing value).")
    return value


def _rows(instances: Any, model: ServedModel) -> pd.DataFrame:
    """The row format: every instance an object naming every column."""
    instances = _nonempty_list(instances, '"instances"')
    expected = [c.name for c in model.predictor.schema]
    columns: dict[str, list[Any]] = {name: [] for name in expected}
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RequestError(f"Instance {i} is a JSON {type(instance).__name__}; each instance must be an object "
                               f'naming every column, e.g. {{"{expected[0]}": ...}}.')
        given = {_column_of(key, model): (key, value) for key, value in instance.items()}
        missing = [n for n in expected if n not in given]
        if missing:
            raise RequestError(f"Instance {i} lacks column(s) {', '.join(map(repr, missing[:EXAMPLES]))}; give every "
                               "column the model was trained on (null for a missing value).")
        for name, (key, value) in given.items():
            columns[name].append(_scalar(value, f"Instance {i}, column {key!r},"))
    return pd.DataFrame(columns)


def _columns(inputs: Any, model: ServedModel) -> pd.DataFrame:
    """The columnar format: one list per column, all of the same length."""
    if not isinstance(inputs, dict):
        raise RequestError(f'"inputs" must be an object of columns; got a JSON {type(inputs).__name__}.')
    columns: dict[str, list[Any]] = {}
    for key, values in inputs.items():
        name = _column_of(key, model)
        values = _nonempty_list(values, f"Input {key!r}")
        columns[name] = [_scalar(v, f"Input {key!r}, row {i},") for i, v in enumerate(values)]
    missing = [c.name for c in model.predictor.schema if c.name not in columns]
    if missing:
        raise RequestError(f'"inputs" lacks column(s) {", ".join(map(repr, missing[:EXAMPLES]))}; give every '
                           "column the model was trained on (null for a missing value).")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k!r}: {n}" for k, n in lengths.items())
        raise RequestError(f"The columns have different lengths ({shown}); "
                           "give every column one value per row.")
    return pd.DataFrame(columns)


def _images(body: dict[str, Any], model: ServedModel, columnar: bool) -> np.ndarray:
    """An image model's rows: nested lists of pixels, bare or under the ``image`` input's name."""
    image = model.predictor.image
    if columnar:
        given = body[COLUMN_KEY]
        if isinstance(given, dict):
            if len(given) != 1:
                raise RequestError(f'"inputs" must hold one input, {image.name!r}; got {", ".join(map(repr, given))}.')
            (key, given), = given.items()
            _column_of(key, model)
        pixels = _nonempty_list(given, f"Input {image.name!r}")
    else:
        rows = _nonempty_list(body[ROW_KEY], '"instances"')
        pixels = [_pixels(instance, i, model) for i, instance in enumerate(rows)]
    try:
        array = np.asarray(pixels)
    except ValueError:
        array = np.asarray([], dtype=object)
    if array.dtype.kind not in "biuf":
        raise RequestError(f"The images must be nested lists of numbers, all of one size: an (H, W) or (H, W, C) "
                           f"list per image (this model stores {tuple(image.shape or ())}, {image.dtype}).")
    shape = image.shape or ()
    try:
        return load_images(array, labeled=False, size=(shape[0], shape[1]), channels=shape[2]).images
    except AutoANNError as exc:
        raise RequestError(str(exc)) from None


def _pixels(instance: Any, i: int, model: ServedModel) -> Any:
    """One image of the row format: a bare nested list, or ``{"image": [...]}``."""
    if not isinstance(instance, dict):
        return instance
    if len(instance) != 1:
        raise RequestError(f"Instance {i} names {len(instance)} inputs; an image model takes one, "
                           f"{model.predictor.image.name!r}.")
    (key, value), = instance.items()
    _column_of(key, model)
    return value


def predict_batch(model: ServedModel, parts: list[pd.DataFrame | np.ndarray]) -> list[pd.DataFrame]:
    """One model call for several requests' rows (:meth:`Predictor.predict_frame`), split back per request."""
    if model.predictor.image is not None:
        rows: Any = np.concatenate(parts)
    else:
        rows = pd.concat(parts, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)  # reported when each request was read
        frame = model.predictor.predict_frame(rows)
    bounds = np.cumsum([0, *(len(p) for p in parts)])
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _output_values(frame: pd.DataFrame, model: ServedModel) -> dict[str, list[Any]]:
    """Each output of the response as a list with one entry per row."""
    predictor = model.predictor
    if predictor.is_classifier:
        names = [f"proba_{c}" for c in (str(c) for c in predictor.metadata.classes or [])]
        base = {"probabilities": frame[names].to_numpy(dtype="float64").tolist(),
                "label": to_jsonable(frame["label"].to_numpy())}
    else:
        names = [c for c in frame.columns if not str(c).endswith("_std") and c != "file"]
        base = {"prediction": frame[names].to_numpy(dtype="float64").tolist()}
    if predictor.mc_samples:
        base[f"{model.outputs[0]}_std"] = frame[[f"{n}_std" for n in names]].to_numpy(dtype="float64").tolist()
    return {name: [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
            for name, values in base.items()}


def response(frame: pd.DataFrame, model: ServedModel, columnar: bool) -> dict[str, Any]:
    """TF Serving's response body for the predictions of one request."""
    outputs = _output_values(frame, model)
    if columnar:
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    return {"predictions": [dict(zip(outputs, row)) for row in zip(*outputs.values())]}


def status(model: ServedModel) -> dict[str, Any]:
    """TF Serving's model status, plus KServe V1's ``name`` and ``ready``."""
    return {"model_version_status": [{"version": model.version, "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}],
            "name": model.name, "ready": True}


def _tensor(dtype: str, dims: list[int]) -> dict[str, Any]:
    return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                             "unknown_rank": False}}


def metadata(model: ServedModel) -> dict[str, Any]:
    """TF Serving's signature metadata (every input's dtype and shape, the outputs) and autoann's own:
    the columns with their kind and vocabulary, the classes, the targets, the metrics on the test split."""
    predictor, meta = model.predictor, model.predictor.metadata
    serving = (meta.serving or {}).get("inputs") or {}
    vocab = meta.vocabularies
    inputs, columns = {}, []
    for column in predictor.schema:
        arg = serving.get(column.name, column.name)
        if column.kind == "image":
            spec = _tensor(f"DT_{str(column.dtype).upper()}", [-1, *(column.shape or ())])
        else:
            spec = _tensor("DT_FLOAT" if column.kind == "numeric" else "DT_STRING", [-1])
        inputs[arg] = {**spec, "name": f"{SIGNATURE}_{arg}:0"}
        columns.append({**column.to_dict(), "input": arg, **({"vocabulary": vocab[column.name]}
                                                              if column.name in vocab else {})})
    width = len(meta.classes or []) if predictor.is_classifier else len(predictor.target_names)
    outputs = {"probabilities": _tensor("DT_FLOAT", [-1, width]), "label": _tensor("DT_STRING", [-1])} \
        if predictor.is_classifier else {"prediction": _tensor("DT_FLOAT", [-1, width])}
    signature = {"inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"}
    return {
        "model_spec": {"name": model.name, "signature_name": "", "version": model.version},
        "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}},
        "autoann": to_jsonable({
            "task": predictor.task, "target_names": predictor.target_names, "classes": meta.classes,
            "columns": columns, "outputs": model.outputs, "metrics": meta.metrics.get("test"),
            "objective": meta.objective, "mc_dropout_samples": predictor.mc_samples,
            "autoann_version": meta.autoann_version, "created": meta.created,
        }),
    }
