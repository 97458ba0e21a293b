"""One training run as a function: `train(program, run_dir, settings) -> result`.

`rnnalg train` and a sweep trial reach it through `launch.run_training` (which reads the
spec); `on_epoch` reports each epoch.  It loads the data, starts the run (or continues the
one saved in `resume`), trains on the run's BLAS thread count, and, unless a signal stopped
it, evaluates the best parameters on the test split and writes `result.json`, which records
the machine's arithmetic (`numerics.RECORDED`) beside the figures.

Resuming continues the recorded run: the checkpoint's configuration (thread count included),
data unit and backend, the caller's program checked against the checkpoint's (load it with
`runs.trained_sizes`), and of `settings` only what `config.ON_RESUME` lets change (applied,
recorded, announced); a different numpy or BLAS is warned about.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import write_atomic
from ..errors import CheckpointError, UsageError
from ..lower.footprint import require
from . import checkpoint as ckpt
from . import numerics
from .config import TrainConfig, flag_name, resolve, resume_config
from .feed import UNIT_PLURALS, single_io, train_positions
from .runs import compile_model, load_dataset_for, prepare_run_dir
from .signals import STOP_SIGNALS
from .state import CHECKPOINT_RECORDS
from .trainer import Trainer

SIGNAL_STOPS = tuple(STOP_SIGNALS.values())  # stopped by a signal: no test evaluation


def train(program, run_dir, settings: dict | None = None, *, resume=None, unit: str | None = None,
          force: bool = False, quiet: bool = False, on_epoch=None, spec_name: str | None = None) -> dict:
    """Train `program` into `run_dir`; returns the result (what result.json holds).

    settings: TrainConfig fields given by the caller (the rest take their defaults, or on
              resume the recorded values).
    resume:   a run directory (or its last.json) to continue; `run_dir` may be another folder.
    unit:     'char' or 'word' for a text file given as data (default: char; on resume: recorded).
    force:    start afresh in a `run_dir` that holds a run (its files are removed first).
    on_epoch: called with each epoch's metrics record; returning True stops the run.

    The result has 'stopped' (the reason) and 'epochs'; when the reason is not a signal
    ('interrupted', 'terminated') also 'test', 'metric', 'best_valid', ... (see result.json).
    """
    started = time.monotonic()
    trainer, meta, changes, note = _open(program, run_dir, settings, resume, unit, quiet, on_epoch, spec_name)
    run_dir, config = trainer.run_dir, trainer.config
    continuing_here = resume is not None and _same_dir(ckpt.json_path(resume).parent, run_dir)
    prepare_run_dir(run_dir, resuming=continuing_here, force=force)
    if meta is not None:
        trainer.apply_changes(changes)
        if not continuing_here:  # a copy of the run continues in another folder
            if trainer.best_params is not None:
                trainer.save("best")
            trainer.save("last")
            trainer.monitor.write_metrics(trainer.state.history)
    else:
        trainer.start_fresh()
    _announce(trainer, program, spec_name or program.file, resume, changes, trainer.dataset)
    for line in [note] + _arithmetic_warnings(meta):
        if line:
            trainer.monitor.note(line)

    with numerics.blas_threads_set(config.threads):  # training and the test figure alike
        reason = trainer.run()
        result = {"stopped": reason, "epochs": trainer.state.epoch, "run_dir": str(run_dir)}
        if reason in SIGNAL_STOPS:
            return result
        result.update(final_figures(trainer))
    result["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps({k: v for k, v in result.items() if k != "run_dir"}, indent=1, sort_keys=True)
    write_atomic(run_dir, "result.json", lambda f: f.write(text.encode()))
    return result


def standing(program, run_dir) -> dict:
    """The figures an unfinished run would end with if it ended now, writing nothing: the run
    in `run_dir` restored from its `last` checkpoint as `--resume` restores it (its recorded
    configuration, thread count, backend, data unit and vocabulary; `last` holds the best
    parameters, the arrays of `best`), then `final_figures`, the code a run's end calls.

    -> {"stopped": the run's own reason or None, "epochs", "run_dir", **final_figures}."""
    trainer, meta, _, note = _open(program, run_dir, None, run_dir, None, True, None, None)
    for line in [note] + _arithmetic_warnings(meta):  # as a resume of the run says them
        if line:
            trainer.monitor.note(line)
    with numerics.blas_threads_set(trainer.config.threads):  # as the run's end: its BLAS threads
        figures = final_figures(trainer)
    return {"stopped": trainer.state.stopped, "epochs": trainer.state.epoch, "run_dir": str(run_dir), **figures}


def final_figures(trainer) -> dict:
    """What a run's end records of its best parameters (result.json less `stopped`, `epochs`,
    `seconds`): the test figure over the whole test split, its NLL sum and count, the metric, the
    machine's arithmetic (numerics.RECORDED), the best validation figure and its epoch.  Called
    inside `numerics.blas_threads_set` of the run's thread count."""
    s = trainer.state
    test, nll, count = trainer.evaluate("test")
    return {"test": test, "metric": trainer.metric_name, "test_nll_sum": nll, "test_count": count,
            # float32 runs differ by backend, BLAS thread count, numpy and BLAS
            **numerics.environment(getattr(trainer.model, "backend", None)), "threads": trainer.config.threads,
            "best_valid": s.best_valid if s.best_epoch else None, "best_epoch": s.best_epoch}


def _open(program, run_dir, settings, resume, unit, quiet, on_epoch, spec_name) -> tuple:
    """(trainer, checkpoint metadata or None, settings changed on resume, a backend note or None):
    the data loaded, the model compiled and, with `resume`, the run restored from its `last`
    checkpoint (checked, nothing written: the run directory is not prepared here)."""
    settings = dict(settings or {})
    single_io(program)
    if resume is not None:
        arrays, meta = ckpt.load(resume, "last", program=program, records=CHECKPOINT_RECORDS)
        recorded_unit = meta.get("dataset_unit")
        if unit is not None and recorded_unit is not None and unit != recorded_unit:
            raise UsageError(f"--unit {unit}: a resumed run keeps the recorded unit ({recorded_unit}); "
                             f"drop the flag to continue the run, or start a new run with --out")
        recorded = TrainConfig.from_json(meta["config"])
        try:
            resolve(recorded, recorded_unit or "frame")
        except UsageError as err:  # a hand-edited value no fresh run could have
            raise CheckpointError(ckpt.json_path(resume), f"checkpoint field config holds a value "
                                                          f"train refuses: {err}") from None
        config, changes = resume_config(recorded, settings)
    else:
        arrays = meta = None
        config, changes = TrainConfig().replace(**settings), {}
    # a resumed text run reads its data in the recorded unit, encoded with the stored vocabulary
    dataset = load_dataset_for(program, config.data, config.data_dir, unit, spec_name or program.file,
                               trained=meta, min_count=config.min_count)
    config = resolve(config, dataset.unit)
    if config.threads is None:  # the BLAS's own count, recorded: --resume and reruns train on it
        config = config.replace(threads=numerics.blas_threads())
    require(program, "train", _batch_positions(dataset, config), hint=" or a smaller --batch-size / --steps")
    backend, backend_note = numerics.resumed_backend(meta.get("backend")) if meta else ("auto", None)
    model = compile_model(program, backend)
    trainer = Trainer(model, dataset, config, Path(run_dir), quiet=quiet, on_epoch=on_epoch)
    if meta is not None:  # its arrays checked before the run directory is made or touched
        trainer.restore(arrays, meta, source=ckpt.json_path(resume).parent / meta["arrays"],
                        meta_source=ckpt.json_path(resume))
    return trainer, meta, changes, backend_note


def _batch_positions(dataset, config) -> int:
    """T·B of the largest training batch, which the data bounds whatever --steps and --batch-size:
    text B streams of min(steps, N // B − 1) tokens; music up to B pieces of its longest length."""
    parts = dataset.splits["train"]
    if dataset.kind == "text":
        n = sum(map(len, parts))
        streams = min(config.batch_size, n)
        return streams * min(config.steps, max(1, n // streams - 1))
    longest = max(map(len, parts)) - 1
    return min(config.steps or longest, longest) * min(config.batch_size, len(parts))


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _announce(trainer, program, spec_name, resume, changes, dataset) -> None:
    c, s = trainer.config, trainer.state
    trainer.monitor.say(
        f"{'resuming' if resume is not None else 'training'} {spec_name}: {program.param_count:,} parameters; "
        f"{c.data}: {train_positions(dataset):,} train {UNIT_PLURALS.get(dataset.unit, 'steps')}; "
        f"{c.optimizer} lr {s.lr:g}; run directory {trainer.run_dir}")
    if resume is not None and s.stopped:
        trainer.monitor.note(f"note: this run has ended ({s.stopped}); nothing to train")
    elif resume is not None and s.epoch >= c.epochs:
        trainer.monitor.note(f"note: this run has done its {c.epochs} epochs; nothing to train "
                             f"(a larger --epochs continues it)")
    if changes:
        said = ", ".join(f"{flag_name(r['field'])} {r['to']} (was {r['from']})" for r in s.changes[-len(changes):])
        trainer.monitor.note(f"resuming with {said} from epoch {s.epoch + 1}, step {s.step + 1} "
                             f"(recorded in the checkpoint)")


def _arithmetic_warnings(meta) -> list:
    """A warning when a resumed run's numpy or BLAS is not the one it was trained with."""
    changed = numerics.differences(meta or {}, numerics.environment(None))
    if not changed:
        return []
    return [f"warning: this run was trained with {', '.join(changed)}: from here on its figures may "
            f"differ from those of an uninterrupted run"]
