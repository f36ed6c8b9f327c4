"""Old module paths kept working for one release after the move to stage subpackages (autoann 0.2).

Each old module is a two-line file calling :func:`alias`: importing it warns
once with a :class:`FutureWarning` naming the new path, and hands back the
new module itself, so ``from autoann.predictor import SchemaWarning`` keeps
working. The aliases go in autoann 0.3.
"""

from __future__ import annotations

import importlib
import sys
import warnings

#: old module -> the module that replaced it
MOVED = {
    "autoann.preprocessing": "autoann.layers",
    "autoann.predictor": "autoann.predict",
    "autoann.trainer": "autoann.search",
    "autoann.rulebase": "autoann.rules",
}


def alias(old: str) -> None:
    """Replace the module being imported as ``old`` by its new home, with a FutureWarning."""
    new = MOVED[old]
    warnings.warn(f"{old} has moved to {new}; import {new} instead ({old} goes in autoann 0.3).",
                  FutureWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
