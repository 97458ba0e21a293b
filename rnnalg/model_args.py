"""What a caller hands a `Model` (rnnalg/model.py), checked before anything is computed.

    params  {name: array}       exactly the program's parameters, each of its shape, floating point
    batch   {name: array}       inputs (T, B, W) or token ids (T, B); targets likewise;
                                optional 'mask' (T, B) of weights in [0, 1]
    state   {name: (B, W)}      the previous value of every state (None: zeros)

Each problem is a ValueError (a missing, extra or misshapen array, a value out of range) or a
TypeError (a non-numeric or wrongly typed array) whose message names the parameter, input or
state and the shape expected.  Values are checked where it is cheap and a wrong one would
silently give a wrong answer:

- dense inputs, targets, mask and state must be finite (NaN would flow into the loss);
- a `binary` output's targets must lie in [0, 1] (the loss is the cross-entropy
  −Σ y log p + (1 − y) log(1 − p), so soft targets in between are allowed);
- token ids must be integers in 0..V−1 (numpy would read −1 as the last embedding row).

Parameters are not scanned for NaN (that is one pass over every weight per call); a
non-finite loss shows it, and the trainer stops on it.
"""
from __future__ import annotations

import difflib

import numpy as np

from .ir import Program


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _suggest(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _floating(what: str, arr: np.ndarray, expected: str) -> None:
    if arr.dtype.kind != "f":
        raise TypeError(f"{what} holds {arr.dtype} values; expected a floating-point array of shape "
                        f"{expected} (e.g. float32 or float64)")


def _finite(what: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = ", ".join(str(int(i)) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{what}[{where}] = {arr[tuple(np.argwhere(~np.isfinite(arr))[0])]}; "
                         "inputs, targets, masks and states must be finite")


def check_params(program: Program, params) -> None:
    """Exactly the program's parameters, each of its shape and a floating-point dtype."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays (name -> array, as model.init_params "
                        f"returns), got {type(params).__name__}")
    expected = {p.name: p.shape for p in program.params}
    missing = [name for name in expected if name not in params]
    if missing:
        name = missing[0]
        raise ValueError(f"params has no {name!r} (shape {_shape(expected[name])})"
                         + (f" and {len(missing) - 1} more missing" if len(missing) > 1 else "")
                         + _suggest(name, [k for k in params if k not in expected]))
    extra = [name for name in params if name not in expected]
    if extra:
        raise ValueError(f"params has {extra[0]!r}, which is not a parameter of {program.file}"
                         f"{_suggest(str(extra[0]), expected)}; its parameters are: {', '.join(expected)}")
    for name, shape in expected.items():
        arr = params[name]
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"params[{name!r}] is a {type(arr).__name__}; expected a numpy array "
                            f"of shape {_shape(shape)}")
        if arr.shape != tuple(shape):
            raise ValueError(f"params[{name!r}] has shape {_shape(arr.shape)}, expected {_shape(shape)}")
        _floating(f"params[{name!r}]", arr, _shape(shape))


def check_batch(program: Program, batch, dtype: np.dtype, targets: bool) -> dict:
    """Names, shapes and values of a batch; dense arrays to `dtype`, tokens to intp.
    `targets`: the outputs' arrays are required (else optional)."""
    if not isinstance(batch, dict):
        raise TypeError(f"batch must be a dict of arrays (name -> array), got {type(batch).__name__}")
    out = {}
    values = list(program.inputs) + [h.output for h in program.heads]
    T = B = None
    static = set(program.static_inputs)  # one value per sequence: (B,) or (B, D)
    values.sort(key=lambda v: v.name in static)  # (T, B) from a time-varying array first
    for v in values:
        if v.name not in batch:
            if v in program.inputs or targets:
                raise ValueError(f"batch has no array for {v.name!r} "
                                 f"(needs: {', '.join(x.name for x in values)})")
            continue
        arr = np.asarray(batch[v.name])
        lead = ("B",) if v.name in static else ("T", "B")
        want = len(lead) + (v.kind != "token")
        shape = "(" + ", ".join(lead + (() if v.kind == "token" else (str(v.width),))) + ")"
        if arr.ndim != want or (v.kind != "token" and arr.shape[-1] != v.width):
            raise ValueError(f"batch[{v.name!r}] has shape {arr.shape}, expected {shape}")
        if v.name in static:
            if arr.shape[0] != B:
                raise ValueError(f"batch[{v.name!r}] has B = {arr.shape[0]}, others have {B}")
        elif T is None:
            T, B = arr.shape[:2]
        elif arr.shape[:2] != (T, B):
            raise ValueError(f"batch[{v.name!r}] has (T, B) = {arr.shape[:2]}, others have {(T, B)}")
        if v.kind == "token":
            out[v.name] = _token_ids(v, arr)
            continue
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"batch[{v.name!r}] holds {arr.dtype} values; expected numbers, shape {shape}")
        out[v.name] = arr.astype(dtype, copy=False)
        if arr.dtype.kind == "f":  # integers and booleans (piano rolls) are finite already
            _finite(f"batch[{v.name!r}]", out[v.name])
        if v.kind == "binary" and v not in program.inputs:
            _unit_interval(f"batch[{v.name!r}] (targets of {v.name} : binary[{v.width}])", out[v.name])
    if batch.get("mask") is not None:
        out["mask"] = _mask(batch["mask"], dtype, (T, B))
    return out


def _unit_interval(what: str, arr: np.ndarray) -> None:
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        bad = np.argwhere((arr < 0) | (arr > 1))[0]
        raise ValueError(f"{what}[{', '.join(map(str, bad))}] = {arr[tuple(bad)]}; values must lie in "
                         "[0, 1] (the Bernoulli cross-entropy takes 0/1 or soft targets)")


def _mask(mask, dtype: np.dtype, tb) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"batch['mask'] holds {arr.dtype} values; expected numbers in [0, 1], shape (T, B)")
    if arr.shape != tuple(tb):
        raise ValueError(f"batch['mask'] has shape {arr.shape}, expected (T, B) = {tuple(tb)}")
    arr = arr.astype(dtype, copy=False)
    _finite("batch['mask']", arr)
    _unit_interval("batch['mask']", arr)
    return arr


