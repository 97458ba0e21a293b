"""The optional fast backend (extra `fast`: numba): the emitted scan kernels compiled."""
from .backend import MAX_BATCH, by_batch, cache_dir, install_helpers, kernel_blas, load_kernels, unavailable_reason

__all__ = ["MAX_BATCH", "by_batch", "cache_dir", "install_helpers", "kernel_blas", "load_kernels", "unavailable_reason"]
