"""Whole-split evaluation against an independent aggregate: the autograd reference run over
each whole piece (music) or the whole token stream in one go (text), float64 throughout."""
import numpy as np
import pytest

import rnnalg
from rnnalg.data import Dataset, load_dataset
from rnnalg.reference import reference_forward
from rnnalg.train import feed
from rnnalg.train.feed import evaluate_split

TEXT_SPEC = """\
input  x : token[5]
output y : token[5]
state  h : 6
z  : 6 = tanh(x ⊕ h)
h'     = tanh(z ⊕ h)
y      = ▷ (h' ⊕ x)
"""
MUSIC_SPEC = """\
input  x : binary[88]
output y : binary[88]
state  h : 5
h' = tanh(x ⊕ h)
y  = ▷ dropout[0.3](h')
"""


def compiled(text):
    program = rnnalg.check(rnnalg.parse(text, "eval.rnn"))
    model = rnnalg.compile(program, dtype=np.float64)
    return program, model, model.init_params(np.random.default_rng(3))


def reference_sum(program, params, x, y) -> float:
    """Σ NLL of one sequence (T, ...) run from the initial state in one go, by the oracle."""
    mean, _ = reference_forward(program, params, {"x": x[:, None], "y": y[:, None]})
    return float(mean) * len(x)


@pytest.fixture
def toy_text():
    stream = np.random.default_rng(7).integers(0, 5, size=263).astype(np.int32)
    return Dataset("toy", "text", {"valid": [stream]}, tuple("abcde"), "memory", "char")


def test_text_metric_is_the_whole_stream_with_the_state_carried(toy_text, monkeypatch):
    program, model, params = compiled(TEXT_SPEC)
    stream = toy_text.splits["valid"][0]
    expected = reference_sum(program, params, stream[:-1], stream[1:])
    monkeypatch.setattr(feed, "TEXT_EVAL_STEPS", (7, 7))  # 38 segments: the carry is exercised
    results = {(b, s): evaluate_split(model, params, toy_text, "valid", b, s)
               for b in (1, 4, 64) for s in (None, 5, 35)}
    for key, (nll, count) in results.items():
        assert count == len(stream) - 1, key  # every prediction: none dropped, none skipped
        assert nll == pytest.approx(expected, rel=1e-12), key
    assert len(set(results.values())) == 1  # the batch size and BPTT length do not enter at all


def test_text_segment_length_bounds_the_logits():
    assert feed.text_eval_steps(50) == 10_000  # ptb-char: long segments
    assert feed.text_eval_steps(10_000) == 419  # ptb-word: 419 · 10k logits ≈ 2**22
    assert feed.text_eval_steps(10**7) == 100


def test_music_metric_is_every_frame_of_every_whole_piece():
    program, model, params = compiled(MUSIC_SPEC)
    lengths = (9, 30, 2, 17, 23, 9, 12)  # unequal, with ties: batches get padded
    jsb = load_dataset("jsb").splits["test"]
    pieces = [jsb[i][:n] for i, n in enumerate(lengths)]
    assert [len(p) for p in pieces] == list(lengths)
    ds = Dataset("toy", "music", {"test": pieces}, None, "memory", "frame")
    expected = sum(reference_sum(program, params, p[:-1].astype(float), p[1:].astype(float))
                   for p in pieces)
    for batch_size in (1, 3, 64):
        for steps in (None, 4):  # pieces cut into segments, the state carried between them
            nll, count = evaluate_split(model, params, ds, "test", batch_size, steps)
            assert count == sum(n - 1 for n in lengths), (batch_size, steps)
            assert nll == pytest.approx(expected, rel=1e-12), (batch_size, steps)
