"""`rnnalg train spec.rnn`: train a spec on a dataset; print the test metric of the best parameters.

Writes into the run directory (default runs/<spec stem>): best.json / last.json checkpoints
(+ their .npz arrays), metrics.jsonl, curve.png and result.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..train import checkpoint as ckpt
from ..atomic import write_atomic
from ..lower.footprint import require
from ..train.config import INITS, TrainConfig, resolve
from ..train.feed import METRIC_LABELS, UNIT_PLURALS, single_io, train_positions
from ..train.optim import OPTIMIZERS
from ..train.runs import compile_model, load_dataset_for, prepare_run_dir
from ..train.trainer import Trainer

# flag dest -> TrainConfig field (all default to None so that "given" is visible on --resume)
CONFIG_FLAGS = ("data", "data_dir", "epochs", "batch_size", "steps", "optimizer", "lr", "momentum",
                "nesterov", "clip", "weight_noise", "init", "init_scale", "patience", "halvings",
                "seed", "time_limit", "min_count")

# Trainer.run's reason -> how the result line says it
STOPPED = {"epochs": "trained {epochs} (--epochs)", "early stop": "stopped early after {epochs}",
           "time limit": "stopped by --time-limit after {epochs}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    a = parser.add_argument
    a("--data", metavar="NAME|PATH", help=f"dataset name or file/directory (default: {d.data}, embedded)")
    a("--data-dir", metavar="DIR", help="where named datasets live (default: the shared data folder)")
    a("--unit", choices=("char", "word"), help="text unit for a text file given by --data")
    a("--min-count", type=int, metavar="N", help="text: symbols seen fewer than N times in the train "
                                                 "split become <unk>, as do unseen ones (default 1: none)")
    a("--epochs", type=int, help=f"maximum number of epochs (default {d.epochs})")
    a("--batch-size", type=int, help="sequences per minibatch (default: music 4, text 32)")
    a("--steps", type=int, help="truncated-BPTT length (default: music whole pieces, chars 100, words 35)")
    a("--optimizer", choices=tuple(OPTIMIZERS), help=f"(default {d.optimizer})")
    a("--lr", type=float, help="learning rate (default: adam 1e-3, sgd 0.01)")
    a("--momentum", type=float, help=f"SGD momentum (default {d.momentum})")
    a("--nesterov", action="store_true", default=None, help="Nesterov momentum for SGD")
    a("--clip", type=float, help=f"clip the global gradient norm to this; 0 disables (default {d.clip})")
    a("--weight-noise", type=float, metavar="SIGMA",
      help="std of Gaussian noise added to weights and embeddings each update (default: music 0.02, "
           "text 0)")
    a("--init", choices=INITS, help=f"weight initialisation (default {d.init})")
    a("--init-scale", type=float, help="initial weight scale of each affine summary, all its operands "
                                       "as one matrix: gaussian std (default 1/sqrt(total fan-in)), "
                                       "orthogonal gain (default 1), sparse largest singular value (default 1)")
    a("--patience", type=int, help=f"epochs without validation progress before the lr is halved "
                                   f"(default {d.patience})")
    a("--halvings", type=int, help=f"lr halvings before a further plateau stops training (default {d.halvings})")
    a("--seed", type=int, help=f"random seed; the same seed gives the same run bit for bit (default {d.seed})")
    a("--out", metavar="DIR", help="run directory (default runs/<spec stem>; with --resume: that directory)")
    a("--resume", metavar="DIR", help="continue the run saved in DIR exactly where it stopped")
    a("--force", action="store_true", help="overwrite a run already in --out")
    a("--time-limit", type=float, metavar="SECONDS", help="save and stop after this many seconds")
    a("--quiet", action="store_true", help="no progress bar or per-epoch lines; print only the result")


def run(args: argparse.Namespace) -> int:
    from .common import load_program

    started = time.monotonic()
    program = load_program(args)
    single_io(program)
    given = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    if args.resume:
        arrays, meta = ckpt.load(args.resume, "last", program=program)
        config = TrainConfig.from_json(meta["config"]).replace(**given)
        run_dir = Path(args.out or args.resume)
    else:
        arrays = meta = None
        config = TrainConfig().replace(**given)
        run_dir = Path(args.out or Path("runs") / Path(args.spec).stem)
    dataset = load_dataset_for(program, config.data, config.data_dir, args.unit, args.spec,
                               trained=meta, min_count=config.min_count)
    config = resolve(config, dataset.unit)
    require(program, "train", _batch_positions(dataset, config), hint=" or a smaller --batch-size / --steps")
    model = compile_model(program)
    run_dir = prepare_run_dir(run_dir, resuming=bool(args.resume), force=args.force)

    trainer = Trainer(model, dataset, config, run_dir, quiet=args.quiet)
    if meta is not None:
        trainer.restore(arrays, meta)
    else:
        trainer.start_fresh()
    n_train = train_positions(dataset)
    trainer.monitor.say(
        f"{'resuming' if meta else 'training'} {args.spec}: {program.param_count:,} parameters; "
        f"{config.data}: {n_train:,} train {UNIT_PLURALS.get(dataset.unit, 'steps')}; "
        f"{config.optimizer} lr {trainer.state.lr:g}; run directory {run_dir}")

    reason = trainer.run()
    if reason == "interrupted":
        trainer.monitor.note(f"saved {run_dir / 'last.json'}; continue with: "
                             f"rnnalg train {args.spec} --resume {run_dir}")
        return 130
    label = METRIC_LABELS.get(trainer.metric_name, trainer.metric_name)
    test, nll, count = trainer.evaluate("test")
    s = trainer.state
    result = {"test": test, "metric": trainer.metric_name, "test_nll_sum": nll, "test_count": count,
              "best_valid": s.best_valid if s.best_epoch else None, "best_epoch": s.best_epoch, "epochs": s.epoch,
              "stopped": reason, "seconds": round(time.monotonic() - started, 1)}
    text = json.dumps(result, indent=1, sort_keys=True)
    write_atomic(run_dir, "result.json", lambda f: f.write(text.encode()))
    best = (f"best valid {s.best_valid:.4f} at epoch {s.best_epoch}" if s.best_epoch
            else "no finished epoch: current parameters")
    epochs = f"{s.epoch} epoch{'' if s.epoch == 1 else 's'}"
    stopped = STOPPED.get(reason, "stopped: {reason} after {epochs}").format(reason=reason, epochs=epochs)
    print(f"test {label}: {test:.4f}  ({best}; {stopped}, {result['seconds']:.0f}s; {run_dir})")
    return 0


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
