"""The flags of a training run: what `rnnalg train` and a sweep file's `train` tables accept.

`add_arguments(parser)` defines them (argparse); `run_arguments(args)` turns parsed flags into
the keyword arguments of `launch.run_training`, so the command line and a sweep trial start a
run the same way.
"""
from __future__ import annotations

import argparse

from .config import INITS, ON_RESUME, UNIT_DEFAULTS, TrainConfig, flag_name
from .optim import OPTIMIZERS

# flag dest -> TrainConfig field (all default to None so that "given" is visible on --resume)
CONFIG_FLAGS = ("data", "data_dir", "epochs", "batch_size", "steps", "optimizer", "lr", "momentum",
                "nesterov", "clip", "weight_noise", "init", "init_scale", "patience", "halvings",
                "seed", "time_limit", "min_count", "threads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    music, text = UNIT_DEFAULTS["frame"], UNIT_DEFAULTS["char"]  # (batch size, BPTT steps, weight noise)
    a = parser.add_argument
    a("--data", metavar="NAME|PATH", help=f"dataset name or file/directory (default: {d.data}, embedded)")
    a("--data-dir", metavar="DIR", help="a data folder (music/, ptb/, ptb_char/) searched before "
                                        "$RNNALG_DATA and the cache; see `rnnalg data list`")
    a("--unit", choices=("char", "word"), help="text unit for a text file given by --data (default char)")
    a("--min-count", type=int, metavar="N", help="text: symbols seen fewer than N times in the train "
                                                 f"split become <unk>, as do unseen ones (default {d.min_count}: none)")
    a("--epochs", type=int, help=f"maximum number of epochs (default {d.epochs})")
    a("--batch-size", type=int, help=f"sequences per minibatch (default: music {music[0]}, text {text[0]})")
    a("--steps", type=int, help=f"truncated-BPTT length (default: music whole pieces, chars {text[1]}, "
                                f"words {UNIT_DEFAULTS['word'][1]})")
    a("--optimizer", choices=tuple(OPTIMIZERS), help=f"the optimiser: SGD (with --momentum, --nesterov) or "
                                                    f"Adam (default {d.optimizer})")
    a("--lr", type=float, help="learning rate (default: "
                               + ", ".join(f"{name} {rule[2]:g}" for name, rule in OPTIMIZERS.items()) + ")")
    a("--momentum", type=float, help=f"SGD momentum (default {d.momentum})")
    a("--nesterov", action="store_true", default=None, help="Nesterov momentum for SGD")
    a("--clip", type=float, help=f"clip the global gradient norm to this; 0 disables (default {d.clip})")
    a("--weight-noise", type=float, metavar="SIGMA",
      help=f"std of Gaussian noise added to weights and embeddings each update (default: music {music[2]:g}, "
           f"text {text[2]:g})")
    a("--init", choices=INITS, help=f"weight initialisation (default {d.init})")
    a("--init-scale", type=float, help="initial weight scale of each affine summary, all its operands "
                                       "as one matrix: gaussian std (default 1/sqrt(total fan-in)), "
                                       "orthogonal gain (default 1), sparse largest singular value (default 1)")
    a("--patience", type=int, help=f"epochs without validation progress before the lr is halved "
                                   f"(default {d.patience})")
    a("--halvings", type=int, help=f"lr halvings before a further plateau stops training (default {d.halvings})")
    a("--seed", type=int, help=f"random seed; the same seed gives the same run bit for bit on the same machine, "
                               f"backend and --threads (default {d.seed})")
    a("--threads", type=int, metavar="N", help="BLAS threads (default: the BLAS's own count, usually the "
                                               "cores); recorded, and kept by --resume: the last bits of "
                                               "every figure depend on it")
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
      help="save and stop after this many seconds (default: none; Ctrl-C and SIGTERM also save, then stop)")
    a("--quiet", action="store_true", help="no progress bar or per-epoch lines; print only the result")


def run_arguments(args: argparse.Namespace) -> dict:
    """The keyword arguments of `launch.run_training` given by parsed flags (spec and --set too)."""
    return {"spec": args.spec, "sets": list(getattr(args, "set", None) or []),
            "settings": {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None},
            "out": args.out, "resume": args.resume, "unit": args.unit, "force": args.force,
            "quiet": args.quiet}
