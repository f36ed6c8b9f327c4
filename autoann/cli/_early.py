"""What every command does before its heavy imports: check the paths it was given; and how a stop signal ends it.

A missing file, a run directory that is not one, an output that exists or
cannot be created: each is refused here in milliseconds, before TensorFlow's
seconds-long import (``tests/test_bad_inputs.py`` checks that no bad input
imports it). The checks are the library's own (``check_output``,
``check_run_dir``, ``check_run_output``), called early, so the messages are
the same as when the library is used directly.

SIGTERM (``kill``, a container or job scheduler stopping the process) is
handled as Ctrl-C is: it raises :class:`KeyboardInterrupt` in the main thread,
so a search exports what it found and keeps its state for ``--resume``.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator, Sequence

from autoann.errors import DataError

#: exit codes of a command stopped by a signal before it could finish: 128 + the signal number, as shells report
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def require_data(path: Path) -> None:
    """The data path exists (a file, or an image folder)."""
    if not path.exists():
        from autoann._io import not_found

        raise DataError(not_found(path))


def require_files(paths: Sequence[Path], what: str, option: str) -> None:
    """Every file an option names (``--rules``, ``--space``) exists and is a file."""
    for path in paths:
        if not path.is_file():
            problem = "is a folder" if path.is_dir() else "does not exist"
            raise DataError(f"{option} {path}: the {what} {problem}. Pass the path of a {what}.")


def require_backbone(path: Path | None) -> None:
    """A ``--backbone`` is a .keras file (a zip archive): what can be told without importing Keras."""
    if path is not None:
        from autoann._io import check_keras_file

        check_keras_file(path, "backbone file", "Save one with model.save('backbone.keras').", DataError)


def require_run_dirs(paths: Sequence[Path]) -> None:
    """Each path holds a run (model.keras and metadata.json)."""
    from autoann.fitted_run import check_run_dir

    for path in paths:
        check_run_dir(path)


def require_output(path: Path | None, overwrite: bool) -> None:
    """An ``-o`` file that may be written: absent (or ``--overwrite``) and in a writable folder."""
    if path is not None:
        from autoann._io import check_output

        check_output(path, overwrite)


class Stopped:
    """Which signal stopped the command: Ctrl-C unless the SIGTERM handler saw one."""

    def __init__(self) -> None:
        self.by_sigterm = False

    def take(self) -> tuple[str, int]:
        """What to print and the exit code for the stop just caught; forgets it (one process, many commands)."""
        by_sigterm, self.by_sigterm = self.by_sigterm, False
        return ("stopped (SIGTERM)", EXIT_SIGTERM) if by_sigterm else ("interrupted", EXIT_SIGINT)


STOPPED = Stopped()


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt (as Ctrl-C does); the previous handler comes back after."""

    def handler(signum: int, frame: object) -> None:
        STOPPED.by_sigterm = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here, leave them alone
        yield
        return
    STOPPED.by_sigterm = False
    try:
        yield
        STOPPED.by_sigterm = False  # a SIGTERM the search absorbed (it exported what it found) is over
    finally:
        signal.signal(signal.SIGTERM, previous)
