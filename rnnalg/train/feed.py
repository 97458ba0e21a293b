"""Feeding a dataset to a compiled model: batches, model batch dicts, whole-split evaluation.

Music splits are lists of (T_i, 88) piano rolls, batched by `music_batches` (length
buckets, shuffled for training).  Text splits are one token stream, cut for training by
`text_batches` into B parallel streams of `steps`-long segments; the state is carried
from one segment to the next (truncated BPTT) and reset where `batch.reset` says.

Evaluation is exact (`evaluate_split`): every prediction of the split is scored once,
in order, whatever the batch size.  Music: frame t+1 of each whole piece from its frames
<= t, count = Σ_i (T_i − 1).  Text: the whole stream as one column (B = 1) with the state
carried from the start, token t+1 from tokens <= t, count = N − 1.

A spec may declare one static (per-sequence) input besides its per-step one, for music:
`input key : real[12] static` is fed each piece's `data.piece_features` row (the
pitch-class profile of its first frame), the same row for every segment of the piece.
"""
from __future__ import annotations

import numpy as np

from ..errors import UsageError

# dataset.unit -> (printed metric name, what one predicted position is called)
METRIC_LABELS = {"nll": "NLL per frame", "bpc": "BPC", "ppl": "perplexity"}
UNIT_PLURALS = {"frame": "frames", "char": "chars", "word": "words"}


def single_io(program):
    """(per-step input Var, output Var) of a program with one per-step input, one output
    and at most one static input (see `static_input`); UsageError otherwise."""
    steps = [v for v in program.inputs if v.name not in program.static_inputs]
    n_in, n_out, n_static = len(steps), len(program.heads), len(program.static_inputs)
    if n_in != 1 or n_out != 1 or n_static > 1:
        raise UsageError(f"{program.file}: training supports specs with exactly one input and one "
                         f"output (plus at most one static input); this spec has {n_in} per-step "
                         f"input(s), {n_out} output(s) and {n_static} static input(s)")
    return steps[0], program.heads[0].output


def static_input(program):
    """The static (per-sequence) input Var of a trainable program, or None."""
    single_io(program)
    return next((v for v in program.inputs if v.name in program.static_inputs), None)


# what feeds a static input, per dataset kind: (kind, width, description)
STATIC_FEATURES = {"music": ("real", 12, "the pitch-class profile of each piece's first frame")}


def check_static(program, dataset, spec_file=None) -> None:
    """UsageError unless `dataset` supplies a feature that fits the program's static input."""
    key = static_input(program)
    if key is None:
        return
    where = spec_file or program.file
    feature = STATIC_FEATURES.get(dataset.kind)
    if feature is None:
        raise UsageError(f"{where}: static input {key.name!r}: {dataset.kind} data has no per-sequence "
                         f"feature to feed it (only music does: "
                         f"{STATIC_FEATURES['music'][2]}, real[{STATIC_FEATURES['music'][1]}])")
    kind, width, what = feature
    if (key.kind, key.width) != (kind, width):
        raise UsageError(f"{where}: static input {key.name!r} is {key.kind}[{key.width}], but "
                         f"{dataset.kind} data feeds it {what}: declare it `input {key.name} : "
                         f"{kind}[{width}] static`")


def model_batch(program, batch) -> dict:
    """A data `Batch` → the model's batch dict {input name, output name, [static name], 'mask'}."""
    x, y = single_io(program)
    out = {x.name: batch.inputs, y.name: batch.targets, "mask": batch.mask}
    key = static_input(program)
    if key is not None:
        if batch.static is None or batch.static.shape[1:] != (key.width,):
            got = "none" if batch.static is None else f"shape {batch.static.shape}"
            raise UsageError(f"{program.file}: static input {key.name!r} needs (B, {key.width}) "
                             f"per-sequence features; the batch has {got}")
        out[key.name] = batch.static
    return out


def split_stream(dataset, split: str) -> np.ndarray:
    """A text split as one token stream (the split's arrays joined end to end)."""
    parts = dataset.splits[split]
    if isinstance(parts, np.ndarray):
        return parts
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def train_positions(dataset) -> int:
    """How many positions one training epoch predicts (frames, chars or words)."""
    if dataset.kind == "music":
        return sum(len(p) - 1 for p in dataset.splits["train"])
    return len(split_stream(dataset, "train")) - 1


def batches(dataset, split: str, batch_size: int, steps, rng=None):
    """Batches over one whole split; `rng` shuffles music pieces (None: deterministic order)."""
    from ..data import music_batches, piece_features, text_batches

    if dataset.kind == "music":
        pieces = dataset.splits[split]
        return music_batches(pieces, batch_size, rng, max_steps=steps, features=piece_features(pieces))
    stream = split_stream(dataset, split)
    if len(stream) // batch_size < 2:
        raise UsageError(f"the {split} split of {dataset.name} has {len(stream)} tokens: too few for "
                         f"{batch_size} parallel streams (lower --batch-size)")
    return text_batches(stream, batch_size, steps)


