"""scikit-learn's own contract tests for both estimators (parametrize_with_checks).

The estimators are built with the tiny search ``tests/_helpers.TINY``: ``max_trials=1`` and
``max_epochs=10`` end each ``fit`` after one short trial, the ``tiny_search``
fixture's search options (no calibration, no refit) skip the calibration
run and the refit, and the generous ``time_budget`` never binds, so a fit
with a fixed ``random_state`` is reproducible (``check_fit_idempotent``,
``check_supervised_y_2d``). Both are documented in docs/estimators.md ("Tiny
searches for tests"); no check is special-cased.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from _helpers import TINY
from autoann.estimators._estimators import AutoANNClassifier, AutoANNRegressor

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("tiny_search")]


@parametrize_with_checks(
    [AutoANNClassifier(**TINY), AutoANNRegressor(**TINY)],
    expected_failed_checks=lambda estimator: estimator.expected_failed_checks(),
)
def test_sklearn_contract(estimator, check):
    check(estimator)
