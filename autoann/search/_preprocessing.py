"""Input preprocessing, fitted once on the training split, run as Keras layers.

:func:`fit_preprocessing` learns the statistics (means, standard deviations,
vocabularies) from the training rows only. :func:`build_preprocessor` turns
them into a Keras model from the raw named columns (see :mod:`autoann.schema`)
to the network's inputs: one dense float matrix (standardized numbers, missing
indicators, one-hot categoricals; G-IN-1, G-IN-3; date features of date/time
columns; hashed TF-IDF-like token features of text columns) plus one integer
index per high-cardinality categorical, which the network embeds. Skewed
numbers may go through sign(x) * log1p(|x|) first (``numeric_skew_transform``). The same layers
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

from autoann.layers import DateTimeFeatures, HashedText, StandardizeImpute, hashed_token_counts, parse_datetime
from autoann.profiling import embedding_dim, is_skewed, skewness
from autoann.schema import Column, category_strings, datetime_strings, image_column, model_input_names, numeric_values
from autoann.space import default_of

DENSE_INPUT = "features"
#: where ``numeric_clip: smooth`` bends standardized values (RealMLP's 3 standard deviations)
SMOOTH_CLIP = 3.0
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
class DateTimeSpec:
    """A date/time column's training statistics (the :class:`autoann.layers.DateTimeFeatures` config)."""

    name: str
    year_mean: float
    year_std: float
    min_days: float  # days since 1970-01-01 of the earliest training value
    span_days: float
    has_time: bool

    @property
    def width(self) -> int:
        return DateTimeFeatures.width(self.has_time)


@dataclass
class TextSpec:
    """A text column's inverse document frequency per hash bucket (the :class:`autoann.layers.HashedText` config)."""

    name: str
    idf: list[float]

    @property
    def width(self) -> int:
        return len(self.idf)


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
    log: list[bool] = field(default_factory=list)  # per numeric column: signed log1p before scaling
    clip: float = 0.0  # smooth clipping of the standardized numbers to about +-clip (0: none)
    datetime: list[DateTimeSpec] = field(default_factory=list)
    text: list[TextSpec] = field(default_factory=list)

    @property
    def dense_width(self) -> int:
        return (len(self.numeric) + sum(self.indicators) + sum(c.width for c in self.categorical)
                + sum(d.width for d in self.datetime) + sum(t.width for t in self.text))

    @property
    def embedded(self) -> list[CategoricalSpec]:
        return [c for c in self.categorical if c.encoding == "embedding"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        cats = [CategoricalSpec(**c) for c in data.get("categorical", [])]
        image = ImageSpec(**data["image"]) if data.get("image") else None
        dates = [DateTimeSpec(**d) for d in data.get("datetime", [])]
        texts = [TextSpec(**t) for t in data.get("text", [])]
        return cls(**{**data, "categorical": cats, "image": image, "datetime": dates, "text": texts})


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
    skew_transform: str = str(default_of("numeric_skew_transform")),
    text_buckets: int = int(default_of("text_hash_buckets")),
    clip: str = str(default_of("numeric_clip")),
    backbone: str | None = None,
) -> Preprocessing:
    """Learn the preprocessing statistics from the training rows ``frame``.

    ``scale=False`` (``numeric_scaling: none``) only centres numbers; missing
    numbers are always filled with the training mean. ``skew_transform=
    "signed_log1p"`` maps the numeric columns skewed on the training rows
    (:func:`autoann.profiling.is_skewed`) through sign(x) * log1p(|x|) before
    their statistics are taken. ``clip="smooth"`` smoothly clips the
    standardized numbers to about +-SMOOTH_CLIP. Text columns get ``text_buckets`` hashed
    token features. For an image schema
    ``frame`` is the training images' array, ``scale`` standardizes each
    channel and ``backbone`` names a pretrained network to start from.
    """
    image = image_column(schema)
    if image is not None:
        return Preprocessing(image=_fit_image(np.asarray(frame), image, scale, backbone))
    prep = Preprocessing(clip=SMOOTH_CLIP if clip == "smooth" else 0.0)
    for col in schema:
        if col.kind == "numeric":
            values = numeric_values(frame[col.name]).astype("float64")
            log = skew_transform == "signed_log1p" and is_skewed(skewness(values))
            if log:
                values = np.sign(values) * np.log1p(np.abs(values))
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size else 1.0
            prep.numeric.append(col.name)
            prep.mean.append(mean)
            prep.std.append(std if (scale and std > 1e-12) else 1.0)
            prep.indicators.append(bool(indicators and finite.size < values.size))
            prep.log.append(bool(log))
        elif col.kind == "datetime":
            prep.datetime.append(_fit_datetime(col.name, datetime_strings(frame[col.name])))
        elif col.kind == "text":
            prep.text.append(_fit_text(col.name, category_strings(frame[col.name]), text_buckets))
        else:
            levels = pd.Series(category_strings(frame[col.name])).value_counts()
            vocabulary = sorted(str(v) for v in levels.index)
            if len(vocabulary) <= onehot_max_cardinality:
                prep.categorical.append(CategoricalSpec(col.name, vocabulary, "onehot"))
            else:
                dim = embedding_dim(len(vocabulary), embedding_dim_max)
                prep.categorical.append(CategoricalSpec(col.name, vocabulary, "embedding", dim))
    if not (prep.numeric or prep.datetime or prep.text) and all(c.encoding == "embedding" for c in prep.categorical):
        # The network needs a dense input: one-hot the smallest categorical.
        smallest = min(prep.categorical, key=lambda c: len(c.vocabulary))
        smallest.encoding, smallest.embedding_dim = "onehot", 0
    return prep


