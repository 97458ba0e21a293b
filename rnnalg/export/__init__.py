"""`rnnalg export`: the same program for another framework (PyTorch, JAX, ONNX).

    rnnalg.export(program, "torch", "dots_torch.py", params=None)

Each target is one module with a rule table per op (like `rnnalg/lower/rules.py`); the
framework itself is imported only by the generated code (torch, jax) or lazily by the target
(onnx), never by this package or the rest of rnnalg.
"""
from __future__ import annotations

import importlib
import sys
import types

from ..errors import UsageError

# target -> (module in rnnalg.export, function name, the extra that installs its framework);
# modules are imported on first use.
TARGETS = {
    "torch": ("torch_", "export_torch", "export-torch"),
    "jax": ("jax_", "export_jax", "export-jax"),
    "onnx": ("onnx_", "export_onnx", "export-onnx"),
}


def export(program, target: str, path, params=None):
    """Write `program` for `target` ('torch' | 'jax' | 'onnx') to `path`.

    params: None (the generated code initialises like rnnalg) or a dict of numpy arrays keyed
    by rnnalg's names (`model.init_params`, a checkpoint): written beside `path` for torch
    (a state_dict file) and jax (an .npz), as initialisers for onnx.  -> the paths written."""
    if target not in TARGETS:
        raise UsageError(f"export: unknown target {target!r} (choose from {', '.join(TARGETS)})")
    module_name, function_name, extra = TARGETS[target]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{module_name}":
            raise UsageError(f"export: the {target} target is not part of this rnnalg") from None
        if err.name and not err.name.startswith("rnnalg"):  # the target imports its framework itself
            raise UsageError(f"export --to {target} needs {err.name}: pip install 'rnnalg[{extra}]'") from None
        raise
    written = getattr(module, function_name)(program, path, params=params)
    return list(written) if isinstance(written, (list, tuple)) else [written or path]


class _CallableModule(types.ModuleType):
    """`rnnalg.export(...)` calls `export`: the package and the function share one name, and a
    plain function bound there would be replaced by the package on its first import."""

    def __call__(self, program, target, path, params=None):
        return export(program, target, path, params=params)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["export", "TARGETS"]
