"""The lowering's in-place forms (issue 21, plain cells at B=64): the prelude helpers that make
fewer temporaries compute the very numbers of the expressions they replace, and a gradient is
added to in place only where it holds its own new array."""
import re
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.lower import prelude
from rnnalg.lower.backward import _is_product

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(params=[np.float32, np.float64])
def arrays(request):
    rng = np.random.default_rng(0)
    dt = request.param
    a = (rng.normal(size=(5, 3, 7)) * 4).astype(dt)
    a[0, 0, :3] = [0.0, 40.0, -40.0]  # σ(±40) rounds to 1 and 0 in float32
    y = (rng.random((5, 3, 7)) < 0.3).astype(dt)
    return a, y


def test_helpers_are_bitwise_the_expressions_they_replace(arrays):
    a, y = arrays
    out = np.tanh(a)
    g = np.random.default_rng(1).normal(size=a.shape).astype(a.dtype)
    prob = 0.5 * (1.0 + np.tanh(0.5 * a))
    assert np.array_equal(prelude._sigmoid(a), prob)
    assert np.array_equal(prelude._tanh_deriv(out), 1 - out * out)
    assert np.array_equal(prelude._sigmoid_deriv(prob), prob * (1 - prob))
    assert np.array_equal(prelude._tanh_grad(g, out), g * (1 - out * out))
    for v in (a, out, g, y):  # and none of them wrote over an argument
        assert np.isfinite(v).all()
    assert np.array_equal(prob, 0.5 * (1.0 + np.tanh(0.5 * a)))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("aliased", [False, True])
