"""Small helpers shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

#: The smallest search the estimators' ordinary parameters allow (docs/estimators.md, "Tiny searches for
#: tests"): one trial of at most 10 epochs at a pinned learning rate, under a budget that never binds.
#: scikit-learn's contract checks use it as is: with the default 1cycle schedule, check_regressors_train
#: reaches its R^2 > 0.5 in those 10 epochs (a constant rate does not). tests/test_estimators.py adds a
#: seed and a constant schedule (TINY_SEEDED).
TINY = dict(time_budget=300, max_trials=1, max_epochs=10, pins={"learning_rate": 0.01, "dropout": 0.0})
TINY_SEEDED = dict(TINY, pins={**TINY["pins"], "schedule": "constant"}, random_state=0)


def err(result) -> str:
    """A CliRunner result's stderr on one line, with rich's line wrapping undone."""
    return " ".join(result.stderr.split())
