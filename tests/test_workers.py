"""Trials in worker processes (Keras Tuner's distributed mode): the chief's arithmetic and words, then real
searches on loopback with tiny budgets - both workers used, memory recorded per trial, workers started afresh,
a resumed search, a worker killed mid-trial, workers that cannot start, an external ``autoann worker``, Ctrl-C
on the chief, a port in use. After each, no process the test started is left (``_no_process_left``).

Speed is measured in bench/search_workers.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from autoann.errors import AutoANNError
from autoann.search import SearchOptions, default_workers, parse_address
from autoann.search._budget import plan_search
from autoann.search._worker import WorkerError, recycle_reason, run_worker
from autoann.search._workers import CHIEF_FILE, WORKER_INPUTS, exit_reason

PENGUINS = Path(__file__).resolve().parents[1] / "datasets" / "penguins.csv"
#: a tiny search: a few trials of a few epochs, ended by max_trials long before the budget
TINY = {"time_budget": "90s", "max_epochs": 4, "seed": 0}


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes that name ``text`` (a test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in line and state != "Z":
            found.append(line)
    return found


def _children() -> list[int]:
    pid = str(os.getpid())
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == pid:
                out.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return out


@pytest.fixture
def _no_process_left(tmp_path):
    """After the test, no child of the test's process and no process naming its folder is alive."""
    before = set(_children())
    yield
    give_up = time.monotonic() + 15  # processes being reaped
    while (_processes_mentioning(str(tmp_path)) or set(_children()) - before) and time.monotonic() < give_up:
        time.sleep(0.2)
    assert not _processes_mentioning(str(tmp_path)), "a worker or chief outlived the test"
    assert not set(_children()) - before, "a child process of the test outlived it"


# -- the arithmetic and the words (no TensorFlow) ---------------------------------------------------------------
def test_the_default_is_one_worker_per_core_this_process_may_use():
    assert default_workers() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("127.0.0.1", 0)), ("127.0.0.1:7000", ("127.0.0.1", 7000)), (":7000", ("127.0.0.1", 7000)),
    ("0.0.0.0:0", ("0.0.0.0", 0)), ("node-3:65535", ("node-3", 65535)),
])
def test_addresses_are_read_as_host_and_port(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["host:port", "a:b:c", "h:70000", "h:-1"])
def test_a_bad_address_says_what_an_address_looks_like(text):
    with pytest.raises(AutoANNError, match="HOST:PORT"):
        parse_address(text)


@pytest.mark.parametrize("code, words", [(-9, "was killed by SIGKILL"), (-15, "was killed by SIGTERM"),
                                         (2, "exited with code 2")])
def test_a_worker_s_end_is_told_in_words(code, words):
    assert exit_reason(code) == words


def test_workers_share_an_iteration_so_a_budget_holds_more_brackets():
    one = plan_search(60, seconds_per_epoch=0.05, seconds_per_trial=1.5, max_epochs=30, reserve_seconds=10)
    two = plan_search(60, seconds_per_epoch=0.05, seconds_per_trial=1.5, max_epochs=30, reserve_seconds=10, workers=2)
    assert two.brackets >= one.brackets and two.workers == 2
    same = plan_search(60, seconds_per_epoch=0.05, seconds_per_trial=1.5, max_epochs=30, reserve_seconds=10,
                       workers=2, factor=3)
    assert same.iteration_seconds * 2 == pytest.approx(
        same.iteration_trials * 1.5 + same.iteration_epochs * 0.05)  # the cost, divided among the workers
    assert "shared by 2 worker processes" in two.describe()


def _search_folder(tmp_path: Path, chief_says: dict | None) -> Path:
    """A search's folder as a worker finds it: inputs that are never read here, and what the chief file says."""
    folder = tmp_path / "search"
    folder.mkdir()
    (folder / WORKER_INPUTS).write_text("not read by a worker that leaves at once")
    if chief_says is not None:
        (folder / CHIEF_FILE).write_text(json.dumps(chief_says))
    return folder


@pytest.mark.parametrize("restarted", [False, True])
def test_a_worker_that_starts_after_the_search_ended_leaves_at_once(tmp_path, restarted):
    folder = _search_folder(tmp_path, {"ended": True})
    assert run_worker(folder, tuner_id="w", restarted=restarted) == "worker w: the search has ended; 0 trials run"


