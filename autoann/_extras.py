"""Optional features and the extras that install them: a clear message instead of a bare ImportError."""

from __future__ import annotations

import importlib
from types import ModuleType

from autoann.errors import MissingDependencyError

#: extra name -> (what it is for, the modules it provides)
EXTRAS = {
    "serve": ("`autoann serve`", ("fastapi", "uvicorn")),
    "onnx": ("the ONNX export", ("tf2onnx", "onnxruntime")),
    "litert": ("the LiteRT export", ("ai_edge_litert",)),
}


def require(extra: str) -> list[ModuleType]:
    """Import the modules of ``extra`` (see :data:`EXTRAS`), or say which are missing and how to install them."""
    purpose, names = EXTRAS[extra]
    modules, missing = [], []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(
            f"{purpose} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed. "
            f'Install them with: pip install "autoann[{extra}]"')
    return modules
