"""`rnnalg train` / `rnnalg eval` end to end through rnnalg.cli.main with the real compiler."""
import json

import numpy as np
import pytest

import rnnalg
from rnnalg.cli import main
from rnnalg.data import load_dataset
from rnnalg.reference import reference_forward
from rnnalg.train import checkpoint as ckpt

TINY = """\
let H = 24
input  x : binary[88]
output y : binary[88]
state  h : H
h' = tanh(x ⊕ h)
y  = ▷ dropout[0.2](h')
"""
FAST = ["--lr", "0.01", "--quiet", "--weight-noise", "0.01"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.rnn"
    path.write_text(TINY)
    return str(path)


@pytest.fixture(scope="module")
def trained(spec, tmp_path_factory):
    """One 4-epoch run shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", spec, "--epochs", "4", "--out", str(run), *FAST]) == 0
    return run


def frequency_baseline(split="valid") -> float:
    """NLL per frame of independent Bernoulli notes with the train frequencies."""
    ds = load_dataset("jsb")
    train = np.concatenate([p[1:] for p in ds.splits["train"]]).astype(np.float64)
    f = np.clip(train.mean(axis=0), 1e-4, 1 - 1e-4)
    frames = np.concatenate([p[1:] for p in ds.splits[split]]).astype(np.float64)
    return float(-(frames * np.log(f) + (1 - frames) * np.log1p(-f)).sum(axis=1).mean())


def test_run_directory_contents(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"best.json", "last.json", "metrics.jsonl", "result.json", "curve.png"} <= names
    assert len([n for n in names if n.endswith(".npz")]) == 2
    lines = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]
    assert {"epoch", "step", "train_loss", "valid", "lr", "seconds", "rate"} <= set(lines[0])
    _, meta = ckpt.load(trained, "last")
    assert meta["spec_text"] == TINY and meta["config"]["epochs"] == 4
    # the backend that trained it (conftest.py sets RNNALG_BACKEND=numpy): float32 runs differ by it
    assert meta["backend"] == json.loads((trained / "result.json").read_text())["backend"] == "numpy"


def test_validation_nll_falls_well_below_frequency_baseline(trained):
    result = json.loads((trained / "result.json").read_text())
    baseline = frequency_baseline("valid")
    assert 10.5 < baseline < 11.5  # the figure is itself checked: ~10.99 nats per frame
    assert result["best_valid"] < baseline - 1.0
    assert result["test"] < frequency_baseline("test") - 1.0


def oracle_metric(run, split: str) -> tuple:
    """(NLL per frame, frames) of the run's best parameters on a whole jsb split, computed
    apart from the trainer: every piece padded into one masked batch, the autograd reference."""
    arrays, meta = ckpt.load(run, "best")
    program = rnnalg.check(rnnalg.parse(meta["spec_text"], "tiny.rnn"))
    params = {k: v.astype(np.float64) for k, v in ckpt.split_prefix(arrays, "param").items()}
    pieces = load_dataset("jsb").splits[split]
    T, B = max(len(p) for p in pieces) - 1, len(pieces)
    x, y, mask = np.zeros((T, B, 88)), np.zeros((T, B, 88)), np.zeros((T, B))
    for b, p in enumerate(pieces):
        x[:len(p) - 1, b], y[:len(p) - 1, b], mask[:len(p) - 1, b] = p[:-1], p[1:], 1.0
    mean, _ = reference_forward(program, params, {"x": x, "y": y, "mask": mask})
    return float(mean), int(mask.sum())


def test_reported_and_evaluated_metrics_are_the_whole_split_nll_of_the_best_parameters(
        spec, trained, capsys):
    result = json.loads((trained / "result.json").read_text())
    test, frames = oracle_metric(trained, "test")
    assert result["test_count"] == frames
    assert result["test"] == pytest.approx(test, abs=2e-5)  # float32 model vs float64 oracle
    assert result["best_valid"] == pytest.approx(oracle_metric(trained, "valid")[0], abs=2e-5)
    capsys.readouterr()
    for batch_size in ("1", "64"):
        assert main(["eval", spec, "--checkpoint", str(trained), "--batch-size", batch_size]) == 0
        out = capsys.readouterr().out
        assert out.startswith("test NLL per frame: ") and f"({frames:,} frames" in out
        assert float(out.split(":")[1].split()[0]) == pytest.approx(test, abs=6e-5)  # 4 decimals


def test_eval_names_the_checkpoint_it_read(spec, trained, capsys):
    capsys.readouterr()
    outs = {}
    for argv in (["--checkpoint", str(trained / "last.json")], ["--checkpoint", str(trained), "--which", "last"],
                 ["--checkpoint", str(trained)]):
        assert main(["eval", spec, *argv]) == 0
        outs[argv[-1]] = capsys.readouterr().out
    assert outs[str(trained / "last.json")] == outs["last"]  # the file given is the one read
    assert outs["last"].rstrip().endswith(f"last checkpoint of {trained})")
    assert outs[str(trained)].rstrip().endswith(f"best checkpoint of {trained})")


@pytest.mark.parametrize("command", ["eval", "sample"])
def test_which_must_agree_with_a_checkpoint_file(spec, trained, tmp_path, capsys, command):
    """--which picks within a run directory; with a checkpoint file it is checked, not ignored."""
    extra = ["--out", str(tmp_path / "s.mid")] if command == "sample" else []
    assert main([command, spec, "--checkpoint", str(trained / "last.json"), "--which", "best", *extra]) == 2
    err = capsys.readouterr().err
    assert "--which best" in err and "last checkpoint" in err and str(trained / "best.json") in err
    assert "Traceback" not in err and not (tmp_path / "s.mid").exists()
    assert main([command, spec, "--checkpoint", str(trained / "last.json"), "--which", "last", *extra]) == 0


def test_eval_refuses_another_spec(spec, trained, capsys):
    assert main(["eval", spec, "--set", "H=16", "--checkpoint", str(trained)]) == 1
    err = capsys.readouterr().err
    assert "best.json" in err and "different spec" in err and "Traceback" not in err


def test_eval_without_checkpoint_is_a_checkpoint_error(spec, tmp_path, capsys):
    assert main(["eval", spec, "--checkpoint", str(tmp_path / "nothing")]) == 1
    assert "no checkpoint found" in capsys.readouterr().err


def test_resume_through_the_cli_is_bit_identical(spec, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", spec, "--epochs", "3", "--out", str(straight), *FAST]) == 0
    assert main(["train", spec, "--epochs", "2", "--out", str(split), *FAST]) == 0
    assert main(["train", spec, "--resume", str(split), "--epochs", "3", "--quiet"]) == 0
    a, meta_a = ckpt.load(straight, "last")
    b, meta_b = ckpt.load(split, "last")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert meta_a["run"]["step"] == meta_b["run"]["step"]
    assert json.loads((straight / "result.json").read_text())["test"] == \
        json.loads((split / "result.json").read_text())["test"]


def test_resume_with_another_spec_is_refused(spec, trained, capsys):
    assert main(["train", spec, "--set", "H=16", "--resume", str(trained), "--quiet"]) == 1
    assert "different spec" in capsys.readouterr().err


def test_existing_run_is_not_overwritten(spec, trained, capsys):
    before = (trained / "last.json").read_text()
    assert main(["train", spec, "--out", str(trained), "--quiet"]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (trained / "last.json").read_text() == before


def test_unwritable_out_is_a_clear_error_and_writes_nothing(spec, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["train", spec, "--out", str(blocker / "run"), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and "Traceback" not in err
    assert blocker.read_text() == "not a directory" and sorted(tmp_path.iterdir()) == [blocker]


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "argument --lr: must be a finite number > 0"),
    (["--optimizer", "rmsprop"], "invalid choice"),
    (["--patience", "0"], "argument --patience: must be an integer >= 1"),
])
def test_bad_flags(spec, tmp_path, capsys, flags, message):
    assert main(["train", spec, "--out", str(tmp_path / "r"), "--quiet", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_two_outputs_are_refused(tmp_path, capsys):
    spec = tmp_path / "two.rnn"
    spec.write_text("input x : binary[88]\noutput y : binary[88]\noutput w : binary[88]\nstate h : 8\n"
                    "h' = tanh(x ⊕ h)\ny = ▷ h'\nw = ▷ h'\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "exactly one input and one output" in capsys.readouterr().err


def test_a_spec_on_standard_input_trains_into_runs_stdin(tmp_path, monkeypatch, capsys):
    """`rnnalg train -` (spec piped in): the default run directory is runs/stdin, not runs/-."""
    import io
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TINY.encode())))
    assert main(["train", "-", "--epochs", "1", *FAST]) == 0
    assert (tmp_path / "runs" / "stdin" / "best.json").exists()
    assert not (tmp_path / "runs" / "-").exists()
    assert "runs/stdin" in capsys.readouterr().out
