"""The fast backend's cold compile: each helper a kernel calls compiles once per dtype, not once per
layout of its operands (rnnalg/fast/numba_retype.py), and `X[t] = y` in a kernel runs through the
row loops, without numba's shape-mismatch message (~3 CPU s of string formatting per process,
linked into every kernel that has such a line)."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.testing import random_batch

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def defined(dispatcher) -> list:
    """The functions defined in the LLVM module of `dispatcher`'s one compiled signature."""
    ir = next(iter(dispatcher.inspect_llvm().values()))
    return re.findall(r'^define[^@]*@"?([^"(\s]+)', ir, re.M)


def test_a_helper_compiles_once_for_every_layout_of_its_operands():
    from numba import njit

    from rnnalg.fast.numba_gemm import _dot_into
    from rnnalg.fast.numba_rows import _add_into, _iadd

    @njit
    def layouts(c, view, f, out):  # C, 'A' (a column slice) and 'F' (a transpose) operands
        _add_into(c, c, out)
        _add_into(view, c, out)
        _add_into(c, f, out)
        _add_into(f, view, out)
        c = _iadd(c, view)
        view = _iadd(view, f)
        _dot_into(c, f, out)
        _dot_into(view, c, out)
        return c

    rng = np.random.default_rng(0)
    c, wide, out = rng.standard_normal((3, 3)), rng.standard_normal((3, 6)), np.empty((3, 3))
    f, view = np.asfortranarray(rng.standard_normal((3, 3))), wide[:, 1:4]
    expected_c = c + view
    expected_view = view + f
    assert layouts(c, view, f, out) is c  # x op= y: the very array, in place
    np.testing.assert_array_equal(c, expected_c)
    np.testing.assert_array_equal(view, expected_view)
    np.testing.assert_allclose(out, expected_view @ c, rtol=1e-14)
    names = defined(layouts)
    into = [n for n in names if "into_typed" in n and "_add" in n]
    in_place = [n for n in names if "in_place_typed" in n and "_add" in n]
    dots = [n for n in names if "_dot_into_typed" in n]
    assert (len(into), len(in_place), len(dots)) == (1, 1, 1), (into, in_place, dots)


def test_set_at_copies_a_row_like_numpy():
    from numba import njit

    from rnnalg.fast.numba_rows import _set_at

    @njit
    def assign(X, y, spaced, row, number):
        _set_at(X, 0, y)  # contiguous rows
        _set_at(X, 1, spaced)  # strided rows
        _set_at(X, 2, row)  # a (1, W) row broadcast
        _set_at(X, 3, number)  # a number: numba's own assignment

    rng = np.random.default_rng(1)
    X, y = np.zeros((4, 3, 5), np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    spaced, row = rng.standard_normal((3, 10)).astype(np.float32)[:, ::2], np.arange(5, dtype=np.float32)[None]
    assign(X, y, spaced, row, 2.5)
    expected = np.zeros_like(X)
    expected[0], expected[1], expected[2], expected[3] = y, spaced, row, 2.5
    np.testing.assert_array_equal(X, expected)
    with pytest.raises(ValueError, match="broadcast"):
        assign(X, y[:2, :4], spaced, row, 2.5)


def test_kernel_text_assigns_rows_through_the_helper():
    from rnnalg.fast.backend import kernel_module_text
    source = ("def _scan_backward(T, B, G, S, g, t0, t1):\n"
              "    for t in range(t1 - 1, t0 - 1, -1):\n"
              "        G[t - t0] = g * S[t]\n"
              "        G[t, 0] = 1.0\n")
    body = kernel_module_text(source).split("def _scan_backward")[1]
    assert "_set_at(G, t - t0, _mul(g, S[t]))" in body
    assert "G[t, 0] = 1.0" in body  # a tuple index stays numba's


def test_an_lstm_kernel_has_no_shape_mismatch_message(tmp_path, monkeypatch):
    """examples/lstm.rnn's reverse scan has `G_f_a[t - t0] = g_f_a`.  Its kernels compile here, into
    an empty cache: a kernel module another test of this process loaded (test_fast_compiles.py's
    lstm) is left aside, for numba cannot show the LLVM of code it loaded from a cache."""
    monkeypatch.setenv(fast.backend.CACHE_ENV, str(tmp_path))
    for name in [name for name in sys.modules if name.startswith("rnnalg_kernels_")]:
        monkeypatch.delitem(sys.modules, name)
    program = rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": 6})  # test_fast_backend.py's H: its kernels
    source = rnnalg.compile(program, backend="numpy").source
    assert "G_f_a[t - t0] = g_f_a" in source
    model = rnnalg.compile(program, np.float64, "fast")
    batch = random_batch(program, 3, 2, np.random.default_rng(0))
    params = model.init_params(np.random.default_rng(0))
    loss, grads, _ = model.loss_and_grad(params, batch)
    expected_loss, expected_grads, _ = rnnalg.compile(program, np.float64, "numpy").loss_and_grad(params, batch)
    assert abs(loss - expected_loss) <= 1e-12 * abs(expected_loss)
    assert all(np.allclose(grads[k], expected_grads[k], rtol=1e-12, atol=1e-15) for k in expected_grads)
    names = defined(model._module["_scan_backward"].compiled)
    assert any("_scan_backward" in n for n in names)
    assert not any("raise_with_shape_context" in n for n in names)


def test_compile_time_bench_prints_a_row_per_spec_and_dtype(monkeypatch, capsys):
    """bench/compile_time.py's table (its children, which compile for seconds, stubbed)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("compile_time", EXAMPLES.parent / "bench" / "compile_time.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = []

    def first_calls(path, dtype, sizes, cache):
        calls.append((path.name, dtype, sizes, cache))
        return [0.5, 10.0, 1.25] if len(calls) % 2 else [0.25, 0.02, 0.01]
    monkeypatch.setattr(bench, "first_calls", first_calls)
    assert bench.main(["--specs", "rnn,lstm", "--dtypes", "float32,float64", "--batch-sizes", "4,16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| spec | dtype | cold load s | cold B=4 s | cold B=16 s | cold total s "
                        "| cached total s |")
    assert lines[2] == "| rnn | float32 | 0.50 | 10.00 | 1.25 | 11.75 | 0.28 |"
    assert [line.split(" | ")[:2] for line in lines[2:]] == [["| rnn", "float32"], ["| rnn", "float64"],
                                                            ["| lstm", "float32"], ["| lstm", "float64"]]
    assert [c[0] for c in calls] == ["rnn.rnn"] * 4 + ["lstm.rnn"] * 4  # cold, then cached, per dtype
    assert calls[0][3] == calls[1][3] != calls[2][3]  # the cached run reads the cold run's caches
