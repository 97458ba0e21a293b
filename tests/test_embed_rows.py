"""Issue 21: the gradient of a token-indexed table, a scatter-add of g (n, W) into (V, W) at rows
`tokens`, by the prelude's `_add_rows_at` (passes over each row's r-th value) instead of np.add.at's
unbuffered loop.  Reference: np.add.at itself, bit for bit (the same sums in the same order,
((table[v] + g₁) + g₂) + …), on both sides of its cost rule, from a zero table (`_embed_grad`) and
into one already there (`_embed_acc`, the time blocks)."""
import numpy as np
import pytest

from rnnalg.lower import prelude

DTYPES = (np.float32, np.float64)
# (V, n): characters and words; every row the same; more rows than entries; one entry; none
SHAPES = [(50, 3200), (10_000, 700), (3, 400), (1, 33), (10_000, 1), (7, 0)]


def zipf_rows(rng, V, n):
    """n row numbers in [0, V) with repeats, a few rows frequent (as characters and words are)."""
    return (rng.zipf(1.3, n) - 1) % V


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(params=["passes", "rule"])
def way(request, monkeypatch):
    """`passes`: the passes whatever the size (small shapes too); `rule`: the cost rule picks."""
    if request.param == "passes":
        monkeypatch.setattr(prelude, "_rows_in_passes", lambda n, passes, width: True)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("V, n", SHAPES)
@pytest.mark.parametrize("width", [1, 5, 64])
def test_add_rows_at_is_add_at_bit_for_bit(way, dtype, V, n, width):
    rng = np.random.default_rng(V * 7919 + n * 31 + width)
    rows = zipf_rows(rng, V, n)
    values = (rng.standard_normal((n, width)) * rng.exponential(1.0, (n, 1))).astype(dtype)
    for start in (np.zeros((V, width), dtype), rng.standard_normal((V, width)).astype(dtype)):
        want, got = start.copy(), start.copy()
        np.add.at(want, rows, values)
        prelude._add_rows_at(got, rows, values)
        assert same_bits(got, want)


def test_signed_zeros_and_negative_rows_as_add_at(way):
    """−0 + −0 stays −0 where add.at keeps it; a negative row wraps around as in add.at."""
    values = np.array([[-0.0, 1.0], [-0.0, -1.0], [2.0, -0.0], [3.0, 0.5]], np.float32)
    for rows in (np.array([1, 1, 0, 1]), np.array([-1, 2, 2, 0])):
        want, got = np.full((3, 2), -0.0, np.float32), np.full((3, 2), -0.0, np.float32)
        np.add.at(want, rows, values)
        prelude._add_rows_at(got, rows, values)
        assert same_bits(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embed_grad_and_acc_are_add_at(way, dtype):
    """_embed_grad over (T, B) tokens, static (1, B) tokens meeting Σ_t g, and _embed_acc into the
    table of a block before: each np.add.at's numbers, bit for bit."""
    rng = np.random.default_rng(5)
    T, B, V, W = 40, 8, 50, 24
    tokens = zipf_rows(rng, V, T * B).reshape(T, B)
    g = rng.standard_normal((T, B, W)).astype(dtype)
    want = np.zeros((V, W), dtype)
    np.add.at(want, tokens.reshape(-1), g.reshape(-1, W))
    assert same_bits(prelude._embed_grad((V, W), tokens, g), want)

    static = tokens[:1]
    want_static = np.zeros((V, W), dtype)
    np.add.at(want_static, static[0], g.sum(axis=0))
    got_static = prelude._embed_grad((V, W), static, g)
    assert same_bits(got_static, want_static)
    by_loop = np.zeros((V, W), np.float64)
    for t in range(T):
        for b in range(B):
            by_loop[static[0, b]] += g[t, b]
    np.testing.assert_allclose(got_static, by_loop, rtol=1e-5, atol=1e-5)

    grads = {}
    prelude._embed_acc(grads, "E", (V, W), tokens[20:], g[20:])  # the later block first, as the backward runs
    prelude._embed_acc(grads, "E", (V, W), tokens[:20], g[:20])
    want_acc = np.zeros((V, W), dtype)
    np.add.at(want_acc, tokens[20:].reshape(-1), g[20:].reshape(-1, W))
    np.add.at(want_acc, tokens[:20].reshape(-1), g[:20].reshape(-1, W))
    assert same_bits(grads["E"], want_acc)


def test_the_rule_takes_the_passes_at_ptb_sizes_and_add_at_for_tiny_ones():
    """PTB characters (T·B = 3200 rows of 4H = 1600, the most frequent character ~17 % of them) and
    words (V = 10,000): the passes; a handful of narrow rows, or one row repeated throughout: add.at."""
    assert prelude._rows_in_passes(3200, 550, 1600)
    assert prelude._rows_in_passes(1024, 60, 800)
    assert not prelude._rows_in_passes(8, 1, 16)
    assert not prelude._rows_in_passes(3200, 3200, 64)
