"""bench/gemm_layouts.py: every layout variant runs the same multiply-adds as today's, and the table
(in process, and in child processes per OPENBLAS_CORETYPE) has a row per variant, today's at 1.000."""
import collections
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def layouts():
    sys.path.insert(0, str(ROOT / "bench"))  # it imports bench/floor.py as `floor`
    spec = importlib.util.spec_from_file_location("bench_gemm_layouts", ROOT / "bench" / "gemm_layouts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(ROOT / "bench"))


class _Counting:
    """`np` for the script's calls: np.dot and np.matmul add 2·M·K·N of each product to `flops`."""

    def __init__(self):
        self.flops = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def _count(self, fn, a, b, out=None):
        self.flops += 2 * np.size(out) * a.shape[-1]
        return fn(a, b, out=out)

    def dot(self, a, b, out=None):
        return self._count(np.dot, a, b, out)

    def matmul(self, a, b, out=None):
        return self._count(np.matmul, a, b, out)


@pytest.fixture
def one_blas_thread():
    """The script's many small products on one BLAS thread (two spin against each other on a busy machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.mark.parametrize("B, K, N", [(1, 200, 800), (1, 200, 200), (4, 200, 800)])
def test_every_variant_runs_todays_multiply_adds(layouts, monkeypatch, one_blas_thread, B, K, N):
    counting = _Counting()
    monkeypatch.setattr(layouts, "np", counting)
    rng = np.random.default_rng(0)
    for family, variants in layouts.VARIANTS.items():
        work = {}
        for name, _, make in variants:
            call = make(rng, np.float32, B, K, N)
            if call is None:  # gemv at B > 1, one product per gate at N = K
                assert name.startswith("gemv") and B > 1 or name == "split" and N <= K
                continue
            counting.flops = 0
            call()
            work[name] = counting.flops
        expected = (2 * layouts.T * B * K * N if family != "weights" else
                    2 * (K + layouts.X_WIDTH) * N * layouts.T * B)
        assert work["today"] == expected and set(work.values()) == {expected}, (family, work)


def test_the_table_has_every_variant_and_todays_ratio_is_one(layouts, capsys, one_blas_thread):
    assert layouts.main(["--cells", "RNN", "-B", "1", "--rounds", "1", "--repeats", "1", "--clock", "cpu"]) == 0
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and not line.startswith("| BLAS")]
    by_family = collections.defaultdict(list)
    for kernels, cell, B, family, shape, variant, ms, ratio, saving in rows:
        assert (cell, B) == ("RNN", "1") and float(ms) > 0
        by_family[family].append((variant, ratio, saving))
    assert set(by_family) == {"forward", "backward", "weights", "whole floor"}
    for family in ("forward", "backward", "weights"):  # gemv runs at B = 1; one product per gate needs N > K
        expected = [label for name, label, _ in layouts.VARIANTS[family] if name != "split"]
        assert [v for v, _, _ in by_family[family]] == expected
        today = by_family[family][0]
        assert today[1] == "1.000" and today[2].endswith("%")


def test_coretype_lines_come_from_child_processes(layouts, capsys, monkeypatch):
    """One line set per core type, each from a child with OPENBLAS_CORETYPE set (the environment's first;
    Nehalem: SSE kernels, which any x86-64 runs)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    core = os.environ.get("OPENBLAS_CORETYPE", "")
    assert layouts.main(["--cells", "RNN", "-B", "1", "--rounds", "1", "--repeats", "1", "--clock", "cpu",
                         "--coretype", "Nehalem"]) == 0
    kinds = {line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines()
             if line.startswith("| ") and not line.startswith("| BLAS")}
    assert kinds == {f"{core or 'default'} (child)", "Nehalem (child)"}
