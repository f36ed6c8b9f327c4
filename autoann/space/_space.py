"""The search space: what the rules propose and what the search explores.

A :class:`SearchSpace` maps hyperparameter names to :class:`Hyperparameter`
specs (a fixed value, an int or float range, or a choice set), each carrying
the ids of the rules that set it and why. Its YAML form is meant to be read,
edited by hand and fed back to ``autoann train --space``; ``to_dict`` and
``from_dict`` are exact inverses.

Which names exist, and what values they accept, is declared once in
:data:`KNOWN`: the rule loader, the ``--set`` parser and the space loader all
check against it, and the model builder reads only these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from autoann._io import read_user_text
from autoann.data import TASKS
from autoann.errors import SpaceError

SPACE_FORMAT = 1

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


@dataclass(frozen=True)
class Declared:
    """What one hyperparameter name accepts."""

    kind: str  # "int", "float", "str", "bool"
    doc: str
    values: tuple[Any, ...] | None = None  # allowed values for str names
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None


#: Every hyperparameter autoann knows. The model builder and the search read
#: only these; a rule or space file naming anything else is rejected on load.
KNOWN: dict[str, Declared] = {
    # inputs and outputs (G-IN-*, G-OUT-*)
    "task": Declared("str", "binary, multiclass, regression or multi_regression", TASKS),
    "output_units": Declared("int", "units of the output layer", low=1),
    "output_activation": Declared("str", "activation of the output layer",
                                  ("sigmoid", "softmax", "linear", "softplus",
                                   "scaled_tanh", "scaled_sigmoid")),
    "output_scale": Declared("float", "s for s*tanh / s*sigmoid bounded outputs", low=0.0),
    "output_offset": Declared("float", "centre of a bounded regression target"),
    "loss": Declared("str", "training loss",
                     ("binary_crossentropy", "sparse_categorical_crossentropy",
                      "mse", "mae", "huber")),
    "metric": Declared("str", "the validation metric the search optimizes",
                       ("auc", "accuracy", "log_loss", "rmse", "mae")),
    "target_scaling": Declared("str", "how regression targets are scaled while training",
                               ("standardize", "none")),
    "numeric_scaling": Declared("str", "how numeric inputs are scaled",
                                ("standardize", "none")),
    "missing_indicators": Declared("bool", "add a 0/1 input per numeric column with missing values"),
    "onehot_max_cardinality": Declared("int", "categoricals with more levels get an embedding", low=2),
    "embedding_dim_max": Declared("int", "largest embedding width", low=1),
    # architecture (G-ARCH-*)
    "n_layers": Declared("int", "hidden layers", low=1, high=64),
    "units_first": Declared("int", "units of the first hidden layer", low=1, high=8192),
    "units_min": Declared("int", "no hidden layer is narrower than this", low=1),
    "shrink": Declared("float", "width ratio of each layer to the previous (1.0 = equal widths)",
                       low=0.1, high=1.0),
    "max_params_per_row": Declared("float", "parameter-count guard: weights per training row", low=0.0),
    "min_params_cap": Declared("int", "the guard never caps capacity below this many weights", low=0),
    # convolutional networks for images (G-IN-2, G-CNN-*)
    "image_size": Declared("int", "side the model resizes images to before the first convolution (0 = stored size)",
                           low=0, high=1024),
    "conv_blocks": Declared("int", "convolutional blocks, each ending in 2x2 pooling", low=1, high=8),
    "convs_per_block": Declared("int", "convolutions in each block", low=1, high=4),
    "filters_first": Declared("int", "filters of the first block; doubled after each pooling step", low=1, high=1024),
    "kernel_size": Declared("int", "side of every convolution kernel", low=1, high=11),
    "conv_type": Declared("str", "ordinary or depthwise-separable convolutions", ("standard", "separable")),
    "pooling": Declared("str", "pooling after each block", ("max", "average")),
    "augment_flip": Declared("str", "random flips while training",
                             ("none", "horizontal", "vertical", "horizontal_and_vertical")),
    "augment_rotation": Declared("float", "largest random rotation while training, as a fraction of a full turn",
                                 low=0.0, high=0.5),
    "augment_shift": Declared("float", "largest random shift while training, as a fraction of the side",
                              low=0.0, high=0.5),
    "augment_zoom": Declared("float", "largest random zoom in or out while training, as a fraction", low=0.0, high=0.5),
    "backbone_trainable": Declared("str", "which layers of a pretrained backbone train (G-ARCH-8)",
                                   ("frozen", "top", "all")),
    # activation, initialization, normalization (G-ACT-*, G-INIT-*, G-BN-*)
    "activation_family": Declared("str", "joint choice of activation, initializer, dropout kind, batch norm",
                                  tuple(FAMILIES)),
    "batch_norm": Declared("bool", "batch normalization in hidden layers (not for selu)"),
    "batch_norm_position": Declared("str", "batch norm before or after the activation",
                                    ("before", "after")),
    # regularization (G-REG-*)
    "dropout": Declared("float", "dropout (alpha dropout for selu) rate on the top hidden layers",
                        low=0.0, high=0.9),
    "dropout_layers": Declared("int", "how many of the top hidden layers get dropout", low=0),
    "l2": Declared("float", "L2 weight penalty on every hidden layer", low=0.0),
    "l1": Declared("float", "L1 weight penalty on every hidden layer", low=0.0),
    "max_norm": Declared("float", "max-norm constraint r on incoming weights (0 = off)", low=0.0),
    "mc_dropout_samples": Declared("int", "forward passes for Monte Carlo dropout (0 = off)", low=0),
    # optimization (G-OPT-*, G-LR-*, G-GRAD-*)
    "optimizer": Declared("str", "optimizer",
                          ("nadam", "adam", "sgd_nesterov", "rmsprop", "adamax", "adagrad")),
    "learning_rate": Declared("float", "peak learning rate of adaptive optimizers", low=0.0),
    "learning_rate_sgd": Declared("float", "peak learning rate of SGD with Nesterov momentum", low=0.0),
    "momentum": Declared("float", "momentum of SGD", low=0.0, high=1.0),
    "schedule": Declared("str", "learning-rate schedule",
                         ("one_cycle", "exponential", "performance", "constant")),
    "clipnorm": Declared("float", "global-norm gradient clipping threshold (0 = off)", low=0.0),
    # batch size, epochs, early stopping (G-BATCH-*, G-REG-1)
    "batch_size": Declared("int", "mini-batch size", low=1),
    "max_epochs": Declared("int", "epochs of the longest Hyperband round", low=1),
    "patience": Declared("int", "early-stopping patience in epochs", low=1),
    "class_weight": Declared("str", "class weighting for imbalanced classes", ("none", "balanced")),
}


@dataclass
class Hyperparameter:
    """One hyperparameter: a fixed value, an int/float range, or a choice set.

    ``active_if`` makes it conditional: it only matters (and is only searched)
    while the named parent hyperparameter takes one of the listed values.
    """

    name: str
    kind: str  # "fixed", "int", "float", "choice"
    value: Any = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    values: list[Any] | None = None
    default: Any = None
    active_if: dict[str, list[Any]] | None = None
    rules: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)

    def candidates(self) -> list[Any]:
        """Every value this hyperparameter can take (ranges give their ends)."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "choice":
            return list(self.values or [])
        return [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: only the keys that mean something for this kind."""
        out: dict[str, Any] = {}
        if self.kind == "fixed":
            out["value"] = self.value
        elif self.kind == "choice":
            out["choice"] = list(self.values or [])
            if self.default is not None:
                out["default"] = self.default
        else:
            out[self.kind] = [self.low, self.high]
            if self.step is not None:
                out["step"] = self.step
            if self.log:
                out["log"] = True
            if self.default is not None:
                out["default"] = self.default
        if self.active_if:
            out["active_if"] = {k: list(v) for k, v in self.active_if.items()}
        if self.rules:
            out["rules"] = list(self.rules)
        if self.why:
            out["why"] = list(self.why)
        return out

    @classmethod
    def from_dict(cls, name: str, spec: Any, where: str = "space") -> "Hyperparameter":
        """Parse the YAML form; a bare scalar means a fixed value."""
        if not isinstance(spec, dict):
            hp = cls(name=name, kind="fixed", value=spec)
            check_hyperparameter(hp, where)
            return hp
        kinds = [k for k in ("value", "choice", "int", "float") if k in spec]
        if len(kinds) != 1:
            raise SpaceError(
                f"{where}: hyperparameter '{name}' must have exactly one of "
                f"'value', 'choice', 'int: [low, high]' or 'float: [low, high]'; got keys {sorted(spec)}."
            )
        allowed = {"value", "choice", "int", "float", "step", "log", "default",
                   "active_if", "rules", "why"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise SpaceError(
                f"{where}: hyperparameter '{name}' has unknown key(s) {unknown}; "
                f"allowed keys are {sorted(allowed)}."
            )
        kind = kinds[0]
        hp = cls(name=name, kind="fixed" if kind == "value" else kind)
        if kind == "value":
            hp.value = spec["value"]
        elif kind == "choice":
            values = spec["choice"]
            if not isinstance(values, list) or not values:
                raise SpaceError(f"{where}: '{name}.choice' must be a non-empty list; got {values!r}.")
            hp.values = list(values)
        else:
            bounds = spec[kind]
            if not (isinstance(bounds, list) and len(bounds) == 2
                    and all(_is_number(b) for b in bounds)):
                raise SpaceError(
                    f"{where}: '{name}.{kind}' must be a list [low, high] of two numbers; got {bounds!r}."
                )
            hp.low, hp.high = bounds
            hp.step = spec.get("step")
            hp.log = bool(spec.get("log", False))
        hp.default = spec.get("default")
        active_if = spec.get("active_if")
        if active_if is not None:
            if not isinstance(active_if, dict) or not all(isinstance(v, list) for v in active_if.values()):
                raise SpaceError(
                    f"{where}: '{name}.active_if' must map a parent name to a list of values, "
                    f"e.g. {{optimizer: [sgd_nesterov]}}; got {active_if!r}."
                )
            hp.active_if = {str(k): list(v) for k, v in active_if.items()}
        hp.rules = [str(r) for r in spec.get("rules", [])]
        hp.why = [str(w) for w in spec.get("why", [])]
        check_hyperparameter(hp, where)
        return hp


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _fits(declared: Declared, value: Any) -> bool:
    if declared.kind == "bool":
        return isinstance(value, bool)
    if declared.kind == "str":
        return isinstance(value, str) and (declared.values is None or value in declared.values)
    if declared.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        return False
    if declared.kind == "float" and not _is_number(value):
        return False
    if declared.low is not None and value < declared.low:
        return False
    if declared.high is not None and value > declared.high:
        return False
    return True


def _expected(declared: Declared) -> str:
    if declared.kind == "str" and declared.values:
        return "one of " + ", ".join(declared.values)
    if declared.kind == "bool":
        return "true or false"
    lo = "-inf" if declared.low is None else declared.low
    hi = "inf" if declared.high is None else declared.high
    return f"{'an integer' if declared.kind == 'int' else 'a number'} in [{lo}, {hi}]"


def value_problem(name: str, value: Any) -> str | None:
    """Why ``value`` can never be given to the known hyperparameter ``name``, or None if it can."""
    declared = KNOWN[name]
    if _fits(declared, value):
        return None
    return f"'{name}' must be {_expected(declared)}; got {value!r}"


def typed_values(values: dict[str, Any]) -> dict[str, Any]:
    """Search results in their declared types (Keras Tuner hands booleans of a choice back as 0/1)."""
    return {k: bool(v) if k in KNOWN and KNOWN[k].kind == "bool" and v in (0, 1) else v for k, v in values.items()}


def check_hyperparameter(hp: Hyperparameter, where: str = "space") -> None:
    """Raise :class:`SpaceError` unless ``hp`` is a known name with sane values."""
    declared = KNOWN.get(hp.name)
    if declared is None:
        raise SpaceError(
            f"{where}: unknown hyperparameter '{hp.name}'{_suggest(hp.name)}. "
            f"Known names: {', '.join(sorted(KNOWN))}."
        )
    if hp.kind in ("int", "float"):
        if declared.kind not in ("int", "float"):
            raise SpaceError(
                f"{where}: '{hp.name}' takes {_expected(declared)}, so it cannot be a "
                f"{hp.kind} range; use 'value:' or 'choice:'."
            )
        if hp.kind == "int" and declared.kind == "float":
            hp.kind = "float"
        if hp.kind == "int" and not all(float(b).is_integer() for b in (hp.low, hp.high)):
            raise SpaceError(f"{where}: '{hp.name}.int' bounds must be whole numbers; got [{hp.low}, {hp.high}].")
        if hp.kind == "int":
            hp.low, hp.high = int(hp.low), int(hp.high)
        if hp.low > hp.high:
            raise SpaceError(
                f"{where}: '{hp.name}' range is empty: low {hp.low} > high {hp.high}. Swap the bounds."
            )
        if hp.log and hp.low <= 0:
            raise SpaceError(
                f"{where}: '{hp.name}' uses log sampling, so its low bound must be > 0; got {hp.low}."
            )
        if hp.step is not None and not (_is_number(hp.step) and hp.step > 0):
            raise SpaceError(f"{where}: '{hp.name}.step' must be a positive number; got {hp.step!r}.")
    for value in hp.candidates():
        if declared.kind == "float" and _is_number(value):
            value = float(value)
        if not _fits(declared, value):
            raise SpaceError(
                f"{where}: '{hp.name}' cannot be {value!r}: it takes {_expected(declared)} "
                f"({declared.doc})."
            )
    if hp.kind == "fixed" and declared.kind == "float" and _is_number(hp.value):
        hp.value = float(hp.value)


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(KNOWN), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass
class SearchSpace:
    """The hyperparameters to search, with where each one came from.

    ``fired`` lists the ids of every rule that fired, in order, and ``notes``
    carries warnings and facts worth showing next to the space.
    """

    hyperparameters: dict[str, Hyperparameter] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Hyperparameter:
        return self.hyperparameters[name]

    def __contains__(self, name: object) -> bool:
        return name in self.hyperparameters

    def fixed(self, name: str, default: Any = None) -> Any:
        """The value of a fixed hyperparameter, or ``default`` if absent or searched."""
        hp = self.hyperparameters.get(name)
        if hp is None or hp.kind != "fixed":
            return default
        return hp.value

    def pin(self, name: str, value: Any, why: str = "pinned by --set") -> None:
        """Fix ``name`` to ``value`` (the ``--set name=value`` of the CLI)."""
        hp = Hyperparameter(name=name, kind="fixed", value=value,
                            rules=["user"], why=[why])
        check_hyperparameter(hp, "--set")
        self.hyperparameters[name] = hp
        self.validate()

    def validate(self) -> None:
        """Check cross-references: every ``active_if`` parent exists and can take its values."""
        for hp in self.hyperparameters.values():
            for parent, values in (hp.active_if or {}).items():
                if parent not in self.hyperparameters:
                    raise SpaceError(
                        f"space: '{hp.name}.active_if' names '{parent}', which is not in the space."
                    )
                possible = self.hyperparameters[parent].candidates()
                if self.hyperparameters[parent].kind in ("choice", "fixed") and not any(
                    v in possible for v in values
                ):
                    raise SpaceError(
                        f"space: '{hp.name}' is only active when {parent} is one of {values}, "
                        f"but {parent} can only be {possible}."
                    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "autoann_space": SPACE_FORMAT,
            "hyperparameters": {n: hp.to_dict() for n, hp in self.hyperparameters.items()},
            "fired": list(self.fired),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "space") -> "SearchSpace":
        if not isinstance(data, dict) or not isinstance(data.get("hyperparameters"), dict):
            raise SpaceError(
                f"{where}: a search space is a mapping with a 'hyperparameters' mapping; "
                f"write one with `autoann recommend DATA --target COL -o space.yaml`."
            )
        version = data.get("autoann_space", SPACE_FORMAT)
        if version != SPACE_FORMAT:
            raise SpaceError(f"{where}: space format {version!r} is not supported (expected {SPACE_FORMAT}).")
        space = cls(
            hyperparameters={
                str(n): Hyperparameter.from_dict(str(n), spec, where)
                for n, spec in data["hyperparameters"].items()
            },
            fired=[str(x) for x in data.get("fired", [])],
            notes=[str(x) for x in data.get("notes", [])],
        )
        space.validate()
        return space

    def to_yaml(self) -> str:
        header = (
            "# autoann search space. Edit freely and pass it back with\n"
            "#   autoann train DATA --target COL --space THIS_FILE\n"
            "# Forms: 'value: x' (fixed), 'choice: [a, b]', 'int: [lo, hi]', 'float: [lo, hi]'\n"
            "# (+ 'log: true', 'step: s'); 'active_if: {parent: [values]}' makes one conditional.\n"
        )
        return header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    @classmethod
    def from_yaml(cls, text: str, where: str = "space") -> "SearchSpace":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpaceError(f"{where}: not valid YAML: {exc}") from None
        return cls.from_dict(data, where)

    @classmethod
    def load(cls, path: str | Path) -> "SearchSpace":
        path = Path(path)
        text = read_user_text(path, "Search space file", SpaceError)
        return cls.from_yaml(text, where=str(path))

    def save(self, path: str | Path) -> None:
        from autoann._io import write_text_atomic

        write_text_atomic(Path(path), self.to_yaml())


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse one ``--set name=value``; the value is read as a YAML scalar."""
    if "=" not in text:
        raise SpaceError(f"--set expects name=value (e.g. --set n_layers=3); got {text!r}.")
    name, raw = text.split("=", 1)
    name = name.strip()
    if name not in KNOWN:
        raise SpaceError(
            f"--set {text!r}: no hyperparameter is called '{name}'{_suggest(name)}. "
            f"Known names: {', '.join(sorted(KNOWN))}."
        )
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return name, value
