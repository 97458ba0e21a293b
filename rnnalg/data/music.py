"""Polyphonic music as note lists and as 88-key piano rolls.

A piece is a list of time steps, each a list of active MIDI notes in 21..108
(Boulanger-Lewandowski's nesting).  Its piano roll is a (T, 88) uint8 array with
roll[t, j] = 1 iff note 21 + j sounds at step t.

Every source (JSON, the embedded `.npz`, a restricted pickle) is first reduced to
`NoteLists`, one compact split in three flat arrays, and validated there once:

    notes        (N,)    uint8   all notes of all steps, in order
    step_starts  (S+1,)  int32   steps[s] = notes[step_starts[s]:step_starts[s+1]]
    piece_starts (P+1,)  int32   piece[p] = steps piece_starts[p]..piece_starts[p+1]-1
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .files import read_bytes

LOWEST, HIGHEST = 21, 108
KEYS = HIGHEST - LOWEST + 1  # 88
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class NoteLists:
    """One split of pieces in compact form (see the module docstring)."""

    notes: np.ndarray
    step_starts: np.ndarray
    piece_starts: np.ndarray

    def rolls(self) -> list[np.ndarray]:
        """The pieces as (T_i, 88) uint8 piano rolls (views into one block)."""
        n_steps = len(self.step_starts) - 1
        block = np.zeros((n_steps, KEYS), dtype=np.uint8)
        rows = np.repeat(np.arange(n_steps), np.diff(self.step_starts))
        block[rows, self.notes.astype(np.intp) - LOWEST] = 1
        return np.split(block, self.piece_starts[1:-1])


def _where(split: str, *index: int) -> str:
    return split + "".join(f"[{i}]" for i in index)


def _first_bad(items, ok) -> int:
    return next(i for i, item in enumerate(items) if not ok(item))


def _is_note(n) -> bool:
    return type(n) is int and LOWEST <= n <= HIGHEST


def compact_split(pieces, split: str, file: str) -> NoteLists:
    """Validate one split of nested note lists and return it as `NoteLists`.

    Errors name the position as `train[12]` (piece), `train[12][40]` (step) or
    `train[12][40][2]` (note).  The checks run over flat lists at C speed; the slow
    search for the offending position only runs once something is wrong.
    """
    if not isinstance(pieces, (list, tuple)):
        raise DataError(file, f"split '{split}' must be a list of pieces, got {type(pieces).__name__}")
    if not pieces:
        raise DataError(file, f"split '{split}' has no pieces", split)
    sequence = (list, tuple)
    if not set(map(type, pieces)) <= set(sequence):
        p = _first_bad(pieces, lambda x: isinstance(x, sequence))
        raise DataError(file, f"a piece must be a list of time steps, got {type(pieces[p]).__name__}",
                        _where(split, p))
    piece_lens = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    if piece_lens.min() < 2:
        p = int(np.argmax(piece_lens < 2))
        raise DataError(file, f"piece has {piece_lens[p]} time step(s); at least 2 are needed "
                        "to predict a next step", _where(split, p))
    steps = [s for piece in pieces for s in piece]
    if not set(map(type, steps)) <= set(sequence):
        p, t = _locate(pieces, lambda s: isinstance(s, sequence))
        raise DataError(file, f"a time step must be a list of MIDI notes, got {type(pieces[p][t]).__name__}",
                        _where(split, p, t))
    step_lens = np.fromiter(map(len, steps), dtype=np.int64, count=len(steps))
    notes = [n for s in steps for n in s]
    if not (set(map(type, notes)) <= {int} and (not notes or LOWEST <= min(notes) and max(notes) <= HIGHEST)):
        p, t = _locate(pieces, lambda s: all(map(_is_note, s)))
        k = _first_bad(pieces[p][t], _is_note)
        bad = pieces[p][t][k]
        what = "not an integer" if type(bad) is not int else f"outside the piano range {LOWEST}..{HIGHEST}"
        raise DataError(file, f"note {bad!r} is {what}", _where(split, p, t, k))
    return NoteLists(
        notes=np.asarray(notes, dtype=np.uint8),
        step_starts=np.concatenate([[0], np.cumsum(step_lens)]).astype(np.int32),
        piece_starts=np.concatenate([[0], np.cumsum(piece_lens)]).astype(np.int32),
    )


def _locate(pieces, ok) -> tuple[int, int]:
    """(piece, step) of the first step for which `ok(step)` is false."""
    for p, piece in enumerate(pieces):
        for t, step in enumerate(piece):
            if not ok(step):
                return p, t
    raise AssertionError("no offending step")  # pragma: no cover - callers checked there is one


def compact_splits(obj, file: str) -> dict[str, NoteLists]:
    """`{"train","valid","test"}` of nested note lists → validated `NoteLists` per split."""
    if not isinstance(obj, dict):
        raise DataError(file, "top level must be an object with keys 'train', 'valid', 'test', "
                        f"got {type(obj).__name__}")
    missing = [s for s in SPLITS if s not in obj]
    if missing:
        raise DataError(file, f"missing split(s) {', '.join(map(repr, missing))}; "
                        f"expected keys 'train', 'valid', 'test', found {sorted(map(str, obj))}")
    return {s: compact_split(obj[s], s, file) for s in SPLITS}


def read_json(path: str) -> dict[str, NoteLists]:
    """Load a music JSON file (see module docstring); errors carry line/col or split[i][t]."""
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataError(path, "file is not valid UTF-8", f"line {line}, col {col}") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark, as specs and text files allow
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, f"malformed JSON: {err.msg}", f"line {err.lineno}, col {err.colno}") from None
    except RecursionError:
        raise DataError(path, "malformed JSON: nested too deeply") from None
    return compact_splits(obj, path)


# ---- the compact .npz form (the embedded music sets) ---------------------------------------
#
# Per split three arrays, lengths rather than offsets (they compress about twice as well):
#     <split>_notes          (N,)  uint8   all notes of all steps, in order
#     <split>_step_lengths   (S,)  uint8   notes per step (int32 if a step repeats notes past 255)
#     <split>_piece_lengths  (P,)  int32   steps per piece

NPZ_FIELDS = ("notes", "step_lengths", "piece_lengths")


def _starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)


def write_npz(path, splits: dict[str, NoteLists]) -> None:
    """Save splits as `<split>_<field>` arrays (see above) with np.savez_compressed (no pickle)."""
    arrays = {}
    for s in SPLITS:
        nl = splits[s]
        arrays[f"{s}_notes"] = nl.notes.astype(np.uint8)
        step_lengths = np.diff(nl.step_starts)
        arrays[f"{s}_step_lengths"] = step_lengths.astype(np.uint8 if step_lengths.max(initial=0) <= 255
                                                          else np.int32)
        arrays[f"{s}_piece_lengths"] = np.diff(nl.piece_starts).astype(np.int32)
    np.savez_compressed(path, **arrays)


def read_npz(source, name: str) -> dict[str, NoteLists]:
    """Load splits written by `write_npz`; `source` is a path or binary file, `name` is for errors."""
    try:
        with np.load(source, allow_pickle=False) as z:
            arrays = {key: z[key] for key in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(name, f"not a readable .npz file: {err}") from None
    splits = {}
    for s in SPLITS:
        missing = [f"{s}_{f}" for f in NPZ_FIELDS if f"{s}_{f}" not in arrays]
        if missing:
            raise DataError(name, f"missing array(s) {', '.join(missing)}")
        notes, steps, pieces = (arrays[f"{s}_{f}"] for f in NPZ_FIELDS)
        ok = (all(np.issubdtype(a.dtype, np.integer) and a.ndim == 1 for a in (notes, steps, pieces))
              and len(pieces) >= 1 and steps.min(initial=0) >= 0 and pieces.min() >= 2
              and steps.sum(dtype=np.int64) == len(notes) and pieces.sum(dtype=np.int64) == len(steps))
        if not ok:
            raise DataError(name, "inconsistent lengths (or a piece with fewer than 2 steps)", s)
        if len(notes) and (notes.min() < LOWEST or notes.max() > HIGHEST):
            k = int(np.argmax((notes < LOWEST) | (notes > HIGHEST)))
            raise DataError(name, f"note {int(notes[k])} is outside the piano range {LOWEST}..{HIGHEST}",
                            f"{s}_notes[{k}]")
        splits[s] = NoteLists(notes.astype(np.uint8), _starts(steps), _starts(pieces))
    return splits


def roll_to_notes(roll) -> list[list[int]]:
    """(T, 88) roll (any dtype; nonzero = on) → per step the sorted list of MIDI notes."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != KEYS:
        raise ValueError(f"expected a (T, {KEYS}) piano roll, got shape {roll.shape}")
    return [[LOWEST + int(j) for j in np.flatnonzero(row)] for row in roll]
