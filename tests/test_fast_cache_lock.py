"""rnnalg/fast/cache_lock.py: two processes saving one function into numba's cache at once keep
both entries, each naming its own data; every rnnalg module that compiles with cache=True installs
the lock before it does."""
import ast
import os
import subprocess
import sys
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


COMPILER = """\
import os, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
if sys.argv[2] == "locked":
    from rnnalg.fast import cache_lock
    cache_lock.install()
sys.path.insert(0, str(folder))
from work import f
(folder / f"ready.{os.getpid()}").touch()
while len(list(folder.glob("ready.*"))) < 2:  # both processes call f at once
    time.sleep(0.001)
f(3.0)
print(sum(f._cache_misses.values()))
"""
WORK = """\
import math
from numba import njit

@njit(cache=True)
def f(x):
    total = 0.0
    for i in range(100):
        total += math.tanh(x * i) + math.exp(-x * i) * math.sin(i) + math.log1p(abs(x) + i)
    return total
"""


def test_two_processes_wanting_one_uncached_function_at_once_compile_it_once(tmp_path):
    """The second waits for the first's compile and loads it from the cache."""
    (tmp_path / "work.py").write_text(WORK)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", COMPILER, str(tmp_path), "locked"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), results
    assert sorted(int(out) for out, _ in results) == [0, 1]  # one compiled, the other loaded


def test_the_suites_xdist_workers_share_one_kernel_cache(tmp_path):
    """conftest.py: what one worker compiled the other loads (the locks above make that safe)."""
    def caches(worker):
        env = {k: v for k, v in os.environ.items() if k not in ("RNNALG_CACHE", "NUMBA_CACHE_DIR", "NUMBA_OPT",
                                                                 "RNNALG_TESTS_OWN_CACHES")}
        script = "import os, conftest; print(os.environ['RNNALG_CACHE'], os.environ['NUMBA_CACHE_DIR'])"
        run = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "tests", capture_output=True, text=True,
                             env={**env, "PYTEST_XDIST_WORKER": worker, "XDG_CACHE_HOME": str(tmp_path)}, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert caches("gw0") == caches("gw1") == [str(tmp_path / "rnnalg-tests" / "shared"),
                                              str(tmp_path / "rnnalg-tests" / "shared" / "numba")]