def test_a_worker_started_afresh_after_its_search_was_moved_away_leaves(tmp_path):
    # The end of a CLI search renames its run folder: a worker that was starting afresh finds it gone.
    assert run_worker(tmp_path / "moved", tuner_id="w", restarted=True).endswith("the search has ended; 0 trials run")
    with pytest.raises(WorkerError, match="is not a folder"):
        run_worker(tmp_path / "moved", tuner_id="w")  # a first start: the wrong folder, said as such


def test_a_worker_waiting_for_its_search_leaves_when_the_folder_goes(tmp_path):
    folder = tmp_path / "search"
    folder.mkdir()
    threading.Timer(0.5, folder.rmdir).start()
    start = time.monotonic()
    assert run_worker(folder, tuner_id="w", wait_seconds=60).endswith("the search has ended; 0 trials run")
    assert time.monotonic() - start < 60  # it did not wait out --wait


@pytest.mark.parametrize("trials, first, last, left, expected", [
    (3, 800.0, 810.0, 600.0, None),  # neither limit reached
    (40, 800.0, 810.0, 600.0, "ran 40 trials"),
    (5, 800.0, 864.0, 600.0, "grew from 800 to 864 MB"),
    (5, None, None, 600.0, None),  # no memory figure (no /proc): only the trial count counts
    (40, 800.0, 900.0, 59.0, None),  # the search's last minute: a new start would cost more than it gives back
])
def test_a_worker_starts_afresh_after_its_share_of_trials_or_growth_but_not_near_the_end(trials, first, last, left,
                                                                                          expected):
    assert recycle_reason(trials, first, last, left, after=40, growth_mb=64.0) == expected
    assert recycle_reason(trials, first, last, left, after=0, growth_mb=0.0) is None  # 0: never


# -- real searches on loopback --------------------------------------------------------------------------------------
def _fit(workdir: Path, **knobs):
    from autoann.search import fit_run

    return fit_run(str(PENGUINS), "species", workdir=workdir, **{**TINY, **knobs})


def _trials(run) -> pd.DataFrame:
    board = pd.DataFrame([row.to_json() for row in run.trials])
    return board[board.trial_id != "default"]


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_two_workers_share_the_trials_record_memory_start_afresh_and_resume(tmp_path):
    options = SearchOptions(workers=2, refit=False, recycle=(2, 0.0))
    # a budget whose last minute starts after the trials are done: workers start afresh only before it
    run = _fit(tmp_path / "search", options=options, max_trials=7, time_budget="10m")
    trials = _trials(run)
    assert len(trials) == 6 and set(trials.worker) == {"local1", "local2"}, trials[["trial_id", "worker"]]
    assert (trials.rss_mb > 0).all()  # every trial says how large its worker was when it ended
    assert (trials.status != "failed").all()
    logs = " ".join(p.read_text() for p in (tmp_path / "search" / "workers").glob("*.log"))
    assert "starting afresh" in logs  # a worker that ran 2 trials went on in a new process image
    assert any("trials ran in worker processes: 2 started here" in note for note in run.metadata.notes)
    assert run.metadata.hyperband["workers"] == 2
    assert json.loads((tmp_path / "search" / CHIEF_FILE).read_text()) == {"ended": True}  # a late worker leaves

    again = _fit(tmp_path / "search", options=options, max_trials=10, resume=True, time_budget="10m")
    resumed = _trials(again)
    assert set(trials.trial_id) < set(resumed.trial_id) and len(resumed) == 9  # the 6 kept, 3 more
    # ... run by workers again: the word of the search before ("ended") does not send them away
    assert set(resumed[~resumed.trial_id.isin(trials.trial_id)].worker) <= {"local1", "local2"}


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_a_worker_killed_mid_trial_loses_only_that_trial(tmp_path):
    workdir = tmp_path / "search"
    killed: list[tuple[str, str]] = []

    def kill_the_first_worker_to_start_a_trial(kind, event):
        if kind != "trial" or event.ended or killed or not event.running:
            return
        worker, trial_id, _ = event.running[0]
        (pid,) = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _names(p, workdir, worker)]
        os.kill(pid, signal.SIGKILL)
        killed.append((worker, trial_id))

    run = _fit(workdir, options=SearchOptions(workers=2, refit=False), max_trials=6,
               on_event=kill_the_first_worker_to_start_a_trial)
    trials = _trials(run).set_index("trial_id")
    (worker, trial_id), = killed
    assert trials.loc[trial_id, "status"] == "failed"
    assert "killed by SIGKILL during this trial" in trials.loc[trial_id, "message"]
    assert (trials.drop(index=trial_id).status != "failed").all() and len(trials) == 5  # the search went on
    assert any("killed by SIGKILL during a trial" in note for note in run.metadata.notes)


