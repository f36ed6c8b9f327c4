"""The network a set of hyperparameter values describes: built and compiled.

:func:`build_network` builds the dense stack the rules describe on the
preprocessed inputs: the activation family's activation, initializer, dropout
kind and batch norm together (:data:`autoann.space.FAMILIES`), L1/L2 and
max-norm on every hidden layer, and the task's output layer and loss; for
images, the convolutional blocks of :mod:`autoann.search._convnet` instead of
the dense stack (or, with ``image_network: dense``, the dense stack on the
flattened pixels). Every name a space leaves out (or that is inactive in a
trial) gets its declared default (:func:`autoann.space.value`).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from autoann.metrics import higher_is_better
from autoann.schema import NETWORK_LAYER
from autoann.search._convnet import activated, backbone_features, conv_features, flat_pixels
from autoann.search._preprocessing import DENSE_INPUT, PIXELS_INPUT, Preprocessing, embed_key, layer_name
from autoann.space import FAMILIES, layer_widths, value

#: metrics that move in coarse steps on a small validation split: early stopping within a trial watches
#: the validation loss instead, and the trial is scored by the metric at the epoch it keeps
COARSE_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")


def objective_of(metric: str) -> tuple[str, str]:
    """(the log name of the validation ``metric``, "max" or "min"): what Hyperband ranks trials by."""
    return f"val_{metric}", "max" if higher_is_better(metric) else "min"


def stop_monitor(metric: str) -> tuple[str, str]:
    """(log name, direction) early stopping and reduce-on-plateau watch within one fit."""
    return ("val_loss", "min") if metric in COARSE_METRICS else objective_of(metric)


def family_parts(values: dict[str, Any]) -> dict[str, Any]:
    """The activation family's bundle, with batch norm resolved."""
    family = dict(FAMILIES[value(values, "activation_family")])
    if family["batch_norm"] is None:
        family["batch_norm"] = bool(value(values, "batch_norm"))
    return family


def hidden_widths(values: dict[str, Any]) -> list[int]:
    return layer_widths(
        int(value(values, "units_first")),
        int(value(values, "n_layers")),
        float(value(values, "shrink")),
        int(value(values, "units_min")),
    )


def build_network(values: dict[str, Any], prep: Preprocessing, *, weighted_metrics: bool = False) -> keras.Model:
    """The trainable network, from preprocessed inputs to the task's output; compiled.

    Tabular data gets the dense stack, images the convolutional blocks of
    :mod:`autoann.search._convnet` (or the user's pretrained backbone) followed by
    dropout, or with ``image_network: dense`` the dense stack on the flattened
    pixels; all end in the task's output layer. ``weighted_metrics`` compiles the objective metric as a weighted
    metric, so the validation objective honours per-row validation weights
    (see :class:`autoann.search._fit.TrainingData`).
    """
    fam = family_parts(values)
    l1, l2 = float(value(values, "l1")), float(value(values, "l2"))
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    if prep.image is not None:
        pixels = keras.Input(shape=tuple(prep.image.shape), name=PIXELS_INPUT)
        inputs = {PIXELS_INPUT: pixels}
        if prep.image.backbone:
            x = _head_dropout(backbone_features(pixels, values, prep.image.backbone), values, fam)
        elif value(values, "image_network") == "dense":  # tiny images: the dense stack, dropout included
            x = _dense_stack(flat_pixels(pixels, values), values, fam, reg)
        else:
            x = _head_dropout(conv_features(pixels, values, fam, reg), values, fam)
    else:
        inputs, x = _tabular_inputs(prep)
        x = _dense_stack(x, values, fam, reg)
    outputs = _output_layer(values, x)
    model = keras.Model(inputs, outputs, name=NETWORK_LAYER)
    compile_network(model, values, weighted=weighted_metrics)
    return model


def _head_dropout(x, values: dict[str, Any], family: dict[str, Any]):
    """G-REG-3: 40-50% dropout between a CNN's pooled features and the output layer."""
    dropout = float(value(values, "dropout"))
    return _dropout_layer(family)(dropout)(x) if dropout > 0 else x


def _dropout_layer(family: dict[str, Any]) -> type:
    """G-REG-4: alpha dropout keeps a SELU network self-normalizing; ordinary dropout otherwise."""
    return layers.AlphaDropout if family["dropout_layer"] == "alpha" else layers.Dropout