def check_state(program: Program, state, batch_size: int | None) -> None:
    """None, or {state name: (B, width)} floating arrays, one for every state of the program."""
    if state is None:
        return
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (state name -> (B, width) array) or None, "
                        f"got {type(state).__name__}")
    widths = {s.prev.name: s.prev.width for s in program.states}
    B = "B" if batch_size is None else batch_size
    for name in state:
        if name not in widths:
            raise ValueError(f"state has {name!r}, which is not a state of {program.file}"
                             f"{_suggest(str(name), widths)}; its states are: {', '.join(widths)}")
    for name, width in widths.items():
        if name not in state:
            raise ValueError(f"state has no {name!r} (shape ({B}, {width})); give every state, "
                             "or state=None for zeros")
        arr = state[name]
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        if arr.ndim != 2 or arr.shape[1] != width or (batch_size is not None and arr.shape[0] != batch_size):
            raise ValueError(f"state[{name!r}] has shape {arr.shape}, expected ({B}, {width})")
        _floating(f"state[{name!r}]", arr, f"({B}, {width})")
        _finite(f"state[{name!r}]", arr)


def batch_size(checked_batch: dict) -> int | None:
    """B of a checked batch (None if it holds no arrays)."""
    for arr in checked_batch.values():
        return arr.shape[1]
    return None


def _token_ids(v, arr: np.ndarray) -> np.ndarray:
    """Token ids (T, B) as intp, each in 0..V-1; anything else is a ValueError.

    Unchecked, numpy would truncate a float id and read a negative one from the end of
    the embedding (-1: the last row).  The check is one min and one max per array.
    """
    if arr.size == 0:
        return arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"batch[{v.name!r}] holds {arr.dtype} values; token ids of "
                         f"{v.name} : token[{v.width}] must be integers in 0..{v.width - 1}")
    low, high = arr.min(), arr.max()
    if low < 0 or high >= v.width:
        bad = low if low < 0 else high
        where = ", ".join(str(int(i)) for i in np.argwhere(arr == bad)[0])
        raise ValueError(f"batch[{v.name!r}][{where}] = {bad} is not a token id of "
                         f"{v.name} : token[{v.width}] (ids are 0..{v.width - 1})")
    return arr.astype(np.intp)
