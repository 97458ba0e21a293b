"""`rnnalg sample spec.rnn --checkpoint DIR`: music → MIDI (+ piano-roll PNG), text → stdout.

Priming: text `--prime "some text"` is fed before sampling; music `--prime SPLIT:I[:K]` feeds
the first K frames (default 16) of piece I of that split (default: one silent frame).
Text uses the vocabulary stored in the checkpoint, so no data is read; music reads its
dataset only for `--prime`.  The BLAS runs on the thread count the run was trained with unless
`--threads` says otherwise (`threads.py`, the rule `eval` follows: a float32 probability's last
bits, and so a drawn note or symbol near its threshold, depend on it); music's summary line
says which count it used, text says so on stderr.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import writable_reason
from ..errors import DataError, RnnalgError, UsageError
from ..train import numerics
from ..train.runs import load_dataset_for, load_trained, stored_vocab, trained_unit
from ..train.sampling import generate, save_midi, save_roll_png
from .threads import add_threads_argument, describe_threads, trained_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--checkpoint", required=True, metavar="DIR", help="run directory (or a checkpoint .json file)")
    a("--which", choices=("best", "last"), help="which checkpoint of the run directory (default best)")
    a("--steps", type=int, default=None,
      help="steps to generate (default: music 128 frames, text 500 symbols; at most 100,000 / 1,000,000)")
    a("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    a("--prime", default=None, help="text to start from, or for music SPLIT:INDEX[:FRAMES]")
    a("--seed", type=int, default=0, help="random seed (default 0)")
    a("--out", metavar="FILE", help="music: the MIDI file (default <checkpoint>/sample.mid)")
    a("--data", metavar="NAME|PATH", help="music: dataset of the --prime piece (default: the "
                                           "training data); text: not needed")
    a("--data-dir", metavar="DIR", help="music: a data folder searched before $RNNALG_DATA and the cache "
                                        "for --data (default: the run's own, unless --data names another)")
    a("--unit", choices=("char", "word"), help="text unit (default: the one the checkpoint was trained with; "
                                               "another is an error)")
    add_threads_argument(parser)


@dataclass(frozen=True)
class Steps:
    """How many steps `sample` draws for an output kind: the default, the most, and their unit."""
    default: int
    most: int
    unit: str  # singular; the plural adds "s"


# music frames are MIDI quarter notes: 100,000 last 16.7 hours at 100 bpm, and each MIDI event
# is a Python object while the file is written
STEPS = {"token": Steps(500, 1_000_000, "symbol"), "binary": Steps(128, 100_000, "frame"),
         "real": Steps(128, 100_000, "frame")}


def run(args: argparse.Namespace) -> int:
    program, model, params, meta = load_trained(args, args.which)
    threads, source = trained_threads(args.threads, meta.get("config", {}).get("threads"))
    with numerics.blas_threads_set(threads):
        args.threads_used = describe_threads(threads, source)
        return _sample(args, program, model, params, meta)


def _sample(args, program, model, params, meta) -> int:
    kind = program.heads[0].output.kind
    args.steps = _steps(args.steps, kind)
    rng = np.random.default_rng(args.seed)
    vocab = stored_vocab(meta)
    if vocab is not None and args.data is None:  # a text run: the checkpoint holds all we need
        return _text(args, model, params, vocab, trained_unit(meta["dataset_unit"], args.unit), rng)
    if program.heads[0].output.kind == "binary" and not args.prime:  # music from silence
        return _music(args, model, params, None, rng)
    dataset = _dataset(args, program, meta)
    if dataset.kind == "music":
        return _music(args, model, params, dataset, rng)
    return _text(args, model, params, dataset.vocab, dataset.unit, rng)


def _steps(steps, kind: str) -> int:
    """--steps, or the default for the output's kind; UsageError above its most (STEPS)."""
    rule = STEPS[kind]
    if steps is None:
        return rule.default
    if steps > rule.most:
        raise UsageError(f"--steps {steps}: at most {rule.most:,} {rule.unit}s for a {kind} output in one sample")
    return steps


def _generate(model, params, args, prime, rng):
    """`generate` with a progress bar on a terminal's stderr (tqdm disables itself elsewhere)."""
    from tqdm import tqdm

    unit = STEPS[model.program.heads[0].output.kind].unit
    with tqdm(total=args.steps, desc="sampling", unit=unit, leave=False, file=sys.stderr,
              disable=None, mininterval=0.5) as bar:
        return generate(model, params, args.steps, prime, args.temperature, rng, progress=bar)


def _dataset(args, program, meta):
    """The --data dataset (default: the training data), read as the checkpoint was trained."""
    config = meta.get("config", {})
    return load_dataset_for(program, args.data or config.get("data", "jsb"),
                            args.data_dir or (None if args.data else config.get("data_dir")),
                            args.unit, args.spec, trained=meta)


