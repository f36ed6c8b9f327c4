"""The raw-column contract of a trained model.

A trained autoann model takes one 1-D input per kept feature column, by name:
``float32`` for numeric columns (NaN = missing) and ``string`` for categorical
and boolean columns (the empty string = missing; unseen levels are allowed and
fall into an out-of-vocabulary bucket), for ``text`` columns (free text and
near-unique names, hashed into token features inside the model) and for
``datetime`` columns (an ISO-like date or date-time, :data:`DATETIME_PATTERN`;
pandas datetime values are fed as ``YYYY-MM-DDTHH:MM:SS``; anything else
counts as missing). :func:`to_model_inputs` turns a pandas
frame into exactly that; training and prediction both go through it, so the
two can never disagree on encoding.

An image model takes one input instead, ``image``: a batch of images of the
stored size, ``(N, height, width, channels)``, in the stored pixel type
(``uint8`` for image files); resizing and scaling happen inside the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

MISSING_CATEGORY = ""
IMAGE_INPUT = "image"
#: The date/time strings a ``datetime`` input reads (a full match; RE2 and Python ``re`` alike):
#: ``YYYY-MM-DD`` with ``-``, ``/`` or ``.`` between the parts, optionally followed (after ``T`` or spaces)
#: by ``HH:MM``, ``:SS`` and a fraction, and a time-zone suffix (``Z``, ``UTC``, ``+01:00``) that is ignored.
DATETIME_PATTERN = (r"\s*([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})"
                    r"(?:[T ]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]*)?)?)?"
                    r"\s*(?:Z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?\s*")
#: Schema kinds fed to the model as strings.
STRING_KINDS = ("categorical", "text", "datetime")


@dataclass(frozen=True)
class Column:
    """One model input: a feature name and how it is fed (numeric, categorical or image).

    An image column also carries the stored ``shape`` (height, width, channels)
    and pixel ``dtype`` (``uint8`` or ``float32``).
    """

    name: str
    kind: str  # "numeric", "categorical", "text", "datetime" or "image"
    shape: tuple[int, ...] | None = None
    dtype: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "image":
            out.update(shape=list(self.shape or ()), dtype=self.dtype)
        return out


def image_column(schema: list[Column]) -> Column | None:
    """The image input of an image model's schema, None for a tabular one."""
    return next((c for c in schema if c.kind == "image"), None)


def schema_from_list(items: list[Any]) -> list[Column]:
    """Read a schema from ``[(name, kind), ...]`` or ``[{"name":..., "kind":...}, ...]``."""
    out = []
    for item in items:
        if isinstance(item, dict):
            shape = tuple(int(n) for n in item["shape"]) if item.get("shape") is not None else None
            out.append(Column(str(item["name"]), str(item["kind"]), shape, item.get("dtype")))
        else:
            name, kind = item
            out.append(Column(str(name), str(kind)))
    return out


def category_strings(values: pd.Series) -> np.ndarray:
    """Categorical values as an object array of ``str``; missing becomes ``""``.

    Floats that are whole numbers print without ``.0`` so a level read as 3.0
    from one file and 3 from another stays the same level.
    """

    def text(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return MISSING_CATEGORY
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        return str(v)

    return np.array([text(v) for v in values.tolist()], dtype=object)


def datetime_strings(values: pd.Series) -> np.ndarray:
    """Date/time values as an object array of ``str`` the model parses; missing becomes ``""``.

    datetime64 (time-zone aware ones in their own local time) and period
    values become ``YYYY-MM-DDTHH:MM:SS``; strings are passed as they are.
    """
    if isinstance(values.dtype, pd.PeriodDtype):
        values = values.dt.to_timestamp()
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S")
        return text.fillna(MISSING_CATEGORY).to_numpy(dtype=object)
    return category_strings(values)


def numeric_values(values: pd.Series) -> np.ndarray:
    """Numeric values as ``float32`` with NaN for missing (booleans become 0/1)."""
    if values.dtype == bool:
        values = values.astype("float32")
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float32", na_value=np.nan)


def unique_names(columns: list[str], valid: Callable[[str], bool], fallback: str,
                 allowed: str = r"A-Za-z0-9_.\-") -> dict[str, str]:
    """Column name -> a name ``valid`` accepts, distinct from every other column's.

    Valid names are kept as they are; in the others every character outside
    ``[allowed]`` becomes ``_`` (``fallback`` is prefixed when that is still
    not valid), with a numeric suffix when two columns would collide.
    """
    used = {c for c in columns if valid(c)}
    out: dict[str, str] = {}
    for name in columns:
        if valid(name):
            out[name] = name
            continue
        base = re.sub(f"[^{allowed}]", "_", name)
        base = base if base and valid(base) else f"{fallback}{base}"
        arg, i = base, 2
        while arg in used:
            arg, i = f"{base}_{i}", i + 1
        used.add(arg)
        out[name] = arg
    return out


#: The name of the network nested in every exported model: no input may be called so.
NETWORK_LAYER = "network"


def model_input_names(schema: list[Column]) -> dict[str, str]:
    """Column name -> the Keras model's input name (and key).

    Keras refuses a ``/`` in a layer or input name (``od280/od315_of_diluted_wines``
    in scikit-learn's wine data), and a name used twice in one model: a column
    called :data:`NETWORK_LAYER` would clash with the trained network nested in
    the exported model. Such names are sanitized; every other name is kept,
    which makes the mapping the identity for every run written before it
    existed (those names could not be trained then). It is derived from the
    schema in ``metadata.json`` alone, so training, prediction, serving and the
    SavedModel agree; the export also records it as ``serving.model_inputs``
    for other readers of ``model.keras``.
    """
    return unique_names([c.name for c in schema], lambda n: bool(n) and "/" not in n and n != NETWORK_LAYER,
                        "column")


def to_model_inputs(frame: pd.DataFrame | np.ndarray, schema: list[Column]) -> dict[str, np.ndarray]:
    """Convert the schema's columns of ``frame`` into the model's named inputs.

    For an image model ``frame`` is the (N, height, width, channels) array.
    The keys are :func:`model_input_names`.
    """
    image = image_column(schema)
    if image is not None:
        return {image.name: np.asarray(frame, dtype=image.dtype)}
    keys = model_input_names(schema)
    inputs: dict[str, np.ndarray] = {}
    for col in schema:
        series = frame[col.name]
        if col.kind == "numeric":
            inputs[keys[col.name]] = numeric_values(series)
        elif col.kind == "datetime":
            inputs[keys[col.name]] = datetime_strings(series)
        else:
            inputs[keys[col.name]] = category_strings(series)
    return inputs
