"""Door 2: scikit-learn estimators, :class:`AutoANNClassifier` and :class:`AutoANNRegressor`.

``fit`` runs the same :func:`autoann.search.fit_run` as ``autoann train``; the
fitted model is one Keras model on the raw columns, so DataFrames with
strings and NaN need no preprocessing pipeline in front.
"""

from autoann.estimators._estimators import AutoANNClassifier, AutoANNRegressor, NotFittedError

__all__ = ["AutoANNClassifier", "AutoANNRegressor", "NotFittedError"]
