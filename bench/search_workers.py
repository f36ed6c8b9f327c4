"""Trials in worker processes: throughput, CPU use, search overhead and memory, against the same search in
one process and Keras Tuner used by hand, in the same run.

``throughput``: ``autoann train datasets/breast_cancer.csv`` at each budget and seed with ``--workers 1``,
with the default (one worker per core), and plain Keras Tuner (its guide's build function, numpy inputs,
Hyperband, stopped by hand at the budget), each in a fresh process. Reported per run: trials finished per
minute of the command's wall time, CPU seconds / wall seconds (the command and every process it started),
and the search overhead ratio = search wall x processes running trials / summed time inside ``fit``.
``memory``: a 100-trial search (``run_search``, no time limit) with N workers; the resident memory of the
chief after trials 10, 50 and 100, and of each worker as its leaderboard rows record it.
``loopback``: a chief serving only (``--workers 0``) and two ``autoann worker`` commands, against
``--workers 2``: the same search, started as separate commands.
``timeline``: one search with the default workers (``fit_run``, in this process); per worker, its time in
trials, inside ``fit``, and between trials (the gaps over a second are new starts), and its new starts.

    python bench/search_workers.py throughput --budgets 60 180 --seeds 0 1 2
    python bench/search_workers.py memory --trials 100 --workers 1 2
    python bench/search_workers.py loopback --budget 60 --seeds 0 1
    python bench/search_workers.py timeline --budget 180
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
DATA, TARGET = ROOT / "datasets" / "breast_cancer.csv", "diagnosis"


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(commands: list[list[str]], cwd: Path) -> tuple[float, float, list[subprocess.CompletedProcess]]:
    """Run ``commands`` side by side; (wall seconds, CPU seconds of them and their children, results)."""
    cpu, start = _cpu_of_children(), time.perf_counter()
    processes = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
    done = [subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()) for p in processes]
    return time.perf_counter() - start, _cpu_of_children() - cpu, done


def _autoann(budget: int, seed: int, workers: int | None, work: Path) -> dict:
    command = [sys.executable, "-m", "autoann", "train", str(DATA), "-t", TARGET, "-b", f"{budget}s", "--seed",
               str(seed), "-o", str(work / "run")] + ([] if workers is None else ["--workers", str(workers)])
    wall, cpu, (result,) = _measured([command], work)
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return {"wall": wall, "cpu": cpu, **_run_figures(work / "run")}


def _run_figures(run: Path) -> dict:
    meta = json.loads((run / "metadata.json").read_text())
    with open(run / "leaderboard.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["trial_id"] != "default"]
    processes = max(len({r["worker"] for r in rows}), 1)
    fit = sum(float(r["fit_seconds"]) for r in rows)
    return {"trials": len(rows), "processes": processes, "search_seconds": meta["budget"]["search_seconds"],
            "fit_in_search": fit, "overhead": meta["budget"]["search_seconds"] * processes / fit if fit else None,
            "test_accuracy": meta["metrics"]["test"]["accuracy"]}


def _plain(budget: int, seed: int, work: Path) -> dict:
    wall, cpu, (result,) = _measured([[sys.executable, __file__, "_plain", str(budget), str(seed)]], work)
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall": wall, "cpu": cpu, **figures}


def plain_keras_tuner(budget: int, seed: int) -> None:
    """Keras Tuner as its guide shows it, stopped at the budget by hand (it has no budget of its own)."""
    import threading

    import keras_tuner as kt
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(DATA)
    y = frame.pop(TARGET).astype("category").cat.codes
    x_train, _, y_train, _ = train_test_split(frame.to_numpy("float32"), y.to_numpy(), test_size=0.2,
                                              random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.2, random_state=seed,
                                                      stratify=y_train)
    sys.path.insert(0, str(ROOT / "bench"))
    from search_overhead import timed_hypermodel

    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    fit_seconds: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        tuner = kt.Hyperband(timed_hypermodel(x_train.shape[1], "accuracy", fit_seconds), objective="val_accuracy", max_epochs=27, factor=3, hyperband_iterations=10,
                             seed=seed, directory=work, project_name="p")
        start = time.perf_counter()
        stop = threading.Timer(budget, lambda: setattr(tuner.oracle, "max_trials", len(tuner.oracle.trials)))
        stop.start()
        tuner.search(x_train, y_train, validation_data=(x_val, y_val), verbose=0)
        stop.cancel()
        search = time.perf_counter() - start
    fit = float(np.sum(fit_seconds))
    print(json.dumps({"trials": len(fit_seconds), "processes": 1, "search_seconds": search, "fit_in_search": fit,
                      "overhead": search / fit, "test_accuracy": None}))


def throughput(args) -> None:
    systems = {"autoann --workers 1": 1, "autoann (default workers)": None, "Keras Tuner by hand": "plain"}
    rows = []
    for budget in args.budgets:
        for seed in args.seeds:
            for name, workers in systems.items():
                with tempfile.TemporaryDirectory() as tmp:
                    work = Path(tmp)
                    figures = (_plain(budget, seed, work) if workers == "plain"
                               else _autoann(budget, seed, workers, work))
                row = {"budget": budget, "seed": seed, "system": name, **figures,
                       "trials_per_minute": figures["trials"] / figures["wall"] * 60,
                       "cpu_per_wall": figures["cpu"] / figures["wall"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    _write(rows, args.out)
    print("\n| budget | system | trials / min | CPU s / wall s | search overhead | test accuracy |")
    print("|---|---|---|---|---|---|")
    for budget in args.budgets:
        for name in systems:
            mine = [r for r in rows if r["budget"] == budget and r["system"] == name]
            med = lambda key: statistics.median(r[key] for r in mine)  # noqa: E731
            accuracy = "-" if mine[0]["test_accuracy"] is None else f"{med('test_accuracy'):.3f}"
            print(f"| {budget} s | {name} | {med('trials_per_minute'):.1f} | {med('cpu_per_wall'):.2f} | "
                  f"{med('overhead'):.2f} | {accuracy} |")


def memory_run(workers: int, trials: int, recycle: tuple[int, float] | None) -> None:
    """One long search in this process (the chief when ``workers`` > 1); prints RSS figures as JSON.
    ``recycle``: the workers' (trials, MB) limits instead of the default ``SearchOptions``'."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_overhead import prepared, rss_mb

    from autoann.search import _options
    from autoann.search._run import run_search

    if recycle is not None:
        _options.DEFAULT = _options.SearchOptions(recycle=recycle)

    space, prep, data = prepared(DATA.name, TARGET, 0)
    chief: dict[int, float] = {}

    def on_trial(event) -> None:
        if event.ended and event.finished - 1 in (10, 50, trials):
            chief[event.finished - 1] = round(rss_mb())

    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        result = run_search(space, prep, data, end=time.monotonic() + 100_000, export_seconds=0, workdir=Path(work),
                            max_trials=trials + 1, seed=0, on_trial=on_trial, workers=workers)
        wall = time.perf_counter() - start
        logs = " ".join(p.read_text() for p in (Path(work) / "workers").glob("*.log"))
        records = [json.loads(p.read_text()) for p in Path(work).glob("search/trial_*/autoann_fit.json")]
    rows = [r for r in result.trials if r.trial_id != "default"]
    by_worker: dict[str, dict[int, float]] = {}
    for n, row in enumerate(sorted(rows, key=lambda r: r.finished_at), 1):
        by_worker.setdefault(row.worker, {})
        for mark in (10, 50, trials):
            if n <= mark:
                by_worker[row.worker][mark] = row.rss_mb  # the last RSS it recorded by then
    print(json.dumps({"workers": workers, "recycle": _options.DEFAULT.recycle, "trials": len(rows),
                      "wall": round(wall, 1), "chief_rss_mb": chief,
                      "worker_rss_mb": by_worker, "fresh_starts": logs.count("starting afresh"),
                      "search_seconds": round(result.search_seconds, 1), "per_trial": _where_time_goes(records),
                      "busy_share": round(sum(r["seconds"] for r in records)
                                          / (result.search_seconds * max(workers, 1)), 3)}))


