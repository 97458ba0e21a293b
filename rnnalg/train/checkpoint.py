"""Checkpoints: one `.npz` of arrays plus one JSON of metadata, never pickle.

A run directory holds, per tag (`last`, `best`)::

    last.json                 metadata; names its array file and that file's sha256
    last-<token>.npz          arrays: param/<name>, opt/<key>, rng/<stream>, ...

Saving is atomic: the new `.npz` is written under a fresh name (tempfile in the
same directory + `os.replace`), then the JSON is replaced the same way, and only
then is the previous `.npz` deleted.  A crash at any point leaves either the old
or the new checkpoint complete, never half of each.

Loading validates everything and raises `CheckpointError` naming the file (and the
field): missing or corrupt JSON / npz, a JSON field of the wrong type (`SCHEMA`, and the
records a caller asks for, e.g. `config` and `run`), a digest mismatch, missing arrays,
wrong shapes, a parameter that is not of `PARAM_DTYPES` or not finite, and (via `check_program`)
a spec that differs from the one trained.

A text run's JSON also holds its data unit (`dataset_unit`: char | word) and its
vocabulary (`vocab`: the symbols in id order), so eval / sample / resume encode text
exactly as in training; checkpoints saved before these fields existed still load.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import types
import typing
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..errors import CheckpointError

FORMAT = 1
TAGS = ("last", "best")
# of a parameter array: what models compute in (the CLI's float32; the API may compile float64)
PARAM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- metadata schema


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_digest(v) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None


def _is_npz_name(v) -> bool:  # a plain file name: never a path out of the run directory
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_.-]+\.npz", v) is not None and v[0] != "."


def _is_shape_table(v) -> bool:
    return isinstance(v, dict) and all(
        isinstance(shape, list) and all(is_int(n) and n >= 0 for n in shape) for shape in v.values())


def _is_size_table(v) -> bool:
    return isinstance(v, dict) and all(is_int(n) and n >= 1 for n in v.values())


# top-level JSON field -> (required, check, what it must be)
SCHEMA = {
    "format": (True, is_int, "an integer"),
    "arrays": (True, _is_npz_name, "the name of a .npz file in the same folder"),
    "sha256": (True, _is_digest, "a sha256 hex digest"),
    "fingerprint": (True, _is_digest, "a sha256 hex digest"),
    "param_shapes": (True, _is_shape_table, "an object: parameter name -> list of sizes"),
    "spec_text": (True, lambda v: isinstance(v, str), "a string"),
    "spec_file": (True, lambda v: isinstance(v, str), "a string"),
    "sizes": (False, _is_size_table, "an object: size name -> positive integer"),
    "config": (False, lambda v: isinstance(v, dict), "an object"),
    "run": (False, lambda v: isinstance(v, dict), "an object"),
    "tag": (False, lambda v: v in TAGS, f"one of {', '.join(TAGS)}"),
    "metric": (False, lambda v: isinstance(v, str), "a string"),
    "dataset_unit": (False, lambda v: v in ("frame", "char", "word"), "frame, char or word"),
    # the machine's arithmetic (train/numerics.py); null: not known
    "backend": (False, lambda v: v in ("numpy", "fast", None), "numpy, fast or null"),
    "numpy": (False, lambda v: v is None or isinstance(v, str), "a string or null"),
    "blas": (False, lambda v: v is None or isinstance(v, str), "a string or null"),
}
REQUIRED_META = tuple(k for k, (required, _, _) in SCHEMA.items() if required)


_TYPE_WORDS = {float: "a number", int: "an integer", str: "a string", bool: "true or false",
               list: "a list", dict: "an object", type(None): "null"}


def _describe(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    return _TYPE_WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def _matches(value, hint) -> bool:
    """`value` (from JSON) fits the type hint: int, float, str, bool, list, dict, None, or a union."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    return {type(None): lambda: value is None, float: lambda: is_number(value), int: lambda: is_int(value),
            bool: lambda: isinstance(value, bool)}.get(hint, lambda: isinstance(value, hint))()


