"""The chief of a search with worker processes (Keras Tuner's distributed mode).

Small networks do not spread over cores inside TensorFlow, so a search in one
process leaves every core but one idle. With ``workers`` > 1 the search's own
process becomes the chief: it serves its :class:`~autoann.search._oracle.BudgetedOracle`
over Keras Tuner's gRPC protocol and starts ``workers`` processes on this
machine (``autoann worker``, one TensorFlow thread pool each, sized to share the
cores), which ask it for trials, train them and write their checkpoints into
the run directory. Workers on other machines join with the command the chief
prints, given the same run directory (a shared filesystem). The oracle decides
when the budget is spent; the chief replaces a worker that died (its running
trial is recorded as failed, with the reason), stops every worker when the
search ends or on Ctrl-C, and never leaves one behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import joblib

from autoann.errors import AutoANNError

if TYPE_CHECKING:
    from autoann.search._fit import TrainingData
    from autoann.search._preprocessing import Preprocessing
    from autoann.space import SearchSpace

#: what a worker loads to build the trials' networks: the space, the preprocessing, the cached arrays, the seed
WORKER_INPUTS = "worker_inputs.joblib"
#: where the chief says it listens (and until when trials may run) while it serves; absent before
CHIEF_FILE = "chief.json"
#: what the chief file says once the search no longer serves: a worker that starts (or starts afresh) then leaves
ENDED = {"ended": True}
#: how long the chief waits past the hard deadline for a trial a worker is still reporting
GRACE_SECONDS = 10.0
#: how long the chief waits for a worker asked to end before it kills it
LEAVE_SECONDS = 5.0
POLL_SECONDS = 0.1
#: what the chief binds to unless told otherwise: this machine only (the gRPC channel is unauthenticated)
LOOPBACK = "127.0.0.1"


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def parse_address(text: str, *, default_port: int = 0) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``:PORT`` -> (host, port); a clear error otherwise."""
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    host = host or LOOPBACK
    try:
        number = int(port) if port else default_port
    except ValueError:
        number = -1
    if not 0 <= number <= 65535 or not host:
        raise AutoANNError(f"{text!r} is not an address: give HOST or HOST:PORT, e.g. 127.0.0.1:7000 "
                           "(port 0 or none: any free port)")
    return host, number


def write_worker_inputs(workdir: Path, space: SearchSpace, prep: Preprocessing, data: TrainingData,
                        seed: int) -> None:
    """What every worker loads, written once before any starts (atomically: a worker never reads half a file).

    A resumed search's folder still holds the chief file of the search before, which said it ended.
    """
    (workdir / CHIEF_FILE).unlink(missing_ok=True)
    part = workdir / (WORKER_INPUTS + ".part")
    joblib.dump({"space": space, "prep": prep, "data": replace(data, _cache={}), "seed": seed}, part)
    part.replace(workdir / WORKER_INPUTS)


def read_worker_inputs(workdir: Path) -> dict[str, Any]:
    return joblib.load(workdir / WORKER_INPUTS)


