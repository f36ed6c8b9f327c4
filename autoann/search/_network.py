"""The network a search space describes, as a Keras Tuner hypermodel.

:func:`declare` maps every hyperparameter of a :class:`SearchSpace` 1:1 onto a
Keras Tuner hyperparameter (conditional ones inside ``conditional_scope``).
:func:`build_network` builds the dense stack the rules describe on the
preprocessed inputs: the activation family's activation, initializer, dropout
kind and batch norm together (:data:`autoann.space._space.FAMILIES`), L1/L2 and
max-norm on every hidden layer, and the task's output layer and loss; for
images, the convolutional blocks of :mod:`autoann.search._convnet` instead of the
dense stack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras import layers

from autoann.search._callbacks import Deadline, DivergenceGuard, EpochSchedule, EpochTimer
from autoann.search._convnet import activated, backbone_features, conv_features
from autoann.search._preprocessing import DENSE_INPUT, EMBED_PREFIX, PIXELS_INPUT, Preprocessing, layer_name
from autoann.space import layer_widths
from autoann.space import FAMILIES, KNOWN, SearchSpace

#: objective per metric: (Keras log name, direction)
OBJECTIVES = {
    "auc": ("val_auc", "max"),
    "accuracy": ("val_accuracy", "max"),
    "log_loss": ("val_loss", "min"),
    "rmse": ("val_rmse", "min"),
    "mae": ("val_mae", "min"),
}
VALIDATION_BATCH = 4096


def objective(space: SearchSpace) -> kt.Objective:
    name, direction = OBJECTIVES[space.fixed("metric", "log_loss")]
    return kt.Objective(name, direction)


def _coerce(name: str, value: Any) -> Any:
    return float(value) if KNOWN[name].kind == "float" and not isinstance(value, bool) else value


def _order(space: SearchSpace) -> list[str]:
    """Names with every ``active_if`` parent before its children."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for parent in (space[name].active_if or {}):
            visit(parent)
        done.append(name)

    for name in space.hyperparameters:
        visit(name)
    return done


def declare(hp: kt.HyperParameters, space: SearchSpace) -> dict[str, Any]:
    """Register the space's hyperparameters on ``hp``; returns their values (None if inactive)."""
    values: dict[str, Any] = {}
    for name in _order(space):
        spec = space[name]
        scopes = list((spec.active_if or {}).items())
        with _scopes(hp, scopes):
            values[name] = _declare_one(hp, name, spec)
    return values


class _scopes:
    """Nest ``hp.conditional_scope`` for each (parent, values) pair."""

    def __init__(self, hp: kt.HyperParameters, scopes: list[tuple[str, list[Any]]]):
        self.managers = [hp.conditional_scope(p, [_coerce(p, v) for v in vs]) for p, vs in scopes]

    def __enter__(self):
        for m in self.managers:
            m.__enter__()

    def __exit__(self, *exc):
        for m in reversed(self.managers):
            m.__exit__(*exc)


def _declare_one(hp: kt.HyperParameters, name: str, spec) -> Any:
    if spec.kind == "fixed":
        return hp.Fixed(name, _coerce(name, spec.value))
    if spec.kind == "choice":
        values = [_coerce(name, v) for v in spec.values]
        default = _coerce(name, spec.default) if spec.default is not None else values[0]
        return hp.Choice(name, values, default=default)
    sampling = "log" if spec.log else "linear"
    if spec.kind == "int":
        step = int(spec.step) if (spec.step and not spec.log) else None
        return hp.Int(name, int(spec.low), int(spec.high), step=step, sampling=sampling, default=spec.default)
    step = float(spec.step) if (spec.step and not spec.log) else None
    default = float(spec.default) if spec.default is not None else None
    return hp.Float(name, float(spec.low), float(spec.high), step=step, sampling=sampling, default=default)


def _get(values: dict[str, Any], name: str, default: Any) -> Any:
    value = values.get(name)
    return default if value is None else value