def _music(args, model, params, dataset, rng) -> int:
    out = _music_out(args)
    writers = _music_writers(out)
    width = model.program.inputs[0].width
    prime = _music_prime(args.prime, dataset, width)
    roll = _generate(model, params, args, prime, rng)
    wrote = []
    try:
        for path, write in writers:
            write(roll, path, f"{model.program.file}  τ={args.temperature}")
            wrote.append(path)
    except OSError as err:
        for done in wrote:  # all or nothing: no MIDI without its picture
            done.unlink(missing_ok=True)
        raise DataError(str(path), f"cannot write the sample: {err.strerror or err}") from None
    notes, key_frames = note_counts(roll)
    print(f"{len(roll)} frames, {notes} notes (MIDI note-ons: a key held over several frames is one note; "
          f"{key_frames} key-frames sounding), {args.threads_used}: {', '.join(map(str, wrote))}")
    return 0


def note_counts(roll) -> tuple:
    """(notes, key-frames) of a (T, keys) piano roll: a note starts where a key sounds and did not
    in the frame before (the MIDI file's note-ons, held notes tied); a key-frame is one key
    sounding in one frame, so a note held for d frames counts d of them."""
    keys = np.asarray(roll) > 0
    before = np.vstack([np.zeros((1,) + keys.shape[1:], bool), keys[:-1]])
    return int((keys & ~before).sum()), int(keys.sum())


def _music_out(args) -> Path:
    """The MIDI path (--out, default <checkpoint>/sample.mid), its folder checked writable first."""
    if args.out:
        out, origin = Path(args.out), f"--out {args.out}"
    else:
        run = Path(args.checkpoint)
        out = (run.parent if run.suffix == ".json" else run) / "sample.mid"
        origin = f"the default --out {out}"
    if out.suffix == ".json":
        out = out.with_suffix(".mid")
    reason = writable_reason(out.parent)
    if reason:
        hint = "" if args.out else "; choose a file elsewhere with --out FILE"
        raise UsageError(f"{origin}: cannot write into {out.parent}: {reason}{hint}")
    return out


def _music_writers(out: Path):
    """[(path, write(roll, path, title))] for the MIDI and the piano-roll PNG that can be written;
    a note for a missing library, an error when neither can."""
    writers, missing = [], []
    try:
        import mido  # noqa: F401
    except ImportError:
        missing.append("MIDI needs mido (pip install mido, or rnnalg[midi])")
    else:
        writers.append((out, lambda roll, path, title: save_midi(roll, path)))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing.append("the piano-roll image needs matplotlib (pip install matplotlib)")
    else:
        writers.append((out.with_suffix(".png"), lambda roll, path, title: save_roll_png(roll, path, title)))
    if not writers:
        raise RnnalgError(f"error: nothing can be written: {'; '.join(missing)}")
    for reason in missing:
        print(f"note: {reason}; writing {', '.join(str(p) for p, _ in writers)} only", file=sys.stderr)
    return writers


def _music_prime(spec, dataset, width):
    """SPLIT:INDEX[:FRAMES] → the first FRAMES frames of that piece; None → one silent frame."""
    if not spec:
        return np.zeros((1, width), dtype=np.float32)
    parts = spec.split(":")
    try:
        split, index = parts[0], int(parts[1])
        frames = int(parts[2]) if len(parts) > 2 else 16
        if len(parts) > 3 or frames < 1:
            raise ValueError
    except (ValueError, IndexError):
        raise UsageError(f"--prime {spec!r}: for music give SPLIT:INDEX[:FRAMES], e.g. test:0:16") from None
    pieces = dataset.splits.get(split)
    if pieces is None or not 0 <= index < len(pieces):
        n = len(pieces) if pieces is not None else 0
        raise UsageError(f"--prime {spec!r}: no piece {index} in split {split!r} ({n} pieces)")
    return np.asarray(pieces[index][:frames], dtype=np.float32)


def _text(args, model, params, vocab, unit, rng) -> int:
    from ..data import text_to_tokens, tokens_to_text

    if args.prime:
        prime = text_to_tokens(args.prime, vocab, unit).astype(np.int64)
        if len(prime) == 0:
            raise UsageError("--prime gives no symbols")
    else:
        start = "\n" if unit == "char" else "<eos>"
        prime = np.array([vocab.index(start) if start in vocab else 0], dtype=np.int64)
    tokens = _generate(model, params, args, prime, rng)
    head, body = args.prime or "", tokens_to_text(tokens, vocab, unit)
    if unit == "word" and head and not head.endswith("\n") and not body.startswith("\n"):
        head += " "  # words are joined by spaces
    sys.stdout.write(head + body + "\n")
    print(f"sample: {args.threads_used}", file=sys.stderr)
    return 0
