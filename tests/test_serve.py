"""`autoann serve`: TF Serving's REST API v1 over hand-built run directories (no search, no training).

Endpoint tests use FastAPI's in-process TestClient; one test starts a real
uvicorn server on 127.0.0.1 in a subprocess and checks it is gone afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import keras
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from _runkit import artifacts, build_model, export_run, raw_frame
from autoann import _extras
from autoann.cli import _app as cli_app
from autoann.errors import MissingDependencyError, ParameterError
from autoann.fitted_run import FittedRun
from autoann.predict import load
from autoann.schema import Column
from autoann.serve import Batcher, create_app, model_dirs

pytestmark = pytest.mark.train

RUNS = {  # name -> artifacts arguments
    "species": ("multiclass", ["1", "2", "10"], "int"),
    "price": ("multi_regression", None, None),
}


def image_artifacts() -> FittedRun:
    """A hand-built image classifier on (8, 8, 1) uint8 pixels, with the image export conventions."""
    keras.utils.set_random_seed(0)
    pixels = keras.Input(shape=(8, 8, 1), dtype="uint8", name="image")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(pixels))
    hidden = keras.layers.Dense(4, "tanh")(x)
    model = keras.Model({"image": pixels}, keras.layers.Dense(3, activation="softmax")(hidden))
    art = artifacts("multiclass", ["cat", "dog", "owl"], "str", model=model)
    art.metadata = dataclasses.replace(art.metadata, schema=[Column("image", "image", (8, 8, 1), "uint8")],
                                       preprocessing={})
    return art


def uncertain_artifacts() -> FittedRun:
    art = artifacts("binary", ["no", "yes"], "str", model=build_model("binary", dropout=0.3))
    art.metadata.best_hyperparameters["mc_dropout_samples"] = 5
    return art


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    made = {name: export_run(artifacts(*spec), root / name) for name, spec in RUNS.items()}
    made["digits"] = export_run(image_artifacts(), root / "digits")
    made["risk"] = export_run(uncertain_artifacts(), root / "risk")
    return made


@pytest.fixture(scope="module")
def client(runs):
    with TestClient(create_app(runs, batch_timeout_ms=1)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Rows as a client sends them: NaN numbers, missing ("" and None) and unseen categories."""
    frame = raw_frame(12, seed=3)
    frame.loc[4, "colour"] = "purple"
    return frame


