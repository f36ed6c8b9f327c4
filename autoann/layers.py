"""Every Keras layer of autoann that a saved model needs, registered under ``package="autoann"``.

A ``model.keras`` written by autoann loads with ``keras.models.load_model(path,
safe_mode=True)`` once this module is imported; :mod:`autoann.predict` imports
it, never the training code. Registration is by package and class name, so a
layer can move between modules without breaking saved models.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from autoann.schema import DATETIME_PATTERN


@keras.saving.register_keras_serializable(package="autoann")
class StandardizeImpute(layers.Layer):
    """Fill NaN with the training mean, standardize, and append missing indicators.

    Input: (N, n) float matrix of raw numbers. Output: (N, n + k) where k is the
    number of columns that had missing values in training.

    ``log`` flags the skewed columns that are mapped through sign(x) * log1p(|x|)
    first (``numeric_skew_transform: signed_log1p``); ``mean`` and ``std`` are
    then those of the transformed values. ``clip`` > 0 smoothly clips each
    standardized value to about +-``clip``: z / sqrt(1 + (z / clip)^2)
    (``numeric_clip: smooth``, RealMLP's smooth clipping), so an outlier cannot
    saturate the first layer while ordinary values pass almost unchanged.
    """

    def __init__(self, mean: list[float], std: list[float], indicators: list[bool], log: list[bool] | None = None,
                 clip: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.indicators = [bool(i) for i in indicators]
        self.log = [bool(f) for f in log] if log and any(log) else None
        self.clip = float(clip)

    def call(self, x):
        x = ops.cast(x, "float32")
        if self.log is not None:
            flags = ops.convert_to_tensor(self.log, dtype="bool")
            x = ops.where(flags, ops.sign(x) * ops.log1p(ops.abs(x)), x)
        mean = ops.convert_to_tensor(self.mean, dtype="float32")
        std = ops.convert_to_tensor(self.std, dtype="float32")
        missing = ops.logical_not(ops.isfinite(x))
        z = (ops.where(missing, mean, x) - mean) / std
        if self.clip > 0:
            z = z / ops.sqrt(1.0 + ops.square(z / self.clip))
        flags = [ops.cast(missing[:, i : i + 1], "float32") for i, f in enumerate(self.indicators) if f]
        return ops.concatenate([z, *flags], axis=1) if flags else z

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.mean) + sum(self.indicators))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std, "indicators": self.indicators,
                "log": self.log, "clip": self.clip}


def _days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), on float64 tensors.

    A month of 13 is January of the next year, which the day-of-month check uses.
    """
    import tensorflow as tf

    y = year - tf.cast(month <= 2, tf.float64)
    era = tf.math.floordiv(y, 400.0)
    yoe = y - era * 400.0
    mp = tf.math.floormod(month + 9.0, 12.0)
    doy = tf.math.floordiv(153.0 * mp + 2.0, 5.0) + day - 1.0
    doe = yoe * 365.0 + tf.math.floordiv(yoe, 4.0) - tf.math.floordiv(yoe, 100.0) + doy
    return era * 146097.0 + doe - 719468.0


def parse_datetime(strings) -> dict[str, Any]:
    """Parse a string tensor of ISO-like dates (:data:`autoann.schema.DATETIME_PATTERN`) with TF ops only.

    Returns float64 tensors ``valid`` (1/0), ``year``, ``month``, ``day``,
    ``days`` (since 1970-01-01), ``seconds`` (of the day) and ``weekday``
    (Monday = 0); an empty, unparseable or impossible value (2021-02-30,
    25:00) is not valid and its parts are 0.
    """
    import tensorflow as tf

    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    matched = tf.strings.regex_full_match(strings, DATETIME_PATTERN)
    anchored = f"^{DATETIME_PATTERN}$"

    def group(i: int):
        text = tf.where(matched, tf.strings.regex_replace(strings, anchored, "0\\" + str(i)), "0")
        return tf.strings.to_number(text, out_type=tf.float64)

    year, month, day, hour, minute, second = (group(i) for i in range(1, 7))
    days = _days_from_civil(year, month, day)
    valid = (matched & (month >= 1) & (month <= 12) & (day >= 1) & (days < _days_from_civil(year, month + 1, 1.0))
             & (hour < 24) & (minute < 60) & (second < 61))
    zero = tf.zeros_like(year)

    def keep(t):
        return tf.where(valid, t, zero)

    return {"valid": tf.cast(valid, tf.float64), "year": keep(year), "month": keep(month), "day": keep(day),
            "days": keep(days), "seconds": keep(hour * 3600.0 + minute * 60.0 + second),
            "weekday": keep(tf.math.floormod(days + 3.0, 7.0)),
            "day_of_year": keep(days - _days_from_civil(year, tf.ones_like(year), tf.ones_like(year)))}


@keras.saving.register_keras_serializable(package="autoann")
class DateTimeFeatures(layers.Layer):
    """A raw date/time string column -> numeric features, computed inside the model (G-IN-1, AA-FEAT-DATE).

    Input: (N,) strings in an ISO-like format (:data:`autoann.schema.DATETIME_PATTERN`:
    ``2021-03-04``, ``2021/3/4``, ``2021-03-04 10:22``, ``2021-03-04T10:22:05.123Z``;
    a time-zone suffix is read and ignored). Output, per row: the year
    standardized with the training mean and std; month, day of week and day
    of year as sin/cos pairs; the time of day as a sin/cos pair when
    ``has_time``; the elapsed time since the training minimum over the
    training span; and a missing indicator. An empty or unparseable value
    sets the indicator and zeros elsewhere (the training mean of the year).
    """

    def __init__(self, year_mean: float, year_std: float, min_days: float, span_days: float, has_time: bool,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.year_mean, self.year_std = float(year_mean), float(year_std)
        self.min_days, self.span_days, self.has_time = float(min_days), float(span_days), bool(has_time)

    @staticmethod
    def width(has_time: bool) -> int:
        """Features per column: year, 3 cyclic pairs, (time of day), elapsed, missing."""
        return 9 + 2 * int(has_time)

    def call(self, strings):
        import tensorflow as tf

        p = parse_datetime(strings)
        valid = p["valid"]
        turn = 2.0 * math.pi

        def cyclic(fraction):
            return [tf.sin(turn * fraction) * valid, tf.cos(turn * fraction) * valid]

        parts = [(p["year"] - self.year_mean) / self.year_std * valid,
                 *cyclic((p["month"] - 1.0) / 12.0), *cyclic(p["weekday"] / 7.0), *cyclic(p["day_of_year"] / 365.25)]
        if self.has_time:
            parts += cyclic(p["seconds"] / 86400.0)
        elapsed = (p["days"] + p["seconds"] / 86400.0 - self.min_days) / self.span_days
        parts += [elapsed * valid, 1.0 - valid]
        return tf.cast(tf.stack(parts, axis=1), "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.width(self.has_time))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "year_mean": self.year_mean, "year_std": self.year_std,
                "min_days": self.min_days, "span_days": self.span_days, "has_time": self.has_time}


def hashed_token_counts(strings, buckets: int):
    """(N, buckets) float32 token counts: lower-cased, split on anything but letters and digits, hashed."""
    import tensorflow as tf

    text = tf.strings.lower(tf.convert_to_tensor(strings, dtype=tf.string), encoding="utf-8")
    tokens = tf.strings.split(tf.strings.regex_replace(text, r"[^\pL\pN]+", " "))
    ids = tf.strings.to_hash_bucket_fast(tokens, buckets)
    return tf.math.bincount(ids, minlength=buckets, maxlength=buckets, axis=-1, dtype=tf.float32)


@keras.saving.register_keras_serializable(package="autoann")
class HashedText(layers.Layer):
    """A raw free-text (or near-unique name) column -> a TF-IDF-like dense block (G-IN-2, AA-FEAT-TEXT).

    Input: (N,) strings. The text is lower-cased (Unicode), split on every
    character that is not a letter or digit, and each token hashed into one
    of ``len(idf)`` buckets (``tf.strings.to_hash_bucket_fast``, so unseen
    words need no vocabulary); the row is log1p(count) * idf per bucket,
    L2-normalized. ``idf`` (log((1 + n) / (1 + document frequency)) + 1) is
    learned on the training split. An empty value is a row of zeros.
    """

    def __init__(self, idf: list[float], **kwargs: Any):
        super().__init__(**kwargs)
        self.idf = [float(v) for v in idf]

    def call(self, strings):
        import tensorflow as tf

        weights = tf.math.log1p(hashed_token_counts(strings, len(self.idf))) * tf.constant(self.idf, tf.float32)
        return tf.math.l2_normalize(weights, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.idf))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "idf": self.idf}


