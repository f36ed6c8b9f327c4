"""Small helpers shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

#: The smallest search the estimators' ordinary parameters allow (docs/estimators.md, "Tiny searches for
#: tests"): one trial of at most 10 epochs at a constant, pinned learning rate, under a budget that never
#: binds, so a fit with this random_state is reproducible. Shared by the estimator tests and
#: scikit-learn's contract checks, so both exercise the same search.
TINY = dict(time_budget=300, max_trials=1, max_epochs=10,
            pins={"learning_rate": 0.01, "dropout": 0.0, "schedule": "constant"}, random_state=0)


def err(result) -> str:
    """A CliRunner result's stderr on one line, with rich's line wrapping undone."""
    return " ".join(result.stderr.split())
