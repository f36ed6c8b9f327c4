"""Profile a dataset: what each column is, what will be dropped and why, and the facts the rules test.

:func:`profile_dataset` turns a :class:`~autoann.data.Dataset` into a
:class:`Profile`, a JSON-serializable description whose :meth:`Profile.facts`
are exactly the facts declared in :mod:`autoann.profiling._facts`. Column kinds are
decided by the heuristics of :mod:`autoann.profiling._columns`. Cheap statistics
(missing share, distinct values, ranges) use every row; the expensive checks
(date parsing, word counts, leak detection) look at a fixed random sample of
:data:`SAMPLE_ROWS` rows, so a 100k-row file profiles in about a second.
Nothing here imports scikit-learn or TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autoann import __version__
from autoann._io import write_text_atomic
from autoann.data import CLASSIFICATION, Dataset, as_dataset
from autoann.errors import DataError
from autoann.params import validate_params
from autoann.profiling._columns import (
    ONEHOT_MAX_CARDINALITY,
    TOP_LEVELS,
    ColumnProfile,
    is_skewed,
    profile_column,
    skewness,
)
from autoann.profiling._facts import FACTS
from autoann.profiling._leaks import LEAK_WARNING, leak_warning
from autoann.schema import IMAGE_INPUT

SAMPLE_ROWS = 20_000  # rows looked at by the expensive heuristics
SKIPPED_SHOWN = 20  # skipped image files listed by name in the profile


@dataclass
class TargetProfile:
    """The target: classes and balance for classification, range and shape for regression."""

    names: list[str]
    task: str
    task_reason: str
    n_classes: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    imbalance_ratio: float = 1.0
    minority_fraction: float = 1.0
    min: float = 0.0
    max: float = 0.0
    positive: bool = False
    in_unit_interval: bool = False
    symmetric_bounded: bool = False
    outlier_fraction: float = 0.0
    skew: float = 0.0  # regression: the largest sample skewness of the target columns (AA-FEAT-SKEW)


@dataclass
class ImageProfile:
    """Image data: the stored size every image has now, pixel type and range, and what loading changed."""

    height: int
    width: int
    channels: int
    dtype: str
    pixel_min: float
    pixel_max: float
    pixel_mean: float
    sizes_vary: bool  # the files had different sizes (they were resized to height x width)
    original_sizes: dict[str, int] = field(default_factory=dict)  # "HxW" -> images, the 10 most common
    modes: dict[str, int] = field(default_factory=dict)  # colour modes of the files before conversion
    n_skipped: int = 0  # files skipped: corrupt, not images, outside a class folder
    skipped: list[list[str]] = field(default_factory=list)  # [path, reason] of the first SKIPPED_SHOWN


@dataclass
class Profile:
    """What autoann knows about a dataset before proposing a network. JSON round-trips exactly."""

    source: str
    data_kind: str
    n_rows: int  # rows with a usable target
    n_columns: int  # columns in the data, target(s) included
    columns: list[ColumnProfile]  # feature columns in file order, target excluded
    target: TargetProfile
    input_width: int  # sum of the kept columns' encoded widths (G-IN-1)
    scale_spread: float  # log10(largest / smallest std) over kept numeric columns; 0 with fewer than 2
    missing_fraction: float  # missing cells among kept features
    notes: list[str] = field(default_factory=list)
    autoann_version: str = __version__
    image: ImageProfile | None = None  # image data only

    @property
    def kept(self) -> list[ColumnProfile]:
        return [c for c in self.columns if c.kept]

    def facts(self, goal: str = "balanced", sparse: bool = False, uncertainty: bool = False,
              backbone: bool = False, metric: str = "") -> dict[str, Any]:
        """The facts the rule conditions test: exactly the keys of :data:`autoann.profiling._facts.FACTS`."""
        validate_params("Profile.facts", {"goal": goal})
        kept, t = self.kept, self.target
        categorical = [c.cardinality for c in kept if c.kind == "categorical"]
        facts: dict[str, Any] = {
            "data_kind": self.data_kind, "task": t.task, "n_rows": self.n_rows, "n_features": len(kept),
            "n_numeric": sum(c.kind in ("numeric", "boolean") for c in kept), "n_categorical": len(categorical),
            "n_dropped": len(self.columns) - len(kept), "input_width": self.input_width,
            "max_cardinality": max(categorical, default=0), "missing_fraction": self.missing_fraction,
            "has_missing": any(c.missing_fraction > 0 for c in kept), "scale_spread": self.scale_spread,
            "rows_per_input": self.n_rows / max(self.input_width, 1),
            "suspected_leaks": sum(any(w.startswith(LEAK_WARNING) for w in c.warnings) for c in kept),
            "n_datetime": sum(c.kind == "datetime" for c in kept), "n_text": sum(c.kind == "text" for c in kept),
            "n_skewed": sum(c.kind == "numeric" and is_skewed(c.skew) for c in kept), "target_skew": t.skew,
            "n_targets": len(t.names), "n_classes": t.n_classes, "imbalance_ratio": t.imbalance_ratio,
            "minority_fraction": t.minority_fraction, "target_min": t.min, "target_max": t.max,
            "target_positive": t.positive, "target_in_unit_interval": t.in_unit_interval,
            "target_symmetric_bounded": t.symmetric_bounded, "target_outlier_fraction": t.outlier_fraction,
            "image_height": self.image.height if self.image else 0,
            "image_width": self.image.width if self.image else 0,
            "image_channels": self.image.channels if self.image else 0,
            "image_sizes_vary": bool(self.image and self.image.sizes_vary), "backbone": bool(backbone),
            "goal": goal, "sparse": bool(sparse), "uncertainty": bool(uncertainty), "cpu_count": os.cpu_count() or 1,
            "metric": metric,
        }
        cast = {"int": int, "float": float, "bool": bool, "str": str}
        return {name: cast[fact.kind](facts[name]) for name, fact in FACTS.items()}

    def feature_schema(self) -> list[tuple[str, str]]:
        """(name, "numeric" | "categorical" | "text" | "datetime") for each kept feature; booleans are fed as
        category strings. Image data has one input, the stored image (see :mod:`autoann.schema`)."""
        if self.image is not None:
            i = self.image
            return [{"name": IMAGE_INPUT, "kind": "image", "shape": [i.height, i.width, i.channels], "dtype": i.dtype}]
        return [(c.name, c.kind if c.kind in ("numeric", "text", "datetime") else "categorical") for c in self.kept]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Profile":
        try:
            image = ImageProfile(**data["image"]) if data.get("image") else None
            return cls(**{**data, "columns": [ColumnProfile(**c) for c in data["columns"]],
                          "target": TargetProfile(**data["target"]), "image": image})
        except (KeyError, TypeError) as exc:
            raise DataError(f"Not an autoann profile: {exc}. "
                            f"Create one with `autoann profile DATA -t TARGET -o FILE`.") from None

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        """Write the profile as JSON (atomically: an existing file is replaced whole or not at all)."""
        write_text_atomic(Path(path), self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Profile":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read a profile from {path}: {exc}.") from None
        if not isinstance(data, dict):
            raise DataError(f"{path} does not hold a profile (a JSON object); got {type(data).__name__}.")
        return cls.from_dict(data)


def profile(data: Any, target: Any = None, *, task: str | None = None) -> Profile:
    """Profile ``data``: a :class:`~autoann.data.Dataset`, or a path, DataFrame or array with its target
    (loaded with :func:`autoann.data.load_data`)."""
    return profile_dataset(as_dataset(data, target, task=task, sample_weight=None))


def target_profile(dataset: Dataset) -> TargetProfile:
    """Class balance (classification) or range, sign, bounds and outliers (regression)."""
    t = TargetProfile(list(dataset.target_names), dataset.task, dataset.task_reason)
    y = dataset.target
    if dataset.task in CLASSIFICATION:
        counts = y.iloc[:, 0].map(str).value_counts()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        t.n_classes = len(counts)
        t.class_counts = {str(k): int(v) for k, v in counts.items()}
        t.imbalance_ratio = float(counts.max() / counts.min())
        t.minority_fraction = float(counts.min() / counts.sum())
        return t
    values = y.to_numpy("float64")
    t.min, t.max = float(values.min()), float(values.max())
    t.positive = bool(t.min > 0)
    t.in_unit_interval = bool(t.min >= 0 and t.max <= 1)
    t.symmetric_bounded = bool(t.min >= -1 and t.max <= 1 and t.min < 0)
    q1, q3 = np.quantile(values, [0.25, 0.75], axis=0)
    iqr = q3 - q1
    outside = (values < q1 - 3 * iqr) | (values > q3 + 3 * iqr)
    t.outlier_fraction = float(outside.mean())
    skews = [skewness(values[:, i]) for i in range(values.shape[1])]
    t.skew = max((s for s in skews if s is not None), default=0.0)
    return t


def _sample_positions(n: int) -> np.ndarray | None:
    if n <= SAMPLE_ROWS:
        return None
    return np.sort(np.random.default_rng(0).choice(n, SAMPLE_ROWS, replace=False))


def image_profile(images: Any) -> ImageProfile:
    """Size, channels, pixel range and loading history of an :class:`autoann.data._images.ImageSet`."""
    x = images.images
    n, height, width, channels = x.shape
    sizes = dict(sorted(images.original_sizes.items(), key=lambda kv: -kv[1])[:TOP_LEVELS])
    step = max(1, n // 2000)  # the pixel range of up to 2,000 images is plenty and fast
    sample = x[::step]
    return ImageProfile(height=height, width=width, channels=channels, dtype=str(x.dtype),
                        pixel_min=float(sample.min()), pixel_max=float(sample.max()),
                        pixel_mean=float(sample.mean(dtype="float64")),
                        sizes_vary=len(images.original_sizes) > 1, original_sizes=sizes, modes=dict(images.modes),
                        n_skipped=len(images.skipped), skipped=[list(s) for s in images.skipped[:SKIPPED_SHOWN]])


def _profile_images(dataset: Dataset) -> Profile:
    image = image_profile(dataset.images)
    notes = list(dataset.images.notes)
    if dataset.n_rows_dropped_missing_target:
        notes.append(f"{dataset.n_rows_dropped_missing_target} image(s) with a missing target were dropped.")
    return Profile(source=dataset.source, data_kind="image", n_rows=len(dataset.target), n_columns=1 + len(dataset.target_names),
                   columns=[], target=target_profile(dataset), input_width=image.height * image.width * image.channels,
                   scale_spread=0.0, missing_fraction=0.0, notes=notes, image=image)


def _feature_notes(kept: list[ColumnProfile]) -> list[str]:
    """What the model derives from date/time and text columns, in words."""
    notes = []
    dates = [c.name for c in kept if c.kind == "datetime"]
    if dates:
        notes.append(f"{len(dates)} date/time column(s) become date features inside the model (year, month, day of "
                     f"week, day of year, time of day, elapsed time): {', '.join(dates)}.")
    texts = [c.name for c in kept if c.kind == "text"]
    if texts:
        notes.append(f"{len(texts)} free-text or near-unique column(s) become hashed token features inside the model: "
                     f"{', '.join(texts)}.")
    return notes


def profile_dataset(dataset: Dataset) -> Profile:
    """Profile a loaded dataset: column kinds, drops, leaks, target shape, input width (images: size, pixels)."""
    if dataset.images is not None:
        return _profile_images(dataset)
    features = dataset.features
    n = len(features)
    rows = _sample_positions(n)
    sample = features if rows is None else features.iloc[rows]
    target_sample = dataset.target if rows is None else dataset.target.iloc[rows]
    columns = [profile_column(str(name), features[name], sample[name]) for name in features.columns]
    kept = [c for c in columns if c.kept]
    if not kept:
        why = "; ".join(f"{c.name!r}: {c.drop_reason}" for c in columns)
        raise DataError(f"No usable feature columns are left after dropping the unusable ones: {why}. "
                        f"autoann needs at least one numeric, categorical or boolean feature.")
    for c in kept:
        warning = leak_warning(sample[c.name], c.kind, target_sample, dataset.task)
        if warning:
            c.warnings.append(warning)
    stds = [c.std for c in kept if c.kind == "numeric" and c.std]
    spread = float(np.log10(max(stds) / min(stds))) if len(stds) >= 2 else 0.0
    missing = float(sum(c.missing_fraction for c in kept) / len(kept))
    notes = []
    if dataset.n_rows_dropped_missing_target:
        notes.append(f"{dataset.n_rows_dropped_missing_target} row(s) with a missing target were dropped.")
    if rows is not None:
        notes.append(f"Date, text and leak checks used a random sample of {SAMPLE_ROWS:,} of the {n:,} rows.")
    embedded = [c.name for c in kept if c.kind in ("categorical", "boolean")
                and c.cardinality + (c.missing_fraction > 0) > ONEHOT_MAX_CARDINALITY]
    if embedded:
        notes.append(f"{len(embedded)} categorical column(s) have more than {ONEHOT_MAX_CARDINALITY} levels and "
                     f"will be embedded: {', '.join(embedded)}.")
    notes += _feature_notes(kept)
    return Profile(
        source=dataset.source, data_kind="tabular", n_rows=n, n_columns=len(columns) + len(dataset.target_names),
        columns=columns, target=target_profile(dataset), input_width=sum(c.encoded_width for c in kept),
        scale_spread=spread, missing_fraction=missing, notes=notes,
    )