def _fit_datetime(name: str, strings: np.ndarray) -> DateTimeSpec:
    """The year's mean and std, the earliest value and the span of a date/time column's training values,
    parsed by the same TF ops the model runs (:func:`autoann.layers.parse_datetime`)."""
    parts = {k: np.asarray(v) for k, v in parse_datetime(strings.astype(str)).items()}
    valid = parts["valid"] > 0
    if not valid.any():
        return DateTimeSpec(name, 0.0, 1.0, 0.0, 1.0, False)
    years = parts["year"][valid]
    moments = parts["days"][valid] + parts["seconds"][valid] / 86400.0
    std = float(years.std())
    return DateTimeSpec(name, float(years.mean()), std if std > 1e-6 else 1.0, float(moments.min()),
                        max(float(moments.max() - moments.min()), 1.0), bool((parts["seconds"][valid] != 0).any()))


def _fit_text(name: str, strings: np.ndarray, buckets: int) -> TextSpec:
    """Smoothed inverse document frequency of each hash bucket over a text column's training rows."""
    counts = np.asarray(hashed_token_counts(strings.astype(str), buckets))
    documents = (counts > 0).sum(axis=0)
    idf = np.log((1.0 + len(counts)) / (1.0 + documents)) + 1.0
    return TextSpec(name, [float(v) for v in idf])


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
        parts.append(StandardizeImpute(prep.mean, prep.std, prep.indicators, prep.log or None, prep.clip,
                                       name=free_name("standardize_impute", taken))(matrix))
    for i, date in enumerate(prep.datetime):
        parts.append(DateTimeFeatures(date.year_mean, date.year_std, date.min_days, date.span_days, date.has_time,
                                      name=free_name(layer_name(f"date{i}__", date.name), taken))(inputs[date.name]))
    for i, text in enumerate(prep.text):
        parts.append(HashedText(text.idf, name=free_name(layer_name(f"text{i}__", text.name), taken))(inputs[text.name]))
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
        raise ValueError("preprocessing needs at least one numeric, date, text or one-hot column")
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
