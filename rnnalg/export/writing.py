"""Files an exporter writes (all or none, atomically; an OSError as a UsageError naming the path), and the
lazy import of a framework that only one step of an export needs."""
from __future__ import annotations

import importlib
from pathlib import Path

from ..atomic import write_atomic_all
from ..errors import UsageError


def write_all(files: dict) -> list:
    """Write {path: bytes or str} all or none (`atomic.write_atomic_all`: an error or Ctrl-C
    leaves no file of the set, so no module without its parameters); -> the paths."""
    blobs = {Path(path): data.encode("utf-8") if isinstance(data, str) else data for path, data in files.items()}
    try:
        write_atomic_all(blobs)
    except OSError as err:
        raise UsageError(f"cannot write {err.filename or next(iter(blobs))}: {err.strerror or err}") from None
    return list(blobs)


def require_framework(module: str, extra: str, why: str):
    """Import `module` (torch, jax, onnx...) or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"export: {module} is needed to {why}; install it with "
                         f"pip install 'rnnalg[{extra}]'") from None