def instances(frame: pd.DataFrame) -> list[dict]:
    """The row format, NaN written as JSON null."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def expected(run_dir, frame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(run_dir).predict_frame(frame)


def test_row_and_columnar_formats_answer_what_autoann_predict_gives(client, runs, rows):
    want = expected(runs["species"], rows)
    by_row = client.post("/v1/models/species:predict", json={"instances": instances(rows)})
    assert by_row.status_code == 200, by_row.text
    predictions = by_row.json()["predictions"]
    assert [p["label"] for p in predictions] == want["label"].tolist()
    assert all(isinstance(p["label"], int) for p in predictions), "labels come back in the target's type"
    probabilities = want[["proba_1", "proba_2", "proba_10"]].to_numpy()
    np.testing.assert_allclose([p["probabilities"] for p in predictions], probabilities, rtol=1e-6, atol=1e-7)
    columns = {"a": rows["a"].tolist(), "b_c": rows["b c"].tolist(), "colour": rows["colour"].tolist()}
    body = json.dumps({"inputs": columns})  # NaN as JSON's NaN token, as TF Serving accepts it
    by_column = client.post("/v1/models/species:predict", content=body, headers={"content-type": "application/json"})
    assert by_column.status_code == 200, by_column.text
    outputs = by_column.json()["outputs"]
    assert outputs["label"] == want["label"].tolist()
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=1e-6, atol=1e-7)


def test_regression_answers_values_in_target_units_per_target(client, runs, rows):
    want = expected(runs["price"], rows)[["y1", "y2"]].to_numpy()
    response = client.post("/v1/models/price/versions/1:predict", json={"instances": instances(rows)})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], want, rtol=1e-6, atol=1e-6)


def test_image_model_takes_nested_pixel_lists_in_both_formats(client, runs):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 1), dtype="uint8")
    want = expected(runs["digits"], images)
    by_row = client.post("/v1/models/digits:predict", json={"instances": images[..., 0].tolist()})
    by_name = client.post("/v1/models/digits:predict", json={"inputs": {"image": images.tolist()}})
    assert by_row.status_code == by_name.status_code == 200, by_row.text + by_name.text
    assert [p["label"] for p in by_row.json()["predictions"]] == want["label"].tolist()
    assert by_name.json()["outputs"]["label"] == want["label"].tolist()
    np.testing.assert_allclose(by_name.json()["outputs"]["probabilities"],
                               want[["proba_cat", "proba_dog", "proba_owl"]].to_numpy(), rtol=1e-6, atol=1e-7)


def test_uncertainty_run_adds_the_spread_of_its_probabilities(client, rows):
    response = client.post("/v1/models/risk:predict", json={"instances": instances(rows.head(3))})
    assert response.status_code == 200, response.text
    first = response.json()["predictions"][0]
    assert set(first) == {"label", "probabilities", "probabilities_std"}
    assert len(first["probabilities_std"]) == 2 and all(s >= 0 for s in first["probabilities_std"])


def test_status_metadata_and_health_endpoints(client):
    status = client.get("/v1/models/species").json()
    assert status == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                "status": {"error_code": "OK", "error_message": ""}}],
                      "name": "species", "ready": True}
    assert client.get("/v1/models/species/versions/1").json() == status
    meta = client.get("/v1/models/species/metadata").json()
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["b_c"]["dtype"] == "DT_FLOAT" and signature["inputs"]["colour"]["dtype"] == "DT_STRING"
    assert signature["inputs"]["a"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert signature["outputs"]["probabilities"]["tensor_shape"]["dim"][1]["size"] == "3"
    assert meta["autoann"]["classes"] == ["1", "2", "10"] and meta["autoann"]["metrics"] == {"accuracy": 0.8}
    assert meta["autoann"]["columns"][2] == {"name": "colour", "kind": "categorical", "input": "colour",
                                             "vocabulary": ["blue", "green", "red"]}
    image = client.get("/v1/models/digits/metadata").json()["metadata"]["signature_def"]["signature_def"]
    assert image["serving_default"]["inputs"]["image"]["dtype"] == "DT_UINT8"
    assert client.get("/v1/models").json() == {"models": ["species", "price", "digits", "risk"]}
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json()["ready"] is True
    assert "/v1/models/{name}:predict" in client.get("/openapi.json").json()["paths"]


GOOD = {"instances": [{"a": 1.0, "b c": 2.0, "colour": "red"}]}
BAD = [  # (what, path, body bytes, status, words the error must hold)
    ("malformed JSON", "/v1/models/species:predict", b'{"instances": [', 400, "not valid JSON"),
    ("not an object", "/v1/models/species:predict", b"[1, 2]", 400, "JSON object"),
    ("both formats", "/v1/models/species:predict",
     json.dumps({"instances": GOOD["instances"], "inputs": {"a": [1.0]}}).encode(), 400, "both"),
    ("no rows key", "/v1/models/species:predict", b'{"rows": []}', 400, "'rows'"),
    ("missing column", "/v1/models/species:predict", b'{"instances": [{"a": 1, "b c": 2}]}', 400, "'colour'"),
    ("unknown column", "/v1/models/species:predict",
     b'{"instances": [{"a": 1, "b c": 2, "colour": "red", "size": 3}]}', 400, "Unknown column 'size'"),
    ("text in a numeric column", "/v1/models/species:predict",
     b'{"instances": [{"a": "tall", "b c": 2, "colour": "red"}]}', 400, "'a' is numeric"),
    ("a list as a value", "/v1/models/species:predict",
     b'{"instances": [{"a": [1, 2], "b c": 2, "colour": "red"}]}', 400, "column 'a'"),
    ("empty list", "/v1/models/species:predict", b'{"instances": []}', 400, "empty"),
    ("ragged columns", "/v1/models/species:predict",
     b'{"inputs": {"a": [1, 2], "b c": [1], "colour": ["red", "red"]}}', 400, "different lengths"),
    ("ragged images", "/v1/models/digits:predict", b'{"instances": [[[1, 2]], [[1]]]}', 400, "one size"),
    ("unknown model", "/v1/models/nope:predict", json.dumps(GOOD).encode(), 404, "'nope'"),
    ("unknown version", "/v1/models/species/versions/7:predict", json.dumps(GOOD).encode(), 404, "version '7'"),
    ("classify", "/v1/models/species:classify", json.dumps(GOOD).encode(), 400, ":predict"),
    ("regress", "/v1/models/price/versions/1:regress", json.dumps(GOOD).encode(), 400, ":predict"),
    ("unknown path", "/v2/models/species/infer", b"{}", 404, "Not Found"),
]


@pytest.mark.parametrize("what,path,body,code,words", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_serving(client, what, path, body, code, words):
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == code, response.text
    assert list(response.json()) == ["error"] and words in response.json()["error"]
    assert client.post("/v1/models/species:predict", json=GOOD).status_code == 200


def test_body_over_the_size_limit_gets_413(runs):
    with TestClient(create_app({"species": runs["species"]}, max_body_bytes=200)) as small:
        response = small.post("/v1/models/species:predict", json={"instances": GOOD["instances"] * 10})
        assert response.status_code == 413 and "limit of 200 bytes" in response.json()["error"]
        assert small.post("/v1/models/species:predict", json=GOOD).status_code == 200


async def _concurrently(app, bodies: list[dict]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await asyncio.gather(*(http.post("/v1/models/species:predict", json=b) for b in bodies))


@pytest.mark.parametrize("max_batch_size", [1, 64])
def test_concurrent_requests_share_model_calls_and_get_their_own_rows(runs, rows, max_batch_size):
    app = create_app({"species": runs["species"]}, max_batch_size=max_batch_size, batch_timeout_ms=200)
    bodies = [{"instances": instances(rows.iloc[[i]])} for i in range(len(rows))]
    responses = asyncio.run(_concurrently(app, bodies))
    labels = [r.json()["predictions"][0]["label"] for r in responses]
    assert labels == expected(runs["species"], rows)["label"].tolist()
    sizes = app.state.batchers["species"].batch_sizes
    assert sum(sizes) == len(rows)
    assert max(sizes) == 1 if max_batch_size == 1 else len(sizes) < len(rows)


def test_batcher_limits_rows_hands_errors_to_their_batch_and_keeps_working():
    calls: list[list] = []

    def run(items):
        calls.append(items)
        if "boom" in items:
            raise RuntimeError("boom")
        return [item.upper() for item in items]

    async def scenario():
        batcher = Batcher(run, max_batch_size=4, timeout_ms=50, size=lambda item: 3 if item == "big" else 1)
        first = await asyncio.gather(*(batcher.submit(x) for x in ["a", "b", "big", "c"]), return_exceptions=True)
        failed = await asyncio.gather(batcher.submit("boom"), return_exceptions=True)
        after = await batcher.submit("d")
        await batcher.close()
        return first, failed, after

    first, failed, after = asyncio.run(scenario())
    assert first == ["A", "B", "BIG", "C"]
    assert all(sum(3 if i == "big" else 1 for i in call) <= 4 for call in calls[:-2]), calls
    assert isinstance(failed[0], RuntimeError) and after == "D"


def test_model_names_from_folders_and_name_equals_dir(tmp_path):
    assert model_dirs([tmp_path / "my run"], ["b=x/y"]) == {"my_run": tmp_path / "my run", "b": Path("x/y")}
    with pytest.raises(ParameterError, match="NAME=RUN_DIR"):
        model_dirs([], ["no-equals"])
    with pytest.raises(ParameterError, match="Two models are named 'a'"):
        model_dirs(["one/a", "two/a"])
    with pytest.raises(ParameterError, match="cannot be used in a URL"):
        model_dirs([], ["a b=run"])


def test_missing_serve_extra_says_how_to_install(monkeypatch, runs):
    real = _extras.importlib.import_module

    def without_fastapi(name):
        if name == "fastapi":
            raise ImportError("No module named 'fastapi'")
        return real(name)

    monkeypatch.setattr(_extras.importlib, "import_module", without_fastapi)
    with pytest.raises(MissingDependencyError, match=r'pip install "autoann\[serve\]"'):
        create_app(runs)
    result = CliRunner().invoke(cli_app.app, ["serve", str(runs["species"])])
    assert result.exit_code == 2 and "autoann[serve]" in result.output


def test_cli_serve_is_a_thin_door(monkeypatch, runs):
    seen = {}
    monkeypatch.setattr("autoann.serve.serve", lambda models, **kw: seen.update(models=models, **kw))
    result = CliRunner().invoke(cli_app.app, ["serve", str(runs["species"]), "--model", f"p={runs['price']}",
                                              "--port", "9000", "--max-batch-size", "8", "--batch-timeout-ms", "5"])
    assert result.exit_code == 0, result.output
    assert seen == {"models": {"species": runs["species"], "p": runs["price"]}, "host": "127.0.0.1", "port": 9000,
                    "workers": 1, "max_batch_size": 8, "batch_timeout_ms": 5.0, "max_body_bytes": 16 * 2**20}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_real_server_on_loopback_answers_and_stops(runs, rows, workers):
    """``autoann serve`` as a user starts it, on 127.0.0.1, answers; --workers 2 starts two worker
    processes; stopping the server leaves no process behind."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from autoann.cli import main; main()", "serve", str(runs["species"]),
         "--port", str(port), "--workers", str(workers)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    spawned: list[int] = []
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        answer = httpx.post(f"{url}/v1/models/species:predict", json={"instances": instances(rows)}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert [p["label"] for p in answer.json()["predictions"]] == expected(runs["species"], rows)["label"].tolist()
        assert httpx.post(f"{url}/v1/models/species:predict", content=b"{", timeout=60).status_code == 400
        spawned = children(server.pid)
        if workers > 1:
            assert len(spawned) >= workers, f"expected {workers} worker processes, found {spawned}"
    finally:
        server.terminate()
        log = server.communicate(timeout=60)[0]
    assert server.returncode is not None, "the server process is gone"
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in spawned if alive(pid)], "a worker process outlived the server"
    assert "POST http://127.0.0.1" in log
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
