"""Input preprocessing, fitted once on the training split, run as Keras layers.

:func:`fit_preprocessing` learns the statistics (means, standard deviations,
vocabularies) from the training rows only. :func:`build_preprocessor` turns
them into a Keras model from the raw named columns (see :mod:`autoann.schema`)
to the network's inputs: one dense float matrix (standardized numbers, missing
indicators, one-hot categoricals; G-IN-1, G-IN-3) plus one integer index per
high-cardinality categorical, which the network embeds. The same layers
transform the data once before the search and sit in front of the exported
network, so training and serving cannot disagree.

Images get one step: the stored pixels (uint8 or float) are cast to float and
standardized per channel with the training split's mean and standard
deviation (G-IN-3, G-DEF-4), by a ``Rescaling`` layer inside the model.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import layers

from autoann.layers import StandardizeImpute
from autoann.profiling import embedding_dim
from autoann.schema import Column, category_strings, image_column, model_input_names, numeric_values
from autoann.space import default_of

DENSE_INPUT = "features"
EMBED_PREFIX = "embed__"
PIXELS_INPUT = "pixels"  # the network's input of an image model: standardized float pixels


def layer_name(prefix: str, column: str) -> str:
    """A valid Keras layer name for a column (names may hold spaces, accents...)."""
    return prefix + re.sub(r"[^A-Za-z0-9_.\-]", "_", column)


def free_name(name: str, taken: set[str]) -> str:
    """``name``, with ``_`` appended while a model input is called so: a column may be named like a layer
    (``standardize_impute``, ``col0__x``), and Keras refuses a name used twice in one model."""
    while name in taken:
        name += "_"
    return name


def embed_key(index: int, column: str) -> str:
    """The network input of the ``index``-th categorical of ``prep.categorical``: a valid, unique Keras name."""
    return layer_name(f"{EMBED_PREFIX}{index}__", column)


@dataclass
class CategoricalSpec:
    name: str
    vocabulary: list[str]
    encoding: str  # "onehot" or "embedding"
    embedding_dim: int = 0

    @property
    def width(self) -> int:
        """Columns this feature adds to the dense input (0 when embedded)."""
        return len(self.vocabulary) + 1 if self.encoding == "onehot" else 0


@dataclass
class ImageSpec:
    """The stored images (shape, pixel type) and their per-channel training statistics."""

    name: str
    shape: list[int]  # height, width, channels
    dtype: str
    mean: list[float]
    std: list[float]
    backbone: str | None = None  # path of the pretrained network the model starts from (G-ARCH-8)


@dataclass
class Preprocessing:
    """Everything learned from the training split; JSON-serializable."""

    numeric: list[str] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    indicators: list[bool] = field(default_factory=list)
    categorical: list[CategoricalSpec] = field(default_factory=list)
    image: ImageSpec | None = None

    @property
    def dense_width(self) -> int:
        return len(self.numeric) + sum(self.indicators) + sum(c.width for c in self.categorical)

    @property
    def embedded(self) -> list[CategoricalSpec]:
        return [c for c in self.categorical if c.encoding == "embedding"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        cats = [CategoricalSpec(**c) for c in data.get("categorical", [])]
        image = ImageSpec(**data["image"]) if data.get("image") else None
        return cls(**{**data, "categorical": cats, "image": image})


def _fit_image(images: np.ndarray, column: Column, scale: bool, backbone: str | None) -> ImageSpec:
    """Per-channel mean and standard deviation of the training pixels, in chunks (no float64 copy of them all).

    ``scale=False`` keeps the pixels as they are (a backbone brings its own preprocessing).
    """
    channels = images.shape[-1]
    if not scale:
        return ImageSpec(column.name, list(column.shape or images.shape[1:]), str(column.dtype),
                         [0.0] * channels, [1.0] * channels, backbone)
    total, squares, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(images), 1024):
        chunk = images[start:start + 1024].reshape(-1, channels).astype("float64")
        total += chunk.sum(axis=0)
        squares += np.square(chunk).sum(axis=0)
        count += len(chunk)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0.0))
    std = np.where(std > 1e-6, std, 1.0)
    return ImageSpec(column.name, list(column.shape or images.shape[1:]), str(column.dtype),
                     mean.tolist(), std.tolist(), backbone)


def fit_preprocessing(
    frame: pd.DataFrame,
    schema: list[Column],
    *,
    scale: bool = True,
    indicators: bool = True,
    onehot_max_cardinality: int = int(default_of("onehot_max_cardinality")),
    embedding_dim_max: int = int(default_of("embedding_dim_max")),
    backbone: str | None = None,
) -> Preprocessing:
    """Learn the preprocessing statistics from the training rows ``frame``.

    ``scale=False`` (``numeric_scaling: none``) only centres numbers; missing
    numbers are always filled with the training mean. For an image schema
    ``frame`` is the training images' array, ``scale`` standardizes each
    channel and ``backbone`` names a pretrained network to start from.
    """
    image = image_column(schema)
    if image is not None:
        return Preprocessing(image=_fit_image(np.asarray(frame), image, scale, backbone))
    prep = Preprocessing()
    for col in schema:
        if col.kind == "numeric":
            values = numeric_values(frame[col.name]).astype("float64")
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size else 1.0
            prep.numeric.append(col.name)
            prep.mean.append(mean)
            prep.std.append(std if (scale and std > 1e-12) else 1.0)
            prep.indicators.append(bool(indicators and finite.size < values.size))
        else:
            levels = pd.Series(category_strings(frame[col.name])).value_counts()
            vocabulary = sorted(str(v) for v in levels.index)
            if len(vocabulary) <= onehot_max_cardinality:
                prep.categorical.append(CategoricalSpec(col.name, vocabulary, "onehot"))
            else:
                dim = embedding_dim(len(vocabulary), embedding_dim_max)
                prep.categorical.append(CategoricalSpec(col.name, vocabulary, "embedding", dim))
    if not prep.numeric and all(c.encoding == "embedding" for c in prep.categorical):
        # The network needs a dense input: one-hot the smallest categorical.
        smallest = min(prep.categorical, key=lambda c: len(c.vocabulary))
        smallest.encoding, smallest.embedding_dim = "onehot", 0
    return prep


def raw_inputs(schema: list[Column]) -> dict[str, Any]:
    """Column name -> its Keras input: float32 or string, shape (N,); an image model's one image input.

    Each input is named by :func:`~autoann.schema.model_input_names`; a model
    takes them keyed by those names (:func:`model_inputs`).
    """
    image = image_column(schema)
    if image is not None:
        return {image.name: keras.Input(shape=tuple(image.shape or ()), dtype=image.dtype, name=image.name)}
    names = model_input_names(schema)
    return {
        c.name: keras.Input(shape=(), dtype="float32" if c.kind == "numeric" else "string", name=names[c.name])
        for c in schema
    }


def model_inputs(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw_inputs`` keyed by input name, as ``keras.Model`` takes them (a key must be its tensor's name)."""
    return {tensor.name: tensor for tensor in raw.values()}