def test_relu_into_is_bitwise_maximum_against_zero(dt, aliased):
    """_relu_into (a zero row, not the scalar 0) writes np.maximum(a, 0) bit for bit: −0 -> +0, each
    NaN with its sign and payload, ±inf; into a separate buffer or over `a` itself."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 6, 9)).astype(dt)
    flat = a.reshape(-1)
    flat[::5], flat[1::7], flat[2::11], flat[3::13] = -0.0, 0.0, np.nan, -np.nan
    flat[4], flat[6] = -np.inf, np.inf
    expect = np.maximum(a, 0)
    out = a if aliased else np.full_like(a, 7)
    prelude._relu_into(a, out)
    assert out.tobytes() == expect.tobytes()
    assert np.signbit(out[a == 0]).sum() == 0 and np.isnan(out).sum() == np.isnan(expect).sum() > 0


@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft targets"])
def test_binary_nll_and_its_gradient_from_one_tanh(arrays, soft):
    """_binary_nll_grad: the terms of the one-line expression bit for bit (their sum over units is a
    product with a vector of ones, to rounding numpy's sum) and d/da (σ − y) · scale bit for bit as
    `(prob - y) * scale`; a and y unchanged."""
    a, y = arrays
    if soft:
        y = np.random.default_rng(2).random(a.shape).astype(a.dtype)
    a0, y0 = a.copy(), y.copy()
    scale = (np.random.default_rng(3).random(a.shape[:-1] + (1,)) < 0.8).astype(a.dtype) / 9.0
    prob = 0.5 * (1.0 + np.tanh(0.5 * a))
    terms = np.maximum(a, 0) - a * y - np.log(np.maximum(prob, 1 - prob))
    rtol = 1e-14 if a.dtype == np.float64 else 1e-6
    nll, g = prelude._binary_nll_grad(a, y, scale)
    assert nll.shape == a.shape[:-1] and nll.dtype == a.dtype
    assert np.array_equal(nll, prelude._row_sums(terms))
    np.testing.assert_allclose(nll, terms.sum(axis=-1), rtol=rtol)
    assert np.array_equal(prelude._binary_nll(a, y), nll)
    assert np.array_equal(g, (prob - y) * scale)
    assert np.array_equal(a, a0) and np.array_equal(y, y0)
    number = 1.0 / 9.0  # an unmasked batch's scale: one number, the same numbers as an array of it
    assert np.array_equal(prelude._binary_nll_grad(a, y, number)[1], (prob - y) * np.full_like(scale, number))


def test_sums_as_products_are_numpy_sums(arrays):
    """_row_sums (last axis) and _bias_grad (all leading axes), also of a strided view."""
    a, _ = arrays
    rtol = 1e-14 if a.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(prelude._row_sums(a), a.sum(axis=-1), rtol=rtol)
    for g in (a, a[:1], a[:, :, ::2]):
        got = prelude._bias_grad(g)
        assert got.shape == (g.shape[-1],) and got.dtype == g.dtype
        np.testing.assert_allclose(got, g.sum(axis=(0, 1)), rtol=rtol, atol=rtol * np.abs(g).sum(axis=(0, 1)).max())


def test_tanh_grad_broadcasts_where_shapes_differ(arrays):
    """g (T, B, W) against a value held once per sequence (1, B, W): a new (T, B, W) array."""
    a, _ = arrays
    out = np.tanh(a[:1])
    assert np.array_equal(prelude._tanh_grad(a, out), a * (1 - out * out))
    assert np.array_equal(prelude._tanh_grad(a[:1], np.tanh(a)), a[:1] * (1 - np.tanh(a) ** 2))


@pytest.mark.parametrize("contiguous", [True, False])
def test_affine_into_writes_the_product_into_place(monkeypatch, contiguous):
    """The first dense term's product goes straight into `out` (a contiguous piece) with the very
    numbers of the copy it replaces; a strided `out` takes the copy; later terms add."""
    monkeypatch.setattr(prelude, "ROW_CHUNK", 8)  # several pieces of 2 steps × 4 rows
    rng = np.random.default_rng(0)
    x, u = rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4, 2))
    w, v, b = rng.normal(size=(3, 6)), rng.normal(size=(2, 6)), rng.normal(size=6)
    whole = np.empty((5, 4, 12 if not contiguous else 6))
    out = whole[:, :, :6]
    assert out.flags.c_contiguous == contiguous
    prelude._affine_into(out, b, (x, w), (u, v))
    expected = np.empty_like(out)
    for t in range(5):
        expected[t] = x[t] @ w
        expected[t] += b
        expected[t] += u[t] @ v
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("V", [5, 400])
def test_affine_into_writes_token_rows_into_place(monkeypatch, dt, V):
    """A first term of token ids goes into `out` by np.take (the table biased first where it has fewer
    rows than there are ids) with the very numbers of `w[x]` plus the bias; a strided `out` takes the
    copy; an id out of range is w[x]'s IndexError."""
    monkeypatch.setattr(prelude, "ROW_CHUNK", 8)  # several pieces of 2 steps × 4 rows
    rng = np.random.default_rng(V)
    T, B, W = 5, 4, 6
    ids = rng.integers(-V, V, (T, B))  # negative ids read from the end, as w[x] does
    w, b = (rng.normal(size=(V, W)) * 3).astype(dt), rng.normal(size=W).astype(dt)
    u, v = rng.normal(size=(T, B, 2)).astype(dt), rng.normal(size=(2, W)).astype(dt)
    table, biased = prelude._token_lookup(np.empty((T, B, W), dt), b, ids, w)
    assert biased == (V < T * B) and table.shape == (V, W)
    for contiguous in (True, False):
        whole = np.empty((T, B, W if contiguous else 2 * W), dt)
        out = whole[:, :, :W]
        prelude._affine_into(out, b, (ids, w), (u, v))
        expected = np.empty_like(out)
        for t in range(T):
            expected[t] = w[ids[t]]
            expected[t] += b
            expected[t] += u[t] @ v
        assert out.tobytes() == np.ascontiguousarray(expected).tobytes()
    with pytest.raises(IndexError):
        prelude._affine_into(np.empty((T, B, W), dt), b, (np.full((T, B), V), w))


def test_is_product_is_one_whole_call():
    assert _is_product("_mm(g_y_a, y_W_o.T)") and _is_product("_mm(_per_sequence(g), w)")
    assert not _is_product("_mm(a, w) + _mm(b, v)") and not _is_product("_mm(a, w)[0]")
    assert not _is_product("dlogits") and not _is_product("_mmT(a, g)") and not _is_product("g * _mm(a, w)")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.rnn")), ids=lambda p: p.stem)
def test_in_place_gradient_sums_start_from_a_fresh_product(path):
    """`g += …` outside the buffers: g was bound, in the same body, to a new `_mm(…)` result that
    no other name refers to (an alias would see the sum)."""
    source = rnnalg.compile(rnnalg.load_program(path, {"H": 6}), np.float32, backend="numpy").source
    body = source.split("def loss_and_grad")[1]
    lines = body.splitlines()
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\s*(g_\w+|gpost_\w+) \+= (.*)", line)
        if not m or "[" in m.group(1):
            continue
        name = m.group(1)
        binding = [ln for ln in lines[:i] if re.fullmatch(rf"\s*{name} = .*", ln)][-1]
        assert _is_product(binding.split(" = ", 1)[1]), (path.stem, binding, line)
        aliases = [ln for ln in lines[:i] if re.search(rf"= {name}\s*$", ln)]
        assert not aliases, (path.stem, aliases)
