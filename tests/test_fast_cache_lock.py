"""rnnalg/fast/cache_lock.py: two processes saving one function into numba's cache at once keep
both entries, each naming its own data; every rnnalg module that compiles with cache=True installs
the lock before it does."""
import ast
import threading
import time
from pathlib import Path

import pytest

numba_caching = pytest.importorskip("numba.core.caching")
ROOT = Path(__file__).resolve().parents[1]


def test_two_savers_at_once_keep_both_entries_each_naming_its_own_data(tmp_path, monkeypatch):
    from rnnalg.fast import cache_lock
    assert cache_lock.install()
    index_file = numba_caching.IndexDataCacheFile
    read_index = index_file._load_index

    def slow_read(self):  # both savers read the index before either rewrites it, unless one waits
        overloads = read_index(self)
        time.sleep(0.3)
        return overloads

    monkeypatch.setattr(index_file, "_load_index", slow_read)
    stamp = (1.0, 10)
    savers = [threading.Thread(target=index_file(str(tmp_path), "f-1.py311", stamp).save, args=(key, f"code {key}"))
              for key in ("float32", "float64")]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    fresh = index_file(str(tmp_path), "f-1.py311", stamp)
    assert [fresh.load(key) for key in ("float32", "float64")] == ["code float32", "code float64"]
    assert (tmp_path / f"f-1.py311.nbi{cache_lock.LOCK_SUFFIX}").exists()


def _lines(tree, wanted) -> list:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and wanted(node)]


def test_each_module_that_compiles_with_cache_installs_the_lock_first():
    """In each rnnalg module, a `cache_lock.install()` call comes before its first call with cache=True
    (the kernel modules backend.py writes import numba_gemm and numba_prelude before their njit)."""
    caching = lambda call: any(k.arg == "cache" and getattr(k.value, "value", None) is True for k in call.keywords)
    installs = lambda call: ast.unparse(call.func).endswith("cache_lock.install")
    compiling, late = [], []
    for path in sorted((ROOT / "rnnalg").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if _lines(tree, caching):
            compiling.append(path.name)
            if min(_lines(tree, installs), default=float("inf")) > min(_lines(tree, caching)):
                late.append(path.name)
    assert {"numba_prelude.py", "numba_gemm.py", "optional_loop.py", "normals.py"} <= set(compiling)
    assert late == []


def test_an_unwritable_cache_folder_saves_as_numba_does_without_the_lock(tmp_path):
    from rnnalg.fast import cache_lock
    cache_lock.install()
    with cache_lock._held(str(tmp_path / "missing" / "f.nbi"), cache_lock.fcntl.LOCK_EX):
        pass  # no lock file can be made there: no error from the lock itself
    assert not (tmp_path / "missing").exists()