def apply_preprocessing(prep: Preprocessing, inputs: dict[str, Any]) -> dict[str, Any]:
    """Wire the preprocessing layers onto raw ``inputs``; returns the network's inputs."""
    if prep.image is not None:
        spec = prep.image
        scale = [1.0 / s for s in spec.std]
        offset = [-m / s for m, s in zip(spec.mean, spec.std)]
        return {PIXELS_INPUT: layers.Rescaling(scale, offset, name="standardize_pixels")(inputs[spec.name])}
    taken = {tensor.name for tensor in inputs.values()}
    parts = []
    if prep.numeric:
        stacked = [layers.Reshape((1,), name=free_name(layer_name(f"col{i}__", n), taken))(inputs[n])
                   for i, n in enumerate(prep.numeric)]
        matrix = stacked[0] if len(stacked) == 1 else layers.Concatenate(name=free_name("numeric_columns", taken))(stacked)
        parts.append(StandardizeImpute(prep.mean, prep.std, prep.indicators,
                                       name=free_name("standardize_impute", taken))(matrix))
    out: dict[str, Any] = {}
    for i, cat in enumerate(prep.categorical):
        mode = "one_hot" if cat.encoding == "onehot" else "int"
        lookup = layers.StringLookup(
            vocabulary=cat.vocabulary, num_oov_indices=1, output_mode=mode, name=free_name(layer_name(f"lookup{i}__", cat.name), taken)
        )
        encoded = lookup(inputs[cat.name])
        if cat.encoding == "onehot":
            parts.append(encoded)
        else:
            out[embed_key(i, cat.name)] = encoded
    if not parts:
        raise ValueError("preprocessing needs at least one numeric or one-hot column")
    out[DENSE_INPUT] = parts[0] if len(parts) == 1 else layers.Concatenate(name=free_name("dense_features", taken))(parts)
    return out


def build_preprocessor(prep: Preprocessing, schema: list[Column]) -> keras.Model:
    """A Keras model from raw named columns to the network's inputs."""
    inputs = raw_inputs(schema)
    return keras.Model(model_inputs(inputs), apply_preprocessing(prep, inputs), name="preprocessing")


def transform(prep: Preprocessing, schema: list[Column], frames: list[pd.DataFrame]) -> list[dict[str, np.ndarray]]:
    """Run the preprocessing layers once over each frame (train, validation, test)."""
    from autoann.schema import to_model_inputs

    model = build_preprocessor(prep, schema)
    batch = 8192 if prep.image is None else 256
    out = []
    for frame in frames:
        result = model.predict(to_model_inputs(frame, schema), batch_size=batch, verbose=0)
        out.append({k: np.asarray(v) for k, v in result.items()})
    return out