def family_parts(values: dict[str, Any]) -> dict[str, Any]:
    """The activation family's bundle, with batch norm resolved."""
    family = dict(FAMILIES[_get(values, "activation_family", "elu")])
    if family["batch_norm"] is None:
        family["batch_norm"] = bool(_get(values, "batch_norm", False))
    return family


def hidden_widths(values: dict[str, Any]) -> list[int]:
    return layer_widths(
        int(_get(values, "units_first", 64)),
        int(_get(values, "n_layers", 2)),
        float(_get(values, "shrink", 1.0)),
        int(_get(values, "units_min", 8)),
    )


def build_network(values: dict[str, Any], prep: Preprocessing, *, weighted_metrics: bool = False) -> keras.Model:
    """The trainable network, from preprocessed inputs to the task's output; compiled.

    Tabular data gets the dense stack, images the convolutional blocks of
    :mod:`autoann.search._convnet` (or the user's pretrained backbone) followed by
    dropout; both end in the task's output
    layer. ``weighted_metrics`` compiles the objective metric as a weighted
    metric, so the validation objective honours per-row validation weights
    (see :class:`TrainingData`).
    """
    fam = family_parts(values)
    l1, l2 = float(_get(values, "l1", 0.0)), float(_get(values, "l2", 0.0))
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    if prep.image is not None:
        pixels = keras.Input(shape=tuple(prep.image.shape), name=PIXELS_INPUT)
        inputs = {PIXELS_INPUT: pixels}
        if prep.image.backbone:
            x = backbone_features(pixels, values, prep.image.backbone)
        else:
            x = conv_features(pixels, values, fam, reg)
        dropout = float(_get(values, "dropout", 0.0))
        if dropout > 0:  # G-REG-3: 40-50% before the head of a CNN
            x = _dropout_layer(fam)(dropout)(x)
    else:
        inputs, x = _tabular_inputs(prep)
        x = _dense_stack(x, values, fam, reg)
    outputs = _output_layer(values, x)
    model = keras.Model(inputs, outputs, name="network")
    compile_network(model, values, weighted=weighted_metrics)
    return model


def _dropout_layer(family: dict[str, Any]) -> type:
    """G-REG-4: alpha dropout keeps a SELU network self-normalizing; ordinary dropout otherwise."""
    return layers.AlphaDropout if family["dropout_layer"] == "alpha" else layers.Dropout


def _tabular_inputs(prep: Preprocessing) -> tuple[dict[str, Any], Any]:
    """The dense input and one embedded index per high-cardinality categorical, joined."""
    dense_in = keras.Input(shape=(prep.dense_width,), name=DENSE_INPUT)
    inputs = {DENSE_INPUT: dense_in}
    parts = [dense_in]
    for i, cat in enumerate(prep.embedded):
        idx = keras.Input(shape=(), dtype="int64", name=EMBED_PREFIX + cat.name)
        inputs[idx.name] = idx
        parts.append(layers.Embedding(len(cat.vocabulary) + 1, cat.embedding_dim, name=layer_name(f"embedding{i}__", cat.name))(idx))
    return inputs, parts[0] if len(parts) == 1 else layers.Concatenate()(parts)


def _dense_stack(x, values: dict[str, Any], fam: dict[str, Any], reg: Any):
    """The hidden dense layers: family, L1/L2, max-norm, batch norm, dropout on the top layers."""
    max_norm = float(_get(values, "max_norm", 0.0))
    constraint = keras.constraints.MaxNorm(max_norm) if max_norm > 0 else None
    widths = hidden_widths(values)
    dropout = float(_get(values, "dropout", 0.0))
    dropout_layers = int(_get(values, "dropout_layers", 1))
    bn_before = _get(values, "batch_norm_position", "before") == "before"
    for i, width in enumerate(widths):
        x = layers.Dense(
            width,
            kernel_initializer=fam["initializer"],
            kernel_regularizer=reg,
            kernel_constraint=constraint,
            use_bias=not (fam["batch_norm"] and bn_before),
        )(x)
        x = activated(x, fam, bn_before)
        if dropout > 0 and i >= len(widths) - dropout_layers:
            x = _dropout_layer(fam)(dropout)(x)  # G-REG-3: dropout on the top layers only
    return x


