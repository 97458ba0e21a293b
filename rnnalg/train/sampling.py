"""Generating from a trained model, one step at a time with `model.step`.

At temperature τ a Bernoulli unit with probability p is redrawn from σ(logit(p) / τ), a
softmax from p^(1/τ) / Σ p^(1/τ); τ → 0 approaches the most likely value, τ = 1 is the model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import write_atomic

_EPS = 1e-7
MAX_ROLL_INCHES = 160  # the piano-roll PNG's width: 16 steps an inch up to 2,560 steps, then squeezed


def temper_bernoulli(p: np.ndarray, temperature: float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    logits = np.log(p) - np.log1p(-p)
    return 1.0 / (1.0 + np.exp(-logits / temperature))


def temper_categorical(p: np.ndarray, temperature: float) -> np.ndarray:
    logp = np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-300, None)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    q = np.exp(logp)
    return q / q.sum(axis=-1, keepdims=True)


def _draw(kind: str, probs: np.ndarray, temperature: float, rng) -> np.ndarray:
    """One sample per batch row: binary (B, W) in {0, 1}, or token (B,) ids."""
    if kind == "binary":
        return (rng.random(probs.shape) < temper_bernoulli(probs, temperature)).astype(np.float32)
    if kind == "token":
        q = temper_categorical(probs, temperature)
        return np.array([rng.choice(q.shape[-1], p=row) for row in q], dtype=np.int64)
    return np.asarray(probs, dtype=np.float32)  # real: the predicted mean


def _prime_feature(prime) -> np.ndarray:
    """(1, 12) `data.piece_features` of a music prime (its first frame's pitch-class profile)."""
    from ..data import piece_features

    return piece_features([np.asarray(prime, dtype=np.float32)])


def generate(model, params, n_steps: int, prime, temperature: float, rng, progress=None) -> np.ndarray:
    """Feed `prime` (music (P, W) frames / text (P,) ids, P >= 1), then sample `n_steps` more.

    Each sample is fed back as the next input.  Returns the `n_steps` samples only:
    (n_steps, W) frames or (n_steps,) ids.  `progress.update(1)` is called after each step.
    """
    from .feed import single_io, static_input

    x, y = single_io(model.program)
    key = static_input(model.program)
    # a static input: the feature training fed it (feed.STATIC_FEATURES), from the prime's first frame
    fixed = {} if key is None else {key.name: _prime_feature(prime)}
    state = model.initial_state(1)
    probs = None
    for value in prime:
        probs, state = model.step(params, {x.name: np.asarray(value)[None], **fixed}, state)
    out = None
    for t in range(n_steps):
        sample = _draw(y.kind, np.asarray(probs[y.name]), temperature, rng)
        if out is None:  # one array for all steps, not a Python object per step
            out = np.empty((n_steps,) + sample.shape[1:], dtype=sample.dtype)
        out[t] = sample[0]
        probs, state = model.step(params, {x.name: sample, **fixed}, state)
        if progress is not None:
            progress.update(1)
    return out if out is not None else np.zeros((0,) + np.asarray(prime[0]).shape)


# --------------------------------------------------------------------------- music output


def roll_to_midi(roll: np.ndarray, ticks_per_step: int = 480, bpm: float = 100.0, velocity: int = 80):
    """(T, 88) piano roll → a mido MidiFile, one quarter note per step; held notes are tied."""
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    roll = np.asarray(roll) > 0
    padded = np.vstack([np.zeros((1, roll.shape[1]), bool), roll, np.zeros((1, roll.shape[1]), bool)])
    pending = 0  # ticks since the last message
    for t in range(1, len(padded)):
        offs = np.flatnonzero(padded[t - 1] & ~padded[t])
        ons = np.flatnonzero(padded[t] & ~padded[t - 1])
        for kind, keys, vel in (("note_off", offs, 0), ("note_on", ons, velocity)):
            for key in keys:
                track.append(mido.Message(kind, note=21 + int(key), velocity=vel, time=pending))
                pending = 0
        pending += ticks_per_step
    track.append(mido.MetaMessage("end_of_track", time=0))
    return midi


def save_midi(roll: np.ndarray, path: Path) -> None:
    midi = roll_to_midi(roll)
    write_atomic(path.parent, path.name, lambda f: midi.save(file=f))


def save_roll_png(roll: np.ndarray, path: Path, title: str = "") -> bool:
    """Piano-roll image (time → right, pitch ↑); False when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(min(max(6.0, len(roll) / 16), MAX_ROLL_INCHES), 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(np.asarray(roll).T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, len(roll), 20.5, 108.5))
    ax.set_xlabel("step")
    ax.set_ylabel("MIDI note")
    ax.set_title(title)
    write_atomic(path.parent, path.name, lambda f: fig.savefig(f, format="png", dpi=100, bbox_inches="tight"))
    return True
