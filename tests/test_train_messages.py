"""What `rnnalg train` prints: units next to numbers, stop reasons in words, a NaN hint that fits."""
import json
import math
import re
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.data import load_dataset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = ["--set", "H=4", "--quiet"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """One epoch on a small character corpus, its printed output kept."""
    root = tmp_path_factory.mktemp("text")
    corpus = root / "corpus.txt"
    corpus.write_text("".join(f"the cat sat on the mat {i % 5}\n" for i in range(150)))
    V = load_dataset(str(corpus)).vocab_size
    spec = root / "c.rnn"
    spec.write_text(f"input x : token[{V}]\noutput y : token[{V}]\nstate h : 8\nh' = tanh(x ⊕ h)\ny = ▷ h'\n")
    return root / "run", spec, corpus


def test_train_figure_is_in_the_validation_unit(text_run, capsys):
    run, spec, corpus = text_run
    assert main(["train", str(spec), "--data", str(corpus), "--epochs", "1", "--batch-size", "4",
                 "--steps", "20", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("epoch"))
    assert "train loss" not in line and "BPC: train " in line
    shown = float(line.split("BPC: train ")[1].split()[0])
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert shown == pytest.approx(record["train_loss"] / math.log(2), abs=1e-4)  # nats/char -> bits
    last = out.splitlines()[-1]
    assert "trained 1 epoch (--epochs)" in last and "epochs after" not in last


@pytest.mark.parametrize("clip, advice", [
    ([], "or a smaller --clip than 1."),  # clipping is on by default
    (["--clip", "0"], "or --clip 1 (clipping is off)."),
])
def test_nan_hint_fits_the_clipping_in_use(tmp_path, capsys, clip, advice):
    argv = ["train", str(EXAMPLES / "dots.rnn"), *TINY, "--lr", "1e38", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(argv + clip) == 1
    err = capsys.readouterr().err
    assert "loss became nan" in err and err.rstrip().endswith(f"Try a smaller --lr than 1e+38, {advice}")


def test_a_diverged_model_is_told_apart_from_a_nan(tmp_path, capsys):
    """A float32 loss that overflows is taken again in float64: finite there, the error says the
    model diverged (MuseData DOT(S)* at lr 2e-3, seed 1: nan in float32, 3e114 in float64)."""
    argv = ["train", str(EXAMPLES / "dots.rnn"), *TINY, "--lr", "1e38", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    said = re.search(r"loss became nan at epoch 1, step \d+ \(in float64 it is (\S+): float32 overflowed, "
                     r"the model diverged and its activations grew past float32's range over the batch's \d+ steps\)", err)
    assert said, err
    assert 3.4e38 < float(said.group(1)) < math.inf


def test_a_nan_that_float64_keeps_is_not_called_an_overflow(tmp_path):
    import numpy as np
    import rnnalg
    from rnnalg.data import Dataset
    from rnnalg.errors import TrainingError
    from rnnalg.train.config import TrainConfig, resolve
    from rnnalg.train.trainer import Trainer

    rng = np.random.default_rng(0)
    rolls = {k: [(rng.random((9, 88)) < 0.1).astype(np.uint8)] for k in ("train", "valid", "test")}
    data = Dataset(name="tiny", kind="music", vocab=None, source="test", unit="frame", splits=rolls)
    model = rnnalg.compile(rnnalg.load_program(EXAMPLES / "rnn.rnn", {"H": 4}), np.float32, "numpy")
    t = Trainer(model, data, resolve(TrainConfig(epochs=1, batch_size=1, seed=1), "frame"), tmp_path, quiet=True)
    t.start_fresh()
    next(iter(t.params.values()))[...] = np.nan  # a NaN in the weights: no overflow explains it
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 1 \(nan in float64 too\)"):
        t.run()


def test_no_numpy_warnings_with_generated_code_lines(tmp_path, capsys, recwarn):
    argv = ["train", str(EXAMPLES / "dots.rnn"), *TINY, "--lr", "1e38", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "RuntimeWarning" not in err and "<rnnalg model" not in err
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert len(err.strip().splitlines()) == 1  # the one message