def _where_time_goes(records: list[dict]) -> dict:
    """Median seconds per trial: build, the first epoch's excess over a steady one (tracing), a steady epoch,
    the checkpoint write, and the rest of the trial outside ``fit``."""
    med = lambda values: round(statistics.median(values), 3) if values else None  # noqa: E731
    timed = [r for r in records if len(r.get("epoch_seconds", [])) >= 2]
    return {"trial": med([r["seconds"] for r in records]), "fit": med([r.get("fit_seconds", 0) for r in records]),
            "build": med([r.get("build_seconds", 0) for r in records]),
            "first_epoch_excess": med([r["epoch_seconds"][0] - statistics.median(r["epoch_seconds"][1:]) for r in timed]),
            "steady_epoch": med([statistics.median(r["epoch_seconds"][1:]) for r in timed]),
            "save": med([r.get("save_seconds", 0) for r in records]),
            "other": med([r["seconds"] - r.get("fit_seconds", 0) - r.get("build_seconds", 0) - r.get("save_seconds", 0)
                          for r in records])}


def memory(args) -> None:
    for workers in args.workers:
        recycle = [] if args.recycle is None else [str(v) for v in args.recycle]
        result = subprocess.run([sys.executable, __file__, "_memory", str(workers), str(args.trials), *recycle],
                                capture_output=True, text=True, check=True)
        print(result.stdout.strip().splitlines()[-1], flush=True)


