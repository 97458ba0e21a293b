"""Batching invariants: every target once per epoch, right masks, segments that carry state."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnalg.data import Batch, music_batches, text_batches
from rnnalg.errors import UsageError


def labelled_pieces(lengths):
    """Rolls whose frame t of piece p encodes (p, t) in its bits, so batches can be decoded."""
    pieces = []
    for p, n in enumerate(lengths):
        roll = np.zeros((n, 88), dtype=np.uint8)
        for t in range(n):
            code = (p + 1) << 12 | t  # p+1 so that no real frame is all zeros
            roll[t] = [(code >> j) & 1 for j in range(88)]
        pieces.append(roll)
    return pieces


def decode(frame) -> tuple[int, int]:
    code = int(sum(int(bit) << j for j, bit in enumerate(frame[:32])))
    return (code >> 12) - 1, code & 0xFFF


def check_music_epoch(lengths, batch_size, rng, max_steps):
    pieces = labelled_pieces(lengths)
    seen = []  # (piece, target step)
    column_piece = None
    for batch in music_batches(pieces, batch_size, rng, max_steps):
        assert isinstance(batch, Batch)
        T, B = batch.mask.shape
        assert batch.inputs.shape == batch.targets.shape == (T, B, 88)
        assert batch.inputs.dtype == batch.targets.dtype == batch.mask.dtype == np.float32
        assert 1 <= B <= batch_size and 1 <= T <= (max_steps or T)
        assert set(np.unique(batch.mask)) <= {0.0, 1.0}
        assert batch.count == int(batch.mask.sum())
        if batch.reset:
            column_piece = [None] * B
        for b in range(B):
            on = batch.mask[:, b] == 1
            # the mask is a prefix of the column; padding is all zeros
            assert np.all(np.diff(batch.mask[:, b]) <= 0)
            assert not batch.inputs[~on, b].any() and not batch.targets[~on, b].any()
            for t in np.flatnonzero(on):
                p_in, t_in = decode(batch.inputs[t, b])
                p_out, t_out = decode(batch.targets[t, b])
                assert (p_out, t_out) == (p_in, t_in + 1)  # predict the next frame of the same piece
                # a column keeps its piece across segments until the next reset
                assert column_piece[b] in (None, p_in)
                column_piece[b] = p_in
                seen.append((p_out, t_out))
    expected = [(p, t) for p, n in enumerate(lengths) for t in range(1, n)]
    assert sorted(seen) == expected  # every target frame exactly once


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(2, 30), min_size=1, max_size=12),
       batch_size=st.integers(1, 5), max_steps=st.one_of(st.none(), st.integers(1, 8)),
       seed=st.one_of(st.none(), st.integers(0, 2**16)))
def test_music_epoch_covers_every_target_once(lengths, batch_size, max_steps, seed):
    rng = None if seed is None else np.random.default_rng(seed)
    check_music_epoch(lengths, batch_size, rng, max_steps)


def test_music_segments_and_resets():
    pieces = labelled_pieces([11, 11, 4])
    batches = list(music_batches(pieces, 2, None, max_steps=4))
    # chunks of the length-sorted order: (4, 11) then (11,); each cut into 4 + 4 + 2 steps
    assert [b.mask.shape for b in batches] == [(4, 2), (4, 2), (2, 2), (4, 1), (4, 1), (2, 1)]
    assert [b.reset for b in batches] == [True, False, False, True, False, False]
    assert [b.count for b in batches] == [3 + 4, 4, 2, 4, 4, 2]


def test_music_buckets_by_length_and_shuffles_with_rng():
    lengths = list(range(2, 42))
    pieces = labelled_pieces(lengths)
    def order(rng):  # the pieces of each batch, in batch order
        return [[decode(batch.inputs[0, b])[0] for b in range(batch.mask.shape[1])]
                for batch in music_batches(pieces, 4, rng)]
    # without rng: deterministic, batches in increasing length
    plain = [b.mask.shape[0] for b in music_batches(pieces, 4, None)]
    assert plain == sorted(plain) and plain == [b.mask.shape[0] for b in music_batches(pieces, 4, None)]
    # with rng: each batch is a chunk of 4 consecutive lengths; order depends on the seed only
    for batch in music_batches(pieces, 4, np.random.default_rng(1)):
        ends = batch.mask.sum(0) + 1
        assert ends.max() - ends.min() == 3
    assert order(np.random.default_rng(1)) == order(np.random.default_rng(1))
    assert order(np.random.default_rng(1)) != order(np.random.default_rng(2))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 300), batch_size=st.integers(1, 8), steps=st.integers(1, 20))
def test_text_streams_reconstruct_the_stream(n, batch_size, steps):
    stream = np.arange(n, dtype=np.int32) * 7 % 1000
    per = n // batch_size
    if per < 2:
        with pytest.raises(UsageError):
            list(text_batches(stream, batch_size, steps))
        return
    batches = list(text_batches(stream, batch_size, steps))
    assert [b.reset for b in batches] == [True] + [False] * (len(batches) - 1)
    assert all(len(b.mask) == steps for b in batches[:-1]) and 1 <= len(batches[-1].mask) <= steps
    for b in batches:
        assert b.inputs.dtype == b.targets.dtype == np.int64 and b.mask.dtype == np.float32
        assert b.inputs.shape == b.targets.shape == b.mask.shape == (len(b.mask), batch_size)
        assert np.all(b.mask == 1)
    inputs = np.concatenate([b.inputs for b in batches])
    targets = np.concatenate([b.targets for b in batches])
    for col in range(batch_size):
        column = stream[col * per:(col + 1) * per]
        assert np.array_equal(inputs[:, col], column[:-1])
        assert np.array_equal(targets[:, col], column[1:])
    assert sum(b.count for b in batches) == batch_size * (per - 1)


def test_bad_batch_arguments():
    with pytest.raises(UsageError):
        list(text_batches(np.arange(10), 0, 5))
    with pytest.raises(UsageError):
        list(music_batches(labelled_pieces([3]), 2, None, max_steps=0))
