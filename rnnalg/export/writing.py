"""Files an exporter writes (atomically, an OSError as a UsageError naming the path), and the
lazy import of a framework that only one step of an export needs."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..atomic import write_atomic
from ..errors import UsageError


def write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` in one rename; -> path."""
    path = Path(path)
    target = os.path.abspath(path)
    try:
        write_atomic(os.path.dirname(target), os.path.basename(target), lambda f: f.write(data))
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def require_framework(module: str, extra: str, why: str):
    """Import `module` (torch, jax, onnx...) or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"export: {module} is needed to {why}; install it with "
                         f"pip install 'rnnalg[{extra}]'") from None
