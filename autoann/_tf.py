"""Import TensorFlow and Keras without the C++ start-up chatter: for the CLI only.

The CLI calls :func:`import_quietly` before it calls the library. Library
callers (``fit_run``, the estimators, ``autoann.load``) import TensorFlow
plainly: redirecting a process's file descriptor 2 and changing its log
levels is not a library's business (a fit only quiets the ``tensorflow``
logger while it runs: :mod:`autoann.search._isolation`).

TensorFlow 2.20+ logs "oneDNN custom operations are on" and "Could not find
cuda drivers" from C++ before absl logging is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; they would open every
``autoann train`` and ``predict``. The only way is to point file descriptor 2
elsewhere while the import runs. ``TF_CPP_MIN_LOG_LEVEL=3`` (unless the user
set it) then hides the later C++ lines, such as the failed ``cuInit`` of a
machine without a GPU; TensorFlow's real errors still arrive as Python
exceptions. TensorFlow's Python "triggered tf.function retracing" warnings
are silenced too: autoann builds a new model per trial by design, so every
search would print them. ``AUTOANN_DEBUG=1`` keeps everything. Python errors raised by the import are
shown as usual: the descriptor is restored before they propagate.
"""

from __future__ import annotations

import logging
import os
import sys


def import_quietly() -> None:
    """Import ``tensorflow`` and ``keras`` once, with the C++ log lines of the import discarded."""
    if os.environ.get("AUTOANN_DEBUG"):
        return
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
