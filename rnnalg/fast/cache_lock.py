"""numba's disk cache shared by processes: a function's cache index read and rewritten under a lock,
and one process at a time compiling a function for the cache.

numba keeps a cached function's machine code in numbered data files beside an index, signature ->
data file (numba.core.caching.IndexDataCacheFile).  Its `save` reads the index, takes the first
free number, rewrites the index, then writes the data file, with no lock: two processes saving
one function at once (a sweep's trials, the test suite's two workers on one cache) both take
number 1, and the index that wins can name the other's machine code, compiled for another
signature, which a later process then loads and runs.  `install()` makes `save` hold an
exclusive lock on `<index>.lock` (fcntl.flock) and `load` a shared one, so an index entry and its
data file change together and are read together.  And a cached function's `compile` (numba's
dispatcher: look in the cache, else compile and save) holds `<index>.compile.lock`, so a process
that wants what another is compiling waits and then loads it instead of compiling it too.  That
lock is taken inside numba's own compiler lock (one thread of a process compiles at a time), and
a compile nests only the compiles of what the function calls, so the locks are always taken in
call order (no cached function of rnnalg calls one that calls it back): no two processes wait
on each other.  A process that dies holding a lock releases it (the kernel drops a dead
process's flocks).

Without fcntl (Windows), where a lock file cannot be created (a read-only cache, where numba
writes nothing either) or locked (a file system without locks), numba's own behaviour.  Every
rnnalg module that compiles with cache=True calls `install()` first.
"""
from __future__ import annotations

import contextlib
import functools
import os

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

LOCK_SUFFIX = ".lock"  # beside numba's <function>-<line>.pyXY.nbi: its index and data files
COMPILE_SUFFIX = ".compile.lock"  # beside it: compiling the function
_installed: list = []
_compiling: set = set()  # the index paths whose compile lock this process holds


@contextlib.contextmanager
def _held(index_path, operation, suffix=LOCK_SUFFIX):
    """`operation` (fcntl.LOCK_EX / LOCK_SH) on `index_path` + `suffix` for the block; no lock where
    that file cannot be opened or created."""
    try:
        fd = os.open(f"{index_path}{suffix}", os.O_RDWR | os.O_CREAT, 0o666) if index_path else None
    except OSError:
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, operation)
            except OSError:  # a file system without locks (some network ones): numba's way
                pass
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


def _compiling_alone(compile):
    @functools.wraps(compile)
    def locked(self, sig):
        from numba.core.compiler_lock import global_compiler_lock
        index_path = getattr(getattr(getattr(self, "_cache", None), "_cache_file", None), "_index_path", None)
        with global_compiler_lock:  # reentrant; this process's compiling under it, so one set serves
            if index_path is None or index_path in _compiling:  # not cached; or inside its own compile
                return compile(self, sig)
            with _held(index_path, fcntl.LOCK_EX, COMPILE_SUFFIX):
                _compiling.add(index_path)
                try:
                    return compile(self, sig)
                finally:
                    _compiling.discard(index_path)
    return locked


def install() -> bool:
    """numba's cache index saved under an exclusive lock and loaded under a shared one, and a cached
    function compiled by one process at a time, once per process; -> whether the locks are in place
    (False without fcntl)."""
    if not _installed:
        if fcntl is None:
            return False
        try:  # numba's internals: a numba without them keeps its own behaviour
            from numba.core.caching import IndexDataCacheFile
            from numba.core.dispatcher import Dispatcher
            IndexDataCacheFile.save, IndexDataCacheFile.load, Dispatcher.compile  # noqa: B018
        except (ImportError, AttributeError):
            return False
        IndexDataCacheFile.save = _under(fcntl.LOCK_EX, IndexDataCacheFile.save)
        IndexDataCacheFile.load = _under(fcntl.LOCK_SH, IndexDataCacheFile.load)
        Dispatcher.compile = _compiling_alone(Dispatcher.compile)
        _installed.append(True)
    return True