@keras.saving.register_keras_serializable(package="autoann")
class Expm1(layers.Layer):
    """exp(x) - 1: maps a model trained on log1p(target) back to target units (``target_scaling: log_standardize``)."""

    def call(self, x):
        return ops.expm1(x)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="autoann")
class Augmentation(layers.Layer):
    """Random flips, rotations, shifts and zooms of a batch of images, while training only.

    ``enabled = False`` turns it off even in training mode, so Monte Carlo
    dropout (which calls the model with ``training=True``) never sees
    augmented images.
    """

    def __init__(self, flip: str = "none", rotation: float = 0.0, shift: float = 0.0, zoom: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.flip, self.rotation, self.shift, self.zoom, self.seed = flip, float(rotation), float(shift), float(zoom), seed
        self.enabled = True
        steps = []
        if flip != "none":
            steps.append(layers.RandomFlip(flip, seed=seed))
        if self.rotation > 0:
            steps.append(layers.RandomRotation(self.rotation, fill_mode="nearest", seed=seed))
        if self.shift > 0:
            steps.append(layers.RandomTranslation(self.shift, self.shift, fill_mode="nearest", seed=seed))
        if self.zoom > 0:
            steps.append(layers.RandomZoom(self.zoom, fill_mode="nearest", seed=seed))
        self.steps = steps

    def build(self, input_shape):
        for step in self.steps:
            step.build(input_shape)
        super().build(input_shape)

    def call(self, images, training=None):
        if not (training and self.enabled):
            return images
        for step in self.steps:
            images = step(images, training=True)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "flip": self.flip, "rotation": self.rotation, "shift": self.shift,
                "zoom": self.zoom, "seed": self.seed}


def walk_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, the layers of nested models (a backbone, the trained network) included."""
    found, todo = [], list(model.layers)
    while todo:
        layer = todo.pop(0)
        found.append(layer)
        if isinstance(layer, keras.Model):
            todo.extend(layer.layers)
    return found


@keras.saving.register_keras_serializable(package="autoann")
class TemperatureScaling(layers.Layer):
    """Calibrate a classifier's probabilities: divide their logits by a temperature fitted on validation.

    Input and output: (N, 1) sigmoid probabilities or (N, K) softmax
    probabilities. ``temperature`` > 1 softens over-confident outputs; the
    predicted class never changes.
    """

    EPS = 1e-7

    def __init__(self, temperature: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def call(self, proba):
        p = ops.clip(proba, self.EPS, 1.0 - self.EPS)
        if proba.shape[-1] == 1:
            return ops.sigmoid((ops.log(p) - ops.log(1.0 - p)) / self.temperature)
        return ops.softmax(ops.log(p) / self.temperature, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature}
