"""`rnnalg equiv A.rnn B.rnn [--set NAME=VALUE] [--format text|json] [--map-checkpoint RUN -o OUT]`:
are two specs the same model?

    $ rnnalg equiv examples/dt.rnn dt_written_out.rnn
    equivalent: examples/dt.rnn and dt_written_out.rnn are the same model
      values       x -> x, h -> h, h'.1 -> z, ...
      parameters   h'.1.W_x -> z.W_x, ...
    $ rnnalg equiv a.rnn b.rnn
    not equivalent: a.rnn:6:6 vs b.rnn:6:6: tanh vs sigmoid

Exit status 0: equivalent; 3: not; 1: an error in a spec or a checkpoint; 2: a bad command line.
`--set` applies to each spec that defines the size.  `--map-checkpoint RUN -o OUT` writes RUN's
checkpoints (trained with A) as checkpoints of B in the new run directory OUT: parameters,
optimiser moments, best parameters and carried states under B's names.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import UsageError
from .common import parse_sets

TAKES_SPEC = False
NOT_EQUIVALENT = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("a", help="the first .rnn spec (-: standard input)")
    a("b", help="the second .rnn spec (-: standard input)")
    a("--set", action="append", default=[], metavar="NAME=VALUE",
      help="override a `let` size in whichever spec defines it (repeatable)")
    a("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")
    a("--map-checkpoint", metavar="RUN", help="a run directory trained with A: write it for B (needs -o)")
    a("-o", "--output", metavar="OUT", help="with --map-checkpoint: the new run directory (must not exist)")


def _programs(args):
    from ..checking import check
    from ..pretty import format_warnings
    from ..specfile import read_spec

    if args.a == args.b == "-":
        raise UsageError("equiv: standard input holds one spec: give A or B as a file")
    specs = [read_spec(path) for path in (args.a, args.b)]  # `-`: standard input, as every spec argument
    sets = parse_sets(args.set)
    defined = [{let.name for let in spec.lets} for spec in specs]
    unknown = [name for name in sets if not any(name in d for d in defined)]
    if unknown:
        raise UsageError(f"unknown size '{unknown[0]}' in --set (neither spec defines it)")
    programs = [check(spec, {k: v for k, v in sets.items() if k in d}) for spec, d in zip(specs, defined)]
    for p in programs:
        if p.warnings:
            print(format_warnings(p.warnings), file=sys.stderr)
    return programs


def run(args: argparse.Namespace) -> int:
    from ..algebra.equiv import equivalent

    if bool(args.map_checkpoint) != bool(args.output):
        raise UsageError("--map-checkpoint RUN and -o OUT go together")
    if args.output and Path(args.output).exists():
        raise UsageError(f"-o {args.output}: already exists; give a new run directory")
    a, b = _programs(args)
    eq = equivalent(a, b)
    if args.format == "json":
        print(json.dumps({"equivalent": eq.equal, "values": eq.names, "parameters": eq.params,
                          "negated": sorted(eq.negated),
                          "difference": str(eq.difference) if eq.difference else None}, indent=2,
                         ensure_ascii=False))
    elif eq:
        print(f"equivalent: {a.file} and {b.file} are the same model")
        print("  values       " + ", ".join(f"{k} -> {v}" for k, v in eq.names.items()))
        print("  parameters   " + ", ".join(f"{k} -> {'-' if k in eq.negated else ''}{v}"
                                            for k, v in eq.params.items()))
        if eq.negated:
            print("  (-: the parameter changes sign, σ(a) = 1 − σ(−a): a gate read as its complement)")
    else:
        print(f"not equivalent: {eq.difference}")
    if not eq:
        if args.map_checkpoint:
            print(f"{args.map_checkpoint}: not mapped (the specs differ)", file=sys.stderr)
        return NOT_EQUIVALENT
    if args.map_checkpoint:
        written = map_checkpoint(args.map_checkpoint, args.output, a, b, eq)
        print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def map_checkpoint(run_dir, out_dir, a, b, eq) -> list:
    """Each checkpoint (last, best) of `run_dir`, trained with `a`, saved for `b` in `out_dir`."""
    from ..algebra.equiv import rename_arrays
    from ..atomic import _umask
    from ..train import checkpoint as ckpt

    found = [tag for tag in ckpt.TAGS if ckpt.json_path(run_dir, tag).exists()]
    if not found:
        ckpt.load(run_dir, "last", program=a)  # raises the located 'no checkpoint found'
    loaded = {tag: ckpt.load(run_dir, tag, program=a) for tag in found}  # all checked before writing
    out = Path(out_dir)
    if out.parent.exists() and not out.parent.is_dir():
        raise UsageError(f"-o {out_dir}: {out.parent} is not a folder")
    try:  # the run is written beside OUT and renamed to it whole: an error or Ctrl-C leaves no OUT
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
        os.chmod(building, 0o777 & ~_umask())  # a run directory's usual mode, not mkdtemp's 0700
    except OSError as err:
        raise UsageError(f"-o {out_dir}: cannot create it: {err.strerror or err}") from None
    try:
        for tag, (arrays, meta) in loaded.items():
            keep = {k: v for k, v in meta.items() if k not in ckpt.REQUIRED_META and k != "sizes"}
            ckpt.save(building, tag, rename_arrays(arrays, eq), keep, b)
        os.rename(building, out)
    except OSError as err:
        raise UsageError(f"-o {out_dir}: cannot write it: {err.strerror or err}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)  # gone once renamed
    return [out / f"{tag}.json" for tag in loaded]
