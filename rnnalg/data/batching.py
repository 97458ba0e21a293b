"""Time-major minibatches for next-step prediction.

Every batch predicts step t+1 from steps <= t: ``inputs[t] = seq[t]``, ``targets[t] = seq[t+1]``.
A long sequence is cut into consecutive segments; ``reset`` is True only on a sequence's
first segment, so the trainer starts from the initial state there and otherwise carries
the last state of the previous segment (truncated BPTT).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import UsageError


@dataclass(frozen=True)
class Batch:
    """inputs/targets: (T, B, 88) float32 piano-roll frames or (T, B) int64 token ids;
    mask: (T, B) float32, 1 where a target exists; reset: start from the initial state;
    static: (B, D) float32 per-sequence features (music: `piece_features`), None for text."""

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    reset: bool
    static: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Number of predicted frames / characters / words (= mask.sum())."""
        return int(self.mask.sum())


def _segments(inputs, targets, mask, max_steps: int | None, static=None) -> Iterator[Batch]:
    """Cut (T, B, ...) arrays into consecutive pieces of at most `max_steps` steps
    (every segment of a sequence carries the same `static` rows)."""
    steps = len(inputs) if max_steps is None else max_steps
    for start in range(0, len(inputs), steps):
        cut = slice(start, start + steps)
        yield Batch(inputs[cut], targets[cut], mask[cut], reset=start == 0, static=static)


# key j of an 88-key roll is MIDI note 21 + j (A0); its pitch class is (21 + j) mod 12 (C = 0)
PITCH_CLASSES = 12
_LOWEST_NOTE = 21


def piece_features(pieces) -> np.ndarray:
    """Per-piece conditioning feature (N, 12): the pitch-class profile of each piece's first frame.

    profile_i[c] = #{keys j sounding in roll_i[0] : (21 + j) mod 12 = c} / max(1, #keys sounding),
    so it sums to 1 (all zeros for a silent first frame).  Frame 0 is the input at t = 0, never
    a target, so the feature holds nothing the model does not read at its first step anyway:
    no predicted frame leaks into it.
    """
    out = np.zeros((len(pieces), PITCH_CLASSES), dtype=np.float32)
    for i, roll in enumerate(pieces):
        first = np.asarray(roll[0], dtype=np.float64)
        classes = (_LOWEST_NOTE + np.arange(len(first))) % PITCH_CLASSES
        counts = np.bincount(classes, weights=first, minlength=PITCH_CLASSES)
        out[i] = counts / max(1.0, first.sum())
    return out


def _check_positive(name: str, value) -> None:
    if value is not None and (int(value) != value or value < 1):
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


def length_buckets(lengths, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Indices grouped into batches of similar length.

    With `rng`: shuffle, stable-sort by length (ties stay shuffled), chunk, shuffle the
    chunks.  Without: sort by length (ties in index order), chunk -- deterministic.
    """
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    order = order[np.argsort(np.asarray(lengths)[order], kind="stable")]
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    return chunks


def music_batches(pieces, batch_size: int, rng: np.random.Generator | None,
                  max_steps: int | None = None, features: np.ndarray | None = None) -> Iterator[Batch]:
    """Piano rolls (T_i, 88) → padded batches: inputs = roll[:-1], targets = roll[1:].

    Each batch holds B <= batch_size pieces of similar length, padded to T = max T_i - 1;
    mask[t, b] = 1 for t < T_b - 1.  Over one pass every target frame appears exactly once.
    features: (N, D) one row per piece (e.g. `piece_features(pieces)`); each batch then
    carries its pieces' rows as `static` (B, D), in the batch's column order.
    """
    _check_positive("batch size", batch_size)
    _check_positive("max steps", max_steps)
    for chunk in length_buckets([len(p) for p in pieces], batch_size, rng):
        rolls = [pieces[i] for i in chunk]
        steps = max(len(r) for r in rolls) - 1
        inputs = np.zeros((steps, len(rolls), rolls[0].shape[1]), dtype=np.float32)
        targets = np.zeros_like(inputs)
        mask = np.zeros((steps, len(rolls)), dtype=np.float32)
        for b, roll in enumerate(rolls):
            n = len(roll) - 1
            inputs[:n, b] = roll[:-1]
            targets[:n, b] = roll[1:]
            mask[:n, b] = 1.0
        static = None if features is None else np.asarray(features, dtype=np.float32)[chunk]
        yield from _segments(inputs, targets, mask, max_steps, static)


def text_batches(stream, batch_size: int, steps: int) -> Iterator[Batch]:
    """A token stream → `batch_size` parallel streams, cut into segments of `steps`.

    The stream (length N) is truncated to L = N // B tokens per column; column b holds
    stream[b L : (b+1) L].  inputs[t, b] = column_b[t], targets[t, b] = column_b[t+1],
    for t < L - 1, so B (L - 1) tokens are predicted; the last segment may be shorter.
    """
    _check_positive("batch size", batch_size)
    _check_positive("steps", steps)
    stream = np.asarray(stream)
    if stream.ndim != 1:
        raise ValueError(f"expected a 1-D token stream (dataset.splits[split][0]), got shape {stream.shape}")
    per = len(stream) // batch_size
    if per < 2:
        raise UsageError(f"batch size {batch_size} is too large for a stream of {len(stream)} tokens "
                         "(each parallel stream needs at least 2)")
    columns = stream[:per * batch_size].astype(np.int64).reshape(batch_size, per).T  # (L, B)
    mask = np.ones((per - 1, batch_size), dtype=np.float32)
    yield from _segments(columns[:-1], columns[1:], mask, steps)
