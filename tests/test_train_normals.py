"""normals.fill: numpy's standard normals and generator state, bit for bit, through the kernel."""
import numpy as np
import pytest

from rnnalg.train import normals

pytest.importorskip("numba")


def _pair(seed, buffered):
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    if buffered:  # a 32-bit draw leaves half a word in the generator's buffer
        a.integers(0, 10, dtype=np.uint32)
        b.integers(0, 10, dtype=np.uint32)
    return a, b


def test_the_kernel_is_used_here():
    assert normals.numpy_tables() is not None
    assert normals.unavailable_reason() is None


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 230_000])
@pytest.mark.parametrize("seed,buffered", [(0, False), (1, True), (2, False)])
def test_fill_repeats_standard_normal_and_the_state(n, seed, buffered):
    want_rng, got_rng = _pair(seed, buffered)
    want, got = want_rng.standard_normal(n), np.full(n, np.nan)
    normals.fill(got_rng, got)
    assert got.tobytes() == want.tobytes()
    assert got_rng.bit_generator.state == want_rng.bit_generator.state
    assert got_rng.integers(0, 2**32, 5, dtype=np.uint32).tolist() == want_rng.integers(0, 2**32, 5, dtype=np.uint32).tolist()


def test_running_out_of_words_leaves_the_generator_as_it_was():
    kernel, tables = normals._state["kernel"] if normals.unavailable_reason() is None else pytest.skip("no kernel")
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    out = np.empty(100_000)
    assert not normals._draw(rng, out, kernel, tables, margin=0)  # ≈ 2 % of draws need a second word
    assert rng.bit_generator.state == before
    assert normals._draw(rng, out, kernel, tables)
    assert out.tobytes() == np.random.default_rng(3).standard_normal(100_000).tobytes()


def test_other_generators_take_numpy_s_draw():
    want_rng, got_rng = np.random.Generator(np.random.MT19937(4)), np.random.Generator(np.random.MT19937(4))
    got = np.empty(500)
    normals.fill(got_rng, got)
    assert got.tobytes() == want_rng.standard_normal(500).tobytes()


def test_tables_missing_from_a_library_are_none(tmp_path):
    (tmp_path / "lib.a").write_bytes(b"!<arch>\n")
    assert normals.numpy_tables(tmp_path / "lib.a") is None
    assert normals.numpy_tables(tmp_path / "absent.a") is None
    (tmp_path / "junk.a").write_bytes(b"not an archive")
    assert normals.numpy_tables(tmp_path / "junk.a") is None
