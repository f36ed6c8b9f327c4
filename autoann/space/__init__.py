"""The search contract: every hyperparameter autoann knows, and the :class:`SearchSpace` built from them.

``KNOWN`` declares each name's type, allowed values and default; rule files,
space files, ``--set`` and the estimators' ``pins`` are all checked against it.
``FAMILIES`` bundles activation, initializer, dropout kind and batch norm so a
search picks a family, never the parts one by one.
"""

from autoann.space._space import (
    FAMILIES,
    KNOWN,
    Declared,
    Hyperparameter,
    SearchSpace,
    parse_assignment,
    typed_values,
    value_problem,
)
from autoann.space._widths import count_dense_params, layer_widths

__all__ = [
    "FAMILIES",
    "KNOWN",
    "Declared",
    "Hyperparameter",
    "SearchSpace",
    "count_dense_params",
    "layer_widths",
    "parse_assignment",
    "typed_values",
    "value_problem",
]
