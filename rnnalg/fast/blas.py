"""numpy's own BLAS, found for the compiled kernels (plain Python; `numba_gemm.py` calls it).

numba's `np.dot` calls scipy's OpenBLAS, a second library beside numpy's, and not the same build:
here (scipy 1.17's OpenBLAS 0.3.30, numpy 2.4's 0.3.31, both Haswell kernels) a step's product
`h @ W` at B=16, 200×800 takes 91 µs through numba's call against 55 µs in numpy (one thread,
CPU time; `bench/README.md`, "LSTM").  So the kernels call numpy's library's `cblas_?gemm`,
its symbol made visible to LLVM's linker by name (numba's cache keeps the name, not an address).
Only the ILP64 builds numpy's wheels ship (symbols ending `64_`, 64-bit integers) are used;
anywhere else `find()` is None and the kernels keep numba's `np.dot`.
"""
from __future__ import annotations

import functools
from pathlib import Path

# symbol prefixes of numpy's wheels (numpy ≥ 2: scipy-openblas64; numpy 1.2x: openblas64_)
PREFIXES = ("scipy_cblas_", "cblas_")
SUFFIX = "64_"


@functools.lru_cache(maxsize=None)
def find() -> dict | None:
    """{'sgemm': symbol, 'dgemm', 'sgemv', 'dgemv', 'path': the library} of numpy's BLAS, loaded into
    LLVM's symbol space; None where there is no such library (then numba's np.dot is used)."""
    path = _numpy_blas_path()
    if path is None:
        return None
    from llvmlite import binding
    try:
        binding.load_library_permanently(path)
    except RuntimeError:
        return None
    for prefix in PREFIXES:
        names = {f"{kind}{op}": f"{prefix}{kind}{op}{SUFFIX}" for kind in "sd" for op in ("gemm", "gemv")}
        if all(binding.address_of_symbol(name) for name in names.values()):
            return {**names, "path": path}
    return None


def _numpy_blas_path() -> str | None:
    """The file of the BLAS numpy loaded (threadpoolctl reads the process's loaded libraries)."""
    import numpy  # noqa: F401  (loads its BLAS)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if "numpy" in Path(lib.filepath).parent.name:
            return lib.filepath
    return None