def count_batches(dataset, split: str, batch_size: int, steps, rng=None) -> int:
    """How many batches `batches(dataset, split, batch_size, steps, rng)` yields, without
    building them (advances `rng` as that call would; pass a copy to keep yours)."""
    return sum(segments for _, segments in _groups(dataset, split, batch_size, steps, rng))


def carried_rows(dataset, split: str, batch_size: int, steps, rng, index: int):
    """The rows B of the state that batch `index` of `batches(...)` starts from: those of the
    batch before it, which it continues (None where it starts afresh, `reset`, or is past the end)."""
    start = 0
    for rows, segments in _groups(dataset, split, batch_size, steps, rng):
        if index < start + segments:
            return None if index == start else rows
        start += segments
    return None


def _groups(dataset, split: str, batch_size: int, steps, rng) -> list:
    """[(rows B, segments)] of the sequence groups `batches` cuts into segments, in its order: text
    one group of `batch_size` parallel streams, music its length buckets (`rng` as `batches`)."""
    from ..data.batching import length_buckets

    if dataset.kind == "text":
        per = len(split_stream(dataset, split)) // batch_size
        return [(batch_size, -(-(per - 1) // steps) if per >= 2 else 0)]
    pieces = dataset.splits[split]
    chunks = length_buckets([len(p) for p in pieces], batch_size, rng)
    if steps is None:
        return [(len(chunk), 1) for chunk in chunks]
    return [(len(chunk), -(-(max(len(pieces[i]) for i in chunk) - 1) // steps)) for chunk in chunks]


def carried_state(batch, state):
    """The state a segment starts from: None (initial) at a sequence start, else the carry."""
    return None if batch.reset else state


# Text evaluation runs one column in segments of this many steps: long, to amortise the
# per-segment overhead, yet T·V logits stay near 2**22 numbers (16 MB in float32).
TEXT_EVAL_STEPS = (100, 10_000)  # (fewest, most) steps per segment
TEXT_EVAL_LOGITS = 1 << 22


def text_eval_steps(vocab_size: int) -> int:
    """Segment length for evaluating a text split: clip(2**22 // V, 100, 10000)."""
    low, high = TEXT_EVAL_STEPS
    return int(min(high, max(low, TEXT_EVAL_LOGITS // max(1, vocab_size))))


def evaluate_split(model, params, dataset, split: str, batch_size: int, steps=None):
    """(nll_sum, count) of `params` over a whole split, dropout off; the exact metric.

    Music: `batch_size` whole pieces per batch (cut into `steps`-long segments with the
    state carried), count = Σ_i (T_i − 1).  Text: the whole stream in order, one column,
    state carried from the start, count = N − 1; `batch_size` and `steps` do not apply.
    Up to float rounding the result does not depend on `batch_size` or `steps`.
    """
    if split not in dataset.splits:
        raise UsageError(f"unknown split {split!r}; choose from {', '.join(dataset.splits)}")
    program = model.program
    if dataset.kind == "text":
        from ..data import text_batches

        parts = text_batches(split_stream(dataset, split), 1, text_eval_steps(dataset.vocab_size))
    else:
        parts = batches(dataset, split, batch_size, steps)
    nll_total, count_total, state = 0.0, 0, None
    for batch in parts:
        nll, count, state = model.evaluate(params, model_batch(program, batch),
                                           state=carried_state(batch, state))
        nll_total += float(nll)
        count_total += int(count)
    return nll_total, count_total


def output_bias(program, dataset):
    """(bias param name, starting value) for the head's affine bias, from the train targets.

    binary: log-odds of each unit's frequency, log(f / (1 − f)); token: log-frequencies.
    With zero weights elsewhere this is the frequency-only baseline model, so training
    starts from it instead of from 88 coin flips.  None when there is no such bias.
    """
    head = program.heads[0]
    eqn = program.producer(head.logits.name)
    if eqn is None or eqn.op != "affine" or not eqn.params:
        return None
    bias = program.param(eqn.params[-1])
    if bias.role != "bias" or head.output.kind not in ("binary", "token"):
        return None
    if dataset.kind == "music":
        frames = np.concatenate([p[1:] for p in dataset.splits["train"]]).astype(np.float64)
        f = np.clip(frames.mean(axis=0), 1e-4, 1 - 1e-4)
        value = np.log(f) - np.log1p(-f)
    else:
        counts = np.bincount(split_stream(dataset, "train"), minlength=bias.shape[0])[: bias.shape[0]]
        value = np.log((counts + 0.1) / (counts + 0.1).sum())
    return (bias.name, value) if value.shape == tuple(bias.shape) else None
