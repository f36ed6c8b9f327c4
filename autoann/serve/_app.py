"""The FastAPI app that serves autoann run directories with TF Serving's REST API v1.

:func:`create_app` loads every model once, when the app is made, and routes:

====================================================  =========================================
``POST /v1/models/NAME[/versions/1]:predict``          predictions (row or columnar format)
``POST /v1/models/NAME[/versions/1]:classify|regress``  400: TF2 SavedModels carry neither signature
``GET  /v1/models/NAME[/versions/1]``                  TF Serving's status + KServe V1's ``name``/``ready``
``GET  /v1/models/NAME[/versions/1]/metadata``         the signature (inputs, outputs) and autoann's metadata
``GET  /v1/models``                                    the served model names
``GET  /healthz``, ``GET /readyz``                     liveness and readiness
``GET  /docs``, ``GET /openapi.json``                  FastAPI's OpenAPI docs
====================================================  =========================================

Every error is TF Serving's body, ``{"error": "..."}``, with 400 (bad
request), 404 (unknown model, version or path), 413 (body over the size limit)
or 500 (a bug: the traceback goes to the server's log); the server keeps
serving. Predictions go through :meth:`autoann.predict.Predictor.predict_frame`,
the code path of ``autoann predict``, in batches (:mod:`autoann.serve._batching`).
"""

