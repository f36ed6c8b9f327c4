"""A worker of a search (``autoann worker RUN_DIR``): asks the chief for trials and runs them.

The chief (:mod:`autoann.search._workers`) starts one per core on its own
machine; on another machine that sees the same run directory (a shared
filesystem), the same command joins the search with ``--connect HOST:PORT``.
A worker reads what it trains on from the run directory, connects to the
chief's oracle as a Keras Tuner worker, and runs trials until the oracle says
stop. It leaves when the chief is gone, and, once it has run its share of
trials or its memory has grown by a limit, starts itself afresh (the same
command, a new process image: TensorFlow's per-trial leak is given back).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from autoann.errors import AutoANNError
from autoann.search._workers import CHIEF_FILE, ENDED, WORKER_INPUTS, parse_address, read_worker_inputs

#: how long a worker waits before asking again for a trial when the oracle has none to give yet
IDLE_SECONDS = 0.2
#: how long a call to the chief may wait for an answer before the worker decides the chief is gone
CALL_TIMEOUT_SECONDS = 60.0
#: a worker does not start afresh when less than this remains before the search's hard deadline: its new
#: start (a TensorFlow import, ~5 s of a core) would cost trials, and the search's end gives its memory back
KEEP_LAST_SECONDS = 60.0


class Recycle(Exception):
    """A worker has run its share of trials (or grown past its memory limit) and leaves for a fresh one."""


def recycle_reason(trials_run: int, first_mb: float | None, last_mb: float | None, seconds_left: float, *,
                   after: int, growth_mb: float) -> str | None:
    """Why a worker should start afresh now, or None: ``after`` trials run, or its memory grew by ``growth_mb``
    since its first trial (either 0: never), while more than :data:`KEEP_LAST_SECONDS` of the search remain."""
    if seconds_left < KEEP_LAST_SECONDS:
        return None
    if after and trials_run >= after:
        return f"ran {trials_run} trials"
    if growth_mb and first_mb is not None and last_mb is not None and last_mb - first_mb >= growth_mb:
        return f"grew from {first_mb:.0f} to {last_mb:.0f} MB"
    return None


class WorkerError(AutoANNError):
    """The worker cannot join the search (nothing to join, the chief unreachable)."""


def _wait_for(path: Path, give_up: float, parent: int | None) -> bool:
    """Wait until the chief has written ``path`` (or give up at ``give_up``, or when the chief is gone).

    False when the search's folder itself is gone: the search ended and its run folder was moved.
    """
    while not path.exists():
        if not path.parent.is_dir():
            return False
        if time.monotonic() > give_up or (parent is not None and os.getppid() != parent):
            raise WorkerError(f"No search is serving workers in {path.parent} (no {path.name} there): start "
                              "`autoann train ... --workers N` first, and give this command the folder it prints.")
        time.sleep(0.2)
    return True


def _chief_says(workdir: Path) -> dict[str, Any]:
    """What the chief file holds now (empty if there is none yet, or it is gone)."""
    try:
        return json.loads((workdir / CHIEF_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _ended(tuner_id: str, trials: int) -> str:
    return f"worker {tuner_id}: the search has ended; {trials} trials run"


def _leave_with(parent: int) -> None:
    """End this process when the process that started it is gone (a chief killed without cleaning up)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="autoann-parent-watch").start()


