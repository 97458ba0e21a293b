"""Lowering: IR -> numpy module text (`emit_module`) -> a callable `Model`."""
from .emit import emit_module

__all__ = ["emit_module"]