import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from autoann._extras import require
from autoann.errors import AutoANNError, ParameterError
from autoann.predict import Predictor, load
from autoann.serve._batching import Batcher
from autoann.serve._protocol import (
    RequestError,
    ServedModel,
    metadata,
    parse_body,
    predict_batch,
    read_request,
    response,
    status,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("autoann.serve")
MAX_BATCH_SIZE = 64
BATCH_TIMEOUT_MS = 2.0
MAX_BODY_BYTES = 16 * 2**20
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # what fits a URL segment and TF Serving's names
_EXAMPLE = {"instances": [{"a": 1.5, "colour": "red"}, {"a": None, "colour": "green"}]}


def check_model_name(name: str) -> str:
    """``name`` if it can be a model's URL name, else a :class:`ParameterError` saying what is allowed."""
    if not _MODEL_NAME.match(name):
        raise ParameterError(f"Model name {name!r} cannot be used in a URL: use letters, digits, '_', '.' and '-', "
                             "starting with a letter or digit (e.g. --model penguins=runs/penguins).")
    return name


def load_models(models: Mapping[str, str | Path | Predictor]) -> dict[str, ServedModel]:
    """Each named run directory (or already loaded predictor) as a :class:`ServedModel`."""
    if not models:
        raise ParameterError("No model to serve: pass at least one run directory written by `autoann train`.")
    return {check_model_name(name): ServedModel(name, source if isinstance(source, Predictor) else load(source))
            for name, source in models.items()}


def create_app(models: Mapping[str, str | Path | Predictor], *, max_batch_size: int = MAX_BATCH_SIZE,
               batch_timeout_ms: float = BATCH_TIMEOUT_MS, max_body_bytes: int = MAX_BODY_BYTES) -> "FastAPI":
    """A FastAPI app answering TF Serving's REST API v1 for ``models`` (URL name -> run directory or predictor).

    Concurrent requests for one model are batched into one model call of at
    most ``max_batch_size`` rows, waiting at most ``batch_timeout_ms`` for a
    batch to fill (``max_batch_size=1``: no batching). Bodies over
    ``max_body_bytes`` get 413.
    """
    require("serve")
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    if max_batch_size < 1 or batch_timeout_ms < 0 or max_body_bytes < 1:
        raise ParameterError(f"max_batch_size must be >= 1, batch_timeout_ms >= 0 and max_body_bytes >= 1; got "
                             f"{max_batch_size}, {batch_timeout_ms} and {max_body_bytes}.")
    served = load_models(models)
    batchers = {name: Batcher(lambda parts, m=model: predict_batch(m, parts), max_batch_size=max_batch_size,
                              timeout_ms=batch_timeout_ms, name=name) for name, model in served.items()}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        for batcher in batchers.values():
            await batcher.close()

    app = FastAPI(title="autoann serve", lifespan=lifespan,
                  description="TF Serving's REST API v1 for autoann run directories: "
                              + ", ".join(f"`{n}` ({m.predictor.task})" for n, m in served.items()) + ".")
    app.state.models, app.state.batchers = served, batchers

    def error(message: str, code: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=code)

    @app.exception_handler(AutoANNError)
    async def refused(_: Request, exc: AutoANNError) -> JSONResponse:
        return error(str(exc), getattr(exc, "status", 400))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        hint = " See /docs for the endpoints." if exc.status_code in (404, 405) else ""
        return error(f"{exc.detail}: {request.method} {request.url.path}.{hint}", exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error("; ".join(str(e.get("msg")) for e in exc.errors()), 400)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(f"Internal error ({type(exc).__name__}: {exc}); the server keeps serving, its log has the "
                     "traceback.", 500)

    def find(name: str, version: str | None) -> ServedModel:
        if name not in served:
            raise RequestError(f"No model named {name!r}; this server serves {', '.join(map(repr, served))}.", 404)
        model = served[name]
        if version is not None and version != model.version:
            raise RequestError(f"Model {name!r} has no version {version!r}; its one version is {model.version}.", 404)
        return model

    async def body_of(request: Request) -> bytes:
        """The request body, refused with 413 as soon as it passes ``max_body_bytes``."""
        too_big = RequestError(f"The request body is larger than the limit of {max_body_bytes} bytes; send fewer "
                               "rows per request (or start the server with a larger --max-body-size).", 413)
        if int(request.headers.get("content-length") or 0) > max_body_bytes:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def predict(name: str, version: str | None, request: Request) -> JSONResponse:
        model = find(name, version)
        rows, columnar = read_request(parse_body(await body_of(request)), model)
        frame = await batchers[name].submit(rows)
        return JSONResponse(response(frame, model, columnar))

    body_doc = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "properties": {"instances": {"type": "array", "items": {"type": "object"}},
                                                    "inputs": {"type": "object"}}},
        "example": _EXAMPLE}}}}

    @app.post("/v1/models/{name}:predict", openapi_extra=body_doc, tags=["predict"])
    async def predict_latest(name: str, request: Request) -> JSONResponse:
        """Predict (row format ``instances`` or columnar ``inputs``)."""
        return await predict(name, None, request)

    @app.post("/v1/models/{name}/versions/{version}:predict", openapi_extra=body_doc, tags=["predict"])
    async def predict_version(name: str, version: str, request: Request) -> JSONResponse:
        """Predict with a given version (autoann run directories have one, 1)."""
        return await predict(name, version, request)

    def refuse(verb: str) -> None:
        """Route ``:verb`` (both URL forms) to a 400 that says to use ``:predict``."""

        def no_signature(name: str, version: str | None) -> None:
            find(name, version)
            raise RequestError(f":{verb} needs a {verb} signature, which TF2 SavedModels (and so autoann's) cannot "
                               f"carry. POST the same rows to /v1/models/{name}:predict instead.")

        async def latest(name: str) -> None:
            no_signature(name, None)

        async def versioned(name: str, version: str) -> None:
            no_signature(name, version)

        summary = f"{verb} (not supported: use :predict)"
        app.post(f"/v1/models/{{name}}:{verb}", tags=["predict"], summary=summary)(latest)
        app.post(f"/v1/models/{{name}}/versions/{{version}}:{verb}", tags=["predict"], summary=summary)(versioned)

    refuse("classify")
    refuse("regress")

    @app.get("/v1/models", tags=["models"])
    async def list_models() -> dict[str, Any]:
        """The served model names (KServe V1)."""
        return {"models": list(served)}

    @app.get("/v1/models/{name}", tags=["models"])
    async def model_status(name: str) -> dict[str, Any]:
        """TF Serving's ``model_version_status``, with KServe V1's ``name`` and ``ready``."""
        return status(find(name, None))

    @app.get("/v1/models/{name}/versions/{version}", tags=["models"])
    async def version_status(name: str, version: str) -> dict[str, Any]:
        return status(find(name, version))

    @app.get("/v1/models/{name}/metadata", tags=["models"])
    async def model_metadata(name: str) -> dict[str, Any]:
        """The signature (every input's dtype and shape, the outputs), classes, columns and test metrics."""
        return metadata(find(name, None))

    @app.get("/v1/models/{name}/versions/{version}/metadata", tags=["models"])
    async def version_metadata(name: str, version: str) -> dict[str, Any]:
        return metadata(find(name, version))

    @app.get("/healthz", tags=["health"])
    async def live() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"])
    async def ready() -> dict[str, Any]:
        """Readiness: every model is loaded (they are, once the app exists)."""
        versions = {name: status(model)["model_version_status"] for name, model in served.items()}
        return {"ready": True, "models": versions}

    return app