def loopback(args) -> None:
    rows = []
    for seed in args.seeds:
        for name in ("autoann train --workers 2", "chief --workers 0 + 2 x autoann worker"):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                train = [sys.executable, "-m", "autoann", "train", str(DATA), "-t", TARGET, "-b", f"{args.budget}s",
                         "--seed", str(seed), "-o", str(work / "run")]
                if name.startswith("chief"):
                    wall, cpu = _chief_and_workers(train + ["--workers", "0"], work)
                else:
                    wall, cpu, _ = _measured([train + ["--workers", "2"]], work)
                row = {"seed": seed, "system": name, "wall": wall, "cpu": cpu, **_run_figures(work / "run")}
            rows.append(row)
            print(json.dumps(row), flush=True)
    _write(rows, args.out)


def _chief_and_workers(train: list[str], work: Path) -> tuple[float, float]:
    cpu, start = _cpu_of_children(), time.perf_counter()
    chief = subprocess.Popen(train, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not (work / ".run.partial" / "search").is_dir():  # the folder the chief prints, once it exists
        time.sleep(0.1)
    workers = [subprocess.Popen([sys.executable, "-m", "autoann", "worker", str(work / ".run.partial" / "search"),
                                 "--id", f"ext{i}", "--threads", "1"], cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for i in (1, 2)]
    try:
        if chief.wait():
            raise RuntimeError(chief.stderr.read()[-2000:])
        for worker in workers:
            worker.wait(timeout=120)
    finally:  # a worker that did not leave with its search is not left behind
        for worker in workers:
            worker.kill()
    return time.perf_counter() - start, _cpu_of_children() - cpu


def timeline(args) -> None:
    import pandas as pd

    from autoann.search import fit_run

    with tempfile.TemporaryDirectory() as work:
        run = fit_run(str(DATA), TARGET, workdir=Path(work), time_budget=f"{args.budget}s", seed=args.seed)
        starts = {p.stem: p.read_text().count("starting afresh") for p in (Path(work) / "workers").glob("*.log")}
    board = pd.DataFrame([r.to_json() for r in run.trials])
    board = board[board.trial_id != "default"].assign(start=lambda b: b.finished_at - b.seconds)
    for worker, trials in board.sort_values("start").groupby("worker"):
        gaps = (trials.start.shift(-1) - trials.finished_at).dropna()
        print(json.dumps({"worker": worker, "trials": len(trials), "in_trials": round(trials.seconds.sum(), 1),
                          "in_fit": round(trials.fit_seconds.sum(), 1), "between_trials": round(gaps.sum(), 1),
                          "gaps_over_1s": [round(g, 1) for g in gaps[gaps > 1]], "fresh_starts": starts.get(worker),
                          "first_start": round(trials.start.min(), 1), "last_end": round(trials.finished_at.max(), 1),
                          "planned_search_seconds": run.metadata.hyperband["search_seconds"]}))


def _write(rows: list[dict], out: str | None) -> None:
    if out:
        with open(out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_plain":
        return plain_keras_tuner(int(sys.argv[2]), int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        recycle = (int(float(sys.argv[4])), float(sys.argv[5])) if len(sys.argv) > 5 else None
        return memory_run(int(sys.argv[2]), int(sys.argv[3]), recycle)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("throughput")
    one.add_argument("--budgets", type=int, nargs="+", default=[60, 180])
    one.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    one.add_argument("--out", default=None)
    two = commands.add_parser("memory")
    two.add_argument("--trials", type=int, default=100)
    two.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    two.add_argument("--recycle", type=float, nargs=2, default=None, metavar=("TRIALS", "MB"),
                     help="the workers' limits (default: SearchOptions')")
    three = commands.add_parser("loopback")
    three.add_argument("--budget", type=int, default=60)
    three.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    three.add_argument("--out", default=None)
    four = commands.add_parser("timeline")
    four.add_argument("--budget", type=int, default=180)
    four.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    {"throughput": throughput, "memory": memory, "loopback": loopback, "timeline": timeline}[args.command](args)


if __name__ == "__main__":
    main()
