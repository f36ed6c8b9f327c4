"""autoann's exceptions.

One root, :class:`AutoANNError`. Errors a user can fix also subclass the
builtin that fits (``ValueError``), as Keras Tuner's ``FatalValueError`` and
scikit-learn's ``InvalidParameterError`` do, so callers who catch builtins keep
working. The CLI prints any ``AutoANNError`` without a traceback and exits 2. (The
estimators' ``NotFittedError`` lives with them, so this module never imports
scikit-learn.) A diverged trial is not an autoann error: the search raises Keras Tuner's
``FailedTrialError``, which the tuner records as a failed trial before going on.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class AutoANNError(Exception):
    """Root of every error autoann raises on purpose."""


class DataError(AutoANNError, ValueError):
    """The data cannot be used as given (missing file, bad target, ...)."""


class RuleFileError(AutoANNError, ValueError):
    """A rule file is malformed: the message names the file, rule id and key."""


class SpaceError(AutoANNError, ValueError):
    """A search space is malformed or names unknown hyperparameters."""


class ParameterError(AutoANNError, ValueError):
    """An option or estimator parameter has a value outside its constraints."""


class BudgetError(AutoANNError, ValueError):
    """The time budget is too small to train even one candidate."""


class SchemaError(AutoANNError, ValueError):
    """Rows given to a trained model do not match the schema it was trained on."""


class ExportError(AutoANNError, OSError):
    """A run directory could not be written or read."""


class MissingDependencyError(AutoANNError, ImportError):
    """An optional feature needs a package that is not installed: the message names the extra to install."""


def did_you_mean(name: object, options: Iterable[object], *, also: Iterable[str] = ()) -> str:
    """`` (did you mean 'x', 'y'?)`` naming the options closest to ``name`` (and ``also``), or ``''``.

    The one way every message that refuses an unknown name suggests the known one.
    """
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=3, cutoff=0.6)
    close += [a for a in also if a not in close]
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