def _output_layer(values: dict[str, Any], x):
    units = int(_get(values, "output_units", 1))
    activation = _get(values, "output_activation", "linear")
    scale = float(_get(values, "output_scale", 1.0))
    offset = float(_get(values, "output_offset", 0.0))
    if activation in ("scaled_tanh", "scaled_sigmoid"):
        # G-OUT-5: a bounded target gets a bounded output: offset + s * tanh/sigmoid.
        y = layers.Dense(units, activation=activation.split("_")[1], name="output_raw")(x)
        return layers.Rescaling(scale, offset, name="output")(y)
    return layers.Dense(units, activation=activation, name="output")(x)


def make_optimizer(values: dict[str, Any]) -> keras.optimizers.Optimizer:
    name = _get(values, "optimizer", "nadam")
    clip = float(_get(values, "clipnorm", 0.0))
    extra = {"global_clipnorm": clip} if clip > 0 else {}
    if name == "sgd_nesterov":
        lr = float(_get(values, "learning_rate_sgd", 0.01))
        return keras.optimizers.SGD(lr, momentum=float(_get(values, "momentum", 0.9)), nesterov=True, **extra)
    lr = float(_get(values, "learning_rate", 1e-3))
    classes = {
        "nadam": keras.optimizers.Nadam,
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adamax": keras.optimizers.Adamax,
        "adagrad": keras.optimizers.Adagrad,
    }
    return classes[name](lr, **extra)


def peak_learning_rate(values: dict[str, Any]) -> float:
    if _get(values, "optimizer", "nadam") == "sgd_nesterov":
        return float(_get(values, "learning_rate_sgd", 0.01))
    return float(_get(values, "learning_rate", 1e-3))


#: attribute set on a compiled network: were its metrics compiled as weighted metrics?
WEIGHTED_FLAG = "_autoann_weighted_metrics"


def compile_network(model: keras.Model, values: dict[str, Any], *, weighted: bool = False) -> None:
    """Compile with the space's optimizer, loss and objective metric.

    Keras 3 applies sample weights to the loss and to ``weighted_metrics``
    only, never to ``metrics``; ``weighted`` puts the objective metric in
    ``weighted_metrics`` so a weighted validation set is scored by its weights.
    Without weights both lists compute the same values.
    """
    metric = _get(values, "metric", "log_loss")
    task = _get(values, "task", "regression")
    metrics: list[Any] = []
    if metric == "auc":
        metrics.append(keras.metrics.AUC(name="auc"))
    elif metric == "accuracy":
        cls = keras.metrics.SparseCategoricalAccuracy if task == "multiclass" else keras.metrics.BinaryAccuracy
        metrics.append(cls(name="accuracy"))
    elif metric == "rmse":
        metrics.append(keras.metrics.RootMeanSquaredError(name="rmse"))
    elif metric == "mae":
        metrics.append(keras.metrics.MeanAbsoluteError(name="mae"))
    if weighted:
        model.compile(optimizer=make_optimizer(values), loss=_get(values, "loss", "mse"), weighted_metrics=metrics)
    else:
        model.compile(optimizer=make_optimizer(values), loss=_get(values, "loss", "mse"), metrics=metrics)
    setattr(model, WEIGHTED_FLAG, weighted)


