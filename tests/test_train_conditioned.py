"""Training a conditioned music model (issue 20, item 4): examples/lstm_conditioned.rnn's static
input `key : real[12] static` is fed each piece's first-frame pitch-class profile
(data.piece_features) for train, validation, test and `rnnalg eval`."""
import json
from pathlib import Path

import numpy as np
import pytest

from rnnalg.cli import main
from rnnalg.data import Batch, music_batches, piece_features
from rnnalg.errors import UsageError
from rnnalg.train.feed import model_batch

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "lstm_conditioned.rnn")
TINY = ["--set", "H=8", "--lr", "0.01", "--quiet"]


def roll(notes_per_frame):
    """A (T, 88) piano roll from lists of MIDI notes (key j is note 21 + j)."""
    out = np.zeros((len(notes_per_frame), 88), dtype=np.float32)
    for t, notes in enumerate(notes_per_frame):
        out[t, [n - 21 for n in notes]] = 1
    return out


def test_piece_feature_is_the_pitch_class_profile_of_the_first_frame():
    c_major = roll([[60, 64, 67, 72], [62], [65, 69]])  # C4 E4 G4 C5 → C twice, E, G
    silent = roll([[], [60], [61]])
    features = piece_features([c_major, silent])
    assert features.shape == (2, 12) and features.dtype == np.float32
    expected = np.zeros(12)
    expected[[0, 4, 7]] = [0.5, 0.25, 0.25]
    np.testing.assert_allclose(features[0], expected)
    np.testing.assert_array_equal(features[1], np.zeros(12))
    # no leak: the frames being predicted (t >= 1) do not enter the feature
    changed = c_major.copy()
    changed[1:] = 1 - changed[1:]
    np.testing.assert_array_equal(piece_features([changed])[0], features[0])


def test_music_batches_carry_each_pieces_row_in_column_order_on_every_segment():
    rng = np.random.default_rng(0)
    pieces = [(rng.random((n, 88)) < 0.1).astype(np.float32) for n in (5, 9, 7, 12, 6)]
    features = np.arange(5 * 12, dtype=np.float32).reshape(5, 12)
    seen = 0
    for batch in music_batches(pieces, 2, np.random.default_rng(1), max_steps=3, features=features):
        assert batch.static.shape == (batch.inputs.shape[1], 12)
        for b in range(batch.inputs.shape[1] if batch.reset else 0):  # a piece's first segment
            row = int(batch.static[b, 0]) // 12  # the piece whose feature row this column got
            n = int(batch.mask[:, b].sum())
            np.testing.assert_array_equal(batch.inputs[:n, b], pieces[row][:n])
            seen += 1
    assert seen == 5
    assert all(b.static is None for b in music_batches(pieces, 2, None))


def test_model_batch_feeds_the_static_input(tmp_path):
    import rnnalg

    program = rnnalg.load_program(EXAMPLE, {"H": 4})
    batch = Batch(np.zeros((3, 2, 88), np.float32), np.zeros((3, 2, 88), np.float32),
                  np.ones((3, 2), np.float32), True, static=np.ones((2, 12), np.float32))
    mb = model_batch(program, batch)
    assert set(mb) == {"x", "y", "key", "mask"} and mb["key"] is batch.static
    with pytest.raises(UsageError, match=r"needs \(B, 12\) per-sequence features; the batch has none"):
        model_batch(program, Batch(batch.inputs, batch.targets, batch.mask, True))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cond"
    assert main(["train", EXAMPLE, "--epochs", "2", "--out", str(out), *TINY]) == 0
    return out


def test_the_conditioned_example_trains_and_its_nll_falls(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["train_loss"] < records[0]["train_loss"]
    assert records[1]["valid"] < records[0]["valid"]
    result = json.loads((run / "result.json").read_text())
    assert np.isfinite(result["test"]) and result["test_count"] > 0


@pytest.mark.parametrize("batch_size", [None, "5"])
def test_eval_equals_the_trainers_test_figure(run, capsys, batch_size):
    result = json.loads((run / "result.json").read_text())
    flags = [] if batch_size is None else ["--batch-size", batch_size]
    capsys.readouterr()
    assert main(["eval", EXAMPLE, "--set", "H=8", "--checkpoint", str(run), *flags]) == 0
    out = capsys.readouterr().out
    assert f"test NLL per frame: {result['test']:.4f}  ({result['test_count']:,} frames" in out


def test_resume_continues_a_conditioned_run(run, tmp_path):
    more = tmp_path / "more"
    assert main(["train", EXAMPLE, "--resume", str(run), "--epochs", "3", "--out", str(more), *TINY]) == 0
    records = [json.loads(line) for line in (more / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["epoch"] == 3


@pytest.mark.parametrize("declaration, data, message", [
    ("input key : real[7] static", "jsb",
     "static input 'key' is real[7], but music data feeds it the pitch-class profile of each piece's "
     "first frame: declare it `input key : real[12] static`"),
    ("input key : token[12] static", "jsb", "static input 'key' is token[12]"),
])
def test_a_static_input_that_does_not_fit_the_feature_is_refused(tmp_path, capsys, declaration, data, message):
    spec = tmp_path / "bad.rnn"
    text = Path(EXAMPLE).read_text()
    assert text.count("input  key : real[12] static") == 1
    spec.write_text(text.replace("input  key : real[12] static", declaration))
    assert main(["train", str(spec), "--data", data, "--epochs", "1", "--out", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and message in err
    assert not (tmp_path / "r").exists()


def test_text_data_has_no_feature_for_a_static_input(tmp_path, capsys):
    spec = tmp_path / "text.rnn"
    spec.write_text("input x : token[12]\ninput key : real[12] static\noutput y : token[12]\n"
                    "state h : 4\nk : 4 = MLP[tanh](key)\nh' = tanh(x ⊕ h ⊕ k)\ny = ▷ h'\n")
    text = tmp_path / "toy.txt"
    text.write_text("abcde fghij\n" * 100)
    assert main(["train", str(spec), "--data", str(text), "--epochs", "1", "--out", str(tmp_path / "r"),
                 *TINY[2:]]) == 2
    assert "text data has no per-sequence feature to feed it" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_eval_reads_the_feature(run, capsys, monkeypatch):
    """The key is used: the same checkpoint scored with every piece's feature zeroed differs."""
    import rnnalg.data

    result = json.loads((run / "result.json").read_text())
    monkeypatch.setattr(rnnalg.data, "piece_features", lambda pieces: np.zeros((len(pieces), 12), np.float32))
    capsys.readouterr()
    assert main(["eval", EXAMPLE, "--set", "H=8", "--checkpoint", str(run)]) == 0
    out = capsys.readouterr().out
    zeroed = float(out.split("test NLL per frame: ")[1].split()[0])
    assert abs(zeroed - result["test"]) > 1e-3


def test_sample_feeds_the_key_from_the_prime(run, tmp_path, capsys):
    """`rnnalg sample` conditions on the prime's first-frame profile (before: a ValueError traceback)."""
    out = tmp_path / "s.mid"
    assert main(["sample", EXAMPLE, "--set", "H=8", "--checkpoint", str(run), "--steps", "12",
                 "--prime", "test:0:4", "--out", str(out)]) == 0
    assert "12 frames" in capsys.readouterr().out and out.stat().st_size > 0