def _names(proc: Path, workdir: Path, worker: str) -> bool:
    """Whether ``proc`` is the worker process ``worker`` of the search in ``workdir``."""
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(workdir).encode() in args and worker.encode() in args and b"worker" in args


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_workers_that_cannot_start_say_why_and_the_search_runs_in_one_process(tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    (broken / "tensorflow").mkdir(parents=True)
    (broken / "tensorflow" / "__init__.py").write_text("raise ImportError('this TensorFlow is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken))  # what the workers import; this process has its TensorFlow
    run = _fit(tmp_path / "search", options=SearchOptions(workers=2, refit=False), max_trials=3)
    (note,) = [n for n in run.metadata.notes if "no worker process could start" in n]
    assert "TensorFlow cannot be imported" in note and "this TensorFlow is broken" in note
    assert "the search ran in one process" in note
    assert set(_trials(run).worker) == {"main"} and len(_trials(run)) == 2


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AutoANNError, match=rf"127\.0\.0\.1:{port}.*--listen HOST:PORT"):
            _fit(tmp_path / "search", options=SearchOptions(workers=2), listen=f"127.0.0.1:{port}")
    assert not (tmp_path / "search" / "workers").exists()


# -- the commands: a chief and an external worker, Ctrl-C -----------------------------------------------------------
def _command(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autoann", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(pattern: str, folder: Path, process: subprocess.Popen, seconds: float = 240) -> Path:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up and process.poll() is None:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.2)
    out, errors = process.communicate(timeout=60)
    raise AssertionError(f"{pattern} never appeared (exit {process.returncode}): {out}\n{errors}")


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_an_autoann_worker_command_joins_a_chief_on_loopback(tmp_path):
    chief = _command("train", str(PENGUINS), "-t", "species", "-b", "90s", "--max-trials", "4", "--max-epochs", "4",
                     "--workers", "0", "-o", "run", cwd=tmp_path)
    chief_file = _wait_for(f".*/search/{CHIEF_FILE}", tmp_path, chief)
    port = json.loads(chief_file.read_text())["port"]
    worker = _command("worker", str(chief_file.parent), "--connect", f"127.0.0.1:{port}", "--id", "ext1",
                      cwd=tmp_path)
    out, errors = chief.communicate(timeout=300)
    assert chief.returncode == 0, out + errors
    assert f"--connect 127.0.0.1:{port}" in out  # the chief printed how to join
    worker_out, worker_errors = worker.communicate(timeout=120)
    assert worker.returncode == 0, worker_out + worker_errors
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv", dtype={"trial_id": str})
    assert set(board.loc[board.trial_id != "default", "worker"]) == {"ext1"} and len(board) == 4


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_ctrl_c_on_the_chief_stops_the_workers_and_exports_the_best_so_far(tmp_path):
    chief = _command("train", str(PENGUINS), "-t", "species", "-b", "5m", "--max-epochs", "50", "--workers", "2",
                     "-o", "run", cwd=tmp_path)
    _wait_for(".*/search/search/trial_*/trial.json", tmp_path, chief)  # a worker runs a trial
    chief.send_signal(signal.SIGINT)
    out, errors = chief.communicate(timeout=180)
    assert chief.returncode == 0, out + errors
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["interrupted"] is True and (tmp_path / "run" / "model.keras").exists()


@pytest.mark.train
@pytest.mark.usefixtures("_no_process_left")
def test_workers_leave_when_their_chief_is_killed_without_cleaning_up(tmp_path):
    chief = _command("train", str(PENGUINS), "-t", "species", "-b", "5m", "--workers", "2", "-o", "run", cwd=tmp_path)
    logs = _wait_for(".*/search/workers/local2.log", tmp_path, chief)
    give_up = time.monotonic() + 120
    while len(_processes_mentioning(str(logs.parents[1]))) < 2 and time.monotonic() < give_up:
        time.sleep(0.2)  # both workers are up
    chief.kill()
    chief.communicate(timeout=60)
    # _no_process_left: the workers, now orphans, notice their chief is gone and exit
