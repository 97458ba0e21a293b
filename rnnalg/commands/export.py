"""`rnnalg export spec.rnn --to torch|jax|onnx -o FILE [--checkpoint RUN]`: the same model for
another framework (rnnalg/export/).

torch and jax write one Python file (-o *.py) that needs only that framework; onnx writes an
ONNX model (-o *.onnx).  With --checkpoint the trained parameters go along: a state_dict beside
the torch file (<stem>.pt), an .npz beside the jax file (<stem>.npz), initialisers in the ONNX
model; the sizes default to those the run was trained with.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UsageError
from .common import load_program

SUFFIXES = {"torch": ".py", "jax": ".py", "onnx": ".onnx"}  # target -> the suffix -o must have


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--to", required=True, choices=sorted(SUFFIXES), help="the framework to write the model for")
    a("-o", "--output", required=True, metavar="FILE",
      help="the file to write: a .py module (torch, jax) or an .onnx model")
    a("--checkpoint", metavar="RUN", help="a run directory (or checkpoint .json) whose parameters go along")
    a("--which", choices=("best", "last"), help="which checkpoint of the run directory (default best)")


def run(args: argparse.Namespace) -> int:
    from ..export import export

    suffix = SUFFIXES[args.to]
    if Path(args.output).suffix.lower() != suffix:  # before the spec or the checkpoint is read
        raise UsageError(f"-o {args.output}: --to {args.to} writes a {suffix} file")
    if args.which and not args.checkpoint:
        raise UsageError("--which needs --checkpoint")
    if args.checkpoint:
        from ..train.runs import load_trained

        program, _, params, _ = load_trained(args, args.which)
    else:
        program, params = load_program(args), None
    start = time.perf_counter()
    written = export(program, args.to, args.output, params=params)
    seconds = time.perf_counter() - start
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print(f"exported {program.file} to {args.to} in {seconds:.2f} s", file=sys.stderr)
    return 0
