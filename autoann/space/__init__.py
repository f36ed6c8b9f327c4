"""The search contract: every hyperparameter autoann knows, and the :class:`SearchSpace` built from them.

``KNOWN`` declares each name's type, allowed values, default, the data it
applies to and whether it may only be fixed; rule files, space files,
``--set`` and the estimators' ``pins`` are all checked against it, and the
model builder and the parameter-count guard read defaults only through
:func:`value` / :func:`default_of`. ``FAMILIES`` bundles activation,
initializer, dropout kind and batch norm so a search picks a family, never
the parts one by one.
"""

from autoann.space._space import Hyperparameter, SearchSpace, normalized, parse_assignment
from autoann.space._vocabulary import (
    FAMILIES,
    KNOWN,
    Declared,
    default_of,
    typed_values,
    unknown_name,
    value,
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
    "default_of",
    "layer_widths",
    "normalized",
    "parse_assignment",
    "typed_values",
    "unknown_name",
    "value",
    "value_problem",
]
