"""Run the serving app under uvicorn: ``autoann serve`` is a thin door onto :func:`serve`.

One worker process serves the app made here; ``workers > 1`` starts that many
processes with uvicorn's supervisor, each loading every model once from the
settings passed in :data:`SETTINGS_ENV` (uvicorn imports the app by name in
each worker).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

from autoann._extras import require
from autoann.errors import ParameterError
from autoann.serve._app import BATCH_TIMEOUT_MS, MAX_BATCH_SIZE, MAX_BODY_BYTES, check_model_name, create_app

SETTINGS_ENV = "AUTOANN_SERVE_SETTINGS"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def model_dirs(run_dirs: Sequence[str | Path] = (), named: Sequence[str] = ()) -> dict[str, Path]:
    """URL name -> run directory: a run directory is named after its folder, ``name=RUN_DIR`` names it."""
    pairs: list[tuple[str, Path]] = []
    for run_dir in run_dirs:
        folder = Path(run_dir).resolve().name
        pairs.append((re.sub(r"[^A-Za-z0-9_.\-]", "_", folder).lstrip("_.-") or "model", Path(run_dir)))
    for spec in named:
        name, sep, run_dir = spec.partition("=")
        if not sep or not name or not run_dir:
            raise ParameterError(f"--model takes NAME=RUN_DIR, e.g. --model penguins=runs/penguins; got {spec!r}.")
        pairs.append((check_model_name(name.strip()), Path(run_dir.strip())))
    if not pairs:
        raise ParameterError("No model to serve: pass a run directory (autoann serve RUN_DIR) or --model NAME=RUN_DIR.")
    models: dict[str, Path] = {}
    for name, run_dir in pairs:
        if name in models:
            raise ParameterError(f"Two models are named {name!r} ({models[name]} and {run_dir}); name them apart "
                                 "with --model NAME=RUN_DIR.")
        models[name] = run_dir
    return models


def app_from_environment():
    """The app of one worker process, from the settings :func:`serve` put in :data:`SETTINGS_ENV`."""
    settings = json.loads(os.environ[SETTINGS_ENV])
    return create_app(settings.pop("models"), **settings)


def serve(models: dict[str, str | Path], *, host: str = "127.0.0.1", port: int = 8501, workers: int = 1,
          max_batch_size: int = MAX_BATCH_SIZE, batch_timeout_ms: float = BATCH_TIMEOUT_MS,
          max_body_bytes: int = MAX_BODY_BYTES, log_level: str = "info") -> None:
    """Serve ``models`` (URL name -> run directory) on ``host:port`` until interrupted."""
    _, uvicorn = require("serve")
    if workers < 1 or not 0 < port < 65536:
        raise ParameterError(f"--workers must be >= 1 and --port in 1..65535; got {workers} and {port}.")
    settings: dict[str, Any] = {"max_batch_size": max_batch_size, "batch_timeout_ms": batch_timeout_ms,
                                "max_body_bytes": max_body_bytes}
    if workers == 1:
        config = uvicorn.Config(create_app(models, **settings), host=host, port=port, log_level=log_level)
    else:
        create_app(models, **settings)  # fail here, once, on a bad run directory or option, not in every worker
        os.environ[SETTINGS_ENV] = json.dumps({"models": {k: str(v) for k, v in models.items()}, **settings})
        config = uvicorn.Config(f"{__name__}:app_from_environment", factory=True, host=host, port=port,
                                workers=workers, log_level=log_level)
    announce = logging.getLogger("uvicorn.error")
    logging.getLogger("autoann.serve").handlers = announce.handlers
    logging.getLogger("autoann.serve").setLevel(announce.level)
    shown = f"[{host}]" if ":" in host else host
    for name, run_dir in models.items():
        announce.info("model %r (%s): POST http://%s:%d/v1/models/%s:predict", name, run_dir, shown, port, name)
    if host not in LOOPBACK:
        announce.warning("Listening on %s: anyone who can reach this address can call the models, without "
                         "authentication. Put a reverse proxy with TLS and authentication in front (docs/serving.md).",
                         host)
    if workers == 1:
        uvicorn.Server(config).run()
    else:
        uvicorn.run(config.app, factory=True, host=host, port=port, workers=workers, log_level=log_level)
