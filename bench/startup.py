"""Startup time of the CLI: ``autoann --help`` against a bare ``python -c pass``.

Median of several runs each; also checks that neither ``autoann --help`` nor
``import autoann`` (with the estimators touched) imports TensorFlow.

    python bench/startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = shutil.which("autoann") or "autoann"
    probe = ("import sys, autoann; autoann.AutoANNClassifier; import autoann.cli._app; "
             "print('tensorflow' in sys.modules)")
    result = {
        "python_c_pass_s": round(timed([sys.executable, "-c", "pass"], args.runs), 3),
        "autoann_help_s": round(timed([exe, "--help"], args.runs), 3),
        "import_autoann_s": round(timed([sys.executable, "-c", "import autoann"], args.runs), 3),
        "tensorflow_imported_by_import_and_cli": subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip(),
        "runs": args.runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
