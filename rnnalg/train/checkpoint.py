"""Checkpoints: one `.npz` of arrays plus one JSON of metadata, never pickle.

A run directory holds, per tag (`last`, `best`)::

    last.json                 metadata; names its array file and that file's sha256
    last-<token>.npz          arrays: param/<name>, opt/<key>, rng/<stream>, ...

Saving is atomic: the new `.npz` is written under a fresh name (tempfile in the
same directory + `os.replace`), then the JSON is replaced the same way, and only
then is the previous `.npz` deleted.  A crash at any point leaves either the old
or the new checkpoint complete, never half of each.

Loading validates everything and raises `CheckpointError` naming the file:
missing or corrupt JSON / npz, a digest mismatch, missing arrays, wrong shapes,
and (via `check_program`) a spec that differs from the one trained.

A text run's JSON also holds its data unit (`dataset_unit`: char | word) and its
vocabulary (`vocab`: the symbols in id order), so eval / sample / resume encode text
exactly as in training; checkpoints saved before these fields existed still load.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..errors import CheckpointError

FORMAT = 1
TAGS = ("last", "best")
REQUIRED_META = ("format", "arrays", "sha256", "fingerprint", "param_shapes", "spec_text", "spec_file")


# ------------------------------------------------------------------ program identity


def program_fingerprint(program) -> str:
    """sha256 of the checked program's structure (inputs, states, heads, eqns, params, sizes).

    Source positions and the file name are not part of it: the same spec saved under
    another name, or reformatted, has the same fingerprint.
    """
    parts = (program.inputs, program.states, program.heads, program.eqns, program.params, program.sizes)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def param_shapes(program) -> dict:
    return {p.name: list(p.shape) for p in program.params}


def check_program(meta: dict, program, path) -> None:
    """Raise CheckpointError unless `program` is the spec the checkpoint was trained with."""
    ours, theirs = param_shapes(program), meta["param_shapes"]
    if ours != theirs:
        diffs = sorted(set(ours) ^ set(theirs)) or [k for k in ours if ours[k] != theirs[k]]
        detail = ", ".join(
            f"{k}: spec {tuple(ours[k]) if k in ours else 'absent'} vs checkpoint "
            f"{tuple(theirs[k]) if k in theirs else 'absent'}"
            for k in diffs[:4]
        )
        raise CheckpointError(path, f"checkpoint was trained with a different spec "
                                    f"({meta.get('spec_file')}); parameters differ: {detail}")
    if program_fingerprint(program) != meta["fingerprint"]:
        raise CheckpointError(path, f"checkpoint was trained with a different spec "
                                    f"({meta.get('spec_file')}): same parameter shapes, different graph")


# ------------------------------------------------------------------------- RNG state


def rng_to_array(rng: np.random.Generator) -> np.ndarray:
    """A PCG64 generator's full state as 6 uint64s (128-bit words split in halves)."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise ValueError(f"cannot save a {st['bit_generator']} generator")
    mask = (1 << 64) - 1
    s, inc = st["state"]["state"], st["state"]["inc"]
    return np.array([s >> 64, s & mask, inc >> 64, inc & mask, st["has_uint32"], st["uinteger"]],
                    dtype=np.uint64)


def rng_from_array(arr: np.ndarray) -> np.random.Generator:
    w = [int(x) for x in np.asarray(arr, dtype=np.uint64).reshape(-1)]
    if len(w) != 6:
        raise ValueError("an RNG state is 6 uint64 words")
    bit_gen = np.random.PCG64()
    bit_gen.state = {"bit_generator": "PCG64",
                     "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
                     "has_uint32": w[4], "uinteger": w[5]}
    return np.random.Generator(bit_gen)


