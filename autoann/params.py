"""Parameter constraints shared by ``train``, the CLI and the estimators.

One table says what each search knob accepts; :func:`validate_params` checks
it and reports every problem at once in scikit-learn's words ("The
'time_budget' parameter of train must be ... Got -5 instead."). Tests generate
their bad-input cases from the same table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from autoann.errors import BudgetError, ParameterError


@dataclass(frozen=True)
class Interval:
    kind: type  # int or float
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"
    allow_none: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not float(value).is_integer():
            return False
        if not math.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        what = "an int" if self.kind is int else "a float"
        return f"{what} in the range {left}{lo}, {hi}{right}" + (" or None" if self.allow_none else "")

    def invalid_example(self) -> Any:
        return -1 if self.low is not None and self.low >= 0 else "not-a-number"


@dataclass(frozen=True)
class OneOf:
    options: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return value in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def invalid_example(self) -> Any:
        return "no-such-option"


@dataclass(frozen=True)
class Duration:
    """Seconds as a positive number, or text such as '90s', '5m', '1h30m'."""

    def accepts(self, value: Any) -> bool:
        try:
            parse_duration(value)
        except BudgetError:
            return False
        return True

    def describe(self) -> str:
        return "a positive duration in seconds (e.g. 90) or text such as '90s', '5m', '1h30m'"

    def invalid_example(self) -> Any:
        return -5


#: What the recommended space favours (``--goal``; G-DEF-3).
GOALS = ("balanced", "accuracy", "latency")
#: what ``--metric`` / ``metric=`` may name (None: the task's default); which apply to which task:
#: :data:`autoann.metrics.SEARCH_METRICS`
METRICS = (None, "accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "r2", "rmse", "mae")
#: the largest Hyperband max_epochs (--max-epochs, --set max_epochs, a space file): far beyond any useful
#: search, and it keeps the budget plan's arithmetic small
MAX_EPOCHS = 10_000

CONSTRAINTS: dict[str, Any] = {
    "time_budget": Duration(),
    "max_trials": Interval(int, 1, None, allow_none=True),
    "max_epochs": Interval(int, 1, MAX_EPOCHS, allow_none=True),
    "seed": Interval(int, 0, 2**32 - 1),
    "test_size": Interval(float, 0.0, 0.9, closed="left"),
    "validation_size": Interval(float, 0.0, 0.9, closed="neither"),
    "goal": OneOf(GOALS),
    "metric": OneOf(METRICS),
    "verbose": Interval(int, 0, 2),
    "workers": Interval(int, 0, None, allow_none=True),
    "threads": Interval(int, 1, None, allow_none=True),
    "recycle_after": Interval(int, 0, None),
    "recycle_growth": Interval(float, 0.0, None),
}


def validate_params(owner: str, params: dict[str, Any]) -> None:
    """Raise one :class:`ParameterError` listing every value outside its constraint."""
    problems = []
    for name, value in params.items():
        constraint = CONSTRAINTS.get(name)
        if constraint is not None and not constraint.accepts(value):
            problems.append(f"The {name!r} parameter of {owner} must be {constraint.describe()}. Got {value!r} instead.")
    if problems:
        raise ParameterError("\n".join(problems))


def parse_duration(text: str | float | int) -> float:
    """Parse ``90``, ``"90s"``, ``"5m"``, ``"1h30m"`` into seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", s)
        if not s or parts is None or not any(parts.groups()):
            raise BudgetError(
                f"Cannot read the time budget {text!r}: use seconds (90), or 90s, 5m, 1h30m."
            )
        h, m, sec = (float(g) if g else 0.0 for g in parts.groups())
        seconds = h * 3600 + m * 60 + sec
    if not (seconds > 0 and math.isfinite(seconds)):
        raise BudgetError(f"The time budget must be a positive duration; got {text!r}.")
    return seconds