def exit_reason(code: int) -> str:
    """A worker process's end, in words."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class LocalWorker:
    tuner_id: str
    process: subprocess.Popen
    log: Path

    def last_words(self) -> str:
        """The worker's error message (the command line wraps it over lines), else its last line."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        error = text.rfind("error:")
        if error >= 0:
            return " ".join(text[error:].split())
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Chief:
    """Runs ``workers`` local worker processes, serves them the oracle, and ends them (see the module doc).

    Entering starts the workers (they load the inputs and import TensorFlow while the chief trains the
    default network); :meth:`serve` serves the oracle until the search ends; leaving stops every worker.
    """

    def __init__(self, workdir: Path, *, workers: int, listen: str = LOOPBACK, threads: int | None = None,
                 recycle: tuple[int, float] = (0, 0.0), announce: Callable[[str], None] | None = None):
        self.workdir = workdir
        self.recycle = recycle
        self.workers = workers
        self.host, self.port = parse_address(listen)
        self.threads = threads or max(default_workers() // max(workers, 1), 1)
        self.announce = announce
        self.oracle: Any = None
        self.local: list[LocalWorker] = []
        self.started_count = 0
        self.start_failures: list[str] = []
        self.lost: list[str] = []

    def __enter__(self) -> "Chief":
        if self.port:
            self._check_port_free()
        for _ in range(self.workers):
            self._start_worker()
        return self

    def __exit__(self, *exc: Any) -> None:
        """Every worker ends (a trial still running stays in the oracle's state and runs again on --resume)."""
        self._write_chief_file(ENDED)
        self._signal_workers()
        for worker in self.local:
            try:
                worker.process.wait(timeout=LEAVE_SECONDS)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    def _check_port_free(self) -> None:
        """Refuse a taken ``--listen`` port before any training, not after the default network."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise AutoANNError(f"The search cannot serve its workers on {self.host}:{self.port} ({exc.strerror}): "
                                   "choose another port with --listen HOST:PORT (port 0: any free port), or run with "
                                   "--workers 1.") from None

    # -- serving -----------------------------------------------------------------------------------------
    def serve(self, tuner: Any, hard_deadline: float) -> list[str]:
        """Serve ``tuner``'s oracle until it has stopped every trial; return notes on what the workers did.

        ``hard_deadline`` (``time.monotonic()``) is when trials are cut; the chief gives up on a trial not
        reported :data:`GRACE_SECONDS` after it. If no worker could start, the search runs in this process
        instead (a note says why).
        """
        from autoann.search._kt import OracleServer, quiet_conditions

        self.oracle = tuner.oracle
        self.oracle.report_running = True
        tuner.save()  # the chief's tuner file: what --resume reloads the oracle from
        try:
            server = OracleServer(self.oracle, self.host, self.port)
        except OSError as exc:
            raise AutoANNError(f"The search cannot serve its workers: {exc}. Choose another address with "
                               "--listen HOST:PORT (port 0: any free port), or run with --workers 1.") from None
        self.port = server.port
        try:
            self._write_chief_file({"host": self.host, "port": self.port, "pid": os.getpid(),
                                    "hard_deadline_unix": time.time() + (hard_deadline - time.monotonic())})
            if self.announce is not None:
                self.announce(self.describe())
            with quiet_conditions():
                self._serve(hard_deadline)
        finally:  # no trial runs any more (or Ctrl-C, an error): the workers end now, not after the export
            self._signal_workers()
            self._write_chief_file(ENDED)
            server.stop()
        if self.start_failures and not self.oracle.rows:
            tuner.search(verbose=0)  # no worker could start: this process runs the trials
            return [f"no worker process could start ({self.start_failures[0]}); the search ran in one process"]
        return self._notes()

    def describe(self) -> str:
        where = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        here = (f"{self.workers} worker processes on this machine ({self.threads} TensorFlow thread(s) each)"
                if self.workers else "No worker process on this machine: the trials run in the workers that join")
        line = (f"{here}. To add a worker on a machine that sees this folder: autoann worker {self.workdir} "
                f"--connect {where}:{self.port}")
        if self.host == LOOPBACK:
            line += " (this search listens on 127.0.0.1 only: start it with --listen 0.0.0.0 to accept others)"
        return line

    def _serve(self, hard_deadline: float) -> None:
        while True:
            self._reap()
            if self.oracle.done() and not self.oracle.running():
                return
            if time.monotonic() > hard_deadline + GRACE_SECONDS:
                for tuner_id in self.oracle.running():
                    self.oracle.fail_running(tuner_id, f"worker {tuner_id} did not report the trial by the deadline")
                return
            if self.start_failures and not self.local and not self.oracle.running() and not self.oracle.rows:
                return  # no worker could start: serve() falls back to this process
            time.sleep(POLL_SECONDS)

    def _reap(self) -> None:
        """Record the trial of a worker that died as failed, and replace it while trials remain."""
        for worker in list(self.local):
            code = worker.process.poll()
            if code is None:
                continue
            self.local.remove(worker)
            reason = exit_reason(code)
            connected = worker.tuner_id in self.oracle.seen_tuners
            if worker.tuner_id in self.oracle.running():
                self.oracle.fail_running(worker.tuner_id, f"worker {worker.tuner_id} {reason} during this trial")
                self.lost.append(f"worker {worker.tuner_id} {reason} during a trial")
            else:
                self.oracle.forget_tuner(worker.tuner_id)
            if not connected and not self.oracle.stopped:
                words = worker.last_words()
                self.start_failures.append(f"worker {worker.tuner_id} {reason}" + (f": {words}" if words else ""))
            elif not self.oracle.done():
                self._start_worker()

    # -- worker processes ---------------------------------------------------------------------------------
    def _start_worker(self) -> None:
        self.started_count += 1
        tuner_id = f"local{self.started_count}"
        logs = self.workdir / "workers"
        logs.mkdir(exist_ok=True)
        log = logs / f"{tuner_id}.log"
        command = [sys.executable, "-m", "autoann", "worker", str(self.workdir), "--id", tuner_id,
                   "--threads", str(self.threads), "--parent", str(os.getpid()),
                   "--recycle-after", str(self.recycle[0]), "--recycle-growth", str(self.recycle[1])]
        with open(log, "ab") as out:
            # A session of its own: Ctrl-C in the terminal reaches the chief, which stops the workers itself.
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.local.append(LocalWorker(tuner_id, process, log))

    def _signal_workers(self) -> None:
        """Ask every local worker still running to end (SIGTERM); no trial is running once the oracle stopped."""
        for worker in self.local:
            if worker.process.poll() is None:
                worker.process.terminate()

    def _write_chief_file(self, info: dict[str, Any]) -> None:
        part = self.workdir / (CHIEF_FILE + ".part")
        part.write_text(json.dumps(info))
        part.replace(self.workdir / CHIEF_FILE)

    def _notes(self) -> list[str]:
        joined = sorted(self.oracle.seen_tuners - {w for w in self.oracle.seen_tuners if w.startswith("local")})
        notes = [f"trials ran in worker processes: {self.started_count} started here for {self.workers} slot(s)"
                 + (f", and {len(joined)} that joined ({', '.join(joined)})" if joined else "")]
        if self.lost:
            notes.append("; ".join(self.lost) + ": each such trial is recorded as failed and the worker was replaced")
        if self.start_failures:
            notes.append("; ".join(self.start_failures))
        return notes
