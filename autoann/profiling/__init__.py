"""Stage 2, :class:`~autoann.data.Dataset` -> :class:`Profile`: what the data is, as facts rules can test.

Column kinds, missing values, cardinalities, the target and its task, what is
dropped and why (identifiers, constants, suspected leaks); for images their
sizes, channels and pixel range. ``FACTS`` declares every fact a rule
condition may read, with its type.
"""

from autoann.profiling._columns import SKEW_THRESHOLD, embedding_dim, is_skewed, skewness
from autoann.profiling._facts import FACTS
from autoann.profiling._profile import (
    ColumnProfile,
    ImageProfile,
    Profile,
    TargetProfile,
    profile,
    profile_dataset,
)

__all__ = [
    "FACTS",
    "SKEW_THRESHOLD",
    "ColumnProfile",
    "ImageProfile",
    "Profile",
    "TargetProfile",
    "embedding_dim",
    "is_skewed",
    "profile",
    "profile_dataset",
    "skewness",
]
