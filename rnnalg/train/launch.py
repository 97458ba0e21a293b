"""A training run from its settings: spec file, sizes and flags -> result.

`rnnalg train` (commands/train.py: parse flags, print, exit codes) and a sweep trial
(sweep/worker.py) both start their runs here:

    run_training(spec, settings, sets=..., out=..., resume=...)  ->  result (session.train's)

It reads and checks the spec (a resumed run gets the sizes it was trained with, unless `sets`
says otherwise), picks the run directory and hands over to `session.train`.
"""
from __future__ import annotations

from pathlib import Path

from ..specfile import load_checked
from . import checkpoint as ckpt
from .runs import trained_sizes
from .session import train

# session.train's stop reason -> how a result line says it ({epochs}: "12 epochs")
STOPPED = {"epochs": "trained {epochs} (--epochs)", "early stop": "stopped early after {epochs}",
           "time limit": "stopped by --time-limit after {epochs}",
           "stopped by caller": "stopped by its on_epoch after {epochs}"}


def describe_stop(reason: str, epochs: int) -> str:
    """"stopped early after 12 epochs", from a stop reason and the epochs trained."""
    counted = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    return STOPPED.get(reason, "stopped: {reason} after {epochs}").format(reason=reason, epochs=counted)


def default_run_dir(spec: str) -> Path:
    """runs/<spec stem>: runs/dots for examples/dots.rnn; runs/stdin for a spec read from `-`."""
    return Path("runs") / ("stdin" if spec == "-" else Path(spec).stem)


def run_dir_for(spec: str, out=None, resume=None) -> Path:
    """Where a run writes: `out`; else the folder of the run it resumes; else runs/<spec stem>."""
    if out:
        return Path(out)
    if resume:  # DIR, or DIR/last.json
        return ckpt.json_path(resume).parent
    return default_run_dir(spec)


def run_training(spec: str, settings: dict | None = None, *, sets=None, out=None, resume=None,
                 unit: str | None = None, force: bool = False, quiet: bool = False, on_epoch=None) -> dict:
    """Train the spec at `spec` (`-`: standard input); -> the result of `session.train`, whose
    'run_dir' is the folder used.

    settings: TrainConfig fields given (the rest default, or on resume keep their recorded values).
    sets:     sizes, {name: size} or `--set` strings, over the spec's own (or the resumed run's).
    out, resume, unit, force, quiet, on_epoch: as the flags of `rnnalg train`; see session.train.
    """
    program = load_checked(spec, sets, defaults=trained_sizes(resume) if resume else None)
    return train(program, run_dir_for(spec, out, resume), settings, resume=resume, unit=unit,
                 force=force, quiet=quiet, spec_name=None if spec == "-" else spec, on_epoch=on_epoch)
