"""Keras Tuner's view of a :class:`SearchSpace`: build a trial's network from ``hp``, fit it on cached tensors."""

from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt

from autoann.search._fit import FitRecord, TrainingData, fit_network
from autoann.search._hyperparameters import declare
from autoann.search._network import build_network, objective_of
from autoann.search._preprocessing import Preprocessing
from autoann.space import SearchSpace, value


class AutoANNHyperModel(kt.HyperModel):
    """Keras Tuner's view of a SearchSpace: build from ``hp``, fit on cached tensors."""

    def __init__(self, space: SearchSpace, prep: Preprocessing, data: TrainingData, *,
                 seed: int = 0, verbose: int = 0):
        super().__init__(name="autoann")
        self.space, self.prep, self.data = space, prep, data
        self.seed, self.verbose = seed, verbose
        self.deadline = float("inf")
        self.last: FitRecord | None = None

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        keras.utils.set_random_seed(self.seed)
        return build_network(declare(hp, self.space), self.prep, weighted_metrics=self.data.sample_weighted)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any):
        values = {k: v for k, v in hp.values.items() if not k.startswith("tuner/")}
        record = fit_network(
            model, values, self.data,
            epochs=int(kwargs.get("epochs", hp.values.get("tuner/epochs", 1))),
            initial_epoch=int(kwargs.get("initial_epoch", 0)),
            deadline=self.deadline, seed=self.seed, verbose=self.verbose,
            callbacks=kwargs.get("callbacks"),
        )
        self.last = record
        if record.diverged:
            raise kt.errors.FailedTrialError(f"diverged: {record.diverged} (G-GRAD-4)")
        if record.score is None or not math.isfinite(record.score):
            raise kt.errors.FailedTrialError(f"no finite validation {values.get('metric')} was computed")
        # The trial's score is the metric at the epoch whose weights it keeps (early stopping restored them),
        # not the best of every epoch: the checkpoint and the score then describe the same network.
        return {objective_of(value(values, "metric"))[0]: record.score}
