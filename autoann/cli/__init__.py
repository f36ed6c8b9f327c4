"""Door 1: the ``autoann`` command (Typer), a thin layer over the stages' library functions.

Errors autoann raises on purpose are printed without a traceback and exit 2;
Ctrl-C exits 130 and SIGTERM 143 when nothing could be exported. TensorFlow is
imported only by the commands that train or predict, after their inputs are
checked (``_early``).
"""

from autoann.cli._app import app, main

__all__ = ["app", "main"]