@dataclass
class TrainingData:
    """Preprocessed arrays, created once; tf.data pipelines cached per batch size.

    ``w_train`` / ``w_val`` are the user's per-row sample weights of the two
    splits (finite, >= 0, already checked and scaled by the trainer), or None.
    Training multiplies ``w_train`` with the balanced class weights when the
    space asks for them; the validation data carries ``w_val``, so the loss and
    the (weighted) objective metric of every trial are weighted the same way.
    """

    x_train: dict[str, np.ndarray]
    y_train: np.ndarray
    x_val: dict[str, np.ndarray]
    y_val: np.ndarray
    class_weight: dict[int, float] | None = None
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def sample_weighted(self) -> bool:
        """Whether the user gave sample weights (then metrics are compiled as weighted metrics)."""
        return self.w_train is not None or self.w_val is not None

    def train_weights(self, weighted: bool = False) -> np.ndarray | None:
        """Per-row training weights: balanced class weights (if ``weighted``) times the user's weights."""
        weights = None
        if weighted and self.class_weight:
            lookup = np.array([self.class_weight[i] for i in sorted(self.class_weight)], "float32")
            weights = lookup[self.y_train.astype(int).ravel()]
        if self.w_train is not None:
            user = np.asarray(self.w_train, dtype="float32").ravel()
            weights = user if weights is None else weights * user
        return weights

    def train_dataset(self, batch_size: int, seed: int, weighted: bool = False):
        """Shuffled batches; ``weighted`` adds balanced class weights as sample weights."""
        import tensorflow as tf

        key = ("train", batch_size, weighted)
        if key not in self._cache:
            weights = self.train_weights(weighted)
            parts = (self.x_train, self.y_train) if weights is None else (self.x_train, self.y_train, weights)
            ds = tf.data.Dataset.from_tensor_slices(parts).cache()
            ds = ds.shuffle(min(self.n_train, 50_000), seed=seed, reshuffle_each_iteration=True)
            self._cache[key] = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        return self._cache[key]

    def val_dataset(self):
        import tensorflow as tf

        if "val" not in self._cache:
            parts = (self.x_val, self.y_val)
            if self.w_val is not None:
                parts = (*parts, np.asarray(self.w_val, dtype="float32").ravel())
            ds = tf.data.Dataset.from_tensor_slices(parts).batch(VALIDATION_BATCH).cache()
            self._cache["val"] = ds.prefetch(tf.data.AUTOTUNE)
        return self._cache["val"]


@dataclass
class FitRecord:
    """What one fit call did, for the leaderboard and the overhead benchmark."""

    fit_seconds: float = 0.0
    epochs_run: int = 0
    cut: bool = False
    diverged: str = ""
    epoch_seconds: list[float] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)


def fit_network(
    model: keras.Model,
    values: dict[str, Any],
    data: TrainingData,
    *,
    epochs: int,
    initial_epoch: int = 0,
    deadline: float = float("inf"),
    seed: int = 0,
    verbose: int = 0,
    callbacks: list[Any] | None = None,
) -> FitRecord:
    """Train with early stopping, the chosen schedule, divergence and deadline guards."""
    import math

    from autoann.search._callbacks import Diverged

    batch_size = int(_get(values, "batch_size", 32))
    steps = math.ceil(data.n_train / batch_size)
    name, direction = OBJECTIVES[_get(values, "metric", "log_loss")]
    guard, timer = Deadline(deadline), EpochTimer()
    cbs = list(callbacks or []) + [
        DivergenceGuard(),
        guard,
        timer,
        keras.callbacks.EarlyStopping(
            monitor=name, mode=direction, patience=int(_get(values, "patience", 10)), restore_best_weights=True
        ),
    ]
    schedule = _get(values, "schedule", "constant")
    if schedule in ("one_cycle", "exponential"):
        cbs.append(EpochSchedule(schedule, peak_learning_rate(values), epochs, initial_epoch, steps))
    elif schedule == "performance":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=name, mode=direction, factor=0.5,
                                                     patience=max(1, int(_get(values, "patience", 10)) // 2)))
    if data.sample_weighted and not getattr(model, WEIGHTED_FLAG, False):
        # A network built without knowing the data is weighted (the calibration,
        # the final refit): recompile so its objective is weighted like the trials'.
        compile_network(model, values, weighted=True)
    record = FitRecord()
    start = time.perf_counter()
    try:
        history = model.fit(
            data.train_dataset(batch_size, seed, _get(values, "class_weight", "none") == "balanced"),
            validation_data=data.val_dataset(),
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,  # the cached dataset reshuffles itself every epoch
        )
        record.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    except Diverged as exc:
        record.diverged = str(exc)
    record.fit_seconds = time.perf_counter() - start
    record.epochs_run = len(next(iter(record.history.values()), []))
    record.cut = guard.cut
    record.epoch_seconds = timer.seconds
    return record


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
        history = keras.callbacks.History()
        history.history = record.history
        return history
