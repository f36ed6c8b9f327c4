"""Every Keras layer of autoann that a saved model needs, registered under ``package="autoann"``.

A ``model.keras`` written by autoann loads with ``keras.models.load_model(path,
safe_mode=True)`` once this module is imported; :mod:`autoann.predict` imports
it, never the training code. Registration is by package and class name, so a
layer can move between modules without breaking saved models.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="autoann")
class StandardizeImpute(layers.Layer):
    """Fill NaN with the training mean, standardize, and append missing indicators.

    Input: (N, n) float matrix of raw numbers. Output: (N, n + k) where k is the
    number of columns that had missing values in training.
    """

    def __init__(self, mean: list[float], std: list[float], indicators: list[bool], **kwargs: Any):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.indicators = [bool(i) for i in indicators]

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.convert_to_tensor(self.mean, dtype="float32")
        std = ops.convert_to_tensor(self.std, dtype="float32")
        missing = ops.logical_not(ops.isfinite(x))
        z = (ops.where(missing, mean, x) - mean) / std
        flags = [ops.cast(missing[:, i : i + 1], "float32") for i, f in enumerate(self.indicators) if f]
        return ops.concatenate([z, *flags], axis=1) if flags else z

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.mean) + sum(self.indicators))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std, "indicators": self.indicators}


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
