"""The hyperparameter vocabulary: every name autoann knows, declared once.

:data:`KNOWN` gives each name its type, allowed values, **default**, the kind
of data it applies to, and whether it may only be fixed. The rule loader, the
space loader, ``--set``, the estimators' ``pins``, the model builder, the
parameter-count guard and the generated docs all read it, so a default lives
in exactly one place: :func:`default_of` / :func:`value`.

A name is ``fixed_only`` when one run can only use one value of it: the data
stage (scaling, encoding), the objective metric, what the output layer is
for, and the guard's own settings. A space offering a choice of them would
be silently cut to one value, so they are refused as a choice or range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from autoann.data import TASKS
from autoann.errors import did_you_mean
from autoann.params import MAX_EPOCHS

#: The activation families: each is a consistent bundle (G-ACT-2, G-ACT-3,
#: G-ACT-4, G-INIT-2..4, G-REG-4). The search chooses a family, never its parts
#: one by one, so SELU never meets batch norm or plain dropout.
FAMILIES: dict[str, dict[str, Any]] = {
    "selu": {
        "activation": "selu",
        "initializer": "lecun_normal",
        "dropout_layer": "alpha",
        "batch_norm": False,
        "guidelines": ["G-ACT-2", "G-INIT-4", "G-REG-4", "G-DEF-2"],
    },
    "elu": {
        "activation": "elu",
        "initializer": "he_normal",
        "dropout_layer": "standard",
        "batch_norm": None,  # decided by the batch_norm hyperparameter
        "guidelines": ["G-ACT-3", "G-INIT-4", "G-DEF-1"],
    },
    "leaky_relu": {
        "activation": "leaky_relu",
        "initializer": "he_normal",
        "dropout_layer": "standard",
        "batch_norm": None,
        "guidelines": ["G-ACT-4", "G-ACT-5", "G-INIT-3"],
    },
    "relu": {
        "activation": "relu",
        "initializer": "he_normal",
        "dropout_layer": "standard",
        "batch_norm": None,
        "guidelines": ["G-ARCH-7", "G-INIT-3"],
    },
    "gelu": {
        "activation": "gelu",
        "initializer": "he_normal",
        "dropout_layer": "standard",
        "batch_norm": None,
        "guidelines": ["G-ACT-5", "G-INIT-3"],
    },
    "tanh": {
        "activation": "tanh",
        "initializer": "glorot_uniform",
        "dropout_layer": "standard",
        "batch_norm": None,
        "guidelines": ["G-ARCH-7", "G-INIT-2"],
    },
}

#: the kinds of data a hyperparameter can apply to
APPLIES_TO = ("any", "tabular", "image")


@dataclass(frozen=True)
class Declared:
    """What one hyperparameter name accepts, and what the network uses when a space leaves it out.

    ``default`` is what the builder builds (and the guard counts) when the
    name is absent; ``applies_to`` says which data the builder reads it for;
    ``fixed_only`` names take one ``value`` per run, never a choice or range.
    """

    kind: str  # "int", "float", "str", "bool"
    doc: str
    default: Any
    values: tuple[Any, ...] | None = None  # allowed values for str names
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    applies_to: str = "any"
    fixed_only: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of this name's type and within its allowed values or bounds."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str":
            return isinstance(value, str) and (self.values is None or value in self.values)
        if self.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return False
        if self.kind == "float" and not is_number(value):
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or value <= self.high

    def expected(self) -> str:
        """What this name takes, in words: 'one of a, b', 'true or false', 'an integer in [1, 64]'."""
        if self.kind == "str" and self.values:
            return "one of " + ", ".join(self.values)
        if self.kind == "bool":
            return "true or false"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        return f"{'an integer' if self.kind == 'int' else 'a number'} in [{lo}, {hi}]"


def _str(doc: str, default: str, values: tuple[str, ...], **more: Any) -> Declared:
    return Declared("str", doc, default, values, **more)


#: Every hyperparameter autoann knows. The model builder and the search read
#: only these; a rule or space file naming anything else is rejected on load.
#: Each default is what the builder builds when a space leaves the name out.
KNOWN: dict[str, Declared] = {
    # inputs and outputs (G-IN-*, G-OUT-*): decided by the data, one value per run
    "task": _str("binary, multiclass, regression or multi_regression", "regression", TASKS, fixed_only=True),
    "output_units": Declared("int", "units of the output layer", 1, low=1, fixed_only=True),
    "output_activation": _str("activation of the output layer", "linear",
                              ("sigmoid", "softmax", "linear", "softplus", "scaled_tanh", "scaled_sigmoid"),
                              fixed_only=True),
    "output_scale": Declared("float", "s for s*tanh / s*sigmoid bounded outputs", 1.0, low=0.0, fixed_only=True),
    "output_offset": Declared("float", "centre of a bounded regression target", 0.0, fixed_only=True),
    "loss": _str("training loss", "mse",
                 ("binary_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "huber")),
    "metric": _str("the validation metric the search optimizes (--metric)", "accuracy",
                   ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "r2", "rmse", "mae"),
                   fixed_only=True),
    "target_scaling": _str("how regression targets are scaled while training (log_standardize: log1p first)",
                           "standardize", ("standardize", "log_standardize", "none"), fixed_only=True),
    "numeric_scaling": _str("how numeric inputs are scaled", "standardize", ("standardize", "none"),
                            applies_to="tabular", fixed_only=True),
    "missing_indicators": Declared("bool", "add a 0/1 input per numeric column with missing values", True,
                                   applies_to="tabular", fixed_only=True),
    "onehot_max_cardinality": Declared("int", "categoricals with more levels get an embedding", 30, low=2,
                                       applies_to="tabular", fixed_only=True),
    "embedding_dim_max": Declared("int", "largest embedding width", 50, low=1, applies_to="tabular",
                                  fixed_only=True),
    "numeric_skew_transform": _str("transform of skewed numeric inputs before scaling", "none",
                                   ("none", "signed_log1p"), applies_to="tabular", fixed_only=True),
    "numeric_clip": _str("smooth clipping of standardized numeric inputs to about +-3 (RealMLP)", "none",
                         ("none", "smooth"), applies_to="tabular", fixed_only=True),
    "text_hash_buckets": Declared("int", "hash buckets of each text column's token features", 64, low=2,
                                  high=4096, applies_to="tabular", fixed_only=True),
    # architecture (G-ARCH-*)
    "n_layers": Declared("int", "hidden layers", 2, low=1, high=64),
    "units_first": Declared("int", "units of the first hidden layer", 64, low=1, high=8192),
    "units_min": Declared("int", "no hidden layer is narrower than this", 8, low=1),
    "shrink": Declared("float", "width ratio of each layer to the previous (1.0 = equal widths)", 1.0,
                       low=0.1, high=1.0),
    "max_params_per_row": Declared("float", "parameter-count guard: weights per training row", 0.0,
                                   low=0.0, applies_to="tabular", fixed_only=True),
    "min_params_cap": Declared("int", "the guard never caps capacity below this many weights", 0, low=0,
                               applies_to="tabular", fixed_only=True),
    # convolutional networks for images (G-IN-2, G-CNN-*)
    "image_network": _str("convolutional blocks, or dense layers on the flattened pixels (tiny images)", "conv",
                          ("conv", "dense"), applies_to="image"),
    "image_size": Declared("int", "side the model resizes images to before the first convolution (0 = stored size)",
                           0, low=0, high=1024, applies_to="image"),
    "conv_blocks": Declared("int", "convolutional blocks, each ending in 2x2 pooling", 2, low=1, high=8,
                            applies_to="image"),
    "convs_per_block": Declared("int", "convolutions in each block", 1, low=1, high=4, applies_to="image"),
    "filters_first": Declared("int", "filters of the first block; doubled after each pooling step", 32,
                              low=1, high=1024, applies_to="image"),
    "kernel_size": Declared("int", "side of every convolution kernel", 3, low=1, high=11, applies_to="image"),
    "conv_type": _str("ordinary or depthwise-separable convolutions", "standard", ("standard", "separable"),
                      applies_to="image"),
    "pooling": _str("pooling after each block", "max", ("max", "average"), applies_to="image"),
    "augment_flip": _str("random flips while training", "none",
                         ("none", "horizontal", "vertical", "horizontal_and_vertical"), applies_to="image"),
    "augment_rotation": Declared("float", "largest random rotation while training, as a fraction of a full turn",
                                 0.0, low=0.0, high=0.5, applies_to="image"),
    "augment_shift": Declared("float", "largest random shift while training, as a fraction of the side", 0.0,
                              low=0.0, high=0.5, applies_to="image"),
    "augment_zoom": Declared("float", "largest random zoom in or out while training, as a fraction", 0.0,
                             low=0.0, high=0.5, applies_to="image"),
    "backbone_trainable": _str("which layers of a pretrained backbone train (G-ARCH-8)", "frozen",
                               ("frozen", "top", "all"), applies_to="image"),
    # activation, initialization, normalization (G-ACT-*, G-INIT-*, G-BN-*)
    "activation_family": _str("joint choice of activation, initializer, dropout kind, batch norm", "elu",
                              tuple(FAMILIES)),
    "batch_norm": Declared("bool", "batch normalization in hidden layers (not for selu)", False),
    "batch_norm_position": _str("batch norm before or after the activation", "before", ("before", "after")),
    # regularization (G-REG-*)
    "dropout": Declared("float", "dropout (alpha dropout for selu) rate on the top hidden layers", 0.0,
                        low=0.0, high=0.9),
    "dropout_layers": Declared("int", "how many of the top hidden layers get dropout", 1, low=0),
    "l2": Declared("float", "L2 weight penalty on every hidden layer", 0.0, low=0.0),
    "l1": Declared("float", "L1 weight penalty on every hidden layer", 0.0, low=0.0),
    "max_norm": Declared("float", "max-norm constraint r on incoming weights (0 = off)", 0.0, low=0.0),
    "mc_dropout_samples": Declared("int", "forward passes for Monte Carlo dropout (0 = off)", 0, low=0),
    # optimization (G-OPT-*, G-LR-*, G-GRAD-*)
    "optimizer": _str("optimizer", "nadam",
                      ("nadam", "adam", "adamw", "sgd_nesterov", "rmsprop", "adamax", "adagrad")),
    "weight_decay": Declared("float", "AdamW's decoupled weight decay: each step shrinks the weights by "
                             "learning_rate x weight_decay", 0.0, low=0.0, high=100.0),
    "learning_rate": Declared("float", "peak learning rate of adaptive optimizers", 1e-3, low=0.0),
    "learning_rate_sgd": Declared("float", "peak learning rate of SGD with Nesterov momentum", 0.01, low=0.0),
    "momentum": Declared("float", "momentum of SGD", 0.9, low=0.0, high=1.0),
    "schedule": _str("learning-rate schedule", "constant", ("one_cycle", "exponential", "performance", "constant")),
    "clipnorm": Declared("float", "global-norm gradient clipping threshold (0 = off)", 0.0, low=0.0),
    # batch size, epochs, early stopping (G-BATCH-*, G-REG-1)
    "batch_size": Declared("int", "mini-batch size", 32, low=1),
    "max_epochs": Declared("int", "epochs of the longest Hyperband round", 30, low=1, high=MAX_EPOCHS),
    "patience": Declared("int", "early-stopping patience in epochs", 10, low=1),
    "class_weight": _str("class weighting for imbalanced classes", "none", ("none", "balanced")),
    # choosing the final configuration (AA-SEARCH-KEEP-DEFAULT)
    "selection_confidence": Declared("float", "a trial replaces the default network only if it validates better "
                                     "on at least this share of bootstrap resamples of the validation rows "
                                     "(0 = whichever validated better)", 0.0, low=0.0, high=1.0, fixed_only=True),
}


def is_number(x: Any) -> bool:
    """A finite int or float (booleans are not numbers here)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def default_of(name: str) -> Any:
    """The declared default of the known hyperparameter ``name``: what the network uses when it is absent."""
    return KNOWN[name].default


def value(values: Mapping[str, Any], name: str) -> Any:
    """``values[name]``, or its declared default when absent or inactive (None)."""
    given = values.get(name)
    return default_of(name) if given is None else given


def value_problem(name: str, given: Any) -> str | None:
    """Why ``given`` can never be given to the known hyperparameter ``name``, or None if it can."""
    declared = KNOWN[name]
    if declared.accepts(given):
        return None
    if declared.fixed_only and isinstance(given, (list, tuple, dict)):
        return f"'{name}' takes one value per run ({declared.doc}), {declared.expected()}; got {given!r}"
    return f"'{name}' must be {declared.expected()}; got {given!r}"


def typed_values(values: dict[str, Any]) -> dict[str, Any]:
    """Search results in their declared types (Keras Tuner hands booleans of a choice back as 0/1)."""
    return {k: bool(v) if k in KNOWN and KNOWN[k].kind == "bool" and v in (0, 1) else v for k, v in values.items()}


def unknown_name(name: str) -> str:
    """``'x' (did you mean 'y'?). Known names: ...``: the end of every "no such hyperparameter" message."""
    return f"'{name}'{did_you_mean(name, KNOWN)}. Known names: {', '.join(sorted(KNOWN))}."
