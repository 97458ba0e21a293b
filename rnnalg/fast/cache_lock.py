"""numba's disk cache shared by processes: a function's cache index read and rewritten under a lock.

numba keeps a cached function's machine code in numbered data files beside an index, signature ->
data file (numba.core.caching.IndexDataCacheFile).  Its `save` reads the index, takes the first
free number, rewrites the index, then writes the data file, with no lock: two processes saving
one function at once (a sweep's trials, the test suite's two workers on one cache) both take
number 1, and the index that wins can name the other's machine code, compiled for another
signature, which a later process then loads and runs.  `install()` makes `save` hold an
exclusive lock on `<index>.lock` (fcntl.flock) and `load` a shared one, so an index entry and its
data file change together and are read together.  Without fcntl (Windows), or where the lock
file cannot be created (a read-only cache, where numba writes nothing either), numba's own
behaviour.  Every rnnalg module that compiles with cache=True calls `install()` first.
"""
from __future__ import annotations

import contextlib
import functools
import os

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

LOCK_SUFFIX = ".lock"  # beside numba's <function>-<line>.pyXY.nbi
_installed: list = []


@contextlib.contextmanager
def _held(index_path, operation):
    """`operation` (fcntl.LOCK_EX / LOCK_SH) on `index_path`.lock for the block; no lock where that
    file cannot be opened or created."""
    try:
        fd = os.open(f"{index_path}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o666) if index_path else None
    except OSError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, operation)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _under(operation, method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _held(getattr(self, "_index_path", None), operation):
            return method(self, *args, **kwargs)
    return locked


def install() -> bool:
    """numba's cache index saved under an exclusive lock and loaded under a shared one, once per
    process; -> whether the locks are in place (False without fcntl)."""
    if not _installed:
        if fcntl is None:
            return False
        from numba.core.caching import IndexDataCacheFile
        IndexDataCacheFile.save = _under(fcntl.LOCK_EX, IndexDataCacheFile.save)
        IndexDataCacheFile.load = _under(fcntl.LOCK_SH, IndexDataCacheFile.load)
        _installed.append(True)
    return True