# ------------------------------------------------------------------------ save / load


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(run_dir, tag: str, arrays: dict, meta: dict, program) -> Path:
    """Write checkpoint `tag` into `run_dir` atomically; returns the JSON path."""
    run_dir = Path(run_dir)
    npz_name = f"{tag}-{secrets.token_hex(4)}.npz"
    write_atomic(run_dir, npz_name, lambda f: np.savez(f, **arrays))
    meta = dict(meta, format=FORMAT, arrays=npz_name, sha256=_sha256(run_dir / npz_name),
                fingerprint=program_fingerprint(program), param_shapes=param_shapes(program),
                spec_text=program.text, spec_file=str(program.file),
                sizes={k: v for k, v in program.sizes})
    text = json.dumps(meta, indent=1, sort_keys=True, allow_nan=True)
    write_atomic(run_dir, f"{tag}.json", lambda f: f.write(text.encode()))
    for old in run_dir.glob(f"{tag}-*.npz"):  # the previous array file, now unreferenced
        if old.name != npz_name:
            old.unlink(missing_ok=True)
    return run_dir / f"{tag}.json"


def json_path(where, tag: str = "last") -> Path:
    """`where` is a run directory (→ DIR/<tag>.json) or a checkpoint JSON file itself."""
    where = Path(where)
    return where if where.suffix == ".json" else where / f"{tag}.json"


def load(where, tag: str = "last", program=None):
    """Read and validate a checkpoint; returns (arrays dict, meta dict)."""
    path = json_path(where, tag)
    if not path.exists():
        hint = "" if Path(where).is_dir() else " (no such run directory)"
        raise CheckpointError(path, f"no checkpoint found{hint}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"corrupt checkpoint metadata: {err}") from None
    if not isinstance(meta, dict) or any(k not in meta for k in REQUIRED_META):
        missing = [k for k in REQUIRED_META if not isinstance(meta, dict) or k not in meta]
        raise CheckpointError(path, f"incomplete checkpoint metadata (missing {', '.join(missing)})")
    if meta["format"] != FORMAT:
        raise CheckpointError(path, f"unsupported checkpoint format {meta['format']!r} (expected {FORMAT})")
    npz = path.parent / str(meta["arrays"])
    if not npz.exists():
        raise CheckpointError(npz, "checkpoint array file is missing")
    if _sha256(npz) != meta["sha256"]:
        raise CheckpointError(npz, "checkpoint array file is corrupt (sha256 does not match its metadata)")
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(npz, f"corrupt checkpoint array file: {err}") from None
    for name, shape in meta["param_shapes"].items():
        got = arrays.get(f"param/{name}")
        if got is None:
            raise CheckpointError(npz, f"parameter {name!r} is missing")
        if list(got.shape) != list(shape):
            raise CheckpointError(npz, f"parameter {name!r} has shape {got.shape}, expected {tuple(shape)}")
        if not np.all(np.isfinite(got)):
            raise CheckpointError(npz, f"parameter {name!r} holds NaN or Inf")
    check_vocab(meta, path)
    if program is not None:
        check_program(meta, program, path)
    return arrays, meta


def split_prefix(arrays: dict, prefix: str) -> dict:
    """{'param/W': a, 'opt/v/W': b} with prefix 'param' -> {'W': a}."""
    head = prefix + "/"
    return {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)}


def with_prefix(prefix: str, arrays: dict) -> dict:
    return {f"{prefix}/{k}": v for k, v in arrays.items()}


# --------------------------------------------------------------------- text vocabulary

TEXT_UNITS = ("char", "word")
UNK = "<unk>"


def check_vocab(meta: dict, path) -> None:
    """A stored text vocabulary must be distinct non-empty strings (chars: one character
    each, or `<unk>`); absent (music, older checkpoints) is fine."""
    unit, vocab = meta.get("dataset_unit"), meta.get("vocab")
    if vocab is None:
        return
    if unit not in TEXT_UNITS:
        raise CheckpointError(path, f"field 'vocab' is present but 'dataset_unit' is {unit!r}, "
                                    f"not one of {', '.join(TEXT_UNITS)}")
    ok = (isinstance(vocab, list) and vocab and all(isinstance(v, str) and v for v in vocab)
          and len(set(vocab)) == len(vocab)
          and (unit != "char" or all(len(v) == 1 or v == UNK for v in vocab)))
    if not ok:
        raise CheckpointError(path, f"field 'vocab' must be a list of distinct non-empty {unit} "
                                    "symbols (the vocabulary in id order)")
