"""Load test of `autoann serve` on loopback: concurrent single-row clients, batching on and off,
beside in-process ``Predictor.predict_frame`` on the same rows (the ideal, no HTTP).

    python bench/serve_load.py [RUN_DIR] --requests 2000 --clients 8

Without RUN_DIR it serves a tiny hand-built multiclass run (tests/_runkit.py). Each server is a
real ``autoann serve`` subprocess on 127.0.0.1 and a free port, stopped at the end. Reports
errors (must be 0), p50/p99 latency and requests/s, as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def tiny_run(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from _runkit import artifacts, export_run

    return export_run(artifacts("multiclass", ["1", "2", "10"], "int"), folder / "run")


def instances(run_dir: Path, n: int) -> list[dict]:
    """``n`` single rows made from the schema (NaN as null, unseen categories included)."""
    from autoann.export._formats import VERIFY_ROWS, run_metadata, signature_inputs

    inputs = signature_inputs(run_metadata(run_dir))
    rows = [{k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in inputs.items()} for i in range(VERIFY_ROWS)]
    rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]
    return [rows[i % len(rows)] for i in range(n)]


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> str:
    ms = np.asarray(latencies) * 1000
    return (f"| {name} | {len(latencies) + errors} | {errors} | {np.percentile(ms, 50):.1f} | "
            f"{np.percentile(ms, 99):.1f} | {(len(latencies) + errors) / seconds:.0f} |")


async def load(url: str, rows: list[dict], clients: int) -> tuple[list[float], int, float]:
    """``clients`` concurrent clients, each sending its share of ``rows`` one request at a time."""
    latencies: list[float] = []
    errors = 0

    async def client(share: list[dict]) -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=60) as http:
            for row in share:
                start = time.perf_counter()
                response = await http.post(url, json={"instances": [row]})
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(rows[i::clients]) for i in range(clients)))
    return latencies, errors, time.perf_counter() - start


def serve_and_load(run_dir: Path, rows: list[dict], clients: int, max_batch_size: int) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from autoann.cli import main; main()", "serve", str(run_dir),
                               "--port", str(port), "--max-batch-size", str(max_batch_size)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/v1/models/{run_dir.name}:predict"
        asyncio.run(load(url, rows[:50], 1))  # warm-up: the first calls trace the model
        latencies, errors, seconds = asyncio.run(load(url, rows, clients))
    finally:
        server.terminate()
        server.wait(timeout=60)
    name = f"HTTP, batching {'off' if max_batch_size == 1 else f'on ({max_batch_size} rows, 2 ms)'}"
    return summary(name, latencies, errors, seconds)


def in_process(run_dir: Path, rows: list[dict]) -> str:
    import warnings

    import autoann

    predictor = autoann.load(run_dir)
    names = {v: k for k, v in predictor.metadata.serving["inputs"].items()}
    frames = [{names[k]: [v] for k, v in row.items()} for row in rows]
    latencies = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor.predict_frame(frames[0])
        start = time.perf_counter()
        for frame in frames:
            begin = time.perf_counter()
            predictor.predict_frame(frame)
            latencies.append(time.perf_counter() - begin)
    return summary("in-process predict_frame, 1 row per call", latencies, 0, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or tiny_run(Path(tmp))
        rows = instances(run_dir, args.requests)
        print(f"{args.requests} single-row requests, {args.clients} concurrent clients, run {run_dir.name}\n")
        print("| setting | requests | errors | p50 ms | p99 ms | requests/s |\n|---|---:|---:|---:|---:|---:|")
        for max_batch_size in (1, 64):
            print(serve_and_load(run_dir, rows, args.clients, max_batch_size), flush=True)
        print(in_process(run_dir, rows))


if __name__ == "__main__":
    main()
