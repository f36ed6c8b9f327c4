"""The profile facts rule conditions may test, declared once with their types.

:meth:`autoann.profiling.Profile.facts` returns exactly these keys; the rule
loader rejects a condition on any other name, or an operator that does not fit
the fact's type, when the file is loaded rather than when the rule runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    kind: str  # "int", "float", "bool", "str"
    doc: str


FACTS: dict[str, Fact] = {
    # the data
    "data_kind": Fact("str", "tabular or image"),
    "task": Fact("str", "binary, multiclass, regression or multi_regression"),
    "n_rows": Fact("int", "rows with a usable target"),
    "n_features": Fact("int", "feature columns kept after dropping unusable ones"),
    "n_numeric": Fact("int", "numeric and boolean features kept"),
    "n_categorical": Fact("int", "categorical features kept"),
    "n_dropped": Fact("int", "columns dropped (identifiers, constants, mostly missing, durations, non-ISO dates)"),
    "input_width": Fact("int", "width of the network input after encoding (G-IN-1)"),
    "max_cardinality": Fact("int", "most levels of any kept categorical feature (0 if none)"),
    "missing_fraction": Fact("float", "fraction of missing cells among kept features"),
    "has_missing": Fact("bool", "any kept feature has missing values"),
    "scale_spread": Fact("float", "log10 of the ratio between the largest and smallest numeric std"),
    "rows_per_input": Fact("float", "n_rows / input_width"),
    "suspected_leaks": Fact("int", "features that alone predict the target almost perfectly"),
    "n_datetime": Fact("int", "date/time features kept (encoded as date features inside the model)"),
    "n_text": Fact("int", "free-text and near-unique string features kept (hashed token features)"),
    "n_skewed": Fact("int", "numeric features whose |skewness| is above 1"),
    # the target
    "n_targets": Fact("int", "number of target columns"),
    "n_classes": Fact("int", "classes (0 for regression)"),
    "imbalance_ratio": Fact("float", "largest class count / smallest class count (1 for regression)"),
    "minority_fraction": Fact("float", "smallest class share (1 for regression)"),
    "target_min": Fact("float", "smallest target value (0 for classification)"),
    "target_max": Fact("float", "largest target value (0 for classification)"),
    "target_positive": Fact("bool", "every regression target is > 0"),
    "target_in_unit_interval": Fact("bool", "every regression target lies in [0, 1]"),
    "target_symmetric_bounded": Fact("bool", "regression target lies in [-1, 1] and takes negative values"),
    "target_outlier_fraction": Fact("float", "share of regression targets beyond 3 IQR of the quartiles"),
    "target_skew": Fact("float", "largest sample skewness of the regression targets (0 for classification)"),
    # images (0 / false for tabular data)
    "image_height": Fact("int", "image height in pixels (0 for tabular)"),
    "image_width": Fact("int", "image width in pixels (0 for tabular)"),
    "image_channels": Fact("int", "image channels (0 for tabular)"),
    "image_sizes_vary": Fact("bool", "the image files had different sizes (the loader resized them to one)"),
    "backbone": Fact("bool", "local pretrained weights were given for transfer learning (--backbone)"),
    # what the user asked for
    "goal": Fact("str", "balanced, accuracy or latency"),
    "metric": Fact("str", "the metric asked for with --metric ('' when none: the task's default)"),
    "sparse": Fact("bool", "a sparse model (L1) was asked for"),
    "uncertainty": Fact("bool", "predictive uncertainty (MC dropout) was asked for"),
    "cpu_count": Fact("int", "CPU cores on this machine"),
}
