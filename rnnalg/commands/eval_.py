"""`rnnalg eval spec.rnn --checkpoint DIR`: the metric of a trained model on one split.

Music: NLL per frame (Bernoulli NLL summed over the 88 notes, natural log); characters:
bits per character; words: perplexity, over every prediction of the split (see feed.evaluate_split).
The spec must be the one the checkpoint was trained with; text is encoded with the checkpoint's
stored vocabulary.  The BLAS runs on the thread count the run was trained with (recorded in its
checkpoint: the last bits of a float32 figure depend on it) unless `--threads` says otherwise;
the printed line says which count it used (`threads.py`, shared with `sample`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..train import numerics
from ..train.config import TrainConfig
from ..train.feed import METRIC_LABELS, UNIT_PLURALS, evaluate_split
from ..train.runs import load_dataset_for, load_trained
from .threads import add_threads_argument, describe_threads, trained_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--checkpoint", required=True, metavar="DIR", help="run directory (or a checkpoint .json file)")
    a("--which", choices=("best", "last"), help="which checkpoint of the run directory (default best)")
    a("--split", choices=("test", "valid", "train"), default="test", help="the split to score (default test)")
    a("--data", metavar="NAME|PATH", help="the dataset to score (default: the one the checkpoint was trained on)")
    a("--data-dir", metavar="DIR", help="a data folder searched before $RNNALG_DATA and the cache "
                                        "(default: the run's own, unless --data names another dataset)")
    a("--unit", choices=("char", "word"), help="text unit (default: the one the checkpoint was trained with)")
    a("--batch-size", type=int, default=None,
      help=f"music pieces per evaluation batch (default: the run's, {TrainConfig().eval_batch_size}; text is "
           "scored as one stream; the metric is the same)")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..data import metric_for

    program, model, params, meta = load_trained(args, args.which)
    config = meta.get("config", {})
    data = args.data or config.get("data", "jsb")
    data_dir = args.data_dir if args.data else (args.data_dir or config.get("data_dir"))
    dataset = load_dataset_for(program, data, data_dir, args.unit, args.spec, trained=meta)
    batch_size = args.batch_size or config.get("eval_batch_size") or TrainConfig().eval_batch_size
    steps = config.get("steps") if dataset.kind == "text" else None
    threads, source = trained_threads(args.threads, config.get("threads"))
    with numerics.blas_threads_set(threads):
        nll, count = evaluate_split(model, params, dataset, args.split, batch_size, steps)
    name, fn = metric_for(dataset)
    units = UNIT_PLURALS.get(dataset.unit, "steps")
    print(f"{args.split} {METRIC_LABELS.get(name, name)}: {fn(nll, count):.4f}  "
          f"({count:,} {units}, {data}, {describe_threads(threads, source)}, {_loaded(args.checkpoint, meta)})")
    return 0


def _loaded(checkpoint, meta) -> str:
    """'last checkpoint of runs/dots': the checkpoint read, whatever --which or the file said."""
    where = Path(checkpoint)
    run = where.parent if where.suffix == ".json" else where
    return f"{meta.get('tag', where.stem)} checkpoint of {run}"
