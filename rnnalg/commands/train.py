"""`rnnalg train spec.rnn`: train a spec on a dataset; print the test metric of the best parameters.

Writes into the run directory (default runs/<spec stem>; runs/stdin for a spec on standard
input): best.json / last.json checkpoints (+ their .npz arrays), metrics.jsonl, curve.png and
result.json.  The work is done by `rnnalg.train.session.train`; this module parses the flags
and prints.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..train import checkpoint as ckpt
from ..train.config import INITS, ON_RESUME, TrainConfig, flag_name
from ..train.feed import METRIC_LABELS
from ..train.optim import OPTIMIZERS
from ..train.runs import trained_sizes
from ..train.session import train

# flag dest -> TrainConfig field (all default to None so that "given" is visible on --resume)
CONFIG_FLAGS = ("data", "data_dir", "epochs", "batch_size", "steps", "optimizer", "lr", "momentum",
                "nesterov", "clip", "weight_noise", "init", "init_scale", "patience", "halvings",
                "seed", "time_limit", "min_count")
EXIT_CODES = {"interrupted": 130, "terminated": 143}  # 128 + SIGINT, 128 + SIGTERM

# Trainer.run's reason -> how the result line says it
STOPPED = {"epochs": "trained {epochs} (--epochs)", "early stop": "stopped early after {epochs}",
           "time limit": "stopped by --time-limit after {epochs}",
           "stopped by caller": "stopped by its on_epoch after {epochs}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    a = parser.add_argument
    a("--data", metavar="NAME|PATH", help=f"dataset name or file/directory (default: {d.data}, embedded)")
    a("--data-dir", metavar="DIR", help="a data folder (music/, ptb/, ptb_char/) searched before "
                                        "$RNNALG_DATA and the cache; see `rnnalg data list`")
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
    a("--out", metavar="DIR", help="run directory (default runs/<spec stem>, runs/stdin for -; with --resume: that directory)")
    changeable = ", ".join(flag_name(k) for k in CONFIG_FLAGS if k in ON_RESUME and ON_RESUME[k] is None)
    a("--resume", metavar="DIR",
      help="continue the run saved in DIR exactly where it stopped, with its recorded settings, sizes "
           f"and data unit; of the flags, only {changeable} may differ (applied from there "
           "on, and recorded); the others must be left out or equal the recorded values")
    a("--force", action="store_true",
      help="start afresh in an --out that holds a run: its checkpoints, metrics, result, plots and "
           "samples are removed first (other files are kept)")
    a("--time-limit", type=float, metavar="SECONDS",
      help="save and stop after this many seconds (Ctrl-C and SIGTERM also save, then stop)")
    a("--quiet", action="store_true", help="no progress bar or per-epoch lines; print only the result")


def default_run_dir(spec: str) -> Path:
    """runs/<spec stem>: runs/dots for examples/dots.rnn; runs/stdin for a spec read from `-`."""
    return Path("runs") / ("stdin" if spec == "-" else Path(spec).stem)


def run(args: argparse.Namespace) -> int:
    from .common import load_program

    settings = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    # a resumed run has the sizes it was trained with, whatever --set the first command had
    program = load_program(args, default_sizes=trained_sizes(args.resume) if args.resume else None)
    if args.out:
        run_dir = Path(args.out)
    elif args.resume:  # DIR, or DIR/last.json
        run_dir = ckpt.json_path(args.resume).parent
    else:
        run_dir = default_run_dir(args.spec)
    result = train(program, run_dir, settings, resume=args.resume, unit=args.unit, force=args.force,
                   quiet=args.quiet, spec_name=None if args.spec == "-" else args.spec,
                   on_epoch=getattr(args, "on_epoch", None))  # set by a sweep trial, never by the CLI
    reason, epochs = result["stopped"], result["epochs"]
    again = f"rnnalg train {shlex.quote(args.spec)} --resume {shlex.quote(str(run_dir))}"
    if args.spec == "-":
        again += "  (with the same spec on standard input)"
    if reason in EXIT_CODES:
        print(f"saved {run_dir / 'last.json'}; continue with: {again}", file=sys.stderr)
        return EXIT_CODES[reason]
    label = METRIC_LABELS.get(result["metric"], result["metric"])
    best = (f"best valid {result['best_valid']:.4f} at epoch {result['best_epoch']}" if result["best_epoch"]
            else "no finished epoch: current parameters")
    epochs = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    stopped = STOPPED.get(reason, "stopped: {reason} after {epochs}").format(reason=reason, epochs=epochs)
    print(f"test {label}: {result['test']:.4f}  ({best}; {stopped}, {result['seconds']:.0f}s; {run_dir})")
    if reason == "time limit":
        print(f"continue with: {again}", file=sys.stderr)
    return 0