def _tabular_inputs(prep: Preprocessing) -> tuple[dict[str, Any], Any]:
    """The dense input and one embedded index per high-cardinality categorical, joined."""
    dense_in = keras.Input(shape=(prep.dense_width,), name=DENSE_INPUT)
    inputs = {DENSE_INPUT: dense_in}
    parts = [dense_in]
    for i, cat in enumerate(prep.embedded):
        idx = keras.Input(shape=(), dtype="int64", name=embed_key(prep.categorical.index(cat), cat.name))
        inputs[idx.name] = idx
        parts.append(layers.Embedding(len(cat.vocabulary) + 1, cat.embedding_dim, name=layer_name(f"embedding{i}__", cat.name))(idx))
    return inputs, parts[0] if len(parts) == 1 else layers.Concatenate()(parts)


def _dense_stack(x, values: dict[str, Any], fam: dict[str, Any], reg: Any):
    """The hidden dense layers: family, L1/L2, max-norm, batch norm, dropout on the top layers."""
    max_norm = float(value(values, "max_norm"))
    constraint = keras.constraints.MaxNorm(max_norm) if max_norm > 0 else None
    widths = hidden_widths(values)
    dropout = float(value(values, "dropout"))
    dropout_layers = int(value(values, "dropout_layers"))
    bn_before = value(values, "batch_norm_position") == "before"
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
    units = int(value(values, "output_units"))
    activation = value(values, "output_activation")
    scale = float(value(values, "output_scale"))
    offset = float(value(values, "output_offset"))
    if activation in ("scaled_tanh", "scaled_sigmoid"):
        # G-OUT-5: a bounded target gets a bounded output: offset + s * tanh/sigmoid.
        y = layers.Dense(units, activation=activation.split("_")[1], name="output_raw")(x)
        return layers.Rescaling(scale, offset, name="output")(y)
    return layers.Dense(units, activation=activation, name="output")(x)


def make_optimizer(values: dict[str, Any]) -> keras.optimizers.Optimizer:
    name = value(values, "optimizer")
    clip = float(value(values, "clipnorm"))
    extra = {"global_clipnorm": clip} if clip > 0 else {}
    if name == "sgd_nesterov":
        lr = float(value(values, "learning_rate_sgd"))
        return keras.optimizers.SGD(lr, momentum=float(value(values, "momentum")), nesterov=True, **extra)
    lr = float(value(values, "learning_rate"))
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=float(value(values, "weight_decay")), **extra)
    classes = {
        "nadam": keras.optimizers.Nadam,
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adamax": keras.optimizers.Adamax,
        "adagrad": keras.optimizers.Adagrad,
    }
    return classes[name](lr, **extra)


def peak_learning_rate(values: dict[str, Any]) -> float:
    if value(values, "optimizer") == "sgd_nesterov":
        return float(value(values, "learning_rate_sgd"))
    return float(value(values, "learning_rate"))


#: attribute set on a compiled network: were its metrics compiled as weighted metrics?
WEIGHTED_FLAG = "_autoann_weighted_metrics"


def compile_network(model: keras.Model, values: dict[str, Any], *, weighted: bool = False) -> None:
    """Compile with the space's optimizer and loss, and metrics for the training curves.

    The validation objective itself is computed after each epoch by
    :class:`autoann.search._callbacks.ValidationMetric`, with the functions that
    score the test split.

    Keras 3 applies sample weights to the loss and to ``weighted_metrics``
    only, never to ``metrics``; ``weighted`` puts the objective metric in
    ``weighted_metrics`` so a weighted validation set is scored by its weights.
    Without weights both lists compute the same values.
    """
    metric = value(values, "metric")
    task = value(values, "task")
    metrics: list[Any] = []
    if task in ("binary", "multiclass"):  # the training curve of accuracy, whatever the objective
        cls = keras.metrics.SparseCategoricalAccuracy if task == "multiclass" else keras.metrics.BinaryAccuracy
        metrics.append(cls(name="accuracy"))
    if metric == "roc_auc" and task == "binary":
        metrics.append(keras.metrics.AUC(name="roc_auc"))
    elif metric in ("rmse", "r2"):
        metrics.append(keras.metrics.RootMeanSquaredError(name="rmse"))
    elif metric == "mae":
        metrics.append(keras.metrics.MeanAbsoluteError(name="mae"))
    if weighted:
        model.compile(optimizer=make_optimizer(values), loss=value(values, "loss"), weighted_metrics=metrics)
    else:
        model.compile(optimizer=make_optimizer(values), loss=value(values, "loss"), metrics=metrics)
    setattr(model, WEIGHTED_FLAG, weighted)


