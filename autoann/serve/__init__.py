"""Serving, a run directory -> TF Serving's REST API v1 over HTTP (``autoann serve``).

Needs the ``serve`` extra (``pip install "autoann[serve]"``: FastAPI and
uvicorn), imported only when an app is made, so ``import autoann.serve`` always
works and a missing extra gets a message saying how to install it. Predictions
go through :mod:`autoann.predict`, the code path of ``autoann predict``.
"""

from autoann.serve._app import create_app, load_models
from autoann.serve._batching import Batcher
from autoann.serve._protocol import RequestError, ServedModel
from autoann.serve._server import model_dirs, serve

__all__ = [
    "Batcher",
    "RequestError",
    "ServedModel",
    "create_app",
    "load_models",
    "model_dirs",
    "serve",
]
