"""Run directories and trained models, shared by the train / eval / sample commands."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UsageError
from . import checkpoint as ckpt


# the files a run (and `sample` with its default --out) writes into a run directory
RUN_FILES = ("last.json", "best.json", "last-*.npz", "best-*.npz", "metrics.jsonl", "result.json",
             "curve.png", "sample.mid", "sample.png")


def run_files(path: Path) -> list[Path]:
    """rnnalg's own files of a run in `path` (nothing else in the folder)."""
    return sorted({f for pattern in RUN_FILES for f in path.glob(pattern) if f.is_file()})


def prepare_run_dir(path, resuming: bool, force: bool) -> Path:
    """Create `path` (with parents) and prove it writable; refuse to clobber another run.

    A fresh run (not `resuming`) in a folder that holds a run's files is refused, or with
    `force` starts clean: those files (`RUN_FILES`) are removed, anything else is left.
    Raises UsageError before anything is written when the directory cannot be used.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path}: exists and is not a directory")
    old = [] if resuming or not path.is_dir() else run_files(path)
    if old and not force:
        raise UsageError(f"--out {path}: already holds a training run; continue it with "
                         f"--resume {path}, or choose another --out (or --force to start it afresh)")
    try:
        for f in old:
            f.unlink()
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"--out {path}: cannot write there: {err.strerror or err}") from None
    return path


def load_dataset_for(program, config_data, data_dir, unit, spec_file, trained=None, min_count=1):
    """Load a dataset and check that the spec's input and output fit it.

    `trained`: the metadata of the checkpoint being evaluated, sampled or resumed; a text
    is then read in its unit and encoded with its stored vocabulary.  A new run's
    vocabulary comes from the train split (`min_count`, see `data.text`).
    """
    from ..data import check_compatible, load_dataset
    from .feed import check_static, single_io

    vocab = None
    if trained is not None and trained.get("dataset_unit") in ckpt.TEXT_UNITS:
        unit = trained_unit(trained["dataset_unit"], unit)
        vocab = trained.get("vocab")
        if vocab is None:
            print(f"note: this checkpoint was saved without its vocabulary (by an older rnnalg); "
                  f"rebuilding it from the train split of {config_data}", file=sys.stderr)
    dataset = load_dataset(config_data, data_dir=data_dir, unit=unit, vocab=vocab, min_count=min_count)
    x, y = single_io(program)
    check_compatible(dataset, x.kind, x.width, y.kind, y.width, spec_file)
    check_static(program, dataset, spec_file)
    return dataset


def trained_unit(trained: str, given: str | None) -> str:
    """The text unit a checkpoint was trained with; a different `--unit` is a UsageError."""
    if given is not None and given != trained:
        raise UsageError(f"--unit {given}: the checkpoint was trained on {trained} symbols "
                         f"(leave --unit out, or give --unit {trained})")
    return trained


def stored_vocab(meta: dict) -> tuple[str, ...] | None:
    """The vocabulary a text checkpoint stores (None: music, or saved before it was stored);
    `ckpt.load` checked its size against the spec's token width."""
    vocab = meta.get("vocab")
    return None if vocab is None else tuple(vocab)


def compile_model(program, backend: str = "auto"):
    from ..model import compile as compile_program

    return compile_program(program, dtype=np.float32, backend=backend)


def trained_sizes(checkpoint, which: str = "last") -> dict:
    """The sizes a run was trained with (its `--set`), or {} if its JSON cannot be read or its
    `sizes` is not what `ckpt.SCHEMA` asks (`ckpt.load` then reports the problem, naming the file)."""
    try:
        sizes = json.loads(ckpt.json_path(checkpoint, which).read_text(encoding="utf-8")).get("sizes", {})
    except (OSError, ValueError, AttributeError):
        return {}
    _, valid, _ = ckpt.SCHEMA["sizes"]
    return {str(k): v for k, v in sizes.items()} if valid(sizes) else {}


def load_trained(args, which: str | None = None):
    """(program, model, params, meta) from `args.checkpoint` for the spec in `args`.

    `which` ('best' or 'last'; None: best) picks a checkpoint of a run directory; given with a
    checkpoint file, it must agree with the file's tag. The sizes default to those the run was
    trained with; the spec (after `--set`) must be the one the checkpoint was trained with.
    """
    from ..lower.footprint import require
    from ..specfile import load_checked

    asked, which = which, which or "best"
    if asked is None and not ckpt.json_path(args.checkpoint, "best").exists() \
            and ckpt.json_path(args.checkpoint, "last").exists():
        which = "last"  # stopped before the first validation: no best yet (an explicit --which best stands)
        print(f"note: {args.checkpoint} has no best checkpoint yet; using the last one", file=sys.stderr)
    from .state import CHECKPOINT_RECORDS

    program = load_checked(args.spec, getattr(args, "set", None) or [], trained_sizes(args.checkpoint, which))
    require(program, "run")  # before reading arrays of that size
    arrays, meta = ckpt.load(args.checkpoint, which, program=program,
                             records={"config": CHECKPOINT_RECORDS["config"]})
    if asked and Path(args.checkpoint).suffix == ".json" and meta.get("tag", asked) != asked:
        raise UsageError(f"--which {asked}: {args.checkpoint} is the {meta['tag']} checkpoint of its run; "
                         f"drop --which, or pass {Path(args.checkpoint).parent / (asked + '.json')}")
    model = compile_model(program)
    params = ckpt.split_prefix(arrays, "param")
    return program, model, params, meta