def record_schema(cls, optional=(), **checks) -> dict:
    """A schema (field -> (required, check, what)) for a JSON record holding dataclass `cls`:
    every field of its annotated type, required unless named in `optional` (a field added
    after checkpoints were written: its default applies); `checks` gives (check, what)."""
    hints = typing.get_type_hints(cls)
    schema = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        check, what = checks.get(f.name, (None, None))
        schema[f.name] = (f.name not in optional, check or (lambda v, h=hint: _matches(v, h)),
                          what or _describe(hint))
    return schema


def validate(obj: dict, schema: dict, path, where: str = "") -> None:
    """Raise CheckpointError naming `path` and the first missing or ill-typed field."""
    missing = [k for k, (required, _, _) in schema.items() if required and k not in obj]
    if missing:
        raise CheckpointError(path, f"incomplete checkpoint metadata (missing "
                                    f"{', '.join(where + k for k in missing)})")
    for key, (_, check, what) in schema.items():
        if key in obj and not check(obj[key]):
            shown = json.dumps(obj[key])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise CheckpointError(path, f"checkpoint field {where}{key} is {shown}; it must be {what}")


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
    check_unit(meta, program, path)


UNIT_OUTPUTS = {"frame": "binary", "char": "token", "word": "token"}  # data unit -> the output kind it trains


def check_unit(meta: dict, program, path) -> None:
    """The recorded data unit and vocabulary (absent in older checkpoints) must be ones the spec's
    output predicts: music binary[88]; text token[V], V the vocabulary's size."""
    unit, vocab = meta.get("dataset_unit"), meta.get("vocab")
    outputs = [h.output for h in program.heads]
    if not outputs:
        return
    v = outputs[0]
    if unit in UNIT_OUTPUTS and all(o.kind != UNIT_OUTPUTS[unit] for o in outputs):
        raise CheckpointError(path, f"checkpoint field dataset_unit is {unit!r}, but the spec's output "
                                    f"{v.name} is {v.kind}[{v.width}], not {UNIT_OUTPUTS[unit]}: the file "
                                    "was edited, or is another run's")
    if vocab is not None and all(o.kind != "token" or o.width != len(vocab) for o in outputs):
        raise CheckpointError(path, f"the stored vocabulary has {len(vocab)} symbols but the spec's output is "
                                    f"{v.kind}[{v.width}] (field vocab: the file was edited, or is another run's)")


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


def load(where, tag: str = "last", program=None, records: dict | None = None):
    """Read and validate a checkpoint; returns (arrays dict, meta dict).

    `records` maps a JSON field the caller needs (e.g. 'config') to its schema
    (`record_schema`); that field is then required and checked field by field.
    """
    path = json_path(where, tag)
    if not path.exists() and Path(where).is_file():  # a spec, an .npz: not `where/<tag>.json`
        raise CheckpointError(where, "not a checkpoint: give a run directory or its best.json or last.json")
    if not path.exists():
        hint = "" if Path(where).is_dir() else " (no such run directory)"
        raise CheckpointError(path, f"no checkpoint found{hint}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"corrupt checkpoint metadata: {err}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(path, "corrupt checkpoint metadata: not a JSON object")
    required = {name: (True, lambda v: isinstance(v, dict), "an object") for name in records or {}}
    validate(meta, {**SCHEMA, **required}, path)
    for name, schema in (records or {}).items():
        validate(meta[name], schema, path, where=f"{name}.")
    if meta["format"] != FORMAT:
        raise CheckpointError(path, f"unsupported checkpoint format {meta['format']!r} (expected {FORMAT})")
    npz = path.parent / str(meta["arrays"])
    if not npz.exists():
        raise CheckpointError(npz, "checkpoint array file is missing")
    if not npz.is_file():
        raise CheckpointError(npz, "checkpoint array file is not a regular file")
    try:
        digest = _sha256(npz)
    except OSError as err:
        raise CheckpointError(npz, f"cannot read checkpoint array file: {err.strerror or err}") from None
    if digest != meta["sha256"]:
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
            raise CheckpointError(npz, f"parameter {name!r} has shape {got.shape}, expected {tuple(shape)} "
                                       f"(param_shapes in {path.name})")
        if got.dtype not in PARAM_DTYPES:
            raise CheckpointError(npz, f"parameter {name!r} holds {got.dtype} values, expected "
                                       f"{' or '.join(map(str, PARAM_DTYPES))}")
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