def _pause_when_idle(client: Any) -> None:
    """Wait a moment before asking again when the oracle has no trial to give yet (Keras Tuner's worker
    asks again at once: a busy loop of calls while the other workers finish the trials it waits for)."""
    ask = client.create_trial

    def create_trial(tuner_id: str) -> Any:
        trial = ask(tuner_id)
        if trial.status == "IDLE":
            time.sleep(IDLE_SECONDS)
        return trial

    client.create_trial = create_trial


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_worker(workdir: str | Path, *, connect: str | None = None, tuner_id: str | None = None,
               threads: int | None = None, parent: int | None = None, wait_seconds: float = 600.0,
               recycle_after: int = 0, rss_growth_mb: float = 0.0, restarted: bool = False,
               quiet: bool = False) -> str:
    """Join the search served for ``workdir`` and run trials until it ends; return how it ended.

    ``recycle_after`` / ``rss_growth_mb``: leave (:class:`Recycle`) after that many trials, or once this
    process grew by that many MB since its first trial (0: never). ``restarted``: this process started afresh
    after running trials of this search, so a run folder gone since means the search ended, not a wrong
    folder. ``quiet``: import TensorFlow without its log lines (the command line's choice; it sets
    TensorFlow's logger).

    Raises :class:`Recycle` when the worker should start afresh (the CLI does,
    with the same command) and :class:`WorkerError` when it cannot join.
    """
    workdir = Path(workdir).resolve()
    tuner_id = tuner_id or f"{socket.gethostname()}-{os.getpid()}"
    if not workdir.is_dir():
        if restarted:
            return _ended(tuner_id, 0)
        raise WorkerError(f"{workdir} is not a folder: give the run folder the search's chief printed.")
    if parent is not None:
        _leave_with(parent)
    give_up = math.inf if parent is not None else time.monotonic() + wait_seconds  # a local worker waits for its chief
    if not _wait_for(workdir / WORKER_INPUTS, give_up, parent) or _chief_says(workdir).get("ended"):
        return _ended(tuner_id, 0)
    try:
        if quiet:
            from autoann import _tf

            _tf.import_quietly()
        import grpc
        import tensorflow as tf
    except ImportError as exc:
        raise WorkerError(f"TensorFlow cannot be imported on this machine ({exc}): install autoann with its "
                          "dependencies here (pip install autoann), in the Python the worker runs with.") from None
    inputs = read_worker_inputs(workdir)  # unpickling the preprocessing imports Keras
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from autoann.search._hyperparameters import objective
    from autoann.search._hypermodel import AutoANNHyperModel
    from autoann.search._isolation import kept_global_state
    from autoann.search._kt import connect_as_worker, quiet_conditions
    from autoann.search._oracle import BudgetedOracle
    from autoann.search._tuner import PROJECT, BudgetedHyperband

    space = inputs["space"]
    hypermodel = AutoANNHyperModel(space, inputs["prep"], inputs["data"], seed=inputs["seed"])
    chief = _chief_says(workdir) if _wait_for(workdir / CHIEF_FILE, give_up, parent) else ENDED
    if chief.get("ended"):  # the search ended while this worker started (e.g. afresh, after its share of trials)
        return _ended(tuner_id, 0)
    host, port = parse_address(connect) if connect else (chief["host"], int(chief["port"]))
    hypermodel.deadline = time.monotonic() + (chief["hard_deadline_unix"] - time.time())
    with kept_global_state(), quiet_conditions(), _environment(connect_as_worker(tuner_id, host, port,
                                                                                 CALL_TIMEOUT_SECONDS)):
        oracle = BudgetedOracle(objective=objective(space), max_epochs=int(space.largest("max_epochs")))
        tuner = BudgetedHyperband(hypermodel, oracle, worker=tuner_id, recycle_after=recycle_after,
                                  rss_growth_mb=rss_growth_mb, directory=str(workdir), project_name=PROJECT,
                                  overwrite=False)
        _pause_when_idle(tuner.oracle)
        try:
            tuner.search(verbose=0)
        except grpc.RpcError as exc:
            if not tuner.trials_run and "port" in _chief_says(workdir):  # the chief still says it serves
                raise WorkerError(f"Could not reach the search's chief at {host}:{port} ({exc.code().name}): check "
                                  "the address (the chief prints it) and that this machine may connect to it.") from None
            return f"worker {tuner_id}: the chief at {host}:{port} is gone; {tuner.trials_run} trials run"
    return _ended(tuner_id, tuner.trials_run)
